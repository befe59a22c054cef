//! Tests of the data plane blocks through the block harness.

#[cfg(feature = "hdf5")]
mod convert;
#[cfg(feature = "hdf5")]
mod digital_rf;
#[cfg(feature = "hdf5")]
mod hdf5_sink;
#[cfg(feature = "hdf5")]
mod py;
mod ring_buffer;
