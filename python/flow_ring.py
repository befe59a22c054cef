"""Read a flow ring buffer (the `ring_buffer` sink) from Python, while flow writes it.

    import flow_ring
    ring = flow_ring.attach("/dev/shm/flow-iq.ring")
    res = ring.latest(5.0)            # the last 5 seconds, as zero-copy views
    iq = res.samples()                # numpy complex64 (one copy if several records)
    print(res.missed, len(res.records), ring.schema)
    for rec in ring.follow():         # every new record as it is written
        ...

The layout (header offsets, record header, index entry) is documented in
docs/ring-buffer.md and checked against the Rust `#[repr(C)]` structs by the test suite.

Where copies happen (everything else is a view of the shared mapping):
  * header fields and index entries are read into Python ints (a few bytes);
  * `copy=True` copies each record's Arrow message once, before validation;
  * `ReadResult.samples()` / `.column()` concatenate several records into one array
    (one copy; a single record is returned as a view);
  * `Record.batch`, `Record.samples()`, `ReadResult.table()` never copy.

A view of a record stays valid until the writer overwrites it. Every read validates each
record after building its views (the writer raises `tail_seq` before it touches an old
record); `ReadResult.check()` / `Record.valid()` re-validate after you used the data, and
`copy=True` gives data that cannot change under you.
"""

import mmap
import os
import time
from bisect import bisect_left

import numpy as np
import pyarrow as pa

MAGIC = int.from_bytes(b"FLOWRING", "little")
VERSION = 1
HEADER_SIZE = 512
RECORD_HEADER_SIZE = 64
INDEX_ENTRY_SIZE = 32
STATE_INIT, STATE_WRITING, STATE_CLOSED = 0, 1, 2
KIND_STREAM, KIND_MESSAGES = 1, 2

# name: (byte offset, numpy dtype) of the file header fields.
HEADER_FIELDS = {
    "magic": (0, "<u8"),
    "version": (8, "<u4"),
    "header_size": (12, "<u4"),
    "capacity_bytes": (16, "<u8"),
    "data_offset": (24, "<u8"),
    "schema_offset": (32, "<u8"),
    "schema_capacity": (40, "<u4"),
    "schema_len": (44, "<u4"),
    "index_offset": (48, "<u8"),
    "index_entries": (56, "<u8"),
    "generation": (64, "<u8"),
    "created_ns": (72, "<i8"),
    "span_ns": (80, "<i8"),
    "kind": (88, "<u4"),
    "item_size": (92, "<u4"),
    "write_head": (128, "<u8"),
    "head_seq": (136, "<u8"),
    "last_time_ns": (144, "<i8"),
    "writer_pid": (152, "<u4"),
    "state": (156, "<u4"),
    "read_tail": (192, "<u8"),
    "tail_seq": (200, "<u8"),
    "rows_written": (256, "<u8"),
    "overwritten": (264, "<u8"),
    "recoveries": (272, "<u8"),
    "rejected": (280, "<u8"),
}

RECORD_DTYPE = np.dtype(
    [
        ("seq", "<u8"),
        ("body_len", "<u4"),
        ("rows", "<u4"),
        ("time_ns", "<i8"),
        ("end_time_ns", "<i8"),
        ("first_index", "<u8"),
        ("rate_hz", "<f8"),
        ("freq_hz", "<f8"),
        ("written_mono_ns", "<u8"),
    ]
)
INDEX_DTYPE = np.dtype(
    [("seq", "<u8"), ("pos", "<u8"), ("time_ns", "<i8"), ("end_time_ns", "<i8")]
)
assert RECORD_DTYPE.itemsize == RECORD_HEADER_SIZE
assert INDEX_DTYPE.itemsize == INDEX_ENTRY_SIZE


class RingError(Exception):
    """The file is not a flow ring buffer this module can read."""


class Record:
    """One record: its header fields and its Arrow record batch (a view unless copied)."""

    __slots__ = ("ring", "seq", "rows", "time_ns", "end_time_ns", "first_index",
                 "rate_hz", "freq_hz", "written_mono_ns", "batch", "copied")

    def sample_times_ns(self):
        """Time of every row of a stream record, ns since the Unix epoch (int64)."""
        k = np.arange(self.rows, dtype=np.float64)
        if self.rate_hz <= 0:
            return np.full(self.rows, self.time_ns, dtype=np.int64)
        return self.time_ns + np.round(k * 1e9 / self.rate_hz).astype(np.int64)

    def samples(self):
        """Stream records: the samples as numpy (complex64 or float32), a view."""
        col = self.batch.column(0)
        if pa.types.is_fixed_size_list(col.type):
            flat = col.values.to_numpy(zero_copy_only=True)
            return flat.view(np.complex64)
        return col.to_numpy(zero_copy_only=True)

    def valid(self):
        """True if the writer has not started overwriting this record (yet)."""
        return self.copied or self.seq >= self.ring.tail_seq


class ReadResult:
    """Records read in one call, oldest first, and how many were missed."""

    def __init__(self, ring, records, missed):
        self.ring = ring
        self.records = records
        #: Records in the asked range (or since the last follow) that were overwritten
        #: before or while they were read.
        self.missed = missed

    def table(self):
        """All records as one pyarrow Table (chunked, no copy)."""
        return pa.Table.from_batches([r.batch for r in self.records], schema=self.ring.schema)

    def samples(self):
        """Stream rings: all samples as one numpy array (copies when several records)."""
        parts = [r.samples() for r in self.records]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return np.empty(0, np.complex64 if self.ring.item_size == 8 else np.float32)
        return np.concatenate(parts)

    def check(self):
        """Re-validates after use: the number of records overwritten since the read."""
        return sum(1 for r in self.records if not r.valid())


class Ring:
    """A ring buffer file mapped read-only."""

    def __init__(self, path):
        self.path = os.fspath(path)
        with open(self.path, "rb") as f:
            self._ino = os.fstat(f.fileno()).st_ino
            self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        if len(self._mm) < HEADER_SIZE:
            raise RingError(f"{self.path}: shorter than a ring header")
        self._mv = memoryview(self._mm)
        self._u64 = np.frombuffer(self._mm, dtype="<u8", count=HEADER_SIZE // 8)
        if self._get("magic") != MAGIC or self._get("version") != VERSION:
            raise RingError(f"{self.path}: not a flow ring buffer (magic/version)")
        h = {k: self._get(k) for k in ("capacity_bytes", "data_offset", "index_offset",
                                         "index_entries", "schema_offset", "schema_len",
                                         "kind", "item_size", "generation", "span_ns")}
        self.__dict__.update(h)
        if self.data_offset + self.capacity_bytes > len(self._mm) or self.index_entries == 0:
            raise RingError(f"{self.path}: sections lie outside the file")
        self._index = np.frombuffer(self._mm, dtype=INDEX_DTYPE, count=self.index_entries,
                                    offset=self.index_offset)
        so = self.schema_offset
        self.schema = pa.ipc.read_schema(pa.py_buffer(self._mv[so:so + self.schema_len]))
        self._next = self.tail_seq

    # -- header ------------------------------------------------------------------------
    def _get(self, name):
        off, dt = HEADER_FIELDS[name]
        if dt.endswith("8"):
            v = self._u64[off // 8]  # one aligned 8-byte load
            return int(v.view(np.int64)) if dt == "<i8" else int(v)
        return int(np.frombuffer(self._mm, dtype=dt, count=1, offset=off)[0])

    def header(self):
        """Every header field, as a dict (a snapshot)."""
        return {k: self._get(k) for k in HEADER_FIELDS}

    @property
    def head_seq(self):
        """Records published so far."""
        return self._get("head_seq")

    @property
    def tail_seq(self):
        """Sequence number of the oldest valid record."""
        return self._get("tail_seq")

    @property
    def closed(self):
        """True once the writer stopped cleanly."""
        return self._get("state") == STATE_CLOSED

    def replaced(self):
        """True if the writer replaced the file (new layout or schema): attach again."""
        try:
            return os.stat(self.path).st_ino != self._ino
        except FileNotFoundError:
            return True

    # -- records -----------------------------------------------------------------------
    def _view(self, seq, copy):
        e = self._index[seq % self.index_entries]
        if int(e["seq"]) != seq:
            return None
        at = self.data_offset + int(e["pos"]) % self.capacity_bytes
        h = np.frombuffer(self._mm, dtype=RECORD_DTYPE, count=1, offset=at)[0]
        n = int(h["body_len"])
        if int(h["seq"]) != seq or at + RECORD_HEADER_SIZE + n > len(self._mm):
            return None
        body = self._mv[at + RECORD_HEADER_SIZE: at + RECORD_HEADER_SIZE + n]
        buf = pa.py_buffer(bytes(body)) if copy else pa.py_buffer(body)
        try:
            batch = pa.ipc.read_record_batch(pa.ipc.read_message(buf), self.schema)
        except Exception:  # noqa: BLE001 - bytes overwritten under us; validated below
            return None  # overwritten under us: the validation below drops it
        r = Record()
        r.ring, r.seq, r.rows, r.batch, r.copied = self, seq, int(h["rows"]), batch, copy
        for k in ("time_ns", "end_time_ns", "first_index", "written_mono_ns"):
            setattr(r, k, int(h[k]))
        r.rate_hz, r.freq_hz = float(h["rate_hz"]), float(h["freq_hz"])
        return r

    def read(self, first, last, copy=False):
        """Records `first <= seq < last` that are still held, validated after reading."""
        tail = self.tail_seq
        start = max(first, tail)
        missed = start - first
        views = [(s, self._view(s, copy)) for s in range(start, last)]
        tail_after = self.tail_seq  # the seqlock check, after building the views
        records = []
        for s, r in views:
            if s < tail_after:
                missed += 1
            elif r is None:
                raise RingError(f"{self.path}: record {s} is inconsistent although valid")
            else:
                if copy:
                    r.copied = True
                records.append(r)
        return ReadResult(self, records, missed)

    def follow_once(self, copy=False, limit=None):
        """Records written since the previous call (or since attaching)."""
        head = self.head_seq
        last = head if limit is None else min(head, self._next + limit)
        res = self.read(self._next, last, copy)
        self._next = last
        return res

    def follow(self, copy=False, poll=0.001, timeout=None):
        """Yields every new record until the writer closes the ring (or `timeout` s idle).
        Missed records are reported through `self.missed_total`."""
        self.missed_total = 0
        idle_since = time.monotonic()
        while True:
            res = self.follow_once(copy)
            self.missed_total += res.missed
            yield from res.records
            if res.records or res.missed:
                idle_since = time.monotonic()
            elif self.closed and self._next >= self.head_seq:
                return
            elif timeout is not None and time.monotonic() - idle_since > timeout:
                return
            else:
                time.sleep(poll)

    def _first_ending_after(self, t_ns, lo, hi):
        keys = _IndexKeys(self, lo)
        return lo + bisect_left(keys, t_ns, 0, hi - lo)

    def range(self, t0_ns, t1_ns, copy=False):
        """Records overlapping `[t0_ns, t1_ns)` (ns since the Unix epoch)."""
        tail, head = self.tail_seq, self.head_seq
        first = self._first_ending_after(t0_ns, tail, head)
        last = first
        while last < head and int(self._index[last % self.index_entries]["time_ns"]) < t1_ns:
            last += 1
        return self.read(first, last, copy)

    def latest(self, seconds, copy=False):
        """Records covering the last `seconds` before the newest record's end."""
        end = self._get("last_time_ns")
        return self.range(end - int(seconds * 1e9), end + 1, copy)


class _IndexKeys:
    """The end times of records lo.. as a sequence for bisect (read lazily)."""

    def __init__(self, ring, lo):
        self.ring, self.lo = ring, lo

    def __getitem__(self, k):
        return int(self.ring._index[(self.lo + k) % self.ring.index_entries]["end_time_ns"])


def attach(path, wait=0.0):
    """Attaches to the ring at `path`, waiting up to `wait` seconds for it to appear."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return Ring(path)
        except (FileNotFoundError, RingError, ValueError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
