//! D_clock error of `tone_detect` against SNR on `wwv_sim`, and the detector's speed:
//! `cargo bench -p flow-blocks --bench grape_snr` prints the table in docs/grape.md.
//!
//! For each station and SNR it simulates several minutes with a known clock offset and
//! delay (different noise seeds and sub-sample offsets), and compares every reported
//! D_clock with `clock_offset_ms + delay_ms`.

use std::time::Instant;

use flow_blocks::dsp::decimate::DecimateDef;
use flow_blocks::grape::tone_detect::ToneDetectDef;
use flow_blocks::grape::wwv_sim::WwvSimDef;
use flow_framework::harness::Harness;
use flow_framework::prelude::*;

const RATE: f64 = 20_000.0;

struct Row {
    detected: usize,
    expected: usize,
    errors: Vec<f64>,
    uncertainty: Vec<f64>,
}

fn run(station: &str, snr: f64, seed: u64, minutes: usize, busy: &mut f64) -> Row {
    // start 2 s before a minute; the clock offset and delay vary with the seed
    let offset = 1.0 + 0.137 * seed as f64;
    let delay = 3.3 + 0.011 * seed as f64;
    let body = format!(
        "start = \"2025-12-06T12:{:02}:58Z\"\nclock_offset_ms = {offset}\nseed = {seed}\n\
         items = {}\nstations = [{{ station = \"{station}\", snr_db = {snr}, delay_ms = {delay} }}]",
        10 + seed,
        (RATE * (60.0 * minutes as f64 + 4.0)) as u64
    );
    let mut sim =
        Harness::of::<WwvSimDef>(toml::from_str(&body).expect("params"), &[]).expect("sim");
    assert!(sim.run());
    let x = sim.output::<C32>(0);
    let mut det =
        Harness::of::<ToneDetectDef>(toml::from_str("").expect("params"), &[ItemType::C32])
            .expect("detector");
    for t in sim.output_tags(0) {
        det.push_tag(0, 0, t.tag.clone());
    }
    det.push_input(0, &x);
    let t = Instant::now();
    det.run_to_end().expect("runs");
    *busy += t.elapsed().as_secs_f64();
    let mut row = Row {
        detected: 0,
        expected: minutes,
        errors: Vec::new(),
        uncertainty: Vec::new(),
    };
    for m in det.messages(0) {
        if m.get("station").and_then(Value::as_str) != Some(station) {
            continue;
        }
        row.detected += 1;
        let d = m
            .get("d_clock_ms")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN);
        row.errors.push(d - (offset + delay));
        row.uncertainty.push(
            m.get("uncertainty_ms")
                .and_then(Value::as_f64)
                .unwrap_or(f64::NAN),
        );
    }
    row
}

fn main() {
    let seeds = 4u64;
    let minutes = 2usize;
    let mut busy = 0.0;
    let mut signal_s = 0.0;
    println!("| station | SNR (dB) | minutes detected | mean error (ms) | RMS error (ms) | max abs error (ms) | mean reported uncertainty (ms) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for station in ["WWV", "WWVH", "CHU"] {
        for snr in [20.0, 10.0, 5.0, 0.0, -5.0, -10.0, -15.0, -20.0] {
            let mut all = Row {
                detected: 0,
                expected: 0,
                errors: Vec::new(),
                uncertainty: Vec::new(),
            };
            for seed in 1..=seeds {
                let r = run(station, snr, seed, minutes, &mut busy);
                signal_s += 60.0 * minutes as f64 + 4.0;
                all.detected += r.detected;
                all.expected += r.expected;
                all.errors.extend(r.errors);
                all.uncertainty.extend(r.uncertainty);
            }
            let n = all.errors.len().max(1) as f64;
            let mean = all.errors.iter().sum::<f64>() / n;
            let rms = (all.errors.iter().map(|e| e * e).sum::<f64>() / n).sqrt();
            let max = all.errors.iter().fold(0.0f64, |m, e| m.max(e.abs()));
            let unc = all.uncertainty.iter().sum::<f64>() / n;
            if all.errors.is_empty() {
                println!("| {station} | {snr} | 0/{} | – | – | – | – |", all.expected);
            } else {
                println!(
                    "| {station} | {snr} | {}/{} | {mean:+.4} | {rms:.4} | {max:.4} | {unc:.4} |",
                    all.detected, all.expected
                );
            }
        }
    }
    // decimate 20 kHz → 10 Hz on 10 minutes of c32
    let x: Vec<C32> = (0..12_000_000u32)
        .map(|k| C32::new((k as f32 * 0.001).cos(), (k as f32 * 0.001).sin()))
        .collect();
    let mut dec = Harness::of::<DecimateDef>(
        toml::from_str("factor = 2000\nalign = false").expect("params"),
        &[ItemType::C32],
    )
    .expect("decimate");
    dec.push_input(0, &x);
    let t = Instant::now();
    dec.run_to_end().expect("runs");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(dec.output::<C32>(0).len(), 6000, "every output produced");
    println!(
        "\ndecimate 20 kHz → 10 Hz (c32): {:.1} M samples/s ({:.0}× real time at 20 kHz, one core)",
        x.len() as f64 / secs / 1e6,
        x.len() as f64 / secs / RATE
    );
    println!(
        "tone_detect processed {signal_s:.0} s of 20 kHz signal in {busy:.2} s ({:.0}× real time, one core)",
        signal_s / busy
    );
}
