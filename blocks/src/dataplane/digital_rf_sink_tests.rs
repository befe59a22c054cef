//! `digital_rf_sink` read back with the `digital_rf` package: bounds, sample values of two
//! subchannels across a gap and a file boundary, properties and GRAPE metadata; and a
//! restart that continues the same hour's file.

use flow_framework::harness::Harness;
use flow_framework::prelude::*;

use crate::dataplane::tests::py;

const T0: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z

fn params(dir: &std::path::Path) -> String {
    format!(
        "dir = {:?}\nuuid = \"S000123\"\nfile_cadence_ms = 60000\nsubdir_cadence_secs = 3600\n\
         metadata = {{ callsign = \"AB1CD\", grid_square = \"FN42ab\", receiver_name = \"flow\", lat = 42.5, long = -71.25, center_frequencies_mhz = [5.0, 10.0] }}",
        dir.to_str().unwrap()
    )
}

fn run(dir: &std::path::Path, from: u64, n: u64, gap_at: Option<u64>) {
    let mut h = Harness::new(
        "digital_rf_sink",
        &params(dir),
        &[ItemType::C32, ItemType::C32],
    )
    .unwrap();
    for port in 0..2 {
        h.push_tag(port, 0, Tag::Rate(10.0));
        h.push_tag(
            port,
            0,
            Tag::Time {
                ns: (T0 + from as i64 / 10) * 1_000_000_000,
                source: TimeSource::Gpsdo,
            },
        );
    }
    let a = |i: u64| C32::new(i as f32, 1.0);
    let b = |i: u64| C32::new(-(i as f32), 2.0);
    let split = gap_at.unwrap_or(n);
    h.push_input(0, &(from..from + split).map(a).collect::<Vec<_>>());
    h.push_input(1, &(from..from + split).map(b).collect::<Vec<_>>());
    if gap_at.is_some() {
        // 100 samples (10 s) lost on both subchannels.
        h.push_tag(0, 0, Tag::Gap(100));
        h.push_input(
            0,
            &(from + split + 100..from + n + 100)
                .map(a)
                .collect::<Vec<_>>(),
        );
        h.push_input(
            1,
            &(from + split + 100..from + n + 100)
                .map(b)
                .collect::<Vec<_>>(),
        );
    }
    h.run_to_end().unwrap();
    assert_eq!(h.metrics().last_error(), "");
}

const CHECK: &str = r#"
import sys, json, numpy as np, digital_rf as drf
top = sys.argv[1]
r = drf.DigitalRFReader(top)
s0 = 1700000000 * 10
b = r.get_bounds("ch0")
p = r.get_properties("ch0")
blocks = r.get_continuous_blocks(b[0], b[1], "ch0")
x0 = r.read_vector(b[0], b[1] - b[0] + 1, "ch0", 0) if len(blocks) == 1 else None
out = {"bounds": [int(b[0]) - s0, int(b[1]) - s0], "blocks": {str(int(k) - s0): int(v) for k, v in blocks.items()},
       "rate": float(p["samples_per_second"]), "nsub": int(p["num_subchannels"]), "complex": int(p["is_complex"])}
bad = 0
for start, n in blocks.items():
    for sub, sign, im in ((0, 1, 1.0), (1, -1, 2.0)):
        x = r.read_vector(start, n, "ch0", sub)
        i = np.arange(start - s0, start - s0 + n)
        bad += int(not (np.array_equal(x.real, sign * i.astype(np.float32)) and np.all(x.imag == im)))
out["bad"] = bad
m = drf.DigitalMetadataReader(top + "/ch0/metadata").read_flatdict()
k = sorted(m.keys())
out["meta"] = {f: (m[f].tolist() if hasattr(m[f], "tolist") else m[f]) for f in ("callsign", "grid_square", "receiver_name", "lat", "long", "center_frequencies", "uuid_str")}
out["meta"] = {f: (v.decode() if isinstance(v, bytes) else (v[0].decode() if isinstance(v, list) and v and isinstance(v[0], bytes) else v)) for f, v in out["meta"].items()}
print(json.dumps(out))
"#;

#[test]
fn digital_rf_reader_reads_subchannels_gaps_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    // 900 samples (90 s) from T0: crosses a one-minute file boundary; a 10 s gap after 400.
    run(dir.path(), 0, 900, Some(400));
    let out = py::run(CHECK, &[dir.path().to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["bounds"], serde_json::json!([0, 999]), "{v}");
    assert_eq!(
        v["blocks"],
        serde_json::json!({"0": 400, "500": 500}),
        "{v}"
    );
    assert_eq!(
        (
            v["rate"].as_f64(),
            v["nsub"].as_u64(),
            v["complex"].as_u64()
        ),
        (Some(10.0), Some(2), Some(1))
    );
    assert_eq!(v["bad"], 0, "sample values differ: {v}");
    let m = &v["meta"];
    assert_eq!(
        (
            m["callsign"].as_str(),
            m["grid_square"].as_str(),
            m["receiver_name"].as_str()
        ),
        (Some("AB1CD"), Some("FN42ab"), Some("flow")),
        "{m}"
    );
    assert_eq!(
        (m["lat"].as_f64(), m["long"].as_f64()),
        (Some(42.5), Some(-71.25))
    );
    assert_eq!(m["center_frequencies"], serde_json::json!([5.0, 10.0]));
    assert_eq!(m["uuid_str"].as_str(), Some("S000123"));
}

#[test]
fn a_restart_continues_the_hour_without_conflict() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), 0, 300, None);
    // Restarted: replays the last 50 samples, then goes on.
    run(dir.path(), 250, 250, None);
    let out = py::run(CHECK, &[dir.path().to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["blocks"], serde_json::json!({"0": 500}), "{v}");
    assert_eq!(v["bad"], 0, "{v}");
}

#[test]
fn storage_limits_delete_the_oldest_hour_files_and_keep_properties() {
    let dir = tempfile::tempdir().unwrap();
    let p = format!(
        "dir = {:?}\nfile_cadence_ms = 10000\nsubdir_cadence_secs = 3600\nlimits = {{ max_bytes = \"300 KiB\" }}",
        dir.path().to_str().unwrap()
    );
    let mut h = Harness::new("digital_rf_sink", &p, &[ItemType::C32]).unwrap();
    h.push_tag(0, 0, Tag::Rate(100.0));
    h.push_tag(
        0,
        0,
        Tag::Time {
            ns: 1_700_000_000 * 1_000_000_000,
            source: TimeSource::Gpsdo,
        },
    );
    for k in 0..40u64 {
        let v: Vec<C32> = (k * 1000..(k + 1) * 1000)
            .map(|i| C32::new(i as f32, 0.0))
            .collect();
        h.push_input(0, &v);
        h.run();
    }
    h.run_to_end().unwrap();
    let ch = dir.path().join("ch0");
    assert!(ch.join("drf_properties.h5").exists());
    let files = crate::dataplane::drf::retention::DrfLayout::new(&ch);
    let units = crate::util::retention::Layout::scan(&files).unwrap();
    let used: u64 = units.iter().map(|u| u.bytes).sum();
    assert!(h.counter("evicted") > 0, "{units:?}");
    assert!(used <= 300 << 10, "{used}");
    // The newest files are the ones left: the last ends at the last sample.
    let newest = units.iter().map(|u| u.time).max().unwrap();
    assert_eq!(newest, 1_700_000_000 + 390);
    let oldest = units.iter().map(|u| u.time).min().unwrap();
    assert_eq!(
        (newest - oldest) / 10 + 1,
        units.len() as i64,
        "contiguous: {units:?}"
    );
}
