#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fast-path (RouterOS allow-fast-path): with "yes" (the default) the stack
# hands the tunnel TCP super-packets (GSO) and the receive side merges
# with GRO; with "no" every packet is segmented and checksummed before it
# reaches the tunnel and each is encapsulated on its own.  The option
# changes live and only when asked for.
#
#   $NSA  veth0 192.0.2.1, 2001:db8::1 ----- veth1 192.0.2.2, 2001:db8::2  $NSB
#         ipt_ipip t4 10.1.1.1   =============== t4 10.1.1.2
#         ipt_6in4 t6 fd00:1::1  =============== t6 fd00:1::2
#         ipt_4in6 t46 10.1.3.1  =============== t46 10.1.3.2
#
# For each kind: a TCP transfer captured on the sending tunnel device
# (where the stack's packet tap sees what the tunnel is handed), the
# largest TCP payload compared with the tunnel MTU, ethtool's view of the
# offloads, and the bytes the receiver got.

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd iperf3 tcpdump ethtool
require_module veth

underlay_pair

tunnel_trio

# offload NS DEV FEATURE: on or off, as ethtool -k says
offload() {
	ns_exec "$1" ethtool -k "$2" | awk -v f="$3:" '$1 == f { print $2 }'
}

# option NS DEV: the fast-path word of ip -d link show
option() {
	ip -n "$1" -d link show dev "$2" | grep -o 'fast-path [a-z]*' | cut -d' ' -f2
}

# transfer DEV PEER: 3 MB of TCP from $NSA to PEER through DEV; sets BIG
# to the largest TCP payload the tunnel was handed and GOT to the bytes
# iperf3 delivered (0 when the transfer failed: TCP, so a clean finish
# means all arrived; iperf3's receiver figure misses the last interval).  No $(...): a subshell
# would run lib.sh's exit trap.
transfer() {
	local dev=$1 peer=$2 pcap=/tmp/fp-$1.pcap cap srv
	BIG=0 GOT=0
	ns_exec "$NSB" iperf3 -s -1 -B "$peer" >/dev/null 2>&1 &
	srv=$!
	wait_for -t 20 sh -c "ip netns exec $NSB ss -ltn | grep -q ':5201'" ||
		return
	# Empty the log first: each kind runs three transfers, and a
	# "listening" left by the previous tcpdump let the transfer start
	# before this one was capturing (seen in CI: largest payload 0).
	: >"$pcap.err"
	ns_exec "$NSA" tcpdump -i "$dev" -nn -q -U -s 96 -w "$pcap" tcp 2>>"$pcap.err" &
	cap=$!
	wait_for -t 30 grep -q "listening on" "$pcap.err" ||
		{ kill "$cap" "$srv"; return; }
	ns_exec "$NSA" iperf3 -c "$peer" -n 3M -J >/tmp/fp-cli.json 2>/dev/null ||
		: >/tmp/fp-cli.json
	wait "$srv"
	sleep 0.5
	kill "$cap" 2>/dev/null
	wait "$cap" 2>/dev/null
	BIG=$(pcap_max_tcp "$pcap")
	GOT=$(iperf3_sent /tmp/fp-cli.json)
}

# check_kind DEV KIND PEER
check_kind() {
	local dev=$1 kind=$2 peer=$3 mtu

	mtu=$(ip -n "$NSA" -o link show dev "$dev" | sed -n 's/.* mtu \([0-9]*\).*/\1/p')

	check_eq "$kind: fast-path shown by default" yes "$(option "$NSA" "$dev")"
	check_eq "$kind: GSO on by default" on "$(offload "$NSA" "$dev" generic-segmentation-offload)"
	check_eq "$kind: GRO on by default" on "$(offload "$NSB" "$dev" generic-receive-offload)"
	check_eq "$kind: checksum offload on by default" on "$(offload "$NSA" "$dev" tx-checksumming)"
	transfer "$dev" "$peer"
	check_ge "$kind: bytes delivered with fast-path yes" 3145728 "$GOT"
	if [ "$BIG" -gt "$mtu" ]; then
		pass "$kind: fast-path yes hands the tunnel super-packets ($BIG-byte payload, MTU $mtu)"
	else
		fail "$kind: fast-path yes: largest TCP payload $BIG, not above the MTU $mtu"
	fi

	ip -n "$NSA" link set "$dev" type "$kind" fast-path no ||
		fail "$kind: cannot set fast-path no"
	ip -n "$NSB" link set "$dev" type "$kind" fast-path no
	check_eq "$kind: fast-path shown after the change" no "$(option "$NSA" "$dev")"
	check_eq "$kind: GSO off with fast-path no" off "$(offload "$NSA" "$dev" generic-segmentation-offload)"
	check_eq "$kind: GRO off with fast-path no" off "$(offload "$NSB" "$dev" generic-receive-offload)"
	check_eq "$kind: scatter-gather off with fast-path no" off "$(offload "$NSA" "$dev" scatter-gather)"
	check_eq "$kind: checksum offload off with fast-path no" off "$(offload "$NSA" "$dev" tx-checksumming)"
	transfer "$dev" "$peer"
	check_ge "$kind: bytes delivered with fast-path no" 3145728 "$GOT"
	if [ "$BIG" -gt 0 ] && [ "$BIG" -le "$((mtu - 40))" ]; then
		pass "$kind: fast-path no: every TCP segment fits the MTU (largest payload $BIG)"
	else
		fail "$kind: fast-path no: largest TCP payload $BIG with MTU $mtu"
	fi

	# ethtool cannot turn back on what the option keeps off
	ns_exec "$NSA" ethtool -K "$dev" gso on sg on >/dev/null 2>&1
	check_eq "$kind: ethtool cannot override fast-path no" off \
		"$(offload "$NSA" "$dev" generic-segmentation-offload)"
	# another option changed: fast-path stays as it was
	ip -n "$NSA" link set "$dev" type "$kind" clamp-tcp-mss no
	check_eq "$kind: fast-path kept by an unrelated change" no "$(option "$NSA" "$dev")"
	check_eq "$kind: GSO still off after an unrelated change" off \
		"$(offload "$NSA" "$dev" generic-segmentation-offload)"

	ip -n "$NSA" link set "$dev" type "$kind" fast-path yes
	ip -n "$NSB" link set "$dev" type "$kind" fast-path yes
	check_eq "$kind: GSO back on with fast-path yes" on "$(offload "$NSA" "$dev" generic-segmentation-offload)"
	check_eq "$kind: GRO back on with fast-path yes" on "$(offload "$NSB" "$dev" generic-receive-offload)"
	transfer "$dev" "$peer"
	check_ge "$kind: bytes delivered after fast-path yes again" 3145728 "$GOT"
	[ "$BIG" -gt "$mtu" ] && pass "$kind: super-packets again" ||
		fail "$kind: no super-packets after fast-path yes again (largest $BIG)"
}

check_kind t4 ipt_ipip 10.1.1.2
check_kind t6 ipt_6in4 fd00:1::2
check_kind t46 ipt_4in6 10.1.3.2

# created with fast-path no: offloads off from the start
ip -n "$NSA" link add t9 type ipt_ipip local 192.0.2.1 remote 192.0.2.9 fast-path no ||
	fail "cannot create a tunnel with fast-path no"
check_eq "created with fast-path no: shown" no "$(option "$NSA" t9)"
check_eq "created with fast-path no: GSO off" off "$(offload "$NSA" t9 generic-segmentation-offload)"
out=$(ip -n "$NSA" link set t9 type ipt_ipip fast-path maybe 2>&1) &&
	fail "fast-path maybe accepted"
check_eq "fast-path maybe refused, nothing changed" no "$(option "$NSA" t9)"

exit $RET
