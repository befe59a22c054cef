//! Crash suite for every sink that stores data: `flow run` is killed with SIGKILL at random
//! moments, started again, and at the end every file must be readable and everything the
//! sink had acknowledged before each kill must be there exactly once, with no start failing.
//!
//! "Acknowledged" per sink (kill -9 loses nothing handed to the kernel, so for a kill it is
//! what the sink had written; fsync only matters for power loss, see docs/durability.md):
//! - `file_sink`: every whole item in the file at the kill;
//! - `message_sink`: every complete line (ending in a newline) in the file at the kill;
//! - `sqlite`: every record in the journal (whole, CRC-valid) or in the database at the kill;
//!   with a live `serial_source` in front (a pty meter running through all kills), also every
//!   reading stored at most once, although unread lines stay in the pty between runs.
//!
//! To add a sink (binary_archive, hdf5, ring_buffer...), add a [`Case`] to [`CASES`] (setup,
//! flowgraph, what is acknowledged after a kill, final verification) and one test line.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::util::Sandbox;

/// What a sink had acknowledged when it was killed.
#[derive(Debug, Default, Clone)]
pub struct Ack {
    /// Byte-stream sinks: the acknowledged prefix of the file.
    pub bytes: Vec<u8>,
    /// Record sinks: record key → (session, sequence number).
    pub records: BTreeMap<u64, (i64, u64)>,
}

/// One storing sink under test.
pub struct Case {
    /// Name (used for the sandbox files).
    pub name: &'static str,
    /// Prepares input files once.
    pub setup: fn(&Path),
    /// Starts what must run during the whole case (a device emulator); dropped at the end.
    pub driver: fn(&Path) -> Option<Box<dyn std::any::Any>>,
    /// Extra arguments of the final clean run (`--duration` for endless sources).
    pub final_args: &'static [&'static str],
    /// The flowgraph of every run (killed runs and the final clean one).
    pub flowgraph: &'static str,
    /// After a kill, before the next start: what the sink had acknowledged.
    pub acknowledged: fn(&Path) -> Result<Ack, String>,
    /// After the final clean run: everything acknowledged is there exactly once, files read.
    pub verify: fn(&Path, &[Ack]) -> Result<(), String>,
}

/// Items of the stream case, and messages of the message cases, per run.
const ITEMS: i32 = 1_000_000;
const MESSAGES: u64 = 20_000;

/// Every storing sink on this branch.
pub const CASES: &[Case] = &[
    Case {
        name: "file_sink",
        driver: |_| None,
        final_args: &[],
        setup: |dir| {
            let data: Vec<u8> = (0..ITEMS).flat_map(i32::to_le_bytes).collect();
            std::fs::write(dir.join("in.i32"), data).expect("input");
        },
        flowgraph: "[blocks.src]\ntype = \"file_source\"\npath = \"in.i32\"\nitem = \"i32\"\nthrottle = true\nsample_rate = 2000000.0\n\
                    [blocks.sink]\ntype = \"file_sink\"\ninputs = [\"src\"]\npath = \"out.i32\"\nmode = \"append\"\nfsync = \"100ms\"\n",
        acknowledged: |dir| {
            let b = std::fs::read(dir.join("out.i32")).unwrap_or_default();
            let whole = b.len() - b.len() % 4;
            Ok(Ack { bytes: b[..whole].to_vec(), ..Ack::default() })
        },
        verify: |dir, acks| {
            let b = std::fs::read(dir.join("out.i32")).map_err(|e| e.to_string())?;
            if b.len() % 4 != 0 {
                return Err(format!("torn item: {} bytes", b.len()));
            }
            prefixes(&b, acks)?;
            let v: Vec<i64> = b.chunks_exact(4).map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect();
            runs_count_up(&v, u64::try_from(ITEMS).unwrap_or(0))
        },
    },
    Case {
        name: "message_sink",
        setup: |_| {},
        driver: |_| None,
        final_args: &[],
        flowgraph: "[blocks.src]\ntype = \"message_strobe\"\nrate = 40000.0\ncount = 20000\n\
                    [blocks.sink]\ntype = \"message_sink\"\ninputs = [\"src\"]\npath = \"out.jsonl\"\nfsync = \"100ms\"\n",
        acknowledged: |dir| {
            let b = std::fs::read(dir.join("out.jsonl")).unwrap_or_default();
            let whole = b.iter().rposition(|c| *c == b'\n').map_or(0, |i| i + 1);
            Ok(Ack { bytes: b[..whole].to_vec(), ..Ack::default() })
        },
        verify: |dir, acks| {
            let b = std::fs::read(dir.join("out.jsonl")).map_err(|e| e.to_string())?;
            if b.last().is_some_and(|c| *c != b'\n') {
                return Err("the file ends in a torn line".into());
            }
            prefixes(&b, acks)?;
            let mut seqs = Vec::new();
            for (n, line) in String::from_utf8_lossy(&b).lines().enumerate() {
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("line {}: {e}: {line}", n + 1))?;
                seqs.push(v["seq"].as_i64().ok_or(format!("line {}: no seq", n + 1))?);
            }
            runs_count_up(&seqs, MESSAGES)
        },
    },
    Case {
        name: "sqlite",
        setup: |_| {},
        driver: |_| None,
        final_args: &[],
        flowgraph: "[blocks.src]\ntype = \"message_strobe\"\nrate = 40000.0\ncount = 20000\n\
                    [blocks.sink]\ntype = \"sqlite\"\ninputs = [\"src\"]\npath = \"db.sqlite\"\nfsync = \"always\"\n",
        acknowledged: |dir| sqlite_acknowledged(dir, "seq"),
        verify: |dir, acks| {
            let last = sqlite_verify(dir, acks, "seq")?;
            if last != MESSAGES as usize {
                return Err(format!("the final session has {last} rows"));
            }
            Ok(())
        },
    },
    Case {
        // A live source in front: a pty meter writes `n=<n>;` lines during the whole case,
        // so a killed reader leaves unread lines (and maybe half a line) in the pty for the
        // next one. Every `n` must be stored at most once, and every acknowledged one kept.
        name: "serial_sqlite",
        setup: |_| {},
        driver: |dir| Some(Box::new(MeterDriver::start(&dir.join("meter")))),
        final_args: &["--duration", "2s"],
        flowgraph: "[blocks.meter]\ntype = \"serial_source\"\nport = \"meter\"\nexclusive = false\nparse = \"regex\"\npattern = '^n=(?P<n>[0-9]+);$'\nfields = [{ name = \"n\", type = \"i64\" }]\n\
                    [blocks.sink]\ntype = \"sqlite\"\ninputs = [\"meter\"]\npath = \"db.sqlite\"\nfsync = \"always\"\n",
        acknowledged: |dir| sqlite_acknowledged(dir, "n"),
        verify: |dir, acks| {
            let last = sqlite_verify(dir, acks, "n")?;
            if last == 0 {
                return Err("the final session stored nothing".into());
            }
            Ok(())
        },
    },
];

/// What the `sqlite` sink acknowledged: the whole records of its journal and its rows,
/// as `_rec → (_session, value of column)`.
fn sqlite_acknowledged(dir: &Path, column: &str) -> Result<Ack, String> {
    use flow_blocks::sinks::sqlite::journal;
    let mut records = BTreeMap::new();
    let bytes = std::fs::read(dir.join("db.sqlite.flowjournal")).unwrap_or_default();
    if bytes.len() >= 8 {
        for r in journal::decode_all(journal::bodies(&bytes).0)? {
            let v = r.msg.get(column).and_then(|v| v.as_f64());
            let v = v.ok_or(format!("journal record {} has no {column}", r.rec))?;
            records.insert(r.rec, (r.session, v as u64));
        }
    }
    records.extend(sqlite_rows(&dir.join("db.sqlite"), column)?);
    Ok(Ack {
        records,
        ..Ack::default()
    })
}

/// Checks the database after the final run: readable (`sqlite3` integrity check), every
/// acknowledged record there with its values, `column` never stored twice and counting up
/// within a session, `seq` contiguous from 0 within a session, the journal emptied.
/// Returns the number of rows of the last session.
fn sqlite_verify(dir: &Path, acks: &[Ack], column: &str) -> Result<usize, String> {
    let db = dir.join("db.sqlite");
    let check = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("PRAGMA integrity_check;")
        .output()
        .map_err(|e| format!("sqlite3 CLI: {e}"))?;
    let said = String::from_utf8_lossy(&check.stdout);
    if said.trim() != "ok" {
        return Err(format!("integrity_check: {said}"));
    }
    let rows = sqlite_rows(&db, column)?;
    for a in acks {
        for (rec, v) in &a.records {
            if rows.get(rec) != Some(v) {
                return Err(format!(
                    "acknowledged record {rec} {v:?} is {:?} after recovery",
                    rows.get(rec)
                ));
            }
        }
    }
    // `seq` starts again at every run; any other column is unique over the whole case.
    let mut seen = std::collections::BTreeSet::new();
    for (rec, (_, v)) in rows.iter().filter(|_| column != "seq") {
        if !seen.insert(*v) {
            return Err(format!(
                "{column} = {v} is stored twice (again at _rec {rec})"
            ));
        }
    }
    let seqs = sqlite_rows(&db, "seq")?;
    let mut by_session: BTreeMap<i64, Vec<(i64, u64)>> = BTreeMap::new();
    for (rec, (s, v)) in &rows {
        let seq = seqs.get(rec).map_or(-1, |(_, q)| *q as i64);
        by_session.entry(*s).or_default().push((seq, *v));
    }
    for (s, rows) in &by_session {
        // Rows of a session come in _rec order, which is arrival order.
        let seq: Vec<i64> = rows.iter().map(|r| r.0).collect();
        runs_count_up(&seq, None).map_err(|e| format!("session {s}: {e}"))?;
        if seq.iter().filter(|q| **q == 0).count() > 1 {
            return Err(format!("session {s} holds two runs"));
        }
        if rows.windows(2).any(|w| w[1].1 <= w[0].1) && column != "seq" {
            return Err(format!("session {s}: {column} does not count up"));
        }
    }
    let journal = std::fs::metadata(dir.join("db.sqlite.flowjournal"))
        .map_err(|e| e.to_string())?
        .len();
    if journal != 8 {
        return Err(format!(
            "journal not emptied after a clean stop: {journal} bytes"
        ));
    }
    Ok(by_session.values().last().map_or(0, Vec::len))
}

/// A meter on a pty linked at a path, writing `n=<n>;` lines until dropped.
struct MeterDriver {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MeterDriver {
    fn start(link: &Path) -> MeterDriver {
        use std::io::Write;
        let pty = flow_blocks::instrument::pty::Pty::open().expect("pty");
        std::os::unix::fs::symlink(&pty.path, link).expect("link the pty");
        let flags = nix::fcntl::OFlag::from_bits_truncate(
            nix::fcntl::fcntl(&pty.master, nix::fcntl::FcntlArg::F_GETFL).expect("flags"),
        );
        nix::fcntl::fcntl(
            &pty.master,
            nix::fcntl::FcntlArg::F_SETFL(flags | nix::fcntl::OFlag::O_NONBLOCK),
        )
        .expect("non-blocking");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut pty = pty;
            let mut n = 0u64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let line = format!("n={n};\n");
                match pty.master.write(line.as_bytes()) {
                    Ok(k) if k == line.len() => n += 1,
                    // A partial write leaves half a line; the reader reports it malformed.
                    Ok(_) => n += 1,
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
                if n % 64 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        MeterDriver {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for MeterDriver {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `_rec → (_session, column)` of every stored row (empty when there is no database yet).
fn sqlite_rows(db: &Path, column: &str) -> Result<BTreeMap<u64, (i64, u64)>, String> {
    if !db.exists() {
        return Ok(BTreeMap::new());
    }
    let c = rusqlite::Connection::open(db).map_err(|e| format!("opening {}: {e}", db.display()))?;
    let sql = format!("SELECT _rec, _session, {column} FROM measurement ORDER BY _rec");
    let Ok(mut st) = c.prepare(&sql) else {
        return Ok(BTreeMap::new()); // killed before the table was created
    };
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                (r.get::<_, i64>(1)?, r.get::<_, i64>(2)? as u64),
            ))
        })
        .map_err(|e| e.to_string())?
        .collect::<Result<BTreeMap<_, _>, _>>()
        .map_err(|e| e.to_string());
    rows
}

/// Every acknowledged byte prefix is a prefix of the final file (nothing lost, nothing
/// rewritten).
fn prefixes(file: &[u8], acks: &[Ack]) -> Result<(), String> {
    for (k, a) in acks.iter().enumerate() {
        if !file.starts_with(&a.bytes) {
            return Err(format!(
                "the {} bytes acknowledged before kill {k} are not intact",
                a.bytes.len()
            ));
        }
    }
    Ok(())
}

/// `v` is a sequence of runs 0, 1, 2, ... (each run one start of the source), the last of
/// length `full` when given: no duplicate or missing value inside a run.
fn runs_count_up(v: &[i64], full: impl Into<Option<u64>>) -> Result<(), String> {
    let full = full.into();
    let mut expect = 0i64;
    let mut last_run = 0u64;
    for (i, x) in v.iter().enumerate() {
        if *x == 0 {
            expect = 0;
            last_run = 0;
        }
        if *x != expect {
            return Err(format!(
                "value {i} is {x}, expected {expect} (a loss or a duplicate)"
            ));
        }
        expect += 1;
        last_run += 1;
    }
    match full {
        Some(n) if n != last_run => {
            Err(format!("the last run has {last_run} values, expected {n}"))
        }
        _ => Ok(()),
    }
}

#[test]
fn the_run_checker_catches_losses_and_duplicates() {
    assert!(runs_count_up(&[0, 1, 2, 0, 1, 2, 3], 4).is_ok());
    assert!(runs_count_up(&[0, 1, 1, 2], None)
        .unwrap_err()
        .contains("duplicate"));
    assert!(runs_count_up(&[0, 2], None).is_err());
    assert!(runs_count_up(&[0, 1], 3).is_err());
}

/// A small deterministic generator for the kill moments.
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % max
    }
}

/// Kills `iterations` runs at random moments, then runs once to the end and verifies.
pub fn run_case(case: &Case, iterations: usize) {
    let s = Sandbox::new();
    (case.setup)(s.path());
    let _driver = (case.driver)(s.path());
    let fg = s.write("fg.toml", case.flowgraph);
    let fg = fg.to_str().expect("utf-8 path");
    let mut moments = Moments(0x9E37_79B9_7F4A_7C15 ^ case.name.len() as u64);
    let mut acks = Vec::new();
    for k in 0..iterations {
        let mut run = s.spawn(&["run", fg, "-q"], "run");
        let at = moments.next_ms(700);
        std::thread::sleep(Duration::from_millis(at));
        if let Some(status) = run.child.try_wait().expect("wait") {
            assert!(
                status.success(),
                "{}: run {k} failed on its own: {}",
                case.name,
                run.err()
            );
        } else {
            run.child.kill().expect("kill -9");
            run.child.wait().expect("reap");
        }
        let ack = (case.acknowledged)(s.path())
            .unwrap_or_else(|e| panic!("{}: after kill {k} at {at} ms: {e}", case.name));
        acks.push(ack);
    }
    let mut args = vec!["run", fg];
    args.extend_from_slice(case.final_args);
    let mut last = s.spawn(&args, "final");
    let status = last.wait(Duration::from_secs(120));
    assert!(
        status.success(),
        "{}: the final run failed:\n{}\n{}",
        case.name,
        last.out(),
        last.err()
    );
    if let Err(e) = (case.verify)(s.path(), &acks) {
        panic!(
            "{}: {e}\nfinal run:\n{}{}",
            case.name,
            last.out(),
            last.err()
        );
    }
}

#[test]
fn kill9_file_sink() {
    run_case(&CASES[0], 50);
}

#[test]
fn kill9_message_sink() {
    run_case(&CASES[1], 50);
}

#[test]
fn kill9_sqlite() {
    run_case(&CASES[2], 50);
}

#[test]
fn kill9_serial_into_sqlite() {
    run_case(&CASES[3], 50);
}

#[test]
#[ignore = "soak: cargo test --test tests crash::kill9_soak -- --ignored"]
fn kill9_soak() {
    for c in CASES {
        run_case(c, 500);
    }
}
