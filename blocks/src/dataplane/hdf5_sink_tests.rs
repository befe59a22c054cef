//! Tests of `hdf5_sink` (feature `hdf5`), checked with h5py: stream datasets and their
//! attributes and segments, message tables, rotation, recovery from an injected HDF5 error,
//! and a stalled disk that never stalls the source under `drop_oldest`.

use std::time::{Duration, Instant};

use flow_framework::harness::Harness;
use flow_framework::metrics::BlockState;
use flow_framework::prelude::*;

use crate::dataplane::h5::faults;
use crate::dataplane::tests::py;

fn params(dir: &std::path::Path, extra: &str) -> String {
    format!("dir = {:?}\n{extra}", dir.to_str().unwrap())
}

/// Sums the samples of every finished file and checks them against the sample index.
const CHECK_COUNTER: &str = r#"
import sys, glob, json, h5py, numpy as np
files = sorted(glob.glob(sys.argv[1] + "/*.h5"))
out = {"files": len(files), "rows": 0, "segments": 0}
for p in files:
    with h5py.File(p, "r") as f:
        d, seg = f["samples"], f["segments"][:]
        x = d[:]
        out["rows"] += len(x)
        out["segments"] += len(seg)
        out["dtype"] = str(x.dtype)
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in d.attrs.items()}
        out["attrs"] = {k: (None if isinstance(v, float) and v != v else v) for k, v in attrs.items()}
        # Each segment maps rows to sample indices; the writer's values are the indices.
        for i, s in enumerate(seg):
            end = seg[i + 1]["position"] if i + 1 < len(seg) else len(x)
            want = np.arange(s["sample_index"], s["sample_index"] + end - s["position"])
            got = x[s["position"]:end]
            out["end_index"] = int(s["sample_index"]) + int(end - s["position"])
            if x.dtype == np.complex64:
                assert np.array_equal(got.real, want.astype(np.float32)), p
                assert np.array_equal(got.imag, -want.astype(np.float32)), p
            else:
                assert np.array_equal(got, want.astype(np.float32)), p
print(json.dumps(out, default=str))
"#;

fn counter_c32(from: u64, n: u64) -> Vec<C32> {
    (from..from + n)
        .map(|i| C32::new(i as f32, -(i as f32)))
        .collect()
}

#[test]
fn streams_become_complex_datasets_with_attributes_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(
        "hdf5_sink",
        &params(dir.path(), "units = \"V\"\nchunk = 1000"),
        &[ItemType::C32],
    )
    .unwrap();
    h.push_tag(0, 0, Tag::Rate(1000.0));
    h.push_tag(0, 0, Tag::Freq(10e6));
    h.push_tag(
        0,
        0,
        Tag::Time {
            ns: 1_700_000_000_000_000_000,
            source: TimeSource::Gpsdo,
        },
    );
    h.push_input(0, &counter_c32(0, 3000));
    h.push_tag(0, 0, Tag::Gap(500));
    h.push_input(0, &counter_c32(3500, 1000));
    h.run_to_end().unwrap();
    assert_eq!(
        (h.counter("rows"), h.counter("files"), h.counter("failures")),
        (4000, 1, 0)
    );
    let out = py::run(CHECK_COUNTER, &[dir.path().to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (
            v["files"].as_u64(),
            v["rows"].as_u64(),
            v["segments"].as_u64()
        ),
        (Some(1), Some(4000), Some(2)),
        "{v}"
    );
    assert_eq!(v["dtype"], "complex64");
    let a = &v["attrs"];
    assert_eq!(
        (a["sample_rate"].as_f64(), a["frequency_hz"].as_f64()),
        (Some(1000.0), Some(10e6)),
        "{a}"
    );
    assert_eq!(a["start_time_ns"].as_i64(), Some(1_700_000_000_000_000_000));
    assert_eq!(
        (
            a["units"].as_str(),
            a["time_source"].as_str(),
            a["item_type"].as_str()
        ),
        (Some("V"), Some("gpsdo"), Some("c32"))
    );
    assert_eq!(a["flow_version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
}

#[test]
fn an_hdf5_error_costs_one_file_not_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new("hdf5_sink", &params(dir.path(), ""), &[ItemType::C32]).unwrap();
    h.push_tag(0, 0, Tag::Rate(1000.0));
    h.push_input(0, &counter_c32(0, 1000));
    h.run_for(Duration::from_millis(50));
    faults::fail_next_writes(dir.path(), 1);
    h.push_input(0, &counter_c32(1000, 1000));
    h.run_to_end().unwrap();
    assert_eq!(
        (h.counter("failures"), h.counter("files"), h.counter("lost")),
        (1, 2, 0)
    );
    assert_eq!(
        h.metrics()
            .restarts
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let v: serde_json::Value =
        serde_json::from_str(py::run(CHECK_COUNTER, &[dir.path().to_str().unwrap()]).trim())
            .unwrap();
    assert_eq!(
        (v["files"].as_u64(), v["rows"].as_u64()),
        (Some(2), Some(2000)),
        "{v}"
    );
}

#[test]
fn files_rotate_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(
        "hdf5_sink",
        &params(dir.path(), "rotate_bytes = 8000\nchunk = 100"),
        &[ItemType::C32],
    )
    .unwrap();
    h.push_tag(0, 0, Tag::Rate(1000.0));
    for k in 0..5 {
        h.push_input(0, &counter_c32(k * 1000, 1000));
        h.run_for(Duration::from_millis(20));
    }
    h.run_to_end().unwrap();
    let v: serde_json::Value =
        serde_json::from_str(py::run(CHECK_COUNTER, &[dir.path().to_str().unwrap()]).trim())
            .unwrap();
    assert_eq!(
        (v["files"].as_u64(), v["rows"].as_u64()),
        (Some(5), Some(5000)),
        "{v}"
    );
}

#[test]
fn spectra_become_a_compound_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(
        "hdf5_sink",
        &params(dir.path(), "input = \"messages\""),
        &[],
    )
    .unwrap();
    for k in 0..4u64 {
        h.push_message(
            0,
            Message::new("spectrum")
                .with("time_ns", Value::Time(1_000 + k as i64))
                .with("index", k * 256)
                .with("center_hz", 10e6)
                .with("db", true)
                .with("power", vec![k as f32; 16]),
        );
    }
    h.run_to_end().unwrap();
    let out = py::run(
        r#"
import sys, glob, h5py, numpy as np
(p,) = glob.glob(sys.argv[1] + "/*.h5")
t = h5py.File(p, "r")["messages/spectrum"][:]
assert list(t.dtype.names) == ["time_ns", "index", "center_hz", "db", "power"], t.dtype
assert t["power"].shape == (4, 16) and np.array_equal(t["power"][:, 0], [0, 1, 2, 3])
assert list(t["index"]) == [0, 256, 512, 768] and list(t["time_ns"]) == [1000, 1001, 1002, 1003]
assert t["db"].all()
print(len(t))
"#,
        &[dir.path().to_str().unwrap()],
    );
    assert_eq!(out.trim(), "4");
}

#[test]
fn a_stalled_disk_never_stalls_the_source_under_drop_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let n = 400_000u64;
    let raw: Vec<u8> = counter_c32(0, n)
        .iter()
        .flat_map(|c| bytemuck::bytes_of(c).to_vec())
        .collect();
    std::fs::write(dir.path().join("in.c32"), raw).unwrap();
    let out = dir.path().join("h5");
    let text = format!(
        "[blocks.src]\ntype = \"file_source\"\nbuffer = 8192\npath = {:?}\nsample_rate = 1000.0\n\n\
         [blocks.h5]\ntype = \"hdf5_sink\"\ninputs = [\"src\"]\ndir = {:?}\npolicy = \"drop_oldest\"\n",
        dir.path().join("in.c32").to_str().unwrap(),
        out.to_str().unwrap()
    );
    std::fs::create_dir_all(&out).unwrap();
    faults::stall(&out);
    let g = flow_framework::config::load_str(&text, "fg.toml", dir.path(), &[]).unwrap();
    let fg = flow_framework::runtime::Flowgraph::start(&g).unwrap();
    let by_name = |n: &str| fg.blocks.iter().position(|b| b.name == n).unwrap();
    let (src, sink) = (by_name("src"), by_name("h5"));
    // The source must finish all its items while the sink is held in its first write.
    let deadline = Instant::now() + Duration::from_secs(30);
    while fg.blocks[src].metrics.state() != BlockState::Done {
        assert!(
            Instant::now() < deadline,
            "the source was stalled by the sink's disk: {:?} {} {:?}",
            fg.blocks[src].metrics.state(),
            fg.blocks[src].metrics.last_error(),
            fg.blocks[src].metrics.items_out[0].load(std::sync::atomic::Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        fg.blocks[sink].metrics.counter("rows").get(),
        0,
        "the sink is still stalled"
    );
    faults::release(&out);
    assert!(fg.wait_timeout(Duration::from_secs(30)));
    let rows = fg.blocks[sink].metrics.counter("rows").get();
    fg.wait();
    assert!(
        rows < n,
        "the stalled sink must have lost items ({rows} of {n} written)"
    );
    let v: serde_json::Value =
        serde_json::from_str(py::run(CHECK_COUNTER, &[out.to_str().unwrap()]).trim()).unwrap();
    assert_eq!(v["rows"].as_u64(), Some(rows), "{v}");
    assert!(
        v["segments"].as_u64().unwrap() >= 2 || v["attrs"]["start_index"].as_u64().unwrap() > 0,
        "the loss shows in the sample indices of the file: {v}"
    );
    assert_eq!(
        v["end_index"].as_u64(),
        Some(n),
        "sample indices stay exact across the loss: {v}"
    );
}

#[test]
fn storage_limits_delete_the_oldest_finished_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(
        "hdf5_sink",
        &params(
            dir.path(),
            "chunk = 1000\nrotate_bytes = 40000\nlimits = { max_bytes = 250000 }",
        ),
        &[ItemType::F32],
    )
    .unwrap();
    h.push_tag(0, 0, Tag::Rate(1000.0));
    for k in 0..12u64 {
        let v: Vec<f32> = (k * 10_000..(k + 1) * 10_000).map(|i| i as f32).collect();
        h.push_input(0, &v);
        h.run();
    }
    h.run_to_end().unwrap();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(h.counter("evicted") >= 2, "{files:?}");
    assert!(files
        .iter()
        .all(|f| f.extension().is_some_and(|x| x == "h5")));
    let used: u64 = files
        .iter()
        .map(|f| crate::util::retention::space::allocated_at(f))
        .sum();
    assert!(used <= 250_000, "{used}");
    // h5py: what is left is the newest data, ending at the last sample.
    let out = py::run(CHECK_COUNTER, &[dir.path().to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["end_index"], 120_000, "{v}");
    assert_eq!(
        v["files"].as_u64().unwrap() + h.counter("evicted"),
        h.counter("files"),
        "{v}"
    );
}
