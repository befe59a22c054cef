//! The live web view in headless Chromium, driven by `tests/browser/web_view.mjs`
//! (playwright-core from npm, `/usr/bin/chromium` from Debian's `chromium` package): the page
//! loads, the spectrum updates at 10 frames per second or more, and a frequency typed into
//! the page moves the spectrum's peak. Screenshots are kept in `target/test-artifacts/`.
//! Fails when node, playwright-core or Chromium are missing: CI installs them.

use std::path::PathBuf;
use std::process::Command;

use super::live::start_view;

const VIEW: &str = r#"
[flowgraph]
name = "web-view"
[blocks.src]
type = "signal_source"
frequency = 3000.0
sample_rate = 48000.0
amplitude = 0.5
noise = 0.01
[blocks.pace]
type = "throttle"
inputs = ["src"]
rate = 48000.0
[blocks.fft]
type = "wt_fft"
inputs = ["pace"]
bins = 1024
sample_rate = 48000.0
[blocks.spectrum]
type = "web_spectrum"
inputs = ["fft"]
name = "demo"
"#;

/// Where test artifacts go: `$CARGO_TARGET_DIR` or the workspace's `target`.
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("test-artifacts").join("web-view")
}

#[test]
fn the_page_shows_the_live_spectrum_and_changes_a_parameter() {
    let (fg, server) = start_view(VIEW);
    let out = artifacts();
    let _ = std::fs::remove_dir_all(&out);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/browser/web_view.mjs");
    let result = Command::new("node")
        .arg(script)
        .arg(format!("http://{}", server.addr()))
        .arg(&out)
        .output()
        .expect("node runs (install nodejs, then `npm ci` in tests/browser)");
    drop(server);
    fg.stop();
    fg.wait();
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");
    for shot in ["web-view-before.png", "web-view.png"] {
        let len = std::fs::metadata(out.join(shot))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 10_000, "{shot}: {len} bytes");
    }
}
