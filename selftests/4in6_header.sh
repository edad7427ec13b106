#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The outer IPv6 header that ipt_4in6 writes, and what decapsulation does
# to the inner IPv4 header: next header 4 (or 60, the RFC 2473 tunnel
# encapsulation limit destination option, then 4), hop limit (default 64,
# fixed, inherit), traffic class (DSCP inherit or fixed, ECN per RFC 6040
# both ways) and flow label (fixed, or auto: one label per inner flow).
#
#  +----------------------------+                  +----------------------------+
#  | $NSA                       |                  | $NSB                       |
#  |  tun0 10.0.0.1/30 ============  ipt_4in6  ============  tun0 10.0.0.2/30   |
#  |   local 2001:db8::1        |                  |   local 2001:db8::2   (*2) |
#  |  veth0 2001:db8::1/64 -----+---- veth pair ---+---- veth1 2001:db8::2/64   |
#  +----------------------------+        (*1)      +----------------------------+
#
#  (*1) capture of the outer packets $NSA sends, on $NSB's veth1
#  (*2) capture of the decapsulated packets, on $NSB's tun0
#
# Probes are pings from $NSA to 10.0.0.2, told apart in the capture by their
# size; the flow label checks use UDP flows told apart by their ports;
# packets with a given outer ECN codepoint are crafted with scapy.

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd ping tcpdump
require_module veth
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"

TMPD=$(mktemp -d /tmp/4in6_header.XXXXXX) || die "mktemp"
PKT_WAIT=5	# lib.sh's pkt_wait

# --- topology ----------------------------------------------------------------

setup_ns NSA NSB
add_veth "$NSA" veth0 2001:db8::1/64 "$NSB" veth1 2001:db8::2/64

# tunnel NS LOCAL REMOTE ADDRESS [OPTION...]
tunnel() {
	local ns=$1 local=$2 remote=$3 addr=$4
	shift 4
	ip -n "$ns" link add tun0 type ipt_4in6 local "$local" remote "$remote" "$@" ||
		die "cannot create tun0 in $ns ($*)"
	ns_exec "$ns" sysctl -qw net.ipv6.conf.tun0.disable_ipv6=1
	ip -n "$ns" addr add "$addr/30" dev tun0 || die "address on tun0 in $ns"
	ip -n "$ns" link set tun0 up || die "tun0 up in $ns"
}
tunnel "$NSA" 2001:db8::1 2001:db8::2 10.0.0.1
tunnel "$NSB" 2001:db8::2 2001:db8::1 10.0.0.2

wait_for ping_ok "$NSA" 2001:db8::2 || die "no connectivity over the veth pair"
wait_for ping_ok "$NSA" 10.0.0.2 || die "no ping through the tunnel"

OUT=$TMPD/outer.pcap
cap_start "$NSB" veth1 "$OUT" ip6 and src host 2001:db8::1 and not icmp6

# probe WHAT SIZE PING_OPTION... -- KEY=VALUE...: one ping of SIZE bytes of
# payload through the tunnel; its outer packet must have every KEY=VALUE.
# The checks wait for check_probes, which reads the capture once for all.
PROBES=()
probe() {
	local what=$1 size=$2 opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	ns_exec "$NSA" ping -n -c 1 -W 2 -s "$size" "${opts[@]}" 10.0.0.2 >/dev/null 2>&1 ||
		fail "$what: ping ${opts[*]} -s $size through the tunnel got no reply"
	PROBES+=("$what|$size|$*")
}

check_probes() {
	local p what size kvs last
	last=${PROBES[-1]#*|}
	pkt_wait "$OUT" "i_len=$((${last%%|*} + 28))" i_icmp=8
	pkt_dump "$OUT"
	for p in "${PROBES[@]}"; do
		what=${p%%|*}; p=${p#*|}
		size=${p%%|*}; kvs=${p#*|}
		PKT=$(pkt_find "$OUT.txt" "i_len=$((size + 28))" i_icmp=8)
		# shellcheck disable=SC2086 # KEY=VALUE words
		check_fields "$what" $kvs
	done
	PROBES=()
}

set_tun() { # OPTION...: live change of $NSA's tun0
	ip -n "$NSA" link set tun0 type ipt_4in6 "$@" ||
		fail "ip link set tun0 type ipt_4in6 $* failed"
}

# --- encapsulation -------------------------------------------------------------

log "defaults: next header 4, hop limit 64, dscp inherit, no encap limit"
probe "default" 100 -- o_nh=4 o_src=2001:db8::1 o_dst=2001:db8::2 o_hlim=64 \
	o_tc=0x00 o_plen=128 o_dnh="(none)" i_proto=1 i_src=10.0.0.1 i_dst=10.0.0.2 i_ttl=64
probe "default, inner ttl 33" 101 -t 33 -- o_hlim=64 i_ttl=33
probe "dscp inherit, inner tos 0xb8 (EF)" 102 -Q 0xb8 -- o_tc=0xb8 i_tos=0xb8
probe "dscp inherit, inner tos 0x28 (AF11)" 103 -Q 0x28 -- o_tc=0x28 i_tos=0x28
probe "ecn, inner ECT(0)" 104 -Q 0x02 -- o_tc=0x02 i_tos=0x02
probe "ecn, inner ECT(1)" 105 -Q 0x01 -- o_tc=0x01 i_tos=0x01
probe "ecn, inner CE -> outer ECT(0)" 106 -Q 0x03 -- o_tc=0x02 i_tos=0x03
probe "ecn, inner EF+CE -> outer EF+ECT(0)" 107 -Q 0xbb -- o_tc=0xba i_tos=0xbb

log "live changes: each applies to the next packet"
set_tun hoplimit 20
probe "hoplimit 20 (set live)" 110 -- o_hlim=20 i_ttl=64
set_tun hoplimit inherit
probe "hoplimit inherit, ping -t 33" 111 -t 33 -- o_hlim=33 i_ttl=33
probe "hoplimit inherit, ping -t 200" 112 -t 200 -- o_hlim=200 i_ttl=200
set_tun dscp 10
probe "dscp 10, inner tos 0xb8" 113 -Q 0xb8 -- o_tc=0x28 i_tos=0xb8
probe "dscp 10, inner tos 0" 114 -- o_tc=0x28 i_tos=0x00
probe "dscp 10, inner ECT(0)" 115 -Q 0x02 -- o_tc=0x2a i_tos=0x02
probe "dscp 10, inner CE" 116 -Q 0x03 -- o_tc=0x2a i_tos=0x03
set_tun flowlabel 0x12345
probe "flowlabel 0x12345" 117 -- o_fl=0x12345
set_tun flowlabel 0
probe "flowlabel 0" 118 -- o_fl=0x00000
set_tun flowlabel 0xfffff
probe "flowlabel 0xfffff" 119 -- o_fl=0xfffff
set_tun encaplimit 4
probe "encaplimit 4" 120 -- o_nh=60 o_dnh=4 o_dlen=0 o_opt=4/1/4 o_pad=1/1 \
	o_other="(none)" o_plen=$((120 + 28 + 8)) i_proto=1 i_len=148 o_fl=0xfffff
set_tun encaplimit 0
probe "encaplimit 0" 121 -- o_nh=60 o_dnh=4 o_dlen=0 o_opt=4/1/0 o_pad=1/1
set_tun encaplimit 255
probe "encaplimit 255" 122 -- o_nh=60 o_dnh=4 o_opt=4/1/255
set_tun encaplimit none
probe "encaplimit none again" 123 -- o_nh=4 o_dnh="(none)" o_plen=$((123 + 28))
set_tun hoplimit 64 dscp inherit flowlabel auto
probe "back to the defaults" 124 -Q 0xb8 -t 33 -- o_hlim=64 o_tc=0xb8 o_nh=4

check_probes

log "options given at creation"
ip -n "$NSA" link del tun0 || fail "cannot delete tun0"
tunnel "$NSA" 2001:db8::1 2001:db8::2 10.0.0.1 hoplimit 17 dscp 46 encaplimit 9 flowlabel 0xbeef
wait_for ping_ok "$NSA" 10.0.0.2 || fail "no ping through the recreated tunnel"
probe "created with hoplimit 17 dscp 46 encaplimit 9 flowlabel 0xbeef" 125 -Q 0x29 -t 5 -- \
	o_hlim=17 o_tc=0xb9 o_fl=0x0beef o_nh=60 o_dnh=4 o_opt=4/1/9 i_ttl=5 i_tos=0x29
check_probes
ip -n "$NSA" link del tun0 || fail "cannot delete tun0"
tunnel "$NSA" 2001:db8::1 2001:db8::2 10.0.0.1
wait_for ping_ok "$NSA" 10.0.0.2 || fail "no ping through the tunnel made with the defaults again"

# --- flow label auto ------------------------------------------------------------

log "flowlabel auto: one label per inner flow, nonzero, different across flows"
# one ping session (one ICMP id): 5 echo requests of 130 bytes
ns_exec "$NSA" ping -n -q -c 5 -i 0.2 -W 2 -s 130 10.0.0.2 >/dev/null ||
	fail "flowlabel auto: ping -c 5 got no reply"
# 8 UDP flows, source ports 40000-40007, 4 datagrams each
ns_exec "$NSA" "$PY" - <<'EOF' || fail "flowlabel auto: cannot send the UDP flows"
import socket
for port in range(40000, 40008):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.0.1", port))
    for n in range(4):
        s.sendto(b"flow %d packet %d" % (port, n), ("10.0.0.2", 9))
    s.close()
EOF
pkt_wait "$OUT" i_sport=40007 i_dport=9
udp_all() { pkt_dump "$OUT"; [ "$(pkt_all "$OUT.txt" i_proto=17 i_dport=9 | wc -l)" -ge 32 ]; }
wait_for -t 5 udp_all
labels=$(pkt_all "$OUT.txt" i_len=158 i_icmp=8 | while read -r l; do field o_fl "$l"; done | sort -u)
check_eq "flowlabel auto: echo requests of one ping seen" 5 "$(pkt_all "$OUT.txt" i_len=158 i_icmp=8 | wc -l)"
check_eq "flowlabel auto: distinct labels in one ping session" 1 "$(echo "$labels" | grep -c .)"
[ "$labels" != 0x00000 ] && [ -n "$labels" ] && pass "flowlabel auto: ping flow label $labels is nonzero" ||
	fail "flowlabel auto: ping flow label is zero or missing: '$labels'"
all=""
for port in $(seq 40000 40007); do
	l=$(pkt_all "$OUT.txt" i_proto=17 "i_sport=$port" i_dport=9 | while read -r p; do field o_fl "$p"; done | sort -u)
	n=$(pkt_all "$OUT.txt" i_proto=17 "i_sport=$port" i_dport=9 | wc -l)
	check_eq "flowlabel auto: UDP flow $port, packets seen" 4 "$n"
	check_eq "flowlabel auto: UDP flow $port, distinct labels" 1 "$(echo "$l" | grep -c .)"
	[ "$l" = 0x00000 ] && fail "flowlabel auto: UDP flow $port has flow label 0"
	all+="$l"$'\n'
done
distinct=$(echo "$all" | grep . | sort -u | wc -l)
check_ge "flowlabel auto: distinct labels across 8 UDP flows" 2 "$distinct"
log "labels of the 8 UDP flows: $(echo "$all" | grep . | tr '\n' ' ')"

# --- decapsulation -------------------------------------------------------------

log "decapsulation: outer ECN into the inner header (RFC 6040), crafted outer headers"
DEC=$TMPD/decap.pcap
cap_start "$NSB" tun0 "$DEC" src host 10.0.0.1

frame0=$(ns_exec "$NSB" cat /sys/class/net/tun0/statistics/rx_frame_errors)
err0=$(ns_exec "$NSB" cat /sys/class/net/tun0/statistics/rx_errors)
rx0=$(link_stat "$NSB" tun0 rx_packets)

# Payload sizes tell the packets apart: inner total length 228 + N.
ns_exec "$NSA" "$PY" - <<'EOF' || fail "scapy could not send the crafted packets"
import socket
from scapy.all import IP, IPv6, ICMP, Raw
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
cases = [  # (outer traffic class, inner tos)
    (0x03, 0x02),	# CE over ECT(0): inner becomes CE
    (0x03, 0x00),	# CE over Not-ECT: must be dropped
    (0x00, 0x02),	# Not-ECT over ECT(0): inner unchanged
    (0x01, 0x02),	# ECT(1) over ECT(0): inner becomes ECT(1)
    (0x02, 0x00),	# ECT(0) over Not-ECT: delivered unchanged
    (0xbb, 0xb8),	# EF+CE over EF+Not-ECT: dropped (only ECN matters)
    (0xb9, 0x02),	# EF+ECT(1) over ECT(0): inner ECT(1), DSCP untouched
]
for n, (otc, itos) in enumerate(cases):
    p = (IPv6(src="2001:db8::1", dst="2001:db8::2", tc=otc, nh=4, hlim=64) /
         IP(src="10.0.0.1", dst="10.0.0.2", tos=itos, ttl=64) /
         ICMP(type=8, id=0x4242, seq=n) / Raw(b"x" * (200 + n)))
    s.sendto(bytes(p), ("2001:db8::2", 0))
EOF

dec_all() { # all but the dropped ones, in a dump of the capture
	local n
	pkt_dump "$DEC"
	for n in 0 2 3 4 6; do
		pkt_find "$DEC.txt" "o_len=$((228 + n))" o_icmp=8 >/dev/null || return 1
	done
}
wait_for -t 5 dec_all
dec() { # WHAT N EXPECTED_INNER_TOS
	PKT=$(pkt_find "$DEC.txt" "o_len=$((228 + $2))" o_icmp=8)
	check_fields "$1" "o_tos=$3" o_src=10.0.0.1 o_dst=10.0.0.2 o_ttl=64
}
dec "outer CE, inner ECT(0) -> inner CE" 0 0x03
dec "outer Not-ECT, inner ECT(0) -> unchanged" 2 0x02
dec "outer ECT(1), inner ECT(0) -> inner ECT(1)" 3 0x01
dec "outer ECT(0), inner Not-ECT -> unchanged" 4 0x00
dec "outer EF+ECT(1), inner ECT(0) -> inner ECT(1), DSCP 0 kept" 6 0x01

rx_errors_now() {
	[ "$(ns_exec "$NSB" cat /sys/class/net/tun0/statistics/rx_frame_errors)" = "$((frame0 + 2))" ]
}
wait_for -t 5 rx_errors_now
check_eq "outer CE, inner Not-ECT (twice): rx_frame_errors" $((frame0 + 2)) \
	"$(ns_exec "$NSB" cat /sys/class/net/tun0/statistics/rx_frame_errors)"
check_eq "outer CE, inner Not-ECT (twice): rx_errors" $((err0 + 2)) \
	"$(ns_exec "$NSB" cat /sys/class/net/tun0/statistics/rx_errors)"
check_eq "rx_packets: the five valid crafted packets only" $((rx0 + 5)) \
	"$(link_stat "$NSB" tun0 rx_packets)"
for n in 1 5; do
	if PKT=$(pkt_find "$DEC.txt" "o_len=$((228 + n))"); then
		fail "crafted packet $n (outer CE, inner Not-ECT) was delivered: $PKT"
	else
		pass "crafted packet $n (outer CE, inner Not-ECT): not delivered"
	fi
done

log "4in6_header took ${SECONDS}s"
exit $RET
