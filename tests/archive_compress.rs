//! `binary_archive` with `compress = "zstd"`: the same stream archived twice, plain and
//! compressed; every compressed minute, decompressed by the `zstd` command users have,
//! is byte for byte the plain one, and its sidecar names the compressed file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::util::{stderr, stdout, Sandbox};

const FLOWGRAPH: &str = r#"
[blocks.sim]
type = "wwv_sim"
sample_rate = 8000.0
start = "2025-12-06T00:00:30Z"
items = 1200000            # 150 s from 00:00:30: half a minute, then two whole ones

[blocks.plain]
type = "binary_archive"
inputs = ["sim"]
dir = "plain"
channel = "WWV_10_MHz"

[blocks.packed]
type = "binary_archive"
inputs = ["sim"]
dir = "packed"
channel = "WWV_10_MHz"
compress = "zstd"
"#;

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for day in std::fs::read_dir(dir).expect("channel dir") {
        let day = day.expect("day").path();
        if !day.is_dir() {
            continue; // the channel's .lock
        }
        for f in std::fs::read_dir(&day).expect("day dir") {
            let p = f.expect("entry").path();
            if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn compressed_minutes_decompress_to_the_plain_ones() {
    let s = Sandbox::new();
    s.write("fg.toml", FLOWGRAPH);
    let out = s.run(&["run", "fg.toml"], Duration::from_secs(120));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let plain = files(&s.path().join("plain/WWV_10_MHz"), ".bin");
    assert_eq!(plain.len(), 3, "{plain:?}");
    let packed_dir = s.path().join("packed/WWV_10_MHz");
    assert!(
        files(&packed_dir, ".bin").is_empty(),
        "every finished minute is compressed by the end of the run"
    );
    let packed = files(&packed_dir, ".bin.zst");
    assert_eq!(packed.len(), plain.len(), "{packed:?}");
    let (mut raw, mut small) = (0u64, 0u64);
    for (p, z) in plain.iter().zip(&packed) {
        let name = p.file_name().expect("name").to_string_lossy().into_owned();
        assert_eq!(
            z.file_name().expect("name").to_string_lossy(),
            format!("{name}.zst")
        );
        let unpacked = Command::new("zstd")
            .args(["-d", "-c", "-q"])
            .arg(z)
            .output()
            .expect("zstd (Debian package zstd) must be installed");
        assert!(unpacked.status.success(), "{}", stderr(&unpacked));
        let original = std::fs::read(p).expect("plain minute");
        assert!(unpacked.stdout == original, "{} differs", z.display());
        raw += original.len() as u64;
        small += std::fs::metadata(z).expect("size").len();
        let side: serde_json::Value = serde_json::from_slice(
            &std::fs::read(z.with_extension("").with_extension("json")).expect("sidecar"),
        )
        .expect("json");
        assert_eq!(side["data_file"], format!("{name}.zst"));
        assert_eq!(side["compression"], "zstd");
    }
    assert!(small < raw, "{small} of {raw}");
    let summary = stdout(&out);
    assert!(
        summary.contains("compressed=3"),
        "the counter shows the minutes compressed: {summary}"
    );
}
