//! GRAPE recording end to end: a test process stands in for radiod (RTP and status on
//! loopback, with reordered, duplicated, lost, late, malformed, truncated and garbage
//! packets) and the `flow` binary records with `rtp_source` → `binary_archive`. The minute
//! files are checked with numpy (`np.memmap`) and the `sigmf` package; a kill -9 in the
//! middle of a minute and a restart must lose nothing that was written and conflict with
//! nothing.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use flow_blocks::archive::journal::Journal;
use flow_blocks::archive::sidecar::{GapEntry, Sidecar};
use flow_blocks::net::encoding::Encoding;
use flow_blocks::net::ka9q_status::ChannelStatus;
use flow_blocks::net::packetizer::build_packet;
use flow_blocks::net::rtp::RtpHeader;
use flow_blocks::net::timing::unix_to_gps_ns;
use flow_framework::item::C32;

use crate::util::{free_udp_port, python, signal, stdout, wait_child, wait_udp_bound, Sandbox};

/// 2025-12-06T14:44:00Z: a minute boundary.
const T0: i64 = 1_765_032_240;
/// Sample rate of the test streams (60 000 samples a minute).
const RATE: u64 = 1000;
/// Samples per packet.
const N: u64 = 100;

/// The value of sample `i` of channel `ch` (exact in s16 and f32).
fn value(ch: u32, i: u64) -> C32 {
    let v = ((i * 7 + u64::from(ch)) % 30_000) as f32 / 32767.0;
    C32::new(v, -v)
}

/// A stand-in for radiod: sends status and data for channels.
struct Radiod {
    sock: UdpSocket,
    data: String,
    status: String,
}

impl Radiod {
    fn new(data_port: u16, status_port: u16) -> Self {
        Radiod {
            sock: UdpSocket::bind("127.0.0.1:0").expect("bind"),
            data: format!("127.0.0.1:{data_port}"),
            status: format!("127.0.0.1:{status_port}"),
        }
    }

    /// Announces channel `ssrc`: RTP timestamp 0 is at `t0` (Unix seconds).
    fn status(&self, ssrc: u32, enc: Encoding, t0: i64) {
        let mut b = Vec::new();
        ChannelStatus {
            ssrc: Some(ssrc),
            gps_time_ns: Some(unix_to_gps_ns(t0 * 1_000_000_000, 18)),
            rtp_timesnap: Some(0),
            sample_rate: Some(RATE as u32),
            channels: Some(2),
            payload_type: Some(97),
            encoding: Some(enc.ka9q_code()),
            frequency_hz: Some(f64::from(ssrc) * 1000.0),
            ..Default::default()
        }
        .encode(&mut b);
        self.sock.send_to(&b, &self.status).expect("send status");
    }

    /// Packet `k` of channel `ssrc`: samples `k·N .. k·N + N`.
    fn packet(&self, ssrc: u32, enc: Encoding, k: u64) -> Vec<u8> {
        let h = RtpHeader {
            marker: false,
            payload_type: 97,
            sequence: k as u16,
            timestamp: (k * N) as u32,
            ssrc,
        };
        let s: Vec<C32> = (k * N..k * N + N).map(|i| value(ssrc, i)).collect();
        let mut p = Vec::new();
        build_packet(&h, enc, &s, &mut p);
        p
    }

    fn send(&self, p: &[u8]) {
        self.sock.send_to(p, &self.data).expect("send data");
    }
}

/// A recording flowgraph: one rtp_source with `channels`, one archive per channel.
fn flowgraph(dir: &Path, data_port: u16, status_port: u16, channels: &[(u32, &str)]) -> String {
    let list: Vec<String> = channels
        .iter()
        .map(|(ssrc, name)| format!("{{ ssrc = {ssrc}, name = \"{name}\" }}"))
        .collect();
    let mut fg = format!(
        "[flowgraph]\nname = \"grape-io-test\"\n\n[blocks.rx]\ntype = \"rtp_source\"\n\
         address = \"127.0.0.1:{data_port}\"\nstatus = \"127.0.0.1:{status_port}\"\n\
         status_wait = \"1h\"\nreorder_packets = 4\nreorder_time = \"1h\"\nchannels = [{}]\n",
        list.join(", ")
    );
    for (_, name) in channels {
        fg += &format!(
            "\n[blocks.{name}]\ntype = \"binary_archive\"\ninputs = [\"rx.{name}\"]\n\
             dir = {:?}\nchannel = \"{name}\"\nfsync = \"never\"\n",
            dir.to_str().expect("utf-8 path")
        );
    }
    fg
}

fn spawn_flow(s: &Sandbox, fg: &Path) -> Child {
    s.flow()
        .args(["run", fg.to_str().expect("utf-8 path")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn flow")
}

/// Ctrl-C, then the run's standard output (the summary).
fn interrupt(mut child: Child) -> String {
    use std::io::Read;
    signal(child.id(), 2);
    let status = wait_child(&mut child, Duration::from_secs(60));
    let mut out = String::new();
    let mut err = String::new();
    let _ = child.stdout.take().map(|mut o| o.read_to_string(&mut out));
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert_eq!(status.code(), Some(0), "flow failed:\n{out}\n{err}");
    out
}

/// The value of counter `name` of block `block` in a run summary.
fn counter(summary: &str, block: &str, name: &str) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.split_whitespace().next() == Some(block))
        .unwrap_or_else(|| panic!("no summary line for `{block}`:\n{summary}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no counter `{name}` in: {line}"))
        .replace(',', "")
        .parse()
        .expect("a number")
}

fn sidecar(dir: &Path, channel: &str, minute: i64) -> Sidecar {
    let p = dir.join(format!("{channel}/20251206/{minute}.json"));
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&bytes).expect("sidecar JSON")
}

/// Writes what minute `minute` of `channel` must hold (zeros for gaps) beside it, as raw
/// complex64, for numpy to compare with.
fn expected_minute(
    dir: &Path,
    channel: &str,
    ssrc: u32,
    minute: i64,
    t0: i64,
    have: impl Fn(u64) -> bool,
) -> std::path::PathBuf {
    let base = (minute - t0) * RATE as i64; // stream index of the minute's first sample
    let want: Vec<C32> = (0..60 * RATE as i64)
        .map(|o| {
            let i = base + o;
            if i >= 0 && have(i as u64) {
                value(ssrc, i as u64)
            } else {
                C32::new(0.0, 0.0)
            }
        })
        .collect();
    let p = dir.join(format!("expected-{channel}-{minute}.c64"));
    std::fs::write(&p, bytemuck::cast_slice::<C32, u8>(&want)).expect("write expected");
    p
}

/// Checks a minute with numpy and sigmf: memmap equals `expected`, zeros where the
/// sidecar lists gaps, and the SigMF metadata validates and reads the same samples.
const CHECK: &str = r#"
import json, sys
import numpy as np
import sigmf
from sigmf import sigmffile
base, expected = sys.argv[1], sys.argv[2]
data = np.memmap(base + ".bin", dtype=np.complex64, mode="r")
want = np.fromfile(expected, dtype=np.complex64)
side = json.load(open(base + ".json"))
assert data.shape == (side["samples_expected"],), (data.shape, side["samples_expected"])
assert np.array_equal(data, want), "data differs from what was sent"
mask = np.zeros(len(data), bool)
for g in side["gaps"]:
    mask[g["start"]:g["start"] + g["length"]] = True
assert not np.any(data[mask]), "a gap holds data"
assert int((~mask).sum()) == side["samples_written"]
meta = sigmffile.fromfile(base + ".sigmf-meta")
meta.validate()
assert meta.get_global_field("core:datatype") == "cf32_le"
assert meta.get_global_field("core:sample_rate") == side["sample_rate"]
cap = meta.get_captures()[0]
assert cap["core:datetime"].endswith("Z"), cap
ann = meta.get_annotations()
assert [(a["core:sample_start"], a["core:sample_count"]) for a in ann] == [(g["start"], g["length"]) for g in side["gaps"]]
assert np.array_equal(meta.read_samples(), want)
print("ok", side["samples_written"], len(ann))
"#;

fn check_with_python(dir: &Path, channel: &str, minute: i64, expected: &Path) -> String {
    let base = dir.join(format!("{channel}/20251206/{minute}"));
    python(
        CHECK,
        &[
            base.to_str().expect("utf-8"),
            expected.to_str().expect("utf-8"),
        ],
    )
}

fn gaps(list: &[(u64, u64)]) -> Vec<GapEntry> {
    list.iter()
        .map(|&(start, length)| GapEntry { start, length })
        .collect()
}

#[test]
fn two_channels_with_loss_reordering_and_garbage_are_archived_exactly() {
    let s = Sandbox::new();
    let dir = s.path().join("raw");
    let (dp, sp) = (free_udp_port(), free_udp_port());
    let fg = s.write(
        "rec.toml",
        &flowgraph(&dir, dp, sp, &[(1000, "A"), (2000, "B")]),
    );
    let child = spawn_flow(&s, &fg);
    wait_udp_bound(dp);
    wait_udp_bound(sp);
    let r = Radiod::new(dp, sp);
    // Timestamp 0 is 30 s into minute T0: 400 packets reach 10 s into the next minute.
    let t0 = T0 + 30;
    r.status(1000, Encoding::S16be, t0);
    r.status(2000, Encoding::F32le, t0);
    let a = |k| r.packet(1000, Encoding::S16be, k);
    let b = |k| r.packet(2000, Encoding::F32le, k);
    let mut odd = a(60);
    odd.push(0x5a); // a stray byte: whole frames kept, counted malformed
    for k in 0..400u64 {
        match k {
            10 => {
                r.send(&a(11));
                r.send(&a(10)); // reordered
            }
            11 | 30 | 50 => {} // 30 is lost; 50 comes late, below
            20 => {
                r.send(&a(20));
                r.send(&a(20)); // duplicate
            }
            55 => {
                r.send(&a(55)); // the fifth packet held behind 50: the window gives up
                r.send(&a(50)); // late
            }
            60 => r.send(&odd),
            _ => r.send(&a(k)),
        }
        if !(100..103).contains(&k) {
            r.send(&b(k)); // B loses 100..103
        }
        if k == 200 {
            r.send(b"garbage that is not RTP");
            r.send(&a(201)[..6]); // truncated below the RTP header
        }
    }
    // Everything is processed once the last minute holds its last samples (on Ctrl-C the
    // source reads what is still queued, but only as much as its output queues can take).
    wait_journaled(&dir, "A", T0 + 60, 10_000);
    wait_journaled(&dir, "B", T0 + 60, 10_000);
    let summary = interrupt(child);

    for (name, v) in [
        ("packets", 398 + 397),
        ("samples", (398 + 397) * N),
        ("lost", 500),
        ("reordered", 1),
        ("duplicate", 1),
        ("late", 1),
        ("malformed", 3),
        ("kernel_drops", 0),
        ("status", 2),
    ] {
        assert_eq!(counter(&summary, "rx", name), v, "rx {name}\n{summary}");
    }
    assert_eq!(counter(&summary, "A", "samples"), 40_000 - 200, "{summary}");
    assert_eq!(counter(&summary, "B", "samples"), 40_000 - 300, "{summary}");

    // Minute T0 holds stream samples 0..30000 at offsets 30000..60000.
    let sa = sidecar(&dir, "A", T0);
    assert_eq!(sa.gaps, gaps(&[(0, 30_000), (33_000, 100), (35_000, 100)]));
    assert_eq!(
        (sa.samples_written, sa.state.as_str()),
        (29_800, "complete")
    );
    assert_eq!(sa.time.as_ref().expect("time").source, "gpsdo");
    assert_eq!(sa.frequency_hz, Some(1e6));
    let sa1 = sidecar(&dir, "A", T0 + 60);
    assert_eq!(sa1.gaps, gaps(&[(10_000, 50_000)]));
    assert_eq!(
        (sa1.samples_written, sa1.state.as_str()),
        (10_000, "stopped")
    );
    let sb = sidecar(&dir, "B", T0);
    assert_eq!(sb.gaps, gaps(&[(0, 30_000), (40_000, 300)]));
    assert_eq!(sb.samples_written, 29_700);

    let lost_a = |i: u64| !(3000..3100).contains(&i) && !(5000..5100).contains(&i);
    for (ch, ssrc, minute, have) in [
        ("A", 1000, T0, &lost_a as &dyn Fn(u64) -> bool),
        ("A", 1000, T0 + 60, &lost_a),
        ("B", 2000, T0, &|i: u64| !(10_000..10_300).contains(&i)),
        ("B", 2000, T0 + 60, &|_| true),
    ] {
        let want = expected_minute(s.path(), ch, ssrc, minute, t0, |i| i < 40_000 && have(i));
        let out = check_with_python(&dir, ch, minute, &want);
        assert!(out.starts_with("ok"), "{ch} {minute}: {out}");
    }
}

/// Samples of the journal of an open minute (what the archive has handed to the kernel).
fn journaled(dir: &Path, channel: &str, minute: i64) -> u64 {
    let p = dir.join(format!("{channel}/20251206/{minute}.journal"));
    Journal::read(&p)
        .ok()
        .flatten()
        .map_or(0, |j| j.records.iter().map(|r| r.1).sum())
}

/// Waits (at most 30 s) until the open minute's journal records `n` samples.
fn wait_journaled(dir: &Path, channel: &str, minute: i64, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while journaled(dir, channel, minute) < n {
        assert!(
            Instant::now() < deadline,
            "{channel} {minute}: {} of {n} samples journaled",
            journaled(dir, channel, minute)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn kill_9_mid_minute_then_restart_loses_nothing_written_and_conflicts_with_nothing() {
    let s = Sandbox::new();
    let dir = s.path().join("raw");
    let (dp, sp) = (free_udp_port(), free_udp_port());
    let fg = s.write("rec.toml", &flowgraph(&dir, dp, sp, &[(5000, "K")]));
    let t0 = T0; // timestamp 0 at the minute boundary
    let enc = Encoding::F32le;

    // First run: samples 0..20000 of the minute, except packet 50; then kill -9.
    let mut child = spawn_flow(&s, &fg);
    wait_udp_bound(dp);
    wait_udp_bound(sp);
    let r = Radiod::new(dp, sp);
    r.status(5000, enc, t0);
    for k in (0..200).filter(|k| *k != 50) {
        r.send(&r.packet(5000, enc, k));
    }
    // Packet 50 stays missing: the window holds 51..55 and gives up after 4 more; by 199
    // everything up to 199 is released and journaled.
    let deadline = Instant::now() + Duration::from_secs(30);
    while journaled(&dir, "K", T0) < 19_900 {
        assert!(
            Instant::now() < deadline,
            "archive did not write 19,900 samples"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(child.id(), 9);
    wait_child(&mut child, Duration::from_secs(30));
    let open = sidecar(&dir, "K", T0);
    assert_eq!(
        open.state, "open",
        "the sidecar exists while the minute is open"
    );
    assert!(dir.join(format!("K/20251206/{T0}.bin")).exists());

    // Second run: recovery finalizes the minute, then the stream continues in it (a new
    // radiod stream, same timing) and runs 5 s into the next minute.
    let child = spawn_flow(&s, &fg);
    wait_udp_bound(dp);
    wait_udp_bound(sp);
    r.status(5000, enc, t0);
    for k in 300..650 {
        r.send(&r.packet(5000, enc, k));
    }
    wait_journaled(&dir, "K", T0 + 60, 5000);
    let summary = interrupt(child);
    assert_eq!(counter(&summary, "K", "recovered"), 1, "{summary}");
    assert_eq!(counter(&summary, "K", "resumed"), 19_900, "{summary}");
    assert_eq!(counter(&summary, "K", "conflicts"), 0, "{summary}");

    let side = sidecar(&dir, "K", T0);
    assert_eq!(side.state, "complete");
    assert_eq!(side.gaps, gaps(&[(5000, 100), (20_000, 10_000)]));
    assert_eq!(side.samples_written, 60_000 - 10_100);
    let have = |i: u64| !(5000..5100).contains(&i) && !(20_000..30_000).contains(&i) && i < 65_000;
    let want = expected_minute(s.path(), "K", 5000, T0, t0, have);
    let out = check_with_python(&dir, "K", T0, &want);
    assert!(out.starts_with("ok"), "{out}");
    let next = sidecar(&dir, "K", T0 + 60);
    assert_eq!(
        (next.samples_written, next.state.as_str()),
        (5000, "stopped")
    );
    // Nothing was moved aside or left behind.
    let names: Vec<String> = std::fs::read_dir(dir.join("K/20251206"))
        .expect("day dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("conflict") && !n.ends_with(".journal") && !n.ends_with(".tmp")),
        "{names:?}"
    );
    let _ = stdout;
}

#[test]
fn the_loopback_flowgraph_records_what_it_sends() {
    let s = Sandbox::new();
    let fg = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/flowgraphs/grape-io-loopback.toml"
    );
    let port = free_udp_port().to_string();
    let out = crate::util::run_with_limit(
        s.flow()
            .args(["run", fg])
            .env("GRAPE_SECONDS", "2")
            .env("GRAPE_PORT", &port)
            .env("GRAPE_GROUP", "239.77.3.9")
            .env("GRAPE_DATA", s.path()),
        Duration::from_secs(60),
    );
    let summary = stdout(&out);
    assert!(
        out.status.success(),
        "{summary}\n{}",
        crate::util::stderr(&out)
    );
    let received = counter(&summary, "rx", "samples");
    assert!(received > 20_000, "{summary}");
    assert_eq!(counter(&summary, "rx", "lost"), 0, "{summary}");
    assert_eq!(
        counter(&summary, "archive", "samples"),
        received,
        "{summary}"
    );
    let mut written = 0;
    for day in std::fs::read_dir(s.path().join("raw/DEMO_10_MHz")).expect("channel dir") {
        let day = day.expect("entry").path();
        if !day.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&day).expect("day dir") {
            let p = f.expect("entry").path();
            if p.extension().is_some_and(|x| x == "json") {
                let side: Sidecar =
                    serde_json::from_slice(&std::fs::read(&p).expect("read")).expect("json");
                assert_eq!(side.state, "stopped", "{}", p.display());
                assert_eq!(side.time.as_ref().expect("time").source, "gpsdo");
                written += side.samples_written;
            }
        }
    }
    assert_eq!(written, received);
}
