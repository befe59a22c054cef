//! A ring buffer reader (the Rust twin of `python/flow_ring.py`): attaches to a ring file
//! read-only, follows new records, and validates each one with the tail seqlock so it never
//! returns a record the writer was overwriting; records pushed out before it got to them
//! are reported as missed.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{fence, Ordering};

use memmap2::Mmap;

use super::layout::*;
use super::RingError;

/// What [`RingReader::next`] found.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// A complete record (its body copied into the caller's buffer).
    Record(RecordHeader),
    /// The writer overwrote this many records before the reader got to them; reading
    /// continues at the oldest valid record.
    Missed(u64),
    /// No new record yet.
    Empty,
}

/// Reads a ring file written by another process (or thread).
pub struct RingReader {
    map: Mmap,
    capacity: u64,
    data_offset: usize,
    index_offset: usize,
    index_entries: u64,
    next_seq: u64,
}

impl RingReader {
    /// Attaches to the ring at `path`, positioned at its oldest valid record.
    pub fn attach(path: &Path) -> Result<Self, RingError> {
        let file = File::open(path)
            .map_err(|e| RingError::Io(format!("opening {}", path.display()), e))?;
        // SAFETY: read-only mapping of a file another process writes; we only read it
        // through volatile reads and atomics and validate what we read.
        let map = unsafe { Mmap::map(&file) }
            .map_err(|e| RingError::Io(format!("mapping {}", path.display()), e))?;
        if map.len() < HEADER_SIZE {
            return Err(RingError::Layout("file shorter than the header".into()));
        }
        let mut r = RingReader {
            map,
            capacity: 0,
            data_offset: 0,
            index_offset: 0,
            index_entries: 1,
            next_seq: 0,
        };
        let h = r.header();
        if h.magic.load(Ordering::Acquire) != MAGIC || h.version != VERSION {
            return Err(RingError::Layout(
                "not a flow ring buffer (magic/version)".into(),
            ));
        }
        let (cap, data, index, entries) = (
            h.capacity_bytes,
            h.data_offset,
            h.index_offset,
            h.index_entries,
        );
        if data + cap > r.map.len() as u64
            || entries == 0
            || index + entries * INDEX_ENTRY_SIZE as u64 > data
        {
            return Err(RingError::Layout("sections lie outside the file".into()));
        }
        r.next_seq = h.tail_seq.load(Ordering::Acquire);
        r.capacity = cap;
        r.data_offset = data as usize;
        r.index_offset = index as usize;
        r.index_entries = entries;
        Ok(r)
    }

    /// The file header.
    pub fn header(&self) -> &RingHeader {
        // SAFETY: the mapping is page-aligned and at least HEADER_SIZE long (checked).
        unsafe { &*(self.map.as_ptr() as *const RingHeader) }
    }

    /// The Arrow IPC schema message.
    pub fn schema(&self) -> &[u8] {
        let h = self.header();
        let at = h.schema_offset as usize;
        &self.map[at..at + (h.schema_len as usize).min(h.schema_capacity as usize)]
    }

    /// Sequence number of the next record [`RingReader::next`] returns.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Moves to the newest record (skipping older ones without counting them missed).
    pub fn seek_to_head(&mut self) {
        self.next_seq = self.header().head_seq.load(Ordering::Acquire);
    }

    /// The next record, copied into `body`, validated; or how many were missed.
    pub fn next(&mut self, body: &mut Vec<u8>) -> Next {
        let h = self.header();
        let head = h.head_seq.load(Ordering::Acquire);
        if self.next_seq >= head {
            return Next::Empty;
        }
        let tail = h.tail_seq.load(Ordering::Acquire);
        if self.next_seq < tail {
            let missed = tail - self.next_seq;
            self.next_seq = tail;
            return Next::Missed(missed);
        }
        let seq = self.next_seq;
        let ie = self.index_offset + (seq % self.index_entries) as usize * INDEX_ENTRY_SIZE;
        // SAFETY: inside the index section; plain data, validated below.
        let entry =
            unsafe { std::ptr::read_volatile(self.map.as_ptr().add(ie) as *const IndexEntry) };
        let at = self.data_offset + (entry.pos % self.capacity) as usize;
        let ok_shape = at + RECORD_HEADER_SIZE <= self.map.len();
        let rec = if ok_shape {
            // SAFETY: bounds checked just above; plain data, validated below.
            unsafe { std::ptr::read_volatile(self.map.as_ptr().add(at) as *const RecordHeader) }
        } else {
            RecordHeader::default()
        };
        let start = at + RECORD_HEADER_SIZE;
        let end = start + rec.body_len as usize;
        body.clear();
        if ok_shape && end <= self.map.len() {
            body.extend_from_slice(&self.map[start..end]);
        }
        // Seqlock check: was record `seq` still valid after we copied it?
        fence(Ordering::Acquire);
        let tail_after = self.header().tail_seq.load(Ordering::Relaxed);
        if tail_after > seq {
            let missed = tail_after - seq;
            self.next_seq = tail_after;
            return Next::Missed(missed);
        }
        if entry.seq != seq || rec.seq != seq || end > self.map.len() {
            // Cannot happen with a correct writer; treat it as data we cannot trust.
            self.next_seq = seq + 1;
            return Next::Missed(1);
        }
        self.next_seq = seq + 1;
        Next::Record(rec)
    }
}
