//! What this build leaves out when the `hdf5` feature is off: the HDF5 and Digital RF
//! sinks and `flow convert` are declared so `flow check` and `flow convert` explain how to
//! enable them instead of calling them unknown.

const NEEDS: &str = "needs libhdf5-dev";

flow_framework::register_disabled_block!("hdf5_sink", "hdf5", NEEDS);
flow_framework::register_disabled_block!("digital_rf_sink", "hdf5", NEEDS);

fn convert(_: &[std::ffi::OsString]) -> std::process::ExitCode {
    eprintln!("error: `flow convert` writes Digital RF (HDF5) and needs the cargo feature `hdf5`: rebuild with `cargo build --release --features hdf5` ({NEEDS})");
    std::process::ExitCode::from(2)
}

flow_framework::register_command!(
    "convert",
    "A day of binary_archive minutes to 10 Hz Digital RF (feature hdf5).",
    convert
);
