//! `flow plan` end to end: a flowgraph that fits, and flowgraphs refused for CPU, disk and
//! memory, each with its reason (calibration cache kept in the sandbox).

use crate::util::{stdout, Sandbox};

fn plan(s: &Sandbox, name: &str, text: &str) -> (Option<i32>, String) {
    let fg = s.write(name, text);
    let out = s
        .flow()
        .args(["plan", fg.to_str().expect("path"), "--budget", "50ms"])
        .env("XDG_CACHE_HOME", s.path().join("cache"))
        .output()
        .expect("run flow plan");
    (out.status.code(), stdout(&out))
}

const CHAIN: &str = r#"
[blocks.src]
type = "signal_source"
sample_rate = 48000.0

[blocks.pace]
type = "throttle"
inputs = ["src"]
rate = RATE

[blocks.gain]
type = "multiply_const"
inputs = ["pace"]
constant = 0.5

[blocks.out]
type = "file_sink"
inputs = ["gain"]
path = "data/x.c32"
"#;

#[test]
fn a_modest_flowgraph_fits_and_its_rates_follow_the_throttle() {
    let s = Sandbox::new();
    let (code, text) = plan(&s, "ok.toml", &CHAIN.replace("RATE", "1000.0"));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ok: fits this host"), "{text}");
    let edge = text
        .lines()
        .find(|l| l.starts_with("pace.out"))
        .expect("edge line");
    assert!(
        edge.contains("gain.in") && edge.contains("1.0 k/s") && edge.contains("8.0 kB/s"),
        "{edge}"
    );
    assert!(text.contains("0.64 GiB/day from out"), "{text}");
    // The calibration was cached for the next run.
    assert!(s.path().join("cache/flow/calibration.json").exists());
    let (_, again) = plan(&s, "ok.toml", &CHAIN.replace("RATE", "1000.0"));
    assert!(again.contains("calibration cache"), "{again}");
}

#[test]
fn too_much_cpu_disk_or_memory_is_refused_with_the_reason() {
    let s = Sandbox::new();
    let (code, text) = plan(&s, "cpu.toml", &CHAIN.replace("RATE", "1e12"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("error: needs"), "{text}");
    assert!(text.contains("error: block `gain` needs"), "{text}");
    assert!(text.contains("error: the processing blocks need"), "{text}");

    let (code, text) = plan(&s, "disk.toml", &CHAIN.replace("RATE", "5e7"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("error: sinks out write"), "{text}");
    assert!(text.contains("give them a size limit"), "{text}");

    let big = format!(
        "[flowgraph]\nbuffer_bytes = 1000000000000\n{}",
        CHAIN.replace("RATE", "1000.0")
    );
    let (code, text) = plan(&s, "mem.toml", &big);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("error: buffers need"), "{text}");
}

#[test]
fn the_grape_station_fits_with_its_storage_limits_and_is_refused_beyond_the_disk() {
    let s = Sandbox::new();
    let fg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flowgraphs/grape.toml");
    let plan = |raw_max: &str| {
        let out = s
            .flow()
            .args(["plan", fg.to_str().expect("path"), "--budget", "50ms"])
            .env("XDG_CACHE_HOME", s.path().join("cache"))
            .env("GRAPE_DATA", s.path().join("data"))
            .env("GRAPE_RAW_MAX", raw_max)
            .env("GRAPE_10HZ_MAX", "16MiB")
            .env("GRAPE_TONES_MAX", "16MiB")
            .output()
            .expect("run flow plan");
        (out.status.code(), stdout(&out))
    };
    let (code, text) = plan("64MiB");
    assert_eq!(code, Some(0), "{text}");
    // 9 × 64 MiB of archive, 9 × 16 MiB of 10 Hz product, 16 MiB of tone log.
    assert!(text.contains("limits keep at most 736 MiB"), "{text}");
    assert!(text.contains("ok: fits this host"), "{text}");
    let (code, text) = plan("100TiB");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("may keep"), "{text}");
}
