//! `fft`: windowed FFT of consecutive frames of a `c32` stream, as a stream of complex
//! frames or of magnitude-squared `f32` frames; frames realign after a gap.

use flow_framework::prelude::*;

use super::fft_engine::{power_shifted, FftEngine};
use super::window::Window;

/// What `fft` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FftOutput {
    /// The complex bins (`c32`).
    #[default]
    Complex,
    /// |X|² per bin (`f32`).
    Power,
}

/// Parameters of `fft`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FftParams {
    /// FFT size: samples per frame and bins per output frame.
    #[serde(default = "default_size")]
    pub size: usize,
    /// Window applied to every frame.
    #[serde(default)]
    pub window: Window,
    /// Put the lowest frequency first (as `numpy.fft.fftshift`) instead of DC first.
    #[serde(default = "default_shift")]
    pub shift: bool,
    /// `complex` (c32 bins) or `power` (|X|² as f32).
    #[serde(default)]
    pub output: FftOutput,
}

fn default_size() -> usize {
    1024
}
fn default_shift() -> bool {
    true
}

/// Transforms frames.
pub struct Fft {
    p: FftParams,
    engine: FftEngine,
    dropped: Counter,
}

impl Block for Fft {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.dropped = ctx.counter("samples_dropped");
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let n = self.p.size;
        let input = &mut io.inputs[0];
        let out = &mut io.outputs[0];
        let pos = input.position();
        let mut frames = (input.len() / n).min(out.space() / n);
        // Frames never straddle a gap: stop at it, and drop a partial frame before it.
        let gap = input
            .tags()
            .iter()
            .find(|t| t.position > pos && matches!(t.tag, Tag::Gap(g) if g > 0))
            .map(|t| (t.position - pos) as usize);
        if let Some(g) = gap {
            if g < n && g <= input.len() {
                input.consume(g);
                out.drop_items(g as u64);
                self.dropped.add(g as u64);
                return Ok(Flow::Continue);
            }
            frames = frames.min(g / n);
        }
        let x = input.slice::<C32>();
        match self.p.output {
            FftOutput::Complex => {
                let y = out.slice_mut::<C32>();
                for (xf, yf) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)).take(frames) {
                    self.engine.transform_into(xf, yf);
                    if self.p.shift {
                        yf.rotate_left(n - n / 2);
                    }
                }
            }
            FftOutput::Power => {
                let y = out.slice_mut::<f32>();
                for (xf, yf) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)).take(frames) {
                    let spec = self.engine.transform(xf);
                    power_shifted(spec, yf, self.p.shift);
                }
            }
        }
        input.consume(frames * n);
        out.produce(frames * n);
        Ok(Flow::Continue)
    }

    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        // A trailing partial frame cannot be transformed.
        let left = io.inputs[0].len();
        io.inputs[0].consume(left);
        self.dropped.add(left as u64);
        Ok(())
    }
}

/// Registration of `fft`.
pub struct FftDef;

impl BlockDef for FftDef {
    type Params = FftParams;
    const NAME: &'static str = "fft";
    const SUMMARY: &'static str = "Windowed FFT of consecutive frames: complex bins or |X|².";
    const DOC: &'static str = "Input `in` (c32), output `out` (c32 for `output = \"complex\"`, \
        f32 for `\"power\"`). Every `size` input samples become one frame of `size` bins: the \
        samples are multiplied by `window`, transformed (forward, unnormalised, as GNU Radio's \
        `fft_vcc`: a bin-centred tone of amplitude A reads A·Σw) and, with `shift`, rotated so the \
        lowest frequency comes first. Tags keep their positions (frame k starts at item k·size). \
        A frame never straddles a `gap`: the samples of the partial frame before it are dropped, \
        counted (`samples_dropped`) and added to the gap, so frames realign on the data after it. \
        A partial frame at the end of the stream is dropped and counted.";
    const EXAMPLE: &'static str =
        "size = 1024\nwindow = \"blackman_harris\"\nshift = true\noutput = \"power\"";

    fn signature(p: &FftParams) -> Signature {
        let ty = match p.output {
            FftOutput::Complex => ItemType::C32,
            FftOutput::Power => ItemType::F32,
        };
        Signature::new()
            .input("in", ItemType::C32)
            .min_items(p.size.max(1))
            .output("out", ty)
            .min_items(p.size.max(1))
    }

    fn validate(p: &FftParams) -> Vec<ParamError> {
        if !(2..=1 << 22).contains(&p.size) {
            vec![ParamError::new("size", "must be between 2 and 4194304")]
        } else {
            vec![]
        }
    }

    fn build(p: &FftParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(Fft {
            engine: FftEngine::new(p.size, p.window),
            dropped: Counter::default(),
            p: p.clone(),
        }))
    }
}

register_block!(FftDef);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::psd::tests::add_tone;
    use flow_framework::harness::Harness;

    fn params(body: &str) -> FftParams {
        toml::from_str(body).unwrap()
    }

    #[test]
    fn tones_land_in_their_shifted_bin_in_both_outputs() {
        let n = 64;
        let mut x = vec![C32::default(); 3 * n + 10];
        add_tone(&mut x, -5.0 / n as f64, 1.0);
        let mut h = Harness::of::<FftDef>(
            params("size = 64\nwindow = \"rect\"\noutput = \"power\""),
            &[ItemType::C32],
        )
        .unwrap();
        h.push_input(0, &x);
        h.run_to_end().unwrap();
        let p = h.output::<f32>(0);
        assert_eq!(p.len(), 3 * n);
        for frame in p.chunks(n) {
            // Bin −5 is index 32 − 5 after the shift; a unit tone reads N² = 4096.
            assert!((frame[27] - 4096.0).abs() < 0.1, "{}", frame[27]);
            assert!(frame.iter().enumerate().all(|(k, v)| k == 27 || *v < 1e-3));
        }
        assert_eq!(h.counter("samples_dropped"), 10);

        let mut h = Harness::of::<FftDef>(
            params("size = 64\nwindow = \"blackman_harris\"\nshift = false"),
            &[ItemType::C32],
        )
        .unwrap();
        h.push_input(0, &x[..n]);
        h.run_to_end().unwrap();
        let c = h.output::<C32>(0);
        let gain: f32 = Window::BlackmanHarris.taps_f32(n).iter().sum();
        assert!((c[n - 5].norm() - gain).abs() < 1e-3);
    }

    #[test]
    fn frames_realign_after_a_gap_and_the_gap_counts_the_dropped_samples() {
        let mut h = Harness::of::<FftDef>(params("size = 16"), &[ItemType::C32]).unwrap();
        h.push_input(0, &vec![C32::new(1.0, 0.0); 40]);
        h.push_tag(0, 0, Tag::Gap(100));
        h.push_input(0, &vec![C32::new(1.0, 0.0); 32]);
        h.run_to_end().unwrap();
        // 2 frames before the gap, 8 samples dropped, 2 frames after it.
        assert_eq!(h.output::<C32>(0).len(), 64);
        let gaps: u64 = h
            .output_tags(0)
            .iter()
            .filter(|t| t.position == 32)
            .map(|t| if let Tag::Gap(n) = t.tag { n } else { 0 })
            .sum();
        assert_eq!(gaps, 108);
        assert_eq!(h.counter("samples_dropped"), 8);
    }
}
