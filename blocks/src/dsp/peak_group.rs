//! Grouping CFAR hits of one spectrum into peaks: runs of bins over threshold (short holes
//! bridged), split at valleys deeper than `split_db` on both sides, each measured for its
//! interpolated centre, peak power, SNR and bandwidth (outermost crossings of peak − `bw_db`).

use super::peak_interp::{crossing, parabolic};

/// How far from a hit `find_peaks` may look (bins): band edges and interpolation
/// neighbours lie within it.
pub const REACH: usize = 16;

/// How hits are grouped and measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupConfig {
    /// Runs of hits separated by at most this many bins under threshold are one region.
    pub merge_bins: usize,
    /// A region splits at a valley at least this far (dB) below the peaks on both sides.
    pub split_db: f64,
    /// Bandwidth is measured between the outermost crossings of peak − `bw_db`.
    pub bw_db: f64,
    /// Peaks whose bandwidth exceeds this many bins are centred between their band edges
    /// rather than at their interpolated maximum.
    pub wide_bins: f64,
}

/// One peak of one spectrum, in bins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    /// Centre: interpolated maximum, or the middle of the band edges for wide peaks.
    pub centre: f64,
    /// Peak power in dB (parabola vertex through the maximum and its neighbours).
    pub power_db: f64,
    /// Peak power over the noise estimate at the maximum, in dB.
    pub snr_db: f64,
    /// Lower and upper band edge (fractional bins).
    pub lo: f64,
    /// Upper band edge.
    pub hi: f64,
    /// Bins over threshold in the peak.
    pub bins: usize,
}

/// Finds the peaks of a spectrum given in dB (`db`; only bins within [`REACH`] of a hit are
/// read) with its noise estimate in dB (`noise`, read at peak maxima only) and `hit` flags
/// (bins over threshold).
pub fn find_peaks(
    db: &[f64],
    noise: &dyn Fn(usize) -> f64,
    hit: &[bool],
    cfg: &GroupConfig,
    out: &mut Vec<Peak>,
) {
    out.clear();
    let n = db.len();
    let mut i = 0;
    while i < n {
        if !hit[i] {
            i += 1;
            continue;
        }
        // A region: hits, with holes of at most merge_bins.
        let start = i;
        let mut end = i;
        let mut j = i + 1;
        while j < n && j - end <= cfg.merge_bins + 1 {
            if hit[j] {
                end = j;
            }
            j += 1;
        }
        split_region(db, noise, hit, start, end, cfg, out);
        i = end + 1;
    }
}

fn split_region(
    db: &[f64],
    noise: &dyn Fn(usize) -> f64,
    hit: &[bool],
    start: usize,
    end: usize,
    cfg: &GroupConfig,
    out: &mut Vec<Peak>,
) {
    let mut seg = start;
    let mut top = db[start];
    let (mut vmin, mut vidx) = (f64::INFINITY, start);
    for i in start + 1..=end {
        let v = db[i];
        if v < vmin {
            vmin = v;
            vidx = i;
        }
        if top - vmin >= cfg.split_db && v - vmin >= cfg.split_db {
            measure(db, noise, hit, seg, vidx - 1, cfg, out);
            seg = vidx;
            top = v;
            vmin = f64::INFINITY;
        } else if v > top {
            top = v;
            vmin = f64::INFINITY;
        }
    }
    measure(db, noise, hit, seg, end, cfg, out);
}

fn measure(
    db: &[f64],
    noise: &dyn Fn(usize) -> f64,
    hit: &[bool],
    s: usize,
    e: usize,
    cfg: &GroupConfig,
    out: &mut Vec<Peak>,
) {
    let n = db.len();
    let k = (s..=e)
        .max_by(|a, b| db[*a].total_cmp(&db[*b]))
        .unwrap_or(s);
    let (off, peak) = if k > 0 && k + 1 < n {
        parabolic(db[k - 1], db[k], db[k + 1])
    } else {
        (0.0, db[k])
    };
    let (mut lo, mut hi) = edges(db, s, e, k, peak - cfg.bw_db, true);
    let centre = if hi - lo > cfg.wide_bins {
        // A wide signal: its maximum is a noise fluctuation on top of the band, so measure
        // the edges against the band's mean level (dB mean of the bins within the first
        // estimate) instead, within the bins over threshold (a level below the noise must
        // not run out across it).
        let (a, b) = (
            lo.ceil() as usize,
            (hi.floor() as usize).max(lo.ceil() as usize),
        );
        let mean = db[a..=b.min(n - 1)].iter().sum::<f64>() / (b.min(n - 1) + 1 - a) as f64;
        (lo, hi) = edges(db, s, e, k, mean - cfg.bw_db, false);
        0.5 * (lo + hi)
    } else {
        k as f64 + off
    };
    out.push(Peak {
        centre,
        power_db: peak,
        snr_db: peak - noise(k),
        lo,
        hi,
        bins: hit[s..=e].iter().filter(|h| **h).count(),
    });
}

/// The outermost crossings of `level` around the maximum `k` of the peak `s..=e`: the
/// outermost bins at or above it within the peak, then (with `extend`) outward while still
/// above it.
fn edges(db: &[f64], s: usize, e: usize, k: usize, level: f64, extend: bool) -> (f64, f64) {
    let n = db.len();
    let mut a = (s..=k).find(|&i| db[i] >= level).unwrap_or(k);
    while extend && a > 0 && a + REACH > s && db[a - 1] >= level {
        a -= 1;
    }
    let mut b = (k..=e).rev().find(|&i| db[i] >= level).unwrap_or(k);
    while extend && b + 1 < n && b < e + REACH && db[b + 1] >= level {
        b += 1;
    }
    let lo = if a > 0 {
        a as f64 - crossing(db[a], db[a - 1], level)
    } else {
        0.0
    };
    let hi = if b + 1 < n {
        b as f64 + crossing(db[b], db[b + 1], level)
    } else {
        b as f64
    };
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: GroupConfig = GroupConfig {
        merge_bins: 1,
        split_db: 6.0,
        bw_db: 3.0,
        wide_bins: 4.0,
    };

    fn run(db: &[f64], floor: f64) -> Vec<Peak> {
        let hit: Vec<bool> = db.iter().map(|v| *v > floor + 10.0).collect();
        let mut out = Vec::new();
        find_peaks(db, &|_| floor, &hit, &CFG, &mut out);
        out
    }

    #[test]
    fn a_valley_splits_two_peaks_and_a_shallow_dip_does_not() {
        let mut db = vec![-100.0; 40];
        db[10..17].copy_from_slice(&[-60.0, -50.0, -40.0, -50.0, -80.0, -45.0, -60.0]);
        let p = run(&db, -100.0);
        assert_eq!(p.len(), 2);
        assert!((p[0].centre - 12.0).abs() < 1e-9);
        assert!((p[1].centre - 15.0).abs() < 0.5);
        assert_eq!((p[0].bins, p[1].bins), (4, 3));
        assert!((p[0].snr_db - 60.0).abs() < 1e-4);
        // A valley 1 dB below the lower neighbour: one peak.
        db[10..17].copy_from_slice(&[-60.0, -50.0, -40.0, -42.0, -41.0, -45.0, -60.0]);
        assert_eq!(run(&db, -100.0).len(), 1);
    }

    #[test]
    fn a_flat_band_is_one_peak_centred_between_its_edges() {
        let mut db = vec![-100.0; 64];
        for (i, v) in db.iter_mut().enumerate().take(40).skip(20) {
            *v = -50.0 + if i % 3 == 0 { -1.0 } else { 0.5 };
        }
        let p = run(&db, -100.0);
        assert_eq!(p.len(), 1);
        // Edges: just outside bins 20 and 39, where the −100 dB floor meets the band (the
        // level, ~−52.3 dB, is crossed within 0.06 bins of them).
        assert!(p[0].lo > 19.9 && p[0].lo < 20.0, "{}", p[0].lo);
        assert!(p[0].hi > 39.0 && p[0].hi < 39.1, "{}", p[0].hi);
        assert!((p[0].centre - 29.5).abs() < 0.1);
        assert_eq!(p[0].bins, 20);
    }

    #[test]
    fn holes_are_bridged_up_to_merge_bins_and_edges_are_safe() {
        let mut db = vec![-100.0; 16];
        db[0] = -50.0;
        db[3] = -50.0;
        db[4] = -50.0; // hole of two bins between 0 and 3: two regions
        db[15] = -40.0;
        let p = run(&db, -100.0);
        assert_eq!(p.len(), 3);
        assert_eq!(p[2].hi, 15.0);
        assert_eq!(p[0].lo, 0.0);
    }
}
