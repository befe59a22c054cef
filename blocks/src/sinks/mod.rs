//! Sink blocks: discard, raw files, message logs, the live web view.

pub mod file_sink;
pub mod message_sink;
pub mod null_sink;
pub mod web_spectrum;
