//! The control port from the command line: `flow run --http` serves a running flowgraph,
//! `flow top --once` prints its blocks, and a non-loopback address is refused without
//! `--http-allow-remote` and a token.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::util::{run_with_limit, stderr, Sandbox};

const ENDLESS: &str = r#"
[flowgraph]
name = "ctl"
[blocks.src]
type = "signal_source"
[blocks.pace]
type = "throttle"
inputs = ["src"]
rate = 100000.0
[blocks.sink]
type = "null_sink"
inputs = ["pace"]
"#;

#[test]
fn flow_top_shows_the_blocks_of_a_running_flowgraph() {
    let s = Sandbox::new();
    s.write("fg.toml", ENDLESS);
    let mut child = s
        .flow()
        .args([
            "run",
            "fg.toml",
            "--http",
            "127.0.0.1:0",
            "--duration",
            "30s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let l = lines.next().expect("flow prints the control port").unwrap();
        if let Some(u) = l.strip_prefix("control port: ") {
            break u.trim_end_matches('/').to_string();
        }
    };
    std::thread::sleep(Duration::from_millis(600)); // two metric samples, for rates
    let out = s.run(&["top", &url, "--once"], Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert!(
        rows[0].starts_with("up ") && rows[0].ends_with("3 blocks"),
        "{text}"
    );
    assert!(rows[1].starts_with("block  type"), "{text}");
    assert!(
        rows[2].starts_with("src    signal_source  running"),
        "{text}"
    );
    assert!(
        rows[4].starts_with("sink   null_sink      running"),
        "{text}"
    );
    let bad = s.run(
        &["top", "http://127.0.0.1:1", "--once"],
        Duration::from_secs(20),
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).starts_with("error: http://127.0.0.1:1/api/metrics"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn a_remote_control_port_needs_the_flag_and_a_token() {
    let s = Sandbox::new();
    s.write("fg.toml", ENDLESS);
    let run = |args: &[&str]| {
        run_with_limit(
            s.flow().env_remove("FLOW_HTTP_TOKEN").args(args),
            Duration::from_secs(20),
        )
    };
    let out = run(&["run", "fg.toml", "--http", "0.0.0.0:0", "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("add --http-allow-remote and a token"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "run",
        "fg.toml",
        "--http",
        "0.0.0.0:0",
        "--http-allow-remote",
        "--duration",
        "1s",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("needs a token"), "{}", stderr(&out));
}
