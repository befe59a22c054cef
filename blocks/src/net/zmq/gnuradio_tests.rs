//! Interoperability with GNU Radio 3.10's gr-zeromq, item by item and tag by tag: GNU Radio
//! sends to flow and flow sends to GNU Radio, raw and tagged, through
//! `tests/gnuradio/zmq_peer.py` run by `/usr/bin/python3` (Debian's `gnuradio` package).
//! These tests fail when GNU Radio is missing: CI installs it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flow_framework::message::Value;
use flow_framework::tag::{ItemTag, Tag, TimeSource};

use super::testblocks::free_port;
use super::tests::{start_graph, wait_for};

const N: usize = 100_000;

fn peer(args: &[&str]) -> Child {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/gnuradio/zmq_peer.py");
    Command::new("/usr/bin/python3")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 runs (install Debian's gnuradio package)")
}

/// Waits (at most 60 s) until a receiving peer says it is running.
fn wait_ready(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let end = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = end.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l == "ready" => return rx,
            Ok(_) => {}
            Err(_) => panic!("the GNU Radio peer did not start"),
        }
    }
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(
        out.status.success(),
        "GNU Radio peer failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The flow tags the GNU Radio peer's tags become.
fn expected_from_gnuradio() -> Vec<ItemTag> {
    let at = |position, tag| ItemTag { position, tag };
    vec![
        at(
            0,
            Tag::Time {
                ns: 1_700_000_000_250_000_000,
                source: TimeSource::Upstream,
            },
        ),
        at(0, Tag::Rate(48_000.0)),
        at(1000, Tag::Freq(10e6)),
        at(5000, Tag::User("label".into(), Value::Str("WWV".into()))),
        at(6000, Tag::User("count".into(), Value::I64(-42))),
        at(6500, Tag::User("big".into(), Value::U64(1 << 40))),
    ]
}

fn gnuradio_to_flow(pattern: &str, tags: bool, key: &str) {
    let port = free_port();
    let (source, sender) = match pattern {
        "push" => ("zmq_pull_source", "push"),
        _ => ("zmq_sub_source", "pub"),
    };
    let fg = start_graph(&format!(
        r#"
[blocks.rx]
type = "{source}"
address = "tcp://127.0.0.1:{port}"
item = "f32"
[blocks.out]
type = "zt_collect"
inputs = ["rx"]
key = "{key}"
"#
    ));
    let address = format!("tcp://127.0.0.1:{port}");
    let child = peer(&[
        "send",
        sender,
        &address,
        "f32",
        &N.to_string(),
        if tags { "1" } else { "0" },
    ]);
    let c = wait_for(key, N);
    finish(child);
    fg.stop();
    assert!(fg.wait_timeout(Duration::from_secs(20)));
    assert!(fg.wait().failed.is_empty());
    assert_eq!(
        c.values.len(),
        N,
        "items received (first {:?}, last {:?})",
        c.values.first(),
        c.values.last()
    );
    for (k, v) in c.values.iter().enumerate() {
        assert_eq!(*v, k as f64, "item {k}");
    }
    let mut got = c.tags.clone();
    got.sort_by(|a, b| {
        a.position
            .cmp(&b.position)
            .then(a.tag.key().cmp(b.tag.key()))
    });
    let mut want = if tags {
        expected_from_gnuradio()
    } else {
        Vec::new()
    };
    want.sort_by(|a, b| {
        a.position
            .cmp(&b.position)
            .then(a.tag.key().cmp(b.tag.key()))
    });
    assert_eq!(got, want);
}

#[test]
fn gnuradio_push_to_flow_pull_tagged() {
    gnuradio_to_flow("push", true, "gr_push_tagged");
}

#[test]
fn gnuradio_push_to_flow_pull_raw() {
    gnuradio_to_flow("push", false, "gr_push_raw");
}

#[test]
fn gnuradio_pub_to_flow_sub_tagged() {
    gnuradio_to_flow("pub", true, "gr_pub_tagged");
}

fn flow_to_gnuradio(tags: bool) {
    let port = free_port();
    let address = format!("tcp://127.0.0.1:{port}");
    let mut child = peer(&[
        "recv",
        "pull",
        &address,
        "i32",
        &N.to_string(),
        if tags { "1" } else { "0" },
    ]);
    // The sender lingers 1 s at its end, as gr-zeromq's: start it once the puller runs.
    let _stderr = wait_ready(&mut child);
    let fg = start_graph(&format!(
        r#"
[blocks.src]
type = "zt_count"
count = {N}
[blocks.tx]
type = "zmq_push_sink"
inputs = ["src"]
address = "{address}"
pass_tags = {tags}
max_items = 2500
"#
    ));
    let out = finish(child);
    assert!(fg.wait_timeout(Duration::from_secs(20)));
    assert!(fg.wait().failed.is_empty());
    let v: serde_json::Value = serde_json::from_str(&out).expect("peer prints JSON");
    let data = v["data"].as_array().expect("data");
    assert_eq!(data.len(), N);
    for (k, x) in data.iter().enumerate() {
        assert_eq!(x.as_i64(), Some(k as i64), "item {k}");
    }
    let mut got: Vec<String> = v["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t.to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = if tags {
        [
            r#"[0,"rx_time",[1700000000,0.25],"flow:gpsdo"]"#,
            r#"[0,"rx_rate",48000.0,"tx"]"#,
            r#"[1000,"rx_freq",10000000.0,"tx"]"#,
            r#"[5000,"label","WWV","tx"]"#,
            r#"[7000,"flow_gap",5,"tx"]"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    } else {
        Vec::new()
    };
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn flow_push_to_gnuradio_pull_tagged() {
    flow_to_gnuradio(true);
}

#[test]
fn flow_push_to_gnuradio_pull_raw() {
    flow_to_gnuradio(false);
}

#[test]
fn flow_pub_to_gnuradio_sub_tagged() {
    let port = free_port();
    let address = format!("tcp://127.0.0.1:{port}");
    let fg = start_graph(&format!(
        r#"
[blocks.src]
type = "zt_count"
tag_every = 1000
[blocks.pace]
type = "throttle"
inputs = ["src"]
rate = 500000.0
[blocks.tx]
type = "zmq_pub_sink"
inputs = ["pace"]
address = "{address}"
pass_tags = true
max_items = 1000
"#
    ));
    let n = 50_000;
    let out = finish(peer(&["recv", "sub", &address, "i32", &n.to_string(), "1"]));
    fg.stop();
    assert!(fg.wait_timeout(Duration::from_secs(20)));
    assert!(fg.wait().failed.is_empty());
    let v: serde_json::Value = serde_json::from_str(&out).expect("peer prints JSON");
    let data: Vec<i64> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| x.as_i64().expect("int"))
        .collect();
    assert_eq!(data.len(), n);
    // The subscriber joins mid-stream; from there on every item arrives in order.
    for (k, x) in data.iter().enumerate() {
        assert_eq!(*x, data[0] + k as i64, "item {k}");
    }
    // Each `seq` tag sits on the item whose value it carries (GNU Radio re-bases offsets).
    let seq: Vec<&serde_json::Value> = v["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter(|t| t[1] == "seq")
        .collect();
    assert!(seq.len() >= n / 1000 - 1, "{} seq tags", seq.len());
    for t in seq {
        let offset = t[0].as_u64().expect("offset") as usize;
        assert_eq!(t[2].as_i64(), Some(data[offset]), "{t}");
    }
}
