"""Follows a ring while flow writes it and checks every record.

argv: PATH ITEM TOTAL PAUSE_AT. The writer's samples are the sample index (f32: i;
c32: i - i*1j). Checks that every record's samples match its first_index, that sequence
numbers and sample indices are contiguous except where a miss was reported, and that the
stream ends at TOTAL. Pauses 0.2 s once after PAUSE_AT records to force overwrites.
Prints a JSON summary; exits non-zero on any violation."""

import json
import sys
import time

import numpy as np

import flow_ring

path, item, total, pause_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print("ready", flush=True)  # the test starts the writer only now
ring = flow_ring.attach(path, wait=30.0)
stats = {"records": 0, "rows": 0, "missed_records": ring._next, "missed_rows": 0,
         "overwritten_while_checking": 0, "zero_copy": True}
next_seq, next_index = ring._next, None
mm_base = np.frombuffer(ring._mm, np.uint8).__array_interface__["data"][0]
mm_end = mm_base + len(ring._mm)
paused = False
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    res = ring.follow_once()
    for rec in res.records:
        x = rec.samples()
        addr = x.__array_interface__["data"][0]
        stats["zero_copy"] &= mm_base <= addr < mm_end
        k = np.arange(rec.first_index, rec.first_index + rec.rows, dtype=np.float64)
        want = k.astype(np.float32) if item == "f32" else (k - 1j * k).astype(np.complex64)
        same = x.shape == want.shape and bool(np.array_equal(x, want))
        # Seqlock: a verdict counts only if the record was intact during the comparison.
        if not rec.valid():
            stats["overwritten_while_checking"] += 1
            stats["missed_records"] += 1
            next_seq, next_index = rec.seq + 1, None
            continue
        if not same:
            sys.exit(f"torn or wrong record {rec.seq}: first_index {rec.first_index}")
        if rec.seq != next_seq and res.missed == 0:
            sys.exit(f"sequence gap {next_seq} -> {rec.seq} without a reported miss")
        if next_index is not None and rec.first_index != next_index:
            if res.missed == 0:
                sys.exit(f"sample gap {next_index} -> {rec.first_index} without a reported miss")
            stats["missed_rows"] += rec.first_index - next_index
        next_seq, next_index = rec.seq + 1, rec.first_index + rec.rows
        stats["records"] += 1
        stats["rows"] += rec.rows
    stats["missed_records"] += res.missed
    if res.missed:
        next_seq = ring._next
    if stats["records"] >= pause_at and not paused:
        paused = True
        time.sleep(0.2)  # fall behind on purpose: the writer must overwrite, we must be told
    if not res.records and not res.missed:
        if ring.closed and ring._next >= ring.head_seq:
            break
        time.sleep(0.0005)
stats["end_index"] = next_index
stats["header"] = ring.header()
print(json.dumps(stats), flush=True)
if next_index != total:
    sys.exit(f"stream ended at {next_index}, expected {total}")
