#!/usr/bin/env bash
# `junction bench sync`: RECORDS customers from the mock, 1,000 per page, walked by a plain client
# (the peer: the rate the vendor serves), then a full pass of a `kind: sync` source run as a job
# through `junction serve` (each record mapped, checked, judged against the entities known, stored
# as an event with its delivery and the checkpoint per page) and every event delivered to the
# mock's sink; then a pass with nothing changed. Records/s, ratio to the peer, hub RSS.
#   bash bench/sync.sh [RECORDS]     (default: 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-100000}"
cargo build --release -p junction >&2
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
"${CARGO_TARGET_DIR:-target}/release/junction" bench sync --records "$records" | tail -n1
