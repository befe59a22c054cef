//! Tests of `iq_file_source`: every raw format converts exactly, SigMF metadata becomes
//! tags, looping repeats whole samples, throttling never runs ahead of real time.

use std::time::Duration;

use super::*;
use flow_framework::harness::Harness;

fn params(body: &str) -> IqFileSourceParams {
    toml::from_str(body).unwrap()
}

fn run(p: IqFileSourceParams) -> Harness {
    let mut h = Harness::of::<IqFileSourceDef>(p, &[]).unwrap();
    assert!(h.run(), "finished");
    h
}

#[test]
fn raw_formats_convert_exactly_and_tag_rate_and_frequency() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, Vec<C32>); 4] = [
        (
            "cu8",
            vec![0, 255, 128, 127],
            vec![C32::new(-1.0, 1.0), C32::new(0.5 / 127.5, -0.5 / 127.5)],
        ),
        (
            "cs8",
            vec![0x80, 0x7f, 0, 0x40],
            vec![C32::new(-1.0, 127.0 / 128.0), C32::new(0.0, 0.5)],
        ),
        (
            "cs16",
            [-32768i16, 16384, 1, -1]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            vec![C32::new(-1.0, 0.5), C32::new(1.0 / 32768.0, -1.0 / 32768.0)],
        ),
        (
            "cf32",
            [0.25f32, -4.0, 1e-3, 7.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            vec![C32::new(0.25, -4.0), C32::new(1e-3, 7.0)],
        ),
    ];
    for (fmt, bytes, want) in cases {
        let path = dir.path().join(format!("x.{fmt}"));
        let mut b = bytes.clone();
        b.push(1); // a partial trailing sample is ignored
        std::fs::write(&path, b).unwrap();
        let h = run(params(&format!(
            "path = {:?}\nformat = \"{fmt}\"\nsample_rate = 48000.0\ncenter_hz = 7e6",
            path.to_str().unwrap()
        )));
        assert_eq!(h.output::<C32>(0), want, "{fmt}");
        let tags: Vec<&Tag> = h.output_tags(0).iter().map(|t| &t.tag).collect();
        assert_eq!(
            tags,
            [&Tag::Freq(7e6), &Tag::Rate(48000.0), &Tag::Eos],
            "{fmt}"
        );
    }
}

/// Writes a cf32 SigMF recording of `samples` with two captures.
pub(crate) fn write_sigmf(dir: &std::path::Path, samples: &[C32]) -> std::path::PathBuf {
    let data: Vec<u8> = samples
        .iter()
        .flat_map(|c| [c.re.to_le_bytes(), c.im.to_le_bytes()].concat())
        .collect();
    std::fs::write(dir.join("rec.sigmf-data"), data).unwrap();
    let meta = r#"{"global": {"core:datatype": "cf32_le", "core:version": "1.0.0",
        "core:sample_rate": 1000000.0},
      "captures": [{"core:sample_start": 0, "core:frequency": 100000000.0,
                    "core:datetime": "2026-03-01T12:00:00.25Z"},
                   {"core:sample_start": 3, "core:frequency": 101000000.0}],
      "annotations": []}"#;
    let p = dir.join("rec.sigmf-meta");
    std::fs::write(&p, meta).unwrap();
    p
}

#[test]
fn sigmf_metadata_becomes_tags() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<C32> = (0..5).map(|i| C32::new(i as f32, -(i as f32))).collect();
    let meta = write_sigmf(dir.path(), &samples);
    for path in [meta.clone(), dir.path().join("rec.sigmf-data")] {
        let h = run(params(&format!("path = {:?}", path.to_str().unwrap())));
        assert_eq!(h.output::<C32>(0), samples);
        let tags: Vec<(u64, &Tag)> = h
            .output_tags(0)
            .iter()
            .map(|t| (t.position, &t.tag))
            .collect();
        assert_eq!(
            tags,
            [
                (0, &Tag::Rate(1e6)),
                (0, &Tag::Freq(100e6)),
                (
                    0,
                    &Tag::Time {
                        ns: 1_772_366_400_250_000_000,
                        source: TimeSource::FileMetadata
                    }
                ),
                (3, &Tag::Freq(101e6)),
                (5, &Tag::Eos),
            ]
        );
    }
    // A format that contradicts the metadata is an error that names the file.
    let mut h = Harness::of::<IqFileSourceDef>(
        params(&format!(
            "path = {:?}\nformat = \"cu8\"",
            meta.to_str().unwrap()
        )),
        &[],
    )
    .unwrap();
    assert!(h.run());
    assert!(
        h.metrics().last_error().contains("contradicts"),
        "{}",
        h.metrics().last_error()
    );
}

#[test]
fn repeat_loops_whole_samples_and_throttle_never_runs_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.cu8");
    std::fs::write(&path, [0u8, 255, 255, 0, 9]).unwrap();
    let p = params(&format!(
        "path = {:?}\nformat = \"cu8\"\nrepeat = true\nsample_rate = 10000.0\nthrottle = true",
        path.to_str().unwrap()
    ));
    let mut h = Harness::of::<IqFileSourceDef>(p, &[]).unwrap();
    let t0 = std::time::Instant::now();
    h.run_for(Duration::from_millis(200));
    let elapsed = t0.elapsed().as_secs_f64();
    let out = h.output::<C32>(0);
    // Never more than is due at 10 kHz (plus one 10 ms pacing step).
    assert!(!out.is_empty());
    assert!(
        out.len() as f64 <= elapsed * 10_000.0 + 101.0,
        "{} in {elapsed} s",
        out.len()
    );
    for (i, x) in out.iter().enumerate() {
        let want = if i % 2 == 0 {
            C32::new(-1.0, 1.0)
        } else {
            C32::new(1.0, -1.0)
        };
        assert_eq!(*x, want, "sample {i}");
    }
}

#[test]
fn validation_and_missing_files() {
    let e = IqFileSourceDef::validate(&params("path = \"x.bin\"\nthrottle = true"));
    let names: Vec<&str> = e.iter().map(|e| e.param.as_str()).collect();
    assert_eq!(names, ["format", "throttle"]);
    assert!(IqFileSourceDef::validate(&params("path = \"x.sigmf-meta\"")).is_empty());
    let mut h = Harness::of::<IqFileSourceDef>(params("path = \"/nonexistent/r.sigmf-meta\""), &[])
        .unwrap();
    assert!(h.run());
    assert!(
        h.metrics()
            .last_error()
            .starts_with("reading /nonexistent/r.sigmf-meta:"),
        "{}",
        h.metrics().last_error()
    );
}
