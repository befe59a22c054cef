//! Signal processing blocks and the math behind them: filtering and rate change, windows,
//! FFT, Welch PSD, CFAR detection and peak grouping.

pub mod cfar;
pub mod cfar_detect;
pub mod cfar_threshold;
pub mod decimate;
pub mod fft;
pub mod fft_engine;
pub mod fir_chain;
pub mod fir_design;
pub mod noise_stats;
pub mod peak_group;
pub mod peak_interp;
pub mod peak_track;
pub mod peaks;
pub mod psd;
pub mod special;
pub mod spectrum;
pub mod stream_meta;
pub mod welch;
pub mod window;
