//! Optional background compression of finished minutes (`compress = "zstd"`): a minute's
//! `<minute>.bin` becomes `<minute>.bin.zst` once it is finalized, on a thread of its own at
//! low priority, so the recorder never waits for it.
//!
//! Crash safety comes from the order of the steps: the compressed copy is written to
//! `.bin.zst.tmp`, synced and renamed; then the sidecar is republished with `data_file` and
//! `compression`; only then is the `.bin` removed. The `.bin` is never changed after its
//! minute is finalized, so whenever both files exist both are whole, and [`settle`] (at
//! start-up) finishes the job. A minute the stream comes back to is first [`restore`]d to a
//! plain `.bin`, and [`Compressor::claim`] keeps the thread off a minute being reopened.

use std::collections::VecDeque;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use flow_framework::prelude::Counter;

use super::minute_file::MinutePaths;
use super::recovery::day_dirs;
use super::sidecar::Sidecar;
use crate::util::atomic::{publish, sync_dir};

/// The compressed data file of a minute: `<minute>.bin.zst`.
pub fn zst_path(bin: &Path) -> PathBuf {
    let mut name = bin.as_os_str().to_owned();
    name.push(".zst");
    PathBuf::from(name)
}

fn tmp_path(bin: &Path) -> PathBuf {
    let mut name = zst_path(bin).into_os_string();
    name.push(".tmp");
    PathBuf::from(name)
}

/// What compressing one minute did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Compressed: bytes before and after.
    Compressed(u64, u64),
    /// The minute was gone (a storage limit deleted it meanwhile): nothing to do.
    Gone,
}

/// Compresses one finished minute at zstd `level` (the steps and their order: see the
/// module documentation).
pub fn compress_minute(paths: &MinutePaths, level: i32) -> io::Result<Outcome> {
    let raw = match fs::read(&paths.bin) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Outcome::Gone),
        Err(e) => return Err(e),
    };
    let packed = zstd::bulk::compress(&raw, level)?;
    let (tmp, zst) = (tmp_path(&paths.bin), zst_path(&paths.bin));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&packed)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &zst)?;
    sync_dir(&paths.dir)?;
    match mark_sidecar(paths, Some("zstd")) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Deleted while we worked: leave nothing of it behind.
            let _ = fs::remove_file(&zst);
            return Ok(Outcome::Gone);
        }
        Err(e) => return Err(e),
    }
    fs::remove_file(&paths.bin)?;
    sync_dir(&paths.dir)?;
    Ok(Outcome::Compressed(raw.len() as u64, packed.len() as u64))
}

/// Republishes the minute's sidecar naming its data file (`.bin` or `.bin.zst`).
fn mark_sidecar(paths: &MinutePaths, compression: Option<&str>) -> io::Result<()> {
    let bytes = fs::read(&paths.json)?;
    let mut s: Sidecar = serde_json::from_slice(&bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", paths.json.display()),
        )
    })?;
    let bin_name = paths
        .bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    s.data_file = match compression {
        Some(_) => format!("{bin_name}.zst"),
        None => bin_name,
    };
    s.compression = compression.map(str::to_string);
    publish(&paths.json, &s.to_json())
}

/// Makes a minute a plain `.bin` again before it is written: a compressed one is
/// decompressed (a stream that came back to it, or a restart within it). Returns true when
/// it decompressed.
pub fn restore(paths: &MinutePaths) -> io::Result<bool> {
    let zst = zst_path(&paths.bin);
    let _ = fs::remove_file(tmp_path(&paths.bin));
    if !zst.exists() {
        return Ok(false);
    }
    if paths.bin.exists() {
        // Both whole (the .bin is never changed once finalized): the .bin stays.
        fs::remove_file(&zst)?;
    } else {
        let packed = fs::read(&zst)?;
        let raw = zstd::stream::decode_all(&packed[..])?;
        let tmp = paths.bin.with_extension("bin.tmp");
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&raw)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &paths.bin)?;
        sync_dir(&paths.dir)?;
        fs::remove_file(&zst)?;
    }
    sync_dir(&paths.dir)?;
    if paths.json.exists() {
        mark_sidecar(paths, None)?;
    }
    Ok(true)
}

/// At start-up, for one finished minute (no journal): finishes a compression a stop or
/// crash interrupted. Returns true when the minute still needs compressing (only a `.bin`).
pub fn settle(paths: &MinutePaths) -> io::Result<bool> {
    let _ = fs::remove_file(tmp_path(&paths.bin));
    let zst = zst_path(&paths.bin);
    match (paths.bin.exists(), zst.exists()) {
        (true, true) => {
            mark_sidecar(paths, Some("zstd"))?;
            fs::remove_file(&paths.bin)?;
            sync_dir(&paths.dir)?;
            Ok(false)
        }
        (true, false) => Ok(true),
        _ => Ok(false),
    }
}

/// The finished minutes of `channel_dir` still to compress (oldest first), after settling
/// the ones a stop or crash interrupted. Minutes with a journal (open, or awaiting recovery)
/// are left alone.
pub fn backlog(channel_dir: &Path) -> io::Result<Vec<MinutePaths>> {
    let mut out = Vec::new();
    for day in day_dirs(channel_dir)? {
        let mut minutes: Vec<i64> = fs::read_dir(&day)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name();
                let stem = name.to_str()?.strip_suffix(".json")?;
                let secs: i64 = stem.parse().ok()?;
                (secs % 60 == 0).then_some(secs / 60)
            })
            .collect();
        minutes.sort_unstable();
        for minute in minutes {
            let paths = MinutePaths::new(channel_dir, minute);
            if !paths.journal.exists() && settle(&paths)? {
                out.push(paths);
            }
        }
    }
    Ok(out)
}

/// Counters the compression thread keeps.
#[derive(Clone, Default)]
pub struct CompressCounters {
    /// Minutes compressed.
    pub compressed: Counter,
    /// Bytes saved (raw − compressed).
    pub saved: Counter,
    /// Minutes that failed to compress (left uncompressed, and logged).
    pub errors: Counter,
}

#[derive(Default)]
struct State {
    queue: VecDeque<MinutePaths>,
    busy: Option<PathBuf>,
    /// Exit after the minute in hand.
    stop: bool,
    /// Exit once the queue is empty.
    drain: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The background compression thread of one channel.
pub struct Compressor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Compressor {
    /// Starts the thread (named after `channel`) compressing at `level`.
    pub fn start(channel: &str, level: i32, counters: CompressCounters) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let s = shared.clone();
        let channel = channel.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("zstd {channel}"))
            .spawn(move || {
                // Below the recorder: compression waits, recording does not.
                // SAFETY: nice() has no preconditions; it changes this thread's priority.
                unsafe {
                    libc::nice(10);
                }
                run(&s, &channel, level, &counters);
            })?;
        Ok(Compressor {
            shared,
            thread: Some(thread),
        })
    }

    /// Queues a finished minute.
    pub fn submit(&self, paths: MinutePaths) {
        self.shared.lock().queue.push_back(paths);
        self.shared.changed.notify_all();
    }

    /// Takes minute `bin` back before it is reopened: it leaves the queue, and if the
    /// thread is compressing it now, this waits until it is done.
    pub fn claim(&self, bin: &Path) {
        let mut st = self.shared.lock();
        st.queue.retain(|p| p.bin != bin);
        while st.busy.as_deref() == Some(bin) {
            st = self
                .shared
                .changed
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Compresses what is queued (at a stop: normally the minutes just finalized), then
    /// ends the thread.
    pub fn finish(mut self) {
        self.shared.lock().drain = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Compressor {
    /// Stops after the minute in hand; the rest are compressed at the next start.
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(shared: &Shared, channel: &str, level: i32, counters: &CompressCounters) {
    loop {
        let paths = {
            let mut st = shared.lock();
            loop {
                if st.stop {
                    return;
                }
                if let Some(p) = st.queue.pop_front() {
                    st.busy = Some(p.bin.clone());
                    break p;
                }
                if st.drain {
                    return;
                }
                st = shared.changed.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        };
        match compress_minute(&paths, level) {
            Ok(Outcome::Compressed(raw, packed)) => {
                counters.compressed.inc();
                counters.saved.add(raw.saturating_sub(packed));
            }
            Ok(Outcome::Gone) => {}
            Err(e) => {
                counters.errors.inc();
                let _ = fs::remove_file(tmp_path(&paths.bin));
                tracing::warn!(
                    channel,
                    file = %paths.bin.display(),
                    "compressing a minute failed (it stays uncompressed): {e}"
                );
            }
        }
        shared.lock().busy = None;
        shared.changed.notify_all();
    }
}

#[cfg(test)]
#[path = "compress_tests.rs"]
mod tests;
