//! Storage limits for every storing sink: a maximum size, a maximum age and a free-space
//! watermark for the sink's filesystem, kept by deleting the oldest *finished* files first,
//! never a file being written, and (with `require_confirmation`) never one a downstream
//! consumer has not confirmed. See docs/durability.md ("Storage limits").
//!
//! | module | purpose |
//! |---|---|
//! | [`limits`] | the `limits` parameter table and its value types |
//! | [`layout`] | how a sink's files group into deletable units; rotated file names |
//! | [`confirm`] | `.confirmed` markers written by consumers |
//! | [`space`] | statvfs and allocated sizes |
//! | [`engine`] | the engine a sink owns: admission of writes, eviction, policy, health |
//! | [`rotate`] | rotation by size and time for sinks that write one growing file |

pub mod confirm;
pub mod engine;
pub mod layout;
pub mod limits;
pub mod rotate;
pub mod space;

pub use engine::Retention;
pub use layout::{Layout, Rotated, Unit};
pub use limits::{ByteSize, FreeSpace, Limits, OnFull};

#[cfg(test)]
mod tests;
