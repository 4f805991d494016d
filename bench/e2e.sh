#!/usr/bin/env bash
# `junction bench e2e`: a fixed offered rate of signed webhooks through `junction serve` to an
# HTTP destination (the mock's sink) for a fixed time; delivered/s and sent→delivered latency.
#   bash bench/e2e.sh [RATE] [DURATION]     (defaults: 5000 events/s for 30s)
set -euo pipefail
cd "$(dirname "$0")/.."
rate="${1:-5000}"
duration="${2:-30s}"
cargo build --release -p junction >&2
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
"${CARGO_TARGET_DIR:-target}/release/junction" bench e2e --rate "$rate" --duration "$duration" | tail -n1
