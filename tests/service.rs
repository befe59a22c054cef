//! `flow run --systemd` against a stand-in service manager (a unix datagram socket named by
//! `$NOTIFY_SOCKET`): READY once started, watchdog pings while healthy and during the
//! start-up grace, none once a block stalls, and the stall named in STATUS.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::util::Sandbox;

/// Receives notifications until `until` returns true or `limit` passes.
fn collect(
    sock: &UnixDatagram,
    limit: Duration,
    mut until: impl FnMut(&[(Duration, String)]) -> bool,
) -> Vec<(Duration, String)> {
    let t0 = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while t0.elapsed() < limit && !until(&got) {
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        if let Ok(n) = sock.recv(&mut buf) {
            got.push((
                t0.elapsed(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
        }
    }
    got
}

#[test]
fn pings_stop_when_a_block_stalls_but_not_during_the_startup_grace() {
    let s = Sandbox::new();
    let sock_path = s.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    let fg = s.write(
        "stall.toml",
        r#"[flowgraph]
stall_after = "1s"
startup_grace = "2s"

[blocks.src]
type = "signal_source"
item = "f32"

[blocks.hang]
type = "fault_inject"
inputs = ["src"]
stall_after_items = 100000

[blocks.out]
type = "null_sink"
inputs = ["hang"]
"#,
    );
    let mut child = s
        .flow()
        .args(["run", fg.to_str().expect("path"), "--systemd", "--quiet"])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "200000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn flow");
    let got = collect(&sock, Duration::from_secs(20), |g| {
        g.iter().any(|(_, m)| m.starts_with("STATUS=unhealthy"))
    });
    // After the stall is reported, watch for another 1.5 s: no ping may come.
    let after = collect(&sock, Duration::from_millis(1500), |_| false);
    let _ = child.kill();
    let _ = child.wait();

    assert!(got[0].1.starts_with("READY=1\nSTATUS="), "{got:?}");
    let unhealthy = got
        .iter()
        .find(|(_, m)| m.starts_with("STATUS=unhealthy"))
        .expect("unhealthy status");
    assert!(
        unhealthy.1.contains("hang: stalled: no progress"),
        "{}",
        unhealthy.1
    );
    let pings_before: Vec<Duration> = got
        .iter()
        .filter(|(_, m)| m == "WATCHDOG=1")
        .map(|(t, _)| *t)
        .collect();
    assert!(
        pings_before.len() >= 5,
        "pings continue through the start-up grace: {got:?}"
    );
    assert!(
        unhealthy.0 >= Duration::from_secs(2),
        "no stall may be reported within the 2 s grace (reported at {:?})",
        unhealthy.0
    );
    assert!(
        !after.iter().any(|(_, m)| m == "WATCHDOG=1"),
        "pings must stop while stalled: {after:?}"
    );
}

/// Runs `flow status PATH --json`: (exit code, parsed JSON if any).
fn status(s: &Sandbox, path: &std::path::Path) -> (Option<i32>, Option<serde_json::Value>) {
    let out = s
        .flow()
        .args(["status", path.to_str().expect("path"), "--json"])
        .output()
        .expect("flow status");
    (out.status.code(), serde_json::from_slice(&out.stdout).ok())
}

#[test]
fn flow_status_reports_health_through_the_run_and_not_running_after() {
    let s = Sandbox::new();
    let status_path = s.path().join("run/st.status.json");
    let fg = s.write(
        "st.toml",
        r#"[flowgraph]
stall_after = "1s"
startup_grace = "0s"

[blocks.src]
type = "signal_source"
item = "f32"

[blocks.hang]
type = "fault_inject"
inputs = ["src"]
stall_after_items = 2000000

[blocks.out]
type = "null_sink"
inputs = ["hang"]
"#,
    );
    let mut child = s
        .flow()
        .args([
            "run",
            fg.to_str().expect("path"),
            "--quiet",
            "--status-file",
            status_path.to_str().expect("path"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn flow");
    // Healthy while items flow, then stalled once `hang` stops consuming.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen_ok = false;
    let stalled = loop {
        assert!(Instant::now() < deadline, "no stall reported");
        match status(&s, &status_path) {
            (Some(0), Some(j)) => {
                assert_eq!(j["flowgraph"], "st");
                seen_ok = true;
            }
            (Some(2), Some(j)) => break j,
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(seen_ok, "the run was healthy before the stall");
    assert_eq!(stalled["health"], "failed");
    let hang = stalled["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .find(|b| b["name"] == "hang")
        .expect("hang")
        .clone();
    assert_eq!(hang["health"], "failed");
    assert!(
        hang["reason"]
            .as_str()
            .expect("reason")
            .starts_with("stalled: no progress"),
        "{hang}"
    );
    assert!(hang["items_in"].as_u64().expect("items") >= 2_000_000);

    // A stalled block keeps a drain from finishing; kill -9 leaves the status file behind,
    // and `flow status` must still see that the run is gone.
    let _ = child.kill();
    let _ = child.wait();
    assert!(status_path.exists());
    let (code, _) = status(&s, &status_path);
    assert_eq!(
        code,
        Some(3),
        "after the run, `flow status` says it is not running"
    );
}
