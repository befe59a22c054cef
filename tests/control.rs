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

/// Starts `flow run fg.toml --http 127.0.0.1:0 --duration DURATION` in the sandbox; the
/// process and its control port's base URL (without the trailing `/`).
fn run_with_http(s: &Sandbox, duration: &str) -> (std::process::Child, String) {
    let mut child = s
        .flow()
        .args([
            "run",
            "fg.toml",
            "--http",
            "127.0.0.1:0",
            "--duration",
            duration,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn flow run");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let url = loop {
        let l = lines
            .next()
            .expect("flow prints the control port")
            .expect("read stderr");
        if let Some(u) = l.strip_prefix("control port: ") {
            break u.trim_end_matches('/').to_string();
        }
    };
    // Keep reading, so that flow's later log lines never meet a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

#[test]
fn flow_top_shows_the_blocks_of_a_running_flowgraph() {
    let s = Sandbox::new();
    s.write("fg.toml", ENDLESS);
    let (mut child, url) = run_with_http(&s, "30s");
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

/// `GET url` (plain HTTP on loopback): the status code and the body.
fn http_get(url: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut conn = std::net::TcpStream::connect(host).expect("connect to the control port");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut reply = String::new();
    conn.read_to_string(&mut reply).expect("reply");
    let code = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (code, body.to_string())
}

#[test]
fn the_control_port_serves_the_health_and_turns_503_when_a_block_stalls() {
    let s = Sandbox::new();
    s.write(
        "fg.toml",
        r#"
[flowgraph]
name = "health"
stall_after = "1s"
startup_grace = "0s"
[blocks.src]
type = "signal_source"
[blocks.pace]
type = "throttle"
inputs = ["src"]
rate = 100000.0
[blocks.hang]
type = "fault_inject"
inputs = ["pace"]
stall_after_items = 200000
[blocks.sink]
type = "null_sink"
inputs = ["hang"]
"#,
    );
    let (mut child, base) = run_with_http(&s, "60s");
    let url = format!("{base}/api/status");
    // Healthy while the items flow (the block hangs after 2 s of them), then failed.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut seen_ok = false;
    let failed = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the stall never showed"
        );
        let (code, body) = http_get(&url);
        if code == 503 && body.contains("no health check yet") {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&body).expect("status JSON");
        assert_eq!(v["flowgraph"], "health");
        assert_eq!(v["blocks"].as_array().map(Vec::len), Some(4), "{v}");
        match (code, v["health"].as_str()) {
            (200, Some("ok")) => seen_ok = true,
            (503, Some("failed")) => break v,
            other => panic!("unexpected {other:?}: {v}"),
        }
        // Poll interval: the run loop refreshes the status once a second.
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen_ok, "healthy before the stall");
    let problems = failed["problems"].to_string();
    assert!(
        problems.contains("hang") && problems.contains("stalled"),
        "{failed}"
    );
    let hang = &failed["blocks"][2];
    assert_eq!(hang["name"], "hang");
    assert_eq!(hang["health"], "failed");
    assert!(
        hang["last_progress_unix"].as_f64().unwrap_or(0.0) > 0.0,
        "{hang}"
    );
}
