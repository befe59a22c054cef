//! Upstream resets end to end: a stand-in radiod (a separate `flow run` of `wwv_sim` →
//! `rtp_sink`, real time, RTP plus status) is killed with SIGKILL mid-run and started again
//! — its timestamps and sequence numbers start over, behind where the old stream was — while
//! the recording `flow run` (`rtp_source` → `binary_archive`) keeps running: it logs the
//! restart, counts one resync and one silence, and the archive shows one gap of about the
//! downtime and continues. The recorder never restarts.

use std::path::Path;
use std::time::{Duration, Instant};

use flow_blocks::archive::sidecar::Sidecar;

use crate::util::{free_udp_port, signal, wait_udp_bound, Running, Sandbox};

const RATE: u64 = 8000;

fn radiod(s: &Sandbox, data: u16, status: u16) -> Running {
    let fg = s.write(
        "radiod.toml",
        &format!(
            r#"
[blocks.sim]
type = "wwv_sim"
sample_rate = {RATE}.0
frequency_hz = 10e6
stations = [{{ station = "WWV", snr_db = 10.0, delay_ms = 4.1 }}]

[blocks.radiod]
type = "rtp_sink"
inputs = ["sim"]
address = "127.0.0.1:{data}"
status = "127.0.0.1:{status}"
ssrc = 10000
encoding = "f32le"
realtime = true
"#
        ),
    );
    s.spawn(&["run", fg.to_str().expect("path"), "--quiet"], "radiod")
}

/// Absolute written sample ranges of the archive, merged across minute files.
pub fn written(channel_dir: &Path) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    for day in std::fs::read_dir(channel_dir)
        .expect("channel dir")
        .flatten()
    {
        if !day.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(day.path()).expect("day").flatten() {
            if f.path().extension().is_some_and(|x| x == "json") {
                let s: Sidecar = serde_json::from_slice(&std::fs::read(f.path()).expect("sidecar"))
                    .expect("json");
                let base = s.minute_boundary as u64 * s.sample_rate;
                for (a, b) in s.written().ranges() {
                    ranges.push((base + a, base + b));
                }
            }
        }
    }
    ranges.sort();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Waits (at most 30 s) until the archive holds at least `n` samples.
fn wait_samples(dir: &Path, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let have = archived(dir);
        if have >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the archive never got {n} samples ({have})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Samples in the archive: an open minute's journal records them, a finished minute's
/// sidecar says how many it holds.
pub fn archived(dir: &Path) -> u64 {
    let mut n = 0;
    let Ok(days) = std::fs::read_dir(dir) else {
        return 0;
    };
    for day in days.flatten() {
        let Ok(files) = std::fs::read_dir(day.path()) else {
            continue;
        };
        for f in files.flatten() {
            let p = f.path();
            if p.extension().is_some_and(|x| x == "journal") {
                if let Ok(Some(j)) = flow_blocks::archive::journal::Journal::read(&p) {
                    n += j.records.iter().map(|r| r.1).sum::<u64>();
                }
            } else if p.extension().is_some_and(|x| x == "json")
                && !p.with_extension("journal").exists()
            {
                if let Ok(s) =
                    serde_json::from_slice::<Sidecar>(&std::fs::read(&p).unwrap_or_default())
                {
                    n += s.samples_written;
                }
            }
        }
    }
    n
}

#[test]
fn a_restarted_radiod_costs_one_gap_and_the_recorder_keeps_running() {
    let s = Sandbox::new();
    let (data, status) = (free_udp_port(), free_udp_port());
    let rec = s.write(
        "rec.toml",
        &format!(
            r#"
[flowgraph]
name = "recorder"

[blocks.rx]
type = "rtp_source"
address = "127.0.0.1:{data}"
status = "127.0.0.1:{status}"
channels = [{{ ssrc = 10000, name = "WWV_10_MHz" }}]
stale_after = "1s"
buffer = 400000

[blocks.archive]
type = "binary_archive"
inputs = ["rx.WWV_10_MHz"]
dir = "raw"
channel = "WWV_10_MHz"
fsync = "never"
"#
        ),
    );
    let mut recorder = s.spawn(&["run", rec.to_str().expect("path")], "recorder");
    wait_udp_bound(data);
    let dir = s.path().join("raw/WWV_10_MHz");
    // radiod runs, then dies (kill -9) with about 2 s sent.
    let mut first = radiod(&s, data, status);
    wait_samples(&dir, 2 * RATE);
    signal(first.child.id(), 9);
    first.wait(Duration::from_secs(10));
    let down = Instant::now();
    // It is down for 2 s (a silence the recorder must notice), then starts again: its
    // timestamps and sequence numbers begin at 0 once more.
    std::thread::sleep(Duration::from_secs(2));
    let before = archived(&dir);
    let mut second = radiod(&s, data, status);
    let up = down.elapsed();
    wait_samples(&dir, before + 2 * RATE);
    assert!(
        recorder.child.try_wait().expect("wait").is_none(),
        "the recorder never exits"
    );
    signal(recorder.child.id(), 2);
    let st = recorder.wait(Duration::from_secs(30));
    second.child.kill().ok();
    second.wait(Duration::from_secs(10));
    let (out, err) = (recorder.out(), recorder.err());
    assert!(st.success(), "{out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some("rx"))
        .unwrap_or_else(|| panic!("no rx line:\n{out}"));
    for (name, want) in [("resyncs=1", true), ("silences=1", true)] {
        assert_eq!(line.contains(name), want, "{name}: {line}");
    }
    assert!(
        out.lines().all(|l| !l.contains("restarting"))
            && line.split_whitespace().nth(6) == Some("0"),
        "no block restarted: {out}"
    );
    assert_eq!(
        err.matches("RTP timestamps restarted").count(),
        1,
        "one discontinuity logged:\n{err}"
    );
    // The archive: two runs of samples, one gap between them of about the downtime.
    let w = written(&dir);
    assert_eq!(w.len(), 2, "exactly one gap: {w:?}");
    let gap = w[1].0 - w[0].1;
    let (lo, hi) = (RATE * 3 / 2, RATE * (up.as_secs() + 3));
    assert!(
        (lo..hi).contains(&gap),
        "gap of {gap} samples, downtime {up:?}: {w:?}"
    );
    assert!(
        w[0].1 - w[0].0 >= 2 * RATE && w[1].1 - w[1].0 >= 2 * RATE,
        "{w:?}"
    );
}
