#!/usr/bin/env bash
# ZeroMQ PUSH -> PULL over loopback, flow against GNU Radio 3.10 (gr-zeromq), c32 items,
# one process each, sender and receiver in the same flowgraph. Prints items/s and the ratio.
#
#   cargo build --release && bash bench/zmq_loopback.sh [ITEMS] [TAGS 0|1]
#
# Needs /usr/bin/python3 with GNU Radio (Debian package gnuradio).
set -euo pipefail
N=${1:-100000000}
TAGS=${2:-0}
HERE=$(cd "$(dirname "$0")" && pwd)
FLOW=${FLOW:-$HERE/../target/release/flow}
PASS=$([ "$TAGS" = 1 ] && echo true || echo false)
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
cat > "$DIR/zmq.toml" <<TOML
[flowgraph]
name = "zmq-bench"
[blocks.src]
type = "null_source"
item = "c32"
[blocks.tx_head]
type = "head"
inputs = ["src"]
items = $N
[blocks.push]
type = "zmq_push_sink"
inputs = ["tx_head"]
address = "tcp://127.0.0.1:5799"
pass_tags = $PASS
[blocks.pull]
type = "zmq_pull_source"
address = "tcp://127.0.0.1:5799"
item = "c32"
[blocks.rx_head]
type = "head"
inputs = ["pull"]
items = $N
[blocks.sink]
type = "null_sink"
inputs = ["rx_head"]
TOML
start=$(date +%s.%N)
"$FLOW" run "$DIR/zmq.toml" --quiet
end=$(date +%s.%N)
flow_rate=$(python3 -c "print(f'{$N / ($end - $start):.0f}')")
gr_rate=$(/usr/bin/python3 "$HERE/zmq_gnuradio.py" "$N" 5798 "$TAGS")
echo "items: $N c32, pass_tags: $TAGS"
echo "flow:       $flow_rate items/s"
echo "GNU Radio:  $gr_rate items/s"
python3 -c "print(f'ratio flow / GNU Radio: {$flow_rate / $gr_rate:.2f}')"
