//! Filter design for multistage decimation: splitting a factor into stages and designing
//! each stage's Kaiser-windowed low-pass with futuredsp's `firdes`/`windows`.
//!
//! For a total factor `D` from rate `fs` to `fo = fs/D`, with `passband` the fraction of the
//! output band `[-fo/2, fo/2]` to keep flat:
//! - passband edge `fp = passband·fo/2` (every stage);
//! - the last stage stops at `fo/2`, so nothing aliases into the output band below the
//!   attenuation;
//! - an earlier stage with output rate `ri` stops at `ri − fo/2`: what it lets alias lands
//!   above `fo/2` at its output, where a later stage removes it.
//!
//! Each stage is odd-length and symmetric (linear phase, an integer group delay of
//! `(N−1)/2` input samples), normalised to unit gain at DC.

use futuredsp::{firdes, windows};

/// One stage: decimation factor and taps.
#[derive(Clone, Debug)]
pub struct StageDesign {
    /// Decimation factor of the stage.
    pub factor: usize,
    /// Symmetric, odd-length taps with unit DC gain.
    pub taps: Vec<f32>,
}

/// Splits `total` into stage factors no larger than `max_stage` where possible (a prime
/// factor above it becomes a stage of its own), largest first.
pub fn plan_stages(total: u64, max_stage: u64) -> Vec<u64> {
    let mut primes = Vec::new();
    let mut n = total;
    let mut p = 2;
    while p * p <= n {
        while n % p == 0 {
            primes.push(p);
            n /= p;
        }
        p += 1;
    }
    if n > 1 {
        primes.push(n);
    }
    primes.sort_unstable_by(|a, b| b.cmp(a));
    let mut stages: Vec<u64> = Vec::new();
    for q in primes {
        match stages.iter_mut().find(|s| **s * q <= max_stage) {
            Some(s) => *s *= q,
            None => stages.push(q),
        }
    }
    stages.sort_unstable_by(|a, b| b.cmp(a));
    stages
}

/// Kaiser window length and β for a transition width `tw` (cycles/sample) and an
/// attenuation of `atten_db` (Kaiser's empirical formulas), forced odd.
pub fn kaiser_params(tw: f64, atten_db: f64) -> (usize, f64) {
    let beta = if atten_db > 50.0 {
        0.1102 * (atten_db - 8.7)
    } else if atten_db >= 21.0 {
        0.5842 * (atten_db - 21.0).powf(0.4) + 0.07886 * (atten_db - 21.0)
    } else {
        0.0
    };
    let n = ((atten_db - 7.95) / (14.36 * tw)).ceil().max(2.0) as usize + 1;
    (n | 1, beta)
}

/// Designs the stages for a total factor with the module's band plan; refuses (before
/// allocating) a stage longer than `max_taps`, returning its factor and length.
pub fn design(
    total: u64,
    passband: f64,
    atten_db: f64,
    max_stage: u64,
    max_taps: usize,
) -> Result<Vec<StageDesign>, (u64, usize)> {
    let fo = 1.0 / total as f64; // output rate in units of the input rate
    let fp = passband * fo / 2.0;
    let mut rate = 1.0;
    let factors = plan_stages(total, max_stage);
    let last = factors.len().saturating_sub(1);
    let mut out = Vec::new();
    for (k, &d) in factors.iter().enumerate() {
        let next = rate / d as f64;
        let stop = if k == last { fo / 2.0 } else { next - fo / 2.0 };
        // normalised to this stage's input rate
        let (p, s) = (fp / rate, stop / rate);
        let (n, beta) = kaiser_params(s - p, atten_db);
        if n > max_taps {
            return Err((d, n));
        }
        let win = windows::kaiser(n, beta);
        let taps64: Vec<f64> = firdes::lowpass((p + s) / 2.0, &win);
        let dc: f64 = taps64.iter().sum();
        out.push(StageDesign {
            factor: d as usize,
            taps: taps64.iter().map(|t| (t / dc) as f32).collect(),
        });
        rate = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_are_split_into_stages() {
        assert_eq!(plan_stages(2000, 20), vec![20, 20, 5]);
        assert_eq!(plan_stages(2000, 10), vec![10, 10, 10, 2]);
        assert_eq!(plan_stages(7, 20), vec![7]);
        assert_eq!(plan_stages(1, 20), Vec::<u64>::new());
        assert_eq!(plan_stages(2 * 101, 20), vec![101, 2]);
        assert_eq!(plan_stages(2400, 20).iter().product::<u64>(), 2400);
    }

    #[test]
    fn stages_are_odd_symmetric_and_unit_gain() {
        for s in design(2000, 0.8, 80.0, 20, 10_000).unwrap() {
            assert_eq!(s.taps.len() % 2, 1);
            let n = s.taps.len();
            for k in 0..n / 2 {
                assert!((s.taps[k] - s.taps[n - 1 - k]).abs() < 1e-7);
            }
            let dc: f32 = s.taps.iter().sum();
            assert!((dc - 1.0).abs() < 1e-5);
        }
    }
}
