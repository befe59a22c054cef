//! Sink blocks: discard, raw files, message logs.

pub mod file_sink;
pub mod message_sink;
pub mod null_sink;
