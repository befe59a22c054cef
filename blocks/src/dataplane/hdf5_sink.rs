//! `hdf5_sink` (cargo feature `hdf5`): writes a stream as chunked, extendable HDF5 datasets,
//! or messages as compound tables, in files that rotate by time or size, are readable by
//! h5py while written (SWMR), and survive HDF5 errors by moving on to a fresh file.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use flow_framework::log::RateLimited;
use flow_framework::prelude::*;

use super::h5::faults;
use super::h5::file::{self, OpenFile};
use super::h5::stream::StreamInfo;
use super::ring_buffer::RingInput;
use super::stream_clock::StreamClock;
use crate::util::retention::{Limits, Retention, Rotated};

fn default_prefix() -> String {
    "flow".into()
}
fn default_flush() -> f64 {
    1.0
}
fn default_units() -> String {
    "arbitrary".into()
}
fn default_chunk() -> usize {
    65536
}
fn yes() -> bool {
    true
}

/// Parameters of `hdf5_sink`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hdf5SinkParams {
    /// Directory of the files (`PREFIX-YYYYMMDDTHHMMSSZ.h5`; relative: to the flowgraph's
    /// directory).
    pub dir: PathBuf,
    /// File name prefix.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// `stream` (input `in`, c32 or f32) or `messages` (message input `in`).
    #[serde(default)]
    pub input: RingInput,
    /// Start a new file after this many seconds (none: one file per run).
    #[serde(default)]
    pub rotate_seconds: Option<f64>,
    /// Start a new file once this many bytes of samples or rows are in it.
    #[serde(default)]
    pub rotate_bytes: Option<u64>,
    /// Seconds between flushes (what a kill -9 can lose; what SWMR readers lag).
    #[serde(default = "default_flush")]
    pub flush_seconds: f64,
    /// Units of the sample values (attribute `units`).
    #[serde(default = "default_units")]
    pub units: String,
    /// Rows per HDF5 chunk of the samples dataset.
    #[serde(default = "default_chunk")]
    pub chunk: usize,
    /// Open files in SWMR mode so h5py can read them while they grow.
    #[serde(default = "yes")]
    pub swmr: bool,
    /// Sample rate if the stream carries no `rate` tag.
    #[serde(default)]
    pub sample_rate: Option<f64>,
    /// Storage limits (`{ max_bytes, max_age, min_free, require_confirmation, on_full }`):
    /// finished `.h5` files are deleted oldest first, never the `.part` being written.
    #[serde(default)]
    pub limits: Option<Limits>,
}

/// The `hdf5_sink` block.
pub struct Hdf5Sink {
    p: Hdf5SinkParams,
    name: String,
    file: Option<OpenFile>,
    clock: StreamClock,
    next_index: Option<u64>,
    kinds: Vec<Message>,
    last_flush: Instant,
    c: [Counter; 7],
    warn: RateLimited,
    health: Option<HealthHandle>,
    retention: Retention,
}

const FILES: usize = 0;
const FAILURES: usize = 1;
const LOST: usize = 2;
const ROWS: usize = 3;
const RECOVERED: usize = 4;
const MISFITS: usize = 5;
const REFUSED: usize = 6;

impl Hdf5Sink {
    fn close(&mut self) {
        if let Some(f) = self.file.take() {
            let part = f.part.clone();
            self.retention.abandon(&part);
            match f.finish() {
                Ok(done) => self.retention.finished(&done),
                Err(e) => self.warn.warn(&e),
            }
        }
    }

    /// Asks the storage limits for `bytes` more; false: the rows are dropped (counted).
    fn admit(&mut self, bytes: u64, rows: u64) -> bool {
        self.retention.poll();
        let ok = match self.file.as_ref().map(|f| f.part.clone()) {
            Some(part) if !self.rotation_due() => self.retention.admit(&part, bytes),
            _ => self.retention.room(bytes),
        };
        if !ok {
            self.c[REFUSED].add(rows);
        }
        ok
    }

    fn rotation_due(&self) -> bool {
        let Some(f) = &self.file else { return false };
        let bytes = f.stream.as_ref().map_or(0, |s| s.bytes())
            + f.tables.values().map(|t| t.rows() * 64).sum::<u64>();
        self.p
            .rotate_seconds
            .is_some_and(|s| f.age() >= Duration::from_secs_f64(s))
            || self.p.rotate_bytes.is_some_and(|b| bytes >= b)
    }

    fn open(&mut self, item: Option<ItemType>, index: u64) -> Result<(), String> {
        self.close();
        self.clock.anchor_now_if_unset(index);
        let t = self.clock.time_of(index).unwrap_or_else(file::now_ns);
        let part = file::next_name(&self.p.dir, &self.p.prefix, t);
        let info = item.map(|item| StreamInfo {
            item: Some(item),
            rate: self.clock.rate.unwrap_or(f64::NAN),
            start_time_ns: t,
            start_index: index,
            frequency_hz: self.clock.freq.unwrap_or(f64::NAN),
            units: self.p.units.clone(),
            time_source: self.clock.source.map_or("unknown", |s| s.name()).into(),
            block: self.name.clone(),
        });
        let first: Vec<&Message> = self.kinds.iter().collect();
        let f = OpenFile::create(&part, info.as_ref(), self.p.chunk, &first, self.p.swmr)
            .map_err(|e| format!("creating {}: {e}", part.display()))?;
        self.retention.begin(&part);
        self.file = Some(f);
        self.c[FILES].inc();
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Runs `op` on the open file (opening one if needed); an error closes that file,
    /// counts a failure and tries once more on a fresh file.
    fn attempt(
        &mut self,
        item: Option<ItemType>,
        index: u64,
        op: &mut dyn FnMut(&mut OpenFile, bool) -> Result<(), String>,
    ) -> bool {
        for _ in 0..2 {
            let fresh = self.file.is_none() || self.rotation_due();
            let r = if fresh {
                self.open(item, index)
            } else {
                Ok(())
            };
            let r = r.and_then(|()| {
                let f = self.file.as_mut().ok_or("no file")?;
                faults::before_write(&f.part)?;
                op(f, fresh)
            });
            match r {
                Ok(()) => {
                    if let Some(h) = &self.health {
                        h.ok();
                    }
                    return true;
                }
                Err(e) => {
                    self.c[FAILURES].inc();
                    self.warn.error(&format!(
                        "{e}; closing the file and continuing in a new one"
                    ));
                    if let Some(h) = &self.health {
                        h.degraded(&e);
                    }
                    self.close();
                }
            }
        }
        false
    }

    fn maybe_flush(&mut self, force: bool) {
        if !force && self.last_flush.elapsed() < Duration::from_secs_f64(self.p.flush_seconds) {
            return;
        }
        self.last_flush = Instant::now();
        if let Some(f) = &self.file {
            let part = f.part.clone();
            if let Err(e) = f.file.flush() {
                self.c[FAILURES].inc();
                self.warn.error(&format!("flushing: {e}"));
                self.close();
            } else {
                self.retention.measure(&part, std::slice::from_ref(&part));
            }
        }
    }

    fn stream_work(&mut self, io: &mut WorkIo) {
        let input = &mut io.inputs[0];
        let item = input.item_type();
        let (n, start) = (input.len(), input.position());
        let tags: Vec<(usize, Tag)> = input
            .tags()
            .iter()
            .filter(|t| t.position < start + n as u64)
            .map(|t| ((t.position - start) as usize, t.tag.clone()))
            .collect();
        let (mut k, mut t) = (0, 0);
        while k < n {
            let mut new_segment = false;
            while t < tags.len() && tags[t].0 <= k {
                new_segment |= self.clock.apply(input.sample_index(tags[t].0), &tags[t].1);
                t += 1;
            }
            let end = tags.get(t).map_or(n, |x| x.0).min(n);
            let first = input.sample_index(k);
            new_segment |= self.next_index != Some(first);
            let bytes = dispatch_item_type!(item, T => bytemuck::cast_slice::<T, u8>(&input.slice::<T>()[k..end]));
            self.clock.anchor_now_if_unset(first);
            if !self.admit(bytes.len() as u64, (end - k) as u64) {
                self.next_index = None;
                k = end;
                continue;
            }
            let clock = self.clock.clone();
            let ok = self.attempt(Some(item), first, &mut |f, fresh| {
                let s = f.stream.as_mut().ok_or("file without a stream")?;
                if new_segment || fresh {
                    s.segment(first, clock.time_of(first).unwrap_or(0))
                        .map_err(|e| e.to_string())?;
                }
                s.append(bytes).map_err(|e| e.to_string())
            });
            let rows = (end - k) as u64;
            self.c[if ok { ROWS } else { LOST }].add(rows);
            self.next_index = ok.then_some(first + rows);
            k = end;
        }
        input.consume(n);
    }

    fn message_work(&mut self, io: &mut WorkIo) {
        let mut msgs = Vec::new();
        while let Some(m) = io.msg_in[0].recv() {
            msgs.push(m);
        }
        if msgs.is_empty() || !self.admit(64 * msgs.len() as u64, msgs.len() as u64) {
            return;
        }
        let mut kinds: Vec<&str> = msgs.iter().map(|m| &*m.kind).collect();
        kinds.dedup();
        for m in &msgs {
            if !self.kinds.iter().any(|k| k.kind == m.kind) {
                self.kinds.push(m.clone());
                // SWMR files cannot get new datasets: a new kind starts a new file.
                self.close();
            }
        }
        let ok = self.attempt(None, 0, &mut |f, _| {
            for kind in &kinds {
                let rows: Vec<&Message> = msgs.iter().filter(|m| &*m.kind == *kind).collect();
                let t = f.tables.get_mut(*kind).ok_or("table missing")?;
                t.append(&rows).map_err(|e| e.to_string())?;
            }
            Ok(())
        });
        self.c[if ok { ROWS } else { LOST }].add(msgs.len() as u64);
        if let Some(f) = &self.file {
            self.c[MISFITS].set(f.tables.values().map(|t| t.misfits).sum());
        }
    }
}

impl Block for Hdf5Sink {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.c = [
            "files",
            "failures",
            "lost",
            "rows",
            "recovered",
            "misfits",
            "limit_dropped",
        ]
        .map(|n| ctx.counter(n));
        self.health = Some(ctx.health());
        std::fs::create_dir_all(&self.p.dir)
            .map_err(|e| BlockError::io(format!("creating {}", self.p.dir.display()), e))?;
        let (ok, bad) = file::recover(&self.p.dir, &self.p.prefix);
        self.c[RECOVERED].add(ok.len() as u64);
        for e in bad {
            self.warn.warn(&e);
        }
        self.retention
            .start(ctx)
            .map_err(|e| BlockError::io(format!("scanning {}", self.p.dir.display()), e))
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        match self.p.input {
            RingInput::Stream => self.stream_work(io),
            RingInput::Messages => self.message_work(io),
        }
        self.maybe_flush(false);
        Ok(Flow::Continue)
    }

    fn stop(&mut self, _: &mut WorkIo) -> Result<(), BlockError> {
        self.maybe_flush(true);
        self.close();
        Ok(())
    }
}

/// Registration of `hdf5_sink`.
pub struct Hdf5SinkDef;

impl BlockDef for Hdf5SinkDef {
    type Params = Hdf5SinkParams;
    const NAME: &'static str = "hdf5_sink";
    const SUMMARY: &'static str = "Writes a stream or messages to rotating HDF5 files readable while written (feature `hdf5`).";
    const DOC: &'static str = include_str!("hdf5_sink.md");
    const EXAMPLE: &'static str =
        "dir = \"h5\"\nprefix = \"iq\"\nrotate_seconds = 3600\nflush_seconds = 1.0\nunits = \"V\"";

    fn signature(p: &Hdf5SinkParams) -> Signature {
        match p.input {
            RingInput::Stream => Signature::new()
                .input("in", TypeSpec::Generic)
                .generic_types(&[ItemType::C32, ItemType::F32])
                .manual_tags()
                .blocking(),
            RingInput::Messages => Signature::new().message_input("in").blocking(),
        }
    }

    fn validate(p: &Hdf5SinkParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        let pos = |v: f64| v.is_finite() && v > 0.0;
        if p.rotate_seconds.is_some_and(|s| !pos(s)) {
            e.push(ParamError::new(
                "rotate_seconds",
                "must be a positive number of seconds",
            ));
        }
        if !pos(p.flush_seconds) {
            e.push(ParamError::new(
                "flush_seconds",
                "must be a positive number of seconds",
            ));
        }
        if p.chunk == 0 {
            e.push(ParamError::new("chunk", "must be at least 1"));
        }
        if p.prefix.is_empty() || p.prefix.contains('/') {
            e.push(ParamError::new(
                "prefix",
                "must be a non-empty file name prefix without `/`",
            ));
        }
        if let Some(l) = &p.limits {
            e.extend(l.check());
        }
        e
    }

    fn plan(p: &Hdf5SinkParams, inputs: &PlanInputs) -> PlanInfo {
        let size = inputs.types.first().map_or(0, |t| t.size()) as f64;
        let rate = inputs.first_rate().filter(|_| p.input == RingInput::Stream);
        PlanInfo {
            storage: vec![Storage {
                path: p.dir.clone(),
                bytes_per_second: rate.map_or(0.0, |r| r * size),
                limit_bytes: p.limits.as_ref().and_then(|l| l.max_bytes).map(|b| b.0),
            }],
            ..PlanInfo::default()
        }
    }

    fn build(p: &Hdf5SinkParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let dir = if p.dir.is_relative() {
            ctx.base_dir.join(&p.dir)
        } else {
            p.dir.clone()
        };
        let retention = Retention::new(
            p.limits.clone(),
            Box::new(Rotated::new(&dir.join(format!("{}.h5", p.prefix)))),
        );
        Ok(Box::new(Hdf5Sink {
            retention,
            p: Hdf5SinkParams { dir, ..p.clone() },
            name: ctx.name.clone(),
            file: None,
            clock: StreamClock::with_rate(p.sample_rate),
            next_index: None,
            kinds: Vec::new(),
            last_flush: Instant::now(),
            c: Default::default(),
            warn: RateLimited::new(format!("hdf5_sink {}", ctx.name), Duration::from_secs(10)),
            health: None,
        }))
    }
}

register_block!(Hdf5SinkDef);

#[cfg(test)]
#[path = "hdf5_sink_tests.rs"]
mod tests;
