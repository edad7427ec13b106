#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# CPU cost of ipt against the in-tree tunnel of the same kind, in the
# same boot and interleaved, reported as ratios.  Only meaningful in the
# deterministic guest (`make perf`: one vCPU, -icount, guest time follows
# the instructions executed); skipped otherwise.
#
#   +-----------------------------+                 +-----------------------------+
#   | $NSA                        |                 | $NSB                        |
#   |  ipt tunnel    10.1.K.1 ============================ ipt tunnel   10.1.K.2   |
#   |  in-tree tunnel 10.2.K.1 =========================== in-tree      10.2.K.2   |
#   |  veth0 192.0.2.1, 2001:db8::1 --- veth pair --- veth1 192.0.2.2, 2001:db8::2 |
#   +-----------------------------+                 +-----------------------------+
#
# For each kind (ipip/ipip, 6in4/sit, 4in6/ip6tnl without encap limit):
# ROUNDS x (iperf3 TCP through ipt, then through in-tree), BYTES each, and
# the busy CPU time each took.  A test fails if ipt costs more than in-tree
# by more than $IPT_PERF_SLACK percent on the median ratio.

source "$(dirname "$0")/lib.sh"


[ "${IPT_PERF:-0}" = 1 ] || skip "run with 'make perf' (deterministic guest)"
require_ipt
require_cmd iperf3
require_module ipip sit ip6_tunnel veth

ROUNDS=${IPT_PERF_ROUNDS:-3}
BYTES=${IPT_PERF_BYTES:-200M}
SLACK=${IPT_PERF_SLACK:-3}

underlay_pair

pair() { # NAME KIND IPT_ARGS_A IPT_ARGS_B
	ip -n "$NSA" link add "$1" type "$2" $3 || die "cannot create $2 in $NSA"
	ip -n "$NSB" link add "$1" type "$2" $4 || die "cannot create $2 in $NSB"
	ip -n "$NSA" link set "$1" addrgenmode none up
	ip -n "$NSB" link set "$1" addrgenmode none up
}

busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }

# CPU cost of moving $BYTES through ADDR (v4 or v6) with iperf3 TCP, in
# busy jiffies (user+system+irq+softirq) into $COST: with -icount that
# is instructions, whatever the timers and idle periods do.
cost() {
	local b0 b1
	COST=0
	ns_exec "$NSB" iperf3 -s -1 -B "$1" >/dev/null 2>&1 &
	wait_for -t 20 sh -c "ip netns exec $NSB ss -ltn | grep -q ':5201'" ||
		return 1
	b0=$(busy)
	ns_exec "$NSA" iperf3 -c "$1" -n "$BYTES" >/dev/null 2>&1 || return 1
	b1=$(busy)
	wait
	COST=$((b1 - b0))
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

compare() { # LABEL IPT_ADDR INTREE_ADDR
	local i c1 c2 ratios=() m
	for i in $(seq "$ROUNDS"); do
		cost "$2" || { fail "$1: transfer through ipt failed"; return; }
		c1=$COST
		cost "$3" || { fail "$1: transfer through in-tree failed"; return; }
		c2=$COST
		[ "$c1" -gt 0 ] && [ "$c2" -gt 0 ] || { fail "$1: no CPU time measured"; return; }
		# > 1: ipt needs less CPU than in-tree for the same bytes
		ratios+=("$(echo "scale=3; $c2 / $c1" | bc)")
		log "$1 round $i: $BYTES cost ipt $c1, in-tree $c2 busy jiffies; in-tree/ipt ${ratios[-1]}"
	done
	m=$(median "${ratios[@]}")
	log "$1: median CPU cost ratio in-tree/ipt $m (> 1: ipt cheaper)"
	if [ "$(echo "$m * 100 < 100 - $SLACK" | bc)" = 1 ]; then
		fail "$1: ipt costs more CPU than in-tree: ratio $m (allowed 1 - $SLACK%)"
	else
		pass "$1: ratio $m"
	fi
}

# ipip
pair ipt0 ipt_ipip "local 192.0.2.1 remote 192.0.2.2" "local 192.0.2.2 remote 192.0.2.1"
ip -n "$NSA" link add tree0 type ipip local 192.0.2.1 remote 192.0.2.2 ttl 64 || die "ipip"
ip -n "$NSB" link add tree0 type ipip local 192.0.2.2 remote 192.0.2.1 ttl 64 || die "ipip"
ip -n "$NSA" link set tree0 up; ip -n "$NSB" link set tree0 up
ip -n "$NSA" addr add 10.1.1.1/30 dev ipt0; ip -n "$NSB" addr add 10.1.1.2/30 dev ipt0
ip -n "$NSA" addr add 10.2.1.1/30 dev tree0; ip -n "$NSB" addr add 10.2.1.2/30 dev tree0
wait_for ping_ok "$NSA" 10.1.1.2 && wait_for ping_ok "$NSA" 10.2.1.2 || die "ipip tunnels down"
compare "ipip (TCP over IPv4)" 10.1.1.2 10.2.1.2

# 6in4 vs sit
pair ipt6 ipt_6in4 "local 192.0.2.1 remote 192.0.2.2" "local 192.0.2.2 remote 192.0.2.1"
ip -n "$NSA" link add sit6 type sit local 192.0.2.1 remote 192.0.2.2 ttl 64 || die "sit"
ip -n "$NSB" link add sit6 type sit local 192.0.2.2 remote 192.0.2.1 ttl 64 || die "sit"
ip -n "$NSA" link set sit6 up; ip -n "$NSB" link set sit6 up
ip -n "$NSA" addr add fd00:1::1/64 dev ipt6 nodad; ip -n "$NSB" addr add fd00:1::2/64 dev ipt6 nodad
ip -n "$NSA" addr add fd00:2::1/64 dev sit6 nodad; ip -n "$NSB" addr add fd00:2::2/64 dev sit6 nodad
wait_for ping_ok "$NSA" fd00:1::2 && wait_for ping_ok "$NSA" fd00:2::2 || die "6in4 tunnels down"
compare "6in4 vs sit (TCP over IPv6)" fd00:1::2 fd00:2::2

# 4in6 vs ip6tnl (no encap limit, same overhead)
pair ipt4 ipt_4in6 "local 2001:db8::1 remote 2001:db8::2" "local 2001:db8::2 remote 2001:db8::1"
ip -n "$NSA" link add tnl4 type ip6tnl mode ipip6 local 2001:db8::1 remote 2001:db8::2 encaplimit none || die "ip6tnl"
ip -n "$NSB" link add tnl4 type ip6tnl mode ipip6 local 2001:db8::2 remote 2001:db8::1 encaplimit none || die "ip6tnl"
ip -n "$NSA" link set tnl4 addrgenmode none up; ip -n "$NSB" link set tnl4 addrgenmode none up
ip -n "$NSA" addr add 10.1.3.1/30 dev ipt4; ip -n "$NSB" addr add 10.1.3.2/30 dev ipt4
ip -n "$NSA" addr add 10.2.3.1/30 dev tnl4; ip -n "$NSB" addr add 10.2.3.2/30 dev tnl4
wait_for ping_ok "$NSA" 10.1.3.2 && wait_for ping_ok "$NSA" 10.2.3.2 || die "4in6 tunnels down"
compare "4in6 vs ip6tnl (TCP over IPv6 underlay)" 10.1.3.2 10.2.3.2

exit $RET
