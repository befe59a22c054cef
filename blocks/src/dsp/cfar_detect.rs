//! CFAR over one spectrum: the per-bin noise estimate of CA, GO-CA, SO-CA and OS-CFAR from
//! the training cells around each bin, and the threshold factor for the spectrum's noise
//! statistics (cached per window, size, step and number of averages).

use std::collections::HashMap;

use super::cfar_threshold::{threshold_factor, CfarMethod, NoiseShapes};
use super::noise_stats::Correlations;
use super::window::Window;

/// CFAR settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CfarConfig {
    /// Variant.
    pub method: CfarMethod,
    /// Guard cells on each side of the cell under test.
    pub guard: usize,
    /// Training cells on each side, beyond the guard cells.
    pub train: usize,
    /// OS: the order statistic (1 = smallest of the 2·train cells).
    pub rank: usize,
    /// Target false-alarm probability per tested bin.
    pub pfa: f64,
}

type Key = (Option<Window>, usize, Option<u64>, u64);

/// Noise estimates and thresholds for spectra, with cached threshold factors.
pub struct CfarEngine {
    cfg: CfarConfig,
    prefix: Vec<f64>,
    cells: Vec<f32>,
    alphas: HashMap<Key, f64>,
    corr: HashMap<(Window, usize), Correlations>,
}

impl CfarEngine {
    /// An engine for `cfg`.
    pub fn new(cfg: CfarConfig) -> CfarEngine {
        CfarEngine {
            cfg,
            prefix: Vec::new(),
            cells: Vec::with_capacity(2 * cfg.train),
            alphas: HashMap::new(),
            corr: HashMap::new(),
        }
    }

    /// Bins closer than this to either edge have no full set of training cells and are
    /// not tested.
    pub fn margin(&self) -> usize {
        self.cfg.guard + self.cfg.train
    }

    /// The distribution shapes for a spectrum of `n` bins averaged over `averages` segments
    /// `step` samples apart with `window`; without window and step the bins and segments
    /// are taken as independent.
    pub fn shapes(
        &mut self,
        window: Option<Window>,
        n: usize,
        step: Option<u64>,
        averages: u64,
    ) -> NoiseShapes {
        let (g, t) = (self.cfg.guard as i64, self.cfg.train as i64);
        let k = averages.max(1);
        let side: Vec<i64> = (g + 1..=g + t).collect();
        let both: Vec<i64> = side.iter().flat_map(|&o| [-o, o]).collect();
        let cells = 2 * self.cfg.train;
        let (mut os_cells, mut os_rank) = (cells, self.cfg.rank);
        let (cut, estimate) = match (window, step) {
            (Some(w), Some(step)) => {
                let c = self
                    .corr
                    .entry((w, n))
                    .or_insert_with(|| Correlations::new(w.taps(n)));
                let (step, k) = (step as usize, k as usize);
                let cut = c.shape(&[0], step, k);
                let est = match self.cfg.method {
                    CfarMethod::Ca => c.shape(&both, step, k),
                    CfarMethod::Go | CfarMethod::So => c.shape(&side, step, k),
                    CfarMethod::Os => {
                        // Correlated cells order like fewer independent ones: as many as
                        // the training sum's degrees of freedom allow, rank scaled alike.
                        let eff = (c.shape(&both, step, k) / cut).clamp(1.0, cells as f64);
                        os_cells = eff.round().max(1.0) as usize;
                        os_rank = ((self.cfg.rank as f64 * eff / cells as f64).round() as usize)
                            .clamp(1, os_cells);
                        cut
                    }
                };
                (cut, est)
            }
            _ => {
                let k = k as f64;
                let est = match self.cfg.method {
                    CfarMethod::Ca => k * both.len() as f64,
                    CfarMethod::Go | CfarMethod::So => k * side.len() as f64,
                    CfarMethod::Os => k,
                };
                (k, est)
            }
        };
        NoiseShapes {
            cut,
            estimate,
            cells: os_cells,
            rank: os_rank,
        }
    }

    /// The threshold factor α for such a spectrum (computed once, then cached).
    pub fn alpha(
        &mut self,
        window: Option<Window>,
        n: usize,
        step: Option<u64>,
        averages: u64,
    ) -> Result<f64, String> {
        let key = (window, n, step, averages);
        if let Some(a) = self.alphas.get(&key) {
            return Ok(*a);
        }
        let s = self.shapes(window, n, step, averages);
        let a = threshold_factor(self.cfg.method, &s, self.cfg.pfa)?;
        self.alphas.insert(key, a);
        Ok(a)
    }

    /// Writes the noise estimate of every bin of linear `power` into `noise`; bins within
    /// [`CfarEngine::margin`] of an edge get NaN.
    pub fn noise_estimate(&mut self, power: &[f32], noise: &mut [f32]) {
        let n = power.len();
        let (g, t) = (self.cfg.guard, self.cfg.train);
        let m = g + t;
        noise.iter_mut().for_each(|v| *v = f32::NAN);
        if n < 2 * m + 1 || t == 0 {
            return;
        }
        self.prefix.clear();
        self.prefix.reserve(n + 1);
        let mut s = 0.0f64;
        self.prefix.push(0.0);
        for p in power {
            s += f64::from(*p);
            self.prefix.push(s);
        }
        let pre = &self.prefix;
        let tf = t as f64;
        match self.cfg.method {
            CfarMethod::Ca | CfarMethod::Go | CfarMethod::So => {
                let method = self.cfg.method;
                for (i, out) in noise.iter_mut().enumerate().take(n - m).skip(m) {
                    let left = pre[i - g] - pre[i - m];
                    let right = pre[i + m + 1] - pre[i + g + 1];
                    let z = match method {
                        CfarMethod::Ca => (left + right) / (2.0 * tf),
                        CfarMethod::Go => left.max(right) / tf,
                        _ => left.min(right) / tf,
                    };
                    *out = z as f32;
                }
            }
            CfarMethod::Os => {
                let k = self.cfg.rank.clamp(1, 2 * t) - 1;
                for (i, out) in noise.iter_mut().enumerate().take(n - m).skip(m) {
                    self.cells.clear();
                    self.cells.extend_from_slice(&power[i - m..i - g]);
                    self.cells.extend_from_slice(&power[i + g + 1..=i + m]);
                    let (_, v, _) = self.cells.select_nth_unstable_by(k, f32::total_cmp);
                    *out = *v;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(method: CfarMethod) -> CfarEngine {
        CfarEngine::new(CfarConfig {
            method,
            guard: 1,
            train: 2,
            rank: 3,
            pfa: 1e-3,
        })
    }

    #[test]
    fn estimates_follow_the_definitions() {
        // bins:      0    1    2    3    4    5    6    7    8
        let p = [1.0, 2.0, 3.0, 4.0, 100.0, 5.0, 6.0, 8.0, 9.0];
        let mut out = [0.0f32; 9];
        // Bin 4: left cells 1, 2 (mean 2.5), right cells 6, 7 (mean 7).
        for (m, want) in [
            (CfarMethod::Ca, 4.75),
            (CfarMethod::Go, 7.0),
            (CfarMethod::So, 2.5),
            (CfarMethod::Os, 6.0), // 3rd smallest of 2, 3, 6, 8
        ] {
            let mut e = engine(m);
            e.noise_estimate(&p, &mut out);
            assert_eq!(out[4], want, "{m:?}");
            assert!(out[..3].iter().chain(&out[6..]).all(|v| v.is_nan()));
            assert!(!out[3].is_nan() && !out[5].is_nan());
        }
    }

    #[test]
    fn short_spectra_are_not_tested() {
        let mut out = [0.0f32; 4];
        engine(CfarMethod::Ca).noise_estimate(&[1.0; 4], &mut out);
        assert!(out.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn shapes_without_metadata_count_independent_cells() {
        let mut e = engine(CfarMethod::Go);
        let s = e.shapes(None, 64, None, 4);
        assert_eq!((s.cut, s.estimate, s.cells, s.rank), (4.0, 8.0, 4, 3));
        let a = e.alpha(None, 64, None, 1).unwrap();
        assert_eq!(e.alpha(None, 64, None, 1).unwrap(), a);
    }
}
