//! The onset model and its least-squares fit: the expected envelope power of a tone burst
//! as seen through [`super::envelope`], and the onset time that best explains the data.
//!
//! A burst with onset `τ` and duration `D` (seconds, 50 % points of its gate) seen by a
//! boxcar of `L` samples at hypothesised onset `h` has amplitude
//! `a(h) = |[h − Δ/2, h + LΔ − Δ/2) ∩ [τ, τ + D)| / (LΔ)` (`Δ` = 1/fs; each sample stands
//! for the interval around it), and power `a²` (times the tone power). A block's model is
//! the mean of `a²` over its `R` hypothesised onsets. The fit minimises
//! `Σ (P − A·M(τ) − B)²` over the amplitude `A`, the noise floor `B` and `τ`.

/// The boxcar's geometry.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    /// Sample period, seconds.
    pub dt: f64,
    /// Boxcar length in samples.
    pub l: usize,
    /// Samples per envelope block.
    pub r: usize,
}

impl Geometry {
    /// Boxcar duration in seconds.
    pub fn t(&self) -> f64 {
        self.l as f64 * self.dt
    }

    /// Model amplitude (0..1) at hypothesised onset `h` for a burst `[tau, tau + d)`.
    pub fn amplitude(&self, h: f64, tau: f64, d: f64) -> f64 {
        let lo = (h - 0.5 * self.dt).max(tau);
        let hi = (h + self.t() - 0.5 * self.dt).min(tau + d);
        ((hi - lo) / self.t()).max(0.0)
    }

    /// Model power of a block whose first hypothesised onset is `h0`.
    pub fn block(&self, h0: f64, tau: f64, d: f64) -> f64 {
        let mut s = 0.0;
        for k in 0..self.r {
            let a = self.amplitude(h0 + k as f64 * self.dt, tau, d);
            s += a * a;
        }
        s / self.r as f64
    }
}

/// Envelope samples to fit: first hypothesised onset of each block (relative to its slot's
/// nominal second, so all ticks share one `τ`) and its power.
#[derive(Clone, Debug, Default)]
pub struct Points {
    /// Hypothesised onset of each block's first sample, relative to its second.
    pub h: Vec<f64>,
    /// Block power.
    pub p: Vec<f64>,
}

/// Result of a fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// Onset, seconds relative to the second.
    pub tau: f64,
    /// Amplitude: tone power in envelope units.
    pub a: f64,
    /// Floor: noise power in envelope units.
    pub b: f64,
    /// Residual sum of squares.
    pub rss: f64,
}

/// Best `A`, `B` for a fixed `τ`, and the residual.
pub fn solve(g: &Geometry, pts: &Points, tau: f64, d: f64) -> Fit {
    let n = pts.h.len() as f64;
    let (mut sm, mut smm, mut sp, mut smp, mut spp) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (h, p) in pts.h.iter().zip(&pts.p) {
        let m = g.block(*h, tau, d);
        sm += m;
        smm += m * m;
        sp += p;
        smp += m * p;
        spp += p * p;
    }
    let det = n * smm - sm * sm;
    if n < 2.0 || det.abs() < 1e-300 {
        return Fit {
            tau,
            a: 0.0,
            b: if n > 0.0 { sp / n } else { 0.0 },
            rss: f64::INFINITY,
        };
    }
    let a = (n * smp - sm * sp) / det;
    let b = (sp - a * sm) / n;
    let rss = spp - 2.0 * a * smp - 2.0 * b * sp + a * a * smm + 2.0 * a * b * sm + b * b * n;
    Fit { tau, a, b, rss }
}

/// Fits `τ` in `[lo, hi]`: a grid of `step`, then golden-section refinement around the best
/// grid point. Only fits with a positive amplitude count.
pub fn fit(g: &Geometry, pts: &Points, d: f64, lo: f64, hi: f64, step: f64) -> Option<Fit> {
    let steps = ((hi - lo) / step).ceil().max(1.0) as usize;
    let mut best: Option<Fit> = None;
    for k in 0..=steps {
        let f = solve(g, pts, lo + k as f64 * step, d);
        if f.a > 0.0 && best.is_none_or(|b| f.rss < b.rss) {
            best = Some(f);
        }
    }
    let mut best = best?;
    let (mut a, mut b) = (best.tau - step, best.tau + step);
    let r = 0.5 * (5f64.sqrt() - 1.0);
    let mut c = b - r * (b - a);
    let mut e = a + r * (b - a);
    let (mut fc, mut fe) = (solve(g, pts, c, d), solve(g, pts, e, d));
    while b - a > 1e-8 {
        if fc.rss < fe.rss {
            b = e;
            e = c;
            fe = fc;
            c = b - r * (b - a);
            fc = solve(g, pts, c, d);
        } else {
            a = c;
            c = e;
            fc = fe;
            e = a + r * (b - a);
            fe = solve(g, pts, e, d);
        }
    }
    for f in [fc, fe] {
        if f.a > 0.0 && f.rss < best.rss {
            best = f;
        }
    }
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> Geometry {
        Geometry {
            dt: 1.0 / 20_000.0,
            l: 100,
            r: 10,
        }
    }

    #[test]
    fn triangle_peaks_at_the_onset_plus_half_a_sample() {
        let g = g();
        let tau = 0.0123;
        assert!((g.amplitude(tau + 0.5 * g.dt, tau, 0.005) - 1.0).abs() < 1e-12);
        assert!(g.amplitude(tau - 0.005 + 0.5 * g.dt, tau, 0.005).abs() < 1e-12);
        assert!((g.amplitude(tau, tau, 0.005) - (1.0 - 0.005)).abs() < 1e-9);
    }

    #[test]
    fn fit_recovers_a_sub_sample_onset_from_noise_free_blocks() {
        let g = g();
        for tau in [0.0, 0.000_013, 0.000_037, -0.000_211] {
            let mut pts = Points::default();
            for j in -30..30 {
                let h = j as f64 * 10.0 * g.dt + 0.000_001;
                pts.h.push(h);
                pts.p.push(3.0 * g.block(h, tau, 0.005) + 0.25);
            }
            let f = fit(&g, &pts, 0.005, -0.002, 0.002, 25e-6).unwrap();
            assert!((f.tau - tau).abs() < 1e-7, "tau {tau}: {f:?}");
            assert!((f.a - 3.0).abs() < 1e-6 && (f.b - 0.25).abs() < 1e-6);
        }
    }
}
