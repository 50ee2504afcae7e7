#!/usr/bin/env bash
# Run every test of the workspace, as CI does (.ci/run calls this).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --workspace --release -- --show-output
# The light build (no arrow-rs or parquet) must keep compiling.
cargo check --quiet -p tcpscope --no-default-features
# The decoders' tests again with overflow checks and debug assertions on
# (profile `checked`): a wrapped number fails here.
cargo test --profile checked -p tcpscope-wire -p tcpscope-print -p tcpscope-capture \
    -p tcpscope-track -p tcpscope-filter
# The project's fuzz targets: every past crash input, then a short bounded
# run of each (scripts/fuzz.sh; FUZZ_SECONDS=600 for a longer one).
FUZZ_SECONDS=${FUZZ_SECONDS:-20} bash scripts/fuzz.sh
# The README's install step, into a scratch prefix: the binary, completions
# and man pages land where the shells and man look for them.
prefix=$(mktemp -d)
PREFIX="$prefix" bash scripts/install.sh
"$prefix/bin/tcpscope" --version
test -s "$prefix/share/bash-completion/completions/tcpscope"
test -s "$prefix/share/zsh/site-functions/_tcpscope"
test -s "$prefix/share/fish/vendor_completions.d/tcpscope.fish"
MANPATH="$prefix/share/man" man -w tcpscope-ss
rm -rf "$prefix"
