//! # flow-blocks
//!
//! The standard block library of flow. Each block lives in its own file, named after its
//! TOML `type`, with its params struct, its docs and its one registration line:
//! `grep -rn 'NAME: &str = "copy"' blocks/src` finds any block.
//!
//! | family | blocks |
//! |---|---|
//! | [`sources`] | `signal_source`, `null_source`, `file_source` |
//! | [`stream`] | `copy`, `head`, `throttle`, `multiply_const`, `add` |
//! | [`sinks`] | `null_sink`, `file_sink`, `message_sink`, `sqlite`, `web_spectrum` |
//! | [`debug`] | `tag_debug`, `fault_inject`, `message_strobe` |
//! | [`dsp`] | `decimate`, `fft`, `psd`, `cfar`, `peaks` |
//! | [`grape`] | `wwv_sim`, `tone_detect` |
//! | [`net`] | `rtp_source`, `rtp_sink`, `zmq_pub_sink`, `zmq_sub_source`, `zmq_push_sink`, `zmq_pull_source` |
//! | [`archive`] | `binary_archive` |
//! | [`instrument`] | `serial_source` |
//! | [`sdr`] | `rtl_tcp_source`, `iq_file_source`, `soapy_source` (feature `soapy`) |
//! | [`dataplane`] | `ring_buffer`; `hdf5_sink`, `digital_rf_sink` (feature `hdf5`) |

pub mod archive;
pub mod dataplane;
pub mod debug;
pub mod dsp;
pub mod grape;
pub mod instrument;
pub mod net;
pub mod sdr;
pub mod sinks;
pub mod sources;
pub mod stream;
pub mod upload;
pub mod util;

/// Links this crate into a binary so that its blocks' registrations are kept: call it once
/// from `main` (a crate nobody references is dropped by the linker, and its blocks with it).
pub fn link() {}
