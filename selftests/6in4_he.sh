#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The seed's Hurricane Electric tunnel broker scenario, end to end: a
# client router reaches the IPv6 internet through an ipt_6in4 tunnel to
# the broker's server (in-tree sit here), which routes the client's /48
# back through the tunnel; the client's LAN gets a /64 of it.  The client
# only lets protocol 41 in from the server (IPv4 input chain, policy drop).
#
#  $LAN                   $CLI (client router)                    $HE (tunnel server)
#  eth0 ------------ lan1 [bridge-lan]       wan ---------------- eth0
#  2001:db8:abcd:1::100    2001:db8:abcd:1::1/64                  216.66.80.30/24
#  default via ::1                           203.0.113.2/24       internet (dummy)
#                                                                  2001:db8:ffff::1/128
#                          he-ipv6 (ipt_6in4) ===================== he-srv (in-tree sit)
#                           local 203.0.113.2 remote 216.66.80.30   local 216.66.80.30 remote 203.0.113.2
#                           2001:db8:1234:1::2/64                   2001:db8:1234:1::1/64
#                           ::/0 via 2001:db8:1234:1::1             2001:db8:abcd::/48 via ::2
#                           nft: ip input policy drop,
#                                accept protocol 41 from 216.66.80.30
#
# The outer headers the client sends are captured on $HE's eth0 (TTL
# default, fixed and inherited from the inner hop limit; DSCP inherited
# from the traffic class and fixed; ECN per RFC 6040; DF), and packets
# with a chosen outer ECN codepoint are crafted with scapy on $HE to check
# decapsulation (captured on $LAN's eth0, after forwarding).

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd nft ping tcpdump
require_module veth dummy bridge sit nf_tables
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"

TMPD=$(mktemp -d /tmp/6in4_he.XXXXXX) || die "mktemp"

CLIENT4=203.0.113.2
SERVER4=216.66.80.30
LANHOST=2001:db8:abcd:1::100
INTERNET=2001:db8:ffff::1

# Captures (lib.sh's pkt_*): the IPv6 packets on their own are inner ones.
PKT_BARE6=i_
PKT_WAIT=20

# --- topology ----------------------------------------------------------------

setup_ns LAN CLI HE
# No DAD; no MLD reports from the tunnel ends (sent for every address,
# over the tunnel too): the tunnel counters are compared exactly.
for ns in "$LAN" "$CLI" "$HE"; do
	ns_exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0
	ns_exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
done
for ns in "$CLI" "$HE"; do
	ns_exec "$ns" nft -f - <<-'NFT' || die "nft in $ns"
	table ip6 quiet {
		chain output {
			type filter hook output priority 0;
			oifname { "he-ipv6", "he-srv" } icmpv6 type { 130, 131, 132, 143 } drop comment "MLD"
		}
	}
	NFT
done

# LAN: a bridge on the client router with a /64 of the routed /48
ip -n "$CLI" link add bridge-lan type bridge || die "cannot create bridge-lan"
add_veth "$LAN" eth0 "$LANHOST/64" "$CLI" lan1 ""
ip -n "$CLI" link set lan1 master bridge-lan || die "lan1 into bridge-lan"
ip -n "$CLI" addr add 2001:db8:abcd:1::1/64 dev bridge-lan nodad || die "address on bridge-lan"
ip -n "$CLI" link set bridge-lan up || die "bridge-lan up"
ip -n "$LAN" -6 route add default via 2001:db8:abcd:1::1 || die "default route on $LAN"

# WAN: the client's public address, the server's one
add_veth "$CLI" wan "$CLIENT4/24" "$HE" eth0 "$SERVER4/24"
ip -n "$CLI" route add "$SERVER4/32" dev wan || die "route to the server"
ip -n "$HE" route add "$CLIENT4/32" dev eth0 || die "route to the client"

# The server: in-tree sit, the tunnel /64, the client's /48 and an
# "internet" address
ip -n "$HE" link add he-srv type sit local "$SERVER4" remote "$CLIENT4" ttl 64 ||
	die "cannot create the in-tree sit tunnel on $HE"
ip -n "$HE" addr add 2001:db8:1234:1::1/64 dev he-srv nodad || die "address on he-srv"
ip -n "$HE" link set he-srv up || die "he-srv up"
ip -n "$HE" -6 route add 2001:db8:abcd::/48 via 2001:db8:1234:1::2 || die "/48 route on $HE"
ip -n "$HE" link add internet type dummy || die "dummy on $HE"
ip -n "$HE" addr add "$INTERNET/128" dev internet nodad || die "address on internet"
ip -n "$HE" link set internet up || die "internet up"

# The client: /interface 6to4 add name=he-ipv6 local-address=... remote-address=...
ip -n "$CLI" link add he-ipv6 type ipt_6in4 local-address "$CLIENT4" remote-address "$SERVER4" ||
	die "cannot create ipt_6in4 he-ipv6 on $CLI"
ip -n "$CLI" addr add 2001:db8:1234:1::2/64 dev he-ipv6 nodad || die "address on he-ipv6"
ip -n "$CLI" link set he-ipv6 up || die "he-ipv6 up"
ip -n "$CLI" -6 route add default via 2001:db8:1234:1::1 || die "default route via the tunnel"
ns_exec "$CLI" sysctl -qw net.ipv6.conf.all.forwarding=1

# /ip firewall filter add chain=input protocol=41 src-address=216.66.80.30 action=accept
ns_exec "$CLI" nft -f - <<-NFT || die "nft on $CLI"
table ip filter {
	counter he_in {}
	counter p41_dropped {}
	chain input {
		type filter hook input priority 0; policy drop;
		iif lo accept
		ip protocol icmp accept
		ip protocol 41 ip saddr $SERVER4 counter name he_in accept comment "Allow 6in4 from HE tunnel server"
	}
}
NFT
nft_counter() { # NAME: packets so far
	ns_exec "$CLI" nft list counter ip filter "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
accept_handle() {
	ns_exec "$CLI" nft -a list chain ip filter input |
		sed -n 's/.*Allow 6in4 from HE tunnel server.*# handle \([0-9]*\).*/\1/p'
}

wait_for -t 30 ping_ok "$CLI" "$SERVER4" || die "no IPv4 between the client and the server"

log "ip -d link show he-ipv6"
ip -n "$CLI" -d link show he-ipv6
case $(ip -n "$CLI" -d link show he-ipv6) in
*"ipt_6in4 remote $SERVER4 local $CLIENT4 "*) pass "ip -d link shows the tunnel" ;;
*) fail "ip -d link: expected 'ipt_6in4 remote $SERVER4 local $CLIENT4' in: $(ip -n "$CLI" -d link show he-ipv6)" ;;
esac
check_eq "he-ipv6 MTU (wan 1500 - 20)" 1480 "$(ns_exec "$CLI" cat /sys/class/net/he-ipv6/mtu)"

# --- connectivity --------------------------------------------------------------

wait_for -t 30 ping_ok "$CLI" 2001:db8:1234:1::1 ||
	fail "client cannot ping the server's tunnel address 2001:db8:1234:1::1"
ping_ok "$HE" 2001:db8:1234:1::2 3 || fail "server cannot ping the client's tunnel address"
wait_for -t 30 ping_ok "$LAN" "$INTERNET" ||
	fail "LAN host cannot ping the internet address $INTERNET"

in0=$(nft_counter he_in)
rx0=$(link_stat "$CLI" he-ipv6 rx_packets)
tx0=$(link_stat "$CLI" he-ipv6 tx_packets)
ping_ok "$LAN" "$INTERNET" 10 || fail "10 pings LAN host -> $INTERNET"
check_eq "he-ipv6 tx_packets after 10 pings from the LAN" $((tx0 + 10)) "$(link_stat "$CLI" he-ipv6 tx_packets)"
check_eq "he-ipv6 rx_packets after 10 pings from the LAN" $((rx0 + 10)) "$(link_stat "$CLI" he-ipv6 rx_packets)"
check_ge "protocol 41 accepted by the HE rule" $((in0 + 10)) "$(nft_counter he_in)"
ping_ok "$LAN" 2001:db8:1234:1::1 3 || fail "LAN host cannot ping the server's tunnel address"
ping_ok "$HE" "$LANHOST" 3 || fail "the internet cannot reach the LAN host ($LANHOST)"
for c in rx_errors rx_dropped tx_errors tx_dropped; do
	check_eq "he-ipv6 $c" 0 "$(link_stat "$CLI" he-ipv6 $c)"
done

# --- the firewall ----------------------------------------------------------------

log "dropping protocol 41 on the client's input chain stops the tunnel"
ns_exec "$CLI" nft insert rule ip filter input ip protocol 41 counter name p41_dropped drop ||
	fail "cannot insert the drop rule"
drop0=$(nft_counter p41_dropped)
rx0=$(link_stat "$CLI" he-ipv6 rx_packets)
if ping_ok "$LAN" "$INTERNET" 3; then
	fail "LAN ping still works with protocol 41 dropped"
else
	pass "tunnel stopped by the drop rule"
fi
check_ge "protocol 41 packets dropped by the rule" $((drop0 + 3)) "$(nft_counter p41_dropped)"
check_eq "he-ipv6 rx_packets while protocol 41 is dropped" "$rx0" "$(link_stat "$CLI" he-ipv6 rx_packets)"
h=$(ns_exec "$CLI" nft -a list chain ip filter input |
	sed -n 's/.*counter name "*p41_dropped"* drop # handle \([0-9]*\).*/\1/p')
ns_exec "$CLI" nft delete rule ip filter input handle "$h" || fail "cannot delete the drop rule (handle '$h')"
wait_for -t 20 ping_ok "$LAN" "$INTERNET" || fail "tunnel did not come back after removing the drop rule"

log "without the accept rule the policy drops protocol 41"
h=$(accept_handle)
ns_exec "$CLI" nft delete rule ip filter input handle "$h" || fail "cannot delete the accept rule (handle '$h')"
if ping_ok "$LAN" "$INTERNET" 3; then
	fail "LAN ping still works without the accept rule (policy drop)"
else
	pass "tunnel stopped by the input policy"
fi
ns_exec "$CLI" nft add rule ip filter input ip protocol 41 ip saddr "$SERVER4" \
	counter name he_in accept comment '"Allow 6in4 from HE tunnel server"' ||
	fail "cannot add the accept rule back"
wait_for -t 20 ping_ok "$LAN" "$INTERNET" || fail "tunnel did not come back with the accept rule"

# --- outer headers ------------------------------------------------------------------

OUT=$TMPD/outer.pcap
cap_start "$HE" eth0 "$OUT" ip proto 41 and src host "$CLIENT4"

# probe WHAT SIZE PING_OPTION... -- KEY=VALUE...: one ping of SIZE bytes
# from the LAN host to the internet; its outer packet must have every
# KEY=VALUE (checked by check_probes, one parse of the capture for all).
# The inner hop limit is one less than the LAN host's: the client router
# forwards the packet into the tunnel.
PROBES=()
probe() {
	local what=$1 size=$2 opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	ns_exec "$LAN" ping -6 -n -c 1 -W 5 -s "$size" "${opts[@]}" "$INTERNET" >/dev/null 2>&1 ||
		fail "$what: ping ${opts[*]} -s $size to $INTERNET got no reply"
	PROBES+=("$what|$size|$*")
}

check_probes() {
	local p what size last
	last=${PROBES[-1]#*|}
	pkt_wait "$OUT" "i_plen=$((${last%%|*} + 8))" i_icmp6=128
	for p in "${PROBES[@]}"; do
		what=${p%%|*}
		p=${p#*|}
		size=${p%%|*}
		PKT=$(pkt_find "$OUT.txt" "i_plen=$((size + 8))" i_icmp6=128)
		# shellcheck disable=SC2086 # KEY=VALUE words
		check_fields "$what" ${p#*|}
	done
	PROBES=()
}

set_tun() { # OPTION...: live change of he-ipv6
	ip -n "$CLI" link set he-ipv6 type ipt_6in4 "$@" ||
		fail "ip link set he-ipv6 type ipt_6in4 $* failed"
}

log "defaults: ttl 64, dscp inherit, dont-fragment inherit (DF for IPv6)"
probe "default" 100 -- o_proto=41 o_src=$CLIENT4 o_dst=$SERVER4 o_ttl=64 \
	o_tos=0x00 o_df=1 i_nh=58 i_src=$LANHOST i_dst=$INTERNET i_hlim=63 i_tc=0x00
probe "default, hop limit 33" 101 -t 33 -- o_ttl=64 i_hlim=32
probe "dscp inherit, tclass 0xb8 (EF)" 102 -Q 0xb8 -- o_tos=0xb8 i_tc=0xb8
probe "dscp inherit, tclass 0x28 (AF11)" 103 -Q 0x28 -- o_tos=0x28 i_tc=0x28
probe "ecn, inner ECT(0)" 104 -Q 0x02 -- o_tos=0x02 i_tc=0x02
probe "ecn, inner ECT(1)" 105 -Q 0x01 -- o_tos=0x01 i_tc=0x01
probe "ecn, inner CE -> outer ECT(0)" 106 -Q 0x03 -- o_tos=0x02 i_tc=0x03
probe "ecn, inner EF+CE -> outer EF+ECT(0)" 107 -Q 0xbb -- o_tos=0xba i_tc=0xbb

log "live changes: each applies to the next packet"
set_tun ttl 20
probe "ttl 20" 110 -- o_ttl=20 i_hlim=63
set_tun ttl inherit
probe "ttl inherit, hop limit 33 (32 after forwarding)" 111 -t 33 -- o_ttl=32 i_hlim=32
probe "ttl inherit, hop limit 200 (199 after forwarding)" 112 -t 200 -- o_ttl=199 i_hlim=199
set_tun dscp 10
probe "dscp 10, tclass 0xb8" 113 -Q 0xb8 -- o_tos=0x28 i_tc=0xb8
probe "dscp 10, tclass 0" 114 -- o_tos=0x28 i_tc=0x00
probe "dscp 10, inner ECT(0)" 115 -Q 0x02 -- o_tos=0x2a i_tc=0x02
probe "dscp 10, inner CE" 116 -Q 0x03 -- o_tos=0x2a i_tc=0x03
set_tun dont-fragment no
probe "dont-fragment no" 117 -- o_df=0
set_tun dont-fragment yes
probe "dont-fragment yes" 118 -- o_df=1
set_tun ttl 64 dscp inherit dont-fragment inherit
probe "back to the defaults" 119 -Q 0xb8 -t 33 -- o_ttl=64 o_tos=0xb8 o_df=1 i_hlim=32
check_probes

# --- decapsulation ---------------------------------------------------------------------

log "decapsulation: outer ECN into the inner header (RFC 6040), crafted on $HE"
DEC=$TMPD/decap.pcap
cap_start "$LAN" eth0 "$DEC" ip6 and src host "$INTERNET" and icmp6
frame0=$(ns_exec "$CLI" cat /sys/class/net/he-ipv6/statistics/rx_frame_errors)
rx0=$(link_stat "$CLI" he-ipv6 rx_packets)

# Payload sizes tell the packets apart: inner payload length 208 + N.
ns_exec "$HE" "$PY" - "$SERVER4" "$CLIENT4" "$INTERNET" "$LANHOST" <<'EOF' ||
import sys
from scapy.all import IP, IPv6, ICMPv6EchoRequest, Raw, conf, send
from scapy.supersocket import L3RawSocket
conf.L3socket = L3RawSocket
osrc, odst, isrc, idst = sys.argv[1:5]
cases = [  # (outer tos, inner traffic class)
    (0x03, 0x02),	# CE over ECT(0): inner becomes CE
    (0x03, 0x00),	# CE over Not-ECT: must be dropped
    (0x00, 0x02),	# Not-ECT over ECT(0): inner unchanged
    (0x01, 0x02),	# ECT(1) over ECT(0): inner becomes ECT(1)
    (0x02, 0x00),	# ECT(0) over Not-ECT: delivered unchanged
    (0xb8, 0x00),	# outer DSCP is not copied in
]
for n, (otos, itc) in enumerate(cases):
    send(IP(src=osrc, dst=odst, tos=otos, ttl=64) /
         IPv6(src=isrc, dst=idst, tc=itc, hlim=64) /
         ICMPv6EchoRequest(id=0x4242, seq=n) / Raw(b"x" * (200 + n)), verbose=0)
EOF
	fail "scapy could not send the crafted packets"

# the last crafted packet is in: one parse of the capture for all
pkt_wait "$DEC" "i_plen=213" i_icmp6=128
dec() { # WHAT N EXPECTED_INNER_TC
	PKT=$(pkt_find "$DEC.txt" "i_plen=$((208 + $2))" i_icmp6=128)
	check_fields "$1" "i_tc=$3" "i_src=$INTERNET" "i_dst=$LANHOST" i_hlim=63
}
dec "outer CE, inner ECT(0) -> inner CE" 0 0x03
dec "outer Not-ECT, inner ECT(0) -> unchanged" 2 0x02
dec "outer ECT(1), inner ECT(0) -> inner ECT(1)" 3 0x01
dec "outer ECT(0), inner Not-ECT -> unchanged" 4 0x00
dec "outer EF, inner 0 -> unchanged" 5 0x00

frame_errors_now() {
	[ "$(ns_exec "$CLI" cat /sys/class/net/he-ipv6/statistics/rx_frame_errors)" = "$((frame0 + 1))" ]
}
wait_for -t 10 frame_errors_now
check_eq "outer CE, inner Not-ECT: he-ipv6 rx_frame_errors" $((frame0 + 1)) \
	"$(ns_exec "$CLI" cat /sys/class/net/he-ipv6/statistics/rx_frame_errors)"
if PKT=$(pkt_find "$DEC.txt" "i_plen=209"); then
	fail "outer CE, inner Not-ECT was delivered: $PKT"
else
	pass "outer CE, inner Not-ECT: not delivered"
fi
# the five valid ones, and the echo replies sent back do not count
check_eq "he-ipv6 rx_packets: the five valid crafted packets" $((rx0 + 5)) \
	"$(link_stat "$CLI" he-ipv6 rx_packets)"

log "6in4_he took ${SECONDS}s"
exit $RET
