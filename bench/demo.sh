#!/usr/bin/env bash
# How soon `junction demo` shows each capability: starts the demo (normal pace) and prints, in
# seconds after the hub is ready, when each signal first appears in the admin API.
#   bash bench/demo.sh [PORT]
set -euo pipefail
PORT="${1:-18090}"
BIN="${JUNCTION_BIN:-${CARGO_TARGET_DIR:-target}/release/junction}"
DIR=$(mktemp -d)
"$BIN" demo --listen "127.0.0.1:$PORT" --dir "$DIR" --duration 100s > "$DIR/demo.out" 2>&1 &
DEMO=$!
trap 'kill $DEMO 2>/dev/null || true; rm -rf "$DIR"' EXIT
B="http://127.0.0.1:$PORT"
until curl -sf "$B/readyz" >/dev/null; do sleep 0.2; done
start=$(date +%s)
declare -A seen=()
check() { if [ -z "${seen[$1]:-}" ] && eval "$2" >/dev/null 2>&1; then seen[$1]=1; echo "$1 at $(( $(date +%s) - start ))s"; fi; }
while [ "${#seen[@]}" -lt 9 ] && [ $(( $(date +%s) - start )) -lt 90 ]; do
  check retries "curl -s '$B/api/v1/stats?kind=destination&minutes=5' | jq -e '[.series[].totals.failed] | add > 0'"
  check dead_letters "curl -s $B/api/v1/dead-letters | jq -e '.items | length > 0'"
  check quarantine "curl -s $B/api/v1/quarantine | jq -e '.items | length > 0'"
  check drift "curl -s $B/api/v1/drift | grep -q missing_field"
  check deprecation "curl -s $B/api/v1/drift | grep -q deprecated"
  check quota_learned "curl -s $B/api/v1/connectors | grep -q '\"learned\":true'"
  check circuit_open "curl -s $B/api/v1/destinations | grep -q '\"circuit\":\"open\"'"
  check alert_dead_letters "curl -s $B/api/v1/alerts | jq -e '[.alerts[] | select(.state==\"firing\" and .rule==\"dead_letters\")] | length > 0'"
  check alert_schema_drift "curl -s $B/api/v1/alerts | jq -e '[.alerts[] | select(.state==\"firing\" and .rule==\"schema_drift\")] | length > 0'"
  sleep 1
done
