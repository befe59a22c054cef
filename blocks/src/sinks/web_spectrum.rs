//! `web_spectrum`: shows `spectrum` and `detection` messages in the control port's live web
//! view (`flow run --http`), as a spectrum, a waterfall and a detection list.

use std::time::{Duration, Instant};

use flow_framework::control::hub;
use flow_framework::log::RateLimited;
use flow_framework::prelude::*;

/// Parameters of `web_spectrum`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebSpectrumParams {
    /// Name shown in the page (several `web_spectrum` blocks can feed one page); default the
    /// block's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Most spectrum frames per second sent to the page; faster input is thinned.
    #[serde(default = "default_max_rate")]
    pub max_rate: f64,
    /// Most bins per frame: wider spectra are reduced by taking the maximum of groups of
    /// bins, so narrow peaks stay visible.
    #[serde(default = "default_max_bins")]
    pub max_bins: usize,
}

fn default_max_rate() -> f64 {
    25.0
}
fn default_max_bins() -> usize {
    4096
}

/// Publishes spectra and detections to the web view.
pub struct WebSpectrum {
    name: String,
    min_interval: Duration,
    max_bins: usize,
    last_frame: Option<Instant>,
    frames: Counter,
    skipped: Counter,
    detections: Counter,
    ignored: Counter,
    log: RateLimited,
}

impl WebSpectrum {
    fn spectrum(&mut self, m: &Message) {
        let now = Instant::now();
        if self
            .last_frame
            .is_some_and(|t| now.duration_since(t) < self.min_interval)
            || !hub::has_subscribers()
        {
            self.skipped.inc();
            return;
        }
        let Some(Value::F32s(power)) = m.get("power") else {
            self.ignored.inc();
            self.log
                .warn("a `spectrum` message without `power` (f32 values) was ignored");
            return;
        };
        let group = power.len().div_ceil(self.max_bins.max(1)).max(1);
        let reduced: Vec<serde_json::Value> = power
            .chunks(group)
            .map(|c| {
                let v = c.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                // Two decimals are plenty for a display and halve the text.
                serde_json::Number::from_f64((f64::from(v) * 100.0).round() / 100.0)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number)
            })
            .collect();
        let mut doc = m.to_json();
        doc["type"] = "spectrum".into();
        doc["name"] = self.name.clone().into();
        doc["power"] = serde_json::Value::Array(reduced);
        if let Some(bin) = m.get("bin_hz").and_then(Value::as_f64) {
            doc["bin_hz"] = (bin * group as f64).into();
        }
        hub::publish("spectrum", doc.to_string());
        self.last_frame = Some(now);
        self.frames.inc();
    }

    fn detection(&mut self, m: &Message) {
        let mut doc = m.to_json();
        doc["type"] = "detection".into();
        doc["name"] = self.name.clone().into();
        hub::publish("detection", doc.to_string());
        self.detections.inc();
    }
}

impl Block for WebSpectrum {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.frames = ctx.counter("frames");
        self.skipped = ctx.counter("skipped");
        self.detections = ctx.counter("detections");
        self.ignored = ctx.counter("ignored");
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        while let Some(m) = io.msg_in[0].recv() {
            match &*m.kind {
                "spectrum" => self.spectrum(&m),
                "detection" => self.detection(&m),
                other => {
                    self.ignored.inc();
                    self.log.warn(&format!(
                        "a `{other}` message was ignored (expected `spectrum` or `detection`)"
                    ));
                }
            }
        }
        Ok(Flow::Continue)
    }

    fn set_param(&mut self, name: &str, value: &toml::Value) -> Result<(), BlockError> {
        match (name, value.as_float()) {
            ("max_rate", Some(r)) => {
                self.min_interval = Duration::from_secs_f64(1.0 / r);
                Ok(())
            }
            _ => Err(BlockError::config(format!("`{name}` is not settable"))),
        }
    }
}

/// Registration of `web_spectrum`.
pub struct WebSpectrumDef;

impl BlockDef for WebSpectrumDef {
    type Params = WebSpectrumParams;
    const NAME: &'static str = "web_spectrum";
    const SUMMARY: &'static str = "Shows spectra and detections in the live web view (--http).";
    const DOC: &'static str = "Message input `in`: `spectrum` messages (fields `time_ns`, \
        `center_hz`, `bin_hz`, `start_hz`, `db`, `power`, ... as `psd` posts them) and \
        `detection` messages (`time_ns`, `freq_hz`, `power_db`, `snr_db`, `bandwidth_hz`, \
        `bins`, ...). Sends them to the pages open on the control port (`flow run --http`), \
        which draw a spectrum, a waterfall and a detection list. Never blocks and never \
        queues: at most `max_rate` frames per second are sent (others are counted as \
        `skipped`), nothing is built while no page is open, and a page that cannot keep up \
        skips frames. Spectra wider than `max_bins` are reduced by the maximum of groups of \
        bins. Other message kinds are counted as `ignored`. Counters: `frames`, `skipped`, \
        `detections`, `ignored`.";
    const EXAMPLE: &'static str = "name = \"HF\"\nmax_rate = 25.0\nmax_bins = 4096";
    const SETTABLE: &'static [&'static str] = &["max_rate"];

    fn signature(_: &WebSpectrumParams) -> Signature {
        Signature::new().message_input("in")
    }

    fn validate(p: &WebSpectrumParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        if !(p.max_rate.is_finite() && p.max_rate > 0.0) {
            e.push(ParamError::new(
                "max_rate",
                "must be a positive number of frames per second",
            ));
        }
        if p.max_bins < 16 {
            e.push(ParamError::new("max_bins", "must be at least 16"));
        }
        e
    }

    fn build(p: &WebSpectrumParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let name = p.name.clone().unwrap_or_else(|| ctx.name.clone());
        Ok(Box::new(WebSpectrum {
            log: RateLimited::new(format!("web_spectrum `{name}`"), Duration::from_secs(10)),
            name,
            min_interval: Duration::from_secs_f64(1.0 / p.max_rate),
            max_bins: p.max_bins,
            last_frame: None,
            frames: Counter::default(),
            skipped: Counter::default(),
            detections: Counter::default(),
            ignored: Counter::default(),
        }))
    }
}

register_block!(WebSpectrumDef);

#[cfg(test)]
#[path = "web_spectrum_tests/mod.rs"]
mod tests;
