#!/usr/bin/env bash
# `junction bench proxy`: GET through /proxy (API-token check, credential injection, a quota and
# metrics on) against the same upstream direct and through nginx (reverse proxy, upstream
# keepalive), with wrk at a fixed concurrency; throughput and added p50/p99 latency.
#   bash bench/proxy.sh [CONCURRENCY] [DURATION] [ROUNDS]   (defaults: 32 connections, 10s each, 3 rounds;
#   the figures are medians over the rounds)
# Needs wrk and nginx (apt-get install wrk nginx-light).
set -euo pipefail
cd "$(dirname "$0")/.."
concurrency="${1:-32}"
duration="${2:-10s}"
rounds="${3:-3}"
cargo build --release -p junction >&2
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(nginx -v 2>&1); $(wrk -v 2>&1 | head -1)" >&2
"${CARGO_TARGET_DIR:-target}/release/junction" bench proxy --concurrency "$concurrency" --duration "$duration" --rounds "$rounds" | tail -n1
