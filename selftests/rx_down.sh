#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A tunnel that is administratively down receives nothing, as with the
# in-tree tunnels (ip_tunnel_lookup skips a device without IFF_UP): its
# packets go on to the next protocol handler, here none, so the sender
# gets the ICMP error of an unhandled protocol, and nothing is delivered
# on the down device.  Carrier does not count (keepalive must hear its
# replies while the carrier is off); keepalive.sh covers that.
#
#   +------------------------------+                +------------------------------+
#   | $NSA                         |                | $NSB                         |
#   |  t4  ipt_ipip 10.1.1.1/30  ==================== t4  10.1.1.2/30             |
#   |  t6  ipt_6in4 fd00:1::1/64 ==================== t6  fd00:1::2/64            |
#   |  t46 ipt_4in6 10.1.3.1/30  ==================== t46 10.1.3.2/30             |
#   |  routes to $NSB's lo        |                |  lo 10.9.1.9, fd00:9::9,     |
#   |  addresses via the tunnels  |                |     10.9.3.9                 |
#   |  veth0 192.0.2.1, 2001:db8::1 -- veth pair --- veth1 192.0.2.2, 2001:db8::2 |
#   +------------------------------+                +------------------------------+
#
# Per kind: pings to $NSB's lo address through the tunnel are answered;
# with $NSB's tunnel down, its rx_packets and $NSB's ICMP echo requests
# received stay where they were and $NSA hears an ICMP protocol/port
# unreachable; back up, pings are answered again.

source "$(dirname "$0")/lib.sh"

require_ipt
require_module veth

underlay_pair

# pair DEV KIND ARGS_A ARGS_B ADDR_A ADDR_B TARGET: tunnel_pair, and
# TARGET on $NSB's lo routed from $NSA through DEV
pair() {
	tunnel_pair "$@"
	ip -n "$NSB" addr add "$7" dev lo
	ip -n "$NSA" route add "$7" dev "$1"
}

pair t4 ipt_ipip "local 192.0.2.1 remote 192.0.2.2" "local 192.0.2.2 remote 192.0.2.1" \
	10.1.1.1/30 10.1.1.2/30 10.9.1.9/32
pair t6 ipt_6in4 "local 192.0.2.1 remote 192.0.2.2" "local 192.0.2.2 remote 192.0.2.1" \
	fd00:1::1/64 fd00:1::2/64 fd00:9::9/128
pair t46 ipt_4in6 "local 2001:db8::1 remote 2001:db8::2" "local 2001:db8::2 remote 2001:db8::1" \
	10.1.3.1/30 10.1.3.2/30 10.9.3.9/32

# snmp NS NAME: a counter of /proc/net/snmp ("Icmp:InEchos") or of
# /proc/net/snmp6 ("Icmp6InEchos") in NS
snmp() {
	case $2 in
	*:*)
		ns_exec "$1" cat /proc/net/snmp | awk -v t="${2%%:*}:" -v f="${2#*:}" '
			$1 == t && !seen { for (i = 2; i <= NF; i++) h[i] = $i; seen = 1; next }
			$1 == t { for (i = 2; i <= NF; i++) if (h[i] == f) print $i }' ;;
	*)
		ns_exec "$1" cat /proc/net/snmp6 | awk -v f="$2" '$1 == f { print $2 }' ;;
	esac
}

# check_kind DEV KIND TARGET ECHOS UNREACH [IPV6_ADDR_OF_DEV]
check_kind() {
	local dev=$1 kind=$2 target=$3 echos=$4 unreach=$5 addr=${6:-} rx e u

	if wait_for ping_ok "$NSA" "$target"; then
		pass "$kind up: $target answers through the tunnel"
	else
		fail "$kind up: no answer from $target"
	fi

	ip -n "$NSB" link set "$dev" down || die "ip link set $dev down"
	rx=$(link_stat "$NSB" "$dev" rx_packets)
	e=$(snmp "$NSB" "$echos")
	u=$(snmp "$NSA" "$unreach")
	if ping_ok "$NSA" "$target" 5; then
		fail "$kind down: $target answered through a down tunnel"
	else
		pass "$kind down: no answer from $target"
	fi
	check_eq "$kind down: rx_packets of $NSB's $dev" "$rx" "$(link_stat "$NSB" "$dev" rx_packets)"
	check_eq "$kind down: $NSB's $echos (nothing delivered)" "$e" "$(snmp "$NSB" "$echos")"
	check_ge "$kind down: $NSA's $unreach (the packets went to no handler)" \
		$((u + 1)) "$(snmp "$NSA" "$unreach")"

	ip -n "$NSB" link set "$dev" up || die "ip link set $dev up"
	# IPv6 flushes a down device's addresses (keep_addr_on_down 0)
	[ -n "$addr" ] && ip -n "$NSB" addr replace "$addr" dev "$dev" nodad
	if wait_for ping_ok "$NSA" "$target"; then
		pass "$kind up again: $target answers"
	else
		fail "$kind up again: no answer from $target"
	fi
}

check_kind t4 ipt_ipip 10.9.1.9 Icmp:InEchos Icmp:InDestUnreachs
check_kind t6 ipt_6in4 fd00:9::9 Icmp6InEchos Icmp:InDestUnreachs fd00:1::2/64
check_kind t46 ipt_4in6 10.9.3.9 Icmp:InEchos Icmp6InDestUnreachs

exit "$RET"
