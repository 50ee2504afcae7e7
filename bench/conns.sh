#!/usr/bin/env bash
# Benchmark: `tcpscope conns` against `tshark -q -z conv,tcp` and `tcptrace -l`
# on the same ~1 GB capture of real loopback traffic that bench/read.sh makes
# (run that first, or this script makes it). Prints the time, peak memory
# and the ratios.
#
#   bash bench/conns.sh            # 1 round each (tshark alone takes a while)
#   ROUNDS=3 bash bench/conns.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
ROUNDS=${ROUNDS:-1}
WORK=${BENCH_DIR:-/dev/shm/tcpscope-bench}
PCAP=$WORK/big-${SIZE_MB}.pcap
if [ ! -s "$PCAP" ]; then
    ROUNDS=1 bash bench/read.sh >/dev/null
fi
if ! command -v tshark >/dev/null || ! command -v tcptrace >/dev/null; then
    echo "installing tshark and tcptrace (Debian packages) ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark tcptrace >/dev/null
fi
cargo build --release --quiet
BIN=$PWD/target/release/tcpscope
echo "capture: $PCAP, $(du -m "$PCAP" | cut -f1) MB"
echo "connections: tcpscope $("$BIN" conns --format csv -r "$PCAP" | tail -n +2 | wc -l)"
python3 bench/measure.py "$ROUNDS" \
    "tcpscope=$BIN conns -r $PCAP" \
    "tshark=tshark -q -z conv,tcp -r $PCAP"
python3 bench/measure.py "$ROUNDS" \
    "tcpscope=$BIN conns -r $PCAP" \
    "tcptrace=tcptrace -l $PCAP"
