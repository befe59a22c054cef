//! Tone synthesis for `wwv_sim`: the complex baseband of one station (carrier plus its
//! scheduled tone bursts) at any instant, as a receiver tuned to the carrier sees it.
//!
//! Conventions:
//! - a burst's gate has raised-cosine edges of width `edge` centred on the nominal start and
//!   end, so the *onset* of a tick is the 50 % point of its rising edge (with `edge = 0` the
//!   gate is hard and the onset is only defined to within one sample);
//! - the tone inside a burst is `sin(2π f (u − start))`: it starts at a rising zero crossing;
//! - the station's emission second starts at the UTC second; it arrives `delay` later;
//! - WWV/WWVH are double-sideband AM: `e^{jθ(t)}·c·(1 + m·audio)`; CHU is upper sideband
//!   with carrier: `e^{jθ(t)}·(c + a·analytic(audio))`, where `θ(t) = 2π·Δf·t + θ₀`.
//!
//! Power bookkeeping: `tone_power` is the power of the audio component while a full-level
//! burst is on (both sidebands for AM), i.e. `m²c²/2` for AM and `a²` for USB; the carrier
//! is set from it and the modulation index `m` (`c = √(2P)/m` for AM, `c = 2√P/m` for USB).

use std::f64::consts::{PI, TAU};

use super::schedule::{bursts, Burst, Sidebands, Station};
use flow_framework::prelude::C64;

/// One station's signal generator.
pub struct StationSynth {
    station: Station,
    sidebands: Sidebands,
    carrier: f64,
    tone: f64,
    freq_offset: f64,
    phase0: f64,
    delay: f64,
    edge: f64,
    audio_tones: bool,
    cache: Vec<(i64, Vec<Burst>)>,
}

/// How a station appears at the receiver.
#[derive(Clone, Copy, Debug)]
pub struct StationSignal {
    /// The station.
    pub station: Station,
    /// Power of the audio tone component (carrier excluded) during a full-level burst.
    pub tone_power: f64,
    /// Modulation index (1 = 100 %).
    pub modulation: f64,
    /// Carrier frequency offset in Hz (tuning error, Doppler).
    pub freq_offset: f64,
    /// Carrier phase at the first sample, radians.
    pub phase0: f64,
    /// Propagation delay in seconds.
    pub delay: f64,
}

impl StationSynth {
    /// A generator for `s`, with gate edges of `edge` seconds and optional audio tones.
    pub fn new(s: StationSignal, edge: f64, audio_tones: bool) -> Self {
        let sidebands = s.station.sidebands();
        let m = s.modulation;
        let (carrier, tone) = match sidebands {
            Sidebands::Double => {
                let c = (2.0 * s.tone_power).sqrt() / m;
                (c, m * c)
            }
            Sidebands::Upper => {
                let a = s.tone_power.sqrt();
                (2.0 * a / m, a)
            }
        };
        StationSynth {
            station: s.station,
            sidebands,
            carrier,
            tone,
            freq_offset: s.freq_offset,
            phase0: s.phase0,
            delay: s.delay,
            edge: edge.max(0.0),
            audio_tones,
            cache: Vec::with_capacity(3),
        }
    }

    fn second(&mut self, unix_second: i64) -> usize {
        if let Some(k) = self.cache.iter().position(|(s, _)| *s == unix_second) {
            return k;
        }
        if self.cache.len() >= 3 {
            // evict the oldest second
            let oldest = (0..self.cache.len())
                .min_by_key(|&k| self.cache[k].0)
                .unwrap_or(0);
            self.cache.swap_remove(oldest);
        }
        let mut v = Vec::new();
        bursts(self.station, unix_second, self.audio_tones, &mut v);
        self.cache.push((unix_second, v));
        self.cache.len() - 1
    }

    /// The audio (real for AM, analytic for USB) of second `unix_second` at offset `u`.
    fn audio(&mut self, unix_second: i64, u: f64) -> (f64, f64) {
        let k = self.second(unix_second);
        let (edge, upper) = (self.edge, self.sidebands == Sidebands::Upper);
        let mut acc = (0.0, 0.0);
        for b in &self.cache[k].1 {
            let v = u - b.start;
            let g = gate(v, b.duration, edge);
            if g == 0.0 {
                continue;
            }
            let ph = TAU * b.freq * v;
            if upper {
                // analytic signal of sin: −j·e^{jφ} = sin φ − j cos φ
                acc.0 += g * b.level * ph.sin();
                acc.1 -= g * b.level * ph.cos();
            } else {
                acc.0 += g * b.level * ph.sin();
            }
        }
        acc
    }

    /// The station's baseband at `t` seconds after Unix second `base` (UTC), where
    /// `since_start` is the time since the first sample (for the carrier phase).
    pub fn sample(&mut self, base: i64, t: f64, since_start: f64) -> C64 {
        let te = t - self.delay;
        let s = te.floor();
        let u = te - s;
        let sec = base + s as i64;
        let mut a = self.audio(sec, u);
        let h = self.edge / 2.0;
        if h > 0.0 && u < h {
            let p = self.audio(sec - 1, u + 1.0);
            a = (a.0 + p.0, a.1 + p.1);
        }
        if h > 0.0 && u > 1.0 - h {
            let n = self.audio(sec + 1, u - 1.0);
            a = (a.0 + n.0, a.1 + n.1);
        }
        let env = C64::new(self.carrier + self.tone * a.0, self.tone * a.1);
        let th = TAU * self.freq_offset * since_start + self.phase0;
        env * C64::new(th.cos(), th.sin())
    }
}

/// The gate of a burst of `duration` at offset `v` from its start: raised-cosine edges of
/// width `edge` centred on 0 and on `duration` (hard edges when `edge` is 0).
pub fn gate(v: f64, duration: f64, edge: f64) -> f64 {
    if edge <= 0.0 {
        return if (0.0..duration).contains(&v) {
            1.0
        } else {
            0.0
        };
    }
    let h = edge / 2.0;
    if v <= -h || v >= duration + h {
        return 0.0;
    }
    let rise = if v < h {
        0.5 - 0.5 * (PI * (v + h) / edge).cos()
    } else {
        1.0
    };
    let fall = if v > duration - h {
        0.5 - 0.5 * (PI * (duration + h - v) / edge).cos()
    } else {
        1.0
    };
    rise * fall
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_is_half_at_the_nominal_edges() {
        assert_eq!(gate(0.0, 0.005, 0.0), 1.0);
        assert_eq!(gate(0.005, 0.005, 0.0), 0.0);
        assert!((gate(0.0, 0.005, 2e-4) - 0.5).abs() < 1e-12);
        assert!((gate(0.005, 0.005, 2e-4) - 0.5).abs() < 1e-12);
        assert_eq!(gate(0.0025, 0.005, 2e-4), 1.0);
        assert_eq!(gate(-1e-4, 0.005, 2e-4), 0.0);
    }

    #[test]
    fn am_tick_has_the_requested_tone_power_and_delay() {
        let mut s = StationSynth::new(
            StationSignal {
                station: Station::Wwv,
                tone_power: 0.01,
                modulation: 1.0,
                freq_offset: 0.0,
                phase0: 0.0,
                delay: 0.004,
            },
            0.0,
            false,
        );
        let fs = 20_000.0;
        let base = 1_765_000_860;
        // Second 5 (a tick): before the delay only carrier, after it carrier ± tone.
        let carrier = s.sample(base, 5.0 + 0.0039, 0.0);
        assert!((carrier.re - (0.02f64).sqrt()).abs() < 1e-12 && carrier.im == 0.0);
        let mut p = 0.0;
        for k in 0..100 {
            let x = s.sample(base, 5.004 + k as f64 / fs, 0.0);
            p += (x.re - carrier.re).powi(2);
        }
        assert!((p / 100.0 - 0.01).abs() < 1e-9, "tone power {}", p / 100.0);
    }
}
