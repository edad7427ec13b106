#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Receive delivery: a decapsulated packet goes to the stack at once unless
# GRO can merge it (a TCP segment with data, not a GSO packet) or an
# earlier packet of the tunnel still waits in its per-cpu cell; then it
# goes through the cell's NAPI poll and GRO.  What must hold:
#
#  1. GRO still merges: with the sender's veth0 segmenting (gso/tso off)
#     the receiving tunnel is handed MTU-sized segments in bursts, and what
#     the receiving tunnel device delivers (captured there, after GRO) has
#     payloads above the MTU; with GRO off on the receiver it has not.
#  2. No reordering when packets take both ways: a packet socket on the
#     receiver's veth1 holds clones of every other outer packet (GRO must
#     not merge into those, so they bypass GRO or are uncloned in the
#     poll), and the transfers still arrive whole with nothing queued out
#     of order (TcpExtTCPOFOQueue) -- also with the offloads on, where GSO
#     packets and single segments of one flow mix.
#  3. Nesting: ipt_ipip inside ipt_ipip four deep.  Direct delivery nests
#     one level: the inner levels' packets go through their cells.
#
#   $NSA  veth0 192.0.2.1, 2001:db8::1 ----- veth1 192.0.2.2, 2001:db8::2  $NSB
#         ipt_ipip t4 10.1.1.1   =============== t4 10.1.1.2
#         ipt_6in4 t6 fd00:1::1  =============== t6 fd00:1::2
#         ipt_4in6 t46 10.1.3.1  =============== t46 10.1.3.2
#         n2 10.2.2.1 over t4, n3 10.3.3.1 over n2, n4 10.4.4.1 over n3

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd iperf3 tcpdump ethtool taskset /usr/bin/python3
require_module veth

underlay_pair

tunnel_trio

# tcpext NS FIELD: a TcpExt counter of NS
tcpext() {
	ns_exec "$1" awk -v f="$2" '$1 == "TcpExt:" {
		if (!n) { for (i = 2; i <= NF; i++) h[i] = $i; n = 1; next }
		for (i = 2; i <= NF; i++) if (h[i] == f) print $i }' /proc/net/netstat
}

# retrans NS: segments NS's TCP retransmitted
retrans() {
	ns_exec "$1" awk '$1 == "Tcp:" && $13 ~ /^[0-9]+$/ { print $13 }' /proc/net/snmp
}

# transfer DEV PEER SIZE: SIZE of TCP from $NSA to PEER, captured on DEV
# in $NSB (what the receiving tunnel delivers, after GRO).  Sets GOT to
# the bytes sent (0 when the transfer failed: TCP, so a clean finish means
# all arrived), BIG to the largest TCP payload delivered and OFO to the
# segments the receiver queued out of order (RETRANS: those the sender
# retransmitted, for the failure message).  Both ends run on CPU 0: a
# sender moving between CPUs can reorder packets on a veth by itself
# (each CPU has its backlog), and this is about ipt's order on one CPU.
# No $(...): a subshell would run lib.sh's exit trap.
transfer() {
	local dev=$1 peer=$2 size=$3 pcap=/tmp/rxd-$1.pcap srv ofo0 re0 cap
	BIG=0 GOT=0 OFO=0 RETRANS=0
	ofo0=$(tcpext "$NSB" TCPOFOQueue)
	re0=$(retrans "$NSA")
	CAP_SNAPLEN=96 cap_start "$NSB" "$dev" "$pcap" tcp
	cap=$!
	ns_exec "$NSB" taskset -c 0 iperf3 -s -1 -B "$peer" >/dev/null 2>&1 &
	srv=$!
	wait_for -t 20 sh -c "ip netns exec $NSB ss -ltn | grep -q ':5201'" ||
		{ kill "$srv" "$cap"; return; }
	ns_exec "$NSA" taskset -c 0 iperf3 -c "$peer" -n "$size" -J >/tmp/rxd-cli.json 2>/dev/null ||
		: >/tmp/rxd-cli.json
	wait "$srv"
	sleep 0.5
	kill "$cap" 2>/dev/null
	wait "$cap" 2>/dev/null
	BIG=$(pcap_max_tcp "$pcap")
	GOT=$(iperf3_sent /tmp/rxd-cli.json)
	OFO=$(($(tcpext "$NSB" TCPOFOQueue) - ofo0))
	RETRANS=$(($(retrans "$NSA") - re0))
}

# A packet socket on veth1 in $NSB that takes a clone of each outer
# packet whose byte at OFFSET (from the Ethernet header) is odd, and
# counts them into /tmp/rxd-clones until /tmp/rxd-stop appears.
cloner_start() {
	rm -f /tmp/rxd-stop /tmp/rxd-clones
	ns_exec "$NSB" /usr/bin/python3 - "$1" <<'EOF' &
import ctypes, os, socket, struct, sys, time
off = int(sys.argv[1])
# ldb [off]; jset #1, accept, reject
prog = [(0x30, 0, 0, off), (0x45, 0, 1, 1), (0x06, 0, 0, 0xffff), (0x06, 0, 0, 0)]
buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", len(prog), ctypes.addressof(buf)))
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
s.bind(("veth1", 0))
s.settimeout(0.2)
n = 0
open("/tmp/rxd-clones.ready", "w").close()
deadline = time.time() + 120
while not os.path.exists("/tmp/rxd-stop") and time.time() < deadline:
    try:
        s.recv(65536)
        n += 1
    except socket.timeout:
        pass
open("/tmp/rxd-clones", "w").write("%d\n" % n)
EOF
	CLONER=$!
	on_exit "touch /tmp/rxd-stop"
	wait_for test -e /tmp/rxd-clones.ready || die "packet socket did not start"
	rm -f /tmp/rxd-clones.ready
}

cloner_stop() {
	touch /tmp/rxd-stop
	wait "$CLONER"
	CLONES=$(cat /tmp/rxd-clones 2>/dev/null || echo 0)
}

mtu_of() {
	ip -n "$NSB" -o link show dev "$1" | sed -n 's/.* mtu \([0-9]*\).*/\1/p'
}

# 1. GRO merges what the underlay did not.
ns_exec "$NSA" ethtool -K veth0 gso off tso off >/dev/null ||
	die "cannot turn off GSO on veth0"
for spec in "t4 ipt_ipip 10.1.1.2" "t6 ipt_6in4 fd00:1::2" "t46 ipt_4in6 10.1.3.2"; do
	# shellcheck disable=SC2086 # spec is words
	set -- $spec
	dev=$1 kind=$2 peer=$3 mtu=$(mtu_of "$1")
	transfer "$dev" "$peer" 2M
	check_ge "$kind: bytes delivered, underlay segmenting" 2097152 "$GOT"
	if [ "$BIG" -gt "$mtu" ]; then
		pass "$kind: GRO merged MTU-sized segments (largest delivered payload $BIG, MTU $mtu)"
	else
		fail "$kind: GRO merged nothing (largest delivered payload $BIG, MTU $mtu)"
	fi
	check_eq "$kind: out-of-order segments (retransmitted: $RETRANS)" 0 "$OFO"

	ns_exec "$NSB" ethtool -K "$dev" gro off
	transfer "$dev" "$peer" 1M
	check_ge "$kind: bytes delivered with GRO off" 1048576 "$GOT"
	if [ "$BIG" -gt 0 ] && [ "$BIG" -le "$mtu" ]; then
		pass "$kind: GRO off delivers segments as they came (largest $BIG)"
	else
		fail "$kind: GRO off: largest delivered payload $BIG, MTU $mtu"
	fi
	ns_exec "$NSB" ethtool -K "$dev" gro on
done

# 2. Clones of every other packet; with the underlay segmenting (singles
# queue for GRO, clones behind them must be uncloned in the poll), then
# with the offloads on (GSO packets and singles of one flow).
# Offsets of a byte that changes per packet: the outer IPv4 ID (ipip,
# 6in4), the inner IPv4 ID (4in6).
for veth_gso in off on; do
	ns_exec "$NSA" ethtool -K veth0 gso "$veth_gso" tso "$veth_gso" >/dev/null
	for spec in "t4 ipt_ipip 10.1.1.2 19" "t6 ipt_6in4 fd00:1::2 19" "t46 ipt_4in6 10.1.3.2 59"; do
		# shellcheck disable=SC2086 # spec is words
		set -- $spec
		dev=$1 kind=$2 peer=$3
		cloner_start "$4"
		transfer "$dev" "$peer" 2M
		cloner_stop
		check_ge "$kind, veth gso $veth_gso: bytes delivered with clones" 2097152 "$GOT"
		check_ge "$kind, veth gso $veth_gso: packets cloned by the packet socket" 10 "$CLONES"
		check_eq "$kind, veth gso $veth_gso: out-of-order segments with clones (retransmitted: $RETRANS)" 0 "$OFO"
	done
done

# 3. Four levels of ipt_ipip.
prev_a=10.1.1.1 prev_b=10.1.1.2
for n in 2 3 4; do
	ip -n "$NSA" link add "n$n" type ipt_ipip local "$prev_a" remote "$prev_b" ||
		die "cannot create n$n"
	ip -n "$NSB" link add "n$n" type ipt_ipip local "$prev_b" remote "$prev_a"
	ip -n "$NSA" addr add "10.$n.$n.1/30" dev "n$n"
	ip -n "$NSB" addr add "10.$n.$n.2/30" dev "n$n"
	ip -n "$NSA" link set "n$n" up
	ip -n "$NSB" link set "n$n" up
	prev_a=10.$n.$n.1 prev_b=10.$n.$n.2
done
wait_for ping_ok "$NSA" 10.4.4.2 || fail "no ping through four levels"
declare -A rx0
for d in t4 n2 n3 n4; do
	rx0[$d]=$(link_stat "$NSB" "$d" rx_packets)
done
transfer n4 10.4.4.2 2M
check_ge "four levels: bytes delivered" 2097152 "$GOT"
check_eq "four levels: out-of-order segments (retransmitted: $RETRANS)" 0 "$OFO"
for d in t4 n2 n3 n4; do
	check_ge "four levels: $d received the transfer" $((rx0[$d] + 100)) \
		"$(link_stat "$NSB" "$d" rx_packets)"
done

exit "$RET"
