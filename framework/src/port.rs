//! Ports as a block sees them during `work`: typed input and output slices over the stream
//! buffers, their tags, and message queues. The runtime refreshes every port before a work
//! call and commits what the block consumed, produced and tagged after it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::buffer::{PrivateEdge, StreamBuffer, Waker};
use crate::item::{Item, ItemType};
use crate::message::Message;
use crate::metrics::BlockMetrics;
use crate::tag::{ItemTag, Tag};

/// Where a stream input reads from.
#[derive(Debug, Clone)]
pub(crate) enum InputSource {
    /// A reader slot of the producer's shared buffer (policy `block`).
    Shared(Arc<StreamBuffer>, usize),
    /// A private lossy ring.
    Private(Arc<PrivateEdge>),
    /// An optional input left unconnected: always finished and empty.
    None,
}

/// A stream input during a work call.
#[derive(Debug)]
pub struct StreamInput {
    name: Arc<str>,
    item_type: ItemType,
    pub(crate) source: InputSource,
    pub(crate) min_items: usize,
    pos: u64,
    available: u64,
    finished: bool,
    consumed: u64,
    tags: Vec<ItemTag>,
    gaps_before: u64,
}

impl StreamInput {
    pub(crate) fn new(
        name: Arc<str>,
        item_type: ItemType,
        source: InputSource,
        min_items: usize,
    ) -> Self {
        StreamInput {
            name,
            item_type,
            source,
            min_items: min_items.max(1),
            pos: 0,
            available: 0,
            finished: false,
            consumed: 0,
            tags: Vec::new(),
            gaps_before: 0,
        }
    }

    /// The port name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The item type of the stream.
    pub fn item_type(&self) -> ItemType {
        self.item_type
    }

    /// The unconsumed items of this call, from [`StreamInput::position`] on.
    ///
    /// # Panics
    /// If `T` is not the port's item type: a bug in the block, which the runtime reports
    /// as that block's error.
    #[inline]
    pub fn slice<T: Item>(&self) -> &[T] {
        assert_eq!(
            T::TYPE,
            self.item_type,
            "input `{}` read as {} but carries {}",
            self.name,
            T::TYPE,
            self.item_type
        );
        let len = (self.available - self.consumed) as usize;
        if len == 0 {
            return &[];
        }
        // SAFETY: the window pos..pos+available is published by the writer and not
        // overwritten until we consume it; the mirrored mapping makes it contiguous; T is
        // the buffer's item type, so size and alignment match.
        unsafe {
            std::slice::from_raw_parts(self.ptr_at(self.pos + self.consumed) as *const T, len)
        }
    }

    /// Number of unconsumed items in this call.
    pub fn len(&self) -> usize {
        (self.available - self.consumed) as usize
    }

    /// True when no unconsumed items are left in this call.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn ptr_at(&self, pos: u64) -> *mut u8 {
        match &self.source {
            InputSource::Shared(b, _) => b.ptr_at(pos),
            InputSource::Private(e) => e.buffer().ptr_at(pos),
            InputSource::None => std::ptr::NonNull::<u64>::dangling().as_ptr() as *mut u8,
        }
    }

    /// Absolute stream position of `slice()[0]`.
    pub fn position(&self) -> u64 {
        self.pos + self.consumed
    }

    /// Tags of the unconsumed items, with absolute positions (sorted).
    pub fn tags(&self) -> &[ItemTag] {
        let start = self.tags.partition_point(|t| t.position < self.position());
        &self.tags[start..]
    }

    /// Sample index of `slice()[offset]`: its position plus every sample lost before it
    /// (the sum of the gap tags up to and including that item).
    pub fn sample_index(&self, offset: usize) -> u64 {
        let at = self.position() + offset as u64;
        let gaps_in_window: u64 = self
            .tags
            .iter()
            .take_while(|t| t.position <= at)
            .map(|t| if let Tag::Gap(n) = t.tag { n } else { 0 })
            .sum();
        at + self.gaps_before + gaps_in_window
    }

    /// Marks `n` items of `slice()` as used; they are released after the call.
    ///
    /// Consuming more than is available is clamped (and reported by a debug assertion).
    #[inline]
    pub fn consume(&mut self, n: usize) {
        debug_assert!(
            n as u64 <= self.available - self.consumed,
            "consume({n}) beyond input `{}`",
            self.name
        );
        self.consumed = (self.consumed + n as u64).min(self.available);
    }

    /// True when the producer has finished and `slice()` holds everything that is left.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Items consumed in the current call so far.
    pub fn consumed(&self) -> usize {
        self.consumed as usize
    }

    /// Runtime: loads the current window and its tags. Tags on the end-of-stream position
    /// (`Eos`, a final `Gap`) are included only with `include_end`, which the runtime sets
    /// for the `stop` call, so a block sees them exactly once.
    pub(crate) fn refresh(&mut self, include_end: bool) {
        let win = match &self.source {
            InputSource::Shared(b, idx) => b.readable(*idx),
            InputSource::Private(e) => e.claim(),
            InputSource::None => {
                self.finished = true;
                return;
            }
        };
        self.pos = win.pos;
        self.available = win.available;
        self.finished = win.finished;
        self.consumed = 0;
        let end = win.pos + win.available + u64::from(win.finished && include_end);
        match &self.source {
            InputSource::Shared(b, _) => b.tags_in(win.pos, end, &mut self.tags),
            InputSource::Private(e) => e.buffer().tags_in(win.pos, end, &mut self.tags),
            InputSource::None => {}
        }
    }

    /// Runtime: true if a work call could make progress with this input.
    pub(crate) fn ready(&self) -> bool {
        self.available >= self.min_items as u64
    }

    /// Runtime: releases what was consumed. Returns the number of items.
    pub(crate) fn commit(&mut self, metrics: Option<&std::sync::atomic::AtomicU64>) -> u64 {
        let n = self.consumed;
        if n == 0 {
            return 0;
        }
        let end = self.pos + n;
        self.gaps_before += self
            .tags
            .iter()
            .take_while(|t| t.position < end)
            .map(|t| if let Tag::Gap(g) = t.tag { g } else { 0 })
            .sum::<u64>();
        match &self.source {
            InputSource::Shared(b, idx) => b.consume(*idx, n),
            InputSource::Private(e) => e.consume(n),
            InputSource::None => {}
        }
        if let Some(m) = metrics {
            m.fetch_add(n, Ordering::Relaxed);
        }
        self.pos = end;
        self.available -= n;
        self.consumed = 0;
        n
    }

    /// Runtime: this input reads no more.
    pub(crate) fn detach(&self) {
        match &self.source {
            InputSource::Shared(b, idx) => b.detach(*idx),
            InputSource::Private(e) => e.buffer().detach(0),
            InputSource::None => {}
        }
    }

    /// The tags of the range consumed in this call (for propagation).
    pub(crate) fn consumed_tags(&self) -> impl Iterator<Item = &ItemTag> {
        let end = self.pos + self.consumed;
        self.tags.iter().take_while(move |t| t.position < end)
    }

    /// Position of the window start (before this call's consumption).
    pub(crate) fn window_start(&self) -> u64 {
        self.pos
    }
}

/// Live-source overflow state: drop with hysteresis between two fill watermarks.
#[derive(Debug, Clone, Copy)]
struct LiveDrop {
    dropping: bool,
    high: f64,
    low: f64,
}

/// A stream output during a work call.
#[derive(Debug)]
pub struct StreamOutput {
    name: Arc<str>,
    item_type: ItemType,
    buf: Arc<StreamBuffer>,
    private: Vec<Arc<PrivateEdge>>,
    pub(crate) min_items: usize,
    pos: u64,
    space: u64,
    produced: u64,
    tags: Vec<ItemTag>,
    scratch: Vec<ItemTag>,
    pending_gap: u64,
    /// Position of the item the pending gap precedes (the next one produced after the drop).
    pending_gap_at: u64,
    dropped: u64,
    live: LiveDrop,
}

impl StreamOutput {
    pub(crate) fn new(
        name: Arc<str>,
        buf: Arc<StreamBuffer>,
        private: Vec<Arc<PrivateEdge>>,
        min_items: usize,
    ) -> Self {
        StreamOutput {
            name,
            item_type: buf.item_type(),
            buf,
            private,
            min_items: min_items.max(1),
            pos: 0,
            space: 0,
            produced: 0,
            tags: Vec::new(),
            scratch: Vec::new(),
            pending_gap: 0,
            pending_gap_at: 0,
            dropped: 0,
            live: LiveDrop {
                dropping: false,
                high: 0.9,
                low: 0.5,
            },
        }
    }

    /// The port name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The item type of the stream.
    pub fn item_type(&self) -> ItemType {
        self.item_type
    }

    /// The free space of this call, from [`StreamOutput::position`] on.
    ///
    /// # Panics
    /// If `T` is not the port's item type (a bug in the block; reported as its error).
    #[inline]
    pub fn slice_mut<T: Item>(&mut self) -> &mut [T] {
        assert_eq!(
            T::TYPE,
            self.item_type,
            "output `{}` written as {} but carries {}",
            self.name,
            T::TYPE,
            self.item_type
        );
        let len = (self.space - self.produced) as usize;
        if len == 0 {
            return &mut [];
        }
        // SAFETY: the writer owns pos..pos+space until it commits; mirrored mapping makes it
        // contiguous; T matches the buffer's item type.
        unsafe {
            std::slice::from_raw_parts_mut(self.buf.ptr_at(self.pos + self.produced) as *mut T, len)
        }
    }

    /// Free space left in this call, in items.
    pub fn space(&self) -> usize {
        (self.space - self.produced) as usize
    }

    /// Absolute stream position of `slice_mut()[0]`.
    pub fn position(&self) -> u64 {
        self.pos + self.produced
    }

    /// Publishes `n` items written at the start of `slice_mut()` (after the call).
    #[inline]
    pub fn produce(&mut self, n: usize) {
        debug_assert!(
            n as u64 <= self.space - self.produced,
            "produce({n}) beyond output `{}`",
            self.name
        );
        self.produced = (self.produced + n as u64).min(self.space);
    }

    /// Tags the item at `slice_mut()[offset]` (offset may be 0 for the next item produced).
    pub fn add_tag(&mut self, offset: usize, tag: Tag) {
        self.tags.push(ItemTag {
            position: self.position() + offset as u64,
            tag,
        });
    }

    /// Tags an absolute position at or after the start of this call's window.
    pub fn add_tag_at(&mut self, position: u64, tag: Tag) {
        self.tags.push(ItemTag {
            position: position.max(self.pos),
            tag,
        });
    }

    /// Records `n` samples lost before the next produced item: counted as drops and
    /// reported downstream as a [`Tag::Gap`] on that item (the item produced after this
    /// call, even when items were produced earlier in the same work call).
    pub fn drop_items(&mut self, n: u64) {
        let at = self.position();
        if self.pending_gap > 0 && self.pending_gap_at != at {
            // Items were produced since the earlier drop: that gap precedes the first of them.
            self.tags.push(ItemTag {
                position: self.pending_gap_at,
                tag: Tag::Gap(self.pending_gap),
            });
            self.pending_gap = 0;
        }
        self.pending_gap_at = at;
        self.pending_gap += n;
        self.dropped += n;
    }

    /// For live sources: true when [`StreamOutput::write_live`] would write now, false in
    /// its dropping phase (or with no space). Lets a source keep a tag (time, rate) for the
    /// first item that is actually written instead of tagging one that will be dropped.
    pub fn live_accepts(&mut self) -> bool {
        self.update_live_state();
        !self.live.dropping && self.space() > 0
    }

    fn update_live_state(&mut self) {
        let cap = self.buf.capacity() as f64;
        let fill = (cap - (self.space - self.produced) as f64) / cap;
        if self.live.dropping && fill <= self.live.low {
            self.live.dropping = false;
        } else if !self.live.dropping && fill >= self.live.high {
            self.live.dropping = true;
        }
    }

    /// For live sources: writes `items`, or drops them when downstream is full.
    ///
    /// Once the buffer fills past the high watermark (90 %), everything is dropped until it
    /// drains below the low watermark (50 %), so the source neither blocks nor flaps. Drops
    /// are counted and become a gap tag on the next written item. Returns items written.
    pub fn write_live<T: Item>(&mut self, items: &[T]) -> usize {
        self.update_live_state();
        if self.live.dropping {
            self.drop_items(items.len() as u64);
            return 0;
        }
        let out = self.slice_mut::<T>();
        let n = items.len().min(out.len());
        out[..n].copy_from_slice(&items[..n]);
        self.produce(n);
        if n < items.len() {
            self.drop_items((items.len() - n) as u64);
        }
        n
    }

    /// Items produced in the current call so far.
    pub fn produced(&self) -> usize {
        self.produced as usize
    }

    /// Runtime: loads the free space.
    pub(crate) fn refresh(&mut self) {
        let (w, free) = self.buf.writable();
        self.pos = w;
        self.space = free;
        self.produced = 0;
    }

    /// Runtime: true if a work call could make progress with this output.
    pub(crate) fn ready(&self) -> bool {
        self.space >= self.min_items as u64 || self.buf.all_readers_detached()
    }

    /// Runtime: true when nobody reads this output any more.
    pub(crate) fn closed(&self) -> bool {
        self.buf.all_readers_detached()
    }

    /// Runtime: the items dropped since the last call (live sources).
    pub(crate) fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }

    /// Runtime: queues a tag produced by propagation.
    pub(crate) fn push_propagated(&mut self, t: ItemTag) {
        self.tags.push(t);
    }

    /// Runtime: publishes what was produced and tagged. Returns (items, dropped on lossy edges).
    pub(crate) fn commit(&mut self) -> (u64, u64) {
        let n = self.produced;
        if self.pending_gap > 0 && self.pending_gap_at < self.pos + n {
            // An item was produced after the drop: the gap precedes it.
            self.tags.push(ItemTag {
                position: self.pending_gap_at.max(self.pos),
                tag: Tag::Gap(self.pending_gap),
            });
            self.pending_gap = 0;
        }
        // Tags beyond the produced range wait for a later call.
        let end = self.pos + n;
        self.tags.sort_by_key(|t| t.position);
        let split = self.tags.partition_point(|t| t.position < end);
        let mut later: Vec<ItemTag> = Vec::new();
        if split < self.tags.len() {
            later = self.tags.split_off(split);
        }
        let mut lossy = 0;
        if !self.private.is_empty() && (n > 0 || !self.tags.is_empty()) {
            let bytes = n as usize * self.item_type.size();
            // SAFETY: the n items at pos were just written by this producer and stay until commit.
            let src = unsafe { std::slice::from_raw_parts(self.buf.ptr_at(self.pos), bytes) };
            for e in &self.private {
                lossy += e.push(src, self.pos, &self.tags, &mut self.scratch);
            }
        }
        self.buf.commit(n, &mut self.tags);
        self.tags.append(&mut later);
        self.pos = end;
        self.space -= n;
        self.produced = 0;
        (n, lossy)
    }

    /// Runtime: the writer is done.
    pub(crate) fn finish(&mut self) {
        let mut eos = Vec::with_capacity(2);
        if self.pending_gap > 0 {
            // Items lost after the last one written: reported on the end-of-stream position.
            let gap = std::mem::take(&mut self.pending_gap);
            eos.push(ItemTag {
                position: self.pos,
                tag: Tag::Gap(gap),
            });
        }
        eos.push(ItemTag {
            position: self.pos,
            tag: Tag::Eos,
        });
        for e in &self.private {
            e.push(&[], self.pos, &eos, &mut self.scratch);
            e.finish();
        }
        self.buf.commit(0, &mut eos);
        self.buf.finish();
    }

    /// Runtime: window start of this call.
    pub(crate) fn window_start(&self) -> u64 {
        self.pos
    }
}

/// A message target of a message output.
#[derive(Debug)]
pub(crate) struct MessageTarget {
    pub(crate) tx: flume::Sender<Message>,
    /// A receiver clone, to discard the oldest message under `drop_oldest`.
    pub(crate) rx: flume::Receiver<Message>,
    pub(crate) waker: Arc<Waker>,
    pub(crate) capacity: usize,
    pub(crate) policy: crate::graph::EdgePolicy,
}

/// A message output during a work call.
#[derive(Debug)]
pub struct MessageOutput {
    name: Arc<str>,
    pub(crate) targets: Vec<MessageTarget>,
    pub(crate) sent: u64,
    pub(crate) dropped: u64,
}

impl MessageOutput {
    pub(crate) fn new(name: Arc<str>, targets: Vec<MessageTarget>) -> Self {
        MessageOutput {
            name,
            targets,
            sent: 0,
            dropped: 0,
        }
    }

    /// The port name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends a message to every connected input (cloning is cheap: payloads are shared).
    ///
    /// Never blocks. Under the `block` policy a full queue holds the *block* back (it is not
    /// scheduled until the queue drains); under the drop policies the message or the oldest
    /// queued one is discarded and counted.
    pub fn post(&mut self, msg: Message) {
        use crate::graph::EdgePolicy;
        let last = self.targets.len().saturating_sub(1);
        let mut msg = Some(msg);
        for (i, t) in self.targets.iter().enumerate() {
            let m = if i == last { msg.take() } else { msg.clone() };
            let Some(m) = m else { break };
            if t.tx.len() >= t.capacity {
                match t.policy {
                    EdgePolicy::Block => {}
                    EdgePolicy::DropNewest => {
                        self.dropped += 1;
                        continue;
                    }
                    EdgePolicy::DropOldest => {
                        if t.rx.try_recv().is_ok() {
                            self.dropped += 1;
                        }
                    }
                }
            }
            if t.tx.send(m).is_ok() {
                self.sent += 1;
                t.waker.wake();
            }
        }
    }

    /// True when nobody is connected.
    pub fn is_connected(&self) -> bool {
        !self.targets.is_empty()
    }

    /// Runtime: false if a `block`-policy target is full.
    pub(crate) fn ready(&self) -> bool {
        self.targets
            .iter()
            .all(|t| t.policy != crate::graph::EdgePolicy::Block || t.tx.len() < t.capacity)
    }

    /// Runtime: disconnect (receivers see the end once every sender is gone).
    pub(crate) fn close(&mut self) {
        for t in self.targets.drain(..) {
            t.waker.wake();
        }
    }
}

/// A message input during a work call.
#[derive(Debug)]
pub struct MessageInput {
    name: Arc<str>,
    pub(crate) rx: flume::Receiver<Message>,
    pub(crate) received: u64,
}

impl MessageInput {
    pub(crate) fn new(name: Arc<str>, rx: flume::Receiver<Message>) -> Self {
        MessageInput {
            name,
            rx,
            received: 0,
        }
    }

    /// The port name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next queued message, if any (never blocks).
    pub fn recv(&mut self) -> Option<Message> {
        let m = self.rx.try_recv().ok();
        if m.is_some() {
            self.received += 1;
        }
        m
    }

    /// Number of queued messages.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// True when no message is queued.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// True when every sender has finished and the queue is empty.
    pub fn is_finished(&self) -> bool {
        self.rx.is_disconnected() && self.rx.is_empty()
    }
}

/// Everything a block reads and writes in one work call.
///
/// The fields are public so a block can borrow an input slice and an output slice at once:
/// `let i = io.inputs[0].slice::<f32>(); let o = io.outputs[0].slice_mut::<f32>();`.
pub struct WorkIo<'a> {
    /// Stream inputs, in signature order.
    pub inputs: &'a mut [StreamInput],
    /// Stream outputs, in signature order.
    pub outputs: &'a mut [StreamOutput],
    /// Message inputs, in signature order.
    pub msg_in: &'a mut [MessageInput],
    /// Message outputs, in signature order.
    pub msg_out: &'a mut [MessageOutput],
}

impl WorkIo<'_> {
    /// True when every stream input is finished and drained, and every message input is
    /// finished: nothing more will arrive. (False for a block without inputs.)
    pub fn inputs_done(&self) -> bool {
        (!self.inputs.is_empty() || !self.msg_in.is_empty())
            && self.inputs.iter().all(|i| i.is_finished() && i.is_empty())
            && self.msg_in.iter().all(MessageInput::is_finished)
    }
}

/// Folds per-call drop counts of outputs into the block metrics.
pub(crate) fn record_output_drops(outputs: &mut [StreamOutput], metrics: &BlockMetrics) -> u64 {
    let mut total = 0;
    for o in outputs {
        total += o.take_dropped();
    }
    if total > 0 {
        metrics.dropped.fetch_add(total, Ordering::Relaxed);
    }
    total
}

#[cfg(test)]
mod tests {
    use crate::harness::Harness;
    use crate::prelude::*;

    /// Parameters of `port_drop_test` (none).
    #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct P {}

    /// In one call: writes 0..3, drops 2, writes 5..8; then in a second call drops 1 and
    /// in a third writes 9.
    struct DropInCall {
        calls: u32,
    }

    impl Block for DropInCall {
        fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
            let out = &mut io.outputs[0];
            self.calls += 1;
            match self.calls {
                1 => {
                    out.write_live(&[0i32, 1, 2]);
                    out.drop_items(2);
                    out.write_live(&[5i32, 6, 7]);
                }
                2 => out.drop_items(1),
                _ => {
                    assert!(out.live_accepts());
                    out.write_live(&[9i32]);
                    return Ok(Flow::Done);
                }
            }
            Ok(Flow::Continue)
        }
    }

    struct DropInCallDef;
    impl BlockDef for DropInCallDef {
        type Params = P;
        const NAME: &'static str = "port_drop_test";
        const SUMMARY: &'static str = "test";
        const DOC: &'static str = "test";
        const EXAMPLE: &'static str = "";
        fn signature(_: &P) -> Signature {
            Signature::new().output("out", ItemType::I32).live()
        }
        fn build(_: &P, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
            Ok(Box::new(DropInCall { calls: 0 }))
        }
    }

    #[test]
    fn a_drop_inside_a_call_tags_the_item_after_it() {
        let mut h = Harness::of::<DropInCallDef>(P {}, &[]).unwrap();
        h.run_for(std::time::Duration::from_secs(5));
        assert!(h.is_done());
        assert_eq!(h.output::<i32>(0), vec![0, 1, 2, 5, 6, 7, 9]);
        let gaps: Vec<(u64, u64)> = h
            .output_tags(0)
            .iter()
            .filter_map(|t| match t.tag {
                Tag::Gap(n) => Some((t.position, n)),
                _ => None,
            })
            .collect();
        // Item 3 (value 5) follows the 2 dropped; item 6 (value 9) follows 1 more.
        assert_eq!(gaps, vec![(3, 2), (6, 1)]);
        assert_eq!(
            h.metrics()
                .dropped
                .load(std::sync::atomic::Ordering::Relaxed),
            3
        );
    }
}
