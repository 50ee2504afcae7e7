#!/usr/bin/env bash
# Benchmark: many captures at once. Cuts the loopback capture that
# bench/make-capture.sh makes (SIZE_MB, default 512) into PIECES files with
# editcap, then times
#   - `conns --separate` and `read --json --separate` over the pieces on one
#     core (taskset -c 0, -j 1) and on every core (-j N): the scaling with
#     cores; and conns against tshark's `-z conv,tcp` run on each piece in
#     turn, the same work done the way one would script it;
#   - the pieces read as one rotated set against the whole file (the cost
#     of finding the set: each piece's first and last packet are read first).
# Prints best/median time, peak memory, and the ratios.
#
#   bash bench/many.sh
#   SIZE_MB=256 PIECES=16 ROUNDS=3 bash bench/many.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-512}
PIECES=${PIECES:-8}
ROUNDS=${ROUNDS:-3}
WORK=${BENCH_DIR:-/dev/shm/tcpscope-bench}
PCAP=$WORK/big-${SIZE_MB}.pcap
bash scripts/install-deps.sh >/dev/null
cargo build --release --quiet
BIN=$PWD/target/release/tcpscope
SIZE_MB=$SIZE_MB bash bench/make-capture.sh "$PCAP"
DIR=$WORK/pieces-${SIZE_MB}-${PIECES}
if [ ! -d "$DIR" ]; then
    packets=$(tcpdump --count -r "$PCAP" 2>/dev/null | awk '{print $1}')
    mkdir -p "$DIR.tmp"
    editcap -c $(( (packets + PIECES - 1) / PIECES )) "$PCAP" "$DIR.tmp/ring.pcap"
    mv "$DIR.tmp" "$DIR"
fi
CORES=$(nproc)
echo "capture: $PCAP, $(du -m "$PCAP" | cut -f1) MB; $(ls "$DIR" | wc -l) pieces in $DIR; $CORES cores"
one=$("$BIN" conns --format csv -r "$PCAP" | tail -n +2 | wc -l)
set_=$("$BIN" conns --format csv -r "$DIR/*" | tail -n +2 | wc -l)
echo "connections: whole file $one, pieces as one set $set_"
[ "$one" = "$set_" ] || { echo "the set should give the whole file's connections" >&2; exit 1; }
tshark_each="for f in $DIR/*; do tshark -q -z conv,tcp -r \$f; done"
python3 bench/measure.py "$ROUNDS" \
    "conns, 1 core=taskset -c 0 $BIN conns --separate -j 1 -r '$DIR/*'" \
    "conns, $CORES cores=$BIN conns --separate -j $CORES -r '$DIR/*'" \
    "tshark each=$tshark_each"
python3 bench/measure.py "$ROUNDS" \
    "read --json, 1 core=taskset -c 0 $BIN read --json --separate -j 1 -r '$DIR/*' 2>/dev/null" \
    "read --json, $CORES cores=$BIN read --json --separate -j $CORES -r '$DIR/*' 2>/dev/null"
python3 bench/measure.py "$ROUNDS" \
    "whole file=$BIN conns -r $PCAP" \
    "as one set=$BIN conns -r '$DIR/*'"
