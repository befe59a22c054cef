//! Fuzz target: arbitrary text as a flowgraph file must give a graph or diagnostics, never a
//! panic (every registered block's params are parsed and validated).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    flow_blocks::link();
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = flow_framework::config::load_str(text, "fuzz.toml", std::path::Path::new("."), &[]);
    }
});
