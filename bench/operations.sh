#!/usr/bin/env bash
# `junction bench operations`: RECORDS customers from the mock, 1,000 per page, walked by a plain
# client (the peer: the rate the vendor serves) and through GET /ops/crm/list_customers?all=true
# (response mapping and model validation per record, NDJSON), and through an operation without
# mapping; then CALLS webhooks delivered into the mock's API as PATCHes through a connector
# operation with OAuth. Records/s, ratios to the peer, hub RSS while streaming, deliveries/s, p99.
#   bash bench/operations.sh [RECORDS] [CALLS]     (defaults: 100000 records, 5000 deliveries)
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-100000}"
calls="${2:-5000}"
cargo build --release -p junction >&2
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
"${CARGO_TARGET_DIR:-target}/release/junction" bench operations --records "$records" --calls "$calls" | tail -n1
