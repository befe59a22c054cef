//! Tests of `peaks` on real `psd` → `cfar` output: close tones are resolved, a wideband
//! signal is one detection with its bandwidth, tracks carry first/last seen.

use super::*;
use crate::dsp::cfar::CfarDef;
use crate::dsp::psd::tests::{add_tone, noise};
use crate::dsp::psd::PsdDef;
use flow_framework::harness::Harness;
use rustfft::FftPlanner;

/// Runs samples through psd → cfar → peaks (harnesses chained) and returns the detections.
pub(crate) fn chain(x: &[C32], psd: &str, cfar: &str, peaks: &str) -> Vec<Message> {
    let mut h = Harness::new("psd", psd, &[ItemType::C32]).unwrap();
    h.push_input(0, x);
    h.run_to_end().unwrap();
    let mut c = Harness::new("cfar", cfar, &[]).unwrap();
    for m in h.messages(0) {
        c.push_message(0, m.clone());
    }
    c.run_to_end().unwrap();
    let mut p = Harness::new("peaks", peaks, &[]).unwrap();
    for m in c.messages(0) {
        p.push_message(0, m.clone());
    }
    p.run_to_end().unwrap();
    assert_eq!(p.counter("bad_messages"), 0);
    p.messages(0).to_vec()
}

fn f(m: &Message, k: &str) -> f64 {
    m.get(k).and_then(Value::as_f64).unwrap()
}

const PSD: &str = "fft_size = 1024\naverages = 16\nsample_rate = 1024000.0\ncenter_hz = 1e8";

#[test]
fn two_tones_five_bins_apart_are_two_detections() {
    // Bins 200.3 and 205.3 above centre; 1 kHz bins; noise 40 dB below the tones per bin.
    let mut x = noise(1024 * 8 * 6, 1e-3, 4);
    add_tone(&mut x, 200.3 / 1024.0, 0.1);
    add_tone(&mut x, 205.3 / 1024.0, 0.1);
    let dets = chain(&x, PSD, "pfa = 1e-6", "");
    assert!(!dets.is_empty());
    let per_spectrum = dets
        .iter()
        .filter(|m| m.get("index") == dets[0].get("index"));
    let freqs: Vec<f64> = per_spectrum.map(|m| f(m, "freq_hz")).collect();
    assert_eq!(freqs.len(), 2, "{freqs:?}");
    for (got, bin) in freqs.iter().zip([200.3, 205.3]) {
        let want = 1e8 + bin * 1000.0;
        assert!(
            (got - want).abs() < 100.0,
            "{got} vs {want} (0.1 bin = 100 Hz)"
        );
    }
    for m in &dets {
        // The true per-bin SNR is 37 dB, but each tone sits in the other's training cells,
        // which raises the CA noise estimate (the masking CA-CFAR is known for).
        assert!(f(m, "snr_db") > 10.0);
        assert!(f(m, "bandwidth_hz") < 3000.0, "{}", f(m, "bandwidth_hz"));
    }
}

/// Band-limited noise: flat from `lo` to `hi` (cycles per sample), made by an inverse FFT
/// of random coefficients over the whole signal (periodic, so no block edges).
fn band(n: usize, lo: f64, hi: f64, power: f64) -> Vec<C32> {
    let mut spec = noise(n, 1.0, 17);
    let (a, b) = ((lo * n as f64) as i64, (hi * n as f64) as i64);
    for (k, v) in spec.iter_mut().enumerate() {
        let fk = if k < n / 2 {
            k as i64
        } else {
            k as i64 - n as i64
        };
        if fk < a || fk >= b {
            *v = C32::new(0.0, 0.0);
        }
    }
    FftPlanner::new().plan_fft_inverse(n).process(&mut spec);
    let frac = (b - a) as f64 / n as f64;
    let scale = (power / (n as f64 * frac)).sqrt() as f32;
    spec.iter().map(|v| v * scale).collect()
}

#[test]
fn a_wideband_signal_is_one_detection_with_its_bandwidth() {
    let n = 1 << 18;
    // 100 bins (100 kHz) from bin −150 to −50; in-band density 20 dB over the noise floor
    // (band power 1 over 100 bins, noise power 0.1024 over 1024 bins).
    let mut x = band(n, -150.0 / 1024.0, -50.0 / 1024.0, 1.0);
    for (v, w) in x.iter_mut().zip(noise(n, 0.1024, 8)) {
        *v += w;
    }
    // A signal wider than the training window hides in it: guard cells wider than half the
    // band keep the band out of one side, and smallest-of CFAR takes that side.
    let dets = chain(
        &x,
        PSD,
        "method = \"so\"\nguard = 60\ntrain = 32\npfa = 1e-6",
        "",
    );
    let spectra: std::collections::BTreeSet<u64> = dets
        .iter()
        .map(|m| match m.get("index") {
            Some(Value::U64(i)) => *i,
            _ => 0,
        })
        .collect();
    assert!(spectra.len() >= 10);
    assert_eq!(dets.len(), spectra.len(), "one detection per spectrum");
    for m in &dets {
        let bw = f(m, "bandwidth_hz");
        assert!((bw - 100_000.0).abs() < 2_000.0, "bandwidth {bw}");
        let centre = f(m, "freq_hz");
        assert!(
            (centre - (1e8 - 100_000.0)).abs() < 1_000.0,
            "centre {centre}"
        );
        assert!(f(m, "bins") >= 95.0);
    }
}

#[test]
fn tracks_report_first_and_last_seen_once() {
    let mut x = noise(1024 * 8 * 5, 1e-4, 6);
    add_tone(&mut x, 100.0 / 1024.0, 0.1);
    let dets = chain(&x, PSD, "pfa = 1e-6", "emit = \"track\"");
    assert_eq!(dets.len(), 1, "{dets:?}");
    let m = &dets[0];
    assert_eq!(m.get("first_seen_ns"), Some(&Value::Time(0)));
    // 79 segments (the last starts at 78·512) in 5 spectra: the track ends with the
    // last sample, 40960.
    let end = (40_960.0 * 1e9 / 1_024_000.0) as i64;
    assert_eq!(m.get("last_seen_ns"), Some(&Value::Time(end)));
    assert!((f(m, "freq_hz") - (1e8 + 100_000.0)).abs() < 100.0);
}

#[test]
fn spectra_without_thresholds_are_counted_as_bad() {
    let mut h = Harness::of::<PeaksDef>(toml::from_str("").unwrap(), &[]).unwrap();
    let mut s = Harness::new("psd", "fft_size = 64", &[ItemType::C32]).unwrap();
    s.push_input(0, &noise(64, 1.0, 1));
    s.run_to_end().unwrap();
    h.push_message(0, s.messages(0)[0].clone());
    h.run_to_end().unwrap();
    assert_eq!(h.counter("bad_messages"), 1);
    let _ = (PsdDef::NAME, CfarDef::NAME);
}
