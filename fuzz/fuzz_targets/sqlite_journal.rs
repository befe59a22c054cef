//! Fuzz target: arbitrary bytes as an `sqlite` sink journal are split into whole records and
//! decoded (or rejected) without a panic, as start-up recovery does.
#![no_main]

use flow_blocks::sinks::sqlite::journal;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = journal::MAGIC.to_vec();
    bytes.extend_from_slice(data);
    let (bodies, _) = journal::bodies(&bytes);
    let _ = journal::decode_all(bodies);
});
