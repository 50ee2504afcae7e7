#!/usr/bin/env bash
# Run tcpscope's fuzz targets (fuzz/fuzz_targets: reader, printer, tracker,
# filter) with libFuzzer, on stable Rust: the coverage instrumentation is
# asked of LLVM with stable -C flags (what `cargo fuzz` does, without its
# sanitizer, which needs nightly), and libfuzzer-sys builds libFuzzer with
# the machine's C++ compiler. Overflow checks and debug assertions are on
# (fuzz/Cargo.toml), so a wrapped number is a crash.
#
#   bash scripts/fuzz.sh                     # every target, 30 s each
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh reader filter
#
# First every input in fuzz/regressions/TARGET (each a crash found
# before, now a test) is run; then each target fuzzes from a corpus seeded
# with the project's test captures and filter expressions (kept in
# fuzz/corpus, not committed). A crash stops the script with exit 1 and
# leaves its input in fuzz/artifacts/TARGET/: copy it into
# fuzz/regressions/TARGET/ with the fix. Prints each target's executions
# and coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
each=${FUZZ_SECONDS:-30}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(reader printer tracker filter)
fi
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# With --target, RUSTFLAGS reach the fuzzed code but not build scripts.
triple=$(rustc -vV | sed -n 's/^host: //p')
cargo build --quiet --release --manifest-path fuzz/Cargo.toml --target "$triple" \
    --bin reader --bin printer --bin tracker --bin filter
bin=fuzz/target/$triple/release
mkdir -p fuzz/corpus
if [ ! -d fuzz/corpus/reader ]; then
    RUSTFLAGS= cargo run --quiet --release --manifest-path fuzz/Cargo.toml --bin seeds -- \
        fuzz/corpus tests/captures/*.pcap tests/corpus/tcpdump/pcaps/* -- tests/filter/expressions.txt
fi
for t in "${targets[@]}"; do
    if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
        "$bin/$t" fuzz/regressions/"$t"/* 2>&1 | tail -1
    fi
done
for t in "${targets[@]}"; do
    mkdir -p "fuzz/artifacts/$t"
    log=$(mktemp)
    if ! "$bin/$t" "fuzz/corpus/$t" -max_total_time="$each" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz: $t crashed; its input is in fuzz/artifacts/$t/" >&2
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz: $t: $runs executions in ${each} s, $cov, no crash"
    rm -f "$log"
done
