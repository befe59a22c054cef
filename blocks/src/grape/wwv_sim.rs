//! `wwv_sim`: complex baseband of WWV, WWVH and CHU with their real timing structure, noise,
//! propagation delays, carrier offsets and a known receiver clock offset, for tests and demos.

use std::time::{SystemTime, UNIX_EPOCH};

use flow_framework::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use super::schedule::Station;
use super::synth::{StationSignal, StationSynth};

/// One simulated station in the channel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimStation {
    /// `WWV`, `WWVH` or `CHU`.
    pub station: Station,
    /// Tone power over noise power in the channel bandwidth (the full sample rate), in dB.
    #[serde(default = "default_snr")]
    pub snr_db: f64,
    /// Propagation delay from the transmitter, in milliseconds.
    #[serde(default)]
    pub delay_ms: f64,
    /// Carrier frequency offset (tuning error, Doppler), in Hz.
    #[serde(default)]
    pub carrier_offset_hz: f64,
    /// Modulation index of ticks and markers (1 = 100 %).
    #[serde(default = "default_modulation")]
    pub modulation: f64,
}

/// Parameters of `wwv_sim`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WwvSimParams {
    /// Sample rate in Hz.
    #[serde(default = "default_rate")]
    pub sample_rate: f64,
    /// UTC time of the first sample (RFC 3339, e.g. `2025-12-06T14:44:00Z`); now when absent.
    #[serde(default)]
    pub start: Option<String>,
    /// The simulated receiver's clock error: system time − UTC, in milliseconds. Time tags
    /// carry the system time, so a detector should measure this plus the propagation delay.
    #[serde(default)]
    pub clock_offset_ms: f64,
    /// Stations in the channel, each with its own SNR, delay and carrier offset.
    #[serde(default = "default_stations")]
    pub stations: Vec<SimStation>,
    /// Noise power (complex, over the whole sample rate) in dB relative to full scale.
    #[serde(default = "default_noise_db")]
    pub noise_db: f64,
    /// Channel (carrier) frequency in Hz, tagged as `freq`.
    #[serde(default = "default_frequency")]
    pub frequency_hz: f64,
    /// Rise/fall time of the tone gates in ms (raised cosine; the onset is its 50 % point).
    #[serde(default = "default_edge")]
    pub edge_ms: f64,
    /// Add the WWV/WWVH 500/600/440 Hz audio tones (approximate schedule).
    #[serde(default)]
    pub audio_tones: bool,
    /// End after this many items (default: endless).
    #[serde(default)]
    pub items: Option<u64>,
    /// Seed of the noise and carrier phases (same seed, same signal).
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_snr() -> f64 {
    10.0
}
fn default_modulation() -> f64 {
    1.0
}
fn default_rate() -> f64 {
    20_000.0
}
fn default_stations() -> Vec<SimStation> {
    vec![SimStation {
        station: Station::Wwv,
        snr_db: default_snr(),
        delay_ms: 0.0,
        carrier_offset_hz: 0.0,
        modulation: 1.0,
    }]
}
fn default_noise_db() -> f64 {
    -30.0
}
fn default_frequency() -> f64 {
    10e6
}
fn default_edge() -> f64 {
    0.2
}
fn default_seed() -> u64 {
    1
}

/// Parses an RFC 3339 UTC time to nanoseconds since the Unix epoch.
pub fn parse_utc_ns(text: &str) -> Result<i64, String> {
    let t = humantime::parse_rfc3339_weak(text).map_err(|e| e.to_string())?;
    let d = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "before 1970".to_string())?;
    i64::try_from(d.as_nanos()).map_err(|_| "too far in the future".to_string())
}

/// Generates the simulated channel.
pub struct WwvSim {
    fs: f64,
    /// Unix second of the first sample, and the first sample's offset into it (s).
    base: i64,
    frac: f64,
    system_ns: i64,
    synths: Vec<StationSynth>,
    sigma: f64,
    rng: SmallRng,
    n: u64,
    left: Option<u64>,
    freq: f64,
}

impl Block for WwvSim {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let out = &mut io.outputs[0];
        if self.n == 0 {
            // Rate before time, so that a consumer can place the time tag at once.
            out.add_tag(0, Tag::Rate(self.fs));
            out.add_tag(0, Tag::Freq(self.freq));
            out.add_tag(
                0,
                Tag::Time {
                    ns: self.system_ns,
                    source: TimeSource::Simulated,
                },
            );
        }
        let mut n = out.space().min(8192);
        if let Some(left) = self.left {
            n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        let o = out.slice_mut::<C32>();
        for x in &mut o[..n] {
            let since = self.n as f64 / self.fs;
            let t = self.frac + since;
            let mut acc = C64::new(0.0, 0.0);
            for s in &mut self.synths {
                acc += s.sample(self.base, t, since);
            }
            let nr: f64 = StandardNormal.sample(&mut self.rng);
            let ni: f64 = StandardNormal.sample(&mut self.rng);
            *x = C32::new(
                (acc.re + self.sigma * nr) as f32,
                (acc.im + self.sigma * ni) as f32,
            );
            self.n += 1;
        }
        out.produce(n);
        if let Some(left) = &mut self.left {
            *left -= n as u64;
            if *left == 0 {
                return Ok(Flow::Done);
            }
        }
        Ok(Flow::Continue)
    }

    fn expected_items(&self) -> Option<u64> {
        self.left
    }
}

/// Registration of `wwv_sim`.
pub struct WwvSimDef;

impl BlockDef for WwvSimDef {
    type Params = WwvSimParams;
    const NAME: &'static str = "wwv_sim";
    const SUMMARY: &'static str =
        "Simulates WWV, WWVH and CHU in complex baseband with a known receiver clock offset.";
    const DOC: &'static str = "Output `out` (c32), tagged on the first item with `time` (source \
        `simulated`: the simulated receiver's system time, i.e. UTC + `clock_offset_ms`), \
        `rate` and `freq`. Each station in `stations` sends its real second ticks, skipped \
        seconds, minute and hour markers (WWV 1000 Hz, WWVH 1200 Hz, both double-sideband AM; \
        CHU 1000 Hz pulses, upper sideband with carrier, with its FSK time code in seconds \
        31–39), delayed by `delay_ms` and shifted by `carrier_offset_hz`. `snr_db` is the power \
        of a station's tone (carrier excluded, both sidebands) over the power of the complex \
        Gaussian noise across the whole sample rate, whose level is `noise_db`. A tone's onset \
        is the 50 % point of its raised-cosine gate (`edge_ms`). A detector measuring onsets \
        against the system time sees `clock_offset_ms + delay_ms`. Runs as fast as downstream \
        takes it; put a `throttle` after it for real time. See docs/grape.md.";
    const EXAMPLE: &'static str = "sample_rate = 20000.0\nstart = \"2025-12-06T14:44:00Z\"\nclock_offset_ms = 2.5\nnoise_db = -30.0\nitems = 2400000\nstations = [\n  { station = \"WWV\", snr_db = 10.0, delay_ms = 4.1, carrier_offset_hz = 0.3 },\n  { station = \"WWVH\", snr_db = 3.0, delay_ms = 19.7 },\n]";

    fn signature(_: &WwvSimParams) -> Signature {
        Signature::new().output("out", ItemType::C32)
    }

    fn validate(p: &WwvSimParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        if !(p.sample_rate.is_finite() && p.sample_rate >= 4000.0) {
            e.push(ParamError::new(
                "sample_rate",
                "must be at least 4000 Hz (the 1500 Hz hour tone and the CHU FSK need it)",
            ));
        }
        if let Some(s) = &p.start {
            if let Err(msg) = parse_utc_ns(s) {
                e.push(ParamError::new(
                    "start",
                    format!("`{s}` is not an RFC 3339 UTC time ({msg})"),
                ));
            }
        }
        if p.stations.is_empty() {
            e.push(ParamError::new("stations", "name at least one station"));
        }
        for (k, s) in p.stations.iter().enumerate() {
            if !(s.modulation > 0.0 && s.modulation <= 1.0) {
                e.push(ParamError::new(
                    format!("stations[{k}].modulation"),
                    "must be in (0, 1]",
                ));
            }
            if !(s.snr_db.is_finite() && s.delay_ms.is_finite() && s.carrier_offset_hz.is_finite())
            {
                e.push(ParamError::new(
                    format!("stations[{k}]"),
                    "snr_db, delay_ms and carrier_offset_hz must be finite",
                ));
            }
        }
        if !(p.edge_ms >= 0.0 && p.edge_ms <= 2.0) {
            e.push(ParamError::new("edge_ms", "must be between 0 and 2 ms"));
        }
        if !(p.noise_db.is_finite() && p.clock_offset_ms.is_finite()) {
            e.push(ParamError::new(
                "noise_db",
                "noise_db and clock_offset_ms must be finite",
            ));
        }
        e
    }

    fn plan(p: &WwvSimParams, _: &PlanInputs) -> PlanInfo {
        PlanInfo {
            output_rates: Some(vec![Some(p.sample_rate)]),
            items: p.items,
            ..PlanInfo::default()
        }
    }

    fn build(p: &WwvSimParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let start_ns = match &p.start {
            Some(s) => {
                parse_utc_ns(s).map_err(|e| BlockError::config(format!("start `{s}`: {e}")))?
            }
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|_| BlockError::config("the system clock is before 1970"))
                .map(|d| d.as_nanos() as i64)?,
        };
        let noise = 10f64.powf(p.noise_db / 10.0);
        let mut rng = SmallRng::seed_from_u64(p.seed);
        let synths = p
            .stations
            .iter()
            .map(|s| {
                StationSynth::new(
                    StationSignal {
                        station: s.station,
                        tone_power: noise * 10f64.powf(s.snr_db / 10.0),
                        modulation: s.modulation,
                        freq_offset: s.carrier_offset_hz,
                        phase0: rng.random::<f64>() * std::f64::consts::TAU,
                        delay: s.delay_ms * 1e-3,
                    },
                    p.edge_ms * 1e-3,
                    p.audio_tones,
                )
            })
            .collect();
        Ok(Box::new(WwvSim {
            fs: p.sample_rate,
            base: start_ns.div_euclid(1_000_000_000),
            frac: start_ns.rem_euclid(1_000_000_000) as f64 * 1e-9,
            system_ns: start_ns + (p.clock_offset_ms * 1e6).round() as i64,
            synths,
            sigma: (noise / 2.0).sqrt(),
            rng,
            n: 0,
            left: p.items,
            freq: p.frequency_hz,
        }))
    }
}

register_block!(WwvSimDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    fn params(body: &str) -> WwvSimParams {
        toml::from_str(body).unwrap()
    }

    #[test]
    fn tags_system_time_rate_and_frequency() {
        let p = params(
            "start = \"2025-12-06T14:44:00Z\"\nclock_offset_ms = 2.5\nitems = 1000\nfrequency_hz = 5e6",
        );
        let mut h = Harness::of::<WwvSimDef>(p, &[]).unwrap();
        assert!(h.run());
        assert_eq!(h.output::<C32>(0).len(), 1000);
        let tags: Vec<_> = h.output_tags(0).iter().map(|t| t.tag.clone()).collect();
        assert!(tags.contains(&Tag::Time {
            ns: 1_765_032_240_002_500_000,
            source: TimeSource::Simulated
        }));
        assert!(tags.contains(&Tag::Rate(20_000.0)) && tags.contains(&Tag::Freq(5e6)));
    }

    #[test]
    fn noise_and_tone_powers_match_the_snr_definition() {
        // One WWV tick in second 1 (delay 3 ms), no noise shaping: measure the carrier-removed
        // power during the tick and the noise power between ticks.
        let p = params(
            "start = \"2025-12-06T14:44:01Z\"\nitems = 20000\nnoise_db = -30.0\nedge_ms = 0.0\nstations = [{ station = \"WWV\", snr_db = 10.0, delay_ms = 3.0 }]",
        );
        let mut h = Harness::of::<WwvSimDef>(p, &[]).unwrap();
        assert!(h.run());
        let x = h.output::<C32>(0);
        let mean = |r: std::ops::Range<usize>| {
            let n = r.len() as f64;
            let s = x[r.clone()].iter().fold(C64::new(0.0, 0.0), |a, v| {
                a + C64::new(f64::from(v.re), f64::from(v.im))
            });
            let m = s / n;
            x[r].iter()
                .map(|v| (C64::new(f64::from(v.re), f64::from(v.im)) - m).norm_sqr())
                .sum::<f64>()
                / n
        };
        let noise = mean(2000..20000);
        assert!((10.0 * noise.log10() + 30.0).abs() < 0.2, "noise {noise}");
        // samples 60..160 hold the 5 ms tick (3 ms delay = 60 samples)
        let tick = mean(60..160) - noise;
        let snr = 10.0 * (tick / noise).log10();
        assert!((snr - 10.0).abs() < 1.0, "snr {snr}");
        assert!(mean(0..60) < noise * 1.5, "no tick before the delay");
    }

    #[test]
    fn rejects_bad_start_and_empty_station_list() {
        let e = WwvSimDef::validate(&params("start = \"yesterday\"\nstations = []"));
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].param, "start");
        assert_eq!(e[1].param, "stations");
    }
}
