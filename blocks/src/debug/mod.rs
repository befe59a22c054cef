//! Debugging blocks: probes that print what flows.

pub mod fault_inject;
pub mod tag_debug;
