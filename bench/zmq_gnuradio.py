#!/usr/bin/python3
"""GNU Radio side of bench/zmq_loopback.sh: N c32 items through gr-zeromq push_sink ->
pull_source on loopback in one flowgraph; prints items per second."""
import sys
import time

from gnuradio import blocks, gr, zeromq

n, port, tags = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
size = 8  # gr_complex
tb = gr.top_block()
src = blocks.null_source(size)
head_tx = blocks.head(size, n)
push = zeromq.push_sink(size, 1, "tcp://127.0.0.1:" + port, 100, tags, -1)
pull = zeromq.pull_source(size, 1, "tcp://127.0.0.1:" + port, 100, tags, -1)
head_rx = blocks.head(size, n)
snk = blocks.null_sink(size)
tb.connect(src, head_tx, push)
tb.connect(pull, head_rx, snk)
t = time.time()
tb.start()
while head_rx.nitems_written(0) < n and time.time() - t < 600:
    time.sleep(0.01)
elapsed = time.time() - t
tb.stop()
tb.wait()
print(f"{n / elapsed:.0f}")
