//! Window functions for spectral analysis (built on `futuredsp::windows`), with the figures
//! of merit that PSD scaling and CFAR statistics need: coherent gain, power sum, ENBW.

use serde::{Deserialize, Serialize};

/// A window shape, by its TOML name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// No window (all ones): narrowest main lobe, −13 dB sidelobes.
    Rect,
    /// Hann (raised cosine): −31 dB sidelobes.
    Hann,
    /// Hamming: −43 dB sidelobes.
    Hamming,
    /// Blackman (0.42, 0.5, 0.08): −58 dB sidelobes.
    Blackman,
    /// 4-term Blackman-Harris (0.35875, 0.48829, 0.14128, 0.01168): −92 dB sidelobes.
    #[default]
    BlackmanHarris,
}

/// Coefficients of the 4-term Blackman-Harris window (Harris 1978, minimum 4-term).
const BLACKMAN_HARRIS: [f64; 4] = [0.35875, 0.48829, 0.14128, 0.01168];

impl Window {
    /// The TOML name.
    pub fn name(self) -> &'static str {
        match self {
            Window::Rect => "rect",
            Window::Hann => "hann",
            Window::Hamming => "hamming",
            Window::Blackman => "blackman",
            Window::BlackmanHarris => "blackman_harris",
        }
    }

    /// The window of a name (as written in spectrum messages).
    pub fn from_name(name: &str) -> Option<Window> {
        [
            Window::Rect,
            Window::Hann,
            Window::Hamming,
            Window::Blackman,
            Window::BlackmanHarris,
        ]
        .into_iter()
        .find(|w| w.name() == name)
    }

    /// The periodic ("DFT-even") window of `len` taps, as spectral analysis wants it: the
    /// symmetric window of `len + 1` taps without its last one. (futuredsp 0.0.7's own
    /// `periodic = true` panics on an off-by-one, so it is built here from the symmetric
    /// form.) An empty window for `len == 0`.
    pub fn taps(self, len: usize) -> Vec<f64> {
        if len == 0 {
            return Vec::new();
        }
        let n = len + 1;
        let mut w = match self {
            Window::Rect => futuredsp::windows::rect(n),
            Window::Hann => futuredsp::windows::hann(n, false),
            Window::Hamming => futuredsp::windows::hamming(n, false),
            Window::Blackman => futuredsp::windows::blackman(n, false),
            Window::BlackmanHarris => futuredsp::windows::gen_cos(n, &BLACKMAN_HARRIS, false),
        };
        w.truncate(len);
        w
    }

    /// The taps as `f32`, for the processing loops.
    pub fn taps_f32(self, len: usize) -> Vec<f32> {
        self.taps(len).into_iter().map(|x| x as f32).collect()
    }
}

/// Figures of merit of a window of given taps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowStats {
    /// Σ w[n]: the gain of a bin-centred tone (amplitude A gives |X| = A·Σw).
    pub sum: f64,
    /// Σ w[n]²: the gain of white noise (variance σ² gives E|X|² = σ²·Σw²).
    pub sum_sq: f64,
    /// Equivalent noise bandwidth in bins: N·Σw² / (Σw)².
    pub enbw_bins: f64,
}

impl WindowStats {
    /// The figures of `taps`.
    pub fn of(taps: &[f64]) -> WindowStats {
        let sum: f64 = taps.iter().sum();
        let sum_sq: f64 = taps.iter().map(|w| w * w).sum();
        let enbw_bins = if sum == 0.0 {
            f64::NAN
        } else {
            taps.len() as f64 * sum_sq / (sum * sum)
        };
        WindowStats {
            sum,
            sum_sq,
            enbw_bins,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn blackman_harris_matches_the_definition() {
        // scipy.signal.windows.blackmanharris(8, sym=False)
        let want = [
            6.0e-05, 0.02173583, 0.21747, 0.69576416, 1.0, 0.69576416, 0.21747, 0.02173583,
        ];
        let got = Window::BlackmanHarris.taps(8);
        for (g, w) in got.iter().zip(want) {
            assert!(close(*g, w, 1e-6), "{got:?}");
        }
    }

    #[test]
    fn hann_is_periodic_and_enbw_is_textbook() {
        let w = Window::Hann.taps(1024);
        assert!(close(w[0], 0.0, 1e-12));
        assert!(close(w[512], 1.0, 1e-6));
        // Periodic: w[k] == w[N-k].
        assert!(close(w[1], w[1023], 1e-6));
        let s = WindowStats::of(&w);
        assert!(close(s.enbw_bins, 1.5, 1e-3), "{}", s.enbw_bins);
        let bh = WindowStats::of(&Window::BlackmanHarris.taps(1024));
        assert!(close(bh.enbw_bins, 2.0044, 1e-3), "{}", bh.enbw_bins);
        assert!(close(bh.sum / 1024.0, 0.35875, 1e-4));
        let r = WindowStats::of(&Window::Rect.taps(16));
        assert_eq!((r.sum, r.sum_sq, r.enbw_bins), (16.0, 16.0, 1.0));
    }

    #[test]
    fn names_round_trip() {
        for w in [
            Window::Rect,
            Window::Hann,
            Window::Hamming,
            Window::Blackman,
            Window::BlackmanHarris,
        ] {
            assert_eq!(Window::from_name(w.name()), Some(w));
        }
        assert_eq!(Window::from_name("kaiser"), None);
        assert!(Window::Hann.taps(0).is_empty());
    }
}
