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
    /// Sender's sample index expected for the first item of the next tagged message.
    next_sample: Option<u64>,
    /// Items known lost, to report as a gap on the next item written.
    lost: u64,
    /// Messages the receiver's queue had dropped when last looked at.
    queue_dropped_seen: u64,
    scratch: Vec<C64>,
    messages: Counter,
    malformed: Counter,
    lost_items: Counter,
    queue_dropped: Counter,
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
            next_sample: None,
            lost: 0,
            queue_dropped_seen: 0,
            scratch: Vec::new(),
            messages: Counter::default(),
            malformed: Counter::default(),
            lost_items: Counter::default(),
            queue_dropped: Counter::default(),
            health: None,
            watch: HealthWatch::new(),
        }
    }

    /// Parses a message into a [`Pending`], or counts it as malformed.
    fn accept(&mut self, data: Bytes) -> Option<Pending> {
        let size = self.cfg.item.size();
        let (start, tags) = if header::has_header(&data) {
            match header::decode(&data) {
                Ok((h, start)) if (data.len() - start) % size == 0 => {
                    let n = ((data.len() - start) / size) as u64;
                    (start, self.take_tags(&h, n))
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

    /// The tags of a tagged message of `n` items as (item index, tag), sorted; counts the
    /// samples lost before it. Gap tags are kept even without `pass_tags`: they are loss, not
    /// annotation.
    ///
    /// The sender's sample index of the first item is the header's offset, or the
    /// `flow_sample_index` tag of a flow sender whose stream had gaps. Whatever lies between
    /// the index expected after the previous message and this one was lost on the way
    /// (dropped by the publisher, inside ZeroMQ, or by this block's queue), except what the
    /// message's own gap tag on its first item reports.
    fn take_tags(&mut self, h: &header::Header, n: u64) -> Vec<(u64, Tag)> {
        let mut first_sample = h.offset;
        let (mut gap_at_first, mut gaps_after_first) = (0, 0);
        let mut out = Vec::new();
        for t in &h.tags {
            let Some(k) = t.offset.checked_sub(h.offset).filter(|&k| k < n.max(1)) else {
                self.malformed.inc();
                self.log.warn(&format!(
                    "tag `{}` at offset {} lies outside its message ({}..{})",
                    t.key,
                    t.offset,
                    h.offset,
                    h.offset + n
                ));
                continue;
            };
            if let (0, Some(index)) = (k, tags::sample_index_of(&t.key, &t.value)) {
                first_sample = index;
                continue;
            }
            let tag = tags::from_pmt(&t.key, &t.value, &t.srcid);
            match tag {
                Tag::Gap(g) if k == 0 => gap_at_first += g,
                Tag::Gap(g) => gaps_after_first += g,
                _ if !self.cfg.pass_tags => continue,
                _ => {}
            }
            out.push((k, tag));
        }
        // Behind what was expected (the sender restarted its count): start over, nothing lost.
        if let Some(expected) = self.next_sample.filter(|&e| first_sample > e) {
            self.lost += (first_sample - expected).saturating_sub(gap_at_first);
        }
        self.next_sample = Some(first_sample + n + gaps_after_first);
        out.sort_by_key(|(k, _)| *k);
        out
    }

    fn reject(&mut self, why: String) -> Option<Pending> {
        self.malformed.inc();
        self.log.warn(&why);
        None
    }

    fn poll_socket_state(&mut self) {
        let Some(r) = &self.receiver else { return };
        let dropped = r.stats.dropped.load(Ordering::Relaxed);
        if dropped > self.queue_dropped_seen {
            self.queue_dropped.add(dropped - self.queue_dropped_seen);
            self.queue_dropped_seen = dropped;
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
        self.queue_dropped = ctx.counter("queue_dropped");
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
                let Some(received) = r.recv_timeout(wait) else {
                    break;
                };
                self.lost += received.raw_items_dropped_before;
                self.pending = self.accept(received.data);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::zmq::header::{Header, WireTag};
    use crate::net::zmq::pmt::Pmt;

    fn source() -> ZmqSource {
        ZmqSource::new(
            SourceConfig {
                pattern: Pattern::Sub,
                address: "tcp://127.0.0.1:1".into(),
                mode: Mode::Connect,
                hwm: 1,
                pass_tags: true,
                key: None,
                item: ItemType::I32,
            },
            "rx",
        )
    }

    fn wire(offset: u64, tag: &Tag) -> WireTag {
        let (key, value, srcid) = tags::to_pmt(tag, "tx").unwrap();
        WireTag {
            offset,
            key,
            value,
            srcid,
        }
    }

    fn sample_index(offset: u64, index: u64) -> WireTag {
        let (key, value, srcid) = tags::sample_index_pmt(index, "tx");
        WireTag {
            offset,
            key,
            value,
            srcid,
        }
    }

    /// Feeds a tagged message of `n` items; returns the samples counted lost before it.
    fn feed(s: &mut ZmqSource, offset: u64, tags: Vec<WireTag>, n: u64) -> u64 {
        s.take_tags(&Header { offset, tags }, n);
        std::mem::take(&mut s.lost)
    }

    #[test]
    fn a_jump_in_the_senders_offset_is_lost_samples() {
        let mut s = source();
        assert_eq!(feed(&mut s, 500, vec![], 100), 0, "joining is no loss");
        assert_eq!(feed(&mut s, 600, vec![], 100), 0);
        assert_eq!(feed(&mut s, 1000, vec![], 100), 300);
        // A sender that restarted counts from 0 again: nothing lost, counting starts over.
        assert_eq!(feed(&mut s, 0, vec![], 100), 0);
        assert_eq!(feed(&mut s, 100, vec![], 100), 0);
    }

    #[test]
    fn a_lost_message_with_a_gap_is_placed_by_the_sample_index_tag() {
        let mut s = source();
        assert_eq!(feed(&mut s, 0, vec![], 1000), 0);
        // Lost on the way: items 1000..2000 with a gap of 5 at 1500. The next message says
        // its first item is sample 2005: 1000 items + 5 gap samples are missing.
        assert_eq!(
            feed(&mut s, 2000, vec![sample_index(2000, 2005)], 1000),
            1005
        );
        // A gap inside a received message moves the expected index without a loss.
        let t = s.take_tags(
            &Header {
                offset: 3000,
                tags: vec![sample_index(3000, 3005), wire(3100, &Tag::Gap(7))],
            },
            1000,
        );
        assert_eq!(t, vec![(100, Tag::Gap(7))]);
        assert_eq!(std::mem::take(&mut s.lost), 0);
        assert_eq!(feed(&mut s, 4000, vec![sample_index(4000, 4012)], 10), 0);
    }

    #[test]
    fn a_gap_on_the_first_item_is_not_counted_twice() {
        let mut s = source();
        assert_eq!(feed(&mut s, 0, vec![], 10), 0);
        // 3 items lost, then a message whose first item follows a gap of 4 it reports itself.
        let t = s.take_tags(
            &Header {
                offset: 13,
                tags: vec![sample_index(13, 17), wire(13, &Tag::Gap(4))],
            },
            10,
        );
        assert_eq!(t, vec![(0, Tag::Gap(4))]);
        assert_eq!(std::mem::take(&mut s.lost), 3);
    }

    #[test]
    fn gaps_pass_without_pass_tags_and_other_tags_do_not() {
        let mut s = source();
        s.cfg.pass_tags = false;
        let t = s.take_tags(
            &Header {
                offset: 0,
                tags: vec![wire(0, &Tag::Rate(1e3)), wire(5, &Tag::Gap(2))],
            },
            10,
        );
        assert_eq!(t, vec![(5, Tag::Gap(2))]);
        // A tag outside its message is counted as malformed, not placed.
        let t = s.take_tags(
            &Header {
                offset: 10,
                tags: vec![WireTag {
                    offset: 50,
                    key: Pmt::symbol("x"),
                    value: Pmt::Int(1),
                    srcid: Pmt::False,
                }],
            },
            10,
        );
        assert!(t.is_empty());
        assert_eq!(s.malformed.get(), 1);
    }
}
