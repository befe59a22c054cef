//! The layout of a flow ring buffer file: the `#[repr(C)]` file header, the per-record
//! header and the index entry, with the constants a reader checks. `docs/ring-buffer.md`
//! documents the same offsets, and tests check both against `std::mem::offset_of!`.
//!
//! ```text
//! 0                 header (512 bytes, RingHeader)
//! schema_offset     Arrow IPC schema message (schema_len bytes, schema_capacity reserved)
//! index_offset      index_entries × IndexEntry (32 bytes): where record `seq` starts
//! data_offset       data region (capacity_bytes): records, each a RecordHeader (64 bytes)
//!                   followed by one Arrow IPC record batch message, 64-byte aligned;
//!                   a record never straddles the end of the region (it starts at 0 instead)
//! ```
//! All integers are little-endian (the writer refuses to build on a big-endian target).

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64};

/// `b"FLOWRING"` read as a little-endian `u64`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"FLOWRING");
/// Layout version; a reader refuses other versions.
pub const VERSION: u32 = 1;
/// Size of [`RingHeader`] in bytes.
pub const HEADER_SIZE: usize = 512;
/// Size of [`RecordHeader`] in bytes.
pub const RECORD_HEADER_SIZE: usize = 64;
/// Size of [`IndexEntry`] in bytes.
pub const INDEX_ENTRY_SIZE: usize = 32;
/// Alignment of records, sections and the data region (a cache line; Arrow wants 8 or 64).
pub const ALIGN: usize = 64;

/// [`RingHeader::state`]: the file is being initialized; wait.
pub const STATE_INIT: u32 = 0;
/// [`RingHeader::state`]: a writer is attached and writing.
pub const STATE_WRITING: u32 = 1;
/// [`RingHeader::state`]: the writer closed the buffer cleanly (no more records).
pub const STATE_CLOSED: u32 = 2;

/// [`RingHeader::kind`]: records hold a sample stream (one row per sample).
pub const KIND_STREAM: u32 = 1;
/// [`RingHeader::kind`]: records hold messages (one row per message).
pub const KIND_MESSAGES: u32 = 2;

/// The file header, at offset 0. Fields on the first two cache lines are written once at
/// initialization (`magic` last, with release ordering); the head, the tail and the
/// statistics each sit on their own cache line.
#[repr(C, align(64))]
pub struct RingHeader {
    /// [`MAGIC`]; zero while the file is being initialized.
    pub magic: AtomicU64,
    /// [`VERSION`].
    pub version: u32,
    /// [`HEADER_SIZE`].
    pub header_size: u32,
    /// Size of the data region in bytes (a multiple of [`ALIGN`]).
    pub capacity_bytes: u64,
    /// File offset of the data region.
    pub data_offset: u64,
    /// File offset of the schema message.
    pub schema_offset: u64,
    /// Bytes reserved for the schema message.
    pub schema_capacity: u32,
    /// Length of the Arrow IPC schema message (an encapsulated message: continuation
    /// marker, metadata length, flatbuffer).
    pub schema_len: u32,
    /// File offset of the index.
    pub index_offset: u64,
    /// Number of index entries (a power of two; the most records the buffer holds).
    pub index_entries: u64,
    /// Changes at every (re)initialization: a reader that sees it change re-attaches.
    pub generation: u64,
    /// When the buffer was initialized, ns since the Unix epoch.
    pub created_ns: i64,
    /// The span asked for (`seconds`), in ns; 0 when sized in bytes.
    pub span_ns: i64,
    /// [`KIND_STREAM`] or [`KIND_MESSAGES`].
    pub kind: u32,
    /// Bytes per stream item (8 for c32, 4 for f32; 0 for messages).
    pub item_size: u32,
    _pad1: [u8; 32],
    /// Byte position (monotonic, never wraps) just past the newest complete record.
    pub write_head: AtomicU64,
    /// Sequence number the next record will get (= records published so far). Stored last,
    /// with release ordering: a record is visible once `head_seq` counts it.
    pub head_seq: AtomicU64,
    /// Time of the last row of the newest record, ns since the Unix epoch.
    pub last_time_ns: AtomicI64,
    /// Process id of the writer.
    pub writer_pid: AtomicU32,
    /// [`STATE_INIT`], [`STATE_WRITING`] or [`STATE_CLOSED`].
    pub state: AtomicU32,
    _pad2: [u8; 32],
    /// Byte position of the oldest valid record.
    pub read_tail: AtomicU64,
    /// Sequence number of the oldest valid record. The writer raises it *before* it
    /// overwrites any byte of an older record: a reader that read record `s` is sure it
    /// read it whole if `tail_seq <= s` when it checks again after reading (a seqlock).
    pub tail_seq: AtomicU64,
    _pad3: [u8; 48],
    /// Rows (samples or messages) written in all.
    pub rows_written: AtomicU64,
    /// Records overwritten (pushed out of the buffer by newer ones).
    pub overwritten: AtomicU64,
    /// Times a writer re-attached to this buffer and resumed it (after a restart or a crash).
    pub recoveries: AtomicU64,
    /// Records the writer could not store (larger than the whole buffer).
    pub rejected: AtomicU64,
    _pad4: [u8; 224],
}

/// The header in front of every record in the data region.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RecordHeader {
    /// Sequence number of the record (0, 1, 2, ...).
    pub seq: u64,
    /// Length of the Arrow IPC message that follows this header.
    pub body_len: u32,
    /// Rows in the record batch.
    pub rows: u32,
    /// Time of the first row, ns since the Unix epoch.
    pub time_ns: i64,
    /// Time of the last row, ns since the Unix epoch.
    pub end_time_ns: i64,
    /// Streams: sample index of the first row. Messages: count of messages before it.
    pub first_index: u64,
    /// Streams: sample rate in Hz (row `k` is at `time_ns + k / rate_hz`). Messages: 0.
    pub rate_hz: f64,
    /// Streams: centre frequency in Hz if known, else 0.
    pub freq_hz: f64,
    /// `CLOCK_MONOTONIC` ns when the writer published the record (for latency checks).
    pub written_mono_ns: u64,
}

/// One index entry: where record `seq` starts and the times it covers. Entry `k` holds
/// the record with `seq % index_entries == k`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexEntry {
    /// Sequence number of the record.
    pub seq: u64,
    /// Byte position (monotonic) of the record; its offset in the data region is
    /// `pos % capacity_bytes`.
    pub pos: u64,
    /// Time of its first row.
    pub time_ns: i64,
    /// Time of its last row.
    pub end_time_ns: i64,
}

/// Rounds `n` up to a multiple of [`ALIGN`].
pub const fn align_up(n: u64) -> u64 {
    (n + ALIGN as u64 - 1) & !(ALIGN as u64 - 1)
}

/// Where the sections of a ring file lie, computed from its sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sections {
    /// File offset of the schema message.
    pub schema_offset: u64,
    /// Bytes reserved for the schema.
    pub schema_capacity: u64,
    /// File offset of the index.
    pub index_offset: u64,
    /// Index entries.
    pub index_entries: u64,
    /// File offset of the data region.
    pub data_offset: u64,
    /// Data region size.
    pub capacity_bytes: u64,
}

impl Sections {
    /// Lays out a file with room for a schema of `schema_capacity` bytes, `index_entries`
    /// records and `capacity_bytes` of data.
    pub fn new(schema_capacity: u64, index_entries: u64, capacity_bytes: u64) -> Self {
        let schema_offset = HEADER_SIZE as u64;
        let schema_capacity = align_up(schema_capacity);
        let index_offset = schema_offset + schema_capacity;
        let data_offset = align_up(index_offset + index_entries * INDEX_ENTRY_SIZE as u64);
        Sections {
            schema_offset,
            schema_capacity,
            index_offset,
            index_entries,
            data_offset,
            capacity_bytes: align_up(capacity_bytes),
        }
    }

    /// Total file size.
    pub fn file_len(&self) -> u64 {
        self.data_offset + self.capacity_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// The offsets documented in docs/ring-buffer.md and used by python/flow_ring.py.
    #[test]
    fn header_layout_matches_the_documented_c_offsets() {
        assert_eq!(size_of::<RingHeader>(), HEADER_SIZE);
        assert_eq!(align_of::<RingHeader>(), 64);
        let expect = [
            ("magic", offset_of!(RingHeader, magic), 0),
            ("version", offset_of!(RingHeader, version), 8),
            ("header_size", offset_of!(RingHeader, header_size), 12),
            ("capacity_bytes", offset_of!(RingHeader, capacity_bytes), 16),
            ("data_offset", offset_of!(RingHeader, data_offset), 24),
            ("schema_offset", offset_of!(RingHeader, schema_offset), 32),
            (
                "schema_capacity",
                offset_of!(RingHeader, schema_capacity),
                40,
            ),
            ("schema_len", offset_of!(RingHeader, schema_len), 44),
            ("index_offset", offset_of!(RingHeader, index_offset), 48),
            ("index_entries", offset_of!(RingHeader, index_entries), 56),
            ("generation", offset_of!(RingHeader, generation), 64),
            ("created_ns", offset_of!(RingHeader, created_ns), 72),
            ("span_ns", offset_of!(RingHeader, span_ns), 80),
            ("kind", offset_of!(RingHeader, kind), 88),
            ("item_size", offset_of!(RingHeader, item_size), 92),
            ("write_head", offset_of!(RingHeader, write_head), 128),
            ("head_seq", offset_of!(RingHeader, head_seq), 136),
            ("last_time_ns", offset_of!(RingHeader, last_time_ns), 144),
            ("writer_pid", offset_of!(RingHeader, writer_pid), 152),
            ("state", offset_of!(RingHeader, state), 156),
            ("read_tail", offset_of!(RingHeader, read_tail), 192),
            ("tail_seq", offset_of!(RingHeader, tail_seq), 200),
            ("rows_written", offset_of!(RingHeader, rows_written), 256),
            ("overwritten", offset_of!(RingHeader, overwritten), 264),
            ("recoveries", offset_of!(RingHeader, recoveries), 272),
            ("rejected", offset_of!(RingHeader, rejected), 280),
        ];
        for (name, got, want) in expect {
            assert_eq!(got, want, "offset of {name}");
        }
        // Head, tail and statistics each own a cache line.
        assert_eq!(offset_of!(RingHeader, write_head) % 64, 0);
        assert_eq!(offset_of!(RingHeader, read_tail) % 64, 0);
        assert_eq!(offset_of!(RingHeader, rows_written) % 64, 0);
    }

    #[test]
    fn record_and_index_layouts_match_the_docs() {
        assert_eq!(size_of::<RecordHeader>(), RECORD_HEADER_SIZE);
        let rec = [
            offset_of!(RecordHeader, seq),
            offset_of!(RecordHeader, body_len),
            offset_of!(RecordHeader, rows),
            offset_of!(RecordHeader, time_ns),
            offset_of!(RecordHeader, end_time_ns),
            offset_of!(RecordHeader, first_index),
            offset_of!(RecordHeader, rate_hz),
            offset_of!(RecordHeader, freq_hz),
            offset_of!(RecordHeader, written_mono_ns),
        ];
        assert_eq!(rec, [0, 8, 12, 16, 24, 32, 40, 48, 56]);
        assert_eq!(size_of::<IndexEntry>(), INDEX_ENTRY_SIZE);
        let idx = [
            offset_of!(IndexEntry, seq),
            offset_of!(IndexEntry, pos),
            offset_of!(IndexEntry, time_ns),
            offset_of!(IndexEntry, end_time_ns),
        ];
        assert_eq!(idx, [0, 8, 16, 24]);
        assert_eq!(&MAGIC.to_le_bytes(), b"FLOWRING");
    }

    #[test]
    fn sections_are_aligned_and_contiguous() {
        let s = Sections::new(1000, 1024, 100_000);
        assert_eq!(s.schema_offset, 512);
        assert_eq!(s.schema_capacity, 1024);
        assert_eq!(s.index_offset, 1536);
        assert_eq!(s.data_offset, 1536 + 32 * 1024);
        assert_eq!(s.capacity_bytes % 64, 0);
        assert_eq!(s.file_len(), s.data_offset + s.capacity_bytes);
    }
}
