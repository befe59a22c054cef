//! The stream buffer of one output port: a mirrored circular buffer with one writer and a
//! fixed set of readers, each with its own read position. All readers share the same bytes
//! (fan-out without a copy). The writer may only overwrite items that every attached reader
//! has consumed, which is backpressure; a reader that detaches (its block finished or failed)
//! no longer holds the writer back.
//!
//! Positions are absolute item counts (`u64`, they never wrap in practice). The writer
//! publishes with a release store of `write_pos`; readers publish consumption with release
//! stores of their own positions. No lock is taken on the data path.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::mirrored::MirroredMemory;
use super::tags::TagQueue;
use super::waker::Waker;
use crate::item::ItemType;
use crate::tag::ItemTag;

/// Pads a value to its own cache line so writer and reader positions do not false-share.
#[repr(align(128))]
#[derive(Default, Debug)]
pub struct CachePadded<T>(pub T);

/// Read state of one reader of a [`StreamBuffer`].
#[derive(Debug)]
pub struct ReaderSlot {
    pos: CachePadded<AtomicU64>,
    attached: AtomicBool,
    waker: Arc<Waker>,
}

/// A snapshot of what a reader may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadWindow {
    /// Absolute position of the first readable item.
    pub pos: u64,
    /// Number of readable items.
    pub available: u64,
    /// The writer has finished and nothing beyond `pos + available` will ever come.
    pub finished: bool,
}

/// One output port's circular buffer.
pub struct StreamBuffer {
    mem: MirroredMemory,
    item_type: ItemType,
    capacity: u64,
    write_pos: CachePadded<AtomicU64>,
    writer_done: AtomicBool,
    writer_waker: Arc<Waker>,
    readers: Vec<ReaderSlot>,
    tags: TagQueue,
}

impl std::fmt::Debug for StreamBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamBuffer")
            .field("item_type", &self.item_type)
            .field("capacity", &self.capacity)
            .field("write_pos", &self.write_pos.0.load(Ordering::Relaxed))
            .finish()
    }
}

impl StreamBuffer {
    /// A buffer of at least `min_items` items of `item_type`, written by the thread behind
    /// `writer_waker` and read by one reader per entry of `reader_wakers`.
    pub fn new(
        item_type: ItemType,
        min_items: usize,
        writer_waker: Arc<Waker>,
        reader_wakers: Vec<Arc<Waker>>,
    ) -> io::Result<Self> {
        let mem = MirroredMemory::new(min_items * item_type.size(), item_type.size())?;
        let capacity = (mem.len() / item_type.size()) as u64;
        let readers = reader_wakers
            .into_iter()
            .map(|waker| ReaderSlot {
                pos: CachePadded(AtomicU64::new(0)),
                attached: AtomicBool::new(true),
                waker,
            })
            .collect();
        Ok(StreamBuffer {
            mem,
            item_type,
            capacity,
            write_pos: CachePadded(AtomicU64::new(0)),
            writer_done: AtomicBool::new(false),
            writer_waker,
            readers,
            tags: TagQueue::default(),
        })
    }

    /// Item type of the stream.
    pub fn item_type(&self) -> ItemType {
        self.item_type
    }

    /// Capacity in items.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Number of readers (attached or not).
    pub fn reader_count(&self) -> usize {
        self.readers.len()
    }

    /// Pointer to the item at absolute position `pos`; valid for `capacity` items onward.
    #[inline]
    pub fn ptr_at(&self, pos: u64) -> *mut u8 {
        let offset = (pos % self.capacity) as usize * self.item_type.size();
        // SAFETY: offset < len, and the mirror makes offset..offset+len valid.
        unsafe { self.mem.as_ptr().add(offset) }
    }

    /// The oldest position an attached reader still needs, or `None` with no attached reader.
    fn min_reader_pos(&self) -> Option<u64> {
        self.readers
            .iter()
            .filter(|r| r.attached.load(Ordering::Acquire))
            .map(|r| r.pos.0.load(Ordering::Acquire))
            .min()
    }

    /// Writer: the next write position and how many items may be written there.
    #[inline]
    pub fn writable(&self) -> (u64, u64) {
        let w = self.write_pos.0.load(Ordering::Relaxed);
        let free = match self.min_reader_pos() {
            Some(r) => self.capacity - (w - r),
            None => self.capacity,
        };
        (w, free)
    }

    /// True when every reader has detached: nobody will ever read what is written.
    pub fn all_readers_detached(&self) -> bool {
        !self
            .readers
            .iter()
            .any(|r| r.attached.load(Ordering::Acquire))
    }

    /// Fill level in items as the slowest attached reader sees it.
    pub fn fill(&self) -> u64 {
        let w = self.write_pos.0.load(Ordering::Acquire);
        self.min_reader_pos().map_or(0, |r| w.saturating_sub(r))
    }

    /// Writer: publishes `n` items written at the write position, with their tags.
    pub fn commit(&self, n: u64, tags: &mut Vec<ItemTag>) {
        if !tags.is_empty() {
            let prune = self.min_reader_pos().unwrap_or(u64::MAX);
            self.tags.push(tags, prune);
        }
        if n == 0 {
            return;
        }
        let w = self.write_pos.0.load(Ordering::Relaxed);
        self.write_pos.0.store(w + n, Ordering::Release);
        for r in &self.readers {
            if r.attached.load(Ordering::Relaxed) {
                r.waker.wake();
            }
        }
    }

    /// Writer: no more items will come. Readers see `finished` once they drain.
    pub fn finish(&self) {
        self.writer_done.store(true, Ordering::Release);
        for r in &self.readers {
            r.waker.wake();
        }
    }

    /// True once the writer has finished.
    pub fn is_finished(&self) -> bool {
        self.writer_done.load(Ordering::Acquire)
    }

    /// Reader `idx`: what it may read now.
    #[inline]
    pub fn readable(&self, idx: usize) -> ReadWindow {
        let finished = self.writer_done.load(Ordering::Acquire);
        let w = self.write_pos.0.load(Ordering::Acquire);
        let r = self.readers[idx].pos.0.load(Ordering::Relaxed);
        ReadWindow {
            pos: r,
            available: w - r,
            finished,
        }
    }

    /// Reader `idx`: the tags of positions `from..to`, into `out`.
    pub fn tags_in(&self, from: u64, to: u64, out: &mut Vec<ItemTag>) {
        self.tags.collect(from, to, out);
    }

    /// Reader `idx`: releases `n` items.
    #[inline]
    pub fn consume(&self, idx: usize, n: u64) {
        if n == 0 {
            return;
        }
        let slot = &self.readers[idx];
        let r = slot.pos.0.load(Ordering::Relaxed);
        slot.pos.0.store(r + n, Ordering::Release);
        self.writer_waker.wake();
    }

    /// Reader `idx` will read no more; the writer stops waiting for it.
    pub fn detach(&self, idx: usize) {
        self.readers[idx].attached.store(false, Ordering::Release);
        self.writer_waker.wake();
    }

    /// Writer side of a private edge: moves the write position back to `pos`, discarding
    /// the items and tags after it, and returns those tags. Only for buffers whose single
    /// reader never reads past `pos` (the caller holds the edge lock that guarantees it).
    pub(crate) fn rewind_to(&self, pos: u64) -> Vec<ItemTag> {
        let removed = self.tags.truncate_from(pos);
        self.write_pos.0.store(pos, Ordering::Release);
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::Tag;

    fn buf(readers: usize) -> StreamBuffer {
        let w = Arc::new(Waker::new());
        StreamBuffer::new(ItemType::F32, 1000, w.clone(), vec![w; readers]).unwrap()
    }

    #[test]
    fn backpressure_follows_the_slowest_attached_reader() {
        let b = buf(2);
        let cap = b.capacity();
        assert!(cap >= 1000);
        assert_eq!(b.writable(), (0, cap));
        b.commit(cap, &mut Vec::new());
        assert_eq!(b.writable(), (cap, 0));
        b.consume(0, 10);
        assert_eq!(b.writable().1, 0, "reader 1 still holds the oldest items");
        b.consume(1, 4);
        assert_eq!(b.writable().1, 4);
        b.detach(1);
        assert_eq!(b.writable().1, 10);
        assert_eq!(
            b.readable(0),
            ReadWindow {
                pos: 10,
                available: cap - 10,
                finished: false
            }
        );
    }

    #[test]
    fn data_is_contiguous_across_the_wrap() {
        let b = buf(1);
        let cap = b.capacity();
        b.commit(cap - 2, &mut Vec::new());
        b.consume(0, cap - 2);
        let (w, free) = b.writable();
        assert_eq!(free, cap);
        // SAFETY: the writer owns w..w+free.
        let out = unsafe { std::slice::from_raw_parts_mut(b.ptr_at(w) as *mut f32, 4) };
        out.copy_from_slice(&[1.0, 2.0, 3.0, 4.0]);
        b.commit(
            4,
            &mut vec![ItemTag {
                position: w + 3,
                tag: Tag::Eos,
            }],
        );
        let win = b.readable(0);
        // SAFETY: the reader may read pos..pos+available.
        let input = unsafe { std::slice::from_raw_parts(b.ptr_at(win.pos) as *const f32, 4) };
        assert_eq!(input, &[1.0, 2.0, 3.0, 4.0]);
        let mut tags = Vec::new();
        b.tags_in(win.pos, win.pos + win.available, &mut tags);
        assert_eq!(tags.len(), 1);
        assert_eq!(tags[0].position, cap + 1);
    }
}
