//! Debugging blocks: probes that print what flows.

pub mod fault_inject;
pub mod message_strobe;
pub mod tag_debug;
