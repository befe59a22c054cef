//! `sqlite`: stores messages as rows of an SQLite database, crash-safely: every message is
//! appended to a checksummed journal before it is inserted, and the journal is replayed at
//! the next start. Parts: [`codec`] (record encoding), [`journal`] (the append-only file),
//! [`store`] (tables, columns, batched inserts), [`recover`] (start-up replay), [`params`].

pub mod codec;
pub mod journal;
pub mod params;
pub mod recover;
pub mod store;

use std::path::{Path, PathBuf};

use flow_framework::metrics::unix_now_ns;
use flow_framework::prelude::*;

use crate::util::fsync::{FsyncPolicy, SyncClock};
use crate::util::retention::rotate::Rotator;
use crate::util::retention::{Retention, Rotated};
use codec::Record;
use journal::Journal;
pub use params::SqliteParams;
use store::Store;

/// The journal that belongs to database `db`: `<db>.flowjournal`.
pub fn journal_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".flowjournal");
    PathBuf::from(s)
}

/// `synchronous` pragma for a policy.
fn synchronous(p: FsyncPolicy) -> &'static str {
    match p {
        FsyncPolicy::Always => "FULL",
        FsyncPolicy::Interval(_) => "NORMAL",
        FsyncPolicy::Never => "OFF",
    }
}

/// Stores messages.
pub struct SqliteSink {
    p: SqliteParams,
    name: String,
    store: Option<Store>,
    journal: Option<Journal>,
    session: i64,
    next_rec: u64,
    clock: SyncClock,
    records: Vec<Record>,
    counters: [Counter; 4],
    /// Journal records not yet known to be in SQLite (an insert failed or is under way).
    unstored: bool,
    /// The database being written.
    db: PathBuf,
    rotator: Rotator,
    retention: Retention,
    /// Bytes the last batch added (the estimate for the next one).
    batch_bytes: u64,
    refused: Counter,
    metrics: Option<std::sync::Arc<flow_framework::metrics::BlockMetrics>>,
}

/// The files of database `db` whose size counts: itself, its WAL and its journal.
fn db_files(db: &Path) -> Vec<PathBuf> {
    ["", "-wal", ".flowjournal"]
        .iter()
        .map(|s| {
            let mut p = db.as_os_str().to_owned();
            p.push(s);
            PathBuf::from(p)
        })
        .collect()
}

fn db_err(what: &str, e: impl std::fmt::Display) -> BlockError {
    BlockError::data(format!("{what}: {e}"))
}

impl SqliteSink {
    /// Opens a database and its journal and recovers what the journal holds.
    fn open(&mut self, db: &Path) -> Result<(Store, Journal), BlockError> {
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| BlockError::io(format!("creating {}", dir.display()), e))?;
        }
        let jpath = journal_path(db);
        let (mut journal, bytes, scan) = Journal::open(&jpath)
            .map_err(|e| BlockError::io(format!("opening {}", jpath.display()), e))?;
        let mut store = Store::open(
            db,
            synchronous(self.p.fsync),
            self.p.table.clone(),
            self.p.declared(),
        )
        .map_err(|e| db_err(&format!("opening {}", db.display()), e))?;
        let sync = self.p.fsync != FsyncPolicy::Never;
        let r = recover::recover(&mut store, &mut journal, &bytes, &scan, sync)
            .map_err(|e| db_err("recovering", e))?;
        self.counters[1].add(r.replayed);
        self.counters[2].add(r.torn_bytes);
        if r.torn_bytes > 0 {
            tracing::warn!(block = %self.name, journal = %jpath.display(), bytes = r.torn_bytes, "cut a torn record from the journal");
        }
        if r.replayed > 0 || r.interrupted > 0 {
            tracing::info!(block = %self.name, db = %db.display(), replayed = r.replayed, already_present = r.present,
                interrupted_sessions = r.interrupted, "recovered after an unclean stop");
        }
        Ok((store, journal))
    }

    /// Recovers journals of earlier per-session databases beside `base`.
    fn recover_siblings(&mut self, base: &Path) -> Result<(), BlockError> {
        let dir = base
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        let prefix = params::stem_prefix(base);
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(db) = name
                .strip_suffix(".flowjournal")
                .filter(|n| n.starts_with(&prefix))
            {
                if e.metadata().map_or(0, |m| m.len()) > journal::MAGIC.len() as u64 {
                    self.open(&dir.join(db))?;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BlockError> {
        let (Some(store), Some(journal)) = (self.store.as_ref(), self.journal.as_mut()) else {
            return Ok(());
        };
        let sync = self.p.fsync != FsyncPolicy::Never;
        if self.unstored {
            // The journal holds records SQLite may lack: keep it for the next start.
            if sync {
                journal
                    .sync()
                    .map_err(|e| BlockError::io("syncing the journal", e))?;
            }
            let _ = store.end_session(self.session, unix_now_ns(), "failed");
            return Ok(());
        }
        store
            .end_session(self.session, unix_now_ns(), "stopped")
            .map_err(|e| db_err("closing the session", e))?;
        store.checkpoint().map_err(|e| db_err("checkpoint", e))?;
        journal
            .compact(sync)
            .map_err(|e| BlockError::io("compacting the journal", e))?;
        self.clock.synced();
        Ok(())
    }
}

impl SqliteSink {
    /// Opens database `db` and starts a session in it.
    fn begin(&mut self, db: PathBuf) -> Result<(), BlockError> {
        let now = unix_now_ns();
        self.retention.begin(&db);
        let (store, journal) = self.open(&db)?;
        let meta = serde_json::to_string(&self.p.metadata).unwrap_or_default();
        self.session = store
            .begin_session(now, &self.name, &meta)
            .map_err(|e| db_err("starting a session", e))?;
        self.next_rec = store
            .next_rec()
            .map_err(|e| db_err("reading record numbers", e))?;
        self.store = Some(store);
        self.journal = Some(journal);
        self.retention.measure(&db, &db_files(&db));
        self.db = db;
        Ok(())
    }

    /// Closes the session and database and starts the next database.
    fn rotate(&mut self) -> Result<(), BlockError> {
        self.finish()?;
        self.store = None;
        self.journal = None;
        self.retention.finished(&self.db);
        let db = self
            .rotator
            .open_path(unix_now_ns().div_euclid(1_000_000), false);
        self.begin(db)
    }

    /// Asks the limits for room for the next batch of `n` messages (rotating first when
    /// due); false: the batch is dropped.
    fn room(&mut self, n: usize) -> Result<bool, BlockError> {
        let est = self.batch_bytes.max(256 * n as u64);
        if !self.retention.room(est) {
            return Ok(false);
        }
        if self
            .rotator
            .due(unix_now_ns().div_euclid(1_000_000_000), est)
        {
            self.rotate()?;
        }
        Ok(self.retention.admit(&self.db, est))
    }
}

impl Block for SqliteSink {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.name = ctx.name().to_string();
        self.counters =
            ["rows", "replayed", "torn_bytes", "unmapped_fields"].map(|n| ctx.counter(n));
        self.refused = ctx.counter("limit_dropped");
        self.clock.count_into(ctx.counter("fsyncs"));
        self.metrics = Some(ctx.metrics().clone());
        self.retention
            .start(ctx)
            .map_err(|e| BlockError::io(format!("scanning beside {}", self.p.path.display()), e))?;
        let now = unix_now_ns();
        let db = if self.p.per_session || self.rotator.enabled() {
            self.recover_siblings(&self.p.path.clone())?;
            if self.rotator.enabled() {
                self.rotator
                    .open_path(now.div_euclid(1_000_000), !self.p.per_session)
            } else {
                params::session_path(&self.p.path, now)
            }
        } else {
            self.p.path.clone()
        };
        self.begin(db)
    }

    fn wake_at(&self) -> Option<std::time::Instant> {
        self.clock.deadline()
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        self.records.clear();
        if self.clock.due() {
            // Journal records older than the fsync interval, with nothing written since.
            if let Some(journal) = self.journal.as_mut() {
                journal.sync().map_err(|e| {
                    BlockError::io(format!("syncing {}", journal.path().display()), e)
                })?;
            }
            self.clock.synced();
        }
        let now = unix_now_ns();
        self.retention.poll();
        let queued = io.msg_in[0].len().min(self.p.batch);
        if queued > 0 && !self.room(queued)? {
            // Stopped by a storage limit: the batch is dropped and counted.
            for _ in 0..queued {
                if io.msg_in[0].recv().is_some() {
                    self.refused.inc();
                    if let Some(m) = &self.metrics {
                        m.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
            return Ok(Flow::Continue);
        }
        let (Some(store), Some(journal)) = (self.store.as_mut(), self.journal.as_mut()) else {
            return Err(BlockError::internal("sqlite sink used before start"));
        };
        while self.records.len() < self.p.batch {
            let Some(msg) = io.msg_in[0].recv() else {
                break;
            };
            self.records.push(Record {
                rec: self.next_rec,
                session: self.session,
                time_ns: now,
                msg,
            });
            self.next_rec += 1;
        }
        if self.records.is_empty() {
            return Ok(Flow::Continue);
        }
        let before = journal.len();
        journal
            .append(&self.records)
            .map_err(|e| BlockError::io(format!("appending to {}", journal.path().display()), e))?;
        // The rows take about as much again in the database.
        self.batch_bytes = 2 * journal.len().saturating_sub(before);
        self.unstored = true;
        if self.clock.wrote() {
            journal
                .sync()
                .map_err(|e| BlockError::io(format!("syncing {}", journal.path().display()), e))?;
            self.clock.synced();
        }
        let (rows, unmapped) = store
            .insert(&self.records)
            .map_err(|e| db_err("inserting rows", e))?;
        self.unstored = false;
        self.counters[0].add(rows);
        self.counters[3].add(unmapped);
        if journal.len() > self.p.compact_bytes {
            store.checkpoint().map_err(|e| db_err("checkpoint", e))?;
            journal
                .compact(self.p.fsync != FsyncPolicy::Never)
                .map_err(|e| BlockError::io("compacting the journal", e))?;
        }
        let files = db_files(&self.db);
        self.retention.measure(&self.db, &files);
        let on_disk = files[..2]
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .sum();
        self.rotator.set_bytes(on_disk);
        Ok(Flow::Continue)
    }

    fn stop(&mut self, _: &mut WorkIo) -> Result<(), BlockError> {
        let r = self.finish();
        self.store = None;
        self.journal = None;
        self.retention.finished(&self.db);
        r
    }
}

/// Registration of `sqlite`.
pub struct SqliteDef;

impl BlockDef for SqliteDef {
    type Params = SqliteParams;
    const NAME: &'static str = "sqlite";
    const SUMMARY: &'static str =
        "Stores messages as rows of an SQLite database, crash-safely (journal + replay).";
    const DOC: &'static str = "Message input `in`. Each message becomes a row of the table named by \
        its kind (or `table`), with one column per field (added as new fields appear) or the declared \
        `columns`, plus `_rec` (record number, the primary key) and `_session` (a row of the `sessions` \
        table: start, end, status `running|stopped|failed|interrupted`, `metadata` as JSON, rows recovered). \
        Every batch is first appended to `<path>.flowjournal` (length + CRC32 per record, synced per \
        `fsync`), then inserted in one transaction (WAL mode; `synchronous` FULL for `always`, NORMAL \
        for an interval, OFF for `never`). At start the journal is replayed: records missing from \
        SQLite are inserted exactly once, a torn last record is cut (`torn_bytes`), and the journal is \
        emptied. With `per_session` every run writes a new database `<stem>-<UTC time>.<ext>`; \
        `rotate_every` (UTC-aligned periods) and `rotate_bytes` start new databases \
        `<stem>-<UTC stamp>.<ext>` while running. Storage `limits` delete finished databases \
        (with their `-wal`, `-shm` and journal) oldest first, only confirmed ones with \
        `require_confirmation`; the database being written is never deleted, so without \
        rotation `max_bytes` stops the sink (batches dropped and counted in `limit_dropped`, \
        health failed). Counters: `rows`, `replayed`, `torn_bytes`, `unmapped_fields`, \
        `fsyncs`, `limit_dropped` and the limits' `stored_bytes`, `evicted`, `evicted_bytes`, \
        `evicted_unconfirmed`, `storage_stops`. See docs/durability.md.";
    const EXAMPLE: &'static str = "path = \"data/meter.sqlite\"\nfsync = \"1s\"\nmetadata = { device = \"Keithley 2000\", serial = \"4012345\" }";

    fn signature(_: &SqliteParams) -> Signature {
        Signature::new().message_input("in").blocking()
    }

    fn validate(p: &SqliteParams) -> Vec<ParamError> {
        p.check()
    }

    fn plan(p: &SqliteParams, _: &PlanInputs) -> PlanInfo {
        // Message rates are not known from the flowgraph: only the limit is reported.
        PlanInfo {
            storage: vec![Storage {
                path: p.path.clone(),
                bytes_per_second: 0.0,
                limit_bytes: p.limits.as_ref().and_then(|l| l.max_bytes).map(|b| b.0),
            }],
            ..PlanInfo::default()
        }
    }

    fn build(p: &SqliteParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(SqliteSink {
            p: p.clone(),
            name: String::new(),
            store: None,
            journal: None,
            session: 0,
            next_rec: 0,
            clock: SyncClock::new(p.fsync),
            records: Vec::with_capacity(p.batch.min(100_000)),
            counters: Default::default(),
            unstored: false,
            db: p.path.clone(),
            rotator: Rotator::new(&p.path, p.rotate_every, p.rotate_bytes.map(|b| b.0)),
            retention: Retention::new(
                p.limits.clone(),
                Box::new(
                    Rotated::new(&p.path)
                        .with_companions(&["-wal", "-shm", ".flowjournal"])
                        .busy_when(".flowjournal", journal::MAGIC.len() as u64),
                ),
            ),
            batch_bytes: 0,
            refused: Counter::default(),
            metrics: None,
        }))
    }
}

register_block!(SqliteDef);

#[cfg(test)]
mod tests;
