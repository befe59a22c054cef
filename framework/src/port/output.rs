//! The stream output a block writes during `work`: free space in its buffer, tags, live
//! drops with hysteresis, and the copy into lossy consumers' private rings at commit.

use std::sync::Arc;

use crate::buffer::{PrivateEdge, StreamBuffer};
use crate::item::{Item, ItemType};
use crate::tag::{ItemTag, Tag};

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
        self.space >= self.min_items as u64 || self.closed()
    }

    /// Runtime: true when nobody reads this output any more: no lossless reader of the
    /// shared buffer and no lossy edge is attached. (An output whose only consumers are
    /// lossy edges has a shared buffer without readers; it is not closed for that.)
    pub(crate) fn closed(&self) -> bool {
        self.buf.all_readers_detached()
            && self
                .private
                .iter()
                .all(|e| e.buffer().all_readers_detached())
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
