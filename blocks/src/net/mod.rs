//! Network blocks: ZeroMQ sources and sinks compatible with GNU Radio's gr-zeromq.

pub mod runtime;
pub mod zmq;
