//! `binary_archive` through the block harness: placement by time tag and sample index,
//! exact gap lists across minutes, rewrites without double counting, resume after stop,
//! the lock against a second writer, and the system-clock fallback.

use flow_framework::harness::Harness;
use flow_framework::prelude::*;

use crate::archive::sidecar::{GapEntry, Sidecar};

const T0: i64 = 1_765_032_240; // 2025-12-06T14:44:00Z, a minute boundary

fn archive(dir: &std::path::Path, extra: &str) -> Harness {
    Harness::new(
        "binary_archive",
        &format!(
            "dir = {:?}\nchannel = \"WWV_10\"\nfsync = \"always\"\n{extra}",
            dir.to_str().unwrap()
        ),
        &[ItemType::C32],
    )
    .unwrap()
}

fn sidecar(dir: &std::path::Path, minute_unix: i64) -> Sidecar {
    let p = dir.join(format!("WWV_10/20251206/{minute_unix}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

fn data(dir: &std::path::Path, minute_unix: i64) -> Vec<C32> {
    bytemuck::pod_collect_to_vec(
        &std::fs::read(dir.join(format!("WWV_10/20251206/{minute_unix}.bin"))).unwrap(),
    )
}

fn s(i: u64) -> C32 {
    C32::new(i as f32, -(i as f32))
}

#[test]
fn places_samples_by_time_and_index_and_lists_gaps_exactly() {
    let d = tempfile::tempdir().unwrap();
    let mut h = archive(d.path(), "");
    // 100 Hz: 6000 samples a minute. The stream starts 59.5 s into the first minute.
    h.push_tag(0, 0, Tag::Rate(100.0));
    h.push_tag(0, 0, Tag::Freq(10e6));
    h.push_tag(
        0,
        0,
        Tag::Time {
            ns: (T0 + 59) * 1_000_000_000 + 500_000_000,
            source: TimeSource::Gpsdo,
        },
    );
    h.push_input(0, &(0..100).map(s).collect::<Vec<_>>()); // 5950..6000, then 0..50 of next
    h.push_tag(0, 0, Tag::Gap(30));
    h.push_input(0, &(130..200).map(s).collect::<Vec<_>>());
    h.run_to_end().unwrap();
    assert_eq!(h.counter("samples"), 170);
    assert_eq!(h.counter("minutes"), 2);

    let a = sidecar(d.path(), T0);
    assert_eq!(
        (a.samples_written, a.samples_expected, a.gap_count),
        (50, 6000, 1)
    );
    assert_eq!(
        a.gaps,
        [GapEntry {
            start: 0,
            length: 5950
        }]
    );
    assert_eq!(a.state, "stopped");
    assert_eq!(a.frequency_hz, Some(10e6));
    assert_eq!(a.time.as_ref().unwrap().source, "gpsdo");
    let b = sidecar(d.path(), T0 + 60);
    assert_eq!(b.samples_written, 120);
    assert_eq!(
        b.gaps,
        [
            GapEntry {
                start: 50,
                length: 30
            },
            GapEntry {
                start: 150,
                length: 5850
            }
        ]
    );
    assert_eq!(b.completeness_pct, 2.0);
    let (da, db) = (data(d.path(), T0), data(d.path(), T0 + 60));
    assert_eq!((da.len(), db.len()), (6000, 6000));
    assert_eq!(da[5950], s(0));
    assert_eq!(db[0], s(50));
    assert_eq!(db[49], s(99));
    assert_eq!(db[50..80], [C32::new(0.0, 0.0); 30]);
    assert_eq!(db[80], s(130));
    assert_eq!(db[149], s(199));
    for f in ["json", "sigmf-meta", "bin"] {
        assert!(
            d.path().join(format!("WWV_10/20251206/{T0}.{f}")).exists(),
            "{f}"
        );
    }
    assert!(!d
        .path()
        .join(format!("WWV_10/20251206/{T0}.journal"))
        .exists());
}

#[test]
fn a_later_time_tag_rewrites_in_place_without_double_counting_and_restart_resumes() {
    let d = tempfile::tempdir().unwrap();
    let mut h = archive(d.path(), "sample_rate = 100");
    h.push_tag(
        0,
        0,
        Tag::Time {
            ns: T0 * 1_000_000_000,
            source: TimeSource::Gpsdo,
        },
    );
    h.push_input(0, &(0..200).map(s).collect::<Vec<_>>());
    // The time source says the next samples start 1 s (100 samples) earlier than they
    // would: they overwrite 100..200 and continue.
    h.push_tag(
        0,
        0,
        Tag::Time {
            ns: (T0 + 1) * 1_000_000_000,
            source: TimeSource::Gpsdo,
        },
    );
    h.push_input(0, &(1000..1200).map(s).collect::<Vec<_>>());
    h.run_to_end().unwrap();
    let a = sidecar(d.path(), T0);
    assert_eq!(a.samples_written, 300);
    assert_eq!(
        a.gaps,
        [GapEntry {
            start: 300,
            length: 5700
        }]
    );
    let x = data(d.path(), T0);
    assert_eq!((x[99], x[100], x[299]), (s(99), s(1000), s(1199)));

    // A new run in the same minute (after a clean stop) resumes the file.
    let mut h = archive(d.path(), "sample_rate = 100");
    h.push_tag(
        0,
        0,
        Tag::Time {
            ns: (T0 + 10) * 1_000_000_000,
            source: TimeSource::Gpsdo,
        },
    );
    h.push_input(0, &(5000..5100).map(s).collect::<Vec<_>>());
    h.run_to_end().unwrap();
    assert_eq!(h.counter("resumed"), 300);
    let a = sidecar(d.path(), T0);
    assert_eq!(a.samples_written, 400);
    assert_eq!(
        a.gaps,
        [
            GapEntry {
                start: 300,
                length: 700
            },
            GapEntry {
                start: 1100,
                length: 4900
            }
        ]
    );
    let x = data(d.path(), T0);
    assert_eq!((x[0], x[1000], x[1099]), (s(0), s(5000), s(5099)));
}

#[test]
fn a_second_writer_of_the_channel_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let mut first = archive(d.path(), "sample_rate = 100");
    first.push_input(0, &[s(1)]);
    first.run();
    let mut second = archive(d.path(), "sample_rate = 100");
    second.push_input(0, &[s(1)]);
    second.run_to_end().unwrap();
    assert!(
        second
            .metrics()
            .last_error()
            .contains("is being written by another binary_archive"),
        "{}",
        second.metrics().last_error()
    );
    first.run_to_end().unwrap();
    assert_eq!(first.counter("samples"), 1);
}

#[test]
fn without_a_time_tag_the_system_clock_places_samples() {
    let d = tempfile::tempdir().unwrap();
    let mut h = Harness::new(
        "binary_archive",
        &format!(
            "dir = {:?}\nchannel = \"c\"\nsample_rate = 10",
            d.path().to_str().unwrap()
        ),
        &[ItemType::C32],
    )
    .unwrap();
    let before = flow_framework::metrics::unix_now_ns() / 60_000_000_000;
    h.push_input(0, &[s(1); 5]);
    h.run_to_end().unwrap();
    let after = flow_framework::metrics::unix_now_ns() / 60_000_000_000;
    let mut found = Vec::new();
    for day in std::fs::read_dir(d.path().join("c")).unwrap() {
        let day = day.unwrap().path();
        if day.is_dir() {
            for f in std::fs::read_dir(&day).unwrap() {
                let p = f.unwrap().path();
                if p.extension().is_some_and(|x| x == "json") {
                    let sc: Sidecar = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                    found.push((
                        sc.minute_boundary / 60,
                        sc.samples_written,
                        sc.time.unwrap().source,
                    ));
                }
            }
        }
    }
    let total: u64 = found.iter().map(|f| f.1).sum();
    assert_eq!(total, 5);
    assert!(
        found
            .iter()
            .all(|f| f.0 >= before && f.0 <= after && f.2 == "system_clock"),
        "{found:?}"
    );
}

#[test]
fn a_failed_write_restarts_the_block_and_loses_nothing() {
    let d = tempfile::tempdir().unwrap();
    // A directory where the minute file must go: opening it fails like a broken disk.
    let blocker = d.path().join(format!("WWV_10/20251206/{T0}.bin"));
    std::fs::create_dir_all(&blocker).unwrap();
    let mut h =
        archive(d.path(), "sample_rate = 100").on_error(flow_framework::graph::OnError::Restart);
    h.push_tag(
        0,
        0,
        Tag::Time {
            ns: T0 * 1_000_000_000,
            source: TimeSource::Gpsdo,
        },
    );
    h.push_input(0, &(0..300).map(s).collect::<Vec<_>>());
    h.run();
    assert!(
        h.metrics()
            .last_error()
            .contains(&format!("opening minute {T0}")),
        "{}",
        h.metrics().last_error()
    );
    assert_eq!(h.counter("samples"), 0);
    // The disk recovers; the restarted block gets the items the failed call did not commit.
    std::fs::remove_dir(&blocker).unwrap();
    h.run_to_end().unwrap();
    assert!(
        h.metrics()
            .restarts
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    let a = sidecar(d.path(), T0);
    assert_eq!(a.samples_written, 300);
    assert_eq!(
        a.gaps,
        [GapEntry {
            start: 300,
            length: 5700
        }]
    );
    assert_eq!(data(d.path(), T0)[299], s(299));
}

#[test]
fn a_time_tag_before_the_rate_tag_at_the_same_sample_still_places_the_samples() {
    let d = tempfile::tempdir().unwrap();
    let mut h = archive(d.path(), "");
    h.push_tag(
        0,
        0,
        Tag::Time {
            ns: (T0 + 59) * 1_000_000_000,
            source: TimeSource::Simulated,
        },
    );
    h.push_tag(0, 0, Tag::Rate(100.0));
    h.push_input(0, &(0..100).map(s).collect::<Vec<_>>());
    h.run_to_end().unwrap();
    assert_eq!(h.counter("samples"), 100);
    let a = sidecar(d.path(), T0);
    assert_eq!(a.samples_written, 100);
    assert_eq!(
        a.gaps[0].length, 5900,
        "placed at 59 s, not by the system clock"
    );
    assert_eq!(a.time.as_ref().unwrap().source, "simulated");
    assert_eq!(data(d.path(), T0)[5900], s(0));
}
