//! The spectrum monitor end to end: a SigMF recording made here (tones in noise) through
//! `flow run flowgraphs/spectrum-file.toml`, checked in the detections file it writes.

use crate::util::{stderr, Sandbox};

/// Complex samples: white noise of power `noise` plus unit-rate tones (freq Hz, amplitude).
fn recording(n: usize, rate: f64, noise: f64, tones: &[(f64, f64)]) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let s = (noise / 2.0).sqrt();
    let mut out = Vec::with_capacity(n * 8);
    for k in 0..n {
        // Box-Muller: two independent normals.
        let (u1, u2) = (uniform().max(1e-300), uniform());
        let r = (-2.0 * u1.ln()).sqrt() * s;
        let (mut re, mut im) = (
            r * (std::f64::consts::TAU * u2).cos(),
            r * (std::f64::consts::TAU * u2).sin(),
        );
        for (f, a) in tones {
            let ph = std::f64::consts::TAU * f * k as f64 / rate;
            re += a * ph.cos();
            im += a * ph.sin();
        }
        out.extend_from_slice(&(re as f32).to_le_bytes());
        out.extend_from_slice(&(im as f32).to_le_bytes());
    }
    out
}

#[test]
fn the_file_flowgraph_reports_the_tones_of_a_sigmf_recording() {
    let s = Sandbox::new();
    let rate = 1e6;
    let bin = rate / 1024.0;
    let tones = [(100e3, 0.01), (100e3 + 5.0 * bin, 0.01), (-200e3, 0.003)];
    let n = 500_000;
    std::fs::write(
        s.path().join("rec.sigmf-data"),
        recording(n, rate, 1e-4, &tones),
    )
    .unwrap();
    s.write(
        "rec.sigmf-meta",
        r#"{"global": {"core:datatype": "cf32_le", "core:version": "1.0.0", "core:sample_rate": 1000000.0},
 "captures": [{"core:sample_start": 0, "core:frequency": 100000000.0, "core:datetime": "2026-01-01T00:00:00Z"}],
 "annotations": []}"#,
    );
    let fg = concat!(env!("CARGO_MANIFEST_DIR"), "/flowgraphs/spectrum-file.toml");
    let out = s
        .flow()
        .args(["run", fg, "-q"])
        .env("SPECTRUM_RECORDING", s.path().join("rec.sigmf-meta"))
        .env("FLOW_OUT", s.path())
        .output()
        .expect("run flow");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(s.path().join("spectrum-detections.jsonl")).unwrap();
    let dets: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let start_ns = 1_767_225_600_000_000_000i64;
    for (f, _) in tones {
        let want = 100e6 + f;
        let d = dets
            .iter()
            .find(|d| (d["freq_hz"].as_f64().unwrap() - want).abs() < 0.1 * bin)
            .unwrap_or_else(|| panic!("no detection within 0.1 bin of {want} Hz in {text}"));
        assert_eq!(d["kind"], "detection");
        assert_eq!(d["first_seen_ns"].as_i64(), Some(start_ns), "{d}");
        let last = d["last_seen_ns"].as_i64().unwrap();
        assert!(
            last > start_ns + 450_000_000 && last <= start_ns + 500_000_000,
            "{d}"
        );
        assert!(d["bandwidth_hz"].as_f64().unwrap() < 3.0 * bin, "{d}");
        assert!(d["snr_db"].as_f64().unwrap() > 10.0, "{d}");
    }
}
