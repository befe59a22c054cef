//! `sqlite` sink tests on real databases: rows and sessions, declared schemas, replay of a
//! journal left by a crash (exactly once, torn tail cut), per-session databases.

use std::path::Path;

use flow_framework::harness::Harness;
use flow_framework::prelude::*;
use rusqlite::Connection;

use super::codec::Record;
use super::journal::Journal;
use super::{journal_path, SqliteDef};

fn sink(path: &Path, extra: &str) -> Harness {
    let params = format!("path = {:?}\n{extra}", path.to_str().unwrap());
    Harness::new(SqliteDef::NAME, &params, &[]).unwrap()
}

fn meas(seq: u64) -> Message {
    Message::new("measurement")
        .with("time", Value::Time(1_700_000_000_000_000_000 + seq as i64))
        .with("seq", seq)
        .with("volts", seq as f64 * 0.5)
}

fn query_i64(db: &Path, sql: &str) -> Vec<i64> {
    let c = Connection::open(db).unwrap();
    let mut st = c.prepare(sql).unwrap();
    let v = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    v
}

#[test]
fn messages_become_rows_with_a_session_and_the_journal_is_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.sqlite");
    let mut h = sink(
        &db,
        "fsync = \"always\"\nmetadata = { device = \"DMM\", serial = \"42\" }",
    );
    for s in 0..1000 {
        h.push_message(0, meas(s));
    }
    h.push_message(
        0,
        Message::new("measurement")
            .with("seq", 1000u64)
            .with("unit", "V"),
    );
    h.run_to_end().unwrap();
    assert_eq!(h.metrics().last_error(), "");
    assert_eq!(h.counter("rows"), 1001);
    assert_eq!(
        query_i64(&db, "SELECT seq FROM measurement ORDER BY _rec"),
        (0..=1000).collect::<Vec<_>>()
    );
    let c = Connection::open(&db).unwrap();
    let (status, meta, end): (String, String, Option<i64>) = c
        .query_row("SELECT status, metadata, end_ns FROM sessions", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(
        (status.as_str(), meta.as_str()),
        ("stopped", r#"{"device":"DMM","serial":"42"}"#)
    );
    assert!(end.is_some());
    let unit: Option<String> = c
        .query_row("SELECT unit FROM measurement WHERE seq = 1000", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(unit.as_deref(), Some("V"));
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(std::fs::metadata(journal_path(&db)).unwrap().len(), 8);
}

#[test]
fn a_declared_schema_keeps_only_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    let mut h = sink(&db, "table = \"readings\"\ncolumns = [{ name = \"seq\", type = \"integer\" }, { name = \"volts\", type = \"real\" }]");
    h.push_message(0, meas(3));
    h.run_to_end().unwrap();
    assert_eq!(h.counter("unmapped_fields"), 1);
    let c = Connection::open(&db).unwrap();
    let v: f64 = c
        .query_row("SELECT volts FROM readings WHERE seq = 3", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 1.5);
    assert!(c.prepare("SELECT time FROM readings").is_err());
}

#[test]
fn a_crashed_runs_journal_is_replayed_exactly_once_and_its_torn_tail_cut() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.sqlite");
    // A first run stores rows 0..10 and stops cleanly.
    let mut h = sink(&db, "");
    for s in 0..10 {
        h.push_message(0, meas(s));
    }
    h.run_to_end().unwrap();
    // A second run "crashes": its journal holds rows 10..20, of which 10..15 reached SQLite,
    // and a torn half record at the end.
    let c = Connection::open(&db).unwrap();
    c.execute(
        "INSERT INTO sessions (start_ns, status, block) VALUES (1, 'running', 'x')",
        [],
    )
    .unwrap();
    for s in 10..15i64 {
        c.execute(
            "INSERT INTO measurement (_rec, _session, time, seq, volts) VALUES (?1, 2, 0, ?1, 0.0)",
            [s],
        )
        .unwrap();
    }
    drop(c);
    let (mut j, _, _) = Journal::open(&journal_path(&db)).unwrap();
    let recs: Vec<Record> = (10..20)
        .map(|s| Record {
            rec: s,
            session: 2,
            time_ns: 7,
            msg: meas(s),
        })
        .collect();
    j.append(&recs).unwrap();
    drop(j);
    let mut bytes = std::fs::read(journal_path(&db)).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(&[50, 0, 0, 0, 1, 2, 3]);
    std::fs::write(journal_path(&db), &bytes).unwrap();

    let mut h = sink(&db, "");
    h.push_message(0, meas(20));
    h.run_to_end().unwrap();
    assert_eq!(h.metrics().last_error(), "");
    assert_eq!(
        (h.counter("replayed"), h.counter("torn_bytes")),
        (5, (bytes.len() - whole) as u64)
    );
    assert_eq!(
        query_i64(&db, "SELECT seq FROM measurement ORDER BY _rec"),
        (0..=20).collect::<Vec<_>>()
    );
    assert_eq!(
        query_i64(&db, "SELECT _rec FROM measurement WHERE seq = 20"),
        [20]
    );
    let c = Connection::open(&db).unwrap();
    let (status, recovered): (String, i64) = c
        .query_row(
            "SELECT status, recovered_rows FROM sessions WHERE id = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), recovered), ("interrupted", 5));
    assert_eq!(std::fs::metadata(journal_path(&db)).unwrap().len(), 8);
}

#[test]
fn per_session_databases_recover_earlier_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("run.sqlite");
    let mut h = sink(&base, "per_session = true");
    h.push_message(0, meas(1));
    h.run_to_end().unwrap();
    let dbs = || {
        let mut v: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "sqlite"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(dbs().len(), 1);
    let first = dbs()[0].clone();
    // Leave a journal record behind in the first session's database, as a crash would.
    let (mut j, _, _) = Journal::open(&journal_path(&first)).unwrap();
    j.append(&[Record {
        rec: 1,
        session: 1,
        time_ns: 1,
        msg: meas(2),
    }])
    .unwrap();
    drop(j);
    std::thread::sleep(std::time::Duration::from_millis(2)); // a distinct millisecond stamp
    let mut h = sink(&base, "per_session = true");
    h.push_message(0, meas(3));
    h.run_to_end().unwrap();
    assert_eq!(h.counter("replayed"), 1);
    assert_eq!(dbs().len(), 2);
    assert_eq!(
        query_i64(&first, "SELECT seq FROM measurement ORDER BY _rec"),
        [1, 2]
    );
    assert_eq!(query_i64(&dbs()[1], "SELECT seq FROM measurement"), [3]);
}

#[test]
fn rotated_databases_are_deleted_oldest_first_within_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("m.sqlite");
    let mut h = sink(
        &base,
        "batch = 100\nrotate_bytes = 20000\nlimits = { max_bytes = 400000 }",
    );
    for s in 0..3000 {
        h.push_message(0, meas(s));
        if s % 100 == 99 {
            h.run();
        }
    }
    h.run_to_end().unwrap();
    assert_eq!(h.metrics().last_error(), "");
    let mut dbs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sqlite"))
        .collect();
    dbs.sort();
    assert!(dbs.len() >= 2, "{dbs:?}");
    assert!(h.counter("evicted") >= 1, "rotated databases were deleted");
    // What is left is the newest rows, contiguous to the end.
    let seqs: Vec<i64> = dbs
        .iter()
        .flat_map(|d| query_i64(d, "SELECT seq FROM measurement ORDER BY _rec"))
        .collect();
    let first = seqs[0];
    assert!(first > 0);
    assert_eq!(seqs, (first..3000).collect::<Vec<_>>());
    let used: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| crate::util::retention::space::allocated_at(&e.unwrap().path()))
        .sum();
    assert!(used <= 400_000, "{used}");
}

#[test]
fn an_fsync_interval_syncs_the_journal_even_when_nothing_follows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.sqlite");
    let mut h = sink(&db, "fsync = \"200ms\"");
    h.push_message(0, meas(1));
    crate::util::fsync::assert_synced_once_after(&mut h, std::time::Duration::from_millis(200));
    assert_eq!(h.counter("rows"), 1);
}
