//! The README's first command: `flow run flowgraphs/grape-demo.toml` records the simulated
//! station over RTP on loopback with no loss, archives whole minutes, and measures D_clock
//! within 0.1 ms of the simulator's truth for both stations.

use std::time::Duration;

use crate::util::{stderr, stdout, Sandbox};

/// The D_clock the summary reports for `station`.
fn d_clock(summary: &str, station: &str) -> f64 {
    let line = summary
        .lines()
        .find(|l| l.split_whitespace().next() == Some(station))
        .unwrap_or_else(|| panic!("no {station} line in:\n{summary}"));
    line.split_whitespace()
        .nth(2)
        .and_then(|x| x.parse().ok())
        .expect("D_clock column")
}

#[test]
fn the_grape_demo_records_everything_and_measures_d_clock() {
    let s = Sandbox::new();
    let fg = concat!(env!("CARGO_MANIFEST_DIR"), "/flowgraphs/grape-demo.toml");
    let out = s.run_env(
        &["run", fg],
        &[
            ("GRAPE_DATA", "data"),
            ("GRAPE_PORT", "15610"),
            ("GRAPE_GROUP", "239.77.3.61"),
        ],
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("channel WWV_10_MHz: 4 minutes written (2 complete)"),
        "{text}"
    );
    let rx = text.lines().find(|l| l.starts_with("rx ")).expect("rx row");
    assert!(rx.contains("samples=2,700,000 lost=0"), "{rx}");
    // The simulator's truth: clock offset 2.5 ms plus each path's delay.
    assert!((d_clock(&text, "WWV") - 6.6).abs() <= 0.1, "{text}");
    assert!((d_clock(&text, "WWVH") - 22.2).abs() <= 0.1, "{text}");
    let minute = s.path().join("data/raw/WWV_10_MHz/20251206/1765022400.bin");
    assert_eq!(
        std::fs::metadata(minute).expect("a whole minute").len(),
        60 * 20_000 * 8
    );
}
