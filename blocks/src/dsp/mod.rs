//! Signal processing blocks and the math behind them: windows, FFT, Welch PSD, CFAR
//! detection and peak grouping.

pub mod cfar_threshold;
pub mod fft_engine;
pub mod noise_stats;
pub mod spectrum;
pub mod window;
pub mod peak_interp;
pub mod psd;
pub mod stream_meta;
pub mod welch;
pub mod cfar_detect;
pub mod cfar;
pub mod peak_group;
pub mod peak_track;
pub mod peaks;
pub mod special;
pub mod fft;
