//! CFAR threshold factors: the multiplier α of the noise estimate that gives a target
//! probability of false alarm, for cell-averaging (CA), greatest-of (GO-CA), smallest-of
//! (SO-CA) and ordered-statistic (OS) CFAR.
//!
//! Noise model (see `docs/spectrum.md`): every cell is normalised to mean 1. The cell under
//! test is Gamma(L, 1/L); L = 1 is the exponential (square-law) noise of one periodogram,
//! larger L the Welch average ([`super::noise_stats`] computes the effective L). The noise
//! estimate Z is, for
//! - CA: the mean of the training cells, Gamma(M, 1/M) with M its effective shape;
//! - GO / SO: the larger / smaller of the two side means, each Gamma(m, 1/m);
//! - OS: the k-th smallest of n training cells, taken as independent Gamma(L, 1/L).
//!
//! A false alarm is X > α·Z. For CA, X/Z is F(2L, 2M)-distributed, so
//! Pfa = I_{M/(M+Lα)}(M, L) (regularised incomplete beta); with L = 1 and M = N this is the
//! textbook (1 + α/N)^(−N), α = N·(Pfa^(−1/N) − 1). GO, SO and OS integrate
//! P(X > αz) against the density of Z numerically; α is found by bisection.

use puruspe::{betai, ln_gamma};

use super::special::ln_gamma_pq;
use serde::{Deserialize, Serialize};

/// A CFAR variant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CfarMethod {
    /// Cell averaging: mean of all training cells.
    #[default]
    Ca,
    /// Greatest-of cell averaging: the larger of the two side means (robust at clutter edges).
    Go,
    /// Smallest-of cell averaging: the smaller side mean (resolves close targets).
    So,
    /// Ordered statistic: the `rank`-th smallest training cell (robust to interferers).
    Os,
}

/// The distribution shapes a threshold depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseShapes {
    /// Gamma shape of the cell under test (1 = exponential).
    pub cut: f64,
    /// CA: shape of the mean of all training cells. GO/SO: shape of one side's mean.
    /// OS: shape of one training cell.
    pub estimate: f64,
    /// OS: number of training cells.
    pub cells: usize,
    /// OS: the order statistic used (1 = smallest).
    pub rank: usize,
}

/// P(X > α·Z) for a method, shapes and α.
pub fn pfa(method: CfarMethod, s: &NoiseShapes, alpha: f64) -> f64 {
    let s = &NoiseShapes {
        cut: s.cut.min(MAX_SHAPE),
        estimate: s.estimate.min(MAX_SHAPE),
        ..*s
    };
    match method {
        CfarMethod::Ca if s.cut.max(s.estimate) <= CLOSED_FORM_MAX => {
            ca_pfa(s.cut, s.estimate, alpha)
        }
        _ => Integrator::new(method, s, 0.0).pfa(s.cut, alpha),
    }
}

/// Shapes up to which the closed form (puruspe's continued fraction) is used; beyond it
/// puruspe switches to a quadrature that loses the far tail, so CA integrates numerically.
const CLOSED_FORM_MAX: f64 = 2000.0;

/// Largest shape the solver works with.
const MAX_SHAPE: f64 = 1e6;

fn ca_pfa(l: f64, m: f64, alpha: f64) -> f64 {
    if alpha <= 0.0 {
        return 1.0;
    }
    if m.is_infinite() {
        return survival(l, l * alpha);
    }
    let x = m / (m + l * alpha);
    if !(l > 0.0 && m > 0.0 && (0.0..=1.0).contains(&x)) {
        return f64::NAN;
    }
    betai(m, l, x)
}

/// Q(l, x) = P(Gamma(l, 1) > x).
fn survival(l: f64, x: f64) -> f64 {
    ln_gamma_pq(l, x).1.exp()
}

/// The α that gives `target` false-alarm probability, or why there is none.
pub fn threshold_factor(method: CfarMethod, s: &NoiseShapes, target: f64) -> Result<f64, String> {
    if !(target > 0.0 && target < 1.0) {
        return Err(format!("pfa {target} is not between 0 and 1"));
    }
    if !(s.cut > 0.0 && s.estimate > 0.0 && s.cut.is_finite() && s.estimate.is_finite()) {
        return Err(format!(
            "noise statistics undefined (shapes {} and {})",
            s.cut, s.estimate
        ));
    }
    // Beyond this a Gamma is a spike at its mean for any Pfa of interest; capping keeps the
    // quadrature grid bounded whatever a spectrum claims.
    let s = &NoiseShapes {
        cut: s.cut.min(MAX_SHAPE),
        estimate: s.estimate.min(MAX_SHAPE),
        ..*s
    };
    if method == CfarMethod::Os && !(1..=s.cells).contains(&s.rank) {
        return Err(format!(
            "OS rank {} is not between 1 and {} training cells",
            s.rank, s.cells
        ));
    }
    let eval: Box<dyn Fn(f64) -> f64> = match method {
        CfarMethod::Ca if s.cut.max(s.estimate) <= CLOSED_FORM_MAX => {
            Box::new(move |a| ca_pfa(s.cut, s.estimate, a))
        }
        _ => {
            let integ = Integrator::new(method, s, target * 1e-9);
            let cut = s.cut;
            Box::new(move |a| integ.pfa(cut, a))
        }
    };
    // Pfa falls monotonically with α: bisect on ln α.
    let (mut lo, mut hi) = (1e-6f64.ln(), 1e9f64.ln());
    if eval(hi.exp()) > target {
        return Err(format!("pfa {target} is not reachable with these cells"));
    }
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if eval(mid.exp()) > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-10 {
            break;
        }
    }
    Ok((0.5 * (lo + hi)).exp())
}

/// Quadrature of P(X > αz)·f_Z(z) over ln z, with the α-independent weights precomputed.
struct Integrator {
    z: Vec<f64>,
    w: Vec<f64>,
}

impl Integrator {
    fn new(method: CfarMethod, s: &NoiseShapes, min_weight: f64) -> Integrator {
        let a = s.estimate;
        let h = (0.1 / a.max(s.cut).sqrt()).min(0.01);
        let (lo, hi) = (-28.0f64, 6.0f64);
        let steps = (((hi - lo) / h).ceil() as usize) | 1; // odd count of intervals is fixed below
        let steps = steps + 1; // even number of intervals for Simpson
        let h = (hi - lo) / steps as f64;
        let (mut z, mut w) = (Vec::new(), Vec::new());
        let ln_beta_os = if method == CfarMethod::Os {
            let (n, k) = (s.cells as f64, s.rank as f64);
            ln_gamma(n + 1.0) - ln_gamma(k) - ln_gamma(n - k + 1.0)
        } else {
            0.0
        };
        for i in 0..=steps {
            let lz = lo + h * i as f64;
            let zi = lz.exp();
            let ln_g = a * a.ln() + (a - 1.0) * lz - a * zi - ln_gamma(a);
            let (ln_p, ln_q) = ln_gamma_pq(a, a * zi);
            let ln_f = match method {
                CfarMethod::Go => std::f64::consts::LN_2 + ln_g + ln_p,
                CfarMethod::So => std::f64::consts::LN_2 + ln_g + ln_q,
                CfarMethod::Os => {
                    let (n, k) = (s.cells as f64, s.rank as f64);
                    ln_beta_os + (k - 1.0) * ln_p + (n - k) * ln_q + ln_g
                }
                CfarMethod::Ca => ln_g,
            };
            let simpson = if i == 0 || i == steps {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            // dz = z d(ln z)
            let wi = (ln_f + lz).exp() * simpson * h / 3.0;
            if wi.is_finite() && wi > min_weight {
                z.push(zi);
                w.push(wi);
            }
        }
        Integrator { z, w }
    }

    fn pfa(&self, l: f64, alpha: f64) -> f64 {
        self.z
            .iter()
            .zip(&self.w)
            .map(|(z, w)| w * survival(l, l * alpha * z))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(cut: f64, estimate: f64) -> NoiseShapes {
        NoiseShapes {
            cut,
            estimate,
            cells: 0,
            rank: 0,
        }
    }

    #[test]
    fn ca_on_exponential_noise_is_the_textbook_formula() {
        for (n, p) in [(16usize, 1e-3), (32, 1e-6), (8, 0.1)] {
            let a = threshold_factor(CfarMethod::Ca, &shapes(1.0, n as f64), p).unwrap();
            let want = n as f64 * (p.powf(-1.0 / n as f64) - 1.0);
            assert!((a / want - 1.0).abs() < 1e-8, "N={n}: {a} vs {want}");
        }
    }

    #[test]
    fn ca_with_averaging_matches_the_f_distribution() {
        // scipy.stats.f.isf(1e-3, 2*8, 2*256) = 2.51437911
        let a = threshold_factor(CfarMethod::Ca, &shapes(8.0, 256.0), 1e-3).unwrap();
        assert!((a - 2.514_379_1).abs() < 1e-5, "{a}");
        // Numeric integration agrees with the closed form.
        let s = shapes(8.0, 97.3);
        let closed = pfa(CfarMethod::Ca, &s, 2.6);
        let numeric = Integrator::new(CfarMethod::Ca, &s, 0.0).pfa(8.0, 2.6);
        assert!((numeric / closed - 1.0).abs() < 1e-6, "{numeric} {closed}");
    }

    #[test]
    fn os_on_exponential_noise_matches_the_product_formula() {
        // Pfa = Π_{i=0}^{k-1} (n-i)/(n-i+α) (Rohling 1983).
        let (n, k) = (24usize, 18usize);
        let s = NoiseShapes {
            cut: 1.0,
            estimate: 1.0,
            cells: n,
            rank: k,
        };
        for alpha in [5.0, 20.0, 60.0] {
            let want: f64 = (0..k)
                .map(|i| (n - i) as f64 / ((n - i) as f64 + alpha))
                .product();
            let got = pfa(CfarMethod::Os, &s, alpha);
            assert!(
                (got / want - 1.0).abs() < 1e-5,
                "α={alpha}: {got} vs {want}"
            );
        }
        let a = threshold_factor(CfarMethod::Os, &s, 1e-4).unwrap();
        let back: f64 = (0..k)
            .map(|i| (n - i) as f64 / ((n - i) as f64 + a))
            .product();
        assert!((back / 1e-4 - 1.0).abs() < 1e-4, "{back}");
    }

    #[test]
    fn go_and_so_match_independent_references() {
        // Per-side mean of 8 exponential cells (shape 8), exponential cell under test.
        // References: scipy.integrate.quad of P(X > αz)·f_Z(z) with scipy.stats.gamma.
        let s = shapes(1.0, 8.0);
        let go = pfa(CfarMethod::Go, &s, 10.0);
        let so = pfa(CfarMethod::So, &s, 10.0);
        let ca = pfa(CfarMethod::Ca, &shapes(1.0, 16.0), 10.0);
        // GO ≤ CA ≤ SO at the same α, and GO + SO = 2·E[S(α·Z_side)] (one side's CA).
        assert!(go < ca && ca < so, "{go} {ca} {so}");
        let one_side = pfa(CfarMethod::Ca, &s, 10.0);
        assert!(((go + so) / (2.0 * one_side) - 1.0).abs() < 1e-6);
        assert!((go / GO_REF - 1.0).abs() < 1e-4, "{go}");
        assert!((so / SO_REF - 1.0).abs() < 1e-4, "{so}");
    }

    #[test]
    fn large_shapes_match_independent_references() {
        // α for Pfa 1e-4, cut shape 16, side shape 100 / 400: scipy quad + brentq.
        for (est, so, go) in [
            (100.0, 2.521_169_449_9, 2.222_272_006),
            (400.0, 2.310_968_939, 2.180_357_234),
        ] {
            let s = shapes(16.0, est);
            let a = threshold_factor(CfarMethod::So, &s, 1e-4).unwrap();
            assert!((a / so - 1.0).abs() < 1e-5, "so {est}: {a}");
            let a = threshold_factor(CfarMethod::Go, &s, 1e-4).unwrap();
            assert!((a / go - 1.0).abs() < 1e-5, "go {est}: {a}");
        }
        // CA beyond the closed form's range agrees with the F distribution:
        // scipy.stats.f.isf(1e-6, 2*500, 2*5000) = 1.240983266868417
        let a = threshold_factor(CfarMethod::Ca, &shapes(500.0, 5000.0), 1e-6).unwrap();
        assert!((a / CA_BIG_REF - 1.0).abs() < 1e-5, "{a}");
    }

    const CA_BIG_REF: f64 = 1.240_983_266_868_417;
    const GO_REF: f64 = 1.751_307_739_8e-4;
    const SO_REF: f64 = 2.869_746_906_7e-3;

    #[test]
    fn impossible_requests_are_errors() {
        assert!(threshold_factor(CfarMethod::Ca, &shapes(1.0, 16.0), 0.0).is_err());
        assert!(threshold_factor(CfarMethod::Ca, &shapes(1.0, 16.0), 1.5).is_err());
        let bad_rank = NoiseShapes {
            cut: 1.0,
            estimate: 1.0,
            cells: 8,
            rank: 9,
        };
        assert_eq!(
            threshold_factor(CfarMethod::Os, &bad_rank, 1e-3).unwrap_err(),
            "OS rank 9 is not between 1 and 8 training cells"
        );
    }
}
