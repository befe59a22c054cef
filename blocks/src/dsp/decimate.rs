//! `decimate`: multistage FIR decimation of `c32` or `f32` (futuredsp filters), with time
//! tags mapped through the filter delay and gaps kept as gaps.

use std::collections::VecDeque;

use flow_framework::prelude::*;
use futuredsp::{DecimatingFirFilter, Filter};

use super::fir_chain::{Chain, Out};
use super::fir_design::design;

/// Parameters of `decimate`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecimateParams {
    /// Total decimation factor (give this or `output_rate`).
    #[serde(default)]
    pub factor: Option<u64>,
    /// Output rate in Hz; the input rate (rate tag or `input_rate`) must be a whole multiple.
    #[serde(default)]
    pub output_rate: Option<f64>,
    /// Input rate in Hz, for streams without a `rate` tag.
    #[serde(default)]
    pub input_rate: Option<f64>,
    /// Fraction of the output band (±output_rate/2) kept flat; the rest is transition.
    #[serde(default = "default_passband")]
    pub passband: f64,
    /// Stopband attenuation in dB (also sets the passband ripple, Kaiser design).
    #[serde(default = "default_attenuation")]
    pub attenuation_db: f64,
    /// Largest factor of one stage; the total is split into stages automatically.
    #[serde(default = "default_max_stage")]
    pub max_stage: u64,
    /// Place output samples on whole multiples of the output period in the stream's time
    /// (needs a `time` tag on the first item; e.g. 10 Hz samples at .0, .1, .2 s).
    #[serde(default = "default_align")]
    pub align: bool,
}

fn default_passband() -> f64 {
    0.8
}
fn default_attenuation() -> f64 {
    80.0
}
fn default_max_stage() -> u64 {
    20
}
fn default_align() -> bool {
    true
}

/// Largest total decimation factor.
const MAX_FACTOR: u64 = 1_000_000;
/// Largest filter of one stage.
const MAX_TAPS: usize = 200_000;

/// Where an input time tag anchors output times.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    index: u64,
    ns: i64,
    source: TimeSource,
}

/// The decimator.
pub struct Decimate<T> {
    p: DecimateParams,
    chain: Option<Chain<T>>,
    factor: u64,
    rate: Option<f64>,
    /// Chain input index = stream sample index + lead.
    lead: u64,
    /// Chain output index of the next output event.
    next_m: u64,
    events: Vec<Out<T>>,
    pending: VecDeque<(u64, T)>,
    /// Tags waiting for the first output with chain index ≥ the target.
    tags: Vec<(u64, Tag)>,
    times: Vec<(u64, Anchor)>,
    seg: Vec<T>,
}

impl<T> Decimate<T>
where
    T: Item + Copy + Default,
    DecimatingFirFilter<T, T, Vec<f32>>: Filter<T, T, f32>,
{
    fn new(p: &DecimateParams) -> Self {
        Decimate {
            p: p.clone(),
            chain: None,
            factor: p.factor.unwrap_or(0),
            rate: p.input_rate,
            lead: 0,
            next_m: 0,
            events: Vec::new(),
            pending: VecDeque::new(),
            tags: Vec::new(),
            times: Vec::new(),
            seg: Vec::new(),
        }
    }

    /// First output index whose centre is at or after stream sample `index`.
    fn target(&self, index: u64) -> u64 {
        (index + self.lead).div_ceil(self.factor.max(1))
    }

    /// Designs the chain from the first item's tags.
    fn setup(&mut self, first: &[ItemTag]) -> Result<(), BlockError> {
        for t in first {
            if let Tag::Rate(r) = t.tag {
                self.rate = Some(r);
            }
        }
        if self.factor == 0 {
            let (Some(out), Some(rate)) = (self.p.output_rate, self.rate) else {
                return Err(BlockError::config(
                    "decimate: the stream has no rate tag; set `input_rate` or `factor`",
                ));
            };
            let f = rate / out;
            if (f - f.round()).abs() > 1e-6 * f || f.round() < 1.0 {
                return Err(BlockError::config(format!(
                    "decimate: input rate {rate} Hz is not a whole multiple of output_rate {out} Hz"
                )));
            }
            self.factor = f.round() as u64;
        }
        let time = first.iter().find_map(|t| match t.tag {
            Tag::Time { ns, .. } => Some(ns),
            _ => None,
        });
        if let (true, Some(ns), Some(rate)) = (self.p.align, time, self.rate) {
            // Shift so that output m (centred on chain input m·D) falls on a whole multiple of
            // the output period: the lead is the phase of the first sample in that period.
            let period_ns = (self.factor as f64 * 1e9 / rate).round() as i64;
            if period_ns > 0 {
                let phase = ns.rem_euclid(period_ns) as f64 * 1e-9;
                self.lead = ((phase * rate).round() as u64) % self.factor;
            }
        }
        if self.factor > MAX_FACTOR {
            return Err(BlockError::config(format!(
                "decimate: factor {} is above {MAX_FACTOR}",
                self.factor
            )));
        }
        let designs = design(
            self.factor,
            self.p.passband,
            self.p.attenuation_db,
            self.p.max_stage,
            MAX_TAPS,
        )
        .map_err(|(d, n)| {
            BlockError::config(format!(
                "decimate: a stage of factor {d} would need {n} taps (more than {MAX_TAPS}); \
                 use a factor with smaller prime factors or a wider `passband`"
            ))
        })?;
        let mut chain = Chain::new(&designs);
        chain.gap(self.lead, true, &mut self.events);
        self.chain = Some(chain);
        if let Some(r) = self.rate {
            self.tags.push((0, Tag::Rate(r / self.factor as f64)));
        }
        Ok(())
    }

    /// Moves chain events into the pending queue with their output indices.
    fn collect(&mut self) {
        for e in self.events.drain(..) {
            match e {
                Out::Item(v) => {
                    self.pending.push_back((self.next_m, v));
                    self.next_m += 1;
                }
                Out::Gap(n) => {
                    self.tags.push((self.next_m + n, Tag::Gap(n)));
                    self.next_m += n;
                }
                Out::Skip(n) => self.next_m += n,
            }
        }
    }

    /// Writes pending outputs with their tags; returns true when none are left.
    fn write(&mut self, out: &mut StreamOutput) -> bool {
        let rate = self.rate.unwrap_or(0.0);
        let (factor, lead) = (self.factor as f64, self.lead as f64);
        let mut k = 0;
        while let Some(&(m, v)) = self.pending.front() {
            if k >= out.space() {
                break;
            }
            out.slice_mut::<T>()[k] = v;
            for (target, tag) in &self.tags {
                if *target <= m {
                    out.add_tag(k, tag.clone());
                }
            }
            self.tags.retain(|(t, _)| *t > m);
            if let Some(pos) = self.times.iter().rposition(|(t, _)| *t <= m) {
                let a = self.times[pos].1;
                if rate > 0.0 {
                    let input = m as f64 * factor - lead;
                    let ns = a.ns + ((input - a.index as f64) * 1e9 / rate).round() as i64;
                    out.add_tag(
                        k,
                        Tag::Time {
                            ns,
                            source: a.source,
                        },
                    );
                }
                self.times.drain(..=pos);
            }
            self.pending.pop_front();
            k += 1;
        }
        out.produce(k);
        self.pending.is_empty()
    }
}

impl<T> Block for Decimate<T>
where
    T: Item + Copy + Default,
    DecimatingFirFilter<T, T, Vec<f32>>: Filter<T, T, f32>,
{
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        if !self.write(&mut io.outputs[0]) {
            return Ok(Flow::Continue);
        }
        let input = &mut io.inputs[0];
        if self.chain.is_none() {
            let pos = input.position();
            let first: Vec<ItemTag> = input
                .tags()
                .iter()
                .filter(|t| t.position == pos)
                .cloned()
                .collect();
            self.setup(&first)?;
        }
        let n = input.len().min(1 << 16);
        let pos0 = input.position();
        let tags: Vec<ItemTag> = input
            .tags()
            .iter()
            .filter(|t| t.position < pos0 + n as u64)
            .cloned()
            .collect();
        let samples = input.slice::<T>();
        let mut done = 0usize;
        for t in tags {
            let at = (t.position - pos0) as usize;
            if at > done {
                self.seg.clear();
                self.seg.extend_from_slice(&samples[done..at]);
                if let Some(c) = self.chain.as_mut() {
                    c.push(&self.seg, &mut self.events);
                }
                done = at;
            }
            let index = input.sample_index(at);
            match t.tag {
                Tag::Gap(g) => {
                    if let Some(c) = self.chain.as_mut() {
                        c.gap(g, false, &mut self.events);
                    }
                }
                Tag::Time { ns, source } => {
                    let target = self.target(index);
                    self.times.push((target, Anchor { index, ns, source }));
                }
                Tag::Rate(r) => {
                    if self.rate != Some(r) {
                        self.rate = Some(r);
                        let target = self.target(index);
                        self.tags.push((target, Tag::Rate(r / self.factor as f64)));
                    }
                }
                Tag::Eos => {}
                other => {
                    let target = self.target(index);
                    self.tags.push((target, other));
                }
            }
        }
        if n > done {
            if let Some(c) = self.chain.as_mut() {
                c.push(&samples[done..n], &mut self.events);
            }
        }
        input.consume(n);
        self.collect();
        self.write(&mut io.outputs[0]);
        Ok(Flow::Continue)
    }

    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        if let Some(c) = self.chain.as_mut() {
            c.finish(&mut self.events);
        }
        self.collect();
        if !self.write(&mut io.outputs[0]) {
            tracing::warn!(
                lost = self.pending.len(),
                "decimate: no room for the last outputs at end of stream"
            );
        }
        Ok(())
    }
}

/// Registration of `decimate`.
pub struct DecimateDef;

impl BlockDef for DecimateDef {
    type Params = DecimateParams;
    const NAME: &'static str = "decimate";
    const SUMMARY: &'static str =
        "Multistage FIR decimation of c32 or f32 (e.g. 20 kHz → 10 Hz for GRAPE).";
    const DOC: &'static str = "Input `in` (c32 or f32), output `out` (same type). Low-pass \
        filters and keeps one sample in `factor` (or input rate / `output_rate`), in stages of at \
        most `max_stage` chosen automatically, each a linear-phase Kaiser-window FIR (futuredsp) \
        meeting `attenuation_db` with `passband` of the output band flat. Zero-delay convention: \
        output m is the filter centred on input sample m·factor (shifted by `align`), so its \
        `time` tag is that input sample's time; the filter delay is already removed. A `gap` of \
        g input samples becomes a gap of the outputs centred in it (about g/factor); outputs \
        near an edge are computed with zeros for the missing input. `rate` is rescaled, `freq` \
        and user tags land on the first output centred at or after the tagged input. See \
        docs/grape.md.";
    const EXAMPLE: &'static str = "output_rate = 10.0\npassband = 0.8\nattenuation_db = 80.0";

    fn signature(_: &DecimateParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .output("out", TypeSpec::Generic)
            .generic_types(&[ItemType::C32, ItemType::F32])
            .manual_tags()
    }

    fn validate(p: &DecimateParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        match (p.factor, p.output_rate) {
            (Some(_), Some(_)) | (None, None) => e.push(ParamError::new(
                "factor",
                "give exactly one of `factor` and `output_rate`",
            )),
            (Some(0), _) => e.push(ParamError::new("factor", "must be at least 1")),
            (Some(f), _) if f > MAX_FACTOR => e.push(ParamError::new(
                "factor",
                format!("must be at most {MAX_FACTOR}"),
            )),
            (_, Some(r)) if !(r.is_finite() && r > 0.0) => e.push(ParamError::new(
                "output_rate",
                "must be a positive rate in Hz",
            )),
            _ => {}
        }
        if !(p.passband > 0.0 && p.passband < 1.0) {
            e.push(ParamError::new(
                "passband",
                "must be between 0 and 1 (exclusive)",
            ));
        }
        if !(p.attenuation_db >= 20.0 && p.attenuation_db <= 150.0) {
            e.push(ParamError::new(
                "attenuation_db",
                "must be between 20 and 150 dB",
            ));
        }
        if p.max_stage < 2 {
            e.push(ParamError::new("max_stage", "must be at least 2"));
        }
        if let Some(r) = p.input_rate {
            if !(r.is_finite() && r > 0.0) {
                e.push(ParamError::new(
                    "input_rate",
                    "must be a positive rate in Hz",
                ));
            }
        }
        e
    }

    fn plan(p: &DecimateParams, inputs: &PlanInputs) -> PlanInfo {
        let rate = match (p.output_rate, p.factor) {
            (Some(out), _) => Some(out),
            (None, Some(f)) => inputs.first_rate().or(p.input_rate).map(|r| r / f as f64),
            (None, None) => None,
        };
        PlanInfo {
            output_rates: Some(vec![rate]),
            ..PlanInfo::default()
        }
    }

    fn build(p: &DecimateParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        match ctx.generic_type()? {
            ItemType::C32 => Ok(Box::new(Decimate::<C32>::new(p))),
            ItemType::F32 => Ok(Box::new(Decimate::<f32>::new(p))),
            t => Err(BlockError::config(format!(
                "decimate takes c32 or f32, not {t}"
            ))),
        }
    }
}

register_block!(DecimateDef);

#[cfg(test)]
#[path = "decimate_tests.rs"]
mod tests;
