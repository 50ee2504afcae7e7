#!/usr/bin/env bash
# Make (once) a capture of real loopback TCP traffic in a private network
# namespace, about SIZE_MB megabytes, at the path given; the benchmark
# scripts share it. Needs root (for the namespace and tcpdump's capture).
#
#   SIZE_MB=512 bash bench/make-capture.sh /dev/shm/tcpscope-bench/big-512.pcap
set -euo pipefail
cd "$(dirname "$0")/.."
PCAP=$1
SIZE_MB=${SIZE_MB:-1024}
if [ -s "$PCAP" ]; then
    exit 0
fi
mkdir -p "$(dirname "$PCAP")"
echo "making a ${SIZE_MB} MB capture of loopback traffic in a private network namespace..." >&2
unshare --net bash -c "
    set -e
    ip link set lo up
    tcpdump -i lo -s 262144 -B 262144 -w '$PCAP.tmp' 2>/dev/null &
    tpid=\$!
    sleep 1
    python3 bench/traffic.py --watch '$PCAP.tmp' --mb $SIZE_MB --seconds 600
    kill -INT \$tpid; wait \$tpid || true
"
mv "$PCAP.tmp" "$PCAP"
