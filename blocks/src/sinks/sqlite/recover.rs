//! Start-up recovery of the `sqlite` sink: replays the journal's records into SQLite (rows
//! already there are skipped by their record number, so each lands exactly once), marks
//! sessions whose process died as `interrupted`, makes SQLite durable, then empties the
//! journal. Safe to interrupt at any point: the next start repeats it with the same result.

use super::codec::Record;
use super::journal::{self, Journal, Scan};
use super::store::Store;

/// What recovery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Journal records that were missing from SQLite and were inserted.
    pub replayed: u64,
    /// Journal records that SQLite already had.
    pub present: u64,
    /// Bytes of a torn last record cut from the journal.
    pub torn_bytes: u64,
    /// Sessions found `running` (their process died) and marked `interrupted`.
    pub interrupted: usize,
}

const CHUNK: usize = 10_000;

/// Replays `bytes` (the journal's contents as opened) and compacts the journal.
pub fn recover(
    store: &mut Store,
    journal: &mut Journal,
    bytes: &[u8],
    scan: &Scan,
    sync: bool,
) -> Result<Recovery, String> {
    let mut out = Recovery {
        torn_bytes: scan.torn_bytes,
        ..Recovery::default()
    };
    let (bodies, _) = journal::bodies(bytes);
    for chunk in bodies.chunks(CHUNK) {
        let records = journal::decode_all(chunk.iter().copied())
            .map_err(|e| format!("journal {}: {e}", journal.path().display()))?;
        for run in records.chunk_by(|a: &Record, b: &Record| a.session == b.session) {
            let (inserted, _) = store.insert(run).map_err(|e| e.to_string())?;
            out.replayed += inserted;
            out.present += run.len() as u64 - inserted;
            if inserted > 0 {
                store
                    .add_recovered(run[0].session, inserted)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    out.interrupted = store.mark_interrupted().map_err(|e| e.to_string())?;
    if !journal.is_empty() {
        store.checkpoint().map_err(|e| e.to_string())?;
        journal
            .compact(sync)
            .map_err(|e| format!("compacting {}: {e}", journal.path().display()))?;
    }
    Ok(out)
}
