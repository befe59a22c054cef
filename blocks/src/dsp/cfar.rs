//! `cfar`: constant-false-alarm-rate detection thresholds over `spectrum` messages (CA,
//! GO-CA, SO-CA, OS), passed on as the same spectrum with `noise` and `threshold` added.

use std::sync::Arc;
use std::time::Duration;

use flow_framework::log::RateLimited;
use flow_framework::prelude::*;

use super::cfar_detect::{CfarConfig, CfarEngine};
use super::cfar_threshold::CfarMethod;
use super::spectrum::Spectrum;

/// Parameters of `cfar`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CfarParams {
    /// `ca` (cell averaging), `go` (greatest-of), `so` (smallest-of) or `os` (ordered statistic).
    #[serde(default)]
    pub method: CfarMethod,
    /// Guard cells on each side of the cell under test (keep the window's main lobe out of
    /// the training cells: 2 or more for Blackman-Harris).
    #[serde(default = "default_guard")]
    pub guard: usize,
    /// Training cells on each side, beyond the guard cells.
    #[serde(default = "default_train")]
    pub train: usize,
    /// OS only: which order statistic of the 2·`train` cells estimates the noise
    /// (1 = smallest); default three quarters of them.
    #[serde(default)]
    pub rank: Option<usize>,
    /// Target probability that a noise-only bin exceeds the threshold.
    #[serde(default = "default_pfa")]
    pub pfa: f64,
}

fn default_guard() -> usize {
    2
}
fn default_train() -> usize {
    16
}
fn default_pfa() -> f64 {
    1e-6
}

impl CfarParams {
    fn config(&self) -> CfarConfig {
        CfarConfig {
            method: self.method,
            guard: self.guard,
            train: self.train,
            rank: self
                .rank
                .unwrap_or(((3 * 2 * self.train) as f64 / 4.0).round() as usize)
                .max(1),
            pfa: self.pfa,
        }
    }
}

/// Adds CFAR thresholds to spectra.
pub struct Cfar {
    p: CfarParams,
    engine: CfarEngine,
    lin: Vec<f32>,
    noise: Vec<f32>,
    thr: Vec<f32>,
    spectra: Counter,
    hits: Counter,
    bad: Counter,
    log: RateLimited,
}

impl Cfar {
    fn process(&mut self, m: &Message) -> Result<Message, String> {
        let mut s = Spectrum::from_message(m)?;
        let n = s.power.len();
        let alpha = self.engine.alpha(s.window, n, s.step, s.averages)? as f32;
        self.lin.clear();
        if s.db {
            self.lin
                .extend(s.power.iter().map(|v| 10f32.powf(v / 10.0)));
        } else {
            self.lin.extend_from_slice(&s.power);
        }
        self.noise.resize(n, 0.0);
        self.engine.noise_estimate(&self.lin, &mut self.noise);
        let mut hits = 0u64;
        self.thr.clear();
        for (p, z) in self.lin.iter().zip(&self.noise) {
            let t = if z.is_nan() { f32::INFINITY } else { alpha * z };
            hits += u64::from(*p > t);
            self.thr.push(t);
        }
        let mut threshold = std::mem::take(&mut self.thr);
        let mut noise = std::mem::take(&mut self.noise);
        if s.db {
            for v in noise.iter_mut().chain(threshold.iter_mut()) {
                *v = 10.0 * v.log10();
            }
        }
        s.noise = Some(Arc::from(&noise[..]));
        s.threshold = Some(Arc::from(&threshold[..]));
        self.noise = noise;
        self.thr = threshold;
        self.hits.add(hits);
        Ok(s.to_message())
    }
}

impl Block for Cfar {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.spectra = ctx.counter("spectra");
        self.hits = ctx.counter("hits");
        self.bad = ctx.counter("bad_messages");
        Ok(())
    }

    /// `pfa` changes while running (from the spectrum after the change on).
    fn set_param(&mut self, name: &str, value: &toml::Value) -> Result<(), BlockError> {
        match (name, value.as_float()) {
            ("pfa", Some(pfa)) => {
                self.p.pfa = pfa;
                self.engine = CfarEngine::new(self.p.config());
                Ok(())
            }
            _ => Err(BlockError::config(format!(
                "`{name}` is not settable at run time (settable: pfa)"
            ))),
        }
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        while let Some(m) = io.msg_in[0].recv() {
            match self.process(&m) {
                Ok(out) => {
                    self.spectra.inc();
                    io.msg_out[0].post(out);
                }
                Err(e) => {
                    self.bad.inc();
                    self.log.warn(&e);
                }
            }
        }
        Ok(Flow::Continue)
    }
}

/// Registration of `cfar`.
pub struct CfarDef;

impl BlockDef for CfarDef {
    type Params = CfarParams;
    const NAME: &'static str = "cfar";
    const SUMMARY: &'static str =
        "CFAR thresholds (CA, GO, SO, OS) for spectra at a target false-alarm probability.";
    const DOC: &'static str = "Message input `in` (`spectrum`), message output `out`: the same \
        spectrum with `noise` (the estimate from the training cells) and `threshold` (α × noise) \
        per bin, in the spectrum's units; `+inf` threshold (`null` in JSON) for the \
        `guard + train` bins at each edge, which are not tested. α is computed from `pfa`, \
        `guard`, `train` and the spectrum's noise statistics: the number of averages, and, when \
        the spectrum names its `window` and `step` (as `psd` does), the correlation between \
        overlapping segments and neighbouring bins (docs/spectrum.md explains the model and \
        what Pfa means). Counters: `spectra`, `hits` (bins over threshold), `bad_messages` \
        (not a spectrum; logged, skipped). `pfa` can be changed while running.";
    const SETTABLE: &'static [&'static str] = &["pfa"];
    const EXAMPLE: &'static str = "method = \"ca\"\nguard = 2\ntrain = 16\npfa = 1e-6";

    fn signature(_: &CfarParams) -> Signature {
        Signature::new().message_input("in").message_output("out")
    }

    fn validate(p: &CfarParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        if p.train == 0 {
            e.push(ParamError::new("train", "must be at least 1"));
        }
        if !(p.pfa > 0.0 && p.pfa < 1.0) {
            e.push(ParamError::new(
                "pfa",
                "must be between 0 and 1 (exclusive)",
            ));
        }
        if let Some(r) = p.rank {
            if !(1..=2 * p.train).contains(&r) {
                e.push(ParamError::new(
                    "rank",
                    format!("must be between 1 and 2·train = {}", 2 * p.train),
                ));
            }
            if p.method != CfarMethod::Os {
                e.push(ParamError::new("rank", "applies to method = \"os\" only"));
            }
        }
        e
    }

    fn build(p: &CfarParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(Cfar {
            p: p.clone(),
            engine: CfarEngine::new(p.config()),
            lin: Vec::new(),
            noise: Vec::new(),
            thr: Vec::new(),
            spectra: Counter::default(),
            hits: Counter::default(),
            bad: Counter::default(),
            log: RateLimited::new(
                format!("block `{}`: bad spectrum message", ctx.name),
                Duration::from_secs(10),
            ),
        }))
    }
}

register_block!(CfarDef);

#[cfg(test)]
#[path = "cfar_tests.rs"]
mod tests;
