"""Checks flow_ring's idea of the ring layout against offsets the Rust test computed with
std::mem::offset_of! (passed as JSON on argv[1]). Exits non-zero on any difference."""

import json
import sys

import flow_ring

want = json.loads(sys.argv[1])
errors = []
for name, off in want["header"].items():
    got = flow_ring.HEADER_FIELDS.get(name, (None,))[0]
    if got != off:
        errors.append(f"header.{name}: python {got}, rust {off}")
for dtype, key in ((flow_ring.RECORD_DTYPE, "record"), (flow_ring.INDEX_DTYPE, "index")):
    for name, off in want[key].items():
        got = dtype.fields[name][1] if name in dtype.fields else None
        if got != off:
            errors.append(f"{key}.{name}: python {got}, rust {off}")
for name, value in want["constants"].items():
    if getattr(flow_ring, name) != value:
        errors.append(f"{name}: python {getattr(flow_ring, name)}, rust {value}")
if set(flow_ring.HEADER_FIELDS) != set(want["header"]):
    errors.append(f"field sets differ: {sorted(set(flow_ring.HEADER_FIELDS) ^ set(want['header']))}")
print("\n".join(errors) or "ok")
sys.exit(1 if errors else 0)
