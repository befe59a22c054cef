//! The durable upload queue: an SQLite database (WAL, `synchronous = FULL`) of batches
//! (a day's product, a set of files) and their files, each with its size and SHA-256 taken
//! when it was queued, its state (`pending`, `verified`, `failed`), attempts, the time of
//! the next try and the last error. Every change is committed before the next step, so a
//! crash or reboot resumes where it stopped, and a file is `verified` only after the
//! destination's copy was checked. A batch whose files are all verified is `done` once its
//! confirmations (the `.confirmed` markers that let storage limits delete the local data)
//! are written.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Directories and the file names in them to confirm when a batch is done.
pub type Confirmations = Vec<(PathBuf, Vec<String>)>;

/// A queued file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuedFile {
    /// Row id.
    pub id: i64,
    /// Its batch.
    pub batch: i64,
    /// Local path.
    pub local: PathBuf,
    /// Path at the destination (relative to its base).
    pub remote: String,
    /// Size when queued.
    pub size: u64,
    /// SHA-256 (hex) when queued.
    pub sha256: String,
    /// `pending`, `verified` or `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: u32,
    /// Unix ns before which it is not tried again.
    pub next_try_ns: i64,
    /// The last error.
    pub last_error: String,
}

/// A batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Row id.
    pub id: i64,
    /// Unique name (`day:20251206`, ...).
    pub name: String,
    /// `pending`, `done` or `failed`.
    pub state: String,
    /// A directory to create at the destination once every file is verified (an ingest
    /// trigger), or empty.
    pub trigger: String,
    /// What to confirm when done.
    pub confirm: Confirmations,
    /// Unix ns when done.
    pub done_ns: i64,
    /// Why it failed.
    pub error: String,
}

/// The queue.
pub struct Queue {
    db: Connection,
}

fn err(e: rusqlite::Error) -> String {
    e.to_string()
}

impl Queue {
    /// Opens (creating) the queue at `path`.
    pub fn open(path: &Path) -> Result<Queue, String> {
        if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
        }
        let db = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        db.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(err)?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS batches (
               id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_ns INTEGER NOT NULL,
               state TEXT NOT NULL, trigger TEXT NOT NULL, confirm TEXT NOT NULL,
               done_ns INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '');
             CREATE TABLE IF NOT EXISTS files (
               id INTEGER PRIMARY KEY, batch INTEGER NOT NULL REFERENCES batches(id),
               local TEXT NOT NULL, remote TEXT NOT NULL, size INTEGER NOT NULL,
               sha256 TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
               next_try_ns INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
               verified_ns INTEGER NOT NULL DEFAULT 0, UNIQUE (batch, remote));",
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Queue { db })
    }

    /// True if a batch of this name exists (in any state).
    pub fn has_batch(&self, name: &str) -> Result<bool, String> {
        self.db
            .query_row("SELECT 1 FROM batches WHERE name = ?1", [name], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(err)
    }

    /// Queues a batch of `files` (local path, remote path, size, sha256) in one
    /// transaction. Returns its id.
    pub fn add_batch(
        &mut self,
        name: &str,
        trigger: &str,
        confirm: &Confirmations,
        files: &[(PathBuf, String, u64, String)],
        now_ns: i64,
    ) -> Result<i64, String> {
        let tx = self.db.transaction().map_err(err)?;
        let confirm = serde_json::to_string(confirm).map_err(|e| e.to_string())?;
        tx.execute(
            "INSERT INTO batches (name, created_ns, state, trigger, confirm) VALUES (?1, ?2, 'pending', ?3, ?4)",
            params![name, now_ns, trigger, confirm],
        )
        .map_err(err)?;
        let id = tx.last_insert_rowid();
        for (local, remote, size, sha) in files {
            tx.execute(
                "INSERT INTO files (batch, local, remote, size, sha256, state) VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
                params![id, local.to_string_lossy(), remote, *size as i64, sha],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(id)
    }

    fn batch_row(r: &rusqlite::Row) -> rusqlite::Result<Batch> {
        let confirm: String = r.get(4)?;
        Ok(Batch {
            id: r.get(0)?,
            name: r.get(1)?,
            state: r.get(2)?,
            trigger: r.get(3)?,
            confirm: serde_json::from_str(&confirm).unwrap_or_default(),
            done_ns: r.get(5)?,
            error: r.get(6)?,
        })
    }

    /// Every batch, oldest first.
    pub fn batches(&self) -> Result<Vec<Batch>, String> {
        let mut st = self
            .db
            .prepare(
                "SELECT id, name, state, trigger, confirm, done_ns, error FROM batches ORDER BY id",
            )
            .map_err(err)?;
        let rows = st.query_map([], Self::batch_row).map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// The files of batch `id`.
    pub fn files(&self, batch: i64) -> Result<Vec<QueuedFile>, String> {
        let mut st = self
            .db
            .prepare(
                "SELECT id, batch, local, remote, size, sha256, state, attempts, next_try_ns, last_error
                 FROM files WHERE batch = ?1 ORDER BY id",
            )
            .map_err(err)?;
        let rows = st
            .query_map([batch], |r| {
                Ok(QueuedFile {
                    id: r.get(0)?,
                    batch: r.get(1)?,
                    local: PathBuf::from(r.get::<_, String>(2)?),
                    remote: r.get(3)?,
                    size: r.get::<_, i64>(4)? as u64,
                    sha256: r.get(5)?,
                    state: r.get(6)?,
                    attempts: r.get(7)?,
                    next_try_ns: r.get(8)?,
                    last_error: r.get(9)?,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Records a verified upload.
    pub fn verified(&self, file: i64, now_ns: i64) -> Result<(), String> {
        self.db
            .execute(
                "UPDATE files SET state = 'verified', verified_ns = ?2, last_error = '', attempts = attempts + 1 WHERE id = ?1",
                params![file, now_ns],
            )
            .map(|_| ())
            .map_err(err)
    }

    /// Records a failed attempt: retried after `next_try_ns`, or `failed` for good.
    pub fn attempt_failed(
        &self,
        file: i64,
        error: &str,
        permanent: bool,
        next_try_ns: i64,
    ) -> Result<(), String> {
        self.db
            .execute(
                "UPDATE files SET attempts = attempts + 1, last_error = ?2, next_try_ns = ?3,
                 state = CASE WHEN ?4 THEN 'failed' ELSE state END WHERE id = ?1",
                params![file, error, next_try_ns, permanent],
            )
            .map(|_| ())
            .map_err(err)
    }

    /// Marks a batch `done` (its confirmations written) or `failed`.
    pub fn finish_batch(
        &self,
        batch: i64,
        state: &str,
        error: &str,
        now_ns: i64,
    ) -> Result<(), String> {
        self.db
            .execute(
                "UPDATE batches SET state = ?2, error = ?3, done_ns = ?4 WHERE id = ?1",
                params![batch, state, error, now_ns],
            )
            .map(|_| ())
            .map_err(err)
    }

    /// Puts failed files (and their batches) back in the queue.
    pub fn retry_failed(&self) -> Result<usize, String> {
        let n = self
            .db
            .execute(
                "UPDATE files SET state = 'pending', next_try_ns = 0 WHERE state = 'failed'",
                [],
            )
            .map_err(err)?;
        self.db
            .execute(
                "UPDATE batches SET state = 'pending', error = '' WHERE state = 'failed'",
                [],
            )
            .map_err(err)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_and_files_survive_reopening_with_their_states() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("q/queue.sqlite");
        let mut q = Queue::open(&path).unwrap();
        let confirm = vec![(d.path().join("raw/A/20251206"), vec!["1.bin".to_string()])];
        let files = vec![
            (d.path().join("a"), "x/a".to_string(), 3, "aa".to_string()),
            (d.path().join("b"), "x/b".to_string(), 4, "bb".to_string()),
        ];
        let id = q
            .add_batch("day:20251206", "", &confirm, &files, 5)
            .unwrap();
        assert!(q.has_batch("day:20251206").unwrap());
        assert!(
            q.add_batch("day:20251206", "", &confirm, &files, 5)
                .is_err(),
            "names are unique"
        );
        let f = q.files(id).unwrap();
        q.verified(f[0].id, 10).unwrap();
        q.attempt_failed(f[1].id, "refused", false, 99).unwrap();
        drop(q);
        let q = Queue::open(&path).unwrap();
        let f = q.files(id).unwrap();
        assert_eq!((f[0].state.as_str(), f[0].attempts), ("verified", 1));
        assert_eq!(
            (
                f[1].state.as_str(),
                f[1].attempts,
                f[1].next_try_ns,
                f[1].last_error.as_str()
            ),
            ("pending", 1, 99, "refused")
        );
        q.attempt_failed(f[1].id, "denied", true, 0).unwrap();
        assert_eq!(q.files(id).unwrap()[1].state, "failed");
        assert_eq!(q.batches().unwrap()[0].confirm, confirm);
        assert_eq!(q.retry_failed().unwrap(), 1);
        assert_eq!(q.files(id).unwrap()[1].state, "pending");
    }
}
