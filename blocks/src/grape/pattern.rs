//! The minute pattern: per-second features measured at a tick phase (tick amplitude, tone
//! energy in three windows after the onset, hour-tone energy), the features a station's
//! schedule predicts for each second, and the alignment of the two that finds second 0.
//!
//! Features are in units of the folded tick amplitude, so a full-level tone reads 1 and
//! silence 0, whatever the SNR. The three *long* windows, [20, 280], [320, 480] and
//! [520, 780] ms after the onset (hypothesised-onset time, so a tone of duration `D` fills
//! them up to `D − 5 ms`), tell a 5–10 ms tick from a 300 ms CHU pulse, a 500 ms CHU marker
//! and an 800 ms WWV/WWVH marker.

use super::schedule::{bursts, BurstKind, Station, HOUR_TONE_HZ};

/// Long windows after the onset, seconds.
pub const LONG: [(f64, f64); 3] = [(0.020, 0.280), (0.320, 0.480), (0.520, 0.780)];
/// Window of the hour tone.
pub const HOUR: (f64, f64) = (0.020, 0.780);

const W_TICK: f64 = 0.25;
const W_LONG: f64 = 1.0;
const W_HOUR: f64 = 1.0;

/// Features of one second (`NaN`: not measurable, e.g. in a gap).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Features {
    /// Tick amplitude at the tick phase.
    pub tick: f64,
    /// Mean tone power in the [`LONG`] windows.
    pub long: [f64; 3],
    /// Mean hour-tone power in [`HOUR`] (`NaN` for CHU).
    pub hour: f64,
}

/// What the schedule predicts for one second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Expected {
    /// 1 if a tick of the model's kind starts the second, 0 if nothing does, `None` when
    /// another burst starts it (a marker: the tick model does not apply).
    pub tick: Option<f64>,
    /// Fraction of each long window the station's tone fills.
    pub long: [f64; 3],
    /// Fraction of [`HOUR`] the hour tone fills.
    pub hour: f64,
}

fn cover(plateau_end: f64, (a, b): (f64, f64)) -> f64 {
    ((plateau_end.min(b) - a) / (b - a)).clamp(0.0, 1.0)
}

/// The features `station` predicts for Unix second `second`.
pub fn expected(station: Station, second: i64, boxcar_s: f64) -> Expected {
    let mut v = Vec::new();
    bursts(station, second, false, &mut v);
    let mut e = Expected {
        tick: Some(0.0),
        long: [0.0; 3],
        hour: 0.0,
    };
    for b in v.iter().filter(|b| b.start == 0.0) {
        let end = b.duration - boxcar_s;
        if b.freq == station.tick_hz() {
            let is_tick_model = match station {
                Station::Wwv | Station::Wwvh => b.kind == BurstKind::Tick,
                Station::Chu => b.duration >= station.tick_s(),
            };
            e.tick = if is_tick_model { Some(1.0) } else { None };
            for (k, w) in LONG.iter().enumerate() {
                e.long[k] = cover(end, *w);
            }
        } else if b.freq == HOUR_TONE_HZ {
            e.tick = None;
            e.hour = cover(end, HOUR);
        }
    }
    e
}

/// Weighted squared error of measured against expected features; returns (error, terms).
pub fn mismatch(x: &Features, e: &Expected) -> (f64, usize) {
    let mut err = 0.0;
    let mut n = 0;
    if let (true, Some(t)) = (x.tick.is_finite(), e.tick) {
        err += W_TICK * (x.tick - t).powi(2);
        n += 1;
    }
    for k in 0..3 {
        if x.long[k].is_finite() {
            err += W_LONG * (x.long[k] - e.long[k]).powi(2);
            n += 1;
        }
    }
    if x.hour.is_finite() {
        err += W_HOUR * (x.hour - e.hour).powi(2);
        n += 1;
    }
    (err, n)
}

/// The best alignment of a window's 60 seconds with the schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alignment {
    /// Slot holding second 0 (the minute marker).
    pub k0: usize,
    /// The UTC minute (Unix minutes) that marker starts.
    pub minute: i64,
    /// Error of the best alignment per measured second.
    pub error_per_second: f64,
    /// Error of the second-best alignment minus the best.
    pub margin: f64,
}

/// Aligns `slots` (60 seconds starting at system minute `window_minute`, tick phase `phase`
/// seconds) with `station`'s schedule.
pub fn align(
    station: Station,
    slots: &[Features],
    window_minute: i64,
    phase: f64,
    boxcar_s: f64,
) -> Option<Alignment> {
    let mut scores: Vec<(f64, usize, i64)> = Vec::with_capacity(slots.len());
    let measured = slots
        .iter()
        .filter(|x| x.long.iter().any(|v| v.is_finite()))
        .count();
    if measured == 0 {
        return None;
    }
    for k0 in 0..slots.len() {
        let minute = window_minute + ((k0 as f64 + phase) / 60.0).round() as i64;
        let mut err = 0.0;
        for (k, x) in slots.iter().enumerate() {
            let second = 60 * minute + k as i64 - k0 as i64;
            err += mismatch(x, &expected(station, second, boxcar_s)).0;
        }
        scores.push((err, k0, minute));
    }
    scores.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (best, k0, minute) = scores[0];
    let second = scores.get(1).map_or(f64::INFINITY, |s| s.0);
    Some(Alignment {
        k0,
        minute,
        error_per_second: best / measured as f64,
        margin: second - best,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: f64 = 0.005;

    #[test]
    fn schedules_predict_ticks_pulses_and_markers() {
        let hour = 1_765_000_800; // top of an hour
        let e = expected(Station::Wwv, hour + 60 + 5, T);
        assert_eq!(
            e,
            Expected {
                tick: Some(1.0),
                long: [0.0; 3],
                hour: 0.0
            }
        );
        let m = expected(Station::Wwvh, hour + 60, T);
        assert_eq!((m.tick, m.long), (None, [1.0; 3]));
        assert_eq!(expected(Station::Wwv, hour, T).hour, 1.0);
        assert_eq!(expected(Station::Wwv, hour + 60 + 29, T).tick, Some(0.0));
        let c = expected(Station::Chu, hour + 60 + 5, T);
        assert_eq!((c.tick, c.long), (Some(1.0), [1.0, 0.0, 0.0]));
        let c0 = expected(Station::Chu, hour + 60, T);
        assert_eq!((c0.tick, c0.long), (Some(1.0), [1.0, 1.0, 0.0]));
        assert_eq!(expected(Station::Chu, hour + 60 + 33, T).long, [0.0; 3]);
    }

    #[test]
    fn alignment_finds_the_marker_second() {
        // ideal WWV features with the marker in slot 2 of the window of minute 1 of the hour
        // (a clock 2 s fast): slot k is second k − 2 of minute 1 (slots 0, 1: seconds 58, 59
        // of minute 0)
        let hour_minute = 1_765_000_800 / 60;
        let slots: Vec<Features> = (0..60)
            .map(|k| {
                let e = expected(Station::Wwv, 60 * (hour_minute + 1) + k - 2, T);
                Features {
                    tick: e.tick.unwrap_or(0.7),
                    long: e.long,
                    hour: e.hour,
                }
            })
            .collect();
        let a = align(Station::Wwv, &slots, hour_minute + 1, 0.0, T).unwrap();
        assert_eq!((a.k0, a.minute), (2, hour_minute + 1));
        assert!(a.error_per_second < 1e-12 && a.margin >= 6.0, "{a:?}");
        // the same seconds read as CHU fit badly
        let c = align(Station::Chu, &slots, hour_minute + 1, 0.0, T).unwrap();
        assert!(c.error_per_second > 0.5, "{c:?}");
    }
}
