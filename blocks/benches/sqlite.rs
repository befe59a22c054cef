//! Throughput of the `sqlite` sink, sustained, end to end (`message_strobe → sqlite` as a
//! flowgraph on the real runtime, journal included), against row-at-a-time autocommit
//! inserts measured in the same run on the same disk.
//!
//! `cargo bench -p flow-blocks --bench sqlite [-- MESSAGES]` (default 2,000,000).

use std::time::{Duration, Instant};

use flow_framework::config::load_str;
use flow_framework::runtime::Flowgraph;

/// Rows per second of one INSERT per transaction (autocommit), for at most `limit` or `n` rows.
fn autocommit(
    dir: &std::path::Path,
    name: &str,
    wal: bool,
    sync: &str,
    n: u64,
    limit: Duration,
) -> (f64, f64) {
    let c = rusqlite::Connection::open(dir.join(name)).expect("open");
    if wal {
        c.pragma_update(None, "journal_mode", "WAL").expect("wal");
    }
    c.pragma_update(None, "synchronous", sync)
        .expect("synchronous");
    c.execute_batch("CREATE TABLE m (_rec INTEGER PRIMARY KEY, _session INTEGER, time INTEGER, seq INTEGER, value REAL)").expect("table");
    let mut st = c
        .prepare("INSERT INTO m VALUES (?1, 1, ?2, ?1, ?3)")
        .expect("prepare");
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let mut done = 0u64;
    while done < n && t.elapsed() < limit {
        st.execute(rusqlite::params![
            done as i64,
            1_700_000_000_000_000_000i64 + done as i64,
            done as f64 * 0.001
        ])
        .expect("insert");
        done += 1;
    }
    (
        done as f64 / t.elapsed().as_secs_f64(),
        done as f64 / (cpu_seconds() - cpu),
    )
}

/// Rows per second through `message_strobe → sqlite` with the given fsync policy.
fn sink(dir: &std::path::Path, name: &str, fsync: &str, n: u64) -> (f64, f64) {
    flow_blocks::link();
    let text = format!(
        "[blocks.src]\ntype = \"message_strobe\"\ncount = {n}\n[blocks.db]\ntype = \"sqlite\"\ninputs = [\"src\"]\npath = {:?}\nfsync = \"{fsync}\"\n",
        dir.join(name).to_str().expect("utf-8")
    );
    let graph = load_str(&text, "bench.toml", dir, &[]).expect("flowgraph");
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let fg = Flowgraph::start(&graph).expect("start");
    let report = fg.wait();
    let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let c = rusqlite::Connection::open(dir.join(name)).expect("open");
    let rows: i64 = c
        .query_row("SELECT COUNT(*) FROM measurement", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows as u64, n, "rows stored");
    (n as f64 / secs, n as f64 / cpu)
}

/// CPU seconds used by this process so far (user + system), load-independent.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Rows per CPU-second of the sink alone, driven by the single-threaded harness.
fn sink_alone(dir: &std::path::Path, n: u64) -> (f64, f64) {
    use flow_framework::harness::Harness;
    use flow_framework::prelude::*;
    let params = format!(
        "path = {:?}\nfsync = \"1s\"",
        dir.join("alone.sqlite").to_str().expect("utf-8")
    );
    let mut h = Harness::new("sqlite", &params, &[]).expect("harness");
    let (t, c) = (Instant::now(), cpu_seconds());
    let mut left = n;
    while left > 0 {
        for _ in 0..left.min(4096) {
            let seq = n - left;
            h.push_message(
                0,
                Message::new("measurement")
                    .with("time", Value::Time(seq as i64))
                    .with("seq", seq)
                    .with("value", seq as f64),
            );
            left -= 1;
        }
        h.run();
    }
    h.run_to_end().expect("end");
    (
        n as f64 / t.elapsed().as_secs_f64(),
        n as f64 / (cpu_seconds() - c),
    )
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let dir = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or_else(|| ".".into()))
        .expect("temporary directory");
    let limit = Duration::from_secs(5);
    if std::env::var_os("ALONE").is_some() {
        let (wall, cpu) = sink_alone(dir.path(), n);
        println!("sink alone: {wall:.0} rows/s wall, {cpu:.0} rows per CPU-second");
        return;
    }
    let rows = [
        (
            "row-at-a-time autocommit, WAL, synchronous=NORMAL",
            autocommit(dir.path(), "auto-wal.sqlite", true, "NORMAL", n, limit),
        ),
        (
            "row-at-a-time autocommit, rollback journal, synchronous=FULL",
            autocommit(
                dir.path(),
                "auto-full.sqlite",
                false,
                "FULL",
                n,
                Duration::from_secs(3),
            ),
        ),
        (
            "flow sqlite sink, fsync=1s (message_strobe -> sqlite)",
            sink(dir.path(), "sink-1s.sqlite", "1s", n),
        ),
        (
            "flow sqlite sink, fsync=always",
            sink(dir.path(), "sink-always.sqlite", "always", n / 4),
        ),
    ];
    println!(
        "sqlite throughput, {n} messages (same run, same disk: {})",
        dir.path().display()
    );
    println!("{:<62} {:>12} {:>14}", "writer", "rows/s", "rows/CPU-s");
    for (what, (wall, cpu)) in &rows {
        println!("{what:<62} {wall:>12.0} {cpu:>14.0}");
    }
    println!(
        "ratio sink(1s) / autocommit(WAL, NORMAL): {:.1}x wall, {:.1}x per CPU-second",
        rows[2].1 .0 / rows[0].1 .0,
        rows[2].1 .1 / rows[0].1 .1
    );
    println!(
        "ratio sink(1s) / autocommit(FULL): {:.0}x wall",
        rows[2].1 .0 / rows[1].1 .0
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average during the run: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
