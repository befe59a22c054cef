//! A set of sample ranges within a minute (which samples are on disk), kept as sorted,
//! disjoint, non-adjacent half-open intervals: small when the minute is nearly complete.

use std::collections::BTreeMap;

/// Disjoint half-open ranges `[start, end)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start → end.
    map: BTreeMap<u64, u64>,
    total: u64,
}

impl RangeSet {
    /// Empty.
    pub fn new() -> Self {
        RangeSet::default()
    }

    /// Samples covered.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True when nothing is covered.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds `[start, end)`; returns how many samples were not covered before.
    pub fn insert(&mut self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        let (mut s, mut e) = (start, end);
        let mut covered = 0;
        // The range that starts at or before `start` may overlap or touch it.
        if let Some((&a, &b)) = self.map.range(..=s).next_back() {
            if b >= s {
                covered += b.min(e).saturating_sub(s);
                s = a;
                e = e.max(b);
                self.map.remove(&a);
                self.total -= b - a;
            }
        }
        // Ranges starting inside (or touching the end of) the new one merge into it.
        let inside: Vec<(u64, u64)> = self.map.range(s..=e).map(|(a, b)| (*a, *b)).collect();
        for (a, b) in inside {
            covered += b.min(end).saturating_sub(a.max(start));
            e = e.max(b);
            self.map.remove(&a);
            self.total -= b - a;
        }
        self.map.insert(s, e);
        self.total += e - s;
        (end - start) - covered
    }

    /// The covered ranges, in order.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(a, b)| (*a, *b))
    }

    /// The ranges of `[0, len)` not covered, in order (as `(start, length)`).
    pub fn gaps(&self, len: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut at = 0;
        for (a, b) in self.ranges() {
            if a >= len {
                break;
            }
            if a > at {
                out.push((at, a - at));
            }
            at = at.max(b);
        }
        if at < len {
            out.push((at, len - at));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_counts_new_samples_exactly() {
        let mut r = RangeSet::new();
        assert_eq!(r.insert(10, 20), 10);
        assert_eq!(r.insert(30, 40), 10);
        assert_eq!(r.insert(15, 35), 10); // 20..30 new
        assert_eq!(r.ranges().collect::<Vec<_>>(), [(10, 40)]);
        assert_eq!(r.insert(40, 50), 10); // touching: merged
        assert_eq!(r.insert(0, 100), 60);
        assert_eq!(r.insert(5, 6), 0);
        assert_eq!(r.ranges().collect::<Vec<_>>(), [(0, 100)]);
        assert_eq!(r.len(), 100);
        assert_eq!(r.insert(7, 7), 0);
    }

    #[test]
    fn gaps_are_the_complement() {
        let mut r = RangeSet::new();
        assert_eq!(r.gaps(10), [(0, 10)]);
        r.insert(2, 4);
        r.insert(6, 8);
        assert_eq!(r.gaps(10), [(0, 2), (4, 2), (8, 2)]);
        r.insert(0, 2);
        r.insert(8, 10);
        assert_eq!(r.gaps(10), [(4, 2)]);
    }

    #[test]
    fn agrees_with_a_bitmap_on_random_inserts() {
        use rand::{rngs::SmallRng, Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..200 {
            let mut r = RangeSet::new();
            let mut bits = [false; 300];
            for _ in 0..30 {
                let a = rng.random_range(0..300u64);
                let b = (a + rng.random_range(0..40)).min(300);
                let fresh = (a..b).filter(|&i| !bits[i as usize]).count() as u64;
                assert_eq!(r.insert(a, b), fresh);
                for i in a..b {
                    bits[i as usize] = true;
                }
                assert_eq!(r.len(), bits.iter().filter(|x| **x).count() as u64);
            }
            let holes: u64 = r.gaps(300).iter().map(|g| g.1).sum();
            assert_eq!(holes, 300 - r.len());
            let ranges: Vec<_> = r.ranges().collect();
            assert!(
                ranges.windows(2).all(|w| w[0].1 < w[1].0),
                "disjoint, not touching"
            );
        }
    }
}
