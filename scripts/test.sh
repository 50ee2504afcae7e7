#!/usr/bin/env bash
# Run every test of the workspace, as CI does (.ci/run calls this).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --workspace --release -- --show-output
