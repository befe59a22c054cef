//! Source blocks: generators and file playback.

pub mod file_source;
pub mod null_source;
pub mod signal_source;
