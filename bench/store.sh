#!/usr/bin/env bash
# `junction bench store` beside its peer, in one run on this machine:
# a plain Python loop over SQLite (WAL, synchronous=FULL) inserting the same rows.
#   bash bench/store.sh [EVENTS] [PAYLOAD_BYTES]
# PostgreSQL: JUNCTION_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/junction_bench;
# that database is dropped and recreated).
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-200000}"
payload="${2:-1024}"
cargo build --release -p junction >&2
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
echo "== peer: python sqlite3, batches of 64 and one per commit" >&2
python3 bench/peers/sqlite_peer.py "$events" "$payload" | tail -n1
echo "== junction bench store" >&2
"${CARGO_TARGET_DIR:-target}/release/junction" bench store --events "$events" --payload "$payload" | tail -n1
