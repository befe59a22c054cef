//! One pass over the upload queue: every pending file of every pending batch is uploaded
//! and verified ([`put_verified`]), retried with exponential backoff on transient errors
//! (up to `attempts` in this run; the next run tries again), and marked failed on permanent
//! ones. A batch whose files are all verified gets its trigger directory, then its
//! `.confirmed` markers — only then may storage limits delete the local data — and is
//! marked done. Every step is committed to the queue before the next.

use std::time::Duration;

use flow_framework::metrics::unix_now_ns;

use super::config::{Station, UploadConfig};
use super::error::UploadError;
use super::queue::{Batch, Queue, QueuedFile};
use super::remote::{put_verified, sha256_file, Remote};
use crate::util::retention::confirm;

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    /// Files uploaded and verified now.
    pub uploaded: usize,
    /// Files found already at the destination (verified, not sent again).
    pub already: usize,
    /// Batches completed (confirmed) now.
    pub done: Vec<String>,
    /// Files left for the next run after transient errors, with the last error.
    pub transient: Vec<String>,
    /// Permanent errors (files or batches that need a person).
    pub permanent: Vec<String>,
}

impl Report {
    /// Exit code for `flow upload` / `flow daily`: 0 all done, 1 something is left for
    /// the next run (transient), 2 a permanent failure.
    pub fn exit_code(&self) -> u8 {
        if !self.permanent.is_empty() {
            2
        } else if !self.transient.is_empty() {
            1
        } else {
            0
        }
    }
}

fn db(e: String) -> UploadError {
    UploadError::transient(format!("upload queue: {e}"))
}

/// Checks that the local file is still what was queued, then uploads it verified.
fn try_file(r: &mut dyn Remote, f: &QueuedFile) -> Result<bool, UploadError> {
    let (sha, size) = sha256_file(&f.local)
        .map_err(|e| UploadError::permanent(format!("reading {}: {e}", f.local.display())))?;
    if sha != f.sha256 || size != f.size {
        return Err(UploadError::permanent(format!(
            "{} changed since it was queued ({size} bytes, SHA-256 {sha}; queued: {} bytes, {})",
            f.local.display(),
            f.size,
            f.sha256
        )));
    }
    put_verified(r, &f.local, &f.remote, f.size, &f.sha256)
}

/// Runs `op` up to `cfg.attempts` times with backoff while it fails transiently; calls
/// `failed` after each failure (to record it).
fn with_retries<T>(
    cfg: &UploadConfig,
    mut op: impl FnMut() -> Result<T, UploadError>,
    mut failed: impl FnMut(&UploadError, Duration),
) -> Result<T, UploadError> {
    let mut wait = cfg.backoff;
    let mut tries = 0;
    loop {
        tries += 1;
        match op() {
            Ok(v) => return Ok(v),
            Err(e) => {
                failed(&e, wait);
                if !e.is_transient() || tries >= cfg.attempts.max(1) {
                    return Err(e);
                }
                tracing::warn!(error = %e, retry_in = ?wait, "upload: transient error, retrying");
                std::thread::sleep(wait);
                wait = (wait * 2).min(cfg.max_backoff.max(cfg.backoff));
            }
        }
    }
}

/// Renders a template: `{key}` → value.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut s = template.to_string();
    for (k, v) in vars {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

/// Writes a batch's confirmations; a directory already gone (its data deleted) is skipped.
fn confirm_batch(b: &Batch) -> Result<(), UploadError> {
    for (dir, names) in &b.confirm {
        match confirm::add(dir, names) {
            Ok(()) => {}
            Err(e) if !dir.exists() => {
                tracing::warn!(dir = %dir.display(), error = %e, "upload: nothing left to confirm there");
            }
            Err(e) => {
                return Err(UploadError::transient(format!(
                    "writing the confirmation in {}: {e}",
                    dir.display()
                )))
            }
        }
    }
    Ok(())
}

fn finish(
    q: &Queue,
    r: &mut dyn Remote,
    b: &Batch,
    cfg: &UploadConfig,
    station: &Station,
    rep: &mut Report,
) -> Result<(), UploadError> {
    if !b.trigger.is_empty() {
        let t = unix_now_ns().div_euclid(1_000_000_000);
        let (y, mo, d, h, mi, _) = flow_framework::tag::civil_from_unix(t);
        let now = format!("{y:04}-{mo:02}-{d:02}T{h:02}-{mi:02}");
        let trigger = render(
            &b.trigger,
            &[
                ("now", &now),
                ("station", &station.uuid),
                ("instrument", &station.instrument),
            ],
        );
        with_retries(cfg, || r.mkdir_all(&trigger), |_, _| {})?;
    }
    confirm_batch(b)?;
    q.finish_batch(b.id, "done", "", unix_now_ns())
        .map_err(db)?;
    tracing::info!(batch = %b.name, "upload: every file verified; local data confirmed");
    rep.done.push(b.name.clone());
    Ok(())
}

/// One pass over the queue.
pub fn process(q: &Queue, r: &mut dyn Remote, cfg: &UploadConfig, station: &Station) -> Report {
    let mut rep = Report::default();
    let batches = match q.batches() {
        Ok(b) => b,
        Err(e) => {
            rep.permanent.push(format!("upload queue: {e}"));
            return rep;
        }
    };
    for b in batches.iter().filter(|b| b.state == "pending") {
        let files = match q.files(b.id) {
            Ok(f) => f,
            Err(e) => {
                rep.transient.push(format!("upload queue: {e}"));
                continue;
            }
        };
        let mut ok = true;
        for f in files.iter().filter(|f| f.state == "pending") {
            let res = with_retries(
                cfg,
                || try_file(r, f),
                |e, wait| {
                    let next = unix_now_ns() + wait.as_nanos() as i64;
                    if let Err(x) = q.attempt_failed(f.id, &e.message, !e.is_transient(), next) {
                        tracing::error!(error = %x, "upload queue");
                    }
                },
            );
            match res {
                Ok(already) => {
                    if let Err(e) = q.verified(f.id, unix_now_ns()) {
                        rep.transient.push(format!("upload queue: {e}"));
                        ok = false;
                        continue;
                    }
                    if already {
                        rep.already += 1;
                    } else {
                        rep.uploaded += 1;
                    }
                    tracing::info!(file = %f.local.display(), to = %f.remote, already, "upload: verified");
                }
                Err(e) => {
                    ok = false;
                    let m = format!("{} → {}: {e}", f.local.display(), f.remote);
                    if e.is_transient() {
                        tracing::warn!("upload: left for the next run: {m}");
                        rep.transient.push(m);
                    } else {
                        tracing::error!("upload failed: {m}");
                        rep.permanent.push(m);
                    }
                }
            }
        }
        let all_verified = q
            .files(b.id)
            .map(|fs| fs.iter().all(|f| f.state == "verified"))
            .unwrap_or(false);
        if ok && all_verified {
            if let Err(e) = finish(q, r, b, cfg, station, &mut rep) {
                let m = format!("batch {}: {e}", b.name);
                if e.is_transient() {
                    rep.transient.push(m);
                } else {
                    let _ = q.finish_batch(b.id, "failed", &e.message, unix_now_ns());
                    rep.permanent.push(m);
                }
            }
        } else if q
            .files(b.id)
            .is_ok_and(|fs| fs.iter().any(|f| f.state == "failed"))
        {
            let _ = q.finish_batch(b.id, "failed", "a file failed permanently", unix_now_ns());
        }
    }
    rep
}
