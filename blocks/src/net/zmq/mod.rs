//! ZeroMQ blocks, wire-compatible with GNU Radio 3.10's gr-zeromq: `zmq_pub_sink`,
//! `zmq_sub_source`, `zmq_push_sink`, `zmq_pull_source`.
//!
//! Messages carry raw items (native little-endian layout, as GNU Radio sends them), preceded
//! by gr-zeromq's tag header ([`header`]) when `pass_tags` is on; sources recognise the
//! header by its magic whatever they are told. Tags map to GNU Radio's `rx_time`, `rx_rate`,
//! `rx_freq` ([`tags`]), encoded as PMTs ([`pmt`]). See `docs/zmq.md`.

pub mod header;
pub mod pmt;
pub mod sink;
pub mod socket;
pub mod source;
pub mod tags;
pub mod zmq_pub_sink;
pub mod zmq_pull_source;
pub mod zmq_push_sink;
pub mod zmq_sub_source;

use flow_framework::prelude::ParamError;

pub(crate) fn default_hwm() -> usize {
    1000
}
pub(crate) fn default_max_items() -> usize {
    8192
}
pub(crate) fn default_true() -> bool {
    true
}

/// Checks an endpoint and a high-water mark.
pub(crate) fn validate(address: &str, hwm: usize) -> Vec<ParamError> {
    let mut e = Vec::new();
    if !(address.starts_with("tcp://") || address.starts_with("ipc://")) {
        e.push(ParamError::new(
            "address",
            format!("`{address}` is not a ZeroMQ endpoint: use tcp://HOST:PORT or ipc://PATH"),
        ));
    } else if address.starts_with("tcp://") && !address[6..].contains(':') {
        e.push(ParamError::new(
            "address",
            format!("`{address}` has no port: use tcp://HOST:PORT"),
        ));
    }
    if hwm == 0 {
        e.push(ParamError::new("hwm", "must be at least 1 message"));
    }
    e
}

#[cfg(test)]
mod gnuradio_tests;
#[cfg(test)]
mod testblocks;
#[cfg(test)]
mod tests;
