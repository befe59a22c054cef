#!/usr/bin/env bash
# Spectrum benchmarks side by side, alternating flow and its peers (RUNS rounds, default 3):
#   (a) PSD 1024 / 50 % / Blackman-Harris + CA-CFAR + peaks on c32, flow on one core;
#   (b) the `fft 1024` workload of ../shared/bench: flow vs GNU Radio 3.10 vs FutureSDR;
#   (c) latency from the last sample of a spectrum period entering psd to its detection.
# Prints every run, then a table of medians and ratios.
#
#   bash bench/spectrum.sh                  # ITEMS=2e8 RUNS=3
#   GR_PEER=... FSDR_PEER=... bash bench/spectrum.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${ITEMS:-2e8}
RUNS=${RUNS:-3}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
GR_PEER=${GR_PEER:-$SHARED/bench/gr_peer.py}
FSDR_PEER=${FSDR_PEER:-$(cd .. && pwd)/peers/futuresdr-peer/target/release/futuresdr-peer}
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

cargo bench -q -p flow-blocks --bench spectrum --no-run 2>/dev/null
flow() { cargo bench -q -p flow-blocks --bench spectrum -- "$@" 2>/dev/null | grep '^flow_'; }

for r in $(seq "$RUNS"); do
    if [ -f "$GR_PEER" ] && /usr/bin/python3 -c 'import gnuradio' 2>/dev/null; then
        /usr/bin/python3 "$GR_PEER" fft 1024 "$ITEMS" | tee -a "$LOG"
    fi
    if [ -x "$FSDR_PEER" ]; then
        "$FSDR_PEER" fft 1024 "$ITEMS" | tee -a "$LOG"
    fi
    flow fft 1024 "$ITEMS" | tee -a "$LOG"
    flow fft 1024 "$ITEMS" 1 | tee -a "$LOG"
    flow chain "$ITEMS" 16 | tee -a "$LOG"
    flow chain 5e7 4 | tee -a "$LOG"
    flow latency 10e6 5 16 | tee -a "$LOG"
done

python3 - "$LOG" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rest = line.split(None, 1)
    fields = dict(re.findall(r'(\w+)=([\d.e+-]+)', rest))
    rows.setdefault(name, []).append({k: float(v) for k, v in fields.items()})
def med(name, key):
    v = [r[key] for r in rows.get(name, []) if key in r]
    return statistics.median(v) if v else float('nan')
gr, fs = med('gr_fft1024', 'msps'), med('fsdr_fft1024', 'msps')
print()
print('| benchmark | flow | GNU Radio 3.10 | FutureSDR 0.0.38 | flow / GNU Radio | flow / FutureSDR |')
print('|---|---|---|---|---|---|')
for name, what in (('flow_fft1024', 'default workers'), ('flow_fft1024_w1', 'workers = 1')):
    fl = med(name, 'msps')
    print(f'| fft 1024, flow {what} (M items/s, median of {len(rows.get(name, []))}) | {fl:.1f} | {gr:.1f} | {fs:.1f} (no window) | {fl/gr:.2f}x | {fl/fs:.2f}x |')
    rounds = [f/g for f, g in zip([r['msps'] for r in rows.get(name, [])], [r['msps'] for r in rows.get('gr_fft1024', [])])]
    if rounds:
        print(f'|   per-round flow / GNU Radio ({what}) | ' + ', '.join(f'{x:.2f}' for x in rounds) + ' | | | | |')
for k in ('16', '4'):
    n = f'flow_chain_k{k}'
    if n in rows:
        print(f'| PSD+CA-CFAR+peaks, {k} averages, one core (M samples/s: wall; per CPU-second) | {med(n, "msps"):.1f}; {med(n, "cpu_msps"):.1f} | | | | |')
n = 'flow_latency_k16'
if n in rows:
    print(f'| latency, last sample into psd → detection, 10 MS/s, 16 averages (ms) | p50 {med(n, "p50_ms"):.3f}, p99 {med(n, "p99_ms"):.3f} | | | | |')
PY
