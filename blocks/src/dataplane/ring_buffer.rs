//! `ring_buffer`: keeps the last minutes of a stream or of messages in a shared-memory ring
//! file of Arrow IPC records that other processes (Python via `python/flow_ring.py`, a GUI)
//! map and read without copies.

use std::path::PathBuf;

use arrow_schema::SchemaRef;
use flow_framework::log::RateLimited;
use flow_framework::prelude::*;

use super::encode::{batch, ipc::IpcEncoder, schema};
use super::ring::{layout, sizing, Opened, RecordMeta, RingSpec, RingWriter};
use super::stream_clock::StreamClock;

/// What the ring buffer stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RingInput {
    /// A `c32` or `f32` stream on input `in`.
    #[default]
    Stream,
    /// Messages on message input `in` (spectra, detections).
    Messages,
}

fn default_seconds() -> f64 {
    300.0
}
fn default_max_rows() -> usize {
    4096
}
fn default_message_rate() -> f64 {
    10.0
}

/// Parameters of `ring_buffer`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RingBufferParams {
    /// The ring file, e.g. `/dev/shm/flow-iq.ring` (relative: to the flowgraph's directory).
    /// An existing ring with the same layout and schema is resumed; anything else there is
    /// replaced.
    pub path: PathBuf,
    /// `stream` (input `in`, c32 or f32) or `messages` (message input `in`).
    #[serde(default)]
    pub input: RingInput,
    /// Seconds of data the buffer holds (used unless `bytes` is set).
    #[serde(default = "default_seconds")]
    pub seconds: f64,
    /// Size of the data region in bytes, instead of `seconds`.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// Sample rate for sizing by `seconds` when the stream carries no `rate` tag.
    #[serde(default)]
    pub sample_rate: Option<f64>,
    /// Messages per second expected, for sizing a message ring by `seconds`.
    #[serde(default = "default_message_rate")]
    pub message_rate: f64,
    /// Most rows (samples or messages) per record.
    #[serde(default = "default_max_rows")]
    pub max_rows: usize,
}

/// The `ring_buffer` block.
pub struct RingBuffer {
    p: RingBufferParams,
    name: String,
    item: Option<ItemType>,
    writer: Option<RingWriter>,
    schema: Option<SchemaRef>,
    enc: IpcEncoder,
    clock: StreamClock,
    batcher: Option<batch::MessageBatcher>,
    messages: u64,
    records: Counter,
    rows: Counter,
    overwritten: Counter,
    rejected: Counter,
    mismatched: Counter,
    warn: RateLimited,
}

impl RingBuffer {
    fn open(&mut self, schema: SchemaRef, sizes: (u64, u64)) -> Result<(), BlockError> {
        let bytes = self
            .enc
            .schema(&schema)
            .map_err(|e| BlockError::internal(e.to_string()))?;
        let spec = RingSpec {
            path: self.p.path.clone(),
            capacity_bytes: self.p.bytes.unwrap_or(sizes.0),
            index_entries: self.p.bytes.map_or(sizes.1, sizing::entries_for_bytes),
            schema: bytes,
            kind: if self.item.is_some() {
                layout::KIND_STREAM
            } else {
                layout::KIND_MESSAGES
            },
            item_size: self.item.map_or(0, |t| t.size() as u32),
            span_ns: if self.p.bytes.is_some() {
                0
            } else {
                (self.p.seconds * 1e9) as i64
            },
        };
        let (w, how) = RingWriter::open(&spec).map_err(|e| {
            BlockError::config(format!("ring buffer {}: {e}", self.p.path.display()))
        })?;
        match how {
            Opened::Replaced { reason } => {
                tracing::warn!(block = %self.name, path = %self.p.path.display(), "replaced an existing ring file: {reason}")
            }
            Opened::Resumed { records } => {
                tracing::info!(block = %self.name, records, "resumed the ring buffer")
            }
            Opened::Created => {}
        }
        self.writer = Some(w);
        self.schema = Some(schema);
        Ok(())
    }

    fn put(&mut self, meta: &RecordMeta, body: &[u8]) {
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        let before = w.tail_seq();
        match w.append(meta, body) {
            Ok(_) => {
                self.records.inc();
                self.rows.add(u64::from(meta.rows));
                self.overwritten.add(w.tail_seq() - before);
            }
            Err(e) => {
                self.rejected.inc();
                self.warn.warn(&e.to_string());
            }
        }
    }

    fn stream_work(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        let input = &mut io.inputs[0];
        let item = input.item_type();
        let n = input.len();
        let start = input.position();
        let tags: Vec<(usize, Tag)> = input
            .tags()
            .iter()
            .filter(|t| t.position < start + n as u64)
            .map(|t| ((t.position - start) as usize, t.tag.clone()))
            .collect();
        let mut k = 0;
        let mut t = 0;
        while k < n {
            while t < tags.len() && tags[t].0 <= k {
                self.clock.apply(input.sample_index(tags[t].0), &tags[t].1);
                t += 1;
            }
            let end = tags
                .get(t)
                .map_or(n, |x| x.0)
                .min(k + self.p.max_rows)
                .min(n);
            if self.writer.is_none() {
                let rate = self.clock.rate.ok_or_else(|| BlockError::config("ring_buffer: sizing by `seconds` needs the sample rate: the stream has no `rate` tag; set `sample_rate` or `bytes`"));
                let rate = if self.p.bytes.is_some() { 1.0 } else { rate? };
                let s = schema::stream_schema(item, &self.name).ok_or_else(|| {
                    BlockError::config(format!("ring_buffer stores c32 or f32 streams, not {item}"))
                })?;
                self.open(
                    s,
                    sizing::for_stream(
                        self.p.seconds,
                        rate,
                        item.size(),
                        self.p.max_rows.min(1024),
                    ),
                )?;
            }
            let first = input.sample_index(k);
            self.clock.anchor_now_if_unset(first);
            let rows = end - k;
            let time_ns = self.clock.time_of(first).unwrap_or(0);
            let meta = RecordMeta {
                rows: rows as u32,
                time_ns,
                end_time_ns: self
                    .clock
                    .time_of(first + rows as u64 - 1)
                    .unwrap_or(time_ns),
                first_index: first,
                rate_hz: self.clock.rate.unwrap_or(0.0),
                freq_hz: self.clock.freq.unwrap_or(0.0),
            };
            let bytes = dispatch_item_type!(item, T => bytemuck::cast_slice::<T, u8>(&input.slice::<T>()[k..end]));
            let Some(s) = self.schema.clone() else { break };
            let b = batch::stream_batch(&s, item, bytes)
                .map_err(|e| BlockError::internal(e.to_string()))?;
            let body = self
                .enc
                .batch(&b)
                .map_err(|e| BlockError::internal(e.to_string()))?
                .to_vec();
            self.put(&meta, &body);
            k = end;
        }
        input.consume(n);
        Ok(())
    }

    fn message_work(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64)
        };
        while !io.msg_in[0].is_empty() {
            let (mut t0, mut t1, first) = (i64::MAX, i64::MIN, self.messages);
            while let Some(m) = io.msg_in[0].recv() {
                if self.batcher.is_none() {
                    self.batcher = Some(batch::MessageBatcher::new(schema::message_schema(
                        &m, &self.name,
                    )));
                }
                let Some(b) = self.batcher.as_mut() else {
                    break;
                };
                let t = b.push(&m, now());
                (t0, t1) = (t0.min(t), t1.max(t));
                self.messages += 1;
                if b.rows() >= self.p.max_rows {
                    break;
                }
            }
            let Some(b) = self.batcher.as_mut() else {
                return Ok(());
            };
            let rows = b.rows();
            let batch = b
                .finish()
                .map_err(|e| BlockError::internal(e.to_string()))?;
            self.mismatched.set(b.mismatched());
            if self.writer.is_none() {
                let row_bytes =
                    (self.enc.batch(&batch).map_or(4096, |x| x.len()) / rows.max(1)) as u64;
                self.open(
                    batch.schema(),
                    sizing::for_messages(self.p.seconds, self.p.message_rate, row_bytes),
                )?;
            }
            let body = self
                .enc
                .batch(&batch)
                .map_err(|e| BlockError::internal(e.to_string()))?
                .to_vec();
            let meta = RecordMeta {
                rows: rows as u32,
                time_ns: t0,
                end_time_ns: t1,
                first_index: first,
                ..Default::default()
            };
            self.put(&meta, &body);
        }
        Ok(())
    }
}

impl Block for RingBuffer {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.records = ctx.counter("records");
        self.rows = ctx.counter("rows");
        self.overwritten = ctx.counter("overwritten");
        self.rejected = ctx.counter("rejected");
        self.mismatched = ctx.counter("mismatched_fields");
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        match self.p.input {
            RingInput::Stream => self.stream_work(io)?,
            RingInput::Messages => self.message_work(io)?,
        }
        Ok(Flow::Continue)
    }

    fn stop(&mut self, _: &mut WorkIo) -> Result<(), BlockError> {
        if let Some(w) = self.writer.as_mut() {
            w.close();
        }
        Ok(())
    }
}

/// Registration of `ring_buffer`.
pub struct RingBufferDef;

impl BlockDef for RingBufferDef {
    type Params = RingBufferParams;
    const NAME: &'static str = "ring_buffer";
    const SUMMARY: &'static str = "Keeps the last minutes of a stream or of messages in a shared-memory ring of Arrow records.";
    const DOC: &'static str = "Input `in`: a `c32`/`f32` stream (`input = \"stream\"`) or messages \
        (`input = \"messages\"`). Writes Arrow IPC record batches (at most `max_rows` rows each) \
        into a memory-mapped ring file at `path` (use `/dev/shm` for memory only), sized to hold \
        `seconds` of data (from the stream's rate, or `sample_rate`; `message_rate` for messages) \
        or `bytes`. Every record carries its time (first and last row), first sample index, rate \
        and frequency; stream records split at time/rate/frequency/gap tags. Readers in other \
        processes attach with `python/flow_ring.py` (see docs/ring-buffer.md): they never see a \
        torn record and are told how many records they missed. The oldest records are overwritten \
        (counter `overwritten`); a restarted or crashed writer resumes a ring with the same layout \
        and schema and replaces anything else. Counters: `records`, `rows`, `overwritten`, \
        `rejected` (larger than the ring), `mismatched_fields` (message fields that did not fit the \
        schema taken from the first message).";
    const EXAMPLE: &'static str = "path = \"/dev/shm/flow-iq.ring\"\nseconds = 300";

    fn signature(p: &RingBufferParams) -> Signature {
        match p.input {
            RingInput::Stream => Signature::new()
                .input("in", TypeSpec::Generic)
                .generic_types(&[ItemType::C32, ItemType::F32])
                .manual_tags(),
            RingInput::Messages => Signature::new().message_input("in"),
        }
    }

    fn validate(p: &RingBufferParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        if !(p.seconds.is_finite() && p.seconds > 0.0) {
            e.push(ParamError::new(
                "seconds",
                "must be a positive number of seconds",
            ));
        }
        if p.bytes.is_some_and(|b| b < 4096) {
            e.push(ParamError::new("bytes", "must be at least 4096"));
        }
        if p.sample_rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            e.push(ParamError::new(
                "sample_rate",
                "must be a positive rate in Hz",
            ));
        }
        if !(p.message_rate.is_finite() && p.message_rate > 0.0) {
            e.push(ParamError::new("message_rate", "must be a positive rate"));
        }
        if p.max_rows == 0 || p.max_rows > u32::MAX as usize {
            e.push(ParamError::new(
                "max_rows",
                "must be between 1 and 4294967295",
            ));
        }
        e
    }

    fn plan(p: &RingBufferParams, inputs: &PlanInputs) -> PlanInfo {
        // Fixed size by design: the ring reserves its memory at start and never grows.
        let size = p.bytes.or_else(|| match p.input {
            RingInput::Stream => {
                let rate = inputs.first_rate().or(p.sample_rate)?;
                let item = inputs.types.first().map_or(8, |t| t.size());
                Some(sizing::for_stream(p.seconds, rate, item, p.max_rows.min(1024)).0)
            }
            RingInput::Messages => Some(sizing::for_messages(p.seconds, p.message_rate, 256).0),
        });
        PlanInfo {
            storage: size
                .map(|b| Storage {
                    path: p.path.clone(),
                    bytes_per_second: 0.0,
                    limit_bytes: Some(b),
                })
                .into_iter()
                .collect(),
            ..PlanInfo::default()
        }
    }

    fn build(p: &RingBufferParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let path = if p.path.is_relative() {
            ctx.base_dir.join(&p.path)
        } else {
            p.path.clone()
        };
        Ok(Box::new(RingBuffer {
            p: RingBufferParams { path, ..p.clone() },
            name: ctx.name.clone(),
            item: ctx.input_types.first().copied(),
            writer: None,
            schema: None,
            enc: IpcEncoder::new(),
            clock: StreamClock::with_rate(p.sample_rate),
            batcher: None,
            messages: 0,
            records: Counter::default(),
            rows: Counter::default(),
            overwritten: Counter::default(),
            rejected: Counter::default(),
            mismatched: Counter::default(),
            warn: RateLimited::new(
                format!("ring_buffer {}", p.path.display()),
                std::time::Duration::from_secs(10),
            ),
        }))
    }
}

register_block!(RingBufferDef);

#[cfg(test)]
#[path = "ring_buffer_tests.rs"]
mod tests;
