#!/usr/bin/env bash
# `junction bench quota`: CALLS GETs through /proxy to the mock limited to LIMIT/s (fixed
# windows, draft RateLimit headers), once with the limit configured and once learned from the
# headers; total time against the ideal (CALLS/LIMIT) and the share of calls refused with 429.
#   bash bench/quota.sh [CALLS] [LIMIT]     (defaults: 10000 calls, 500/s)
set -euo pipefail
cd "$(dirname "$0")/.."
calls="${1:-10000}"
limit="${2:-500}"
cargo build --release -p junction >&2
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
"${CARGO_TARGET_DIR:-target}/release/junction" bench quota --calls "$calls" --limit "$limit" | tail -n1
