//! Harness tests of the `ring_buffer` sink: what lands in the ring, decoded back with the
//! Arrow IPC reader.

use std::io::Cursor;

use arrow_array::{Array, FixedSizeListArray, Float32Array, ListArray, RecordBatch};
use arrow_ipc::reader::StreamReader;
use flow_framework::harness::Harness;
use flow_framework::prelude::*;

use crate::dataplane::ring::{Next, RingReader};

fn decode(r: &RingReader, body: &[u8]) -> RecordBatch {
    let stream = [r.schema(), body].concat();
    let mut rd = StreamReader::try_new(Cursor::new(stream), None).unwrap();
    rd.next().unwrap().unwrap()
}

#[test]
fn stream_records_carry_samples_time_rate_and_split_at_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iq.ring");
    let params = format!(
        "path = {:?}\nseconds = 10\nmax_rows = 100",
        path.to_str().unwrap()
    );
    let mut h = Harness::new("ring_buffer", &params, &[ItemType::C32]).unwrap();
    let x: Vec<C32> = (0..250).map(|i| C32::new(i as f32, -(i as f32))).collect();
    h.push_tag(0, 0, Tag::Rate(1000.0));
    h.push_tag(
        0,
        0,
        Tag::Time {
            ns: 1_000_000_000_000,
            source: TimeSource::Gpsdo,
        },
    );
    h.push_tag(0, 0, Tag::Freq(10e6));
    h.push_tag(0, 150, Tag::Gap(50));
    h.push_input(0, &x);
    h.run_to_end().unwrap();
    assert_eq!(h.counter("rows"), 250);
    let mut r = RingReader::attach(&path).unwrap();
    let mut body = Vec::new();
    let mut recs = Vec::new();
    while let Next::Record(rec) = r.next(&mut body) {
        let b = decode(&r, &body);
        let iq = b
            .column(0)
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .unwrap();
        let v = iq.values().as_any().downcast_ref::<Float32Array>().unwrap();
        recs.push((
            rec.first_index,
            rec.rows,
            rec.time_ns,
            v.value(0),
            rec.rate_hz,
            rec.freq_hz,
        ));
    }
    let t0 = 1_000_000_000_000;
    assert_eq!(
        recs,
        vec![
            (0, 100, t0, 0.0, 1000.0, 10e6),
            (100, 50, t0 + 100_000_000, 100.0, 1000.0, 10e6),
            // 50 samples lost before item 150: its sample index is 200.
            (200, 100, t0 + 200_000_000, 150.0, 1000.0, 10e6),
        ]
    );
    assert_eq!(
        r.header().state.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}

#[test]
fn spectrum_messages_become_rows_with_their_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.ring");
    let params = format!(
        "path = {:?}\ninput = \"messages\"\nbytes = 1000000",
        path.to_str().unwrap()
    );
    let mut h = Harness::new("ring_buffer", &params, &[]).unwrap();
    for k in 0..3u64 {
        h.push_message(
            0,
            Message::new("spectrum")
                .with("time_ns", Value::Time(5_000 + k as i64))
                .with("index", k * 1024)
                .with("center_hz", 10e6)
                .with("bin_hz", 10.0)
                .with("start_hz", 10e6 - 5e3)
                .with("averages", 4u64)
                .with("db", true)
                .with("power", vec![k as f32; 8]),
        );
    }
    h.run_to_end().unwrap();
    let mut r = RingReader::attach(&path).unwrap();
    let mut body = Vec::new();
    let mut rows = 0;
    while let Next::Record(rec) = r.next(&mut body) {
        let b = decode(&r, &body);
        assert_eq!(b.schema().metadata()["flow.message_kind"], "spectrum");
        assert_eq!(rec.time_ns, 5_000 + rows as i64);
        let power = b
            .column_by_name("power")
            .unwrap()
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap();
        assert_eq!(power.value(0).len(), 8);
        rows += b.num_rows();
    }
    assert_eq!(rows, 3);
    // The same, as a Python user reads it.
    let out = crate::dataplane::tests::py::run(
        r#"
import sys, numpy as np, flow_ring
r = flow_ring.attach(sys.argv[1])
t = r.latest(3600).table()
assert t.schema.metadata[b"flow.message_kind"] == b"spectrum"
assert t.column("index").to_pylist() == [0, 1024, 2048]
assert str(t.schema.field("time_ns").type) == "timestamp[ns, tz=UTC]"
p = np.stack(t.column("power").to_numpy(zero_copy_only=False))
assert p.shape == (3, 8) and list(p[:, 0]) == [0.0, 1.0, 2.0]
print("ok")
"#,
        &[path.to_str().unwrap()],
    );
    assert_eq!(out.trim(), "ok");
}

#[test]
fn sizing_by_seconds_without_a_rate_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let params = format!("path = {:?}", dir.path().join("x.ring").to_str().unwrap());
    let mut h = Harness::new("ring_buffer", &params, &[ItemType::F32]).unwrap();
    h.push_input(0, &[1.0f32; 10]);
    h.run_to_end().unwrap();
    assert!(
        h.metrics()
            .last_error()
            .contains("set `sample_rate` or `bytes`"),
        "{}",
        h.metrics().last_error()
    );
}
