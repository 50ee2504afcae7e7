#!/usr/bin/env bash
# Benchmark: live capture under a loopback flood, tcpscope against tcpdump.
#
# In a private network namespace, a bounded UDP flood (COUNT datagrams of
# SIZE bytes from THREADS senders, at most 60 s) goes to 127.0.0.1:9 while one
# tool captures it with `-w` to tmpfs and the same kernel buffer (-B KiB).
# Each tool gets its own namespace and its own flood, in alternation, ROUNDS
# times. Prints, per run, what the flood sent, what the tool wrote, what the
# kernel dropped, and the packets per second written; then the totals.
#
#   sudo bash bench/capture.sh
#   COUNT=4000000 BUFFER_KIB=8192 ROUNDS=3 sudo bash bench/capture.sh
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-2000000}
SIZE=${SIZE:-64}
THREADS=${THREADS:-4}
BUFFER_KIB=${BUFFER_KIB:-4096}
ROUNDS=${ROUNDS:-3}
WORK=${BENCH_DIR:-/dev/shm/tcpscope-capture-bench}

bash scripts/install-deps.sh bench >/dev/null
cargo build --release --quiet --bin tcpscope --example flood
BIN=$PWD/target/release/tcpscope
FLOOD=$PWD/target/release/examples/flood
mkdir -p "$WORK"

# run TOOL: prints "sent captured dropped seconds"
run() {
    local tool=$1 cmd
    case $tool in
        tcpscope) cmd="$BIN capture -Z root -i lo -B $BUFFER_KIB -w $WORK/$tool.pcap udp" ;;
        tcpdump) cmd="tcpdump -Z root -i lo -B $BUFFER_KIB -w $WORK/$tool.pcap udp" ;;
    esac
    unshare --net bash -c "
        set -e
        ip link set lo up
        $cmd 2>$WORK/$tool.err & p=\$!
        sleep 1
        $FLOOD 127.0.0.1:9 $COUNT $SIZE $THREADS >$WORK/flood.out
        sleep 1.5
        kill -INT \$p; wait \$p || true
    "
    local sent secs captured dropped
    read -r sent secs _ <"$WORK/flood.out"
    captured=$(grep -E 'packets? captured' "$WORK/$tool.err" | awk '{print $1}')
    dropped=$(grep -E 'dropped by kernel' "$WORK/$tool.err" | awk '{print $1}')
    echo "$sent $captured $dropped $secs"
}

printf '%-9s %5s %10s %10s %10s %12s\n' tool round sent written dropped written/s
declare -A W D S T
for tool in tcpscope tcpdump; do W[$tool]=0; D[$tool]=0; S[$tool]=0; T[$tool]=0; done
for round in $(seq "$ROUNDS"); do
    for tool in tcpscope tcpdump; do
        read -r sent captured dropped secs < <(run $tool)
        rate=$(python3 -c "print(int($captured / $secs))")
        printf '%-9s %5s %10s %10s %10s %12s\n' "$tool" "$round" "$sent" "$captured" "$dropped" "$rate"
        W[$tool]=$((W[$tool] + captured)); D[$tool]=$((D[$tool] + dropped)); S[$tool]=$((S[$tool] + sent))
        T[$tool]=$(python3 -c "print(${T[$tool]} + $secs)")
    done
done
echo
for tool in tcpscope tcpdump; do
    python3 -c "
w, d, s, t = ${W[$tool]}, ${D[$tool]}, ${S[$tool]}, ${T[$tool]}
print(f'$tool: {w} of {s} datagrams written ({100*w/s:.1f}%), {d} dropped by the kernel, {w/t:,.0f} written per second of flood')"
done
python3 -c "
a, b = ${D[tcpscope]}, ${D[tcpdump]}
print(f'drops: tcpscope {a}, tcpdump {b}: ' + ('no more than tcpdump' if a <= b else 'MORE than tcpdump'))"
rm -f "$WORK"/*.pcap
