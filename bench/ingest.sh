#!/usr/bin/env bash
# `junction bench ingest` beside its peer, in one run, with the same load generator:
# signed 1 KiB Standard Webhooks at concurrency 64.
#   bash bench/ingest.sh [EVENTS]
# peer: bench/peers/webhook_peer.py (Python stdlib: verify, one durable SQLite insert, 202).
# PostgreSQL: JUNCTION_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/junction_bench;
# that database is dropped and recreated).
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-100000}"
bin="${CARGO_TARGET_DIR:-target}/release/junction"
cargo build --release -p junction >&2
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 bench/peers/webhook_peer.py "$port" "$dir/peer.db" &
peer=$!
trap 'kill $peer 2>/dev/null; rm -rf "$dir"' EXIT
sleep 1
echo "== peer: python webhook receiver" >&2
"$bin" bench ingest --events "$events" --target "http://127.0.0.1:$port/" | tail -n1
echo "== junction bench ingest (junction serve, one route to one HTTP destination)" >&2
"$bin" bench ingest --events "$events" | tail -n1
