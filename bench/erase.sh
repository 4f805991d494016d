#!/usr/bin/env bash
# `junction bench erase`: a million events (50 per customer, each indexed by customer id and
# email), then five customers erased one by one, each timed; on SQLite the database and its WAL
# are scanned for the erased customers' ids and emails afterwards (0 expected).
#   bash bench/erase.sh [EVENTS]
# No peer: the webhook gateways compared elsewhere (Svix, Convoy, Hookdeck) expire or expunge
# messages, none erases by data subject. PostgreSQL: JUNCTION_BENCH_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/junction_bench; that database is dropped and recreated).
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-1000000}"
bin="${CARGO_TARGET_DIR:-target}/release/junction"
cargo build --release -p junction >&2
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
"$bin" bench erase --events "$events" --backends sqlite,postgres | tail -n1
