#!/usr/bin/env bash
# `junction bench cluster`: NODES processes of `junction serve` on one PostgreSQL database
# (JUNCTION_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432, database
# junction_bench recreated), signed webhooks at RATE spread over all of them to the mock's sink,
# and /proxy callers through all of them to a vendor limited to LIMIT calls/s (sliding window).
# Reports intake, delivered/s, end-to-end p50/p99, the vendor's maximum in any second (never
# above LIMIT) and the quota used. Runs 1, 2 and NODES processes for the side-by-side figure.
#   bash bench/cluster.sh [NODES] [RATE] [DURATION] [LIMIT]   (defaults: 3 3000 30s 200)
set -euo pipefail
cd "$(dirname "$0")/.."
nodes="${1:-3}"
rate="${2:-3000}"
duration="${3:-30s}"
limit="${4:-200}"
cargo build --release -p junction >&2
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
for n in $(printf '%s\n' 1 2 "$nodes" | sort -un); do
  "${CARGO_TARGET_DIR:-target}/release/junction" bench cluster --nodes "$n" --rate "$rate" \
    --duration "$duration" --limit "$limit" --concurrency 8 | tail -n1
done
