//! The `flow` command line end to end: the registry as the binary sees it, generated docs,
//! `check`, `graph`, `run` with its summary, Ctrl-C draining, and `--set` overrides.

use std::time::Duration;

use crate::util::{signal, stderr, stdout, wait_child, Sandbox};

/// Block type names defined in `blocks/src` (every `const NAME: &'static str = "..."`),
/// leaving out test-only blocks (files `testblocks.rs`, directories ending in `_tests`).
fn block_names_in_source() -> Vec<String> {
    let mut names = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/blocks/src"
    ))];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read blocks/src") {
            let p = e.expect("entry").path();
            let file = p.file_name().and_then(|f| f.to_str()).unwrap_or_default();
            if p.is_dir() {
                if !file.ends_with("_tests") {
                    dirs.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") && file != "testblocks.rs" {
                let text = std::fs::read_to_string(&p).expect("read source");
                for line in text.lines() {
                    let line = line.trim();
                    if let Some(rest) = line.strip_prefix("const NAME: &'static str = \"") {
                        names.push(rest.trim_end_matches("\";").to_string());
                    }
                }
            }
        }
    }
    names.sort();
    names
}

#[test]
fn every_block_in_the_library_is_registered_in_the_binary() {
    let s = Sandbox::new();
    let out = s.run(&["blocks"], Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Vec<String> = stdout(&out)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect();
    // Blocks behind cargo features are registered only when built with them.
    let feature_gated = [("soapy_source", cfg!(feature = "soapy"))];
    let defined: Vec<String> = block_names_in_source()
        .into_iter()
        .filter(|n| feature_gated.iter().all(|(b, on)| n != b || *on))
        .collect();
    assert!(defined.len() >= 12, "found only {defined:?}");
    for name in &defined {
        assert!(
            listed.contains(name),
            "block `{name}` is defined in blocks/src but `flow blocks` does not list it"
        );
    }
}

#[test]
fn docs_blocks_md_is_up_to_date() {
    let s = Sandbox::new();
    let out = s.run(&["docs", "blocks"], Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/blocks.md"))
        .unwrap_or_default();
    assert!(
        committed == stdout(&out),
        "docs/blocks.md is stale: regenerate it with `cargo run -q -- docs blocks > docs/blocks.md`"
    );
}

#[test]
fn every_shipped_flowgraph_passes_check() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/flowgraphs");
    let s = Sandbox::new();
    let mut checked = 0;
    for e in std::fs::read_dir(dir).expect("flowgraphs/") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "toml") {
            let out = s.run(
                &["check", p.to_str().expect("utf-8 path")],
                Duration::from_secs(30),
            );
            // A flowgraph may use blocks of a cargo feature this build lacks; then every
            // error must say so (and name the feature).
            let err = stderr(&out);
            let only_features = err
                .lines()
                .filter(|l| l.contains(": error: "))
                .all(|l| l.contains("is not in this build: it needs the cargo feature"));
            assert!(
                out.status.success() || (only_features && err.contains(": error: ")),
                "{}: {}{err}",
                p.display(),
                stdout(&out)
            );
            checked += 1;
        }
    }
    assert!(checked >= 1);
}

#[test]
fn check_reports_all_problems_with_locations_and_a_non_zero_exit() {
    let s = Sandbox::new();
    let fg = s.write(
        "bad.toml",
        r#"[blocks.src]
type = "signal_source"
item = "f32"
frequncy = 10.0

[blocks.scale]
type = "multiply_const"
inputs = ["src"]
constant = [0.0, 1.0]

[blocks.half]
type = "multiply_const"
inputs = ["cast"]
constant = 0.5

[blocks.cast]
type = "null_source"
item = "i16"

[blocks.out]
type = "file_sinc"
inputs = ["scale"]
"#,
    );
    let out = s.run(&["check", fg.to_str().unwrap()], Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(text.contains("bad.toml:4:1: error: unknown parameter `frequncy` for block `src` (type `signal_source`)"), "{text}");
    assert!(text.contains("did you mean `frequency`?"), "{text}");
    assert!(
        text.contains(
            "bad.toml:11:1: error: block `half` (type `multiply_const`) does not take i16"
        ),
        "{text}"
    );
    assert!(text.contains("it takes f32, f64, c32, c64"), "{text}");
    assert!(
        text.contains("bad.toml:21:8: error: unknown block type `file_sinc` for block `out`"),
        "{text}"
    );
    assert!(text.contains("did you mean `file_sink`?"), "{text}");
}

#[test]
fn run_writes_a_file_and_prints_a_summary() {
    let s = Sandbox::new();
    let fg = s.write(
        "tone.toml",
        r#"[blocks.src]
type = "signal_source"
frequency = 100.0
sample_rate = 1000.0
items = 250000

[blocks.gain]
type = "multiply_const"
inputs = ["src"]
constant = 2.0

[blocks.out]
type = "file_sink"
inputs = ["gain"]
path = "${OUT_NAME:-tone.c32}"
"#,
    );
    let out = s.run(
        &[
            "run",
            fg.to_str().unwrap(),
            "--set",
            "blocks.src.amplitude=0.25",
        ],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stdout(&out);
    assert!(summary.contains("out    file_sink"), "{summary}");
    assert!(summary.contains("bytes=2,000,000"), "{summary}");
    let bytes = std::fs::read(s.path().join("tone.c32")).expect("output file");
    assert_eq!(bytes.len(), 2_000_000);
    let first_re = f32::from_le_bytes(bytes[0..4].try_into().unwrap());
    assert_eq!(
        first_re, 0.5,
        "amplitude 0.25 set on the command line, times 2"
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_drains_and_finalizes_then_a_second_exits_at_once() {
    use std::io::Read;
    let s = Sandbox::new();
    let fg = s.write(
        "endless.toml",
        r#"[blocks.src]
type = "signal_source"
item = "f32"

[blocks.slow]
type = "throttle"
inputs = ["src"]
rate = 200000.0

[blocks.out]
type = "file_sink"
inputs = ["slow"]
path = "endless.f32"
"#,
    );
    let mut child = s
        .flow()
        .args(["run", fg.to_str().unwrap(), "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn flow");
    // Wait until data reaches the file, then interrupt.
    let path = s.path().join("endless.f32");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&path).map_or(0, |m| m.len()) < 40_000 {
        assert!(std::time::Instant::now() < deadline, "no data written");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(child.id(), 2);
    let status = wait_child(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "a drained stop exits 0");
    let len = std::fs::metadata(&path).expect("file").len();
    assert_eq!(len % 4, 0, "only whole items are written");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");

    // A flowgraph whose sink never drains: the first Ctrl-C starts a stop that cannot end;
    // the second exits at once with 130.
    let stuck = s.write(
        "stuck.toml",
        r#"[blocks.src]
type = "signal_source"
item = "f32"

[blocks.slow]
type = "throttle"
inputs = ["src"]
rate = 1.0
buffer = 100000000

[blocks.out]
type = "null_sink"
inputs = ["slow"]
"#,
    );
    let mut child = s
        .flow()
        .args(["run", stuck.to_str().unwrap(), "--quiet", "-v"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn flow");
    let lines = log_lines(child.stderr.take().expect("stderr"));
    wait_for_line(&lines, "starting");
    signal(child.id(), 2);
    wait_for_line(&lines, "interrupted: stopping");
    signal(child.id(), 2);
    let status = wait_child(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
}

/// Forwards the lines of a child's output to a channel.
fn log_lines(r: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (at most 30 s) for a line containing `needle`.
fn wait_for_line(lines: &std::sync::mpsc::Receiver<String>, needle: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return,
            Ok(_) => {}
            Err(_) => panic!("no log line containing `{needle}` within 30 s"),
        }
    }
}
