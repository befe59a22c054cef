//! `message_sink`: writes messages as JSON lines to a file or to standard output, optionally
//! rotated by time or size into `<stem>-<UTC stamp><ext>` files kept within storage limits.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flow_framework::metrics::{unix_now_ns, BlockMetrics};
use flow_framework::prelude::*;

use crate::util::fsync::{FsyncPolicy, SyncClock};
use crate::util::retention::rotate::Rotator;
use crate::util::retention::{ByteSize, Limits, Retention};

/// Parameters of `message_sink`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageSinkParams {
    /// File to append JSON lines to (missing parent directories are created); standard
    /// output when absent.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// When to force data to disk: `always`, `never` (at close only) or an interval.
    #[serde(default)]
    pub fsync: FsyncPolicy,
    /// Start a new file every period (aligned to UTC: `"1d"` gives one file per day); the
    /// files are `<stem>-<UTC stamp><ext>` beside `path`.
    #[serde(default, with = "crate::util::duration::opt_text")]
    #[schemars(with = "Option<String>")]
    pub rotate_every: Option<Duration>,
    /// Start a new file before this size would be passed.
    #[serde(default)]
    pub rotate_bytes: Option<ByteSize>,
    /// Storage limits (`{ max_bytes, max_age, min_free, require_confirmation, on_full }`):
    /// finished rotated files are deleted oldest first; without rotation `max_bytes` stops
    /// the sink when its file reaches it.
    #[serde(default)]
    pub limits: Option<Limits>,
}

/// Appends one JSON object per message.
pub struct MessageSink {
    p: MessageSinkParams,
    out: Option<BufWriter<File>>,
    path: PathBuf,
    clock: SyncClock,
    count: Counter,
    refused: Counter,
    metrics: Option<Arc<BlockMetrics>>,
    line: Vec<u8>,
    rotator: Option<Rotator>,
    retention: Option<Retention>,
}

impl MessageSink {
    /// Opens the file (or the rotation's current file) for appending.
    fn open(&mut self, base: &Path, torn: &Counter) -> Result<(), BlockError> {
        let path = match self.rotator.as_mut().filter(|r| r.enabled()) {
            Some(r) => r.open_path(unix_now_ns().div_euclid(1_000_000), true),
            None => base.to_path_buf(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| BlockError::io(format!("creating {}", dir.display()), e))?;
        }
        let f = OpenOptions::new()
            .read(true)
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| BlockError::io(format!("opening {}", path.display()), e))?;
        cut_torn_line(&f, &path, torn)?;
        if let Some(r) = self.retention.as_mut() {
            r.begin(&path);
        }
        self.out = Some(BufWriter::new(f));
        self.path = path;
        Ok(())
    }

    /// Makes room for `line` (rotating, asking the limits); false: drop it.
    fn room_for(&mut self, len: u64) -> Result<bool, BlockError> {
        // No new file while a limit stops the sink.
        if !self.retention.as_mut().is_none_or(|r| r.room(len)) {
            self.drop_one();
            return Ok(false);
        }
        let now = unix_now_ns().div_euclid(1_000_000_000);
        if self.rotator.as_ref().is_some_and(|r| r.due(now, len)) {
            self.flush(true)?;
            self.out = None;
            if let Some(r) = self.retention.as_mut() {
                r.finished(&self.path);
            }
            let base = self.p.path.clone().unwrap_or_default();
            self.open(&base, &Counter::default())?;
        }
        let Some(r) = self.retention.as_mut() else {
            return Ok(true);
        };
        if r.admit(&self.path, len) {
            if let Some(rot) = self.rotator.as_mut() {
                rot.wrote(len);
            }
            Ok(true)
        } else {
            self.drop_one();
            Ok(false)
        }
    }

    fn drop_one(&self) {
        self.refused.inc();
        if let Some(m) = &self.metrics {
            m.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn flush(&mut self, sync: bool) -> Result<(), BlockError> {
        let path = self.path.clone();
        if let Some(w) = self.out.as_mut() {
            w.flush()
                .map_err(|e| BlockError::io(format!("writing {}", path.display()), e))?;
            if sync {
                w.get_ref()
                    .sync_data()
                    .map_err(|e| BlockError::io(format!("syncing {}", path.display()), e))?;
                self.clock.synced();
            }
        } else {
            std::io::stdout()
                .flush()
                .map_err(|e| BlockError::io("writing standard output", e))?;
        }
        Ok(())
    }
}

/// Cuts a last line without its newline (left by a kill during a write), so the next line
/// starts on a line of its own and every line of the file parses.
fn cut_torn_line(f: &File, path: &std::path::Path, torn: &Counter) -> Result<(), BlockError> {
    use std::io::{Read, Seek, SeekFrom};
    let meta = f
        .metadata()
        .map_err(|e| BlockError::io(format!("reading {}", path.display()), e))?;
    if !meta.is_file() || meta.len() == 0 {
        return Ok(());
    }
    let mut r = f;
    let mut tail = Vec::new();
    let mut start = meta.len();
    // Look back in growing steps for the last newline.
    while start > 0 {
        start = start.saturating_sub(64 * 1024);
        tail.clear();
        r.seek(SeekFrom::Start(start))
            .and_then(|_| r.take(meta.len() - start).read_to_end(&mut tail))
            .map_err(|e| BlockError::io(format!("reading {}", path.display()), e))?;
        if tail.last() == Some(&b'\n') {
            return Ok(());
        }
        if let Some(nl) = tail.iter().rposition(|b| *b == b'\n') {
            let keep = start + nl as u64 + 1;
            return cut(f, path, torn, meta.len(), keep);
        }
    }
    cut(f, path, torn, meta.len(), 0)
}

fn cut(
    f: &File,
    path: &std::path::Path,
    torn: &Counter,
    len: u64,
    keep: u64,
) -> Result<(), BlockError> {
    f.set_len(keep)
        .map_err(|e| BlockError::io(format!("cutting a torn line from {}", path.display()), e))?;
    torn.add(len - keep);
    tracing::warn!(path = %path.display(), bytes = len - keep, "cut a torn line left by an unclean stop");
    Ok(())
}

impl Block for MessageSink {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        if let Some(path) = self.p.path.clone() {
            if let Some(r) = self.retention.as_mut() {
                r.start(ctx).map_err(|e| {
                    BlockError::io(format!("scanning beside {}", path.display()), e)
                })?;
            }
            self.open(&path, &ctx.counter("torn_bytes"))?;
        }
        self.count = ctx.counter("messages");
        self.clock.count_into(ctx.counter("fsyncs"));
        self.refused = ctx.counter("limit_dropped");
        self.metrics = Some(ctx.metrics().clone());
        Ok(())
    }

    fn wake_at(&self) -> Option<std::time::Instant> {
        // Standard output is not ours to sync.
        self.out.as_ref().and(self.clock.deadline())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let mut wrote = false;
        if self.out.is_some() && self.clock.due() {
            // Lines older than the fsync interval, with nothing written since.
            self.flush(true)?;
        }
        if let Some(r) = self.retention.as_mut() {
            r.poll();
        }
        while let Some(m) = io.msg_in[0].recv() {
            self.line.clear();
            serde_json::to_writer(&mut self.line, &m.to_json())
                .map_err(|e| BlockError::data(format!("encoding a message: {e}")))?;
            self.line.push(b'\n');
            if !self.room_for(self.line.len() as u64)? {
                continue;
            }
            match self.out.as_mut() {
                Some(w) => w.write_all(&self.line),
                None => std::io::stdout().lock().write_all(&self.line),
            }
            .map_err(|e| BlockError::io("writing a message", e))?;
            self.count.inc();
            wrote = true;
        }
        if wrote {
            let sync = self.clock.wrote();
            self.flush(sync)?;
        }
        Ok(Flow::Continue)
    }

    fn stop(&mut self, _: &mut WorkIo) -> Result<(), BlockError> {
        self.flush(self.out.is_some())?;
        if let Some(r) = self.retention.as_mut() {
            r.finished(&self.path);
        }
        Ok(())
    }
}

/// Registration of `message_sink`.
pub struct MessageSinkDef;

impl BlockDef for MessageSinkDef {
    type Params = MessageSinkParams;
    const NAME: &'static str = "message_sink";
    const SUMMARY: &'static str = "Writes messages as JSON lines to a file or standard output.";
    const DOC: &'static str = "Message input `in`. Each message becomes one JSON object \
        `{\"kind\": ..., <fields>}` on its own line, appended to `path` (or printed). Lines are \
        flushed to the kernel after every batch; `fsync` bounds what a power loss can take. A torn \
        last line left by a kill is cut when the file is opened again (`torn_bytes`).\n\n\
        Rotation and limits (with `path`): `rotate_every` (UTC-aligned) and/or `rotate_bytes` \
        write `<stem>-<YYYYMMDDTHHMMSSZ><ext>` files beside `path`; `limits` delete finished \
        files oldest first (only confirmed ones with `require_confirmation`), never the file \
        being written, so without rotation `max_bytes` stops the sink (messages dropped and \
        counted in `limit_dropped`, health failed). Counters: messages, torn_bytes, \
        fsyncs, limit_dropped, stored_bytes, evicted, evicted_bytes, evicted_unconfirmed, storage_stops.";
    const EXAMPLE: &'static str = "path = \"detections.jsonl\"\nfsync = \"1s\"";

    fn signature(_: &MessageSinkParams) -> Signature {
        Signature::new().message_input("in").blocking()
    }

    fn validate(p: &MessageSinkParams) -> Vec<ParamError> {
        let mut errs = p.limits.as_ref().map(Limits::check).unwrap_or_default();
        let rotates = p.rotate_every.is_some() || p.rotate_bytes.is_some();
        if p.path.is_none() && (rotates || p.limits.is_some()) {
            errs.push(ParamError::new(
                "path",
                "rotation and limits need a file: set `path`",
            ));
        }
        errs
    }

    fn plan(p: &MessageSinkParams, _: &PlanInputs) -> PlanInfo {
        // Message rates are not known from the flowgraph: only the limit is reported.
        let storage = p.path.as_ref().map(|path| Storage {
            path: path.clone(),
            bytes_per_second: 0.0,
            limit_bytes: p.limits.as_ref().and_then(|l| l.max_bytes).map(|b| b.0),
        });
        PlanInfo {
            storage: storage.into_iter().collect(),
            ..PlanInfo::default()
        }
    }

    fn build(p: &MessageSinkParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let rotator = p
            .path
            .as_ref()
            .map(|path| Rotator::new(path, p.rotate_every, p.rotate_bytes.map(|b| b.0)));
        Ok(Box::new(MessageSink {
            p: p.clone(),
            out: None,
            path: p.path.clone().unwrap_or_default(),
            clock: SyncClock::new(p.fsync),
            count: Counter::default(),
            refused: Counter::default(),
            metrics: None,
            line: Vec::new(),
            retention: rotator
                .as_ref()
                .map(|r| Retention::new(p.limits.clone(), Box::new(r.layout()))),
            rotator,
        }))
    }
}

register_block!(MessageSinkDef);

#[cfg(test)]
#[path = "message_sink_tests.rs"]
mod tests;
