//! The tag queue of one stream buffer: tags sorted by position, shared by the writer and all
//! readers of the edge. Readers copy the tags of their current window; the writer prunes
//! tags every reader has passed. A lock-free hint lets readers skip the lock when no tag lies
//! ahead of them, which is the common case.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::tag::ItemTag;

/// Tags of one stream buffer.
#[derive(Default, Debug)]
pub struct TagQueue {
    tags: Mutex<VecDeque<ItemTag>>,
    /// One past the position of the newest tag (0 when there never was one).
    end_hint: AtomicU64,
}

impl TagQueue {
    /// Appends tags (positions must not decrease), dropping tags before `prune_before`.
    pub fn push(&self, new: &mut Vec<ItemTag>, prune_before: u64) {
        if new.is_empty() {
            return;
        }
        let mut q = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        while q.front().is_some_and(|t| t.position < prune_before) {
            q.pop_front();
        }
        let mut end = 0;
        for t in new.drain(..) {
            end = end.max(t.position + 1);
            // Keep the queue sorted even if a block adds tags out of order.
            let at = q.partition_point(|x| x.position <= t.position);
            q.insert(at, t);
        }
        self.end_hint.fetch_max(end, Ordering::Release);
    }

    /// Copies the tags with `from <= position < to` into `out` (which is cleared first).
    pub fn collect(&self, from: u64, to: u64, out: &mut Vec<ItemTag>) {
        out.clear();
        if self.end_hint.load(Ordering::Acquire) <= from || from >= to {
            return;
        }
        let q = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        let start = q.partition_point(|t| t.position < from);
        out.extend(q.range(start..).take_while(|t| t.position < to).cloned());
    }

    /// Removes and returns the tags at or after `position` (used when a private edge
    /// discards its backlog).
    pub fn truncate_from(&self, position: u64) -> Vec<ItemTag> {
        let mut q = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        let keep = q.partition_point(|t| t.position < position);
        q.drain(keep..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::Tag;

    fn t(position: u64, n: u64) -> ItemTag {
        ItemTag {
            position,
            tag: Tag::Gap(n),
        }
    }

    #[test]
    fn collects_window_prunes_and_truncates() {
        let q = TagQueue::default();
        let mut out = Vec::new();
        q.collect(0, 100, &mut out);
        assert!(out.is_empty());
        q.push(&mut vec![t(5, 1), t(10, 2), t(7, 3)], 0);
        q.collect(6, 11, &mut out);
        assert_eq!(out, vec![t(7, 3), t(10, 2)]);
        q.push(&mut vec![t(20, 4)], 8);
        q.collect(0, 100, &mut out);
        assert_eq!(out, vec![t(10, 2), t(20, 4)]);
        assert_eq!(q.truncate_from(15), vec![t(20, 4)]);
        q.collect(0, 100, &mut out);
        assert_eq!(out, vec![t(10, 2)]);
    }
}
