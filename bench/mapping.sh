#!/usr/bin/env bash
# `junction bench mapping`: a ~20-field vendor → canonical mapping (renames, a nested address,
# Unix → ISO 8601, an enum map) over RECORDS NDJSON records: Junction's decode + map and
# decode + map + validate (every core) beside jq and the jaq CLI (one core each) on the same file
# with the same program, in the same run. Installs jq (apt) and jaq (cargo) when missing.
#   bash bench/mapping.sh [RECORDS]     (default: 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-1000000}"
command -v jq >/dev/null || { apt-get install -y jq >&2 || sudo apt-get install -y jq >&2; }
command -v jaq >/dev/null || [ -x "$HOME/.cargo/bin/jaq" ] || cargo install --locked jaq >&2
cargo build --release -p junction >&2
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(jq --version), $(jaq --version 2>/dev/null || "$HOME/.cargo/bin/jaq" --version)" >&2
"${CARGO_TARGET_DIR:-target}/release/junction" bench mapping --records "$records" | tail -n1
