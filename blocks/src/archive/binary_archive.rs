//! `binary_archive`: records a `c32` stream as seed 000's minute files
//! (`<dir>/<CHANNEL>/<YYYYMMDD>/<minute_unix>.bin`, raw complex64 little-endian) with JSON
//! sidecars and SigMF metadata, placing every sample by its time and sample index.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use flow_framework::log::RateLimited;
use flow_framework::metrics::unix_now_ns;
use flow_framework::prelude::*;

pub use super::binary_archive_params::{validate, BinaryArchiveParams, Compression};
use super::compress::{self, CompressCounters, Compressor};
use super::minute_file::{MinuteFile, MinutePaths};
use super::placement::{split, Anchor};
use super::recovery::recover;
use super::retention::MinuteLayout;
use super::sidecar::MinuteMeta;
use crate::net::rtp_channel::{TAG_GPS_TIME, TAG_RTP_SSRC, TAG_RTP_TIMESTAMP, TAG_TIMESNAP};
use crate::util::fsync::SyncClock;
use crate::util::retention::Retention;

/// Writes minute files.
pub struct BinaryArchive {
    p: BinaryArchiveParams,
    channel_dir: PathBuf,
    meta: MinuteMeta,
    lock: Option<nix::fcntl::Flock<File>>,
    rate: Option<u64>,
    anchor: Option<Anchor>,
    open: BTreeMap<i64, MinuteFile>,
    clock: SyncClock,
    samples: Counter,
    minutes: Counter,
    resumed: Counter,
    recovered: Counter,
    conflicts: Counter,
    refused: Counter,
    dropped: Option<std::sync::Arc<flow_framework::metrics::BlockMetrics>>,
    retention: Retention,
    clock_log: RateLimited,
    /// The background compression of finished minutes (`compress = "zstd"`).
    compressor: Option<Compressor>,
    /// A time tag seen before any rate (ns, sample index, source), applied with the rate.
    early_time: Option<(i64, u64, TimeSource)>,
}

impl BinaryArchive {
    fn rate(&self) -> Result<u64, BlockError> {
        self.rate.ok_or_else(|| {
            BlockError::config("binary_archive: no sample rate: set `sample_rate` or feed a stream with a rate tag")
        })
    }

    fn on_tag(&mut self, tag: &Tag, index: u64) -> Result<(), BlockError> {
        match tag {
            Tag::Rate(r) => {
                if r.fract() != 0.0 || *r < 1.0 {
                    return Err(BlockError::data(format!(
                        "binary_archive needs an integer sample rate (minute files hold 60 × rate samples), got {r}"
                    )));
                }
                if self.rate != Some(*r as u64) {
                    self.finalize_all("complete")?;
                    self.rate = Some(*r as u64);
                    self.anchor = None;
                }
                // A time tag that came before the first rate tag (same position, other
                // order) takes effect now.
                if let Some((ns, at, source)) = self.early_time.take() {
                    let a = Anchor::new(ns, at, *r as u64, source);
                    self.meta.time = Some(a.snapshot.clone());
                    self.anchor = Some(a);
                }
            }
            Tag::Freq(f) => self.meta.frequency_hz = Some(*f),
            Tag::Time { ns, source } if self.rate.is_none() => {
                self.early_time = Some((*ns, index, *source));
            }
            Tag::Time { ns, source } => {
                let a = Anchor::new(*ns, index, self.rate()?, *source);
                self.meta.time = Some(a.snapshot.clone());
                self.anchor = Some(a);
            }
            Tag::User(k, v) => {
                if let Some(t) = self
                    .meta
                    .time
                    .as_mut()
                    .filter(|t| t.anchor_sample_index == index)
                {
                    match (&**k, v) {
                        (TAG_RTP_SSRC, Value::U64(x)) => t.rtp_ssrc = Some(*x),
                        (TAG_RTP_TIMESTAMP, Value::U64(x)) => t.rtp_timestamp = Some(*x),
                        (TAG_GPS_TIME, Value::I64(x)) => t.rtp_gps_time_ns = Some(*x),
                        (TAG_TIMESNAP, Value::U64(x)) => t.rtp_timesnap = Some(*x),
                        _ => {}
                    }
                    if let Some(a) = self.anchor.as_mut() {
                        a.snapshot = t.clone();
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes samples whose first has stream sample index `index` (no gap inside).
    fn write_run(&mut self, index: u64, samples: &[C32]) -> Result<(), BlockError> {
        if samples.is_empty() {
            return Ok(());
        }
        let rate = self.rate()?;
        let anchor = match &self.anchor {
            Some(a) => a,
            None => {
                self.clock_log.warn(
                    "the stream has no time tag: placing samples by the system clock at arrival",
                );
                let a = Anchor::new(unix_now_ns(), index, rate, TimeSource::SystemClock);
                self.meta.time = Some(a.snapshot.clone());
                self.anchor.insert(a)
            }
        };
        let abs = anchor.abs_at(index);
        for (minute, offset, from, n) in split(abs, samples.len(), 60 * rate) {
            // Storage limits: a minute is opened and written only when there is room.
            let bin = match self.open.get(&minute) {
                Some(m) => m.paths.bin.clone(),
                None if self.retention.room(0) => MinutePaths::new(&self.channel_dir, minute).bin,
                None => {
                    self.refuse(n);
                    continue;
                }
            };
            if !self.open.contains_key(&minute) {
                self.retention.begin(&bin);
            }
            if !self.retention.admit(&bin, n as u64 * 8) {
                self.refuse(n);
                if !self.open.contains_key(&minute) {
                    self.retention.abandon(&bin);
                }
                continue;
            }
            let m = match self.open.entry(minute) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    if let Some(c) = &self.compressor {
                        c.claim(&bin);
                    }
                    let (m, r) =
                        MinuteFile::open(&self.channel_dir, minute, rate, self.meta.clone())
                            .map_err(|err| {
                                BlockError::io(
                                    format!(
                                        "opening minute {} in {}",
                                        minute * 60,
                                        self.channel_dir.display()
                                    ),
                                    err,
                                )
                            })?;
                    self.resumed.add(r.resumed);
                    self.recovered.add(u64::from(r.recovered));
                    self.conflicts.add(u64::from(r.moved_aside.is_some()));
                    e.insert(m)
                }
            };
            m.set_meta(self.meta.clone());
            let fresh = m
                .write(offset, &samples[from..from + n])
                .map_err(|e| BlockError::io(format!("writing {}", m.paths.bin.display()), e))?;
            self.samples.add(fresh);
        }
        let end = abs + samples.len() as i128;
        self.retire(end, rate)
    }

    /// Finalizes open minutes the stream (now at grid sample `at`) is no longer near.
    fn retire(&mut self, at: i128, rate: u64) -> Result<(), BlockError> {
        let spm = i128::from(60 * rate);
        let grace = (self.p.finalize_after.as_secs_f64() * rate as f64) as i128;
        let far: Vec<i64> = self
            .open
            .keys()
            .copied()
            .filter(|&m| {
                at >= (i128::from(m) + 1) * spm + grace || at < i128::from(m) * spm - grace
            })
            .collect();
        for m in far {
            self.finalize(m, "complete")?;
        }
        Ok(())
    }

    fn finalize(&mut self, minute: i64, state: &str) -> Result<(), BlockError> {
        if let Some(m) = self.open.remove(&minute) {
            let paths = m.paths.clone();
            let r = m.finalize(state);
            self.retention.finished(&paths.bin);
            r.map_err(|e| BlockError::io(format!("finalizing {}", paths.bin.display()), e))?;
            self.minutes.inc();
            if let Some(c) = &self.compressor {
                c.submit(paths);
            }
        }
        Ok(())
    }

    /// Starts the compression thread and queues the finished minutes still uncompressed
    /// (an earlier run's, or all of them when compression was just turned on).
    fn start_compression(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        let counters = CompressCounters {
            compressed: ctx.counter("compressed"),
            saved: ctx.counter("compressed_bytes_saved"),
            errors: ctx.counter("compress_errors"),
        };
        let c = Compressor::start(&self.meta.channel_name, self.p.compress_level, counters)
            .map_err(|e| BlockError::io("starting the compression thread", e))?;
        let backlog = compress::backlog(&self.channel_dir).map_err(|e| {
            BlockError::io(
                format!(
                    "listing minutes to compress in {}",
                    self.channel_dir.display()
                ),
                e,
            )
        })?;
        for paths in backlog {
            c.submit(paths);
        }
        self.compressor = Some(c);
        Ok(())
    }

    /// Drops `n` samples a storage limit does not let in (counted; they are gaps).
    fn refuse(&mut self, n: usize) {
        self.refused.add(n as u64);
        if let Some(m) = &self.dropped {
            m.dropped
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn finalize_all(&mut self, state: &str) -> Result<(), BlockError> {
        let minutes: Vec<i64> = self.open.keys().copied().collect();
        for m in minutes {
            self.finalize(m, state)?;
        }
        Ok(())
    }

    /// Writes the items of input 0 between its tags, by sample index.
    fn consume_input(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        let input = &mut io.inputs[0];
        let items = input.slice::<C32>();
        let (pos0, n) = (input.position(), items.len());
        let mut done = 0usize;
        for t in input.tags() {
            let at = ((t.position - pos0) as usize).min(n);
            self.write_run(input.sample_index(done), &items[done..at])?;
            done = at;
            self.on_tag(&t.tag, input.sample_index(at))?;
        }
        self.write_run(input.sample_index(done), &items[done..])?;
        input.consume(n);
        self.retention.poll();
        let due = n > 0 && self.clock.wrote();
        for m in self.open.values_mut() {
            let r = if due { m.sync() } else { m.flush() };
            r.map_err(|e| BlockError::io(format!("journaling {}", m.paths.bin.display()), e))?;
        }
        if due {
            self.clock.synced();
        }
        Ok(())
    }
}

impl Block for BinaryArchive {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        fs::create_dir_all(&self.channel_dir)
            .map_err(|e| BlockError::io(format!("creating {}", self.channel_dir.display()), e))?;
        let lock_path = self.channel_dir.join(".lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| BlockError::io(format!("opening {}", lock_path.display()), e))?;
        let mut lock = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|_| {
            BlockError::config(format!(
                "{} is being written by another binary_archive (see the pid in {}); two writers of one channel would conflict",
                self.channel_dir.display(), lock_path.display()
            ))
        })?;
        let _ = lock.set_len(0);
        let _ = writeln!(lock, "{}", std::process::id());
        self.lock = Some(lock);
        self.samples = ctx.counter("samples");
        self.minutes = ctx.counter("minutes");
        self.resumed = ctx.counter("resumed");
        self.recovered = ctx.counter("recovered");
        self.conflicts = ctx.counter("conflicts");
        let done = recover(
            &self.channel_dir,
            self.p.recover_days,
            &self.meta.channel_name,
        )
        .map_err(|e| BlockError::io(format!("recovering {}", self.channel_dir.display()), e))?;
        if !done.is_empty() {
            tracing::info!(
                block = ctx.name(),
                minutes = done.len(),
                "binary_archive: finalized minutes left open by an earlier run"
            );
            self.recovered.add(done.len() as u64);
        }
        if self.p.compress == Compression::Zstd {
            self.start_compression(ctx)?;
        }
        self.refused = ctx.counter("limit_dropped");
        self.dropped = Some(ctx.metrics().clone());
        self.retention
            .start(ctx)
            .map_err(|e| BlockError::io(format!("scanning {}", self.channel_dir.display()), e))?;
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        self.consume_input(io)?;
        Ok(Flow::Continue)
    }

    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        self.consume_input(io)?;
        let r = self.finalize_all("stopped");
        if let Some(c) = self.compressor.take() {
            c.finish();
        }
        r
    }
}

/// Registration of `binary_archive`.
pub struct BinaryArchiveDef;

impl BlockDef for BinaryArchiveDef {
    type Params = BinaryArchiveParams;
    const NAME: &'static str = "binary_archive";
    const SUMMARY: &'static str =
        "Records c32 as minute files of raw complex64 with JSON sidecars and SigMF metadata.";
    const DOC: &'static str = "Input `in` (c32). Writes `<dir>/<channel>/<YYYYMMDD>/<minute_unix>.bin`: \
        one minute of raw complex64 little-endian (`np.memmap(path, np.complex64)`, always 60 × rate \
        samples; missing samples are zero) with `<minute_unix>.json` (seed 000's fields plus the \
        exact gap list, the time snapshot and the state) and `<minute_unix>.sigmf-meta` (cf32_le, \
        one capture with core:datetime and core:frequency, one annotation per gap).\n\n\
        Placement: the stream's `time` tag (from rtp_source: GPS or system clock) maps a sample \
        index to UTC; every sample goes to minute `floor(t)` at offset `round((t − minute)·rate)` \
        by positional writes, so gaps stay zero and reordered or repeated data lands where it \
        belongs. Without a time tag the system clock at arrival is used (warned). `rate` and \
        `freq` tags override `sample_rate` and `frequency_hz`.\n\n\
        Durability (docs/durability.md): each minute has a written-ranges journal while open; its \
        sidecar is published atomically (state `open` at creation, then `complete` once the \
        stream is `finalize_after` past it, `stopped` at stop). A restart resumes an existing \
        minute and finalizes minutes a crashed run left open (`recovered`); files it cannot \
        resume are moved aside, never overwritten. One writer per channel directory (a lock). \
        Counters: samples (new samples on disk), minutes (finalized), resumed, recovered, conflicts.\n\n\
        Storage limits (`limits`, docs/durability.md): whole finished minutes are deleted oldest \
        first to keep `max_bytes`, `max_age` and `min_free`; with `require_confirmation` only \
        minutes listed in their day directory's `.confirmed` (written by `flow daily` after a \
        verified upload). When only unconfirmed minutes are left, `on_full` applies: `stop` \
        (samples are dropped and counted in `limit_dropped`, health failed, until there is room) \
        or `drop_oldest_unconfirmed`. Counters: stored_bytes, evicted, evicted_bytes, \
        evicted_unconfirmed, storage_stops, limit_dropped.\n\n\
        Compression (`compress = \"zstd\"`, off by default): finished minutes become \
        `<minute>.bin.zst` in a background thread at low priority, the sidecar naming the file; \
        `zstd -d` restores the exact `.bin`. Counters: compressed, compressed_bytes_saved, \
        compress_errors.";
    const EXAMPLE: &'static str = "dir = \"grape-data/raw\"\nchannel = \"WWV_10_MHz\"\n\
        channel_name = \"WWV 10 MHz\"\nfsync = \"5s\"";

    fn signature(_: &BinaryArchiveParams) -> Signature {
        Signature::new()
            .input("in", ItemType::C32)
            .blocking()
            .manual_tags()
    }

    fn validate(p: &BinaryArchiveParams) -> Vec<ParamError> {
        validate(p)
    }

    fn plan(p: &BinaryArchiveParams, inputs: &PlanInputs) -> PlanInfo {
        // A minute file always takes 60 × rate complex64 samples (sparse where data is
        // missing), plus its sidecar and SigMF metadata (a few kB).
        let rate = inputs.first_rate().or(p.sample_rate.map(|r| r as f64));
        let storage = rate.map(|r| Storage {
            path: p.channel.as_ref().map_or(p.dir.clone(), |c| p.dir.join(c)),
            bytes_per_second: r * 8.0 + 8192.0 / 60.0,
            limit_bytes: p.limits.as_ref().and_then(|l| l.max_bytes).map(|b| b.0),
        });
        PlanInfo {
            storage: storage.into_iter().collect(),
            ..PlanInfo::default()
        }
    }

    fn build(p: &BinaryArchiveParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let channel = p.channel.clone().unwrap_or_else(|| ctx.name.clone());
        let name = p
            .channel_name
            .clone()
            .unwrap_or_else(|| channel.replace('_', " "));
        Ok(Box::new(BinaryArchive {
            channel_dir: p.dir.join(&channel),
            meta: MinuteMeta {
                channel_name: name,
                frequency_hz: p.frequency_hz,
                time: None,
            },
            p: p.clone(),
            lock: None,
            rate: p.sample_rate,
            anchor: None,
            open: BTreeMap::new(),
            clock: SyncClock::new(p.fsync),
            samples: Counter::default(),
            minutes: Counter::default(),
            resumed: Counter::default(),
            recovered: Counter::default(),
            conflicts: Counter::default(),
            refused: Counter::default(),
            dropped: None,
            retention: Retention::new(
                p.limits.clone(),
                Box::new(MinuteLayout::new(&p.dir.join(&channel))),
            ),
            clock_log: RateLimited::new("binary_archive", Duration::from_secs(60)),
            compressor: None,
            early_time: None,
        }))
    }
}

register_block!(BinaryArchiveDef);

#[cfg(test)]
#[path = "binary_archive_tests.rs"]
mod tests;
