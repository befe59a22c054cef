//! `serial_source` against real pseudo-terminals driven by the test: line framing, regex and
//! CSV parsing, binary frames with bad checksums, malformed input, unplug and replug.

use std::io::Write;
use std::time::{Duration, Instant};

use flow_framework::harness::Harness;
use flow_framework::metrics::Health;
use flow_framework::prelude::*;

use super::checksum::Checksum;
use super::pty::Pty;

fn source(port: &std::path::Path, extra: &str) -> Harness {
    let params = format!(
        "port = {:?}\nexclusive = false\nread_timeout = \"20ms\"\n{extra}",
        port.to_str().unwrap()
    );
    Harness::new("serial_source", &params, &[]).unwrap()
}

/// Runs the live source until `done` holds (at most 10 s).
fn run_until(h: &mut Harness, done: impl Fn(&Harness) -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !done(h) {
        assert!(
            Instant::now() < end,
            "timed out; counters: {:?}",
            h.metrics().custom_counters()
        );
        h.run_for(Duration::from_millis(20));
    }
}

#[test]
fn regex_lines_become_typed_measurements_and_malformed_lines_are_counted() {
    let mut pty = Pty::open().unwrap();
    let mut h = source(&pty.path, "terminator = \"\\r\\n\"\nparse = \"regex\"\npattern = '^V=(?P<volts>[-0-9.]+) (?P<unit>\\w+)$'\nfields = [{ name = \"volts\", type = \"f64\" }, { name = \"unit\", type = \"str\" }]");
    pty.master
        .write_all(b"V=1.25 mV\r\nV=oops\r\n\xff\xfe\r\n\r\nV=-3 V\r\nV=2")
        .unwrap();
    run_until(&mut h, |h| {
        h.messages(0).len() == 2 && h.counter("malformed") == 2
    });
    pty.master.write_all(b".5 V\r\n").unwrap();
    run_until(&mut h, |h| h.messages(0).len() == 3);
    let m = h.messages(0);
    assert_eq!(m[0].kind.as_ref(), "measurement");
    assert_eq!(m[0].get("volts"), Some(&Value::F64(1.25)));
    assert_eq!(m[0].get("unit"), Some(&Value::from("mV")));
    assert!(matches!(m[0].get("time"), Some(Value::Time(t)) if *t > 1_600_000_000_000_000_000));
    let seqs: Vec<_> = m.iter().map(|m| m.get("seq").cloned()).collect();
    assert_eq!(
        seqs,
        vec![
            Some(Value::U64(0)),
            Some(Value::U64(1)),
            Some(Value::U64(2))
        ]
    );
    assert_eq!(m[2].get("volts"), Some(&Value::F64(2.5)));
    assert_eq!(h.counter("malformed"), 2);
    assert_eq!(h.metrics().health().0, Health::Ok);
}

#[test]
fn csv_lines_parse_by_column() {
    let mut pty = Pty::open().unwrap();
    let mut h = source(&pty.path, "parse = \"csv\"\ndelimiter = \";\"\nfields = [{ name = \"t\", type = \"i64\" }, { name = \"_\", type = \"str\" }, { name = \"ph\", type = \"f64\" }]");
    pty.master.write_all(b"17;x;7.01\n18;y\n").unwrap();
    run_until(&mut h, |h| {
        h.messages(0).len() == 1 && h.counter("malformed") == 1
    });
    assert_eq!(
        h.messages(0)[0]
            .to_string()
            .split_once(" seq=0 ")
            .unwrap()
            .1,
        "t=17 ph=7.01"
    );
}

fn frame(payload: &[u8], sum: Checksum) -> Vec<u8> {
    let mut v = vec![0x7E];
    v.extend_from_slice(payload);
    let (c, n) = sum.compute(payload);
    v.extend_from_slice(&c[..n]);
    v
}

#[test]
fn binary_frames_with_bad_checksums_are_skipped_and_good_ones_decoded() {
    let mut pty = Pty::open().unwrap();
    let mut h = source(&pty.path, "framing = \"binary\"\nframe_start = 126\nframe_length = 7\nchecksum = \"crc16_modbus\"\nparse = \"binary\"\nfields = [{ name = \"raw\", type = \"u16_be\" }, { name = \"temp\", type = \"i16_le\" }]");
    let mut bytes = frame(&[0x01, 0x00, 0xF6, 0xFF], Checksum::Crc16Modbus);
    let mut bad = frame(&[0x02, 0x00, 0x01, 0x00], Checksum::Crc16Modbus);
    bad[5] ^= 0xFF;
    bytes.extend(bad);
    bytes.extend(frame(&[0x03, 0x00, 0x64, 0x00], Checksum::Crc16Modbus));
    pty.master.write_all(&bytes).unwrap();
    run_until(&mut h, |h| h.messages(0).len() == 2);
    let m = h.messages(0);
    assert_eq!(
        (m[0].get("raw"), m[0].get("temp")),
        (Some(&Value::I64(256)), Some(&Value::I64(-10)))
    );
    assert_eq!(
        (m[1].get("raw"), m[1].get("temp")),
        (Some(&Value::I64(768)), Some(&Value::I64(100)))
    );
    assert!(h.counter("malformed") >= 1);
}

#[test]
fn raw_framing_passes_bytes_through() {
    let mut pty = Pty::open().unwrap();
    let mut h = source(&pty.path, "framing = \"raw\"");
    let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    pty.master.write_all(&data).unwrap();
    run_until(&mut h, |h| h.output::<u8>(0).len() == data.len());
    assert_eq!(h.output::<u8>(0), data);
}

#[test]
fn unplug_is_reported_and_the_replugged_device_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("meter");
    let mut first = Pty::open().unwrap();
    std::os::unix::fs::symlink(&first.path, &link).unwrap();
    let mut h = source(
        &link,
        "parse = \"csv\"\nfields = [{ name = \"v\", type = \"f64\" }]\nreconnect_max = \"200ms\"",
    );
    first.master.write_all(b"1\n2\n").unwrap();
    run_until(&mut h, |h| h.messages(0).len() == 2);
    drop(first); // unplug: master and our slave descriptor closed
    run_until(&mut h, |h| h.counter("disconnects") == 1);
    let (health, why) = h.metrics().health();
    assert_eq!(health, Health::Degraded);
    assert!(why.contains("lost") || why.contains("cannot open"), "{why}");
    let mut second = Pty::open().unwrap();
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&second.path, &link).unwrap();
    second.master.write_all(b"3\n").unwrap();
    run_until(&mut h, |h| h.messages(0).len() == 3);
    assert_eq!(h.messages(0)[2].get("v"), Some(&Value::F64(3.0)));
    assert_eq!(h.messages(0)[2].get("seq"), Some(&Value::U64(2)));
    assert_eq!(h.counter("reconnects"), 1);
    assert_eq!(h.metrics().health().0, Health::Ok);
}

#[test]
fn a_missing_port_is_retried_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("later");
    let mut h = source(&link, "reconnect_max = \"100ms\"");
    h.run_for(Duration::from_millis(50));
    assert!(!h.is_done());
    assert_eq!(h.metrics().health().0, Health::Degraded);
    let mut pty = Pty::open().unwrap();
    std::os::unix::fs::symlink(&pty.path, &link).unwrap();
    pty.master.write_all(b"hello\n").unwrap();
    run_until(&mut h, |h| h.messages(0).len() == 1);
    assert_eq!(h.messages(0)[0].get("line"), Some(&Value::from("hello")));
}

#[test]
fn validation_names_the_parameter() {
    use super::serial_source::{SerialSourceDef, SerialSourceParams};
    let p: SerialSourceParams = toml::from_str("port = \"/dev/x\"\nframing = \"binary\"\nparse = \"csv\"\ndata_bits = 9\nfields = [{ name = \"a\", type = \"f64\" }]").unwrap();
    let errs = SerialSourceDef::validate(&p);
    let keys: Vec<&str> = errs.iter().map(|e| e.param.as_str()).collect();
    assert_eq!(keys, ["data_bits", "framing", "parse"], "{errs:?}");
}
