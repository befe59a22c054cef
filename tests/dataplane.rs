//! Data plane end to end: a Python reader (`python/flow_ring.py`, pyarrow, numpy) follows a
//! ring buffer while `flow run` writes it, and the ring layout seen from Python matches
//! the Rust `#[repr(C)]` structs and docs/ring-buffer.md. These tests need python3 with
//! pyarrow and numpy, and fail (not skip) without them.

use std::io::{BufRead, BufReader};
use std::mem::offset_of;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use flow_blocks::dataplane::ring::layout::{self, IndexEntry, RecordHeader, RingHeader};

use crate::util::Sandbox;

fn python_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// `python3 SCRIPT ARGS` with `python/` on the path; panics with its output on failure.
fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(python_dir().join("tests").join(script))
        .args(args)
        .env("PYTHONPATH", python_dir())
        .output()
        .expect("python3 must be installed (with numpy and pyarrow) for the data plane tests");
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{so}\n{se}",
        out.status
    );
    so.into_owned()
}

macro_rules! offsets {
    ($t:ty: $($f:ident),*) => {
        {
            let mut m = serde_json::Map::new();
            $(m.insert(stringify!($f).to_string(), offset_of!($t, $f).into());)*
            serde_json::Value::Object(m)
        }
    };
}

fn rust_offsets() -> serde_json::Value {
    serde_json::json!({
        "header": offsets!(RingHeader: magic, version, header_size, capacity_bytes, data_offset,
            schema_offset, schema_capacity, schema_len, index_offset, index_entries, generation,
            created_ns, span_ns, kind, item_size, write_head, head_seq, last_time_ns, writer_pid,
            state, read_tail, tail_seq, rows_written, overwritten, recoveries, rejected),
        "record": offsets!(RecordHeader: seq, body_len, rows, time_ns, end_time_ns, first_index,
            rate_hz, freq_hz, written_mono_ns),
        "index": offsets!(IndexEntry: seq, pos, time_ns, end_time_ns),
        "constants": {
            "MAGIC": layout::MAGIC, "VERSION": layout::VERSION, "HEADER_SIZE": layout::HEADER_SIZE,
            "RECORD_HEADER_SIZE": layout::RECORD_HEADER_SIZE,
            "INDEX_ENTRY_SIZE": layout::INDEX_ENTRY_SIZE,
            "STATE_WRITING": layout::STATE_WRITING, "STATE_CLOSED": layout::STATE_CLOSED,
        },
    })
}

#[test]
fn python_reader_layout_matches_the_rust_structs() {
    let json = rust_offsets().to_string();
    assert_eq!(python("ring_layout_check.py", &[&json]).trim(), "ok");
}

#[test]
fn documented_header_offsets_match_the_rust_structs() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/ring-buffer.md"),
    )
    .unwrap();
    let want = rust_offsets();
    let mut seen = 0;
    // Table rows: | offset | field | type | meaning |
    for line in doc.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Ok(off), Some(name)) = (cells[1].parse::<u64>(), cells.get(2)) else {
            continue;
        };
        let name = name.trim_matches('`');
        let found = ["header", "record", "index"]
            .iter()
            .filter_map(|t| want[t].get(name))
            .any(|v| v.as_u64() == Some(off));
        assert!(found, "docs/ring-buffer.md says `{name}` is at {off}");
        seen += 1;
    }
    assert_eq!(seen, 26 + 9 + 4, "every field is documented");
}

fn follow(item: &str) {
    let sb = Sandbox::new();
    let total = 300_000u64;
    let data: Vec<u8> = match item {
        "f32" => (0..total).flat_map(|i| (i as f32).to_le_bytes()).collect(),
        _ => (0..total)
            .flat_map(|i| [(i as f32).to_le_bytes(), (-(i as f32)).to_le_bytes()].concat())
            .collect(),
    };
    std::fs::write(sb.path().join("in.raw"), data).unwrap();
    let ring = sb.path().join("x.ring");
    let fg = sb.write(
        "fg.toml",
        &format!(
            "[blocks.src]\ntype = \"file_source\"\npath = \"in.raw\"\nitem = \"{item}\"\nthrottle = true\nsample_rate = 200000.0\n\n\
             [blocks.ring]\ntype = \"ring_buffer\"\ninputs = [\"src\"]\npath = {:?}\nbytes = 65536\nmax_rows = 256\n",
            ring.to_str().unwrap()
        ),
    );
    // The reader first imports numpy/pyarrow and says so; only then does the writer start.
    let mut py = Command::new("python3")
        .arg(python_dir().join("tests").join("ring_follow_check.py"))
        .args([ring.to_str().unwrap(), item, &total.to_string(), "100"])
        .env("PYTHONPATH", python_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 must be installed (with numpy and pyarrow) for the data plane tests");
    let mut lines = BufReader::new(py.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let mut flow = sb.flow().args(["run", "-q"]).arg(&fg).spawn().unwrap();
    let summary = lines.next().and_then(Result::ok).unwrap_or_default();
    let out = py.wait_with_output().unwrap();
    assert!(
        first == "ready" && out.status.success(),
        "ring_follow_check.py failed ({}): {first}\n{summary}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let status = flow.wait().unwrap();
    assert!(status.success(), "flow run failed");
    let s: serde_json::Value = serde_json::from_str(summary.trim()).unwrap();
    assert!(s["records"].as_u64().unwrap() > 100, "{s}");
    assert!(
        s["missed_records"].as_u64().unwrap() > 0,
        "the pause must have cost records: {s}"
    );
    assert_eq!(
        s["zero_copy"], true,
        "samples must be views of the mapping: {s}"
    );
    assert_eq!(s["header"]["rows_written"], total, "{s}");
    assert!(s["header"]["overwritten"].as_u64().unwrap() > 0, "{s}");
}

#[test]
fn python_follows_a_c32_ring_while_flow_writes_it() {
    follow("c32");
}

#[test]
fn python_follows_an_f32_ring_while_flow_writes_it() {
    follow("f32");
}

#[test]
fn daq_flowgraph_checks_or_names_the_feature_it_needs() {
    let sb = Sandbox::new();
    let fg = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("flowgraphs/daq.toml");
    let out = sb.run(
        &["check", fg.to_str().unwrap()],
        std::time::Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "hdf5") {
        assert!(out.status.success(), "{err}");
    } else {
        assert_eq!(out.status.code(), Some(1));
        assert!(err.contains("block type `hdf5_sink` of block `h5` is not in this build: it needs the cargo feature `hdf5`"), "{err}");
        assert!(
            err.contains(
                "rebuild with `cargo build --release --features hdf5` (needs libhdf5-dev)"
            ),
            "{err}"
        );
    }
}

#[test]
fn a_ring_survives_kill_9_and_the_next_run_resumes_it() {
    use flow_blocks::dataplane::ring::RingReader;
    use std::sync::atomic::Ordering;
    let sb = Sandbox::new();
    let ring = sb.path().join("k.ring");
    let fg = sb.write(
        "fg.toml",
        &format!(
            "[blocks.src]\ntype = \"signal_source\"\nitem = \"c32\"\namplitude = 0.5\nsample_rate = 100000.0\n\n\
             [blocks.pace]\ntype = \"throttle\"\ninputs = [\"src\"]\nrate = 100000.0\n\n\
             [blocks.ring]\ntype = \"ring_buffer\"\ninputs = [\"pace\"]\npath = {:?}\nseconds = 2\nmax_rows = 1024\n",
            ring.to_str().unwrap()
        ),
    );
    let mut flow = sb.flow().args(["run", "-q"]).arg(&fg).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let published = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the ring never filled"
        );
        if let Ok(r) = RingReader::attach(&ring) {
            let n = r.header().head_seq.load(Ordering::Acquire);
            if n > 300 {
                break n;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    flow.kill().unwrap(); // SIGKILL, mid-stream
    flow.wait().unwrap();
    let check = r#"
import sys, numpy as np, flow_ring
r = flow_ring.attach(sys.argv[1])
res = r.read(r.tail_seq, r.head_seq)
assert res.records and res.missed == 0, (len(res.records), res.missed)
x = res.samples()
assert np.allclose(np.abs(x), 0.5, atol=1e-3), "torn or wrong samples"
idx = [rec.first_index for rec in res.records]
assert all(b - a == rec.rows for a, b, rec in zip(idx, idx[1:], res.records)), "indices not contiguous"
print(r.header()["state"], r.head_seq)
"#;
    let out = Command::new("python3")
        .args(["-c", check, ring.to_str().unwrap()])
        .env("PYTHONPATH", python_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let so = String::from_utf8_lossy(&out.stdout);
    let (state, head): (u32, u64) = {
        let mut w = so.split_whitespace();
        (
            w.next().unwrap().parse().unwrap(),
            w.next().unwrap().parse().unwrap(),
        )
    };
    assert_eq!(
        state, 1,
        "a killed writer leaves the ring marked as writing"
    );
    assert!(head >= published);
    // The next run resumes the same file and goes on numbering records after it.
    let out = sb.run(
        &["run", "-q", "--duration", "500ms", fg.to_str().unwrap()],
        std::time::Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = RingReader::attach(&ring).unwrap();
    let h = r.header();
    assert_eq!(h.recoveries.load(Ordering::Relaxed), 1);
    assert!(h.head_seq.load(Ordering::Relaxed) > head);
    assert_eq!(h.state.load(Ordering::Relaxed), 2);
}
