//! Private edges for the lossy policies `drop_newest` and `drop_oldest`.
//!
//! A consumer that may lose data must never hold back its producer or its siblings, so it
//! does not read the producer's shared buffer: the producer copies each committed range into
//! the consumer's own ring instead (one copy per lossy consumer; lossless consumers still
//! share the producer's buffer).
//!
//! When the private ring is full:
//! - `drop_newest` keeps what is queued and discards the incoming items that do not fit;
//! - `drop_oldest` discards the queued backlog the consumer has not started on (everything
//!   after its current work window) and queues the newest items instead, so a slow consumer
//!   jumps to live data. To leave room for that, a consumer's window is at most half the ring.
//!
//! Either way the loss is counted and a [`Tag::Gap`] with the number of lost items is put on
//! the first item after it. Rate, frequency and user tags of lost items are kept (moved to
//! that item, as they hold "from here on"); time tags are not, as the gap keeps the sample
//! index, from which time follows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::stream::{ReadWindow, StreamBuffer};
use crate::tag::{ItemTag, Tag};

/// Which items a full private edge discards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropPolicy {
    /// Discard incoming items that do not fit.
    Newest,
    /// Discard the queued backlog in favour of incoming items.
    Oldest,
}

#[derive(Default, Debug)]
struct EdgeState {
    /// End of the consumer's current work window; the backlog starts here.
    claimed_end: u64,
    /// Items lost since the last write, to report as a gap on the next written item.
    pending_gap: u64,
    /// Tags of lost items still to be delivered (time tags excluded).
    carried: Vec<Tag>,
}

/// A lossy edge with its own ring.
#[derive(Debug)]
pub struct PrivateEdge {
    buf: StreamBuffer,
    policy: DropPolicy,
    state: Mutex<EdgeState>,
    dropped: AtomicU64,
}

impl PrivateEdge {
    /// Wraps a single-reader buffer.
    pub fn new(buf: StreamBuffer, policy: DropPolicy) -> Self {
        debug_assert_eq!(buf.reader_count(), 1);
        PrivateEdge {
            buf,
            policy,
            state: Mutex::new(EdgeState::default()),
            dropped: AtomicU64::new(0),
        }
    }

    /// The ring.
    pub fn buffer(&self) -> &StreamBuffer {
        &self.buf
    }

    /// Items discarded so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Producer: copies the items in `src` (positions `src_pos..` of the producer's stream,
    /// tags in `tags`) into the ring, dropping per policy. `scratch` is a reusable tag vector.
    /// Returns the number of items dropped by this call.
    pub fn push(
        &self,
        src: &[u8],
        src_pos: u64,
        tags: &[ItemTag],
        scratch: &mut Vec<ItemTag>,
    ) -> u64 {
        let item = self.buf.item_type().size();
        let n = (src.len() / item) as u64;
        if self.buf.all_readers_detached() || (n == 0 && tags.is_empty()) {
            return 0;
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let cap = self.buf.capacity();
        let (mut w, mut free) = self.buf.writable();
        let mut lost = 0;
        if free < n && self.policy == DropPolicy::Oldest {
            let keep_to = st.claimed_end.max(self.buf.readable(0).pos);
            if w > keep_to {
                lost += w - keep_to;
                for t in self.buf.rewind_to(keep_to) {
                    match t.tag {
                        // Earlier losses inside the discarded backlog stay counted.
                        Tag::Gap(g) => lost += g,
                        Tag::Time { .. } => {}
                        other => st.carried.push(other),
                    }
                }
                w = keep_to;
                free = cap - (keep_to - self.buf.readable(0).pos);
            }
        }
        let take = n.min(free);
        // drop_newest writes the first `take` items; drop_oldest the last `take`.
        let skip = if self.policy == DropPolicy::Oldest {
            n - take
        } else {
            0
        };
        if self.policy == DropPolicy::Oldest {
            lost += skip;
        }
        if take > 0 {
            let from = &src[skip as usize * item..(skip + take) as usize * item];
            // SAFETY: the ring has `free >= take` writable items at w, owned by the producer.
            unsafe { std::ptr::copy_nonoverlapping(from.as_ptr(), self.buf.ptr_at(w), from.len()) };
        }
        scratch.clear();
        let (kept_from, kept_to) = (src_pos + skip, src_pos + skip + take);
        for t in tags {
            if n == 0 && t.position >= src_pos {
                // Tags after the last item (end of stream) go after the last queued item.
                scratch.push(ItemTag {
                    position: w,
                    tag: t.tag.clone(),
                });
            } else if t.position >= kept_from && t.position < kept_to {
                scratch.push(ItemTag {
                    position: w + (t.position - kept_from),
                    tag: t.tag.clone(),
                });
            } else if !matches!(t.tag, Tag::Time { .. }) {
                st.carried.push(t.tag.clone());
            }
        }
        st.pending_gap += lost;
        let at_end = n == 0 && tags.iter().any(|t| t.tag == Tag::Eos);
        if take > 0 || at_end {
            if st.pending_gap > 0 {
                scratch.insert(
                    0,
                    ItemTag {
                        position: w,
                        tag: Tag::Gap(st.pending_gap),
                    },
                );
                st.pending_gap = 0;
            }
            for tag in st.carried.drain(..) {
                scratch.insert(1.min(scratch.len()), ItemTag { position: w, tag });
            }
        }
        let dropped_new = if self.policy == DropPolicy::Newest {
            n - take
        } else {
            0
        };
        st.pending_gap += dropped_new;
        lost += dropped_new;
        self.buf.commit(take, scratch);
        if lost > 0 {
            self.dropped.fetch_add(lost, Ordering::Relaxed);
        }
        lost
    }

    /// Producer finished.
    pub fn finish(&self) {
        self.buf.finish();
    }

    /// Consumer: claims its work window (at most half the ring under `drop_oldest`).
    pub fn claim(&self) -> ReadWindow {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let win = self.buf.readable(0);
        let limit = match self.policy {
            DropPolicy::Oldest => self.buf.capacity() / 2,
            DropPolicy::Newest => self.buf.capacity(),
        };
        let available = win.available.min(limit);
        st.claimed_end = win.pos + available;
        ReadWindow {
            pos: win.pos,
            available,
            finished: win.finished && available == win.available,
        }
    }

    /// Consumer: releases `n` items of its window; the rest of the window is released too.
    pub fn consume(&self, n: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.buf.consume(0, n);
        st.claimed_end = self.buf.readable(0).pos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::waker::Waker;
    use crate::item::ItemType;
    use std::sync::Arc;

    fn edge(policy: DropPolicy) -> PrivateEdge {
        let w = Arc::new(Waker::new());
        let b = StreamBuffer::new(ItemType::U8, 1, w.clone(), vec![w]).unwrap();
        PrivateEdge::new(b, policy)
    }

    fn read_all(e: &PrivateEdge) -> (Vec<u8>, Vec<ItemTag>) {
        let win = e.claim();
        // SAFETY: the window is readable.
        let data = unsafe {
            std::slice::from_raw_parts(e.buffer().ptr_at(win.pos), win.available as usize)
        }
        .to_vec();
        let mut tags = Vec::new();
        e.buffer()
            .tags_in(win.pos, win.pos + win.available, &mut tags);
        e.consume(win.available);
        (data, tags)
    }

    #[test]
    fn drop_newest_keeps_queue_and_reports_gap_on_resume() {
        let e = edge(DropPolicy::Newest);
        let cap = e.buffer().capacity() as usize;
        let src: Vec<u8> = (0..cap + 10).map(|i| i as u8).collect();
        let mut s = Vec::new();
        assert_eq!(e.push(&src, 0, &[], &mut s), 10);
        let (data, tags) = read_all(&e);
        assert_eq!(data, src[..cap]);
        assert!(tags.is_empty());
        e.push(&[7u8], src.len() as u64, &[], &mut s);
        let (data, tags) = read_all(&e);
        assert_eq!(data, vec![7]);
        assert_eq!(
            tags,
            vec![ItemTag {
                position: cap as u64,
                tag: Tag::Gap(10)
            }]
        );
        assert_eq!(e.dropped(), 10);
    }

    #[test]
    fn drop_oldest_discards_unclaimed_backlog_but_not_the_window() {
        let e = edge(DropPolicy::Oldest);
        let cap = e.buffer().capacity();
        let mut s = Vec::new();
        let first = vec![1u8; cap as usize];
        e.push(
            &first,
            0,
            &[ItemTag {
                position: 0,
                tag: Tag::Rate(5.0),
            }],
            &mut s,
        );
        let win = e.claim();
        assert_eq!(win.available, cap / 2, "window limited to half the ring");
        // The consumer is working on the first half; new data arrives.
        let second = [2u8; 8];
        let lost = e.push(&second, cap, &[], &mut s);
        assert_eq!(lost, cap / 2, "the unclaimed half is discarded");
        e.consume(win.available);
        let (data, tags) = read_all(&e);
        assert_eq!(data, vec![2u8; 8]);
        assert_eq!(
            tags,
            vec![ItemTag {
                position: cap / 2,
                tag: Tag::Gap(cap / 2)
            }]
        );
    }
}
