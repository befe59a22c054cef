#!/usr/bin/python3
"""GNU Radio 3.10 gr-zeromq peer for flow's ZeroMQ interoperability tests.

  zmq_peer.py send PATTERN ADDRESS ITEM N TAGS   # push|pub: items 0..N-1 (and tags) out
  zmq_peer.py recv PATTERN ADDRESS ITEM N TAGS   # pull|sub: N items in, printed as JSON

ITEM is f32 or i32; TAGS is 1 to use gr-zeromq's tag header (pass_tags). `send` tags the
stream with rx_time, rx_rate, rx_freq and a few user tags (see TAGS below). `recv` prints
{"data": [...], "tags": [[offset, key, value, srcid], ...]} with PMT values as JSON.
"""
import json
import sys
import time

from gnuradio import blocks, gr, zeromq
import pmt

# The tags `send` puts on its stream: (offset, key, value, srcid).
TAGS = [
    (0, "rx_time", pmt.make_tuple(pmt.from_uint64(1700000000), pmt.from_double(0.25)), "gr_src"),
    (0, "rx_rate", pmt.from_double(48000.0), "gr_src"),
    (1000, "rx_freq", pmt.from_double(10e6), "gr_src"),
    (5000, "label", pmt.intern("WWV"), "gr_src"),
    (6000, "count", pmt.from_long(-42), "gr_src"),
    (6500, "big", pmt.from_uint64(1 << 40), "gr_src"),
]


def to_json(p):
    if pmt.is_tuple(p):
        return [to_json(pmt.tuple_ref(p, i)) for i in range(pmt.length(p))]
    if pmt.is_symbol(p):
        return pmt.symbol_to_string(p)
    if pmt.is_uint64(p):
        return pmt.to_uint64(p)
    if pmt.is_integer(p):
        return pmt.to_long(p)
    if pmt.is_real(p):
        return pmt.to_double(p)
    if pmt.is_bool(p):
        return pmt.to_bool(p)
    if pmt.is_f32vector(p):
        return list(pmt.f32vector_elements(p))
    return pmt.write_string(p)


def main():
    mode, pattern, address, item, n, tags = sys.argv[1:7]
    n, tags = int(n), tags == "1"
    size = 4
    tb = gr.top_block()
    if mode == "send":
        if item == "f32":
            data = [float(i) for i in range(n)]
            make = blocks.vector_source_f
        else:
            data = list(range(n))
            make = blocks.vector_source_i
        gr_tags = [
            gr.tag_utils.python_to_tag((off, pmt.intern(k), v, pmt.intern(s)))
            for off, k, v, s in TAGS
        ]
        src = make(data, False, 1, gr_tags)
        if pattern == "push":
            snk = zeromq.push_sink(size, 1, address, 100, tags, -1)
            tb.connect(src, snk)
        else:
            snk = zeromq.pub_sink(size, 1, address, 100, tags, -1, "", False)
            thr = blocks.throttle(size, 2e5)  # 0.5 s: a loaded receiver keeps up
            tb.connect(src, thr, snk)
            time.sleep(2.0)  # let the subscriber connect and subscribe (slow joiner)
        tb.run()
        time.sleep(1.5)  # linger: let the last messages leave
        return
    if pattern == "pull":
        src = zeromq.pull_source(size, 1, address, 100, tags, -1)
    else:
        src = zeromq.sub_source(size, 1, address, 100, tags, -1)
    head = blocks.head(size, n)
    snk = blocks.vector_sink_f() if item == "f32" else blocks.vector_sink_i()
    tb.connect(src, head, snk)
    tb.start()
    print("ready", file=sys.stderr, flush=True)  # the test starts its sender now
    # Wait for N items, at most 30 s: a test must fail, not hang, when items go missing.
    deadline = time.time() + 30
    while len(snk.data()) < n and time.time() < deadline:
        time.sleep(0.05)
    tb.stop()
    tb.wait()
    out = {
        "data": list(snk.data()),
        "tags": [
            [t.offset, pmt.symbol_to_string(t.key), to_json(t.value), to_json(t.srcid)]
            for t in snk.tags()
        ],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
