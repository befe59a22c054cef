//! Tests of `message_sink`: JSON lines, torn lines, rotation and storage limits.

use super::*;
use flow_framework::harness::Harness;

#[test]
fn appends_one_json_object_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.jsonl");
    let p = MessageSinkParams {
        path: Some(path.clone()),
        fsync: FsyncPolicy::Always,
        ..Default::default()
    };
    let mut h = Harness::of::<MessageSinkDef>(p, &[]).unwrap();
    h.push_message(
        0,
        Message::new("tone")
            .with("station", "WWV")
            .with("d_clock_ms", 0.25),
    );
    h.push_message(
        0,
        Message::new("tone").with("station", "CHU").with("n", 3u64),
    );
    h.run_to_end().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"kind\":\"tone\",\"station\":\"WWV\",\"d_clock_ms\":0.25}\n{\"kind\":\"tone\",\"station\":\"CHU\",\"n\":3}\n"
    );
    assert_eq!(h.counter("messages"), 2);

    // A torn last line (a kill during a write) is cut before appending.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}{{\"kind\":\"to")).unwrap();
    let p = MessageSinkParams {
        path: Some(path.clone()),
        fsync: FsyncPolicy::Never,
        ..Default::default()
    };
    let mut h = Harness::of::<MessageSinkDef>(p, &[]).unwrap();
    h.push_message(0, Message::new("x"));
    h.run_to_end().unwrap();
    assert_eq!(h.counter("torn_bytes"), 11);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{text}{{\"kind\":\"x\"}}\n")
    );
}

#[test]
fn rotates_by_size_and_deletes_only_confirmed_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log/tones.jsonl");
    let p: MessageSinkParams = toml::from_str(&format!(
        "path = {:?}\nrotate_bytes = 1000\nlimits = {{ max_bytes = 30000, require_confirmation = true }}",
        path.to_str().unwrap()
    ))
    .unwrap();
    let mut h = Harness::of::<MessageSinkDef>(p, &[]).unwrap();
    let big = "x".repeat(900);
    for k in 0..12u64 {
        h.push_message(0, Message::new("m").with("k", k).with("pad", big.as_str()));
        h.run();
        if k == 2 {
            // A consumer confirms the first two files.
            let mut names: Vec<String> = std::fs::read_dir(dir.path().join("log"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".jsonl"))
                .collect();
            names.sort();
            crate::util::retention::confirm::add(&dir.path().join("log"), &names[..2]).unwrap();
        }
    }
    h.run_to_end().unwrap();
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("log"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    files.sort();
    let ks: Vec<u64> = files
        .iter()
        .map(|f| {
            let t = std::fs::read_to_string(dir.path().join("log").join(f)).unwrap();
            assert_eq!(t.lines().count(), 1, "one message per file");
            let v: serde_json::Value = serde_json::from_str(t.trim()).unwrap();
            v["k"].as_u64().unwrap()
        })
        .collect();
    // 4 KiB per file, 12 KiB for the open one: the two confirmed files made room, then the
    // unconfirmed ones are kept and the sink stopped.
    assert_eq!(h.counter("evicted"), 2);
    assert_eq!(ks[0], 2, "{ks:?}");
    assert_eq!(ks, (2..2 + ks.len() as u64).collect::<Vec<_>>());
    assert!(h.counter("limit_dropped") > 0);
    assert_eq!(h.counter("messages") + h.counter("limit_dropped"), 12);
}

#[test]
fn an_fsync_interval_syncs_lines_even_when_nothing_follows_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.jsonl");
    let p = MessageSinkParams {
        path: Some(path.clone()),
        fsync: FsyncPolicy::Interval(std::time::Duration::from_millis(200)),
        ..Default::default()
    };
    let mut h = Harness::of::<MessageSinkDef>(p, &[]).unwrap();
    h.push_message(0, Message::new("tone").with("n", 1u64));
    crate::util::fsync::assert_synced_once_after(&mut h, std::time::Duration::from_millis(200));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"kind\":\"tone\",\"n\":1}\n"
    );
}
