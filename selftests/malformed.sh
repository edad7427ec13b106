#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Malformed and hostile packets against all three kinds (issue 9,
# "Robustness"): over a hundred packet classes per kind, each with its
# expected outcome, then the tunnels must still work.
#
#                      +---------------------------------------------+
#   $NSC               | $NSA                                        |            $NSB
#   eth0 10.9.0.2/24 --+-- uc 10.9.0.1/24      ua 192.0.2.1/24 -----+------------ ub 192.0.2.2/24
#   2001:db8:9::2/64   |    2001:db8:9::1/64       192.0.2.11, .12   |               192.0.2.3 (stranger)
#   (the inner sender  |                           2001:db8::1/64    |               192.0.2.4 (other peer)
#    behind A; relayed |                           2001:db8::12      |               2001:db8::2, ::3, ::4
#    ICMP lands here)  |  ipip0  ipt_ipip .1 -> .2   10.0.0.1/30     |
#                      |  ipip1  ipt_ipip .1 -> .4   10.0.4.1/30     |  crafted frames
#                      |  six0   ipt_6in4 .1 -> .2   2001:db8:6::1   |  sent on ub (AF_PACKET),
#                      |  six1   ipt_6in4 .1 -> .4   2001:db8:64::1  |  a tap on ub for what
#                      |  auto0  ipt_6in4 .11, 6to4  2002:c000:20b::1|  comes back
#                      |  v4in6  ipt_4in6 ::1 -> ::2 10.0.1.1/30     |
#                      |  v4in6b ipt_4in6 ::1 -> ::4 10.0.5.1/30     |
#                      +---------------------------------------------+
#
# $NSB has no tunnel while the classes run: it only crafts packets and
# captures (nft drops protocols 4 and 41 on its input, so that its own
# stack answers nothing).  $NSA forwards (C is reached through it), sends
# ICMP errors without rate limit, keeps incomplete fragment queues for an
# hour (so that none times out into the counters of a later class), and
# never sends MLD or router solicitations (they would move tunnel
# counters).  Everything else is in malformed.py: the class table, how
# each class is checked, and the classes that fail because of a known bug
# (none at the moment).
#
# After the classes: $NSB gets real tunnels and every kind must pass
# pings both ways, as must C through A.
#
# MALFORMED_KINDS="ipip 4in6" and MALFORMED_ONLY=REGEX (class names)
# narrow the run when working on it by hand.

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
UAPI=$HERE/../include/uapi/linux/ipt.h

require_ipt
require_cmd ip ping nft ethtool
require_module veth nf_tables
[ -x "$PY" ] || skip "$PY not installed"
[ -r "$UAPI" ] || skip "cannot read $UAPI"

setup_ns NSA NSB NSC

for ns in "$NSA" "$NSB" "$NSC"; do
	ns_exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.default.addr_gen_mode=1 ||
		die "sysctl in $ns"
	# no MLD reports or router solicitations from anyone
	ns_exec "$ns" nft -f - <<-'NFT' || die "nft in $ns"
	table ip6 quiet {
		chain output {
			type filter hook output priority 0;
			icmpv6 type { 130, 131, 132, 133, 143 } drop
		}
	}
	NFT
done
ns_exec "$NSA" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
	net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 \
	net.ipv4.ipfrag_time=3600 net.ipv6.ip6frag_time=3600 \
	net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 ||
	die "sysctl in $NSA"
# $NSB's own stack must not answer what A sends it (tunnel packets, with
# port unreachable)
ns_exec "$NSB" nft -f - <<-'NFT' || die "nft in $NSB"
table inet mute {
	chain input {
		type filter hook input priority 0;
		meta l4proto { 4, 41 } drop
	}
}
NFT

add_veth "$NSA" ua 192.0.2.1/24 "$NSB" ub 192.0.2.2/24
add_veth "$NSA" uc 10.9.0.1/24 "$NSC" eth0 10.9.0.2/24
for a in 192.0.2.11/24 192.0.2.12/24 2001:db8::1/64 2001:db8::12/64; do
	__addr_up "$NSA" ua "$a"
done
for a in 192.0.2.3/24 192.0.2.4/24 2001:db8::2/64 2001:db8::3/64 2001:db8::4/64; do
	__addr_up "$NSB" ub "$a"
done
__addr_up "$NSA" uc 2001:db8:9::1/64
__addr_up "$NSC" eth0 2001:db8:9::2/64
ip -n "$NSC" route add default via 10.9.0.1 &&
ip -n "$NSC" -6 route add default via 2001:db8:9::1 || die "default routes on $NSC"

mac() { ip -n "$1" -br link show dev "$2" | awk '{ print $3 }'; }
neigh() { # NS DEV MAC ADDR...
	local ns=$1 dev=$2 lladdr=$3 a
	shift 3
	for a in "$@"; do
		ip -n "$ns" neigh replace "$a" lladdr "$lladdr" dev "$dev" nud permanent ||
			die "neighbour $a in $ns"
	done
}
neigh "$NSA" ua "$(mac "$NSB" ub)" 192.0.2.2 192.0.2.3 192.0.2.4 \
	2001:db8::2 2001:db8::3 2001:db8::4
neigh "$NSB" ub "$(mac "$NSA" ua)" 192.0.2.1 192.0.2.11 192.0.2.12 2001:db8::1 2001:db8::12
neigh "$NSA" uc "$(mac "$NSC" eth0)" 10.9.0.2 2001:db8:9::2
neigh "$NSC" eth0 "$(mac "$NSA" uc)" 10.9.0.1 2001:db8:9::1

# A verifies every checksum itself (veth would mark what $NSB sends as
# checked), and computes its own (captures show final checksums)
ns_exec "$NSA" ethtool -K ua rx off tx off >/dev/null &&
ns_exec "$NSA" ethtool -K uc rx off tx off >/dev/null || die "ethtool in $NSA"

# tunnel NAME KIND ADDRESS OPTION...
tunnel() {
	local name=$1 kind=$2 addr=$3
	shift 3
	ip -n "$NSA" link add "$name" type "ipt_$kind" "$@" ||
		die "cannot create $name (ipt_$kind $*)"
	case $kind in
	ipip|4in6)	# inner IPv4 only: no IPv6 of the stack into them
		ns_exec "$NSA" sysctl -qw "net.ipv6.conf.$name.disable_ipv6=1" ;;
	esac
	ip -n "$NSA" addr add "$addr" dev "$name" || die "address on $name"
	ip -n "$NSA" link set "$name" up || die "$name up"
}
tunnel ipip0 ipip 10.0.0.1/30 local 192.0.2.1 remote 192.0.2.2
tunnel ipip1 ipip 10.0.4.1/30 local 192.0.2.1 remote 192.0.2.4
tunnel six0 6in4 2001:db8:6::1/64 local 192.0.2.1 remote 192.0.2.2
tunnel six1 6in4 2001:db8:64::1/64 local 192.0.2.1 remote 192.0.2.4
tunnel auto0 6in4 2002:c000:20b::1/16 local 192.0.2.11
tunnel v4in6 4in6 10.0.1.1/30 local 2001:db8::1 remote 2001:db8::2
tunnel v4in6b 4in6 10.0.5.1/30 local 2001:db8::1 remote 2001:db8::4

wait_for ping_ok "$NSA" 192.0.2.2 || die "no IPv4 over the veth pair"
wait_for ping_ok "$NSA" 2001:db8::2 || die "no IPv6 over the veth pair"
wait_for ping_ok "$NSA" 10.9.0.2 || die "no IPv4 to $NSC"
wait_for ping_ok "$NSA" 2001:db8:9::2 || die "no IPv6 to $NSC"

args=()
[ -z "${MALFORMED_KINDS:-}" ] || args+=(--kinds "$MALFORMED_KINDS")
[ -z "${MALFORMED_ONLY:-}" ] || args+=(--only "$MALFORMED_ONLY")
log "=== the classes (malformed.py)"
"$PY" "$HERE/malformed.py" "$UAPI" "$NSA" "$NSB" "$NSC" "${args[@]}" ||
	fail "some packet classes did not have the expected outcome (FAIL lines above)"

# ---------------------------------------------------------------------------
log "=== the tunnels still work"

ns_exec "$NSB" nft delete table inet mute || fail "nft in $NSB"
peer() { # NAME KIND ADDRESS OPTION...
	local name=$1 kind=$2 addr=$3
	shift 3
	ip -n "$NSB" link add "$name" type "ipt_$kind" "$@" &&
	ip -n "$NSB" addr add "$addr" dev "$name" &&
	ip -n "$NSB" link set "$name" up || die "cannot set up $name in $NSB"
}
peer ipip0 ipip 10.0.0.2/30 local 192.0.2.2 remote 192.0.2.1
peer six0 6in4 2001:db8:6::2/64 local 192.0.2.2 remote 192.0.2.1
peer v4in6 4in6 10.0.1.2/30 local 2001:db8::2 remote 2001:db8::1
ip -n "$NSB" route add 10.9.0.0/24 dev ipip0 &&
ip -n "$NSB" -6 route add 2001:db8:9::/64 dev six0 || die "routes to $NSC in $NSB"

for x in "$NSA 10.0.0.2" "$NSA 2001:db8:6::2" "$NSA 10.0.1.2" \
	 "$NSB 10.0.0.1" "$NSB 2001:db8:6::1" "$NSB 10.0.1.1" \
	 "$NSC 10.0.0.2" "$NSC 2001:db8:6::2"; do
	set -- $x
	if wait_for -t 20 ping_ok "$1" "$2" && ping_ok "$1" "$2" 3; then
		pass "ping $2 from ${1%%-*}"
	else
		fail "ping $2 from ${1%%-*} after the classes"
	fi
done

# ---------------------------------------------------------------------------
# Two ipt tunnels whose remotes are routed over each other.  Sending through one is dropped at the stack's transmit
# recursion limit (the classes above check that), but
#
#  - any event that makes ipt look at their underlay again (here: an
#    address added) sets each tunnel's MTU from the other's, which raises
#    NETDEV_CHANGEMTU, which sets the other's...: one nested dev_set_mtu()
#    per 20 bytes of MTU, until the kernel stack overflows;
#  - every packet raises each tunnel's needed_headroom from the other's
#    (before_encap(), without the cap ip_tunnel_adj_headroom() has): after
#    a few hundred packets the u16 wraps, and iptunnel_xmit() pushes its
#    header into too little headroom: skb_under_panic().
#
# Both panicked the kernel before they were fixed (ipt_underlay.c defers
# nested events to its work item; ipt_adj_headroom() caps the headroom at
# 512 as ip_tunnel_adj_headroom() does): now regression tests.
log "=== tunnels routed over each other (these once panicked the kernel)"

# crash_pair NS REMOTE_A REMOTE_B ROUTED: ipt_ipip tunnels xa and xb over a
# dummy underlay, up, then their remotes routed over each other.  ROUTED=1:
# the remotes are first routed over the underlay (carrier on, so that the
# tunnels transmit); 0: unrouted (so that the next event looks at them).
crash_pair() {
	local ns=$1 ra=$2 rb=$3 routed=$4
	ip -n "$ns" link add d0 type dummy &&
	ip -n "$ns" addr add 192.0.2.1/24 dev d0 &&
	ip -n "$ns" link set d0 up &&
	ip -n "$ns" neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev d0 || die "d0 in $ns"
	if [ "$routed" = 1 ]; then
		ip -n "$ns" route add "$ra/32" via 192.0.2.2 &&
		ip -n "$ns" route add "$rb/32" via 192.0.2.2 || die "routes in $ns"
	fi
	ip -n "$ns" link add xa type ipt_ipip local 192.0.2.1 remote "$ra" &&
	ip -n "$ns" link add xb type ipt_ipip local 192.0.2.1 remote "$rb" &&
	ip -n "$ns" link set xa up && ip -n "$ns" link set xb up &&
	ip -n "$ns" route replace "$ra/32" dev xb &&
	ip -n "$ns" route replace "$rb/32" dev xa || die "crash_pair in $ns"
}

{
	setup_ns NSX
	crash_pair "$NSX" 198.18.1.1 198.18.2.1 0
	ip -n "$NSX" addr add 10.99.0.1/30 dev xa || fail "address on xa"
	mtus=$(ip -n "$NSX" -o link show | awk '$2 ~ /^x[ab]@/ { print $2, $5 }' | tr '\n' ' ')
	pass "still alive after an event on two tunnels routed over each other (MTUs: $mtus)"
}

{
	setup_ns NSY
	crash_pair "$NSY" 198.18.3.1 198.18.4.1 1
	ip -n "$NSY" addr add 10.99.1.1/30 dev xa || fail "address on xa"
	ns_exec "$NSY" "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(2000):
    try:
        s.sendto(b"x" * 100, ("10.99.1.2", 9))
    except OSError:
        pass
'
	pass "still alive after 2000 datagrams into two tunnels routed over each other"
}

exit $RET
