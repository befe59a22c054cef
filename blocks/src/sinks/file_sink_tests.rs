//! Tests of `file_sink`: raw items, append and torn items, directories, create_new, and
//! rotation with storage limits.

use super::*;
use flow_framework::harness::Harness;
use std::fs::OpenOptions;
use std::path::PathBuf;

fn params(path: &std::path::Path, extra: &str) -> FileSinkParams {
    toml::from_str(&format!("path = {:?}\n{extra}", path.to_str().unwrap())).unwrap()
}

#[test]
fn writes_raw_items_and_appends_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.c16");
    let data: Vec<C16> = (0..50_000)
        .map(|i| C16::new(i as i16, (i as i16).wrapping_neg()))
        .collect();
    let mut h =
        Harness::of::<FileSinkDef>(params(&path, "fsync = \"always\""), &[ItemType::C16]).unwrap();
    h.push_input(0, &data);
    h.run_to_end().unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytemuck::cast_slice::<C16, u8>(&data)
    );
    assert_eq!(h.counter("bytes"), 200_000);

    let mut h =
        Harness::of::<FileSinkDef>(params(&path, "mode = \"append\""), &[ItemType::C16]).unwrap();
    h.push_input(0, &data[..10]);
    h.run_to_end().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 200_040);

    // A torn item (as a kill during a write leaves) is cut before appending.
    let f = OpenOptions::new().append(true).open(&path).unwrap();
    f.set_len(200_042).unwrap();
    let mut h =
        Harness::of::<FileSinkDef>(params(&path, "mode = \"append\""), &[ItemType::C16]).unwrap();
    h.push_input(0, &data[..1]);
    h.run_to_end().unwrap();
    assert_eq!(h.counter("torn_bytes"), 2);
    let all: Vec<C16> = bytemuck::pod_collect_to_vec(&std::fs::read(&path).unwrap());
    assert_eq!(all.len(), 50_011);
    assert_eq!(all[50_010], data[0]);
}

#[test]
fn creates_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/out.f32");
    let mut h = Harness::of::<FileSinkDef>(params(&path, ""), &[ItemType::F32]).unwrap();
    h.push_input(0, &[1.0f32, 2.0]);
    h.run_to_end().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 8);
}

#[test]
fn create_new_refuses_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exists.f32");
    std::fs::write(&path, b"keep").unwrap();
    let mut h =
        Harness::of::<FileSinkDef>(params(&path, "mode = \"create_new\""), &[ItemType::F32])
            .unwrap();
    h.push_input(0, &[1.0f32]);
    h.run_to_end().unwrap();
    assert!(
        h.metrics().last_error().contains("File exists"),
        "{}",
        h.metrics().last_error()
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"keep");
}

#[test]
fn rotates_by_size_and_keeps_the_newest_files_within_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p/x.f32");
    let mut h = Harness::of::<FileSinkDef>(
        params(&path, "rotate_bytes = 4000\nlimits = { max_bytes = 30000 }"),
        &[ItemType::F32],
    )
    .unwrap();
    for k in 0..10 {
        h.push_input(0, &vec![k as f32; 1000]);
        h.run();
    }
    h.run_to_end().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path().join("p"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let firsts: Vec<f32> = files
        .iter()
        .map(|f| {
            let v: Vec<f32> = bytemuck::pod_collect_to_vec(&std::fs::read(f).unwrap());
            assert_eq!(v.len(), 1000, "{}", f.display());
            v[0]
        })
        .collect();
    assert_eq!(
        firsts,
        [6.0, 7.0, 8.0, 9.0],
        "the newest files stay, in order"
    );
    assert_eq!(h.counter("evicted"), 6);
    let used: u64 = files
        .iter()
        .map(|f| crate::util::retention::space::allocated_at(f))
        .sum();
    assert!(used <= 30_000, "{used}");
    assert_eq!(h.counter("limit_dropped"), 0);
}

#[test]
fn without_rotation_max_bytes_stops_the_sink_and_counts_what_it_drops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.f32");
    let mut h = Harness::of::<FileSinkDef>(
        params(&path, "limits = { max_bytes = 20000 }"),
        &[ItemType::F32],
    )
    .unwrap();
    for k in 0..4 {
        h.push_input(0, &vec![k as f32; 1000]);
        h.run();
    }
    h.run_to_end().unwrap();
    // 12 KiB of allowance + 1000 items fit; a second thousand would pass 20000.
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 4000);
    assert_eq!(h.counter("limit_dropped"), 3000);
    assert_eq!(h.counter("storage_stops"), 1);
    assert_eq!(
        h.metrics()
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        3000
    );
    assert!(
        h.metrics().health().1.contains("max_bytes"),
        "{}",
        h.metrics().health().1
    );
}

#[test]
fn an_fsync_interval_syncs_data_even_when_nothing_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.f32");
    let mut h =
        Harness::of::<FileSinkDef>(params(&path, "fsync = \"200ms\""), &[ItemType::F32]).unwrap();
    h.push_input(0, &[1.0f32; 16]);
    crate::util::fsync::assert_synced_once_after(&mut h, Duration::from_millis(200));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 64);
}
