#!/usr/bin/env bash
# `junction bench reconcile`: RECORDS customers at the mock; CHANGES of them announced by webhooks
# that drop 5 %, duplicate 2 % and reorder 10 %; then a full reconciliation pass through
# `junction serve` behind a connector quota of 20 calls/s, and a second pass that finds nothing.
# Seconds per pass, what it found, vendor calls and the most within any second (≤ the quota).
#   bash bench/reconcile.sh [RECORDS] [CHANGES]     (defaults: 100000 customers, 20000 changes)
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-100000}"
changes="${2:-20000}"
cargo build --release -p junction >&2
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
"${CARGO_TARGET_DIR:-target}/release/junction" bench reconcile --records "$records" --calls "$changes" | tail -n1
