//! SDR sources: the rtl_tcp network client, recorded I/Q playback (raw and SigMF), and
//! SoapySDR devices (feature `soapy`).

pub mod iq_file_source;
pub mod iq_format;
pub mod rtl_tcp_connect;
pub mod rtl_tcp_protocol;
pub mod rtl_tcp_source;
pub mod sigmf_meta;
#[cfg(feature = "soapy")]
pub mod soapy_source;
