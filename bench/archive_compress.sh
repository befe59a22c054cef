#!/usr/bin/env bash
# binary_archive's `compress = "zstd"` on the GRAPE demo (20 kHz, 4 minutes; the two whole
# minutes are measured): size of a whole minute compressed, and the CPU the recording
# costs with and without compression in the same run. The `zstd` command (same library,
# same level) on the plain minutes is the peer.
#
#   bash bench/archive_compress.sh [encoding] [level]     # defaults: s16be 3
set -euo pipefail
cd "$(dirname "$0")/.."
enc=${1:-s16be}
level=${2:-3}
cargo build --release -q
flow=$PWD/target/release/flow
work=$(mktemp -d /tmp/flow-compress-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

run() { # $1: data dir, rest: extra --set arguments; prints user+sys CPU seconds
  /usr/bin/env time -f '%U %S' -o "$work/time" env GRAPE_DATA="$1" "$flow" run flowgraphs/grape-demo.toml \
    --quiet --set "blocks.radiod.encoding=\"$enc\"" "${@:2}" >/dev/null 2>"$work/err"
  python3 -c "u,s=open('$work/time').read().split()[-2:]; print(f'{float(u)+float(s):.2f}')"
}
plain_cpu=$(run "$work/plain")
packed_cpu=$(run "$work/packed" --set 'blocks.archive.compress="zstd"' --set "blocks.archive.compress_level=$level")

whole=$(python3 - "$work/plain/raw/WWV_10_MHz" <<'PY'
import json, pathlib, sys
for j in sorted(pathlib.Path(sys.argv[1]).glob("*/*.json")):
    if json.loads(j.read_text())["completeness_pct"] >= 100:
        print(j.with_suffix(".bin").name)
PY
)
raw=0; flowz=0; cli=0; t0=$(date +%s.%N)
for name in $whole; do
  p=$(ls "$work"/plain/raw/WWV_10_MHz/*/"$name")
  z=$(ls "$work"/packed/raw/WWV_10_MHz/*/"$name.zst")
  raw=$((raw + $(stat -c %s "$p")))
  flowz=$((flowz + $(stat -c %s "$z")))
  zstd -q -"$level" -c "$p" >"$work/cli.zst"
  cli=$((cli + $(stat -c %s "$work/cli.zst")))
  cmp -s <(zstd -d -c "$z") "$p" || { echo "mismatch: $name" >&2; exit 1; }
done
t1=$(date +%s.%N)
python3 - <<PY
raw, flowz, cli = $raw, $flowz, $cli
n = len("""$whole""".split())
print(f"encoding $enc, zstd level $level, {n} whole minutes of 20 kHz complex64 ({raw/n/1e6:.1f} MB each)")
print(f"  flow binary_archive: {flowz/n/1e6:.2f} MB per minute, {flowz/raw:.3f} of the raw size")
print(f"  zstd -$level command:  {cli/n/1e6:.2f} MB per minute, {cli/raw:.3f}; flow / zstd size {flowz/cli:.3f}")
print(f"  CPU of the whole demo run (user+sys): plain $plain_cpu s, compressed $packed_cpu s")
PY
