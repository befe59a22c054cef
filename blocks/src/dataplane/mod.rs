//! The data plane: sinks that hand data to other processes and to archival formats — the
//! shared-memory `ring_buffer` (Arrow IPC records), `hdf5_sink` and `digital_rf_sink`
//! (feature `hdf5`) — with the Arrow encoding, the HDF5 / Digital RF writers, the
//! `binary_archive` reader, the decimator and the `flow convert` / `flow bench ring`
//! commands they use.

pub mod archive_reader;
pub mod bench;
#[cfg(feature = "hdf5")]
pub mod convert;
pub mod decimate;
#[cfg(feature = "hdf5")]
pub mod digital_rf_sink;
#[cfg(not(feature = "hdf5"))]
mod disabled;
#[cfg(feature = "hdf5")]
pub mod drf;
pub mod encode;
#[cfg(feature = "hdf5")]
pub mod h5;
#[cfg(feature = "hdf5")]
pub mod hdf5_sink;
pub mod ring;
pub mod ring_buffer;
pub mod stream_clock;

#[cfg(test)]
mod tests;
