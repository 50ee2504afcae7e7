#!/usr/bin/env bash
# Benchmark: `tcpscope read -n -r big.pcap` against `tcpdump -n -r big.pcap`.
#
# Makes (once) a capture of real loopback TCP traffic in a private network
# namespace, about SIZE_MB megabytes (default 1024, ~2 million packets), in
# tmpfs so that both tools read from memory; checks that both outputs are
# identical; then times both in alternation and prints the ratio and the
# peak memory of each. Needs root (for the namespace and tcpdump's capture).
#
#   bash bench/read.sh                 # 1 GB capture, 3 rounds
#   SIZE_MB=200 ROUNDS=5 bash bench/read.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
ROUNDS=${ROUNDS:-3}
WORK=${BENCH_DIR:-/dev/shm/tcpscope-bench}
PCAP=$WORK/big-${SIZE_MB}.pcap

bash scripts/install-deps.sh bench >/dev/null
cargo build --release --quiet
BIN=$PWD/target/release/tcpscope
SIZE_MB=$SIZE_MB bash bench/make-capture.sh "$PCAP"
packets=$(tcpdump --count -r "$PCAP" 2>/dev/null | awk '{print $1}')
echo "capture: $PCAP, $(du -m "$PCAP" | cut -f1) MB, $packets packets"

echo "checking that both outputs are identical..."
a=$(TZ=UTC "$BIN" read -n -r "$PCAP" 2>/dev/null | sha256sum)
b=$(TZ=UTC tcpdump -n -r "$PCAP" 2>/dev/null | sha256sum)
if [ "$a" != "$b" ]; then
    echo "outputs differ: tcpscope $a, tcpdump $b" >&2
    exit 1
fi
echo "identical output ($a)"

echo "timing ($ROUNDS rounds, alternating):"
TZ=UTC python3 bench/measure.py "$ROUNDS" \
    "tcpscope=$BIN read -n -r $PCAP 2>/dev/null" \
    "tcpdump=tcpdump -n -r $PCAP 2>/dev/null"
