//! `psd`: Welch power spectral density of a `c32` stream, one `spectrum` message per
//! averaging period, tagged with time and frequency axis; segments that overlap a gap are
//! dropped and counted.

use std::sync::Arc;

use flow_framework::prelude::*;

use super::spectrum::Spectrum;
use super::stream_meta::StreamMeta;
use super::welch::{Scaling, Welch};
use super::window::Window;

/// Parameters of `psd`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PsdParams {
    /// FFT (segment) size in samples: the number of bins.
    #[serde(default = "default_fft_size")]
    pub fft_size: usize,
    /// Fraction of a segment shared with the next one, 0 ≤ overlap < 1 (0.5: 50 %).
    #[serde(default = "default_overlap")]
    pub overlap: f64,
    /// Segments per spectrum (default 16 unless `average_seconds` is given). A gap or a
    /// retuning ends a period early; its spectrum says how many segments it averaged.
    #[serde(default)]
    pub averages: Option<u64>,
    /// Alternatively, the length of an averaging period in seconds (rounded to whole steps).
    #[serde(default)]
    pub average_seconds: Option<f64>,
    /// Window applied to every segment.
    #[serde(default)]
    pub window: Window,
    /// Output in dB (10·log10) instead of linear power.
    #[serde(default)]
    pub db: bool,
    /// `density` (power per Hz) or `spectrum` (power per bin, tones read A²).
    #[serde(default)]
    pub scaling: Scaling,
    /// Sample rate in Hz when the stream carries no `rate` tag.
    #[serde(default)]
    pub sample_rate: Option<f64>,
    /// Centre frequency in Hz when the stream carries no `freq` tag (default 0).
    #[serde(default)]
    pub center_hz: Option<f64>,
}

fn default_fft_size() -> usize {
    1024
}
fn default_overlap() -> f64 {
    0.5
}
const DEFAULT_AVERAGES: u64 = 16;

impl PsdParams {
    fn step(&self) -> usize {
        ((self.fft_size as f64 * (1.0 - self.overlap)).round() as usize).max(1)
    }
}

/// The running PSD.
pub struct Psd {
    p: PsdParams,
    welch: Welch,
    meta: StreamMeta,
    step: usize,
    /// Segment slots in this period so far (used and dropped).
    slots: u64,
    /// Sample index of the first and of the last used segment of the period.
    first: Option<u64>,
    first_ns: i64,
    last: u64,
    tags_done: u64,
    out: Vec<f32>,
    dropped: Counter,
    spectra: Counter,
}

impl Psd {
    fn period_len(&self) -> u64 {
        match (self.p.averages, self.p.average_seconds, self.meta.rate) {
            (Some(k), _, _) => k.max(1),
            (None, Some(t), Some(rate)) => ((t * rate / self.step as f64).round() as u64).max(1),
            _ => DEFAULT_AVERAGES,
        }
    }

    /// Applies the not yet applied tags before position `end` (the window starts at the
    /// item with sample index `index`; no gap lies inside the range).
    fn apply_tags(&mut self, input: &StreamInput, end: u64, index: u64) {
        let pos = input.position();
        for t in input.tags() {
            if t.position >= end {
                break;
            }
            if t.position >= self.tags_done {
                self.meta.apply(&t.tag, index + (t.position - pos));
            }
        }
        self.tags_done = self.tags_done.max(end);
    }

    /// Emits the period if it used any segment, and starts a new one.
    fn flush(&mut self, out: &mut MessageOutput) {
        let Some(first) = self.first.take() else {
            self.welch.reset();
            self.slots = 0;
            return;
        };
        let rate = self.meta.rate.unwrap_or(1.0);
        let averages = self.welch.count();
        self.welch
            .finish(&mut self.out, self.p.scaling, rate, self.p.db);
        let n = self.p.fft_size;
        let bin_hz = rate / n as f64;
        let s = Spectrum {
            time_ns: self.first_ns,
            index: first,
            center_hz: self.meta.freq,
            bin_hz,
            start_hz: self.meta.freq - (n / 2) as f64 * bin_hz,
            averages,
            db: self.p.db,
            power: Arc::from(&self.out[..]),
            window: Some(self.p.window),
            step: Some(self.step as u64),
            span: Some(self.last + n as u64 - first),
            noise: None,
            threshold: None,
        };
        out.post(s.to_message());
        self.spectra.inc();
        self.slots = 0;
    }
}

impl Block for Psd {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.dropped = ctx.counter("segments_dropped");
        self.spectra = ctx.counter("spectra");
        Ok(())
    }

    /// `averages` or `average_seconds` (whichever the flowgraph uses): the period under way
    /// ends at the new length, or at its next segment when it is already that long.
    fn set_param(&mut self, name: &str, value: &toml::Value) -> Result<(), BlockError> {
        match (name, value) {
            ("averages", toml::Value::Integer(k)) => self.p.averages = Some(*k as u64),
            ("average_seconds", v) if v.as_float().is_some() => {
                self.p.average_seconds = v.as_float()
            }
            _ => {
                return Err(BlockError::config(format!(
                    "`{name}` is not settable at run time (settable: averages, average_seconds)"
                )))
            }
        }
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let input = &mut io.inputs[0];
        let out = &mut io.msg_out[0];
        let n = self.p.fft_size;
        while input.len() >= n {
            let pos = input.position();
            let index = input.sample_index(0);
            // A boundary on the first item closes the period before it takes effect; the
            // first boundary inside the segment ends it early.
            let mut at_start = false;
            let mut boundary = None;
            for t in input.tags() {
                if t.position >= pos + n as u64 {
                    break;
                }
                if is_boundary(&t.tag) {
                    if t.position == pos {
                        at_start = true;
                    } else {
                        boundary = Some(t.position);
                        break;
                    }
                }
            }
            if at_start && pos >= self.tags_done {
                self.flush(out);
            }
            if let Some(b) = boundary {
                // Segments starting before the boundary would straddle it: drop them.
                let skip = (b - pos) as usize;
                self.dropped.add(skip.div_ceil(self.step) as u64);
                self.apply_tags(input, pos + skip as u64, index);
                input.consume(skip);
                self.flush(out);
                continue;
            }
            self.apply_tags(input, pos + 1, index);
            self.welch.add(&input.slice::<C32>()[..n]);
            if self.first.is_none() {
                self.first = Some(index);
                self.first_ns = self.meta.time_of(index);
            }
            self.last = index;
            self.slots += 1;
            let step = self.step.min(input.len());
            self.apply_tags(input, pos + step as u64, index);
            input.consume(step);
            if self.slots >= self.period_len() {
                self.flush(out);
            }
        }
        Ok(Flow::Continue)
    }

    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        let input = &mut io.inputs[0];
        let left = input.len();
        input.consume(left);
        self.flush(&mut io.msg_out[0]);
        Ok(())
    }
}

/// Tags that end a period: lost samples and retuning.
fn is_boundary(tag: &Tag) -> bool {
    matches!(tag, Tag::Gap(n) if *n > 0) || matches!(tag, Tag::Rate(_) | Tag::Freq(_))
}

/// Registration of `psd`.
pub struct PsdDef;

impl BlockDef for PsdDef {
    type Params = PsdParams;
    const NAME: &'static str = "psd";
    const SUMMARY: &'static str =
        "Welch power spectral density: one `spectrum` message per period.";
    const DOC: &'static str = "Input `in` (c32); message output `out` (`spectrum` messages, \
        format in docs/spectrum.md). Segments of `fft_size` samples, `overlap` apart, are \
        windowed, transformed and their |X|² averaged; every `averages` segments (or \
        `average_seconds`) one spectrum is posted, FFT-shifted (lowest frequency first), \
        linear or in dB, scaled as a density (power/Hz) or a power spectrum. The spectrum \
        carries the time and sample index of its first sample (from the stream's `time` tag \
        and `rate`, else time since the start), `center_hz` from the `freq` tag (or \
        `center_hz`), the bin spacing and the frequency of bin 0. A segment that would \
        straddle a `gap` is dropped and counted (`segments_dropped`); a gap or a change of \
        rate or frequency ends the period early, so a spectrum never mixes data from both \
        sides. At the end of the stream a partial period is posted with the averages it has. \
        `averages` and `average_seconds` can be changed while running (`flow run --http`).";
    const EXAMPLE: &'static str =
        "fft_size = 1024\noverlap = 0.5\naverages = 16\nwindow = \"blackman_harris\"\ndb = false";
    const SETTABLE: &'static [&'static str] = &["averages", "average_seconds"];

    fn signature(p: &PsdParams) -> Signature {
        Signature::new()
            .input("in", ItemType::C32)
            .min_items(p.fft_size.max(1))
            .message_output("out")
    }

    fn validate(p: &PsdParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        if !(4..=1 << 22).contains(&p.fft_size) {
            e.push(ParamError::new("fft_size", "must be between 4 and 4194304"));
        }
        if !(0.0..1.0).contains(&p.overlap) {
            e.push(ParamError::new("overlap", "must be at least 0 and below 1"));
        }
        if p.averages == Some(0) {
            e.push(ParamError::new("averages", "must be at least 1"));
        }
        if p.averages.is_some() && p.average_seconds.is_some() {
            e.push(ParamError::new(
                "average_seconds",
                "give either `averages` or `average_seconds`, not both (while running, change \
                 the one the flowgraph sets)",
            ));
        }
        if p.average_seconds
            .is_some_and(|t| !(t > 0.0 && t.is_finite()))
        {
            e.push(ParamError::new(
                "average_seconds",
                "must be a positive duration",
            ));
        }
        if p.sample_rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            e.push(ParamError::new(
                "sample_rate",
                "must be a positive number of samples per second",
            ));
        }
        e
    }

    fn build(p: &PsdParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(Psd {
            welch: Welch::new(p.fft_size, p.window),
            meta: StreamMeta::new(p.sample_rate, p.center_hz),
            step: p.step(),
            slots: 0,
            first: None,
            first_ns: 0,
            last: 0,
            tags_done: 0,
            out: vec![0.0; p.fft_size],
            dropped: Counter::default(),
            spectra: Counter::default(),
            p: p.clone(),
        }))
    }
}

register_block!(PsdDef);

#[cfg(test)]
#[path = "psd_tests.rs"]
pub(crate) mod tests;
