//! Welch averaging without the framework: windowed periodograms of segments accumulated
//! into one spectrum, scaled and FFT-shifted when a period closes.

use flow_framework::item::C32;

use super::fft_engine::{accumulate_power, shift_scaled, FftEngine};
use super::window::{Window, WindowStats};

/// How a spectrum is scaled.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// Power spectral density, power per Hz: white noise of power σ² reads σ²/rate.
    #[default]
    Density,
    /// Power spectrum: a bin-centred tone of amplitude A reads A².
    Spectrum,
}

/// An accumulating Welch estimate.
pub struct Welch {
    engine: FftEngine,
    acc: Vec<f32>,
    stats: WindowStats,
    count: u64,
}

impl Welch {
    /// For `size`-point segments with `window`.
    pub fn new(size: usize, window: Window) -> Welch {
        Welch {
            engine: FftEngine::new(size, window),
            acc: vec![0.0; size],
            stats: WindowStats::of(&window.taps(size)),
            count: 0,
        }
    }

    /// Adds the periodogram of `segment` (exactly `size` samples).
    pub fn add(&mut self, segment: &[C32]) {
        let x = self.engine.transform(segment);
        accumulate_power(x, &mut self.acc);
        self.count += 1;
    }

    /// Periodograms accumulated since the last reset.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Writes the average, scaled and shifted (lowest frequency first), into `out`, in dB if
    /// `db` (floored at −400 dB so an empty bin stays finite), then resets.
    pub fn finish(&mut self, out: &mut [f32], scaling: Scaling, rate: f64, db: bool) {
        let k = self.count.max(1) as f64;
        let denom = match scaling {
            Scaling::Density => k * rate * self.stats.sum_sq,
            Scaling::Spectrum => k * self.stats.sum * self.stats.sum,
        };
        shift_scaled(&self.acc, out, (1.0 / denom) as f32);
        if db {
            for v in out.iter_mut() {
                *v = 10.0 * v.max(1e-40).log10();
            }
        }
        self.reset();
    }

    /// Drops what was accumulated.
    pub fn reset(&mut self) {
        self.acc.iter_mut().for_each(|a| *a = 0.0);
        self.count = 0;
    }
}
