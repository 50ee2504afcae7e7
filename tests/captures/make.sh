#!/usr/bin/env bash
# Make the connection-tracking test captures from real kernel traffic, and
# store tshark's analysis of them as test data.
#
#   sudo bash tests/captures/make.sh      # rewrites tests/captures/*.pcap and *.tshark.tsv
#   sudo ONLY="loss-after-capture" bash tests/captures/make.sh   # one capture (and every .tsv)
#
# Each scenario runs tcpscope's own server and client inside a private
# network namespace (nothing leaves it) while tcpdump captures its loopback.
# Needs root, tcpdump, tshark and nft (scripts/install-deps.sh bench installs
# the first; apt-get install tshark nftables the others). The loss scenarios
# drop chosen packets with nftables rules at lo's ingress hook inside the
# namespace: after the capture point saw them, so the capture shows the
# packet and then its retransmission.
set -euo pipefail
cd "$(dirname "$0")"
BIN=${BIN:-../../target/release/tcpscope}
[ -x "$BIN" ] || (cd ../.. && cargo build --release --quiet)
BIN=$(readlink -f "$BIN")

# scenario NAME LISTEN SERVER_ARGS CLIENT_TARGET CLIENT_ARGS [SETUP]
# SETUP runs in the namespace before anything else (the nftables rules).
scenario() {
    local name=$1 listen=$2 sargs=$3 target=$4 cargs=$5 setup=${6:-true}
    # ONLY="a b" remakes just those captures.
    [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $name "* ]] || return 0
    rm -f "$name.pcap"
    timeout 60 unshare --net bash -c "
        ip link set lo up
        $setup
        tcpdump -Z root --immediate-mode -i lo -s ${SNAP:-262144} -B 65536 -U -w '$PWD/$name.pcap' tcp 2>/dev/null & tp=\$!
        sleep 1
        if [ -n '$listen' ]; then
            '$BIN' server '$listen' --max-conns 1 --duration 20s $sargs >/dev/null 2>&1 & sp=\$!
            sleep 0.3
        fi
        timeout 20 '$BIN' client '$target' $cargs >/dev/null 2>&1 || true
        [ -n '$listen' ] && { wait \$sp || true; }
        sleep 0.5
        kill -INT \$tp; wait \$tp || true
    "
    echo "$name: $(tcpdump -r "$name.pcap" 2>/dev/null | wc -l) packets"
}

# routed NAME SERVER_ARGS CLIENT_ARGS RULE
# Three namespaces, client - router - server, joined by veth pairs; the
# router forwards and RULE (an nftables rule in its forward chain) drops
# chosen packets. The capture is taken on the client's interface, so a
# packet the router drops is missing from it, as on a real path: the
# capture shows the gap, the client's SACKs, then the retransmission.
routed() {
    local name=$1 sargs=$2 cargs=$3 rule=$4
    [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $name "* ]] || return 0
    local c=tcpscope-c-$$ r=tcpscope-r-$$ s=tcpscope-s-$$
    ip netns add $c; ip netns add $r; ip netns add $s
    trap "ip netns del $c; ip netns del $r; ip netns del $s" EXIT
    ip -n $c link add vc type veth peer name vrc netns $r
    ip -n $s link add vs type veth peer name vrs netns $r
    ip -n $c addr add 10.99.1.2/24 dev vc
    ip -n $r addr add 10.99.1.1/24 dev vrc
    ip -n $r addr add 10.99.2.1/24 dev vrs
    ip -n $s addr add 10.99.2.2/24 dev vs
    for n in $c $r $s; do ip -n $n link set lo up; done
    ip -n $c link set vc up; ip -n $s link set vs up
    ip -n $r link set vrc up; ip -n $r link set vrs up
    ip -n $c route add default via 10.99.1.1
    ip -n $s route add default via 10.99.2.1
    ip netns exec $r sysctl -qw net.ipv4.ip_forward=1
    ip netns exec $r nft add table ip loss
    ip netns exec $r nft add chain ip loss through "{ type filter hook forward priority 0; }"
    ip netns exec $r nft add rule ip loss through $rule
    rm -f "$name.pcap"
    ip netns exec $c tcpdump -Z root --immediate-mode -i vc -s ${SNAP:-262144} -B 65536 -U -w "$PWD/$name.pcap" tcp 2>/dev/null & local tp=$!
    sleep 1
    ip netns exec $s timeout 30 "$BIN" server 10.99.2.2:9300 --max-conns 1 --duration 20s $sargs >/dev/null 2>&1 & local sp=$!
    sleep 0.3
    ip netns exec $c timeout 20 "$BIN" client 10.99.2.2:9300 $cargs >/dev/null 2>&1 || true
    wait $sp || true
    sleep 0.5
    kill -INT $tp; wait $tp || true
    ip netns del $c; ip netns del $r; ip netns del $s
    trap - EXIT
    echo "$name: $(tcpdump -r "$name.pcap" 2>/dev/null | wc -l) packets"
}

if [ -z "${ONLY_TSHARK:-}" ]; then
scenario client-close 127.0.0.1:9300 "" 127.0.0.1:9300 "--message hello --recv"
scenario server-close 127.0.0.1:9300 "--mode source --bytes 100000" 127.0.0.1:9300 "--recv --close never"
scenario refused "" "" 127.0.0.1:9300 ""
scenario rst-linger0 127.0.0.1:9300 "" 127.0.0.1:9300 "--message hello --recv --close rst"
scenario half-close 127.0.0.1:9300 "" 127.0.0.1:9300 "--message hello --close half"
scenario ipv6 "[::1]:9300" "" "[::1]:9300" "--message hello --recv"
scenario reset-by-peer 127.0.0.1:9300 "--close rst --close-after 1" 127.0.0.1:9300 "--message hello --recv --write-after-reset"
scenario zero-window 127.0.0.1:9300 "--mode discard --rcvbuf 2048 --read-delay 100ms --close-after 60000" 127.0.0.1:9300 "--send 60000 --sndbuf 65536"
scenario keepalive 127.0.0.1:9300 "" 127.0.0.1:9300 "--keepalive 1s,1s,5 --hold 3500ms"
# Drop the server's 4th, 7th and 11th packets: numgen counts the packets the rule sees.
ingress="nft add table netdev loss; nft add chain netdev loss in '{ type filter hook ingress device lo priority 0; }'"
bulk="--mode source --bytes 400000"
# Only the headers matter in these: 128 bytes of each packet keep the files small.
export SNAP=128
scenario loss-after-capture 127.0.0.1:9300 "$bulk" 127.0.0.1:9300 "--recv --close never --rcvbuf 65536" \
    "$ingress; nft add rule netdev loss in ip protocol tcp tcp sport 9300 numgen inc mod 1000 '{ 4, 7, 11 }' drop"
# The client's window updates are lost: the server probes the zero window.
scenario lost-window-update 127.0.0.1:9300 "$bulk" 127.0.0.1:9300 "--recv --close never --rcvbuf 65536" \
    "$ingress; nft add rule netdev loss in ip protocol tcp tcp dport 9300 numgen inc mod 1000 '{ 6, 7, 8, 9 }' drop"
# The router drops three of the server's packets before the capture point.
routed loss-before-capture "$bulk" "--recv --close never --rcvbuf 65536" \
    "ip saddr 10.99.2.2 tcp sport 9300 numgen inc mod 1000 { 6, 9, 13 } drop"
fi

# tshark's analysis flags: one line per (frame, flag), plus iRTT.
FLAGS="retransmission fast_retransmission spurious_retransmission out_of_order lost_segment ack_lost_segment duplicate_ack zero_window zero_window_probe zero_window_probe_ack window_full window_update keep_alive keep_alive_ack reused_ports"
# Also for the tcpdump corpus captures (no root needed for these): ONLY_TSHARK=1 skips the scenarios.
mkdir -p corpus
for p in *.pcap ../corpus/tcpdump/pcaps/*.pcap ../corpus/tcpdump/pcaps/*.pcapng; do
    case "$p" in ../*) out=corpus/$(basename "${p%.*}").tshark.tsv ;; *) out=${p%.pcap}.tshark.tsv ;; esac
    {
        echo "# tshark $(tshark --version 2>/dev/null | head -1 | awk '{print $3}') analysis of $p: frame<TAB>flag"
        {
            for f in $FLAGS; do
                tshark -r "$p" -Y "tcp.analysis.$f" -T fields -e frame.number 2>/dev/null | sed "s/\$/\t$f/"
            done
            # A D-SACK is no analysis flag in tshark, but a field of the SACK option.
            tshark -r "$p" -Y "tcp.options.sack.dsack" -T fields -e frame.number 2>/dev/null | sed 's/$/\tdsack/'
        } | sort -n
        tshark -r "$p" -Y "tcp.analysis.initial_rtt" -T fields -e frame.number -e tcp.analysis.initial_rtt 2>/dev/null | head -1 | sed 's/^/irtt\t/'
    } > "$out"
done
echo "wrote $(ls *.pcap | wc -l) captures and the tshark analysis of $(ls *.tsv corpus/*.tsv | wc -l) files"
