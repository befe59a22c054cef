//! The web view's feed under load: 100 spectra per second of 4096 bins into `web_spectrum`,
//! one WebSocket client reading and one that never reads. The reader must get at least 10
//! frames per second and the serving process's memory must stay flat.
//!
//! The server runs in a child process (this same test, re-run with `FLOW_WEB_VIEW_CHILD`
//! set) so that its resident memory is measured alone, not mixed with other tests.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flow_framework::config::load_str;
use flow_framework::control::{ControlOptions, ControlServer};
use flow_framework::runtime::Flowgraph;

const CHILD: &str = "FLOW_WEB_VIEW_CHILD";

/// Starts `text` with a control port on a free loopback port.
pub(crate) fn start_view(text: &str) -> (Flowgraph, ControlServer) {
    crate::link();
    let g = load_str(text, "view.toml", std::path::Path::new("."), &[])
        .unwrap_or_else(|d| panic!("{d}"));
    let fg = Flowgraph::start(&g).unwrap();
    let opts = ControlOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        allow_remote: false,
        token: None,
    };
    let server = ControlServer::start(&opts, &g, &fg).unwrap();
    (fg, server)
}

const LOAD: &str = r#"
[blocks.src]
type = "signal_source"
frequency = 50000.0
sample_rate = 409600.0
noise = 0.01
[blocks.pace]
type = "throttle"
inputs = ["src"]
rate = 409600.0
[blocks.fft]
type = "wt_fft"
inputs = ["pace"]
bins = 4096
sample_rate = 409600.0
[blocks.view]
type = "web_spectrum"
inputs = ["fft"]
name = "load"
max_rate = 50.0
"#;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn the_feed_keeps_up_with_flat_memory_while_a_client_stalls() {
    if std::env::var_os(CHILD).is_some() {
        // The serving side: run until the parent closes our stdin (at most 60 s).
        let (fg, server) = start_view(LOAD);
        println!("WEB_VIEW_PORT {}", server.addr().port());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
            let _ = tx.send(());
        });
        let _ = rx.recv_timeout(Duration::from_secs(60));
        drop(server);
        fg.stop();
        fg.wait();
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sinks::web_spectrum::tests::live::the_feed_keeps_up_with_flat_memory_while_a_client_stalls", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let l = lines.next().expect("child prints its port").unwrap();
        // libtest may have printed the test's name on the same line.
        if let Some(p) = l.split("WEB_VIEW_PORT ").nth(1) {
            break p.trim().parse().unwrap();
        }
    };
    let url = format!("ws://127.0.0.1:{port}/ws");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (frames, rss) = rt.block_on(async {
        use futures_util::StreamExt;
        // A client that connects and never reads.
        let (_stalled, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let start = Instant::now();
        let mut frames = Vec::new();
        let mut rss = Vec::new();
        let mut next_probe = Duration::from_secs(2);
        while start.elapsed() < Duration::from_secs(12) {
            if start.elapsed() >= next_probe {
                rss.push(rss_kib(pid));
                next_probe += Duration::from_secs(2);
            }
            let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_millis(500), ws.next()).await
            else {
                continue;
            };
            let Ok(text) = m.to_text() else { continue };
            if text.starts_with("{\"kind\":\"spectrum\"") || text.contains("\"type\":\"spectrum\"")
            {
                frames.push(start.elapsed());
            }
        }
        (frames, rss)
    });
    drop(child.stdin.take());
    let _ = child.wait();
    let late = frames
        .iter()
        .filter(|t| **t >= Duration::from_secs(2))
        .count();
    let fps = late as f64 / 10.0;
    assert!(fps >= 10.0, "{fps} frames/s reached the reading client");
    assert!(rss.len() >= 5, "{rss:?}");
    // After warm-up, the server's memory is flat: at most 8 MiB of growth over 8 s of
    // 50 frames/s (a leak of one 4096-bin frame per frame would be ~16 MiB).
    let growth = rss[rss.len() - 1].saturating_sub(rss[1]);
    assert!(
        growth < 8 * 1024,
        "resident memory grew by {growth} KiB: {rss:?}"
    );
}
