//! What WWV, WWVH and CHU transmit in each second of the minute: the tone bursts (start,
//! duration, audio frequency) that the simulator synthesises and the detector expects.
//!
//! Modelled (times are offsets from the start of the UTC second, at the transmitter):
//!
//! | station | second ticks | skipped | minute marker | hour marker |
//! |---|---|---|---|---|
//! | WWV  | 5 ms of 1000 Hz (5 cycles) | 29, 59 | 800 ms of 1000 Hz | 800 ms of 1500 Hz |
//! | WWVH | 5 ms of 1200 Hz (6 cycles) | 29, 59 | 800 ms of 1200 Hz | 800 ms of 1500 Hz |
//! | CHU  | 300 ms of 1000 Hz; 10 ms in seconds 31–39 and 51–59 | 29; 1–9 after the hour | 500 ms of 1000 Hz | 1 s of 1000 Hz |
//!
//! CHU's seconds 31–39 also carry its Bell-103 FSK time code (2225 Hz mark / 2025 Hz space,
//! 10–510 ms, 300 baud, ten 8N2 bytes ending at 500 ms); the payload bytes here are
//! pseudo-random, the framing and timing are the real ones. The optional WWV/WWVH audio
//! tones (500/600 Hz alternating by minute, 440 Hz in minute 2 (WWV) / 1 (WWVH), seconds
//! 1–44, off from 10 ms before to 30 ms after each second) approximate the broadcast
//! schedule. Not modelled: voice announcements, the 100 Hz BCD time code, DUT1 double
//! ticks, CHU's DUT1 split pulses, WWV/WWVH silent periods and special minutes.

use flow_framework::prelude::*;

/// A time station.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum Station {
    /// WWV, Fort Collins (1000 Hz ticks).
    #[serde(rename = "WWV")]
    Wwv,
    /// WWVH, Kauai (1200 Hz ticks).
    #[serde(rename = "WWVH")]
    Wwvh,
    /// CHU, Ottawa (1000 Hz pulses, upper sideband with carrier).
    #[serde(rename = "CHU")]
    Chu,
}

/// Which sidebands around the carrier carry the audio in complex baseband.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sidebands {
    /// Double sideband AM (WWV, WWVH): a tone at `f` appears at `+f` and `-f`.
    Double,
    /// Upper sideband with reinserted carrier (CHU, H3E): a tone appears at `+f` only.
    Upper,
}

/// Tone frequency of the WWV/WWVH hour marker.
pub const HOUR_TONE_HZ: f64 = 1500.0;

impl Station {
    /// Every station.
    pub const ALL: [Station; 3] = [Station::Wwv, Station::Wwvh, Station::Chu];

    /// The name used in messages and TOML (`WWV`, `WWVH`, `CHU`).
    pub fn name(self) -> &'static str {
        match self {
            Station::Wwv => "WWV",
            Station::Wwvh => "WWVH",
            Station::Chu => "CHU",
        }
    }

    /// Audio frequency of the second ticks and minute marker.
    pub fn tick_hz(self) -> f64 {
        match self {
            Station::Wwv | Station::Chu => 1000.0,
            Station::Wwvh => 1200.0,
        }
    }

    /// How the audio sits around the carrier.
    pub fn sidebands(self) -> Sidebands {
        match self {
            Station::Wwv | Station::Wwvh => Sidebands::Double,
            Station::Chu => Sidebands::Upper,
        }
    }

    /// Duration of the shortest tick this station sends, in seconds: the detector's tick model.
    pub fn tick_s(self) -> f64 {
        match self {
            Station::Wwv | Station::Wwvh => 0.005,
            Station::Chu => 0.010,
        }
    }
}

/// What a burst is, for the detector's expectations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BurstKind {
    /// A second tick or CHU second pulse.
    Tick,
    /// The minute marker.
    Minute,
    /// The hour marker.
    Hour,
    /// A standard audio tone (WWV/WWVH, optional).
    Audio,
    /// One FSK bit or mark period of CHU's time code.
    Fsk,
}

/// One tone burst: `sin(2π·freq·u)` for `u` (seconds since the start of the second) in
/// `[start, start + duration)`, scaled by `level` (1 = full modulation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Burst {
    /// Start, seconds after the second.
    pub start: f64,
    /// Duration in seconds.
    pub duration: f64,
    /// Audio frequency in Hz.
    pub freq: f64,
    /// Relative level (peak), 1 for ticks and markers.
    pub level: f64,
    /// What it is.
    pub kind: BurstKind,
}

impl Burst {
    fn new(duration: f64, freq: f64, kind: BurstKind) -> Self {
        Burst {
            start: 0.0,
            duration,
            freq,
            level: 1.0,
            kind,
        }
    }
}

/// Level of the optional WWV/WWVH audio tones relative to the ticks.
pub const AUDIO_LEVEL: f64 = 0.5;

/// The bursts `station` sends in the UTC second starting at `unix_second`.
pub fn bursts(station: Station, unix_second: i64, audio_tones: bool, out: &mut Vec<Burst>) {
    out.clear();
    let sec = unix_second.rem_euclid(60);
    let minute = unix_second.div_euclid(60).rem_euclid(60);
    let f = station.tick_hz();
    match station {
        Station::Wwv | Station::Wwvh => {
            match sec {
                0 if minute == 0 => out.push(Burst::new(0.8, HOUR_TONE_HZ, BurstKind::Hour)),
                0 => out.push(Burst::new(0.8, f, BurstKind::Minute)),
                29 | 59 => {}
                _ => out.push(Burst::new(0.005, f, BurstKind::Tick)),
            }
            if audio_tones && (1..=44).contains(&sec) {
                let odd = minute % 2 == 1;
                let freq = match (station, minute) {
                    (Station::Wwv, 2) | (Station::Wwvh, 1) => 440.0,
                    (Station::Wwv, _) if odd => 600.0,
                    (Station::Wwv, _) => 500.0,
                    (_, _) if odd => 500.0,
                    _ => 600.0,
                };
                out.push(Burst {
                    start: 0.030,
                    duration: 0.960,
                    freq,
                    level: AUDIO_LEVEL,
                    kind: BurstKind::Audio,
                });
            }
        }
        Station::Chu => match sec {
            0 if minute == 0 => out.push(Burst::new(1.0, f, BurstKind::Hour)),
            0 => out.push(Burst::new(0.5, f, BurstKind::Minute)),
            1..=9 if minute == 0 => {}
            29 => {}
            31..=39 => {
                out.push(Burst::new(0.010, f, BurstKind::Tick));
                chu_fsk(unix_second, out);
            }
            51..=59 => out.push(Burst::new(0.010, f, BurstKind::Tick)),
            _ => out.push(Burst::new(0.300, f, BurstKind::Tick)),
        },
    }
}

/// CHU's FSK time code in seconds 31–39: 2225 Hz mark from 10 ms, ten 8N2 bytes at 300 baud
/// ending at exactly 500 ms, then 10 ms of mark. The bytes are pseudo-random (seeded by the
/// second), so the spectrum and framing are real but the content is not a time code.
fn chu_fsk(unix_second: i64, out: &mut Vec<Burst>) {
    const MARK: f64 = 2225.0;
    const SPACE: f64 = 2025.0;
    let bit = 1.0 / 300.0;
    let data_start = 0.5 - 110.0 * bit;
    let fsk = |start: f64, duration: f64, freq: f64| Burst {
        start,
        duration,
        freq,
        level: 1.0,
        kind: BurstKind::Fsk,
    };
    out.push(fsk(0.010, data_start - 0.010, MARK));
    let mut state = (unix_second as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for byte in 0..10 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let value = (state >> 24) as u8;
        // start bit (space), 8 data bits LSB first, 2 stop bits (mark)
        let bits = std::iter::once(false)
            .chain((0..8).map(|b| value >> b & 1 == 1))
            .chain([true, true]);
        for (k, b) in bits.enumerate() {
            let start = data_start + (byte * 11 + k) as f64 * bit;
            out.push(fsk(start, bit, if b { MARK } else { SPACE }));
        }
    }
    out.push(fsk(0.5, 0.010, MARK));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(station: Station, minute: i64, sec: i64) -> Vec<Burst> {
        let mut v = Vec::new();
        bursts(station, 1_765_000_800 + minute * 60 + sec, false, &mut v);
        v
    }

    #[test]
    fn wwv_and_wwvh_ticks_markers_and_skipped_seconds() {
        // 1_765_000_800 is the top of an hour (divisible by 3600).
        assert_eq!(1_765_000_800 % 3600, 0);
        for (st, f) in [(Station::Wwv, 1000.0), (Station::Wwvh, 1200.0)] {
            assert_eq!(at(st, 0, 0), vec![Burst::new(0.8, 1500.0, BurstKind::Hour)]);
            assert_eq!(at(st, 7, 0), vec![Burst::new(0.8, f, BurstKind::Minute)]);
            assert!(at(st, 7, 29).is_empty() && at(st, 7, 59).is_empty());
            assert_eq!(at(st, 7, 30), vec![Burst::new(0.005, f, BurstKind::Tick)]);
            // 5 cycles (WWV) and 6 cycles (WWVH) in a tick
            assert!((0.005 * f - if f == 1000.0 { 5.0 } else { 6.0 }).abs() < 1e-9);
        }
    }

    #[test]
    fn chu_pulses_markers_and_time_code() {
        assert_eq!(at(Station::Chu, 0, 0)[0].duration, 1.0);
        assert!(at(Station::Chu, 0, 5).is_empty(), "silence after the hour");
        assert_eq!(at(Station::Chu, 3, 0)[0].duration, 0.5);
        assert_eq!(at(Station::Chu, 3, 5)[0].duration, 0.3);
        assert!(at(Station::Chu, 3, 29).is_empty());
        assert_eq!(at(Station::Chu, 3, 55)[0].duration, 0.010);
        let code = at(Station::Chu, 3, 33);
        assert_eq!(code[0].duration, 0.010);
        let bits = code.iter().filter(|b| b.kind == BurstKind::Fsk).count();
        assert_eq!(bits, 1 + 110 + 1);
        let last_bit = code[code.len() - 2];
        assert!((last_bit.start + last_bit.duration - 0.5).abs() < 1e-12);
    }
}
