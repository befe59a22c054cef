//! Peak interpolation on a sampled spectrum: the vertex of the parabola through a maximum
//! and its neighbours (on dB values, which is exact for a Gaussian-shaped main lobe and
//! within a few hundredths of a bin for the usual windows), and level crossings between
//! bins for bandwidth measurement.

/// The vertex of the parabola through (−1, `left`), (0, `mid`), (1, `right`): its offset
/// from the middle point, clamped to ±0.5, and its value. A middle point that is not a
/// strict local maximum gives (0, `mid`).
pub fn parabolic(left: f64, mid: f64, right: f64) -> (f64, f64) {
    let denom = left - 2.0 * mid + right;
    if denom.is_nan() || denom >= 0.0 || !left.is_finite() || !right.is_finite() {
        return (0.0, mid);
    }
    let p = (0.5 * (left - right) / denom).clamp(-0.5, 0.5);
    (p, mid - 0.25 * (left - right) * p)
}

/// Where, between two bins with values `inside` (at 0, at or above `level`) and `outside`
/// (at 1, below it), the straight line between them crosses `level`: a fraction in [0, 1].
pub fn crossing(inside: f64, outside: f64, level: f64) -> f64 {
    let d = inside - outside;
    if d <= 0.0 || !d.is_finite() {
        return 0.0;
    }
    ((inside - level) / d).clamp(0.0, 1.0)
}

/// Power in dB (with a floor so an empty bin stays finite).
#[inline]
pub fn to_db(p: f64) -> f64 {
    10.0 * p.max(1e-300).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_vertex_of_a_parabola() {
        let f = |x: f64| 3.0 - 2.0 * (x - 0.3) * (x - 0.3);
        let (p, v) = parabolic(f(-1.0), f(0.0), f(1.0));
        assert!((p - 0.3).abs() < 1e-12);
        assert!((v - 3.0).abs() < 1e-12);
    }

    #[test]
    fn degenerate_points_do_not_move_the_peak() {
        assert_eq!(parabolic(1.0, 1.0, 1.0), (0.0, 1.0));
        assert_eq!(parabolic(2.0, 1.0, 0.0), (0.0, 1.0));
        assert_eq!(parabolic(f64::NEG_INFINITY, 1.0, 0.0), (0.0, 1.0));
        let (p, _) = parabolic(0.0, 1.0, 0.999_999);
        assert!(p <= 0.5);
    }

    #[test]
    fn crossings_interpolate_linearly() {
        assert!((crossing(-3.0, -13.0, -6.0) - 0.3).abs() < 1e-12);
        assert_eq!(crossing(-3.0, -3.0, -6.0), 0.0);
        assert_eq!(crossing(-3.0, -20.0, 0.0), 0.0);
        assert_eq!(to_db(100.0), 20.0);
    }
}
