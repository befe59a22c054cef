//! Tests of `decimate`: measured frequency response of the 20 kHz → 10 Hz chain, the
//! zero-delay time convention, alignment, gaps and end of stream.

use super::*;
use crate::dsp::fir_chain::{Chain, Out};
use flow_framework::harness::Harness;

fn tone(f: f64, fs: f64, n: usize, start: usize) -> Vec<C32> {
    (start..start + n)
        .map(|k| {
            let ph = std::f64::consts::TAU * f * k as f64 / fs;
            C32::new(ph.cos() as f32, ph.sin() as f32)
        })
        .collect()
}

/// Gain (dB) of the chain for a complex tone at `f`, measured on the steady-state outputs.
fn gain_db(
    chain_designs: &[crate::dsp::fir_design::StageDesign],
    f: f64,
    fs: f64,
    secs: f64,
) -> f64 {
    let mut chain = Chain::<C32>::new(chain_designs);
    let mut out = Vec::new();
    let n = (secs * fs) as usize;
    for k in (0..n).step_by(100_000) {
        chain.push(&tone(f, fs, 100_000.min(n - k), k), &mut out);
    }
    let items: Vec<C32> = out
        .iter()
        .filter_map(|e| if let Out::Item(v) = e { Some(*v) } else { None })
        .collect();
    let skip = items.len() / 4;
    let steady = &items[skip..items.len() - skip];
    let p = steady.iter().map(|v| f64::from(v.norm_sqr())).sum::<f64>() / steady.len() as f64;
    10.0 * p.log10()
}

#[test]
fn grape_chain_frequency_response_is_measured_within_spec() {
    // 20 kHz → 10 Hz, passband ±4 Hz, stopband from ±5 Hz, 80 dB.
    let d = design(2000, 0.8, 80.0, 20, MAX_TAPS).unwrap();
    assert_eq!(
        d.iter().map(|s| s.factor).collect::<Vec<_>>(),
        vec![20, 20, 5]
    );
    let fs = 20_000.0;
    let mut ripple: f64 = 0.0;
    for f in [0.0, 0.7, -1.3, 2.2, -3.1, 3.95, -3.95] {
        ripple = ripple.max(gain_db(&d, f, fs, 40.0).abs());
    }
    assert!(ripple < 0.01, "passband ripple {ripple} dB");
    let mut worst = f64::NEG_INFINITY;
    // from the stop edge out to the input band edge, including frequencies that alias onto
    // the passband of the output (10.5 Hz → 0.5 Hz, 1003 Hz → 3 Hz, 9999 Hz → −1 Hz)
    for f in [
        5.05, -5.3, 6.5, 10.5, -13.0, 41.0, 250.0, -1003.0, 4999.0, 9999.0,
    ] {
        worst = worst.max(gain_db(&d, f, fs, 40.0));
    }
    assert!(worst < -79.0, "stopband gain {worst} dB");
    println!("passband ripple {ripple:.5} dB, worst stopband gain {worst:.1} dB");
}

fn run_block(p: DecimateParams, input: &[C32], tags: &[(u64, Tag)]) -> Harness {
    let mut h = Harness::of::<DecimateDef>(p, &[ItemType::C32]).unwrap();
    let mut at = 0usize;
    let mut tags = tags.to_vec();
    tags.sort_by_key(|t| t.0);
    for (pos, tag) in tags {
        let pos = pos as usize;
        h.push_input(0, &input[at..pos]);
        at = pos;
        h.push_tag(0, 0, tag);
    }
    h.push_input(0, &input[at..]);
    h.run_to_end().unwrap();
    h
}

fn params(body: &str) -> DecimateParams {
    toml::from_str(body).unwrap()
}

#[test]
fn output_is_centred_on_its_input_sample_and_time_tags_follow() {
    // A 0.37 Hz tone sampled at 20 kHz: every output must have the phase of the input at the
    // instant it is centred on (1e-4 rad at 0.37 Hz is 43 µs, under one input sample).
    let fs = 20_000.0;
    let t0: i64 = 1_765_032_240_012_350_000; // 12.35 ms after a 100 ms boundary = 247 samples
    let x = tone(0.37, fs, 400_000, 0);
    let h = run_block(
        params("output_rate = 10.0"),
        &x,
        &[
            (0, Tag::Rate(fs)),
            (
                0,
                Tag::Time {
                    ns: t0,
                    source: TimeSource::Gpsdo,
                },
            ),
        ],
    );
    let out = h.output::<C32>(0);
    // The first 100 ms boundary after t0 is input sample 1753: output p is centred on input
    // (p + 1)·2000 − 247 (chain output 0 would be centred before the first sample).
    let lead = 247.0;
    assert_eq!(out.len(), 200);
    let tags = h.output_tags(0);
    let time = tags.iter().find_map(|t| match t.tag {
        Tag::Time { ns, source } => Some((t.position, ns, source)),
        _ => None,
    });
    assert_eq!(
        time,
        Some((0, 1_765_032_240_100_000_000, TimeSource::Gpsdo))
    );
    assert!(tags
        .iter()
        .any(|t| t.tag == Tag::Rate(10.0) && t.position == 0));
    for (p, v) in out.iter().enumerate().skip(30).take(140) {
        let centre = (p as f64 + 1.0) * 2000.0 - lead;
        let want = std::f64::consts::TAU * 0.37 * centre / fs;
        let got = f64::from(v.im).atan2(f64::from(v.re));
        let err = (got - want + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
            - std::f64::consts::PI;
        assert!(err.abs() < 1e-4, "output {p}: phase error {err}");
    }
}

#[test]
fn a_gap_becomes_a_gap_of_the_outputs_centred_in_it() {
    // factor 10 at 1 kHz; 1000 samples missing at index 5000: outputs centred on
    // 5000..5999 (500..599) are missing, and the output after the gap carries Gap(100).
    let fs = 1000.0;
    let x: Vec<C32> = vec![C32::new(1.0, 0.0); 9000];
    let h = run_block(
        params("factor = 10\nalign = false"),
        &x,
        &[
            (0, Tag::Rate(fs)),
            (
                0,
                Tag::Time {
                    ns: 0,
                    source: TimeSource::SystemClock,
                },
            ),
            (5000, Tag::Gap(1000)),
        ],
    );
    let out = h.output::<C32>(0);
    // indices 0..10000 minus the 1000 missing: 1000 outputs − 100 missing
    assert_eq!(out.len(), 900);
    let gaps: Vec<_> = h
        .output_tags(0)
        .iter()
        .filter(|t| matches!(t.tag, Tag::Gap(_)))
        .cloned()
        .collect();
    assert_eq!(
        gaps,
        vec![ItemTag {
            position: 500,
            tag: Tag::Gap(100)
        }]
    );
    // far from the edges the DC level passes with unit gain
    assert!((out[300].re - 1.0).abs() < 1e-3);
    assert!((out[700].re - 1.0).abs() < 1e-3);
}

#[test]
fn a_long_gap_is_skipped_and_short_ones_are_exact_too() {
    let mut chain = Chain::<f32>::new(&design(7, 0.8, 60.0, 20, MAX_TAPS).unwrap());
    let mut out = Vec::new();
    chain.push(&[1.0; 700], &mut out);
    chain.gap(1_000_000_003, false, &mut out);
    chain.push(&[1.0; 70], &mut out);
    chain.gap(5, false, &mut out);
    chain.push(&[1.0; 70], &mut out);
    chain.finish(&mut out);
    let items = out.iter().filter(|e| matches!(e, Out::Item(_))).count() as u64;
    let gaps: u64 = out
        .iter()
        .map(|e| if let Out::Gap(n) = e { *n } else { 0 })
        .sum();
    // every output index from 0 to the last centred on data is accounted for
    let total_in: u64 = 700 + 1_000_000_003 + 70 + 5 + 70;
    assert_eq!(items + gaps, total_in.div_ceil(7));
    // centres in [700, 1_000_000_703): ⌈1_000_000_703/7⌉ − 700/7
    let first_gap = out
        .iter()
        .find_map(|e| if let Out::Gap(n) = e { Some(*n) } else { None });
    assert_eq!(first_gap, Some(142_857_244 - 100));
}

#[test]
fn f32_streams_and_end_of_stream_flush() {
    let mut h =
        Harness::of::<DecimateDef>(params("factor = 4\nalign = false"), &[ItemType::F32]).unwrap();
    h.push_input(0, &[2.0f32; 1001]);
    h.run_to_end().unwrap();
    let out = h.output::<f32>(0);
    assert_eq!(out.len(), 251, "ceil(1001/4) outputs");
    assert!((out[125] - 2.0).abs() < 1e-4);
}

#[test]
fn an_unreasonable_rate_is_an_error_not_an_allocation() {
    // output_rate from a bogus rate tag: factor 999,983 (prime) would need ~10^8 taps
    let mut h = Harness::of::<DecimateDef>(params("output_rate = 1.0"), &[ItemType::C32]).unwrap();
    h.push_tag(0, 0, Tag::Rate(999_983.0));
    h.push_input(0, &[C32::new(0.0, 0.0); 10]);
    let _ = h.run_to_end();
    assert_eq!(
        h.metrics()
            .errors
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert!(
        h.metrics().last_error().contains("taps"),
        "{}",
        h.metrics().last_error()
    );
}

#[test]
fn validation_names_the_parameter() {
    let e = DecimateDef::validate(&params("factor = 10\noutput_rate = 10.0\npassband = 1.5"));
    let names: Vec<_> = e.iter().map(|e| e.param.as_str()).collect();
    assert_eq!(names, vec!["factor", "passband"]);
}
