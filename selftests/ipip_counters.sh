#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Exact ipt_ipip device counters (ip -s -s link), and malformed packets.
#
#   +-------------------------------+                +-------------------------------+
#   | $NSA                          |                | $NSB                          |
#   |  ipt0 (ipt_ipip) 10.0.0.1/30  |  IPv4 in IPv4  |  ipt0 (ipt_ipip) 10.0.0.2/30  |
#   |   local 192.0.2.1 ===================================== local 192.0.2.2      |
#   |  veth0 192.0.2.1/24 ----------+-- veth pair ---+---------- veth1 192.0.2.2/24  |
#   +-------------------------------+                +-------------------------------+
#                                                        scapy: crafted protocol 4
#                                                        packets 192.0.2.2 -> .1
#
# No IPv6 and static neighbours, so that only the test's own packets move
# the counters.  A tunnel counts inner IP bytes; the veth counts the same
# packets with the 20 byte outer IPv4 header and a 14 byte Ethernet header.
#
# 1. N pings of a known size A -> B: packets and bytes, tx and rx, on both
#    tunnel ends and both veths.
# 2. N UDP datagrams of a known size B -> A, one way only.
# 3. Crafted packets from B's underlay address: a well-formed one is
#    counted as received; an inner IPv6 header, ihl < 5 and an outer CE
#    mark on a not-ECT inner packet are dropped and counted as errors
#    (rx_length_errors resp. rx_frame_errors, and rx_errors); an inner
#    header cut short (under 20 bytes) is dropped by tunnel4 before any
#    tunnel sees it; random inner headers are each counted exactly once;
#    and garbage from an address without a tunnel leaves ipt0 alone.

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
N=10
PING_DATA=200
PING_INNER=$((PING_DATA + 8 + 20))	# ICMP + IPv4
UDP_DATA=500
UDP_INNER=$((UDP_DATA + 8 + 20))	# UDP + IPv4
OUTER=20	# IPv4 outer header
ETH=14		# what veth adds to it

require_ipt
require_cmd ip ping ss
require_module veth
[ -x "$PY" ] || skip "$PY not installed"
"$PY" -c 'import scapy' 2>/dev/null || skip "python3-scapy not installed"

setup_ns NSA NSB
for ns in "$NSA" "$NSB"; do
	ns_exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 &&
	ns_exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 ||
		die "cannot disable IPv6 in $ns"
done
add_veth "$NSA" veth0 192.0.2.1/24 "$NSB" veth1 192.0.2.2/24
mac() { ip -n "$1" -br link show dev "$2" | awk '{ print $3 }'; }
ip -n "$NSA" neigh replace 192.0.2.2 lladdr "$(mac "$NSB" veth1)" dev veth0 nud permanent &&
ip -n "$NSB" neigh replace 192.0.2.1 lladdr "$(mac "$NSA" veth0)" dev veth1 nud permanent ||
	die "static neighbours"

for x in "$NSA 192.0.2.1 192.0.2.2 10.0.0.1/30" "$NSB 192.0.2.2 192.0.2.1 10.0.0.2/30"; do
	set -- $x
	ip -n "$1" link add ipt0 type ipt_ipip local "$2" remote "$3" ||
		die "cannot create ipt_ipip in $1"
	ip -n "$1" addr add "$4" dev ipt0 && ip -n "$1" link set ipt0 up ||
		die "ipt0 address / up in $1"
done
wait_for ping_ok "$NSA" 10.0.0.2 || die "no ping through the tunnel"

# Every counter of `ip -s -s link show dev DEV` as "rx_packets 12" lines:
# the RX:/TX: blocks give rx_bytes, rx_packets, rx_errors, rx_dropped, ...,
# the "RX errors:"/"TX errors:" blocks rx_length_errors, rx_frame_errors,
# tx_aborted_errors, ... (named as in the kernel's rtnl_link_stats64).
counters() {
	ip -n "$1" -s -s link show dev "$2" | awk '
		function name(dir, w) {
			if (w == "mcast") return dir "_multicast"
			if (w == "carrier" || w == "missed") return dir "_" w "_errors"
			if (w == "collsns") return "collisions"
			return dir "_" w
		}
		/^ *[RT]X/ {
			dir = tolower(substr($1, 1, 2))
			errs = $2 == "errors:"
			n = split($0, hdr)
			getline
			for (i = 2 + errs; i <= n; i++)
				print (errs ? dir "_" hdr[i] "_errors" : name(dir, hdr[i])), $(i - 1 - errs)
		}'
}
# snap TAG NS DEV: remember every counter of DEV as $TAG_<counter>.
snap() {
	local tag=$1 k v out
	out=$(counters "$2" "$3") && [ -n "$out" ] ||
		die "cannot read the counters of $3 in $2"
	while read -r k v; do
		printf -v "${tag}_$k" '%s' "$v"
	done <<<"$out"
}
snap_all() {
	snap A0 "$NSA" ipt0; snap B0 "$NSB" ipt0
	snap VA0 "$NSA" veth0; snap VB0 "$NSB" veth1
}
snap_now() {
	snap A1 "$NSA" ipt0; snap B1 "$NSB" ipt0
	snap VA1 "$NSA" veth0; snap VB1 "$NSB" veth1
}
# expect WHAT TAG COUNTER VALUE: $TAG1_COUNTER - $TAG0_COUNTER = VALUE
expect() {
	local before=${2}0_$3 after=${2}1_$3
	check_eq "$1 $3" "$4" $(( ${!after} - ${!before} ))
}
# expect_zero WHAT TAG COUNTER...
expect_zero() {
	local what=$1 tag=$2 c
	shift 2
	for c in "$@"; do expect "$what" "$tag" "$c" 0; done
}
ERRS="rx_errors rx_dropped rx_length_errors rx_frame_errors tx_errors tx_dropped tx_carrier_errors"

# The injector (started early: importing scapy takes a while under
# emulation) says "ready", then reads a case name per line, sends its
# packets and answers
# with one line: the number of packets sent, then for the "random" case
# how many inner headers pass (version 4, ihl >= 5) and their bytes.
INJECT_PY='
import random, socket, sys
from scapy.layers.inet import IP, ICMP
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest
from scapy.packet import Raw

sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

def outer(inner, src="192.0.2.2", tos=0):
    return bytes(IP(src=src, dst="192.0.2.1", proto=4, tos=tos, ttl=64) / Raw(inner))

def send(pkts):
    for p in pkts:
        sock.sendto(p, ("192.0.2.1", 0))
    return len(pkts)

good = bytes(IP(src="10.0.0.2", dst="10.0.0.1") / ICMP(type=0, id=7, seq=1) / Raw(b"x" * 32))
v6 = bytes(IPv6(src="2001:db8::2", dst="2001:db8::1") / ICMPv6EchoRequest())
rnd = random.Random(4)
print("ready", flush=True)

for line in sys.stdin:
    case = line.strip()
    extra = ""
    if case == "good":
        n = send([outer(good)])
    elif case == "v6":
        n = send([outer(v6)])
    elif case == "ihl4":
        n = send([outer(bytes([0x44]) + good[1:])])
    elif case == "ihl0":
        n = send([outer(bytes([0x40]) + good[1:])])
    elif case == "short":
        n = send([outer(good[:10]), outer(good[:19]), outer(b"")])
    elif case == "ecn":
        n = send([outer(good, tos=3)])	# CE outside, not-ECT inside
    elif case == "random":
        pkts, ok, okbytes = [], 0, 0
        for i in range(200):
            b = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(20, 80)))
            if i % 4 == 0:	# make sure both kinds are well represented
                b = bytes([0x45]) + b[1:]
            if b[0] >> 4 == 4 and b[0] & 15 >= 5:
                ok += 1
                okbytes += len(b)
            pkts.append(outer(b))
        n = send(pkts)
        extra = " %d %d" % (ok, okbytes)
    elif case == "stranger":
        n = send([outer(good, src="192.0.2.3"), outer(v6, src="192.0.2.3")])
    else:
        n = -1
    print("%d%s" % (n, extra), flush=True)
'
coproc INJ { ns_exec "$NSB" "$PY" -c "$INJECT_PY" 2>/tmp/inject.err; }
# inject CASE: run one case; sets $SENT (and $OK, $OKBYTES for "random")
inject() {
	echo "$1" >&"${INJ[1]}"
	read -r -t 60 SENT OK OKBYTES <&"${INJ[0]}" ||
		die "the injector did not answer for $1: $(cat /tmp/inject.err)"
	[ "$SENT" -gt 0 ] 2>/dev/null ||
		die "the injector failed on $1: $SENT $OK $OKBYTES $(cat /tmp/inject.err)"
}
# ---------------------------------------------------------------------------
log "=== 1. $N pings of $PING_INNER bytes (inner IPv4) A -> B"

snap_all
ns_exec "$NSA" ping -q -n -c "$N" -i 0.2 -W 2 -s "$PING_DATA" 10.0.0.2 >/dev/null ||
	fail "ping -s $PING_DATA through the tunnel lost packets"
snap_now
for x in "A ipt0(A)" "B ipt0(B)"; do
	set -- $x
	expect "$2" "$1" rx_packets "$N"
	expect "$2" "$1" rx_bytes $((N * PING_INNER))
	expect "$2" "$1" tx_packets "$N"
	expect "$2" "$1" tx_bytes $((N * PING_INNER))
	expect_zero "$2" "$1" $ERRS
done
for x in "VA veth0(A)" "VB veth1(B)"; do
	set -- $x
	for d in rx tx; do
		expect "$2" "$1" ${d}_packets "$N"
		expect "$2" "$1" ${d}_bytes $((N * (PING_INNER + OUTER + ETH)))
	done
done

# ---------------------------------------------------------------------------
log "=== 2. $N UDP datagrams of $UDP_INNER bytes (inner IPv4) B -> A"

ns_exec "$NSA" "$PY" - "$N" >/tmp/udp.out <<-'EOF' &
import socket, sys
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.0.1", 9000))
s.settimeout(30)
got = size = 0
try:
    while got < n:
        size += len(s.recv(65536))
        got += 1
except socket.timeout:
    pass
print(got, size)
EOF
rpid=$!
udp_bound() { [ -n "$(ns_exec "$NSA" ss -Huln "sport = :9000")" ]; }
wait_for -t 20 udp_bound || die "UDP receiver did not bind"

snap_all
ns_exec "$NSB" "$PY" - "$N" "$UDP_DATA" <<-'EOF' || fail "UDP sender failed"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])):
    s.sendto(bytes([i]) * int(sys.argv[2]), ("10.0.0.1", 9000))
EOF
wait "$rpid" || fail "UDP receiver failed"
snap_now
check_eq "UDP datagrams and bytes received" "$N $((N * UDP_DATA))" "$(cat /tmp/udp.out)"
expect "ipt0(B)" B tx_packets "$N"
expect "ipt0(B)" B tx_bytes $((N * UDP_INNER))
expect_zero "ipt0(B)" B rx_packets rx_bytes $ERRS
expect "ipt0(A)" A rx_packets "$N"
expect "ipt0(A)" A rx_bytes $((N * UDP_INNER))
expect_zero "ipt0(A)" A tx_packets tx_bytes $ERRS
expect "veth1(B)" VB tx_packets "$N"
expect "veth1(B)" VB tx_bytes $((N * (UDP_INNER + OUTER + ETH)))
expect_zero "veth1(B)" VB rx_packets rx_bytes
expect "veth0(A)" VA rx_packets "$N"
expect "veth0(A)" VA rx_bytes $((N * (UDP_INNER + OUTER + ETH)))
expect_zero "veth0(A)" VA tx_packets tx_bytes

# ---------------------------------------------------------------------------
log "=== 3. crafted protocol 4 packets B -> A"

read -r -t 120 READY <&"${INJ[0]}" && [ "$READY" = ready ] ||
	die "the scapy injector did not start: $READY $(cat /tmp/inject.err)"

# settled: A's ipt0 counters stopped moving, i.e. the injected packets
# have all been through the receive path
settled() {
	local a b
	a=$(counters "$NSA" ipt0)
	sleep 0.2
	b=$(counters "$NSA" ipt0)
	[ "$a" = "$b" ]
}
# crafted CASE WHAT PACKETS BYTES LENGTH_ERRS FRAME_ERRS: inject CASE and
# check ipt0(A)'s receive counters, all deltas
crafted() {
	local case=$1 what=$2
	snap A0 "$NSA" ipt0
	inject "$case"
	wait_for settled
	snap A1 "$NSA" ipt0
	expect "$what:" A rx_packets "$3"
	expect "$what:" A rx_bytes "$4"
	expect "$what:" A rx_length_errors "$5"
	expect "$what:" A rx_frame_errors "$6"
	expect "$what:" A rx_errors $(( $5 + $6 ))
	expect_zero "$what:" A rx_dropped tx_packets tx_errors
}

GOOD_LEN=$((20 + 8 + 32))
crafted good "well-formed (ICMP echo reply)" 1 "$GOOD_LEN" 0 0
crafted v6 "inner IPv6 header" 0 0 1 0
crafted ihl4 "inner ihl 4" 0 0 1 0
crafted ihl0 "inner ihl 0" 0 0 1 0
# tunnel4_rcv() drops what has no room for an inner IPv4 header before
# asking any tunnel: no tunnel sees or counts these three.
crafted short "inner header of 10, 19 and 0 bytes" 0 0 0 0
crafted ecn "outer CE, inner not-ECT" 0 0 0 1

snap A0 "$NSA" ipt0
inject random
wait_for settled
snap A1 "$NSA" ipt0
log "random inner headers: $SENT sent, $OK with version 4 and ihl >= 5 ($OKBYTES bytes)"
expect "random inner headers:" A rx_packets "$OK"
expect "random inner headers:" A rx_bytes "$OKBYTES"
expect "random inner headers:" A rx_length_errors $((SENT - OK))
expect "random inner headers:" A rx_errors $((SENT - OK))

crafted stranger "from 192.0.2.3 (no tunnel)" 0 0 0 0

fd=${INJ[1]}
exec {fd}>&-	# EOF ends the injector
wait "$INJ_PID" 2>/dev/null

log "the tunnel still works"
snap_all
ping_ok "$NSA" 10.0.0.2 "$N" || fail "ping through the tunnel after the crafted packets failed"
snap_now
expect "ipt0(A) after the crafted packets" A rx_packets "$N"
expect "ipt0(B) after the crafted packets" B rx_packets "$N"

exit $RET
