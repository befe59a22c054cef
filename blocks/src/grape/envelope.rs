//! Quadrature tone envelopes for `tone_detect`: for each audio frequency and sideband, mix
//! the complex baseband down, sum over a 5 ms boxcar (the matched filter of a 5 ms tone
//! burst) and average the power over blocks of `R` samples.
//!
//! # Timing convention
//!
//! At sample index `n` the boxcar sums samples `n−L+1 ..= n`, i.e. it is the correlation for
//! a burst *starting* at sample `s = n − (L−1)`, the *hypothesised onset*. Block `j` averages
//! `|y(n)|²/L²` over `n = jR .. jR+R−1`, so it covers hypothesised onsets
//! `jR − (L−1) + r`, `r = 0..R`. The fit model ([`super::onset_fit`]) uses exactly these
//! points. A block is valid only if all its `R` samples were present with a full boxcar
//! behind them: a gap invalidates the boxcar for `L−1` samples after it, so nothing is
//! measured across a gap.

use flow_framework::prelude::{C32, C64};

/// One mixer and running sum.
struct Mixer {
    step: C64,
    phasor: C64,
    ring: Vec<C64>,
    sum: C64,
}

/// The envelope bank.
pub struct EnvelopeBank {
    l: usize,
    r: usize,
    mixers: Vec<Mixer>,
    pos: usize,
    filled: usize,
    acc: Vec<f64>,
    acc_n: usize,
    acc_valid: bool,
    next_index: Option<u64>,
    since_resum: usize,
    block: Vec<f32>,
}

impl EnvelopeBank {
    /// Envelopes at the signed audio frequencies `freqs` (Hz; `-1000` is the lower sideband
    /// of a 1000 Hz tone), with a boxcar of `l` samples and blocks of `r` samples at `fs`.
    pub fn new(freqs: &[f64], fs: f64, l: usize, r: usize) -> Self {
        let mixers = freqs
            .iter()
            .map(|f| {
                let w = -std::f64::consts::TAU * f / fs;
                Mixer {
                    step: C64::new(w.cos(), w.sin()),
                    phasor: C64::new(1.0, 0.0),
                    ring: vec![C64::new(0.0, 0.0); l.max(1)],
                    sum: C64::new(0.0, 0.0),
                }
            })
            .collect();
        EnvelopeBank {
            l: l.max(1),
            r: r.max(1),
            mixers,
            pos: 0,
            filled: 0,
            acc: vec![0.0; freqs.len()],
            acc_n: 0,
            acc_valid: false,
            next_index: None,
            since_resum: 0,
            block: vec![0.0; freqs.len()],
        }
    }

    /// Boxcar length in samples.
    pub fn boxcar(&self) -> usize {
        self.l
    }

    /// Samples per block.
    pub fn block_len(&self) -> usize {
        self.r
    }

    fn restart(&mut self, index: u64) {
        for m in &mut self.mixers {
            m.ring.iter_mut().for_each(|v| *v = C64::new(0.0, 0.0));
            m.sum = C64::new(0.0, 0.0);
        }
        self.pos = 0;
        self.filled = 0;
        self.acc.iter_mut().for_each(|a| *a = 0.0);
        self.acc_n = (index % self.r as u64) as usize;
        self.acc_valid = self.acc_n == 0;
        self.next_index = Some(index);
    }

    /// Feeds contiguous samples whose first has sample index `index`; for every completed
    /// block calls `sink(block_index, powers, valid)`.
    pub fn push(&mut self, index: u64, x: &[C32], sink: &mut impl FnMut(u64, &[f32], bool)) {
        if self.next_index != Some(index) {
            self.restart(index);
        }
        let inv_l2 = 1.0 / (self.l * self.l) as f64;
        for (k, v) in x.iter().enumerate() {
            let v = C64::new(f64::from(v.re), f64::from(v.im));
            for (m, a) in self.mixers.iter_mut().zip(self.acc.iter_mut()) {
                let mixed = v * m.phasor;
                m.phasor *= m.step;
                m.sum += mixed - m.ring[self.pos];
                m.ring[self.pos] = mixed;
                *a += m.sum.norm_sqr() * inv_l2;
            }
            self.pos = (self.pos + 1) % self.l;
            self.filled += 1;
            if self.filled < self.l {
                self.acc_valid = false;
            }
            self.acc_n += 1;
            if self.acc_n == self.r {
                let n = index + k as u64;
                for (b, a) in self.block.iter_mut().zip(self.acc.iter_mut()) {
                    *b = (*a / self.r as f64) as f32;
                    *a = 0.0;
                }
                sink(n / self.r as u64, &self.block, self.acc_valid);
                self.acc_n = 0;
                self.acc_valid = true;
            }
            self.since_resum += 1;
            if self.since_resum >= 1 << 16 {
                self.since_resum = 0;
                for m in &mut self.mixers {
                    m.phasor /= m.phasor.norm();
                    m.sum = m.ring.iter().sum();
                }
            }
        }
        self.next_index = Some(index + x.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_peaks_in_the_block_of_its_onset_and_a_gap_invalidates() {
        // 5 ms of +1000 Hz starting at sample 1000 (fs 20 kHz, L = 100, R = 10)
        let fs = 20_000.0;
        let x: Vec<C32> = (0..3000)
            .map(|n| {
                if (1000..1100).contains(&n) {
                    let ph = std::f64::consts::TAU * 1000.0 * n as f64 / fs;
                    C32::new(ph.cos() as f32, ph.sin() as f32)
                } else {
                    C32::new(0.0, 0.0)
                }
            })
            .collect();
        let mut bank = EnvelopeBank::new(&[1000.0, -1000.0], fs, 100, 10);
        let mut blocks = Vec::new();
        bank.push(0, &x, &mut |j, p, ok| blocks.push((j, p[0], p[1], ok)));
        assert_eq!(blocks.len(), 300);
        assert!(
            !blocks[0].3 && !blocks[9].3 && blocks[10].3,
            "first L samples invalid"
        );
        // hypothesised onset 1000 is n = 1099, in block 109 (n = 1090..1099, onsets 991..1000)
        let best = blocks.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        assert_eq!(best.0, 109);
        assert!(
            best.1 > 0.9 && best.2 < 1e-3,
            "upper sideband only: {best:?}"
        );
        // a discontinuity restarts the boxcar
        let mut after = Vec::new();
        bank.push(5000, &x[..300], &mut |j, _, ok| after.push((j, ok)));
        assert_eq!(after.len(), 30);
        assert!(after[..10].iter().all(|b| !b.1) && after[10].1);
        assert_eq!(after[0].0, 500);
    }
}
