#!/usr/bin/env bash
# Runs a flow benchmark workload side by side with its peers (GNU Radio 3.10, FutureSDR
# 0.0.38), alternating, RUNS times each, and prints every run plus the medians and ratios.
#
#   bench/compare.sh copy 10 2e9        # flow bench copy 10 2e9  vs  gr_peer.py copy 10 2e9 ...
#   bench/compare.sh fft 1024 2e8
#
# Peers (see ../shared/bench/README.md):
#   GR_PEER    path of gr_peer.py            (default ../shared/bench/gr_peer.py; needs the
#              Debian `gnuradio` package and /usr/bin/python3)
#   FSDR_PEER  path of the futuresdr-peer binary (default: not run; build it with
#              cargo build --release --manifest-path <copy of ../shared/bench/futuresdr-peer>/Cargo.toml)
#   RUNS       runs per program (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
workload=$1; shift
RUNS=${RUNS:-3}
GR_PEER=${GR_PEER:-../shared/bench/gr_peer.py}
FSDR_PEER=${FSDR_PEER:-}
cargo build --release -q
FLOW=target/release/flow

msps() { sed -n 's/.*msps=\([0-9.]*\).*/\1/p'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A results
for run in $(seq "$RUNS"); do
  line=$($FLOW bench "$workload" "$@"); echo "$line"; results[flow]+="$(echo "$line" | msps) "
  if [ -f "$GR_PEER" ] && /usr/bin/python3 -c 'import gnuradio' 2>/dev/null; then
    line=$(/usr/bin/python3 "$GR_PEER" "$workload" "$@"); echo "$line"; results[gnuradio]+="$(echo "$line" | msps) "
  fi
  if [ -n "$FSDR_PEER" ] && [ -x "$FSDR_PEER" ]; then
    line=$("$FSDR_PEER" "$workload" "$@"); echo "$line"; results[futuresdr]+="$(echo "$line" | msps) "
  fi
done

echo
echo "workload: $workload $*   (median of $RUNS runs, million items/s)"
flow_m=$(echo "${results[flow]}" | tr ' ' '\n' | sed '/^$/d' | median)
printf '%-10s %10s\n' flow "$flow_m"
for peer in gnuradio futuresdr; do
  [ -n "${results[$peer]:-}" ] || continue
  m=$(echo "${results[$peer]}" | tr ' ' '\n' | sed '/^$/d' | median)
  awk -v p="$peer" -v m="$m" -v f="$flow_m" 'BEGIN { printf "%-10s %10s   flow/%s = %.2f\n", p, m, p, f / m }'
done
