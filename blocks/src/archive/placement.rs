//! Where a sample goes in the archive: the stream's time tag anchors a sample index to a
//! Unix time; the archive's grid counts samples since the epoch at the integer sample rate
//! (`abs = round(t · rate)`), so minute `abs div (60·rate)` holds it at offset
//! `abs mod (60·rate)`. Every later sample follows by its sample index, so gaps, reordering
//! and late data land exactly where they belong.

use flow_framework::prelude::TimeSource;

use super::sidecar::TimeSnapshot;

/// A time anchor on the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    /// Grid sample number of the anchor sample.
    pub abs: i128,
    /// Its stream sample index.
    pub index: u64,
    /// What the sidecar records about it.
    pub snapshot: TimeSnapshot,
}

impl Anchor {
    /// The anchor "sample `index` was taken at `ns`" at `rate` samples/s.
    pub fn new(ns: i64, index: u64, rate: u64, source: TimeSource) -> Anchor {
        let r = i128::from(rate);
        let abs = (i128::from(ns) * r + 500_000_000).div_euclid(1_000_000_000);
        let grid_ns = (abs * 1_000_000_000 + r / 2).div_euclid(r);
        Anchor {
            abs,
            index,
            snapshot: TimeSnapshot {
                source: source.name().into(),
                anchor_unix_ns: ns,
                anchor_time: flow_framework::tag::format_unix_ns(ns),
                anchor_sample_index: index,
                grid_offset_ns: (i128::from(ns) - grid_ns) as i64,
                ..TimeSnapshot::default()
            },
        }
    }

    /// Grid sample number of stream sample `index`.
    pub fn abs_at(&self, index: u64) -> i128 {
        self.abs + (i128::from(index) - i128::from(self.index))
    }
}

/// A run of `len` samples starting at grid sample `abs`, cut at minute boundaries:
/// `(minute, offset in minute, offset in the run, length)` pieces.
pub fn split(abs: i128, len: usize, samples_per_minute: u64) -> Vec<(i64, u64, usize, usize)> {
    let spm = i128::from(samples_per_minute);
    let mut out = Vec::new();
    let mut done = 0usize;
    while done < len {
        let at = abs + done as i128;
        let minute = at.div_euclid(spm) as i64;
        let offset = at.rem_euclid(spm) as u64;
        let n = ((samples_per_minute - offset) as usize).min(len - done);
        out.push((minute, offset, done, n));
        done += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_round_to_the_grid_and_record_the_offset() {
        // 2025-12-06T14:44:00.000020Z at 20 kHz: 0.4 samples after a grid slot.
        let ns = 1_765_032_240_000_020_000;
        let a = Anchor::new(ns, 7, 20_000, TimeSource::Gpsdo);
        assert_eq!(a.abs, 1_765_032_240 * 20_000);
        assert_eq!(a.snapshot.grid_offset_ns, 20_000);
        assert_eq!(a.abs_at(10), a.abs + 3);
        assert_eq!(a.snapshot.source, "gpsdo");
        // 0.6 samples after: rounds up, offset negative.
        let b = Anchor::new(ns + 10_000, 0, 20_000, TimeSource::Gpsdo);
        assert_eq!(b.abs, 1_765_032_240 * 20_000 + 1);
        assert_eq!(b.snapshot.grid_offset_ns, -20_000);
        // Before 1970 works too.
        assert_eq!(Anchor::new(-50_000, 0, 20_000, TimeSource::Gpsdo).abs, -1);
    }

    #[test]
    fn runs_are_cut_at_minute_boundaries() {
        assert_eq!(split(1195, 20, 1200), [(0, 1195, 0, 5), (1, 0, 5, 15)]);
        assert_eq!(split(-3, 5, 1200), [(-1, 1197, 0, 3), (0, 0, 3, 2)]);
        assert_eq!(
            split(0, 2500, 1200),
            [(0, 0, 0, 1200), (1, 0, 1200, 1200), (2, 0, 2400, 100)]
        );
        assert!(split(5, 0, 1200).is_empty());
    }
}
