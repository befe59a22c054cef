//! HDF5 writing for the `hdf5_sink` block (cargo feature `hdf5`): stream datasets, message
//! tables, file life (SWMR, rotation, recovery), the raw libhdf5 calls the crate lacks, and
//! fault injection for tests.

pub mod faults;
pub mod file;
pub mod raw;
pub mod stream;
pub mod table;
