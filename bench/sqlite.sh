#!/usr/bin/env bash
# Throughput of the sqlite sink vs row-at-a-time autocommit inserts, same run, same disk.
# Usage: bench/sqlite.sh [MESSAGES]   (default 2,000,000; BENCH_DIR picks the disk, default .)
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -p flow-blocks --bench sqlite -- "${1:-2000000}"
