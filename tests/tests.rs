//! End-to-end tests: one test binary that runs the `flow` command line against real files,
//! sockets and processes. Each area has its own module; `util` sets up temporary directories
//! and runs the binary.

mod util;

mod archive_compress;
mod cli;
mod control;
mod crash;
#[cfg(feature = "hdf5")]
mod daily;
mod dataplane;
#[cfg(feature = "hdf5")]
mod dataplane_hdf5;
mod faults;
mod flap;
mod grape_demo;
mod grape_dsp;
mod grape_io;
mod instrument;
mod plan;
mod registry;
mod retention;
mod serial_restart;
mod service;
mod spectrum;
mod sshd;
mod upload;
mod upstream;
