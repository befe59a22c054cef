//! Debugging blocks: probes that print what flows.

pub mod tag_debug;
