#!/usr/bin/env bash
# The mock provider must never be the bottleneck of a benchmark: GET /v1/customers/{id} with wrk
# (Debian package `wrk`) on 127.0.0.1, 2 threads, 64 connections, 10 s.
#   bash bench/mock.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
cargo build --release -p junction >&2
bin="${CARGO_TARGET_DIR:-target}/release/junction"
port=19191
"$bin" mock --listen "127.0.0.1:$port" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/v1/customers/cus_000001" >/dev/null && break; sleep 0.1; done
wrk -t2 -c64 -d10s "http://127.0.0.1:$port/v1/customers/cus_000042"
echo "mock RSS after the run: $(ps -o rss= -p $pid) KiB"
