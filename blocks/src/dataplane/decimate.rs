//! A multistage anti-aliased decimator for offline conversion (20 kHz archive → 10 Hz
//! Digital RF): windowed-sinc (Blackman, ≈ 74 dB stopband) FIR stages of factor ≤ 10,
//! each evaluated only at its output instants and centred on them (no group delay), so
//! output `j` is the filtered signal at input index `j × M` exactly. Outputs whose window
//! would reach past a discontinuity are not produced (a gap is never filled).
//!
//! The streaming `decimate` block (`blocks/src/dsp/fir_chain.rs`) differs at the edges: it
//! produces outputs near a gap with the missing samples counted as zeros (attenuated), where
//! this one produces none, so a converted 10 Hz product never shows a gap's edge as a fade.
//! Folding the two into one filter with both edge rules is still to do.

use flow_framework::prelude::*;

/// One decimation stage.
#[derive(Clone, Debug)]
struct Stage {
    m: u64,
    taps: Vec<f32>,
    half: u64,
    buf: Vec<C32>,
    buf_start: u64,
    next_out: u64,
}

impl Stage {
    fn new(fs: f64, m: u64, pass_hz: f64, stop_hz: f64) -> Stage {
        let width = ((stop_hz - pass_hz) / fs).max(1e-6);
        let mut n = (5.5 / width).ceil() as usize;
        n |= 1;
        let fc = (pass_hz + stop_hz) / 2.0 / fs;
        let c = (n - 1) as f64 / 2.0;
        let mut taps: Vec<f64> = (0..n)
            .map(|k| {
                let x = k as f64 - c;
                let sinc = if x == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * std::f64::consts::PI * fc * x).sin() / (std::f64::consts::PI * x)
                };
                let a = 2.0 * std::f64::consts::PI * k as f64 / (n - 1).max(1) as f64;
                sinc * (0.42 - 0.5 * a.cos() + 0.08 * (2.0 * a).cos())
            })
            .collect();
        let sum: f64 = taps.iter().sum();
        taps.iter_mut().for_each(|t| *t /= sum);
        Stage {
            m,
            taps: taps.into_iter().map(|t| t as f32).collect(),
            half: (n / 2) as u64,
            buf: Vec::new(),
            buf_start: 0,
            next_out: 0,
        }
    }

    fn reset(&mut self, first: u64) {
        self.buf.clear();
        self.buf_start = first;
        self.next_out = (first + self.half).div_ceil(self.m);
    }

    /// Feeds contiguous input starting at `buf_start + buf.len()`; appends outputs.
    fn push(&mut self, x: &[C32], out: &mut Vec<C32>) -> u64 {
        self.buf.extend_from_slice(x);
        let end = self.buf_start + self.buf.len() as u64;
        let first_out = self.next_out;
        while self.next_out * self.m + self.half < end {
            let lo = (self.next_out * self.m - self.half - self.buf_start) as usize;
            let w = &self.buf[lo..lo + self.taps.len()];
            let (mut re, mut im) = (0f32, 0f32);
            for (t, v) in self.taps.iter().zip(w) {
                re += t * v.re;
                im += t * v.im;
            }
            out.push(C32::new(re, im));
            self.next_out += 1;
        }
        let keep_from = (self.next_out * self.m)
            .saturating_sub(self.half)
            .max(self.buf_start);
        let drop = (keep_from - self.buf_start) as usize;
        self.buf.drain(..drop.min(self.buf.len()));
        self.buf_start += drop as u64;
        first_out
    }
}

/// Splits `m` into stage factors, largest first (each ≤ 10 where possible).
pub fn plan(mut m: u64) -> Vec<u64> {
    let mut f = Vec::new();
    while m > 1 {
        let k = (2..=10).rev().find(|k| m % k == 0).unwrap_or(m);
        f.push(k);
        m /= k;
    }
    f.sort_unstable_by(|a, b| b.cmp(a));
    f
}

/// Decimates a complex stream by an integer factor, run by run.
#[derive(Clone, Debug)]
pub struct Decimator {
    stages: Vec<Stage>,
    m: u64,
    next_in: Option<u64>,
    scratch: Vec<C32>,
}

impl Decimator {
    /// A decimator from `rate_in` to `rate_in / m`, flat to `pass` × the output Nyquist
    /// frequency (e.g. 0.8: 0–4 Hz of a 10 Hz output is alias-free).
    pub fn new(rate_in: f64, m: u64, pass: f64) -> Decimator {
        let out_rate = rate_in / m as f64;
        let fp = pass * out_rate / 2.0;
        let mut fs = rate_in;
        let factors = plan(m.max(1));
        let last = factors.len().saturating_sub(1);
        let stages = factors
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let fo = fs / k as f64;
                let stop = if i == last { fo / 2.0 } else { fo - fp };
                let s = Stage::new(fs, k, fp, stop);
                fs = fo;
                s
            })
            .collect();
        Decimator {
            stages,
            m: m.max(1),
            next_in: None,
            scratch: Vec::new(),
        }
    }

    /// Total taps over all stages (cost indicator).
    pub fn taps(&self) -> usize {
        self.stages.iter().map(|s| s.taps.len()).sum()
    }

    /// Feeds samples starting at input index `index`; a jump from the previous end starts
    /// a new run. Appends outputs; returns the output index of the first one appended.
    pub fn push(&mut self, index: u64, x: &[C32], out: &mut Vec<C32>) -> u64 {
        if self.next_in != Some(index) {
            let mut first = index;
            for s in &mut self.stages {
                s.reset(first);
                first = s.next_out;
            }
        }
        self.next_in = Some(index + x.len() as u64);
        let mut input = x.to_vec();
        let mut first_out = 0;
        for s in &mut self.stages {
            self.scratch.clear();
            first_out = s.push(&input, &mut self.scratch);
            std::mem::swap(&mut input, &mut self.scratch);
        }
        if self.stages.is_empty() {
            first_out = index;
        }
        out.extend_from_slice(&input);
        first_out
    }

    /// The decimation factor.
    pub fn factor(&self) -> u64 {
        self.m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(f: f64, fs: f64, from: u64, n: u64) -> Vec<C32> {
        (from..from + n)
            .map(|i| {
                let p = 2.0 * std::f64::consts::PI * f * i as f64 / fs;
                C32::new(p.cos() as f32, p.sin() as f32)
            })
            .collect()
    }

    #[test]
    fn plans_stages() {
        assert_eq!(plan(2000), vec![10, 10, 10, 2]);
        assert_eq!(plan(1600), vec![10, 10, 8, 2]);
        assert_eq!(plan(13), vec![13]);
    }

    #[test]
    fn passes_the_band_without_delay_and_rejects_aliases() {
        let fs = 2000.0;
        let from = 1_700_000_000 * 2000;
        for (f, want) in [
            (1.0, 1.0),
            (-3.5, 1.0),
            (7.0, 0.0),
            (13.0, 0.0),
            (400.0, 0.0),
        ] {
            let mut d = Decimator::new(fs, 200, 0.8);
            let mut out = Vec::new();
            let x = tone(f, fs, from, 2000 * 60);
            let mut j0 = None;
            for (k, c) in x.chunks(3333).enumerate() {
                let j = d.push(from + (k * 3333) as u64, c, &mut out);
                j0.get_or_insert(j);
            }
            let j0 = j0.unwrap();
            let mid = &out[out.len() / 4..3 * out.len() / 4];
            let amp = mid.iter().map(|c| c.norm()).fold(0f32, f32::max);
            if want == 1.0 {
                assert!((amp - 1.0).abs() < 0.01, "{f} Hz: gain {amp}");
                // Zero delay: output j equals the tone at input index j × 200.
                let j = j0 + out.len() as u64 / 2;
                let expect = tone(f, fs, j * 200, 1)[0];
                assert!(
                    (out[(j - j0) as usize] - expect).norm() < 0.01,
                    "{f} Hz phase"
                );
            } else {
                assert!(amp < 1e-3, "{f} Hz leaks {amp} (> -60 dB)");
            }
        }
    }

    #[test]
    fn a_gap_starts_a_new_run_without_filling_it() {
        let mut d = Decimator::new(2000.0, 200, 0.8);
        let mut out = Vec::new();
        let j1 = d.push(0, &tone(1.0, 2000.0, 0, 20_000), &mut out);
        let n1 = out.len() as u64;
        let j2 = d.push(40_000, &tone(1.0, 2000.0, 40_000, 20_000), &mut out);
        assert!(j1 + n1 <= 100, "outputs stop before the gap");
        assert!(
            j2 > 200,
            "outputs resume only once the window is past the gap: {j2}"
        );
    }
}
