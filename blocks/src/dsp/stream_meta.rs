//! What a stream's tags say about it so far: sample rate, centre frequency and the mapping
//! from sample index to absolute time. Shared by blocks that turn streams into products.

use flow_framework::tag::{Tag, TimeSource};

/// Rate, frequency and time reference of a stream, updated from its tags.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamMeta {
    /// Sample rate in Hz (from a `rate` tag, else the configured fallback).
    pub rate: Option<f64>,
    /// Centre frequency in Hz (from a `freq` tag, else the configured fallback).
    pub freq: f64,
    /// (sample index, ns since the epoch, source) of the last `time` tag.
    pub time_ref: Option<(u64, i64, TimeSource)>,
}

/// What a tag changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing that affects products (user tags, `eos`, an unchanged value).
    None,
    /// Rate or frequency changed: products must not mix data from both sides.
    Tuning,
    /// Samples were lost here.
    Gap(u64),
    /// A new time reference.
    Time,
}

impl StreamMeta {
    /// Starts with fallbacks from parameters.
    pub fn new(rate: Option<f64>, freq: Option<f64>) -> StreamMeta {
        StreamMeta {
            rate,
            freq: freq.unwrap_or(0.0),
            time_ref: None,
        }
    }

    /// Applies a tag found on the item with sample index `index`.
    pub fn apply(&mut self, tag: &Tag, index: u64) -> Change {
        match tag {
            Tag::Rate(r) if *r > 0.0 && r.is_finite() && self.rate != Some(*r) => {
                self.rate = Some(*r);
                Change::Tuning
            }
            Tag::Freq(f) if f.is_finite() && self.freq != *f => {
                self.freq = *f;
                Change::Tuning
            }
            Tag::Time { ns, source } => {
                self.time_ref = Some((index, *ns, *source));
                Change::Time
            }
            Tag::Gap(n) if *n > 0 => Change::Gap(*n),
            _ => Change::None,
        }
    }

    /// Absolute time of sample `index`: from the last time tag and the rate, or, without a
    /// time tag, the time since the stream started (index / rate) counted from the epoch.
    pub fn time_of(&self, index: u64) -> i64 {
        let rate = self.rate.unwrap_or(1.0);
        match self.time_ref {
            Some((i0, ns, _)) => {
                let d = index as f64 - i0 as f64;
                ns.saturating_add((d * 1e9 / rate).round() as i64)
            }
            None => (index as f64 * 1e9 / rate).round() as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_indices_to_time_from_the_last_time_tag() {
        let mut m = StreamMeta::new(Some(1000.0), None);
        assert_eq!(m.time_of(1500), 1_500_000_000);
        assert_eq!(
            m.apply(
                &Tag::Time {
                    ns: 10_000_000_000,
                    source: TimeSource::SystemClock
                },
                100
            ),
            Change::Time
        );
        assert_eq!(m.time_of(100), 10_000_000_000);
        assert_eq!(m.time_of(50), 9_950_000_000);
        assert_eq!(m.apply(&Tag::Rate(1000.0), 0), Change::None);
        assert_eq!(m.apply(&Tag::Freq(1e6), 0), Change::Tuning);
        assert_eq!(m.apply(&Tag::Gap(7), 0), Change::Gap(7));
        assert_eq!(m.freq, 1e6);
    }
}
