//! Storage limits end to end: real `flow run`s of a simulated GRAPE channel into
//! `binary_archive` with a quota far smaller than the run. Usage on disk (allocated, as `du`
//! counts) stays under the quota; the oldest finished minutes go first; with confirmation
//! required, unconfirmed minutes are never deleted (the sink stops and says so), and with
//! `drop_oldest_unconfirmed` they are, counted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::{stderr, stdout, Sandbox};

/// 2025-12-06T12:00:00Z.
const T0: i64 = 1_765_022_400;
/// Samples per second of the simulated channel (a minute file is 1.92 MB).
const RATE: u64 = 4000;
const MINUTES: i64 = 12;
const QUOTA: u64 = 10_000_000;

fn flowgraph(limits: &str) -> String {
    format!(
        r#"
[blocks.sim]
type = "wwv_sim"
sample_rate = {RATE}.0
start = "2025-12-06T12:00:00Z"
items = {items}
stations = [{{ station = "WWV", snr_db = 10.0, delay_ms = 4.1 }}]

[blocks.archive]
type = "binary_archive"
inputs = ["sim"]
dir = "raw"
channel = "WWV_10_MHz"
sample_rate = {RATE}
limits = {{ {limits} }}
"#,
        items = RATE * 60 * MINUTES as u64
    )
}

fn day(s: &Sandbox) -> PathBuf {
    s.path().join("raw/WWV_10_MHz/20251206")
}

/// Minutes (index from T0) with a data file, in order.
fn minutes(s: &Sandbox) -> Vec<i64> {
    let mut v: Vec<i64> = std::fs::read_dir(day(s))
        .expect("day directory")
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".bin")?.parse::<i64>().ok()
        })
        .map(|t| (t - T0) / 60)
        .collect();
    v.sort();
    v
}

/// Allocated bytes of everything under `dir`, as `du` counts.
fn du(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let m = e.metadata().expect("metadata");
        if m.is_dir() {
            total += du(&e.path());
        } else {
            total += m.blocks() * 512;
        }
    }
    total
}

fn run(s: &Sandbox, limits: &str) -> String {
    let fg = s.write("archive.toml", &flowgraph(limits));
    let out = s.run(
        &["run", fg.to_str().expect("path")],
        Duration::from_secs(120),
    );
    let text = format!("{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}");
    text
}

fn counter(summary: &str, name: &str) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.split_whitespace().next() == Some("archive"))
        .unwrap_or_else(|| panic!("no archive line:\n{summary}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no counter `{name}` in: {line}"))
        .replace(',', "")
        .parse()
        .expect("a number")
}

#[test]
fn a_tiny_quota_keeps_usage_under_it_and_deletes_the_oldest_minutes_first() {
    let s = Sandbox::new();
    let text = run(&s, &format!("max_bytes = {QUOTA}"));
    let used = du(&s.path().join("raw/WWV_10_MHz"));
    assert!(used <= QUOTA, "{used} bytes on disk, quota {QUOTA}\n{text}");
    let left = minutes(&s);
    let k = left.len() as i64;
    assert!((3..MINUTES).contains(&k), "{left:?}");
    assert_eq!(
        left,
        ((MINUTES - k)..MINUTES).collect::<Vec<_>>(),
        "the newest minutes are kept, the oldest went first"
    );
    assert_eq!(counter(&text, "evicted"), (MINUTES - k) as u64, "{text}");
    assert_eq!(counter(&text, "limit_dropped"), 0, "{text}");
    assert_eq!(counter(&text, "storage_stops"), 0, "{text}");
}

#[test]
fn unconfirmed_minutes_are_never_deleted_the_archive_stops_instead() {
    let s = Sandbox::new();
    std::fs::create_dir_all(day(&s)).expect("day dir");
    // The consumer has confirmed the first four minutes (before they exist: names only).
    let names: Vec<String> = (0..4).map(|k| format!("{}.bin", T0 + 60 * k)).collect();
    flow_blocks::util::retention::confirm::add(&day(&s), &names).expect("marker");
    let text = run(
        &s,
        &format!("max_bytes = {QUOTA}, require_confirmation = true"),
    );
    let used = du(&s.path().join("raw/WWV_10_MHz"));
    assert!(used <= QUOTA, "{used} bytes on disk, quota {QUOTA}\n{text}");
    let left = minutes(&s);
    assert_eq!(
        counter(&text, "evicted"),
        4,
        "only the confirmed minutes go\n{text}"
    );
    assert_eq!(counter(&text, "evicted_unconfirmed"), 0, "{text}");
    assert_eq!(
        left.first(),
        Some(&4),
        "every unconfirmed minute written is still there: {left:?}"
    );
    assert_eq!(
        left,
        (4..4 + left.len() as i64).collect::<Vec<_>>(),
        "{left:?}"
    );
    assert!(left.len() < (MINUTES - 4) as usize, "{left:?}");
    assert!(counter(&text, "storage_stops") >= 1, "{text}");
    assert!(counter(&text, "limit_dropped") > 0, "{text}");
    assert!(
        text.contains("not yet confirmed by its consumer"),
        "the stop is logged with its reason:\n{text}"
    );
}

#[test]
fn drop_oldest_unconfirmed_keeps_recording_and_counts_what_it_deleted() {
    let s = Sandbox::new();
    let text = run(
        &s,
        &format!(
            "max_bytes = {QUOTA}, require_confirmation = true, on_full = \"drop_oldest_unconfirmed\""
        ),
    );
    let left = minutes(&s);
    let k = left.len() as i64;
    assert_eq!(left, ((MINUTES - k)..MINUTES).collect::<Vec<_>>());
    assert_eq!(
        counter(&text, "evicted_unconfirmed"),
        (MINUTES - k) as u64,
        "{text}"
    );
    assert_eq!(counter(&text, "limit_dropped"), 0, "{text}");
    assert!(du(&s.path().join("raw/WWV_10_MHz")) <= QUOTA);
}
