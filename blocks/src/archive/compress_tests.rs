use super::*;
use crate::archive::minute_file::MinuteFile;
use crate::archive::sidecar::MinuteMeta;
use flow_framework::prelude::C32;

const RATE: u64 = 100;

fn meta() -> MinuteMeta {
    MinuteMeta {
        channel_name: "C".into(),
        frequency_hz: Some(10e6),
        time: None,
    }
}

/// A finished minute with samples 100..400 (the rest a gap): s16-like values, as radiod's
/// are, so it compresses well.
fn finished_minute(dir: &Path, minute: i64) -> MinutePaths {
    let (mut m, _) = MinuteFile::open(dir, minute, RATE, meta()).unwrap();
    let x: Vec<C32> = (0..300)
        .map(|k| C32::new((k % 200) as f32 / 32768.0, -(k as f32) / 32768.0))
        .collect();
    m.write(100, &x).unwrap();
    let paths = m.paths.clone();
    m.finalize("complete").unwrap();
    paths
}

fn sidecar(paths: &MinutePaths) -> Sidecar {
    serde_json::from_slice(&fs::read(&paths.json).unwrap()).unwrap()
}

#[test]
fn a_minute_compresses_to_the_same_bytes_and_its_sidecar_says_so() {
    let d = tempfile::tempdir().unwrap();
    let paths = finished_minute(d.path(), 1);
    let raw = fs::read(&paths.bin).unwrap();
    let Outcome::Compressed(before, after) = compress_minute(&paths, 3).unwrap() else {
        panic!("not compressed")
    };
    assert_eq!(before, raw.len() as u64);
    assert!(after < before / 4, "{after} of {before}");
    assert!(!paths.bin.exists());
    let zst = zst_path(&paths.bin);
    assert_eq!(
        zstd::stream::decode_all(&fs::read(&zst).unwrap()[..]).unwrap(),
        raw
    );
    let s = sidecar(&paths);
    assert_eq!(
        (s.data_file.as_str(), s.compression.as_deref()),
        ("60.bin.zst", Some("zstd"))
    );
    assert_eq!((s.samples_written, s.state.as_str()), (300, "complete"));
    // A minute deleted meanwhile is no error.
    fs::remove_file(&zst).unwrap();
    assert_eq!(compress_minute(&paths, 3).unwrap(), Outcome::Gone);
}

#[test]
fn reopening_a_compressed_minute_restores_and_resumes_it() {
    let d = tempfile::tempdir().unwrap();
    let paths = finished_minute(d.path(), 1);
    let raw = fs::read(&paths.bin).unwrap();
    compress_minute(&paths, 3).unwrap();
    let (m, report) = MinuteFile::open(d.path(), 1, RATE, meta()).unwrap();
    assert_eq!(report.resumed, 300);
    assert!(report.moved_aside.is_none());
    assert!(!zst_path(&paths.bin).exists());
    assert_eq!(fs::read(&paths.bin).unwrap(), raw);
    let s = m.finalize("complete").unwrap();
    assert_eq!((s.data_file.as_str(), s.compression), ("60.bin", None));
    assert_eq!(sidecar(&paths).samples_written, 300);
}

#[test]
fn an_interrupted_compression_is_finished_at_start_up() {
    let d = tempfile::tempdir().unwrap();
    // Stopped after the rename, before the .bin went: both whole.
    let a = finished_minute(d.path(), 1);
    let raw = fs::read(&a.bin).unwrap();
    fs::write(zst_path(&a.bin), zstd::bulk::compress(&raw, 3).unwrap()).unwrap();
    // Stopped while writing the temporary file.
    let b = finished_minute(d.path(), 2);
    fs::write(tmp_path(&b.bin), b"half").unwrap();
    // Still open (a journal): not touched.
    let (mut open, _) = MinuteFile::open(d.path(), 3, RATE, meta()).unwrap();
    open.write(0, &[C32::new(1.0, 0.0); 10]).unwrap();
    open.flush().unwrap();
    let todo = backlog(d.path()).unwrap();
    let bins: Vec<&Path> = todo.iter().map(|p| p.bin.as_path()).collect();
    assert_eq!(bins, [b.bin.as_path()]);
    assert!(!a.bin.exists() && zst_path(&a.bin).exists());
    assert_eq!(sidecar(&a).compression.as_deref(), Some("zstd"));
    assert!(!tmp_path(&b.bin).exists() && b.bin.exists());
    drop(open);
}

#[test]
fn the_thread_compresses_what_is_queued_and_a_claim_never_sees_half_a_minute() {
    let d = tempfile::tempdir().unwrap();
    let counters = CompressCounters::default();
    let c = Compressor::start("C", 3, counters.clone()).unwrap();
    let minutes: Vec<MinutePaths> = (1..=4).map(|m| finished_minute(d.path(), m)).collect();
    for p in &minutes {
        c.submit(p.clone());
    }
    // Claimed: either still plain (taken off the queue) or wholly compressed.
    let claimed = &minutes[3];
    c.claim(&claimed.bin);
    let state = (claimed.bin.exists(), zst_path(&claimed.bin).exists());
    assert!(
        state == (true, false) || state == (false, true),
        "{state:?}"
    );
    c.finish();
    let expected = if state.0 { 3 } else { 4 };
    assert_eq!(counters.compressed.get(), expected);
    assert_eq!(counters.errors.get(), 0);
    assert!(counters.saved.get() > 0);
    for p in &minutes[..3] {
        assert!(!p.bin.exists() && zst_path(&p.bin).exists());
    }
}
