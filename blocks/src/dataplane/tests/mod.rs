//! Data plane tests that span modules (`flow convert` end to end) and the Python runner
//! the block tests (`*_tests.rs` beside each block) share.

#[cfg(feature = "hdf5")]
mod convert;
pub(crate) mod py;
