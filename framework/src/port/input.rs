//! The stream input a block reads during `work`: a window over the producer's buffer (or a
//! private lossy ring), its tags, and the sample index that counts lost samples.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::buffer::{PrivateEdge, StreamBuffer};
use crate::item::{Item, ItemType};
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
