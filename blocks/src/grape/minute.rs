//! Minute assembly for `tone_detect`: envelope blocks are placed, by the stream's time, into
//! one window per system-time minute, and a window is handed over for analysis once the
//! stream has passed its end.
//!
//! Window `M` holds the blocks whose hypothesised onset (system time) lies in
//! `[60M − 0.55 s, 60M + 60.35 s)`: every tick of the UTC minute whose marker arrives within
//! ±0.5 s of the system minute boundary, plus enough after the last one for the markers'
//! tails. Consecutive windows overlap. Missing blocks (gaps, stream start) stay `NaN`.

use std::collections::VecDeque;

/// Window start relative to the minute boundary, seconds.
pub const BEFORE: f64 = 0.55;
/// Window end relative to the minute boundary, seconds.
pub const AFTER: f64 = 60.35;

/// One minute of envelopes.
pub struct Window {
    /// Minute index (Unix seconds / 60) of the system-time boundary `T_M`.
    pub minute: i64,
    /// First hypothesised onset of block 0, seconds relative to `T_M`.
    pub h0: f64,
    /// Block spacing, seconds.
    pub block_dt: f64,
    /// Envelope power per channel and block (`NaN`: missing).
    pub env: Vec<Vec<f32>>,
    first_block: i64,
}

impl Window {
    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.env.first().map_or(0, Vec::len)
    }

    /// True when the window has no blocks.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hypothesised onset of block `i` (relative to `T_M`).
    pub fn h(&self, i: usize) -> f64 {
        self.h0 + i as f64 * self.block_dt
    }

    /// Index range of the blocks with `h` in `[a, b)`, clipped to the window.
    pub fn range(&self, a: f64, b: f64) -> std::ops::Range<usize> {
        let lo = ((a - self.h0) / self.block_dt).ceil().max(0.0) as usize;
        let hi = ((b - self.h0) / self.block_dt).ceil().max(0.0) as usize;
        lo.min(self.len())..hi.min(self.len())
    }
}

/// Maps blocks to time and collects windows.
pub struct Assembler {
    fs: f64,
    l: usize,
    r: usize,
    channels: usize,
    /// (sample index, ns) of the time anchor.
    anchor: Option<(u64, i64)>,
    open: VecDeque<Window>,
    next_minute: Option<i64>,
}

impl Assembler {
    /// An assembler for blocks of `r` samples from a boxcar of `l` samples at `fs`.
    pub fn new(fs: f64, l: usize, r: usize, channels: usize) -> Self {
        Assembler {
            fs,
            l,
            r,
            channels,
            anchor: None,
            open: VecDeque::new(),
            next_minute: None,
        }
    }

    /// Sets the time of sample `index`. Returns false (and drops the open windows) when it
    /// disagrees with the current mapping by more than a microsecond.
    pub fn set_time(&mut self, index: u64, ns: i64) -> bool {
        let consistent = self.anchor.is_none_or(|(i, a)| {
            let predicted = (index as f64 - i as f64) * 1e9 / self.fs;
            ((ns - a) as f64 - predicted).abs() < 1e3
        });
        if !consistent {
            self.open.clear();
            self.next_minute = None;
        }
        self.anchor = Some((index, ns));
        consistent
    }

    /// True once a time anchor is known.
    pub fn has_time(&self) -> bool {
        self.anchor.is_some()
    }

    /// Time of (fractional) sample `index` in seconds after `minute` (exact to well below a
    /// nanosecond: the large parts are subtracted as integers).
    fn seconds_after(&self, index: f64, minute: i64) -> Option<f64> {
        self.anchor.map(|(i, ns)| {
            (i128::from(ns) - i128::from(minute) * 60_000_000_000) as f64 * 1e-9
                + (index - i as f64) / self.fs
        })
    }

    /// First hypothesised onset of block `j`, as a sample index.
    fn block_index(&self, j: u64) -> f64 {
        j as f64 * self.r as f64 - (self.l as f64 - 1.0)
    }

    fn window(&self, minute: i64) -> Option<Window> {
        let (ai, _) = self.anchor?;
        // first block with h ≥ −BEFORE: sample index of the window start, in blocks
        let at_zero = self.seconds_after(ai as f64, minute)?;
        let idx = (-BEFORE - at_zero) * self.fs + ai as f64 + (self.l as f64 - 1.0);
        let first = (idx / self.r as f64).ceil() as i64;
        let h0 =
            self.seconds_after(first as f64 * self.r as f64 - (self.l as f64 - 1.0), minute)?;
        let block_dt = self.r as f64 / self.fs;
        let len = ((BEFORE + AFTER) / block_dt).ceil() as usize + 1;
        Some(Window {
            minute,
            h0,
            block_dt,
            env: vec![vec![f32::NAN; len]; self.channels],
            first_block: first,
        })
    }

    /// Adds block `j`; completed windows are appended to `done`.
    pub fn push(&mut self, j: u64, powers: &[f32], valid: bool, done: &mut Vec<Window>) {
        // seconds since the epoch (coarse: only picks the windows)
        let Some(t) = self.seconds_after(self.block_index(j), 0) else {
            return;
        };
        while let Some(w) = self.open.front() {
            if w.first_block + w.len() as i64 <= j as i64 {
                if let Some(w) = self.open.pop_front() {
                    done.push(w);
                }
            } else {
                break;
            }
        }
        let newest = ((t + BEFORE) / 60.0).floor() as i64;
        let oldest = ((t - AFTER) / 60.0).floor() as i64 + 1;
        for m in oldest..=newest {
            if self.next_minute.is_some_and(|n| m < n) {
                continue;
            }
            if let Some(w) = self.window(m) {
                self.open.push_back(w);
            }
            self.next_minute = Some(m + 1);
        }
        if !valid {
            return;
        }
        for w in &mut self.open {
            let i = j as i64 - w.first_block;
            if i >= 0 && i < w.len() as i64 {
                let i = i as usize;
                for (c, p) in powers.iter().enumerate() {
                    w.env[c][i] = *p;
                }
            }
        }
    }

    /// Hands over every open window (end of stream).
    pub fn flush(&mut self, done: &mut Vec<Window>) {
        done.extend(self.open.drain(..));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_land_in_overlapping_minute_windows() {
        // 2 kHz blocks (fs 20 kHz, R 10, L 100); sample 0 at 12:00:30 UTC
        let mut a = Assembler::new(20_000.0, 100, 10, 1);
        a.set_time(0, 1_765_022_430_000_000_000);
        let mut done = Vec::new();
        for j in 0..2000 * 100 {
            a.push(j, &[j as f32], true, &mut done);
        }
        // 100 s of blocks up to 12:02:10: the windows of 12:00 and 12:01 have closed
        assert_eq!(done.len(), 2);
        assert_eq!(done[1].minute, done[0].minute + 1);
        let w = &done[0];
        assert_eq!(w.minute, 1_765_022_400 / 60);
        // block j has hypothesised onset 30 s + (10 j − 99)/20000 after the boundary
        let i = w.range(31.0, 31.001).start;
        let j = w.env[0][i] as f64;
        let want = 30.0 + (10.0 * j - 99.0) / 20_000.0;
        assert!(
            (w.h(i) - want).abs() < 1e-9,
            "{} vs {want} (j {j}, i {i})",
            w.h(i)
        );
        assert!(
            w.env[0][..100].iter().all(|p| p.is_nan()),
            "before the stream"
        );
        assert!(!a.set_time(5, 0), "a jump drops the open windows");
    }
}
