//! Analysis of one minute window for one station: find the tick phase in the folded
//! envelope, align the minute pattern to find second 0 (which also tells WWV from CHU),
//! fit the onset on all the minute's ticks, and turn it into D_clock.
//!
//! Steps:
//! 1. **Coarse phase**: fold the envelope power over the 60 seconds (by phase within the
//!    system second), correlate the fold with the tick model and take the best phase. Its
//!    robust z-score against all other phases is the detection statistic.
//! 2. **Pattern**: measure each second's [`Features`] at that phase and [`align`] them with
//!    the station's schedule: the best alignment gives second 0 and the UTC minute; a
//!    station whose pattern does not fit (WWV ticks read as CHU, or noise) is rejected.
//! 3. **Fine fit**: least-squares fit of one onset `τ` to every second the schedule says
//!    carries a model tick ([`super::onset_fit`]); uncertainty by delete-a-group jackknife
//!    over 8 interleaved groups of seconds.
//! 4. **D_clock** = (system time of the onset of second 0) − (the UTC minute), i.e. the
//!    receiver's clock error plus the propagation delay.

use super::minute::Window;
use super::onset_fit::{fit, Geometry, Points};
use super::pattern::{align, expected, Features, HOUR, LONG};
use super::schedule::Station;

/// Which envelope channels a station uses.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The station.
    pub station: Station,
    /// Channels summed for its tick frequency (both sidebands for AM, upper for CHU).
    pub tick: Vec<usize>,
    /// Channels of the 1500 Hz hour tone (WWV/WWVH).
    pub hour: Vec<usize>,
    /// Channels of the other AM station's tick frequency (1200 Hz for WWV, 1000 Hz for
    /// WWVH): a tick 200 Hz away leaks into this station's matched filter at −10 dB, so a
    /// candidate much weaker than the other frequency at the same phase is that leak.
    pub cross: Vec<usize>,
}

/// Detection settings.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Boxcar geometry.
    pub geometry: Geometry,
    /// Minimum robust z-score of the folded tick.
    pub threshold: f64,
    /// Minimum number of ticks fitted.
    pub min_ticks: usize,
}

/// One station's measurement for one minute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    /// The station.
    pub station: Station,
    /// The UTC minute, ns since the Unix epoch.
    pub minute_ns: i64,
    /// System time − UTC at the onsets (clock error + propagation), seconds.
    pub d_clock_s: f64,
    /// Standard uncertainty of `d_clock_s`, seconds.
    pub uncertainty_s: f64,
    /// Ticks fitted.
    pub ticks: usize,
    /// Estimated tone power over noise power in the channel bandwidth, dB.
    pub snr_db: f64,
    /// Detection statistic (robust z of the folded tick).
    pub z: f64,
}

/// Why a station was not reported for a minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// No tick stands out of the fold.
    NoTicks,
    /// The seconds do not match the station's minute pattern, or second 0 is ambiguous.
    Pattern,
    /// Fewer usable ticks than `min_ticks` (gaps, partial minute).
    TooFewTicks,
    /// The ticks are the other station's, leaking through 200 Hz away.
    CrossTalk,
}

/// A candidate weaker than the other AM station at the same phase by this power ratio is
/// taken for that station's leak (the leak itself is about 0.1).
const CROSS_RATIO: f64 = 4.0;

const MARGIN: f64 = 0.002;
const SEARCH: f64 = 0.0015;
const GROUPS: usize = 8;

/// Model duration, and the end of the fit window after the coarse phase, for a station's
/// ticks.
fn model(station: Station, g: &Geometry) -> (f64, f64) {
    match station {
        // the whole 5 ms tick (rise and fall), plus room for the search
        Station::Wwv | Station::Wwvh => (station.tick_s(), station.tick_s() + MARGIN + SEARCH),
        // CHU pulses last 10 ms to 1 s: model a step and fit only the rising edge and the
        // first 4 ms of plateau, which every pulse has (its plateau lasts ≥ 10 ms − T)
        Station::Chu => (1.0, station.tick_s() - g.t() - 0.001),
    }
}

fn sum(w: &Window, chans: &[usize]) -> Vec<f64> {
    (0..w.len())
        .map(|i| chans.iter().map(|&c| f64::from(w.env[c][i])).sum())
        .collect()
}

fn mean_over(w: &Window, p: &[f64], a: f64, b: f64, floor: f64, scale: f64) -> f64 {
    let r = w.range(a, b);
    if r.is_empty() {
        return f64::NAN;
    }
    let n = r.len() as f64;
    (p[r].iter().sum::<f64>() / n - floor) / scale
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The envelope folded over the seconds (mean per phase bin).
fn fold(w: &Window, p: &[f64]) -> Vec<f64> {
    let nb = (1.0 / w.block_dt).round() as usize;
    let mut fold = vec![0.0; nb];
    let mut count = vec![0u32; nb];
    for (i, v) in p.iter().enumerate() {
        if v.is_finite() {
            let h = w.h(i);
            let u = h - h.round();
            let b = (((u + 0.5) * nb as f64).floor() as usize).min(nb - 1);
            fold[b] += v;
            count[b] += 1;
        }
    }
    fold.iter()
        .zip(&count)
        .map(|(s, c)| if *c > 0 { s / f64::from(*c) } else { f64::NAN })
        .collect()
}

/// Least-squares amplitude of `kernel` on `fold` at bin `b` (circular), with the floor.
fn score(fold: &[f64], kernel: &[f64], kl: i64, b: usize) -> Option<(f64, f64)> {
    let nb = fold.len() as i64;
    let km = kernel.iter().sum::<f64>() / kernel.len() as f64;
    let kvar: f64 = kernel.iter().map(|k| (k - km).powi(2)).sum();
    let at = |k: usize| fold[(b as i64 + k as i64 - kl).rem_euclid(nb) as usize];
    let fm = (0..kernel.len()).map(at).sum::<f64>() / kernel.len() as f64;
    if !fm.is_finite() {
        return None;
    }
    let a = (0..kernel.len())
        .map(|k| (at(k) - fm) * (kernel[k] - km))
        .sum::<f64>()
        / kvar;
    Some((a, fm - a * km))
}

/// The tick model sampled on the fold's bins, and how many bins precede the onset.
fn kernel(nb: usize, g: &Geometry, d: f64, right: f64) -> (Vec<f64>, i64) {
    let bw = 1.0 / nb as f64;
    let kl = ((g.t() + MARGIN) / bw).ceil() as i64;
    let kr = (right / bw).ceil() as i64;
    (
        (-kl..=kr).map(|k| g.block(k as f64 * bw, 0.0, d)).collect(),
        kl,
    )
}

/// Coarse phase: (phase, bin, amplitude, floor, z).
fn coarse(
    w: &Window,
    p: &[f64],
    g: &Geometry,
    d: f64,
    right: f64,
) -> Option<(f64, usize, f64, f64, f64)> {
    let fold = fold(w, p);
    let nb = fold.len();
    let (kernel, kl) = kernel(nb, g, d, right);
    let scores: Vec<f64> = (0..nb)
        .map(|b| score(&fold, &kernel, kl, b).map_or(f64::NAN, |s| s.0))
        .collect();
    let (best, &a) = scores
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_finite())
        .max_by(|x, y| x.1.total_cmp(y.1))?;
    let med = median(scores.clone());
    let mad = median(scores.iter().map(|s| (s - med).abs()).collect());
    let z = (a - med) / (1.4826 * mad).max(1e-300);
    let floor = score(&fold, &kernel, kl, best)?.1;
    // bin b holds block starts with u in [b/nb − 0.5, (b+1)/nb − 0.5): its centre
    let phase = (best as f64 + 0.5) / nb as f64 - 0.5;
    Some((phase, best, a, floor, z))
}

/// The other station's amplitude at bin `b` of the fold, with this station's model.
fn cross_amplitude(w: &Window, chans: &[usize], g: &Geometry, d: f64, right: f64, b: usize) -> f64 {
    let fold = fold(w, &sum(w, chans));
    let (kernel, kl) = kernel(fold.len(), g, d, right);
    score(&fold, &kernel, kl, b).map_or(0.0, |s| s.0)
}

/// Analyses window `w` for the station of `plan`.
pub fn analyze(w: &Window, plan: &Plan, s: &Settings) -> Result<Detection, Reject> {
    let g = &s.geometry;
    let (d, right) = model(plan.station, g);
    let p = sum(w, &plan.tick);
    let (phase, bin, a_c, b_c, z) = coarse(w, &p, g, d, right).ok_or(Reject::NoTicks)?;
    if !(z >= s.threshold && a_c > 0.0) {
        return Err(Reject::NoTicks);
    }
    if !plan.cross.is_empty()
        && cross_amplitude(w, &plan.cross, g, d, right, bin) > CROSS_RATIO * a_c
    {
        return Err(Reject::CrossTalk);
    }
    // per-second features at the coarse phase
    let hour = (!plan.hour.is_empty()).then(|| sum(w, &plan.hour));
    let hour_floor = hour.as_ref().map_or(0.0, |h| median(h.clone()));
    let slots: Vec<Features> = (0..60)
        .map(|k| {
            let t0 = k as f64 + phase;
            let r = w.range(t0 - g.t() - MARGIN, t0 + right);
            let (mut num, mut den) = (0.0, 0.0);
            for i in r.clone() {
                let m = g.block(w.h(i) - k as f64, phase, d);
                num += (p[i] - b_c) * m;
                den += m * m;
            }
            let tick = if r.is_empty() {
                f64::NAN
            } else {
                num / den / a_c
            };
            let long = LONG.map(|(a, b)| mean_over(w, &p, t0 + a, t0 + b, b_c, a_c));
            // capped at 1: both WWV and WWVH send the hour tone (NaN stays NaN)
            let hour = hour.as_ref().map_or(f64::NAN, |h| {
                let v = mean_over(w, h, t0 + HOUR.0, t0 + HOUR.1, hour_floor, a_c);
                if v > 1.0 {
                    1.0
                } else {
                    v
                }
            });
            Features { tick, long, hour }
        })
        .collect();
    let al = align(plan.station, &slots, w.minute, phase, g.t()).ok_or(Reject::Pattern)?;
    if !(al.error_per_second < 0.25 && al.margin >= 1.5) {
        return Err(Reject::Pattern);
    }
    // fine fit over the seconds that carry a model tick
    let (lo, hi) = (phase - SEARCH, phase + SEARCH);
    let mut per_slot: Vec<Points> = Vec::new();
    for (k, x) in slots.iter().enumerate() {
        let second = 60 * al.minute + k as i64 - al.k0 as i64;
        if expected(plan.station, second, g.t()).tick != Some(1.0) || !x.tick.is_finite() {
            continue;
        }
        let r = w.range(k as f64 + lo - g.t() - MARGIN, k as f64 + phase + right);
        let mut pts = Points::default();
        for i in r {
            pts.h.push(w.h(i) - k as f64);
            pts.p.push(p[i]);
        }
        if pts.p.iter().all(|v| v.is_finite()) {
            per_slot.push(pts);
        }
    }
    if per_slot.len() < s.min_ticks.max(GROUPS) {
        return Err(Reject::TooFewTicks);
    }
    let gather = |skip: Option<usize>| {
        let mut all = Points::default();
        for (n, pts) in per_slot.iter().enumerate() {
            if skip != Some(n % GROUPS) {
                all.h.extend_from_slice(&pts.h);
                all.p.extend_from_slice(&pts.p);
            }
        }
        all
    };
    let best = fit(g, &gather(None), d, lo, hi, 25e-6).ok_or(Reject::NoTicks)?;
    let mut taus = Vec::with_capacity(GROUPS);
    for grp in 0..GROUPS {
        let f = fit(
            g,
            &gather(Some(grp)),
            d,
            best.tau - 5e-4,
            best.tau + 5e-4,
            10e-6,
        );
        taus.push(f.map_or(best.tau, |f| f.tau));
    }
    let mean = taus.iter().sum::<f64>() / GROUPS as f64;
    let var =
        taus.iter().map(|t| (t - mean).powi(2)).sum::<f64>() * (GROUPS - 1) as f64 / GROUPS as f64;
    let n_sb = plan.tick.len() as f64;
    let snr = best.a * n_sb / (best.b * g.l as f64);
    let onset = al.k0 as f64 + best.tau; // seconds after the system minute boundary
    Ok(Detection {
        station: plan.station,
        minute_ns: al.minute.saturating_mul(60_000_000_000),
        d_clock_s: onset - 60.0 * (al.minute - w.minute) as f64,
        uncertainty_s: var.sqrt(),
        ticks: per_slot.len(),
        snr_db: if snr > 0.0 {
            10.0 * snr.log10()
        } else {
            f64::INFINITY
        },
        z,
    })
}
