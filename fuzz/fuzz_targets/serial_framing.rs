//! Fuzz target: serial framing (lines, binary frames with every checksum) and parsing (CSV,
//! regex, binary layouts) of arbitrary bytes never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = flow_blocks::instrument::exercise::frame_and_parse(data);
});
