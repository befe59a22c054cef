//! Maps sample indices of a stream to UTC time from its `time`, `rate` and `freq` tags,
//! for sinks that store time with samples (ring buffer, HDF5, Digital RF).

use flow_framework::prelude::*;

/// The time base of a stream as its tags establish it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamClock {
    /// (sample index, ns since the Unix epoch) of the last time tag.
    pub anchor: Option<(u64, i64)>,
    /// Where the anchor's time came from.
    pub source: Option<TimeSource>,
    /// Sample rate in Hz (from the `rate` tag, or configured).
    pub rate: Option<f64>,
    /// Centre frequency in Hz (from the `freq` tag).
    pub freq: Option<f64>,
}

impl StreamClock {
    /// A clock with a configured rate (tags still override it).
    pub fn with_rate(rate: Option<f64>) -> Self {
        StreamClock {
            rate: rate.filter(|r| r.is_finite() && *r > 0.0),
            ..Default::default()
        }
    }

    /// Applies a tag found on the sample with index `index`. Returns true if the tag
    /// changes the time base (time, rate or frequency).
    pub fn apply(&mut self, index: u64, tag: &Tag) -> bool {
        match tag {
            Tag::Time { ns, source } => {
                self.anchor = Some((index, *ns));
                self.source = Some(*source);
            }
            Tag::Rate(r) if r.is_finite() && *r > 0.0 => {
                // Keep time continuous across a rate change.
                if let (Some(t), Some(_)) = (self.time_of(index), self.anchor) {
                    self.anchor = Some((index, t));
                }
                self.rate = Some(*r);
            }
            Tag::Freq(f) => self.freq = Some(*f),
            _ => return false,
        }
        true
    }

    /// Anchors the clock to the system clock at `index` if no time tag came (logged by the
    /// caller as a weaker time source).
    pub fn anchor_now_if_unset(&mut self, index: u64) -> bool {
        if self.anchor.is_some() {
            return false;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        self.anchor = Some((index, now));
        self.source = Some(TimeSource::SystemClock);
        true
    }

    /// Time of sample `index` in ns since the Unix epoch, if anchored and the rate is known.
    pub fn time_of(&self, index: u64) -> Option<i64> {
        let (i0, t0) = self.anchor?;
        let rate = self.rate?;
        let di = index as i128 - i0 as i128;
        Some(t0 + (di as f64 * 1e9 / rate).round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_indices_to_time_across_rate_changes() {
        let mut c = StreamClock::with_rate(Some(1000.0));
        assert_eq!(c.time_of(0), None);
        c.apply(
            10,
            &Tag::Time {
                ns: 1_000_000_000,
                source: TimeSource::Gpsdo,
            },
        );
        assert_eq!(c.time_of(10), Some(1_000_000_000));
        assert_eq!(c.time_of(1010), Some(2_000_000_000));
        c.apply(1010, &Tag::Rate(10.0));
        assert_eq!(c.time_of(1020), Some(3_000_000_000));
        assert!(!c.apply(5, &Tag::Gap(3)));
    }
}
