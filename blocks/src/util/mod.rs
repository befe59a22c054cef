//! Helpers shared by several blocks: fsync policies and parameter types.

pub mod atomic;
pub mod duration;
pub mod fsync;
pub mod retention;
