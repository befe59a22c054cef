//! `tone_detect`: measures the receiver's clock offset (D_clock) once a minute from the
//! second ticks and minute markers of WWV, WWVH and CHU in a complex baseband stream.

use flow_framework::log::RateLimited;
use flow_framework::prelude::*;

use super::discriminate::{analyze, Detection, Plan, Settings};
use super::envelope::EnvelopeBank;
use super::minute::{Assembler, Window};
use super::onset_fit::Geometry;
use super::schedule::{Sidebands, Station, HOUR_TONE_HZ};

/// Propagation delays to subtract from D_clock, per station (ms).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Delays {
    /// WWV (Fort Collins) to this receiver.
    #[serde(default, rename = "WWV")]
    pub wwv: f64,
    /// WWVH (Kauai) to this receiver.
    #[serde(default, rename = "WWVH")]
    pub wwvh: f64,
    /// CHU (Ottawa) to this receiver.
    #[serde(default, rename = "CHU")]
    pub chu: f64,
}

/// Parameters of `tone_detect`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToneDetectParams {
    /// Stations to look for.
    #[serde(default = "default_stations")]
    pub stations: Vec<Station>,
    /// Sample rate in Hz for streams without a `rate` tag.
    #[serde(default)]
    pub sample_rate: Option<f64>,
    /// Fewest ticks a minute must yield for a measurement.
    #[serde(default = "default_min_ticks")]
    pub min_ticks: usize,
    /// Detection threshold: robust z-score of the folded tick against all other phases.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Propagation delays (ms) subtracted from D_clock; zero reports clock error + delay.
    #[serde(default)]
    pub propagation_ms: Delays,
}

fn default_stations() -> Vec<Station> {
    Station::ALL.to_vec()
}
fn default_min_ticks() -> usize {
    20
}
fn default_threshold() -> f64 {
    8.0
}

/// The running detector for one rate.
struct Engine {
    bank: EnvelopeBank,
    asm: Assembler,
    settings: Settings,
}

/// The detector.
pub struct ToneDetect {
    p: ToneDetectParams,
    plans: Vec<Plan>,
    freqs: Vec<f64>,
    engine: Option<Engine>,
    rate: Option<f64>,
    time: Option<(u64, i64)>,
    source: TimeSource,
    carrier: Option<f64>,
    done: Vec<Window>,
    minutes: Counter,
    detections: Counter,
    rejected: Counter,
    time_jumps: Counter,
    untimed: Counter,
    log: RateLimited,
}

impl ToneDetect {
    fn new(p: &ToneDetectParams) -> Self {
        let mut freqs: Vec<f64> = Vec::new();
        let mut chan = |f: f64| match freqs.iter().position(|x| *x == f) {
            Some(k) => k,
            None => {
                freqs.push(f);
                freqs.len() - 1
            }
        };
        let mut stations = p.stations.clone();
        stations.sort();
        stations.dedup();
        let plans = stations
            .iter()
            .map(|&station| {
                let f = station.tick_hz();
                let (tick, hour, cross) = match station.sidebands() {
                    Sidebands::Double => {
                        let other = if f == 1000.0 { 1200.0 } else { 1000.0 };
                        (
                            vec![chan(f), chan(-f)],
                            vec![chan(HOUR_TONE_HZ), chan(-HOUR_TONE_HZ)],
                            vec![chan(other), chan(-other)],
                        )
                    }
                    Sidebands::Upper => (vec![chan(f)], Vec::new(), Vec::new()),
                };
                Plan {
                    station,
                    tick,
                    hour,
                    cross,
                }
            })
            .collect();
        ToneDetect {
            p: p.clone(),
            plans,
            freqs,
            engine: None,
            rate: p.sample_rate,
            time: None,
            source: TimeSource::SystemClock,
            carrier: None,
            done: Vec::new(),
            minutes: Counter::default(),
            detections: Counter::default(),
            rejected: Counter::default(),
            time_jumps: Counter::default(),
            untimed: Counter::default(),
            log: RateLimited::new("tone_detect", std::time::Duration::from_secs(60)),
        }
    }

    fn build_engine(&mut self, fs: f64) {
        let l = (0.005 * fs).round().max(1.0) as usize;
        let r = (fs / 2000.0).round().max(1.0) as usize;
        let mut asm = Assembler::new(fs, l, r, self.freqs.len());
        if let Some((i, ns)) = self.time {
            asm.set_time(i, ns);
        }
        self.engine = Some(Engine {
            bank: EnvelopeBank::new(&self.freqs, fs, l, r),
            asm,
            settings: Settings {
                geometry: Geometry { dt: 1.0 / fs, l, r },
                threshold: self.p.threshold,
                min_ticks: self.p.min_ticks,
            },
        });
    }

    fn feed(&mut self, index: u64, x: &[C32]) {
        let Some(e) = self.engine.as_mut() else {
            self.untimed.add(x.len() as u64);
            return;
        };
        if !e.asm.has_time() {
            self.untimed.add(x.len() as u64);
        }
        let (bank, asm, done) = (&mut e.bank, &mut e.asm, &mut self.done);
        bank.push(index, x, &mut |j, p, ok| asm.push(j, p, ok, done));
    }

    fn delay_s(&self, s: Station) -> f64 {
        let d = &self.p.propagation_ms;
        1e-3 * match s {
            Station::Wwv => d.wwv,
            Station::Wwvh => d.wwvh,
            Station::Chu => d.chu,
        }
    }

    fn message(&self, d: &Detection) -> Message {
        Message::new("tone_detection")
            .with("station", d.station.name())
            .with("minute", Value::Time(d.minute_ns))
            .with("d_clock_ms", 1e3 * (d.d_clock_s - self.delay_s(d.station)))
            .with("uncertainty_ms", 1e3 * d.uncertainty_s)
            .with("ticks", d.ticks as u64)
            .with("snr_db", d.snr_db)
            .with("frequency_hz", self.carrier.map_or(Value::Null, Value::F64))
            .with("time_source", self.source.name())
    }

    fn on_tag(&mut self, position: u64, tag: &Tag, index: u64) {
        match *tag {
            Tag::Rate(r) if !(4000.0..=10e6).contains(&r) => {
                self.engine = None;
                self.rate = None;
                self.log.error(&format!(
                    "rate tag {r} Hz at item {position} is outside 4 kHz–10 MHz: samples ignored"
                ));
            }
            Tag::Rate(r) if self.rate != Some(r) || self.engine.is_none() => {
                self.rate = Some(r);
                self.build_engine(r);
            }
            Tag::Time { ns, source } => {
                self.time = Some((index, ns));
                self.source = source;
                if let Some(e) = self.engine.as_mut() {
                    if !e.asm.set_time(index, ns) {
                        self.time_jumps.inc();
                        self.log.warn(&format!(
                            "time jumps at item {position}: open minutes dropped"
                        ));
                    }
                }
            }
            Tag::Freq(f) => self.carrier = Some(f),
            _ => {}
        }
    }

    fn analyze_done(&mut self, out: &mut MessageOutput) {
        let Some(settings) = self.engine.as_ref().map(|e| e.settings) else {
            return;
        };
        for w in std::mem::take(&mut self.done) {
            self.minutes.inc();
            for plan in &self.plans {
                match analyze(&w, plan, &settings) {
                    Ok(d) => {
                        self.detections.inc();
                        out.post(self.message(&d));
                    }
                    Err(reason) => {
                        self.rejected.inc();
                        tracing::debug!(
                            station = plan.station.name(),
                            minute = w.minute,
                            ?reason,
                            "no measurement"
                        );
                    }
                }
            }
        }
    }
}

impl Block for ToneDetect {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.minutes = ctx.counter("minutes");
        self.detections = ctx.counter("detections");
        self.rejected = ctx.counter("rejected");
        self.time_jumps = ctx.counter("time_jumps");
        self.untimed = ctx.counter("untimed_samples");
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let input = &mut io.inputs[0];
        let n = input.len();
        let pos0 = input.position();
        let tags: Vec<ItemTag> = input.tags().to_vec();
        let samples = input.slice::<C32>();
        let mut done = 0usize;
        for t in tags.iter().filter(|t| t.position < pos0 + n as u64) {
            let at = (t.position - pos0) as usize;
            if at > done {
                let index = input.sample_index(done);
                self.feed(index, &samples[done..at]);
                done = at;
            }
            let index = input.sample_index(at);
            self.on_tag(pos0 + at as u64, &t.tag, index);
        }
        if self.engine.is_none() {
            if let Some(r) = self.rate {
                self.build_engine(r);
            } else {
                self.log
                    .warn("no rate tag and no `sample_rate`: samples ignored");
            }
        }
        if n > done {
            let index = input.sample_index(done);
            self.feed(index, &samples[done..n]);
        }
        input.consume(n);
        self.analyze_done(&mut io.msg_out[0]);
        Ok(Flow::Continue)
    }

    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        if let Some(e) = self.engine.as_mut() {
            e.asm.flush(&mut self.done);
        }
        self.analyze_done(&mut io.msg_out[0]);
        Ok(())
    }
}

/// Registration of `tone_detect`.
pub struct ToneDetectDef;

impl BlockDef for ToneDetectDef {
    type Params = ToneDetectParams;
    const NAME: &'static str = "tone_detect";
    const SUMMARY: &'static str =
        "Measures D_clock each minute from WWV/WWVH/CHU second ticks and minute markers.";
    const DOC: &'static str = "Input `in` (c32 complex baseband tuned to the station's carrier, \
        any rate ≥ 8 kHz, with `time` and `rate` tags). Message output `detections`: one \
        `tone_detection` per minute per station found, with `station`, `minute` (the UTC \
        minute), `d_clock_ms` (system time − UTC at the tick onsets, minus `propagation_ms`), \
        `uncertainty_ms` (jackknife standard error), `ticks` (seconds fitted), `snr_db` (tone \
        power over noise power in the channel bandwidth), `frequency_hz` (from the `freq` tag, \
        else null) and `time_source`. Each minute it folds 5 ms matched-filter envelopes at \
        1000/1200/1500 Hz over the seconds, finds the tick phase, aligns the seconds with each \
        station's schedule (tick frequency, pulse durations, skipped seconds, markers) to find \
        second 0 and tell the stations apart, then least-squares fits one sub-sample onset to \
        all the minute's ticks. Nothing is measured across a gap (a `gap` tag or a time jump). \
        Counters: minutes, detections, rejected, time_jumps, untimed_samples. See docs/grape.md.";
    const EXAMPLE: &'static str =
        "stations = [\"WWV\", \"WWVH\"]\nmin_ticks = 20\nthreshold = 8.0\npropagation_ms = { WWV = 4.1, WWVH = 19.7 }";

    fn signature(_: &ToneDetectParams) -> Signature {
        Signature::new()
            .input("in", ItemType::C32)
            .message_output("detections")
            .manual_tags()
    }

    fn validate(p: &ToneDetectParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        if p.stations.is_empty() {
            e.push(ParamError::new(
                "stations",
                "name at least one of WWV, WWVH, CHU",
            ));
        }
        if let Some(r) = p.sample_rate {
            if !(r.is_finite() && r >= 4000.0) {
                e.push(ParamError::new("sample_rate", "must be at least 4000 Hz"));
            }
        }
        if !(p.threshold.is_finite() && p.threshold > 0.0) {
            e.push(ParamError::new("threshold", "must be a positive z-score"));
        }
        if p.min_ticks > 58 {
            e.push(ParamError::new(
                "min_ticks",
                "a minute has at most 58 ticks",
            ));
        }
        e
    }

    fn build(p: &ToneDetectParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(ToneDetect::new(p)))
    }
}

register_block!(ToneDetectDef);

#[cfg(test)]
#[path = "tone_detect_tests.rs"]
mod tests;
