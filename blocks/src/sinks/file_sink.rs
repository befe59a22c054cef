//! `file_sink`: writes a stream to a raw file of items (GNU Radio / numpy compatible),
//! optionally rotated by time or size into `<stem>-<UTC stamp><ext>` files kept within
//! storage limits.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flow_framework::metrics::{unix_now_ns, BlockMetrics};
use flow_framework::prelude::*;

use crate::util::fsync::{FsyncPolicy, SyncClock};
use crate::util::retention::rotate::Rotator;
use crate::util::retention::{ByteSize, Limits, Retention};

/// What `file_sink` does with an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileMode {
    /// Truncate it.
    #[default]
    Overwrite,
    /// Append to it.
    Append,
    /// Refuse to start if it exists.
    CreateNew,
}

/// Parameters of `file_sink`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSinkParams {
    /// File to write (missing parent directories are created). With rotation, the files
    /// are `<stem>-<UTC stamp><ext>` beside it.
    pub path: PathBuf,
    /// What to do when the file exists at start. After a restart (`on_error = "restart"`)
    /// the sink always appends, so nothing written before the error is lost. With
    /// rotation, `append` continues the current period's file and the other modes start a
    /// new file (`-N` suffix): a rotated file is never overwritten.
    #[serde(default)]
    pub mode: FileMode,
    /// When to force data to disk: `always`, `never` (at close only) or an interval.
    #[serde(default)]
    pub fsync: FsyncPolicy,
    /// Start a new file every period (aligned to UTC: `"1d"` gives one file per day).
    #[serde(default, with = "crate::util::duration::opt_text")]
    #[schemars(with = "Option<String>")]
    pub rotate_every: Option<Duration>,
    /// Start a new file before this size would be passed.
    #[serde(default)]
    pub rotate_bytes: Option<ByteSize>,
    /// Storage limits (`{ max_bytes, max_age, min_free, require_confirmation, on_full }`):
    /// finished rotated files are deleted oldest first; the file being written never is, so
    /// without rotation `max_bytes` stops the sink when the file reaches it.
    #[serde(default)]
    pub limits: Option<Limits>,
}

/// Writes items to a file.
pub struct FileSink {
    p: FileSinkParams,
    path: PathBuf,
    file: Option<File>,
    clock: SyncClock,
    bytes: Counter,
    refused: Counter,
    metrics: Option<Arc<BlockMetrics>>,
    item_size: u64,
    /// File length after the last whole write.
    written: u64,
    rotator: Rotator,
    retention: Retention,
}

fn now_ms() -> i64 {
    unix_now_ns().div_euclid(1_000_000)
}

impl FileSink {
    fn sync(&mut self) -> Result<(), BlockError> {
        if let Some(f) = &self.file {
            f.sync_data()
                .map_err(|e| BlockError::io(format!("syncing {}", self.path.display()), e))?;
        }
        self.clock.synced();
        Ok(())
    }

    /// Opens the file to write (the configured path, or the rotation's current file).
    fn open(&mut self, ctx_torn: &Counter, append: bool) -> Result<(), BlockError> {
        let mut o = OpenOptions::new();
        o.write(true);
        let path = if self.rotator.enabled() {
            o.append(true).create(true);
            self.rotator.open_path(now_ms(), append)
        } else {
            match (self.p.mode, append) {
                (FileMode::Append, _) | (_, true) => o.append(true).create(true),
                (FileMode::Overwrite, false) => o.truncate(true).create(true),
                (FileMode::CreateNew, false) => o.create_new(true),
            };
            self.p.path.clone()
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| BlockError::io(format!("creating {}", dir.display()), e))?;
        }
        let f = o
            .open(&path)
            .map_err(|e| BlockError::io(format!("opening {}", path.display()), e))?;
        cut_torn(&f, &path, self.item_size, ctx_torn)?;
        self.written = f.metadata().map_or(0, |m| m.len());
        self.file = Some(f);
        self.path = path;
        self.retention.begin(&self.path);
        Ok(())
    }

    /// Closes the current file and starts the next one.
    fn rotate(&mut self) -> Result<(), BlockError> {
        self.sync()?;
        self.file = None;
        self.retention.finished(&self.path);
        // Never the file just closed: a fresh name if the period's is taken.
        self.open(&Counter::default(), false)
    }
}

/// After a kill -9 the last item may be torn; appending after it would shift every later
/// item, so it is cut back to whole items first.
fn cut_torn(f: &File, path: &Path, item_size: u64, torn: &Counter) -> Result<(), BlockError> {
    if let Ok(len) = f.metadata().map(|m| m.len()) {
        let cut = len % item_size.max(1);
        if cut > 0 && f.metadata().is_ok_and(|m| m.is_file()) {
            f.set_len(len - cut).map_err(|e| {
                BlockError::io(format!("cutting a torn item from {}", path.display()), e)
            })?;
            torn.add(cut);
            tracing::warn!(path = %path.display(), bytes = cut, "cut a torn item left by an unclean stop");
        }
    }
    Ok(())
}

impl Block for FileSink {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        let restarted = ctx
            .metrics()
            .restarts
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0;
        self.retention
            .start(ctx)
            .map_err(|e| BlockError::io(format!("scanning beside {}", self.p.path.display()), e))?;
        let append = restarted || self.p.mode == FileMode::Append;
        self.open(&ctx.counter("torn_bytes"), append)?;
        self.bytes = ctx.counter("bytes");
        self.clock.count_into(ctx.counter("fsyncs"));
        self.refused = ctx.counter("limit_dropped");
        self.metrics = Some(ctx.metrics().clone());
        Ok(())
    }

    fn wake_at(&self) -> Option<std::time::Instant> {
        self.clock.deadline()
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        if self.clock.due() {
            // Data older than the fsync interval, with nothing written since.
            self.sync()?;
        }
        let input = &mut io.inputs[0];
        let n = input.len();
        if n == 0 {
            // Called for the fsync deadline alone: no rotation or limit check without data.
            return Ok(Flow::Continue);
        }
        let bytes = dispatch_item_type!(input.item_type(), T => bytemuck::cast_slice::<T, u8>(input.slice::<T>()));
        let len = bytes.len() as u64;
        self.retention.poll();
        // No new file while a limit stops the sink.
        let room = self.retention.room(len);
        if room && self.rotator.due(now_ms().div_euclid(1000), len) {
            self.rotate()?;
        }
        if !room || !self.retention.admit(&self.path, len) {
            self.refused.add(n as u64);
            if let Some(m) = &self.metrics {
                m.dropped
                    .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            }
            input.consume(n);
            return Ok(Flow::Continue);
        }
        if let Some(f) = self.file.as_mut() {
            if let Err(e) = f.write_all(bytes) {
                // The items of this call are not consumed and will be written again (after a
                // restart): take back what part of them did reach the file.
                if f.metadata().is_ok_and(|m| m.is_file()) {
                    let _ = f.set_len(self.written);
                }
                return Err(BlockError::io(
                    format!("writing {}", self.path.display()),
                    e,
                ));
            }
            self.written += len;
        }
        self.rotator.wrote(len);
        self.bytes.add(len);
        input.consume(n);
        if self.clock.wrote() {
            self.sync()?;
        }
        Ok(Flow::Continue)
    }

    fn stop(&mut self, _: &mut WorkIo) -> Result<(), BlockError> {
        self.sync()?;
        self.file = None;
        self.retention.finished(&self.path);
        Ok(())
    }
}

/// Registration of `file_sink`.
pub struct FileSinkDef;

impl BlockDef for FileSinkDef {
    type Params = FileSinkParams;
    const NAME: &'static str = "file_sink";
    const SUMMARY: &'static str =
        "Writes a stream to a raw file of items (numpy/GNU Radio compatible).";
    const DOC: &'static str = "Input `in` (T). Appends items to `path` as raw little-endian data \
        with no header, readable with `numpy.fromfile(path, dtype)` or GNU Radio's file source. \
        Durability: every item consumed has been handed to the kernel (survives kill -9); `fsync` \
        bounds what a power loss can take (see docs/durability.md). On stop the file is synced. \
        When appending, a torn last item (left by a kill during a write) is cut first (`torn_bytes`).\n\n\
        Rotation: with `rotate_every` (UTC-aligned periods) and/or `rotate_bytes` the items go to \
        `<stem>-<YYYYMMDDTHHMMSSZ><ext>` beside `path`, a new file per period or size. Storage \
        `limits` delete finished files oldest first (with `require_confirmation`, only files \
        listed in the directory's `.confirmed`); the file being written is never deleted, so \
        without rotation `max_bytes` stops the sink when the file reaches it. While stopped by a \
        limit, items are dropped and counted (`limit_dropped`, health failed). Counters: bytes, \
        torn_bytes, fsyncs, limit_dropped, stored_bytes, evicted, evicted_bytes, evicted_unconfirmed, \
        storage_stops.";
    const EXAMPLE: &'static str = "path = \"out.c32\"\nmode = \"overwrite\"\nfsync = \"1s\"";

    fn signature(_: &FileSinkParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .blocking()
            .manual_tags()
    }

    fn validate(p: &FileSinkParams) -> Vec<ParamError> {
        p.limits.as_ref().map(Limits::check).unwrap_or_default()
    }

    fn plan(p: &FileSinkParams, inputs: &PlanInputs) -> PlanInfo {
        let size = inputs.types.first().map_or(0, |t| t.size()) as f64;
        let storage = inputs.first_rate().map(|r| Storage {
            path: p.path.clone(),
            bytes_per_second: r * size,
            limit_bytes: p.limits.as_ref().and_then(|l| l.max_bytes).map(|b| b.0),
        });
        PlanInfo {
            storage: storage.into_iter().collect(),
            ..PlanInfo::default()
        }
    }

    fn build(p: &FileSinkParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let rotator = Rotator::new(&p.path, p.rotate_every, p.rotate_bytes.map(|b| b.0));
        Ok(Box::new(FileSink {
            p: p.clone(),
            path: p.path.clone(),
            file: None,
            clock: SyncClock::new(p.fsync),
            bytes: Counter::default(),
            refused: Counter::default(),
            metrics: None,
            item_size: ctx.generic_type().map_or(1, |t| t.size() as u64),
            written: 0,
            retention: Retention::new(p.limits.clone(), Box::new(rotator.layout())),
            rotator,
        }))
    }
}

register_block!(FileSinkDef);

#[cfg(test)]
#[path = "file_sink_tests.rs"]
mod tests;
