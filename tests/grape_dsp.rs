//! The GRAPE signal chain end to end: `flowgraphs/grape-sim.toml` (wwv_sim → tone_detect →
//! message_sink, and → decimate → file_sink) loaded with the real config loader and run on
//! the real scheduler, then its JSON lines and 10 Hz product checked.

use std::path::Path;
use std::time::Duration;

use flow_framework::config::load_str_with_env;
use flow_framework::runtime::Flowgraph;

#[test]
fn grape_sim_flowgraph_measures_d_clock_and_writes_the_10_hz_product() {
    flow_blocks::link();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8 path").to_string();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("flowgraphs/grape-sim.toml")).expect("flowgraph");
    let env = move |name: &str| (name == "FLOW_OUT").then(|| out.clone());
    let graph = load_str_with_env(&text, "grape-sim.toml", &root.join("flowgraphs"), &[], &env)
        .unwrap_or_else(|d| panic!("{d}"));
    let fg = Flowgraph::start(&graph).expect("starts");
    assert!(
        fg.wait_timeout(Duration::from_secs(120)),
        "the flowgraph did not finish"
    );
    let report = fg.wait();
    assert!(report.failed.is_empty(), "{:?}", report.failed);

    // one detection per station per minute: 12:00, 12:01 and 12:02 (stream ends at 12:03:00)
    let lines = std::fs::read_to_string(dir.path().join("tones.jsonl")).expect("tones.jsonl");
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(rows.len(), 6, "{lines}");
    for r in &rows {
        assert_eq!(r["kind"], "tone_detection");
        assert_eq!(r["time_source"], "simulated");
        assert_eq!(r["frequency_hz"], 10e6);
        // clock_offset_ms 2.5 plus each station's delay_ms in the flowgraph
        let want = match r["station"].as_str() {
            Some("WWV") => 2.5 + 4.1,
            Some("WWVH") => 2.5 + 19.7,
            other => panic!("unexpected station {other:?}"),
        };
        let d = r["d_clock_ms"].as_f64().expect("d_clock_ms");
        assert!((d - want).abs() <= 0.1, "{r}");
        assert!(r["ticks"].as_u64().expect("ticks") >= 50, "{r}");
        let minute = r["minute"].as_i64().expect("minute");
        assert_eq!(minute % 60_000_000_000, 0, "{r}");
        assert!(
            (1_765_022_400..=1_765_022_520).contains(&(minute / 1_000_000_000)),
            "{r}"
        );
    }

    // the 10 Hz product: 3,640,000 samples / 2000, complex64 little-endian
    let bytes = std::fs::read(dir.path().join("wwv10_10hz.c32")).expect("product");
    assert_eq!(bytes.len(), 1820 * 8);
    let x: Vec<(f32, f32)> = bytes
        .chunks_exact(8)
        .map(|c| {
            let f = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            (f(&c[..4]), f(&c[4..]))
        })
        .collect();
    // the two carriers (WWV √(2·0.01), WWVH √(2·0.0025)) beat at 0.5 Hz: the product's
    // magnitude swings between their difference and their sum
    let mags: Vec<f32> = x[100..1700].iter().map(|(r, i)| r.hypot(*i)).collect();
    let (lo, hi) = mags
        .iter()
        .fold((f32::MAX, 0f32), |(l, h), m| (l.min(*m), h.max(*m)));
    assert!((hi - (0.1414 + 0.0707)).abs() < 0.01, "max {hi}");
    assert!((lo - (0.1414 - 0.0707)).abs() < 0.01, "min {lo}");
}
