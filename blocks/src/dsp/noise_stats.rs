//! Statistics of Welch-averaged noise spectra, for CFAR thresholds.
//!
//! A bin of one periodogram of complex white Gaussian noise is exponential. Averaging K
//! periodograms makes it Gamma-like with shape up to K, but overlapping segments are
//! correlated (in time) and windowed bins are correlated with their neighbours (in
//! frequency), so both the cell under test and the sum of training cells have *fewer*
//! degrees of freedom than a count suggests. This module computes the exact variance of an
//! average of cells from the window, the step between segments and the number of averages,
//! and returns the shape of the Gamma distribution with the same mean and variance
//! (moment matching, Satterthwaite's approximation).
//!
//! For circular complex Gaussian noise, Cov(|X|², |Y|²) = |E[X·Y*]|², and for bins `k` and
//! `k+m` of segments `τ` samples apart, |E[X·Y*]| / E|X|² = |Σₙ w[n]·w[n−τ]·e^{j2πmn/N}| / Σw².

use std::collections::HashMap;

/// Correlations of one window: |c(τ, m)|² for the lags and bin offsets asked for, cached.
pub struct Correlations {
    w: Vec<f64>,
    sum_sq: f64,
    cache: HashMap<(usize, i64), f64>,
}

impl Correlations {
    /// For the periodic window `w` (its length is the FFT size).
    pub fn new(w: Vec<f64>) -> Correlations {
        let sum_sq = w.iter().map(|x| x * x).sum();
        Correlations {
            w,
            sum_sq,
            cache: HashMap::new(),
        }
    }

    /// |c(τ, m)|²: power correlation of bins `m` apart in segments `tau` samples apart.
    pub fn power_corr(&mut self, tau: usize, m: i64) -> f64 {
        let n = self.w.len();
        if tau >= n || self.sum_sq == 0.0 {
            return 0.0;
        }
        if let Some(v) = self.cache.get(&(tau, m)) {
            return *v;
        }
        let (mut re, mut im) = (0.0, 0.0);
        let step = std::f64::consts::TAU * m as f64 / n as f64;
        for k in tau..n {
            let a = self.w[k] * self.w[k - tau];
            let ph = step * k as f64;
            re += a * ph.cos();
            im += a * ph.sin();
        }
        let v = (re * re + im * im) / (self.sum_sq * self.sum_sq);
        self.cache.insert((tau, m), v);
        v
    }

    /// Variance of the mean of the cells at bin `offsets` of a spectrum averaged over
    /// `averages` segments `step` samples apart, relative to a mean of 1.
    pub fn relative_variance(&mut self, offsets: &[i64], step: usize, averages: usize) -> f64 {
        let k = averages.max(1);
        let n = self.w.len();
        // Pair counts per bin difference.
        let mut diffs: HashMap<i64, f64> = HashMap::new();
        for a in offsets {
            for b in offsets {
                *diffs.entry(b - a).or_default() += 1.0;
            }
        }
        let mut total = 0.0;
        for lag in 0..k {
            let tau = lag.saturating_mul(step.max(1));
            if tau >= n {
                break;
            }
            // Ordered segment pairs with this lag: K on the diagonal, 2(K−lag) otherwise.
            let pairs = if lag == 0 {
                k as f64
            } else {
                2.0 * (k - lag) as f64
            };
            for (m, count) in &diffs {
                total += pairs * count * self.power_corr(tau, *m);
            }
        }
        let cells = offsets.len().max(1) as f64;
        total / (cells * cells * (k as f64) * (k as f64))
    }

    /// Gamma shape (degrees of freedom / 2) of the mean of the cells at `offsets`.
    pub fn shape(&mut self, offsets: &[i64], step: usize, averages: usize) -> f64 {
        let v = self.relative_variance(offsets, step, averages);
        if v > 0.0 {
            1.0 / v
        } else {
            f64::INFINITY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::window::Window;

    #[test]
    fn rectangular_window_and_no_overlap_give_independent_cells() {
        let mut c = Correlations::new(Window::Rect.taps(64));
        assert!((c.power_corr(0, 0) - 1.0).abs() < 1e-12);
        assert!(c.power_corr(0, 1) < 1e-20);
        // 8 averages, no overlap, 10 cells: shape 80.
        let offs: Vec<i64> = (0..10).collect();
        assert!((c.shape(&offs, 64, 8) - 80.0).abs() < 1e-9);
        assert!((c.shape(&[0], 64, 1) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn blackman_harris_at_half_overlap_matches_independent_computation() {
        // Reference values from numpy (direct sums over n, 1024-point periodic window).
        let mut c = Correlations::new(Window::BlackmanHarris.taps(1024));
        assert!((c.power_corr(0, 1) - 0.665_816_9).abs() < 1e-5);
        assert!((c.power_corr(0, 2) - 0.192_369_5).abs() < 1e-5);
        assert!((c.power_corr(512, 0) - 0.001_413_9).abs() < 1e-6);
        // The cell under test of an 8-average Welch spectrum: 7.98 degrees of freedom / 2.
        assert!((c.shape(&[0], 512, 8) - 7.980_254).abs() < 1e-3);
        // 2 × 16 training cells beyond 2 guard cells: shape 97.3, not 8·32 = 256.
        let offs: Vec<i64> = (-18..=18).filter(|o: &i64| o.abs() > 2).collect();
        assert!((c.shape(&offs, 512, 8) - 97.296).abs() < 0.01);
    }
}
