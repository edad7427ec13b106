#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The outer IPv4 header that ipt_ipip writes, and what decapsulation does
# to the inner one: protocol, TTL (default, fixed, inherit), DSCP (inherit,
# fixed), ECN (RFC 6040 normal mode, both ways), DF (inherit, yes, no), and
# that "ip link set ... type ipt_ipip" changes apply to the next packet.
#
#  +--------------------------+                  +--------------------------+
#  | $NSA                     |                  | $NSB                     |
#  |  tun0 10.0.0.1/30 ===========  ipt_ipip  ===========  tun0 10.0.0.2/30 |
#  |   local 192.0.2.1        |                  |   local 192.0.2.2   (*2) |
#  |  veth0 192.0.2.1/24 -----+---- veth pair ---+----- veth1 192.0.2.2/24  |
#  +--------------------------+        (*1)      +--------------------------+
#
#  (*1) capture of the outer packets $NSA sends, on $NSB's veth1
#  (*2) capture of the decapsulated packets, on $NSB's tun0
#
# Probes are pings from $NSA to 10.0.0.2, told apart in the capture by their
# size; packets with a given outer ECN codepoint are crafted with scapy.

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd ping tcpdump
require_module veth
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"

TMPD=$(mktemp -d /tmp/ipip_header.XXXXXX) || die "mktemp"

# --- topology ----------------------------------------------------------------

setup_ns NSA NSB
add_veth "$NSA" veth0 192.0.2.1/24 "$NSB" veth1 192.0.2.2/24

# tunnel NS LOCAL REMOTE ADDRESS [OPTION...]
tunnel() {
	local ns=$1 local=$2 remote=$3 addr=$4
	shift 4
	ip -n "$ns" link add tun0 type ipt_ipip local "$local" remote "$remote" "$@" ||
		die "cannot create tun0 in $ns ($*)"
	ns_exec "$ns" sysctl -qw net.ipv6.conf.tun0.disable_ipv6=1
	ip -n "$ns" addr add "$addr/30" dev tun0 || die "address on tun0 in $ns"
	ip -n "$ns" link set tun0 up || die "tun0 up in $ns"
}
tunnel "$NSA" 192.0.2.1 192.0.2.2 10.0.0.1
tunnel "$NSB" 192.0.2.2 192.0.2.1 10.0.0.2

wait_for ping_ok "$NSA" 192.0.2.2 || die "no connectivity over the veth pair"
wait_for ping_ok "$NSA" 10.0.0.2 || die "no ping through the tunnel"

OUT=$TMPD/outer.pcap
cap_start "$NSB" veth1 "$OUT" ip proto 4 and src host 192.0.2.1

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
	ip -n "$NSA" link set tun0 type ipt_ipip "$@" || fail "ip link set tun0 type ipt_ipip $* failed"
}

# --- encapsulation -------------------------------------------------------------

log "defaults: ttl 64, dscp inherit, dont-fragment inherit"
probe "default" 100 -- o_proto=4 o_src=192.0.2.1 o_dst=192.0.2.2 o_ttl=64 \
	o_tos=0x00 i_proto=1 i_src=10.0.0.1 i_dst=10.0.0.2 i_ttl=64
probe "default, inner ttl 33" 101 -t 33 -- o_ttl=64 i_ttl=33
probe "dscp inherit, inner tos 0xb8 (EF)" 102 -Q 0xb8 -- o_tos=0xb8 i_tos=0xb8
probe "dscp inherit, inner tos 0x28 (AF11)" 103 -Q 0x28 -- o_tos=0x28 i_tos=0x28
probe "ecn, inner ECT(0)" 104 -Q 0x02 -- o_tos=0x02 i_tos=0x02
probe "ecn, inner ECT(1)" 105 -Q 0x01 -- o_tos=0x01 i_tos=0x01
probe "ecn, inner CE -> outer ECT(0)" 106 -Q 0x03 -- o_tos=0x02 i_tos=0x03
probe "ecn, inner EF+CE -> outer EF+ECT(0)" 107 -Q 0xbb -- o_tos=0xba i_tos=0xbb
probe "df inherit, ping -M do" 108 -M "do" -- o_df=1 i_df=1
probe "df inherit, ping -M dont" 109 -M dont -- o_df=0 i_df=0

log "live changes: each applies to the next packet"
set_tun ttl 20
probe "ttl 20 (set live)" 110 -- o_ttl=20 i_ttl=64
set_tun ttl inherit
probe "ttl inherit, ping -t 33" 111 -t 33 -- o_ttl=33 i_ttl=33
probe "ttl inherit, ping -t 200" 112 -t 200 -- o_ttl=200 i_ttl=200
set_tun dscp 10
probe "dscp 10, inner tos 0xb8" 113 -Q 0xb8 -- o_tos=0x28 i_tos=0xb8
probe "dscp 10, inner tos 0" 114 -- o_tos=0x28 i_tos=0x00
probe "dscp 10, inner ECT(0)" 115 -Q 0x02 -- o_tos=0x2a i_tos=0x02
set_tun dont-fragment yes
probe "dont-fragment yes, ping -M dont" 116 -M dont -- o_df=1 i_df=0
probe "dont-fragment yes, ping -M do" 117 -M "do" -- o_df=1 i_df=1
set_tun dont-fragment no
probe "dont-fragment no, ping -M do" 118 -M "do" -- o_df=0 i_df=1
probe "dont-fragment no, ping -M dont" 119 -M dont -- o_df=0 i_df=0
set_tun dont-fragment inherit dscp inherit ttl 64
probe "back to the defaults" 120 -Q 0xb8 -t 33 -M dont -- o_ttl=64 o_tos=0xb8 o_df=0

check_probes

log "options given at creation"
ip -n "$NSA" link del tun0 || fail "cannot delete tun0"
tunnel "$NSA" 192.0.2.1 192.0.2.2 10.0.0.1 ttl 17 dscp 10 dont-fragment yes
wait_for ping_ok "$NSA" 10.0.0.2 || fail "no ping through the recreated tunnel"
probe "created with ttl 17 dscp 10 dont-fragment yes" 121 -M dont -Q 0xb8 -t 5 -- \
	o_proto=4 o_ttl=17 o_tos=0x28 o_df=1 i_ttl=5 i_tos=0xb8 i_df=0
check_probes

# --- decapsulation -------------------------------------------------------------

log "decapsulation: outer ECN into the inner header (RFC 6040), crafted outer headers"
DEC=$TMPD/decap.pcap
cap_start "$NSB" tun0 "$DEC" src host 10.0.0.1

frame0=$(ns_exec "$NSB" cat /sys/class/net/tun0/statistics/rx_frame_errors)
err0=$(ns_exec "$NSB" cat /sys/class/net/tun0/statistics/rx_errors)
rx0=$(link_stat "$NSB" tun0 rx_packets)

# Payload sizes tell the packets apart: inner total length 228 + N.
ns_exec "$NSA" "$PY" - <<'EOF' || fail "scapy could not send the crafted packets"
from scapy.all import IP, ICMP, Raw, conf, send
from scapy.supersocket import L3RawSocket
conf.L3socket = L3RawSocket
cases = [  # (outer tos, inner tos)
    (0x03, 0x02),	# CE over ECT(0): inner becomes CE
    (0x03, 0x00),	# CE over Not-ECT: must be dropped
    (0x00, 0x02),	# Not-ECT over ECT(0): inner unchanged
    (0x01, 0x02),	# ECT(1) over ECT(0): inner becomes ECT(1)
    (0x02, 0x00),	# ECT(0) over Not-ECT: delivered unchanged
]
for n, (otos, itos) in enumerate(cases):
    send(IP(src="192.0.2.1", dst="192.0.2.2", tos=otos, ttl=64) /
         IP(src="10.0.0.1", dst="10.0.0.2", tos=itos, ttl=64) /
         ICMP(type=8, id=0x4242, seq=n) / Raw(b"x" * (200 + n)), verbose=0)
EOF

dec_all() { # all but the dropped one, in a dump of the capture
	local n
	pkt_dump "$DEC"
	for n in 0 2 3 4; do
		pkt_find "$DEC.txt" "o_len=$((228 + n))" o_icmp=8 >/dev/null || return 1
	done
}
wait_for -t 15 dec_all
dec() { # WHAT N EXPECTED_INNER_TOS
	PKT=$(pkt_find "$DEC.txt" "o_len=$((228 + $2))" o_icmp=8)
	check_fields "$1" "o_tos=$3" o_src=10.0.0.1 o_dst=10.0.0.2 o_ttl=64
}
dec "outer CE, inner ECT(0) -> inner CE" 0 0x03
dec "outer Not-ECT, inner ECT(0) -> unchanged" 2 0x02
dec "outer ECT(1), inner ECT(0) -> inner ECT(1)" 3 0x01
dec "outer ECT(0), inner Not-ECT -> unchanged" 4 0x00

rx_errors_now() {
	[ "$(ns_exec "$NSB" cat /sys/class/net/tun0/statistics/rx_frame_errors)" = "$((frame0 + 1))" ]
}
wait_for -t 15 rx_errors_now
check_eq "outer CE, inner Not-ECT: rx_frame_errors" $((frame0 + 1)) \
	"$(ns_exec "$NSB" cat /sys/class/net/tun0/statistics/rx_frame_errors)"
check_eq "outer CE, inner Not-ECT: rx_errors" $((err0 + 1)) \
	"$(ns_exec "$NSB" cat /sys/class/net/tun0/statistics/rx_errors)"
check_eq "rx_packets: the four valid crafted packets only" $((rx0 + 4)) \
	"$(link_stat "$NSB" tun0 rx_packets)"
if PKT=$(pkt_find "$DEC.txt" "o_len=229"); then
	fail "outer CE, inner Not-ECT was delivered: $PKT"
else
	pass "outer CE, inner Not-ECT: not delivered"
fi

exit $RET
