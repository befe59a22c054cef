//! The ZeroMQ-to-stream block shared by `zmq_sub_source` and `zmq_pull_source`: takes whole
//! messages, recognises gr-zeromq's tag header by its magic, turns header tags into flow tags
//! and lost messages into gap tags.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use flow_framework::log::RateLimited;
use flow_framework::prelude::*;

use super::header;
use super::socket::{HealthWatch, Mode, Pattern, Receiver, WhenFull};
use super::tags;

/// How long one work call waits for a message.
const WAIT: Duration = Duration::from_millis(50);
/// Most messages taken in one work call.
const MAX_MESSAGES_PER_CALL: usize = 16;

/// Settings of a source.
#[derive(Clone, Debug)]
pub struct SourceConfig {
    /// SUB or PULL.
    pub pattern: Pattern,
    /// ZeroMQ endpoint.
    pub address: String,
    /// Bind or connect.
    pub mode: Mode,
    /// Queue length in messages.
    pub hwm: usize,
    /// Turn header tags into flow tags.
    pub pass_tags: bool,
    /// Topic to subscribe to (SUB).
    pub key: Option<String>,
    /// Item type of the stream.
    pub item: ItemType,
}

/// A received message being written out.
struct Pending {
    data: Bytes,
    /// Byte offset of the first item (after the header).
    start: usize,
    /// Items written so far.
    next: usize,
    /// Tags as (item index in the message, tag), sorted.
    tags: Vec<(u64, Tag)>,
}

/// Receives ZeroMQ messages as a stream.
pub struct ZmqSource {
    cfg: SourceConfig,
    receiver: Option<Receiver>,
    pending: Option<Pending>,
    /// Sender's stream position expected in the next tagged message.
    next_offset: Option<u64>,
    /// Items known lost, to report as a gap on the next item written.
    lost: u64,
    dropped_items_seen: u64,
    scratch: Vec<C64>,
    messages: Counter,
    malformed: Counter,
    lost_items: Counter,
    health: Option<HealthHandle>,
    watch: HealthWatch,
    log: RateLimited,
}

impl ZmqSource {
    /// A source for `cfg`.
    pub fn new(cfg: SourceConfig, name: &str) -> Self {
        ZmqSource {
            log: RateLimited::new(
                format!("zmq source `{name}` ({})", cfg.address),
                Duration::from_secs(10),
            ),
            cfg,
            receiver: None,
            pending: None,
            next_offset: None,
            lost: 0,
            dropped_items_seen: 0,
            scratch: Vec::new(),
            messages: Counter::default(),
            malformed: Counter::default(),
            lost_items: Counter::default(),
            health: None,
            watch: HealthWatch::new(),
        }
    }

    /// Parses a message into a [`Pending`], or counts it as malformed.
    fn accept(&mut self, data: Bytes) -> Option<Pending> {
        let size = self.cfg.item.size();
        let (start, tags) =
            if header::has_header(&data) {
                match header::decode(&data) {
                    Ok((h, start)) if (data.len() - start) % size == 0 => {
                        let n = ((data.len() - start) / size) as u64;
                        if let Some(expected) = self.next_offset {
                            if h.offset > expected {
                                self.lost += h.offset - expected;
                            }
                        }
                        self.next_offset = Some(h.offset + n);
                        let mut tags = Vec::new();
                        if self.cfg.pass_tags {
                            for t in &h.tags {
                                match t.offset.checked_sub(h.offset).filter(|&k| k < n.max(1)) {
                                    Some(k) => {
                                        tags.push((k, tags::from_pmt(&t.key, &t.value, &t.srcid)))
                                    }
                                    None => {
                                        self.malformed.inc();
                                        self.log.warn(&format!(
                                        "tag `{}` at offset {} lies outside its message ({}..{})",
                                        t.key, t.offset, h.offset, h.offset + n
                                    ));
                                    }
                                }
                            }
                            tags.sort_by_key(|(k, _)| *k);
                        }
                        (start, tags)
                    }
                    Ok(_) if data.len() % size == 0 => (0, Vec::new()),
                    Ok((_, start)) => {
                        return self.reject(format!(
                            "{} bytes after the tag header are not whole {} items",
                            data.len() - start,
                            self.cfg.item
                        ))
                    }
                    // A header that does not decode but whose bytes are whole items: raw data
                    // that happens to start with the magic.
                    Err(_) if data.len() % size == 0 => (0, Vec::new()),
                    Err(e) => return self.reject(format!("bad tag header: {e}")),
                }
            } else if data.len() % size == 0 {
                (0, Vec::new())
            } else {
                return self.reject(format!(
                    "message of {} bytes is not whole {} items ({} bytes each)",
                    data.len(),
                    self.cfg.item,
                    size
                ));
            };
        self.messages.inc();
        Some(Pending {
            data,
            start,
            next: 0,
            tags,
        })
    }

    fn reject(&mut self, why: String) -> Option<Pending> {
        self.malformed.inc();
        self.log.warn(&why);
        None
    }

    fn poll_socket_state(&mut self) {
        let Some(r) = &self.receiver else { return };
        let dropped = r.stats.dropped_items.load(Ordering::Relaxed);
        if dropped > self.dropped_items_seen {
            // With tagged messages the sender's offsets show every loss, these drops
            // included, as a jump at the next message: counting both would report items
            // twice. Raw messages have no offsets; then the drops are all there is.
            if self.next_offset.is_none() {
                self.lost += dropped - self.dropped_items_seen;
            }
            self.dropped_items_seen = dropped;
        }
        self.watch
            .update(&r.stats, self.health.as_ref(), &mut self.log);
    }

    /// Writes as much of the pending message as fits; returns true when it is all written.
    fn write(&mut self, out: &mut StreamOutput) -> bool {
        let Some(p) = &mut self.pending else {
            return true;
        };
        let size = self.cfg.item.size();
        let total = (p.data.len() - p.start) / size;
        let live = self.cfg.pattern == Pattern::Sub;
        let n = if live {
            total - p.next
        } else {
            (total - p.next).min(out.space())
        };
        if n == 0 {
            return p.next >= total;
        }
        if self.lost > 0 {
            self.lost_items.add(self.lost);
            out.drop_items(std::mem::take(&mut self.lost));
        }
        let from = p.start + p.next * size;
        let at = out.position();
        let written = copy_out(
            out,
            &p.data[from..from + n * size],
            self.cfg.item,
            live,
            &mut self.scratch,
        );
        let range = p.next as u64..(p.next + written) as u64;
        for (k, tag) in &p.tags {
            if range.contains(k) {
                out.add_tag_at(at + (*k - range.start), tag.clone());
            }
        }
        p.next += n;
        p.next >= total
    }
}

/// Copies whole items from `bytes` to `out` (live: with the drop rules of `write_live`).
fn copy_out(
    out: &mut StreamOutput,
    bytes: &[u8],
    item: ItemType,
    live: bool,
    scratch: &mut Vec<C64>,
) -> usize {
    flow_framework::dispatch_item_type!(item, T => {
        // Network bytes may not be aligned for the item type: then copy through scratch.
        let items: &[T] = match bytemuck::try_cast_slice(bytes) {
            Ok(items) => items,
            Err(_) => {
                let words = bytes.len().div_ceil(std::mem::size_of::<C64>());
                scratch.resize(words, C64::default());
                let aligned = &mut bytemuck::cast_slice_mut::<C64, u8>(scratch)[..bytes.len()];
                aligned.copy_from_slice(bytes);
                bytemuck::cast_slice(&*aligned)
            }
        };
        if live {
            out.write_live(items)
        } else {
            let o = out.slice_mut::<T>();
            let n = o.len().min(items.len());
            o[..n].copy_from_slice(&items[..n]);
            out.produce(n);
            n
        }
    })
}

impl Block for ZmqSource {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.messages = ctx.counter("messages");
        self.malformed = ctx.counter("malformed");
        self.lost_items = ctx.counter("lost");
        self.health = Some(ctx.health());
        let c = &self.cfg;
        let when_full = match c.pattern {
            Pattern::Sub => WhenFull::Drop {
                item_size: c.item.size(),
            },
            _ => WhenFull::Wait,
        };
        self.receiver = Some(
            Receiver::open(
                c.pattern,
                &c.address,
                c.mode,
                c.hwm,
                c.key.as_deref(),
                when_full,
            )
            .map_err(BlockError::config)?,
        );
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        self.poll_socket_state();
        let out = &mut io.outputs[0];
        let live = self.cfg.pattern == Pattern::Sub;
        // A loss is reported as a gap on the first item a call produces, so a message that
        // follows a loss (and, when live, any message: a live write may drop) starts a call.
        for _ in 0..MAX_MESSAGES_PER_CALL {
            if self.pending.is_none() {
                let wait = if out.produced() > 0 {
                    Duration::ZERO
                } else {
                    WAIT
                };
                let Some(r) = &self.receiver else {
                    return Err(BlockError::internal("work before start"));
                };
                let Some(data) = r.recv_timeout(wait) else {
                    break;
                };
                self.pending = self.accept(data);
                if self.pending.is_none() {
                    continue;
                }
            }
            if (live || self.lost > 0) && out.produced() > 0 {
                break;
            }
            if !self.write(out) {
                // The output is full (PULL): wait for room.
                break;
            }
            self.pending = None;
            if live {
                break;
            }
        }
        Ok(Flow::Continue)
    }
}
