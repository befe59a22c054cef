//! The windowed FFT kernel shared by `fft` and `psd`: a rustfft plan made once, the window
//! as `f32` taps, and scratch buffers, so processing a frame allocates nothing.

use std::sync::Arc;

use flow_framework::item::C32;
use rustfft::{Fft, FftPlanner};

use super::window::Window;

/// A forward FFT of fixed size with a window.
pub struct FftEngine {
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    buf: Vec<C32>,
    scratch: Vec<C32>,
}

impl FftEngine {
    /// A plan for `size`-point FFTs with `window`.
    pub fn new(size: usize, window: Window) -> FftEngine {
        let fft = FftPlanner::<f32>::new().plan_fft_forward(size);
        let scratch = vec![C32::default(); fft.get_inplace_scratch_len()];
        FftEngine {
            fft,
            window: window.taps_f32(size),
            buf: vec![C32::default(); size],
            scratch,
        }
    }

    /// The FFT size.
    pub fn size(&self) -> usize {
        self.window.len()
    }

    /// Windows `input` (exactly `size` samples) into `out` and transforms it in place.
    /// Output bins are in FFT order (DC first).
    pub fn transform_into(&mut self, input: &[C32], out: &mut [C32]) {
        window_into(input, &self.window, out);
        self.fft.process_with_scratch(out, &mut self.scratch);
    }

    /// Windows and transforms `input` into the engine's own buffer and returns it.
    pub fn transform(&mut self, input: &[C32]) -> &[C32] {
        window_into(input, &self.window, &mut self.buf);
        self.fft
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        &self.buf
    }
}

/// `out[k] = input[k] · w[k]`, in chunks the compiler vectorizes.
#[inline]
pub fn window_into(input: &[C32], w: &[f32], out: &mut [C32]) {
    for ((o, x), w) in out.iter_mut().zip(input).zip(w) {
        *o = C32::new(x.re * w, x.im * w);
    }
}

/// `acc[k] += |x[k]|²`.
#[inline]
pub fn accumulate_power(x: &[C32], acc: &mut [f32]) {
    for (a, x) in acc.iter_mut().zip(x) {
        *a += x.re * x.re + x.im * x.im;
    }
}

/// `out[k] = |x[(k + shift) mod n]|²`: magnitude squared with an optional FFT shift
/// (as `numpy.fft.fftshift`: the lowest frequency first).
#[inline]
pub fn power_shifted(x: &[C32], out: &mut [f32], shift: bool) {
    let n = x.len();
    let h = if shift { n - n / 2 } else { 0 };
    let (lo, hi) = out.split_at_mut(n - h);
    for (o, x) in lo.iter_mut().zip(&x[h..]) {
        *o = x.re * x.re + x.im * x.im;
    }
    for (o, x) in hi.iter_mut().zip(&x[..h]) {
        *o = x.re * x.re + x.im * x.im;
    }
}

/// Rotates FFT-order bins (DC first) into shifted order (lowest frequency first), scaled.
pub fn shift_scaled(acc: &[f32], out: &mut [f32], scale: f32) {
    let n = acc.len();
    let h = n - n / 2;
    for (o, a) in out[..n - h].iter_mut().zip(&acc[h..]) {
        *o = a * scale;
    }
    for (o, a) in out[n - h..].iter_mut().zip(&acc[..h]) {
        *o = a * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bin_centred_tone_lands_in_its_bin_with_the_window_gain() {
        let n = 64;
        let mut e = FftEngine::new(n, Window::Rect);
        let tone: Vec<C32> = (0..n)
            .map(|k| C32::from_polar(1.0, std::f32::consts::TAU * 5.0 * k as f32 / n as f32))
            .collect();
        let x = e.transform(&tone).to_vec();
        assert!((x[5].norm() - n as f32).abs() < 1e-3);
        let mut p = vec![0.0; n];
        power_shifted(&x, &mut p, true);
        // Bin 5 becomes index 32 + 5 after the shift.
        assert!((p[37] - (n * n) as f32).abs() < 1.0);
        assert!(p.iter().enumerate().all(|(k, v)| k == 37 || *v < 1e-3));
        let mut acc = vec![0.0; n];
        accumulate_power(&x, &mut acc);
        accumulate_power(&x, &mut acc);
        let mut s = vec![0.0; n];
        shift_scaled(&acc, &mut s, 0.5);
        assert_eq!(s, p);
    }

    #[test]
    fn odd_sizes_shift_like_numpy() {
        // numpy.fft.fftshift([0, 1, 2, 3, 4]) == [3, 4, 0, 1, 2]
        let acc = [0.0, 1.0, 2.0, 3.0, 4.0];
        let mut out = [0.0; 5];
        shift_scaled(&acc, &mut out, 1.0);
        assert_eq!(out, [3.0, 4.0, 0.0, 1.0, 2.0]);
    }
}
