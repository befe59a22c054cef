//! Runs the example flowgraph through the `flow-custom` binary: the custom block is found by
//! its TOML name and its messages come out.

use std::process::Command;

#[test]
fn the_custom_block_runs_from_toml() {
    let dir = tempfile::tempdir().unwrap();
    let fg = concat!(env!("CARGO_MANIFEST_DIR"), "/power.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_flow-custom"))
        .args(["run", fg, "--quiet", "--set", "blocks.log.path=power.jsonl"])
        .current_dir(dir.path())
        .output()
        .expect("run flow-custom");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = std::fs::read_to_string(dir.path().join("power.jsonl")).expect("messages");
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 10, "480000 samples in windows of 48000");
    for (k, r) in rows.iter().enumerate() {
        assert_eq!(r["kind"], "power");
        assert_eq!(r["index"], 48_000 * k as u64);
        let db = r["power_db"].as_f64().unwrap();
        assert!((db + 20.0).abs() < 1e-3, "window {k}: {db} dB");
    }
}

#[test]
fn flow_blocks_describes_the_custom_block() {
    let out = Command::new(env!("CARGO_BIN_EXE_flow-custom"))
        .args(["blocks", "power_meter"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Mean power of a c32 stream per window"),
        "{text}"
    );
    assert!(text.contains("window"), "{text}");
}
