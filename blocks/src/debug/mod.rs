//! Debugging blocks: probes that print what flows.

pub mod message_strobe;
pub mod tag_debug;
