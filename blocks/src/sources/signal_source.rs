//! `signal_source`: a tone, Gaussian noise, a constant or a square wave, real or complex,
//! optionally with additive noise and a finite length.

use flow_framework::prelude::*;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// The waveform of `signal_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Waveform {
    /// `amplitude · e^{j2πft}` (complex) or `amplitude · cos(2πft)` (real).
    #[default]
    Tone,
    /// Gaussian noise with standard deviation `amplitude` (per component for complex).
    Noise,
    /// The constant `amplitude`.
    Constant,
    /// A square wave between `+amplitude` and `-amplitude` at `frequency`.
    Square,
}

/// Parameters of `signal_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalSourceParams {
    /// Output item type: `c32` or `f32`.
    #[serde(default = "default_item")]
    pub item: ItemType,
    /// Waveform.
    #[serde(default)]
    pub waveform: Waveform,
    /// Frequency in Hz (tone, square); may be negative for complex tones.
    #[serde(default = "default_frequency")]
    pub frequency: f64,
    /// Sample rate in Hz (tagged on the first item).
    #[serde(default = "default_rate")]
    pub sample_rate: f64,
    /// Amplitude (tone, constant, square) or standard deviation (noise).
    #[serde(default = "default_amplitude")]
    pub amplitude: f64,
    /// Standard deviation of Gaussian noise added to the waveform (0 = none).
    #[serde(default)]
    pub noise: f64,
    /// End the stream after this many items (default: endless).
    #[serde(default)]
    pub items: Option<u64>,
    /// Seed of the noise generator (same seed, same noise).
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_item() -> ItemType {
    ItemType::C32
}
fn default_frequency() -> f64 {
    1000.0
}
fn default_rate() -> f64 {
    48_000.0
}
fn default_amplitude() -> f64 {
    1.0
}
fn default_seed() -> u64 {
    1
}

/// Generates the waveform.
pub struct SignalSource {
    p: SignalSourceParams,
    /// Current phasor and per-sample rotation (tone), kept in f64 for long-run accuracy.
    phasor: (f64, f64),
    step: (f64, f64),
    n: u64,
    rng: SmallRng,
    left: Option<u64>,
}

impl SignalSource {
    fn next(&mut self) -> (f64, f64) {
        let a = self.p.amplitude;
        let (re, im) = match self.p.waveform {
            Waveform::Tone => {
                let (x, y) = self.phasor;
                let (c, s) = self.step;
                self.phasor = (x * c - y * s, x * s + y * c);
                if self.n % 1024 == 0 {
                    let norm = (self.phasor.0.hypot(self.phasor.1)).recip();
                    self.phasor = (self.phasor.0 * norm, self.phasor.1 * norm);
                }
                (a * x, a * y)
            }
            Waveform::Noise => (a * self.gauss(), a * self.gauss()),
            Waveform::Constant => (a, 0.0),
            Waveform::Square => {
                let cycles = self.n as f64 * self.p.frequency / self.p.sample_rate;
                (if cycles.fract() < 0.5 { a } else { -a }, 0.0)
            }
        };
        self.n += 1;
        if self.p.noise > 0.0 {
            (
                re + self.p.noise * self.gauss(),
                im + self.p.noise * self.gauss(),
            )
        } else {
            (re, im)
        }
    }

    fn gauss(&mut self) -> f64 {
        StandardNormal.sample(&mut self.rng)
    }
}

impl Block for SignalSource {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let out = &mut io.outputs[0];
        if self.n == 0 {
            out.add_tag(0, Tag::Rate(self.p.sample_rate));
        }
        let mut n = out.space();
        if let Some(left) = self.left {
            n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        match self.p.item {
            ItemType::C32 => {
                let o = out.slice_mut::<C32>();
                for x in &mut o[..n] {
                    let (re, im) = self.next();
                    *x = C32::new(re as f32, im as f32);
                }
            }
            _ => {
                let o = out.slice_mut::<f32>();
                for x in &mut o[..n] {
                    *x = self.next().0 as f32;
                }
            }
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

    fn set_param(&mut self, name: &str, value: &toml::Value) -> Result<(), BlockError> {
        let v = value
            .as_float()
            .ok_or_else(|| BlockError::config(format!("`{name}` must be a number")))?;
        match name {
            "frequency" => {
                self.p.frequency = v;
                self.step = rotation(v, self.p.sample_rate);
            }
            "amplitude" => self.p.amplitude = v,
            _ => return Err(BlockError::config(format!("`{name}` is not settable"))),
        }
        Ok(())
    }

    fn expected_items(&self) -> Option<u64> {
        self.p.items
    }
}

/// The per-sample phasor rotation `(cos w, sin w)` of a tone at `frequency`.
fn rotation(frequency: f64, sample_rate: f64) -> (f64, f64) {
    let w = std::f64::consts::TAU * frequency / sample_rate;
    (w.cos(), w.sin())
}

/// Registration of `signal_source`.
pub struct SignalSourceDef;

impl BlockDef for SignalSourceDef {
    type Params = SignalSourceParams;
    const NAME: &'static str = "signal_source";
    const SUMMARY: &'static str =
        "Generates a tone, noise, a constant or a square wave (c32 or f32).";
    const DOC: &'static str =
        "Output `out` (`item`: c32 or f32). Tags `rate` on the first item. A \
        complex tone is `amplitude·e^{j2πf·n/rate}`; a real one its real part. `noise` adds \
        Gaussian noise of that standard deviation (per component). With `items` the stream ends \
        after that many items (and `flow run` shows progress), otherwise it runs until stopped. \
        `frequency` and `amplitude` can be changed while running (control port); the tone \
        continues phase-continuously at the new frequency.";
    const SETTABLE: &'static [&'static str] = &["frequency", "amplitude"];
    const EXAMPLE: &'static str = "item = \"c32\"\nwaveform = \"tone\"\nfrequency = 1000.0\nsample_rate = 48000.0\namplitude = 0.5\nnoise = 0.01\nitems = 480000";

    fn signature(p: &SignalSourceParams) -> Signature {
        Signature::new().output("out", p.item)
    }

    fn validate(p: &SignalSourceParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        if !matches!(p.item, ItemType::C32 | ItemType::F32) {
            e.push(ParamError::new(
                "item",
                format!("must be c32 or f32, not {}", p.item),
            ));
        }
        if !(p.sample_rate.is_finite() && p.sample_rate > 0.0) {
            e.push(ParamError::new(
                "sample_rate",
                "must be a positive number of samples per second",
            ));
        }
        if p.noise < 0.0 || !p.noise.is_finite() {
            e.push(ParamError::new(
                "noise",
                "must be a non-negative standard deviation",
            ));
        }
        e
    }

    fn plan(p: &SignalSourceParams, _: &PlanInputs) -> PlanInfo {
        // Nominal rate: unthrottled, the source runs as fast as downstream takes items.
        PlanInfo {
            output_rates: Some(vec![Some(p.sample_rate)]),
            items: p.items,
            ..PlanInfo::default()
        }
    }

    fn build(p: &SignalSourceParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(SignalSource {
            p: p.clone(),
            phasor: (1.0, 0.0),
            step: rotation(p.frequency, p.sample_rate),
            n: 0,
            rng: SmallRng::seed_from_u64(p.seed),
            left: p.items,
        }))
    }
}

register_block!(SignalSourceDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    fn params(toml_body: &str) -> SignalSourceParams {
        toml::from_str(toml_body).unwrap()
    }

    #[test]
    fn complex_tone_has_the_requested_phase_progression() {
        let p = params("frequency = 1000.0\nsample_rate = 8000.0\namplitude = 2.0\nitems = 100000");
        let mut h = Harness::of::<SignalSourceDef>(p, &[]).unwrap();
        assert!(h.run());
        let out = h.output::<C32>(0);
        assert_eq!(out.len(), 100_000);
        for (n, x) in out.iter().enumerate() {
            let ph = std::f64::consts::TAU * 1000.0 * n as f64 / 8000.0;
            assert!(
                (f64::from(x.re) - 2.0 * ph.cos()).abs() < 1e-4,
                "sample {n}"
            );
            assert!(
                (f64::from(x.im) - 2.0 * ph.sin()).abs() < 1e-4,
                "sample {n}"
            );
        }
        assert_eq!(
            h.output_tags(0)[0],
            ItemTag {
                position: 0,
                tag: Tag::Rate(8000.0)
            }
        );
    }

    #[test]
    fn noise_has_the_requested_deviation() {
        let p = params("item = \"f32\"\nwaveform = \"noise\"\namplitude = 0.5\nitems = 200000");
        let mut h = Harness::of::<SignalSourceDef>(p, &[]).unwrap();
        assert!(h.run());
        let out = h.output::<f32>(0);
        let var = out.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / out.len() as f64;
        assert!((var.sqrt() - 0.5).abs() < 0.01, "std {}", var.sqrt());
    }

    #[test]
    fn frequency_and_amplitude_change_at_run_time_and_others_are_refused() {
        let p = params("frequency = 1000.0\nsample_rate = 8000.0\nitems = 200000");
        let mut h = Harness::of::<SignalSourceDef>(p, &[]).unwrap();
        assert_eq!(
            h.set_param("frequency", toml::Value::Float(2000.0)),
            Ok(toml::Value::Float(2000.0))
        );
        assert_eq!(
            h.set_param("amplitude", toml::Value::Integer(3)),
            Ok(toml::Value::Float(3.0))
        );
        let e = h
            .set_param("sample_rate", toml::Value::Float(1.0))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "parameter `sample_rate` of block `signal_source` cannot be changed while running \
             (settable: frequency, amplitude)"
        );
        let e = h
            .set_param("frequency", toml::Value::String("high".into()))
            .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "invalid value for parameter `frequency` of block `signal_source`: invalid type"
            ),
            "{e}"
        );
        let e = h
            .set_param("frequncy", toml::Value::Float(1.0))
            .unwrap_err();
        assert!(e.to_string().contains("did you mean `frequency`?"), "{e}");
        assert!(h.run());
        let out = h.output::<C32>(0);
        assert_eq!(out.len(), 200_000);
        // At the end: a quarter turn per sample (2 kHz at 8 kHz), amplitude 3.
        for w in out[190_000..].windows(2) {
            assert!((w[0].norm() - 3.0).abs() < 1e-3, "{:?}", w[0]);
            let rotated = w[0] * C32::new(0.0, 1.0);
            assert!((w[1] - rotated).norm() < 1e-3, "{w:?}");
        }
    }

    #[test]
    fn rejects_unsupported_item_type() {
        let e = SignalSourceDef::validate(&params("item = \"u8\""));
        assert_eq!(
            e,
            vec![ParamError::new("item", "must be c32 or f32, not u8")]
        );
    }
}
