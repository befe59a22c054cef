//! Tests of `web_spectrum` and the live web view: what the block publishes, that the page's
//! feed keeps up at more than 10 frames per second with bounded memory while a client stalls,
//! and (in `browser`) the page itself in headless Chromium.

mod browser;
mod fft_block;
mod live;

use flow_framework::control::hub;
use flow_framework::harness::Harness;
use flow_framework::prelude::*;

fn spectrum(bins: usize, peak: usize) -> Message {
    let power: Vec<f32> = (0..bins)
        .map(|k| if k == peak { -10.0 } else { -90.0 })
        .collect();
    Message::new("spectrum")
        .with("time_ns", Value::Time(1_700_000_000_000_000_000))
        .with("index", 0u64)
        .with("center_hz", 10e6)
        .with("bin_hz", 10.0)
        .with("start_hz", 10e6 - 10.0 * bins as f64 / 2.0)
        .with("averages", 4u64)
        .with("db", true)
        .with("power", power)
}

fn received(
    rx: &mut tokio::sync::broadcast::Receiver<hub::Published>,
    name: &str,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    while let Ok(p) = rx.try_recv() {
        let v: serde_json::Value = serde_json::from_str(&p.json).unwrap();
        if v["name"] == name {
            out.push(v);
        }
    }
    out
}

#[test]
fn publishes_reduced_spectra_detections_and_thins_by_rate() {
    let mut rx = hub::subscribe();
    let mut h = Harness::new(
        "web_spectrum",
        "name = \"unit\"\nmax_rate = 0.5\nmax_bins = 16",
        &[],
    )
    .unwrap();
    h.push_message(0, spectrum(64, 37));
    h.push_message(0, spectrum(64, 1));
    h.push_message(
        0,
        Message::new("detection")
            .with("time_ns", Value::Time(5))
            .with("freq_hz", 10_000_123.0)
            .with("power_db", -10.0)
            .with("snr_db", 30.0)
            .with("bandwidth_hz", 10.0)
            .with("first_seen_ns", Value::Time(1))
            .with("last_seen_ns", Value::Time(5))
            .with("bins", 1u64),
    );
    h.push_message(0, Message::new("tone_detection"));
    h.run_to_end().unwrap();
    let docs = received(&mut rx, "unit");
    assert_eq!(docs.len(), 2, "{docs:?}");
    let s = &docs[0];
    assert_eq!(s["type"], "spectrum");
    assert_eq!(s["bin_hz"], 40.0, "64 bins reduced to 16: 4 per group");
    let power: Vec<f64> = s["power"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(power.len(), 16);
    assert_eq!(power[9], -10.0, "bin 37 is in group 9, kept by the maximum");
    assert_eq!(power.iter().filter(|p| **p == -90.0).count(), 15);
    assert_eq!(s["center_hz"], 10e6);
    assert_eq!(docs[1]["type"], "detection");
    assert_eq!(docs[1]["freq_hz"], 10_000_123.0);
    // The second spectrum came within 2 s of the first: thinned.
    assert_eq!((h.counter("frames"), h.counter("skipped")), (1, 1));
    assert_eq!((h.counter("detections"), h.counter("ignored")), (1, 1));
}

#[test]
fn nothing_is_built_while_no_page_listens() {
    // Another test's subscription may be open; this block's frames must then be sent, else
    // skipped. Either way the block never blocks and accounts for every message.
    let mut h = Harness::new("web_spectrum", "name = \"idle\"", &[]).unwrap();
    for _ in 0..100 {
        h.push_message(0, spectrum(1024, 3));
    }
    h.run_to_end().unwrap();
    assert_eq!(h.counter("frames") + h.counter("skipped"), 100);
}
