//! Tests of the ring protocol: wrap-around, overwrite accounting, a concurrent reader that
//! never sees a torn record, resume after a restart and after a writer died mid-record.

use std::sync::atomic::Ordering;

use super::layout::*;
use super::*;

fn spec(dir: &tempfile::TempDir, capacity: u64, entries: u64) -> RingSpec {
    RingSpec {
        path: dir.path().join("r.ring"),
        capacity_bytes: capacity,
        index_entries: entries,
        schema: b"schema-bytes".to_vec(),
        kind: KIND_STREAM,
        item_size: 4,
        span_ns: 0,
    }
}

/// A body whose every byte derives from its sequence number, so tearing is detectable.
fn body(seq: u64) -> Vec<u8> {
    let len = 40 + (seq % 7) as usize * 24;
    (0..len).map(|i| (seq as usize * 31 + i) as u8).collect()
}

fn meta(seq: u64) -> RecordMeta {
    RecordMeta {
        rows: 1,
        time_ns: seq as i64 * 1000,
        end_time_ns: seq as i64 * 1000,
        first_index: seq,
        ..Default::default()
    }
}

#[test]
fn wraps_and_reports_what_a_slow_reader_missed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, how) = RingWriter::open(&spec(&dir, 4096, 1024)).unwrap();
    assert_eq!(how, Opened::Created);
    let mut r = RingReader::attach(&dir.path().join("r.ring")).unwrap();
    assert_eq!(r.schema(), b"schema-bytes");
    let mut buf = Vec::new();
    for s in 0..10 {
        w.append(&meta(s), &body(s)).unwrap();
    }
    for s in 0..10 {
        match r.next(&mut buf) {
            Next::Record(h) => {
                assert_eq!(h.seq, s);
                assert_eq!(buf, body(s));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(r.next(&mut buf), Next::Empty);
    // Wrap the 4 KiB region many times while the reader sleeps.
    for s in 10..1000 {
        w.append(&meta(s), &body(s)).unwrap();
    }
    let Next::Missed(missed) = r.next(&mut buf) else {
        panic!("expected a miss")
    };
    let tail = r.header().tail_seq.load(Ordering::Relaxed);
    assert_eq!(missed, tail - 10);
    let mut seq = tail;
    while let Next::Record(h) = r.next(&mut buf) {
        assert_eq!((h.seq, &buf), (seq, &body(seq)));
        seq += 1;
    }
    assert_eq!(seq, 1000);
    assert_eq!(r.header().overwritten.load(Ordering::Relaxed), tail);
    // Everything still held fits in the data region.
    let h = r.header();
    assert!(h.write_head.load(Ordering::Relaxed) - h.read_tail.load(Ordering::Relaxed) <= 4096);
}

#[test]
fn the_index_bounds_the_record_count() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = RingWriter::open(&spec(&dir, 1 << 20, 16)).unwrap();
    for s in 0..100 {
        w.append(&meta(s), &body(s)).unwrap();
    }
    assert_eq!(w.head_seq() - w.tail_seq(), 16);
    let e = w.append(&meta(0), &vec![0; 2 << 20]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("record of 2097152 bytes is larger than the buffer"),
        "{e}"
    );
}

#[test]
fn a_concurrent_reader_never_sees_a_torn_record() {
    let dir = tempfile::tempdir().unwrap();
    let sp = spec(&dir, 8192, 64);
    let (mut w, _) = RingWriter::open(&sp).unwrap();
    let path = sp.path.clone();
    let total = 200_000u64;
    let reader = std::thread::spawn(move || {
        let mut r = RingReader::attach(&path).unwrap();
        let (mut got, mut buf) = (0u64, Vec::new());
        // Records written before the reader attached count as missed.
        let mut missed = r.next_seq();
        let mut expect = r.next_seq();
        while expect < total {
            match r.next(&mut buf) {
                Next::Record(h) => {
                    assert_eq!(h.seq, expect);
                    assert_eq!(buf, body(h.seq), "torn record {}", h.seq);
                    got += 1;
                    expect += 1;
                }
                Next::Missed(n) => {
                    missed += n;
                    expect += n;
                }
                Next::Empty => std::hint::spin_loop(),
            }
        }
        (got, missed)
    });
    for s in 0..total {
        w.append(&meta(s), &body(s)).unwrap();
    }
    let (got, missed) = reader.join().unwrap();
    assert_eq!(got + missed, total);
    assert!(got > 0);
}

#[test]
fn a_restarted_writer_resumes_and_a_different_schema_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let sp = spec(&dir, 4096, 64);
    let (mut w, _) = RingWriter::open(&sp).unwrap();
    for s in 0..5 {
        w.append(&meta(s), &body(s)).unwrap();
    }
    drop(w);
    let (mut w, how) = RingWriter::open(&sp).unwrap();
    assert_eq!(how, Opened::Resumed { records: 5 });
    assert_eq!(w.append(&meta(5), &body(5)).unwrap(), 5);
    let mut r = RingReader::attach(&sp.path).unwrap();
    assert_eq!(r.header().recoveries.load(Ordering::Relaxed), 1);
    let mut buf = Vec::new();
    for s in 0..6 {
        assert!(matches!(r.next(&mut buf), Next::Record(h) if h.seq == s));
    }
    let mut other = sp.clone();
    other.schema = b"another".to_vec();
    let (_, how) = RingWriter::open(&other).unwrap();
    assert!(
        matches!(how, Opened::Replaced { ref reason } if reason.contains("schema")),
        "{how:?}"
    );
}

#[test]
fn a_writer_killed_mid_record_leaves_a_readable_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let sp = spec(&dir, 4096, 64);
    let (mut w, _) = RingWriter::open(&sp).unwrap();
    for s in 0..40 {
        w.append(&meta(s), &body(s)).unwrap();
    }
    // Die inside `fill`: the tail has moved, bytes are half written, nothing published.
    let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        w.append_with(&meta(40), 200, |dst| {
            dst[..100].fill(0xEE);
            panic!("killed");
        })
    }));
    assert!(died.is_err());
    std::mem::forget(w); // no clean close, as after kill -9
    let mut r = RingReader::attach(&sp.path).unwrap();
    assert_eq!(r.header().state.load(Ordering::Relaxed), STATE_WRITING);
    let mut buf = Vec::new();
    let mut seen = Vec::new();
    loop {
        match r.next(&mut buf) {
            Next::Record(h) => {
                assert_eq!(buf, body(h.seq));
                seen.push(h.seq);
            }
            Next::Missed(_) => {}
            Next::Empty => break,
        }
    }
    assert_eq!(seen.last(), Some(&39));
    let (mut w, how) = RingWriter::open(&sp).unwrap();
    assert!(matches!(how, Opened::Resumed { .. }), "{how:?}");
    assert_eq!(w.append(&meta(40), &body(40)).unwrap(), 40);
    assert!(matches!(r.next(&mut buf), Next::Record(h) if h.seq == 40));
    assert_eq!(buf, body(40));
}

#[test]
fn a_damaged_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let sp = spec(&dir, 4096, 64);
    let (mut w, _) = RingWriter::open(&sp).unwrap();
    w.append(&meta(0), &body(0)).unwrap();
    drop(w);
    let mut bytes = std::fs::read(&sp.path).unwrap();
    let data = u64::from_le_bytes(bytes[24..32].try_into().unwrap()) as usize;
    bytes[data] ^= 0xFF; // the record's sequence number
    std::fs::write(&sp.path, &bytes).unwrap();
    let (_, how) = RingWriter::open(&sp).unwrap();
    assert_eq!(
        how,
        Opened::Replaced {
            reason: "record 0 is damaged".into()
        }
    );
    std::fs::write(&sp.path, b"not a ring").unwrap();
    assert!(matches!(
        RingWriter::open(&sp).unwrap().1,
        Opened::Replaced { .. }
    ));
}

#[test]
fn a_new_ring_reserves_all_its_memory_at_start() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let s = spec(&dir, 1 << 20, 64);
    let (w, _) = RingWriter::open(&s).unwrap();
    let m = std::fs::metadata(&s.path).unwrap();
    // Every block is allocated: a full /dev/shm refuses the ring at start (ENOSPC) rather
    // than killing the writer with SIGBUS later.
    assert!(
        m.blocks() * 512 >= m.len(),
        "{} of {}",
        m.blocks() * 512,
        m.len()
    );
    drop(w);
}
