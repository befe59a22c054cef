//! The ring buffer writer: creates or resumes a ring file and appends records so that a
//! reader in another process never mistakes overwritten bytes for a record (see the
//! protocol in [`super`]).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, Ordering};

use memmap2::MmapMut;

use super::layout::*;
use super::RingError;

/// What a ring file must look like: the writer resumes a file that matches, and replaces
/// one that does not.
#[derive(Clone, Debug, PartialEq)]
pub struct RingSpec {
    /// The file (e.g. under `/dev/shm`).
    pub path: PathBuf,
    /// Data region size in bytes.
    pub capacity_bytes: u64,
    /// Most records the buffer indexes (rounded up to a power of two).
    pub index_entries: u64,
    /// The Arrow IPC schema message.
    pub schema: Vec<u8>,
    /// [`KIND_STREAM`] or [`KIND_MESSAGES`].
    pub kind: u32,
    /// Bytes per stream item (0 for messages).
    pub item_size: u32,
    /// The span asked for, in ns (0 when sized in bytes).
    pub span_ns: i64,
}

/// Sizes `file` to `len` bytes with every block allocated now (`posix_fallocate`), so a
/// full filesystem (a full `/dev/shm`) refuses the ring at start with ENOSPC instead of
/// killing the process with SIGBUS at a later write into the mapping.
fn reserve(file: &std::fs::File, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsFd;
    match nix::fcntl::posix_fallocate(file.as_fd(), 0, len as i64) {
        Ok(()) => Ok(()),
        // Filesystems without fallocate: size it sparse, as before.
        Err(nix::errno::Errno::EOPNOTSUPP) => file.set_len(len),
        Err(e) => Err(e.into()),
    }
}

impl RingSpec {
    fn sections(&self) -> Sections {
        let schema_capacity = (self.schema.len() as u64).max(4096);
        Sections::new(
            schema_capacity,
            self.index_entries.next_power_of_two(),
            self.capacity_bytes,
        )
    }
}

/// How [`RingWriter::open`] found the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// There was no file: a new buffer.
    Created,
    /// A buffer with the same layout and schema was there: its records are kept and
    /// writing continues after them (after a restart or a crash of the writer).
    Resumed {
        /// Valid records found.
        records: u64,
    },
    /// A file was there but could not be resumed; it was replaced by a new buffer.
    Replaced {
        /// Why it could not be resumed.
        reason: String,
    },
}

/// What the writer knows about a record besides its body.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RecordMeta {
    /// Rows in the batch.
    pub rows: u32,
    /// Time of the first row, ns since the Unix epoch.
    pub time_ns: i64,
    /// Time of the last row.
    pub end_time_ns: i64,
    /// Sample index of the first row (streams) or messages before it.
    pub first_index: u64,
    /// Sample rate (streams).
    pub rate_hz: f64,
    /// Centre frequency (streams), 0 if unknown.
    pub freq_hz: f64,
}

/// Appends records to a ring file. One writer per file.
pub struct RingWriter {
    map: MmapMut,
    s: Sections,
    head_seq: u64,
    head_pos: u64,
    tail_seq: u64,
    tail_pos: u64,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// `CLOCK_MONOTONIC` in ns (the same clock as Python's `time.monotonic_ns()`).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl RingWriter {
    /// Opens the ring at `spec.path`: resumes it when its layout and schema match `spec`
    /// and its head, tail and index are consistent, else replaces it atomically with a new
    /// buffer (readers of the old file keep their mapping and see the path's inode change).
    pub fn open(spec: &RingSpec) -> Result<(Self, Opened), RingError> {
        if cfg!(target_endian = "big") {
            return Err(RingError::Layout("ring files are little-endian".into()));
        }
        let s = spec.sections();
        if s.capacity_bytes < 4 * ALIGN as u64 {
            return Err(RingError::Layout(format!(
                "capacity {} bytes is too small",
                s.capacity_bytes
            )));
        }
        let reason = match Self::try_resume(spec, &s) {
            Ok((w, records)) => return Ok((w, Opened::Resumed { records })),
            Err(Some(reason)) => Some(reason),
            Err(None) => None,
        };
        let w = Self::create(spec, &s)?;
        Ok((
            w,
            match reason {
                Some(reason) => Opened::Replaced { reason },
                None => Opened::Created,
            },
        ))
    }

    /// Resumes an existing file; `Err(None)` when there is none, `Err(Some(why))` when it
    /// cannot be resumed.
    fn try_resume(spec: &RingSpec, s: &Sections) -> Result<(Self, u64), Option<String>> {
        let file = match OpenOptions::new().read(true).write(true).open(&spec.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(None),
            Err(e) => return Err(Some(format!("cannot open it: {e}"))),
        };
        let len = file.metadata().map_err(|e| Some(e.to_string()))?.len();
        if len != s.file_len() {
            return Err(Some(format!(
                "its size {len} differs from {}",
                s.file_len()
            )));
        }
        reserve(&file, len).map_err(|e| Some(format!("cannot reserve its memory: {e}")))?;
        // SAFETY: the file is shared with readers (which only read) and with no other
        // writer; we only access it through raw reads/writes and atomics.
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(|e| Some(e.to_string()))?;
        let mut w = RingWriter {
            map,
            s: *s,
            head_seq: 0,
            head_pos: 0,
            tail_seq: 0,
            tail_pos: 0,
        };
        let records = w.check_existing(spec).map_err(Some)?;
        let h = w.header();
        h.writer_pid.store(std::process::id(), Ordering::Relaxed);
        h.recoveries.fetch_add(1, Ordering::Relaxed);
        h.state.store(STATE_WRITING, Ordering::Release);
        Ok((w, records))
    }

    /// Checks a mapped file against the spec and its own invariants; loads head and tail.
    fn check_existing(&mut self, spec: &RingSpec) -> Result<u64, String> {
        let s = self.s;
        let h = self.header();
        if h.magic.load(Ordering::Acquire) != MAGIC {
            return Err("it is not a flow ring buffer (bad magic)".into());
        }
        if h.version != VERSION || h.header_size as usize != HEADER_SIZE {
            return Err(format!("layout version {} differs", h.version));
        }
        if h.capacity_bytes != s.capacity_bytes
            || h.data_offset != s.data_offset
            || h.index_offset != s.index_offset
            || h.index_entries != s.index_entries
            || h.schema_offset != s.schema_offset
            || u64::from(h.schema_capacity) != s.schema_capacity
            || h.kind != spec.kind
            || h.item_size != spec.item_size
        {
            return Err("its layout differs from the configured one".into());
        }
        let schema_len = h.schema_len as usize;
        let so = s.schema_offset as usize;
        if self.map[so..so + schema_len.min(s.schema_capacity as usize)] != spec.schema[..] {
            return Err("its schema differs from the configured one".into());
        }
        let head_seq = h.head_seq.load(Ordering::Acquire);
        let tail_seq = h.tail_seq.load(Ordering::Acquire);
        let tail_pos = h.read_tail.load(Ordering::Acquire);
        if tail_seq > head_seq || head_seq - tail_seq > s.index_entries {
            return Err(format!(
                "inconsistent sequence numbers {tail_seq}..{head_seq}"
            ));
        }
        let mut head_pos = tail_pos;
        for seq in tail_seq..head_seq {
            let e = self.index(seq);
            if e.seq != seq || e.pos < head_pos {
                return Err(format!("index entry of record {seq} is inconsistent"));
            }
            let r = self.record_header(e.pos);
            if r.seq != seq || r.body_len as u64 + RECORD_HEADER_SIZE as u64 > s.capacity_bytes {
                return Err(format!("record {seq} is damaged"));
            }
            head_pos = e.pos + align_up(RECORD_HEADER_SIZE as u64 + u64::from(r.body_len));
        }
        if head_pos - tail_pos > s.capacity_bytes {
            return Err("records span more than the capacity".into());
        }
        // A writer killed between publishing `write_head` and `head_seq` leaves the former
        // ahead; the records decide.
        h.write_head.store(head_pos, Ordering::Relaxed);
        self.head_seq = head_seq;
        self.head_pos = head_pos;
        self.tail_seq = tail_seq;
        self.tail_pos = tail_pos;
        Ok(head_seq - tail_seq)
    }

    /// Creates a fresh buffer at a temporary name and renames it over `spec.path`.
    fn create(spec: &RingSpec, s: &Sections) -> Result<Self, RingError> {
        if spec.schema.len() as u64 > s.schema_capacity {
            return Err(RingError::Layout("schema larger than its section".into()));
        }
        let tmp = tmp_path(&spec.path);
        let io = |what: &str, e| RingError::Io(format!("{what} {}", tmp.display()), e);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| io("creating", e))?;
        reserve(&file, s.file_len()).map_err(|e| io("reserving memory for", e))?;
        // SAFETY: a new private file; see try_resume for the sharing rules.
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(|e| io("mapping", e))?;
        let mut w = RingWriter {
            map,
            s: *s,
            head_seq: 0,
            head_pos: 0,
            tail_seq: 0,
            tail_pos: 0,
        };
        let so = s.schema_offset as usize;
        w.map[so..so + spec.schema.len()].copy_from_slice(&spec.schema);
        let generation = (now_ns() as u64) ^ (u64::from(std::process::id()) << 48);
        // SAFETY: header() points at the start of the mapping, which is HEADER_SIZE bytes
        // of zeros and aligned to a page; we are the only user of the new file.
        let h = unsafe { &mut *(w.map.as_mut_ptr() as *mut RingHeader) };
        h.version = VERSION;
        h.header_size = HEADER_SIZE as u32;
        h.capacity_bytes = s.capacity_bytes;
        h.data_offset = s.data_offset;
        h.schema_offset = s.schema_offset;
        h.schema_capacity = s.schema_capacity as u32;
        h.schema_len = spec.schema.len() as u32;
        h.index_offset = s.index_offset;
        h.index_entries = s.index_entries;
        h.generation = generation;
        h.created_ns = now_ns();
        h.span_ns = spec.span_ns;
        h.kind = spec.kind;
        h.item_size = spec.item_size;
        h.writer_pid.store(std::process::id(), Ordering::Relaxed);
        h.state.store(STATE_WRITING, Ordering::Relaxed);
        h.magic.store(MAGIC, Ordering::Release);
        std::fs::rename(&tmp, &spec.path)
            .map_err(|e| RingError::Io(format!("renaming {} to", tmp.display()), e))?;
        Ok(w)
    }

    fn header(&self) -> &RingHeader {
        // SAFETY: the mapping starts with a RingHeader (page-aligned, HEADER_SIZE bytes);
        // shared fields are atomics.
        unsafe { &*(self.map.as_ptr() as *const RingHeader) }
    }

    fn index(&self, seq: u64) -> IndexEntry {
        let at =
            self.s.index_offset as usize + (seq % self.s.index_entries) as usize * INDEX_ENTRY_SIZE;
        // SAFETY: `at` is inside the index section; IndexEntry is plain data.
        unsafe { std::ptr::read_volatile(self.map.as_ptr().add(at) as *const IndexEntry) }
    }

    fn record_header(&self, pos: u64) -> RecordHeader {
        let at = self.s.data_offset as usize + (pos % self.s.capacity_bytes) as usize;
        // SAFETY: records are 64-byte aligned and never straddle the end of the region.
        unsafe { std::ptr::read_volatile(self.map.as_ptr().add(at) as *const RecordHeader) }
    }

    /// The largest body a record can have.
    pub fn max_body(&self) -> usize {
        self.s.capacity_bytes as usize - RECORD_HEADER_SIZE
    }

    /// Appends a record whose body (`body_len` bytes) `fill` writes in place. Returns its
    /// sequence number. Older records are pushed out (and counted) to make room.
    pub fn append_with(
        &mut self,
        meta: &RecordMeta,
        body_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<u64, RingError> {
        let cap = self.s.capacity_bytes;
        let total = align_up((RECORD_HEADER_SIZE + body_len) as u64);
        if total > cap || body_len > u32::MAX as usize {
            self.header().rejected.fetch_add(1, Ordering::Relaxed);
            return Err(RingError::TooLarge {
                len: body_len,
                max: self.max_body(),
            });
        }
        let seq = self.head_seq;
        let mut pos = self.head_pos;
        let off = pos % cap;
        if off + total > cap {
            pos += cap - off; // a record never straddles the end: start over at offset 0
        }
        // Push out what this record will overwrite, and what its index slot holds.
        let min_tail_seq = (seq + 1).saturating_sub(self.s.index_entries);
        let mut pushed = 0;
        while self.tail_seq < seq
            && (pos + total - self.tail_pos > cap || self.tail_seq < min_tail_seq)
        {
            self.tail_seq += 1;
            self.tail_pos = if self.tail_seq < seq {
                self.index(self.tail_seq).pos
            } else {
                pos
            };
            pushed += 1;
        }
        if self.tail_seq == seq {
            self.tail_pos = pos;
        }
        let h = self.header();
        if pushed > 0 || self.tail_seq == seq {
            h.read_tail.store(self.tail_pos, Ordering::Relaxed);
            h.tail_seq.store(self.tail_seq, Ordering::Relaxed);
            h.overwritten.fetch_add(pushed, Ordering::Relaxed);
        }
        // The tail must be visible before any byte of the pushed-out records changes.
        fence(Ordering::Release);
        let at = self.s.data_offset as usize + (pos % cap) as usize;
        let rec = RecordHeader {
            seq,
            body_len: body_len as u32,
            rows: meta.rows,
            time_ns: meta.time_ns,
            end_time_ns: meta.end_time_ns,
            first_index: meta.first_index,
            rate_hz: meta.rate_hz,
            freq_hz: meta.freq_hz,
            written_mono_ns: 0,
        };
        fill(&mut self.map[at + RECORD_HEADER_SIZE..at + RECORD_HEADER_SIZE + body_len]);
        let entry = IndexEntry {
            seq,
            pos,
            time_ns: meta.time_ns,
            end_time_ns: meta.end_time_ns,
        };
        let ie =
            self.s.index_offset as usize + (seq % self.s.index_entries) as usize * INDEX_ENTRY_SIZE;
        let rec = RecordHeader {
            written_mono_ns: monotonic_ns(),
            ..rec
        };
        // SAFETY: `at` and `ie` are inside the mapping, aligned for these plain structs.
        unsafe {
            std::ptr::write_volatile(self.map.as_mut_ptr().add(at) as *mut RecordHeader, rec);
            std::ptr::write_volatile(self.map.as_mut_ptr().add(ie) as *mut IndexEntry, entry);
        }
        self.head_seq = seq + 1;
        self.head_pos = pos + total;
        let h = self.header();
        h.rows_written
            .fetch_add(u64::from(meta.rows), Ordering::Relaxed);
        h.last_time_ns.store(meta.end_time_ns, Ordering::Relaxed);
        h.write_head.store(self.head_pos, Ordering::Relaxed);
        h.head_seq.store(self.head_seq, Ordering::Release);
        Ok(seq)
    }

    /// Appends a record with `body` (an Arrow IPC record batch message).
    pub fn append(&mut self, meta: &RecordMeta, body: &[u8]) -> Result<u64, RingError> {
        self.append_with(meta, body.len(), |dst| dst.copy_from_slice(body))
    }

    /// Records published so far (the next sequence number).
    pub fn head_seq(&self) -> u64 {
        self.head_seq
    }

    /// Sequence number of the oldest valid record.
    pub fn tail_seq(&self) -> u64 {
        self.tail_seq
    }

    /// Data region size.
    pub fn capacity(&self) -> u64 {
        self.s.capacity_bytes
    }

    /// Index entries (most records held).
    pub fn index_entries(&self) -> u64 {
        self.s.index_entries
    }

    /// Marks the buffer closed (readers see no more records will come).
    pub fn close(&mut self) {
        self.header().state.store(STATE_CLOSED, Ordering::Release);
    }
}

impl Drop for RingWriter {
    fn drop(&mut self) {
        self.close();
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}
