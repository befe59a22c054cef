//! flow → flow over loopback ZeroMQ: items and tags arrive as sent (PUSH/PULL, lossless),
//! and a PUB/SUB stream keeps every item at its sample index across drops.

use std::time::{Duration, Instant};

use flow_framework::config::load_str;
use flow_framework::runtime::Flowgraph;
use flow_framework::tag::{ItemTag, Tag};

use super::testblocks::{collected, fixed_tags, free_port, Collected};

/// Loads and starts a flowgraph.
pub(crate) fn start_graph(text: &str) -> Flowgraph {
    crate::link();
    let g = load_str(text, "zmq.toml", std::path::Path::new("."), &[])
        .unwrap_or_else(|d| panic!("{d}"));
    Flowgraph::start(&g).expect("starts")
}

/// Waits until `key` recorded at least `n` items (at most 30 s).
pub(crate) fn wait_for(key: &str, n: usize) -> Collected {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let c = collected(key);
        if c.values.len() >= n || Instant::now() > end {
            return c;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(fg: Flowgraph) {
    fg.stop();
    assert!(fg.wait_timeout(Duration::from_secs(20)), "did not stop");
    let report = fg.wait();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
}

#[test]
fn push_pull_carries_every_item_and_tag() {
    let port = free_port();
    let fg = start_graph(&format!(
        r#"
[blocks.src]
type = "zt_count"
count = 100000
[blocks.tx]
type = "zmq_push_sink"
inputs = ["src"]
address = "tcp://127.0.0.1:{port}"
pass_tags = true
max_items = 3000
[blocks.rx]
type = "zmq_pull_source"
address = "tcp://127.0.0.1:{port}"
item = "i32"
[blocks.out]
type = "zt_collect"
inputs = ["rx"]
key = "push_pull"
"#
    ));
    let c = wait_for("push_pull", 100_000);
    stop(fg);
    assert_eq!(c.values.len(), 100_000);
    for (k, v) in c.values.iter().enumerate() {
        assert_eq!(*v, k as f64, "item {k}");
    }
    assert_eq!(c.tags, fixed_tags());
    // The gap tag carried across shifts the sample index as on the sending side.
    assert_eq!(c.indices[6999], 6999);
    assert_eq!(c.indices[7000], 7005);
}

#[test]
fn pub_sub_keeps_items_at_their_sample_index_and_tags_on_their_items() {
    let port = free_port();
    // An endless fast source and a tiny high-water mark: the publisher drops; every drop
    // must come out as a gap, so each received item sits at the sender's sample index
    // (counted from the position at which the subscriber joined).
    let fg = start_graph(&format!(
        r#"
[blocks.src]
type = "zt_count"
tag_every = 1000
[blocks.tx]
type = "zmq_pub_sink"
inputs = ["src"]
address = "tcp://127.0.0.1:{port}"
pass_tags = true
hwm = 4
max_items = 1000
key = "iq"
[blocks.rx]
type = "zmq_sub_source"
address = "tcp://127.0.0.1:{port}"
item = "i32"
key = "iq"
[blocks.out]
type = "zt_collect"
inputs = ["rx"]
key = "pub_sub"
"#
    ));
    let c = wait_for("pub_sub", 300_000);
    stop(fg);
    assert!(c.values.len() >= 300_000, "{} items", c.values.len());
    // The sender's sample index of value `v`: zt_count's own gap of 5 at item 7000 shifts
    // everything after it (carried across as a gap tag when the subscriber joined before it).
    let sent_index = |v: f64| v as u64 + if v >= 7000.0 { 5 } else { 0 };
    let (v0, i0) = (c.values[0], c.indices[0]);
    for (k, (v, i)) in c.values.iter().zip(&c.indices).enumerate() {
        assert_eq!(
            i - i0,
            sent_index(*v) - sent_index(v0),
            "item {k} (value {v})"
        );
    }
    let seq: Vec<&ItemTag> = c
        .tags
        .iter()
        .filter(|t| matches!(&t.tag, Tag::User(k, _) if &**k == "seq"))
        .collect();
    assert!(seq.len() >= 100, "{} seq tags", seq.len());
    for t in seq {
        let Tag::User(_, v) = &t.tag else { continue };
        let k = (t.position) as usize;
        assert_eq!(Some(c.values[k]), v.as_f64(), "tag at {k}");
    }
}

#[test]
fn a_taken_port_fails_the_block_with_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fg = start_graph(&format!(
        r#"
[blocks.src]
type = "zt_count"
count = 10
[blocks.tx]
type = "zmq_pub_sink"
inputs = ["src"]
address = "tcp://127.0.0.1:{port}"
"#
    ));
    assert!(fg.wait_timeout(Duration::from_secs(20)));
    let report = fg.wait();
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert!(
        report.failed[0]
            .1
            .starts_with(&format!("binding tcp://127.0.0.1:{port}")),
        "{:?}",
        report.failed
    );
}
