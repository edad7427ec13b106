#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Concurrency and teardown stress (issue 9, "Robustness"), for
# IPT_STRESS_SECONDS (default 120) split into rounds.  In each round, with
# a flood through three tunnel pairs (ipt_ipip, ipt_4in6, ipt_6in4: ping -f,
# a UDP stream, iperf3), background loops race each other:
#
#   churn     add, change (remote, local, ttl, dscp, fast-path, keepalive)
#             and delete tunnels of the three kinds, and change the
#             flooded tunnels themselves (ttl, fast-path, remote away and
#             back)
#   underlay  underlay MTU changes, routes added and deleted, the underlay
#             veth down and up
#   move      tunnels moved to another namespace and back, among them the
#             flooded ipt_ipip one
#   nskill    short-lived namespace pairs with a tunnel and a flood,
#             deleted under the flood
#
# (in the last round also ipt unloaded and loaded every few seconds,
# racing them all), and at the end of the round ipt is unloaded and loaded
# again: after
# deleting every tunnel (odd rounds), or with the tunnels up and the flood
# still running (even rounds, rmmod deletes them).  Last, a fresh tunnel
# pair must still ping.  The runner fails the test on any
# WARN/BUG/refcount/"unregister_netdevice: waiting" in the kernel log and
# checks that every ipt device created was destroyed.
#
#  +--------------------------------------+             +-----------------+
#  | $A  s4 ipt_ipip  10.1.0.1/30         |             | $B  p4, p6, p46 |
#  |     s6 ipt_4in6  10.2.0.1/30         |             |  (peers)        |
#  |     s46 ipt_6in4 2001:db8:46::1/64   |             |                 |
#  |     c0..c3 churned tunnels           |             |                 |
#  |  veth0 192.0.2.1/24 2001:db8:1::1/64 +-------------+ veth1 .2 / ::2  |
#  +--------------------------------------+             +-----------------+
#        | ip link set s4/m0 netns $X and back
#  +-----v-----+     K*: throwaway namespace pairs, deleted under a flood
#  | $X        |
#  +-----------+

source "$(dirname "$0")/lib.sh"

require_ipt
require_module veth
require_cmd iperf3
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"
KO=${IPT_KO:-}
[ -n "$KO" ] && [ -f "$KO" ] || skip "IPT_KO (the loaded module's file) not set"

# The runner loads ipt with dynamic debug: its created/destroyed lines are
# how leaks are counted, so reloads must keep it.
DYNDBG=()
grep -qs '\[ipt\]ipt_dev_free =p' /sys/kernel/debug/dynamic_debug/control && DYNDBG=(dyndbg=+p)
on_exit '[ -d /sys/module/ipt ] || insmod "$KO" ${DYNDBG[*]}'

# The guest's init clears the environment: also from the kernel command
# line (IPT_VM_APPEND="IPT_STRESS_SECONDS=60").
if [ -z "${IPT_STRESS_SECONDS:-}" ]; then
	IPT_STRESS_SECONDS=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^IPT_STRESS_SECONDS=\([0-9]*\)$/\1/p' | tail -n 1)
fi
DUR=${IPT_STRESS_SECONDS:-120}
ROUNDS=3
PER=$((DUR / ROUNDS))
[ $PER -ge 15 ] || PER=15
log "stress: $ROUNDS rounds of ${PER}s"

PIDS=()
# bg NS CMD...: CMD in NS in the background (ip netns exec execs it, so
# $! is the command itself)
bg() { ip netns exec "$@" >/dev/null 2>&1 & PIDS+=($!); }
stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
}
on_exit stop_all

# ipt's debug lines after T0 (the kernel log's last time stamp then): counted from the
# test's start, not the boot, as earlier lines may have left the ring
# buffer during a whole suite
T0=$(dmesg | tail -n 1 | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p')
T0=${T0:-0}
since_t0() {
	dmesg | awk -v t0="$T0" -v re="$1" '{
		ts = $0; sub(/^\[ */, "", ts); sub(/\].*/, "", ts)
		if (ts + 0 > t0 + 0 && $0 ~ re) n++
	} END { print n + 0 }'
}
created()   { since_t0 'ipt: [^ ]+: created *$'; }
destroyed() { since_t0 'ipt: [^ ]+: destroyed *$'; }
all_freed() { [ "$(created)" = "$(destroyed)" ]; }

UDP_PY='
import socket, sys, time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        s.sendto(b"u" * 1200, (sys.argv[1], 9))
    except OSError:
        time.sleep(0.01)
'

# rnd LIST...: one of the words
rnd() { local a=("$@"); echo "${a[RANDOM % ${#a[@]}]}"; }

# --- the setup of a round ----------------------------------------------------

underlay_addrs() {
	ip -n "$A" addr add 2001:db8:1::1/64 dev veth0 nodad 2>/dev/null
	ip -n "$A" route replace 198.51.100.0/24 via 192.0.2.2 2>/dev/null
	ip -n "$A" -6 route replace 2001:db8:2::/64 via 2001:db8:1::2 2>/dev/null
}

# s_up NS DEV ADDR: address and up, again after a move (a move loses them)
s_up() { ip -n "$1" addr replace "$3" dev "$2" ${4:-} 2>/dev/null; ip -n "$1" link set "$2" up 2>/dev/null; }

setup_round() {
	setup_ns A B X
	add_veth "$A" veth0 192.0.2.1/24 "$B" veth1 192.0.2.2/24
	ip -n "$B" addr add 2001:db8:1::2/64 dev veth1 nodad || die "v6 on veth1"
	ip -n "$B" link set veth1 mtu 9000 || die "veth1 mtu"
	ip -n "$B" addr add 198.51.100.254/24 dev veth1 || die "v4 on veth1"
	underlay_addrs
	ip -n "$A" link add s4 type ipt_ipip local 192.0.2.1 remote 192.0.2.2 &&
	ip -n "$B" link add p4 type ipt_ipip local 192.0.2.2 remote 192.0.2.1 &&
	ip -n "$A" link add s6 type ipt_4in6 local 2001:db8:1::1 remote 2001:db8:1::2 &&
	ip -n "$B" link add p6 type ipt_4in6 local 2001:db8:1::2 remote 2001:db8:1::1 &&
	ip -n "$A" link add s46 type ipt_6in4 local 192.0.2.1 remote 192.0.2.2 &&
	ip -n "$B" link add p46 type ipt_6in4 local 192.0.2.2 remote 192.0.2.1 ||
		die "the flooded tunnel pairs"
	s_up "$A" s4 10.1.0.1/30; s_up "$B" p4 10.1.0.2/30
	s_up "$A" s6 10.2.0.1/30; s_up "$B" p6 10.2.0.2/30
	s_up "$A" s46 2001:db8:46::1/64 nodad; s_up "$B" p46 2001:db8:46::2/64 nodad
	wait_for -t 30 ping_ok "$A" 10.1.0.2 || fail "round $r: no ping through s4"
	wait_for -t 30 ping_ok "$A" 10.2.0.2 || fail "round $r: no ping through s6"
	wait_for -t 30 ping_ok "$A" 2001:db8:46::2 || fail "round $r: no ping through s46"

	# The floods at the lowest priority: on 2 TCG vCPUs they would
	# otherwise starve the loops whose races are the point; the packets
	# are in flight all the same.
	local t=$((PER + 60)) n="nice -n 19"
	bg "$B" $n ping -f -q -w $t 10.1.0.1
	bg "$A" $n ping -f -q -w $t -s 1400 10.1.0.2
	bg "$A" $n ping -f -q -w $t 10.2.0.2
	bg "$B" $n ping -6 -f -q -w $t 2001:db8:46::1
	bg "$A" $n "$PY" -c "$UDP_PY" 10.1.0.2 $t
	bg "$B" $n "$PY" -c "$UDP_PY" 10.2.0.1 $t
	bg "$B" $n iperf3 -s -B 10.1.0.2
	bg "$A" $n timeout $t sh -c 'sleep 1; while :; do iperf3 -c 10.1.0.2 -t 5 || sleep 0.5; done'
}

# --- the background loops -------------------------------------------------------

churn_loop() {
	local i k n=0
	while [ $SECONDS -lt "$END" ]; do
		i=c$((RANDOM % 4))
		k=$(rnd ipt_ipip ipt_6in4 ipt_4in6)
		case $k in
		ipt_4in6) ip -n "$A" link add "$i" type ipt_4in6 remote 2001:db8:2::$((RANDOM % 9 + 1)) \
				$(rnd "" "local 2001:db8:1::1") ;;
		*) ip -n "$A" link add "$i" type "$k" remote 198.51.100.$((RANDOM % 9 + 1)) \
				$(rnd "" "local 192.0.2.1") ;;
		esac
		ip -n "$A" link set "$i" up
		k=$(ip -n "$A" -d -o link show "$i" 2>/dev/null | grep -o 'ipt_[a-z0-9]*' | head -n 1)
		if [ -n "$k" ]; then
			ip -n "$A" link set "$i" type "$k" ttl $((RANDOM % 255 + 1)) \
				fast-path "$(rnd yes no)" dscp $((RANDOM % 64))
			ip -n "$A" link set "$i" type "$k" keepalive "$(rnd off 1 2,3)"
			case $k in
			ipt_4in6) ip -n "$A" link set "$i" type "$k" remote 2001:db8:2::$((RANDOM % 9 + 1)) \
					local "$(rnd any 2001:db8:1::1)" ;;
			*) ip -n "$A" link set "$i" type "$k" remote 198.51.100.$((RANDOM % 9 + 1)) \
					local "$(rnd any 192.0.2.1)" ;;
			esac
		fi
		# the flooded ones: harmless changes, and the remote away and back
		ip -n "$A" link set s4 type ipt_ipip ttl $((RANDOM % 200 + 2)) fast-path "$(rnd yes no)"
		ip -n "$A" link set s6 type ipt_4in6 hoplimit $((RANDOM % 200 + 2)) fast-path "$(rnd yes no)" \
			encaplimit "$(rnd none 4)"
		ip -n "$A" link set s46 type ipt_6in4 fast-path "$(rnd yes no)"
		if [ $((RANDOM % 4)) = 0 ]; then
			ip -n "$A" link set s4 type ipt_ipip remote 192.0.2.9
			ip -n "$A" link set s4 type ipt_ipip remote 192.0.2.2
		fi
		[ $((RANDOM % 2)) = 0 ] && ip -n "$A" link del "c$((RANDOM % 4))"
		n=$((n + 1))
	done >/dev/null 2>&1
	echo "churn: $n iterations"
}

underlay_loop() {
	local n=0
	while [ $SECONDS -lt "$END" ]; do
		ip -n "$A" link set veth0 mtu "$(rnd 1500 1400 1280 9000 1500)"
		ip -n "$A" route del 198.51.100.0/24
		ip -n "$A" -6 route del 2001:db8:2::/64
		sleep 0.1
		underlay_addrs
		if [ $((RANDOM % 5)) = 0 ]; then
			ip -n "$A" link set veth0 down
			sleep 0.2
			ip -n "$A" link set veth0 up
			underlay_addrs
		fi
		sleep 0.2
		n=$((n + 1))
	done >/dev/null 2>&1
	ip -n "$A" link set veth0 mtu 1500 2>/dev/null
	underlay_addrs
	echo "underlay: $n iterations"
}

move_loop() {
	local n=0
	while [ $SECONDS -lt "$END" ]; do
		ip -n "$A" link add m0 type "$(rnd ipt_ipip ipt_6in4)" local 192.0.2.1 remote 198.51.100.77
		ip -n "$A" link set m0 netns "$X"
		ip -n "$X" link set m0 up
		ip -n "$X" link set m0 netns "$A"
		[ $((RANDOM % 2)) = 0 ] && ip -n "$A" link del m0
		if [ $((RANDOM % 3)) = 0 ]; then
			# the flooded s4 to $X and back
			ip -n "$A" link set s4 netns "$X"
			s_up "$X" s4 10.1.0.1/30
			sleep 0.3
			ip -n "$X" link set s4 netns "$A"
			s_up "$A" s4 10.1.0.1/30
		fi
		ip -n "$X" link set s4 netns "$A"	# if a step failed
		s_up "$A" s4 10.1.0.1/30
		n=$((n + 1))
	done >/dev/null 2>&1
	echo "move: $n iterations"
}

nskill_loop() {
	local n=0 k1 k2
	while [ $SECONDS -lt "$END" ]; do
		k1=k1-$$-$n; k2=k2-$$-$n
		ip netns add "$k1" && ip netns add "$k2" || break
		ip -n "$k1" link set lo up; ip -n "$k2" link set lo up
		ip link add v netns "$k1" type veth peer name v netns "$k2"
		ip -n "$k1" addr add 192.0.2.1/24 dev v; ip -n "$k1" link set v up
		ip -n "$k2" addr add 192.0.2.2/24 dev v; ip -n "$k2" link set v up
		ip -n "$k1" link add k type "$(rnd ipt_ipip ipt_6in4)" local 192.0.2.1 remote 192.0.2.2
		ip -n "$k2" link add k type ipt_ipip local 192.0.2.2 remote 192.0.2.1
		ip -n "$k1" link add k6 type ipt_4in6 remote 2001:db8::2
		ip -n "$k1" addr add 10.9.0.1/30 dev k; ip -n "$k1" link set k up; ip -n "$k1" link set k6 up
		ip -n "$k2" addr add 10.9.0.2/30 dev k; ip -n "$k2" link set k up
		timeout 3 ip netns exec "$k2" nice -n 19 ping -f -q 10.9.0.1 &
		timeout 3 ip netns exec "$k1" nice -n 19 ping -f -q 10.9.0.2 &
		sleep 1
		ip netns del "$(rnd "$k1" "$k2")"
		sleep 0.2
		ip netns del "$k1"; ip netns del "$k2"
		wait
		n=$((n + 1))
	done >/dev/null 2>&1
	echo "nskill: $n namespace pairs"
}

# In the last round: ipt unloaded and loaded again every few seconds while
# the other loops add, change and move tunnels (the unload deletes every
# ipt device, the flooded ones too, racing the loops' requests).
mod_loop() {
	local n=0
	while [ $SECONDS -lt "$END" ]; do
		sleep 3
		if rmmod ipt 2>/dev/null; then
			n=$((n + 1))
			insmod "$KO" "${DYNDBG[@]}" || { echo "mod_loop: insmod failed"; break; }
		fi
	done
	[ -d /sys/module/ipt ] || insmod "$KO" "${DYNDBG[@]}"
	echo "modloop: $n reloads"
}

# rmmod_ipt: rmmod, retried while a deleted namespace is still going
rmmod_ipt() {
	local out
	try() { out=$(rmmod ipt 2>&1); }
	if wait_for -t 60 try; then
		pass "round $r: rmmod ipt ($1)"
	else
		die "round $r: rmmod ipt ($1) failed: $out (refcnt $(cat /sys/module/ipt/refcnt 2>/dev/null))"
	fi
	insmod "$KO" "${DYNDBG[@]}" || die "round $r: insmod $KO failed"
}

# --- the rounds ------------------------------------------------------------------

for r in $(seq 1 $ROUNDS); do
	log "=== round $r (at ${SECONDS}s)"
	setup_round
	END=$((SECONDS + PER))
	churn_loop & c1=$!
	underlay_loop & c2=$!
	move_loop & c3=$!
	nskill_loop & c4=$!
	c5=
	if [ "$r" = "$ROUNDS" ]; then
		# the flood first, then the unloads that end it
		p4_rx() { rx=$(link_stat "$B" p4 rx_packets 2>/dev/null || echo 0); [ "$rx" -ge 100 ]; }
		wait_for -t 30 p4_rx
		mod_loop & c5=$!
	fi
	wait $c1 $c2 $c3 $c4 $c5
	[ -d /sys/module/ipt ] || die "round $r: ipt is not loaded after the loops"
	# (in the last round the unloads took p4 with them: counted before)
	check_ge "round $r: rx packets of p4 (the flood got through)" 100 \
		"${rx:-$(link_stat "$B" p4 rx_packets 2>/dev/null || echo 0)}"
	if [ $((r % 2)) = 1 ]; then
		stop_all
		if [ -z "$c5" ]; then
			ip -n "$A" link del s4 && ip -n "$B" link del p4 ||
				fail "round $r: deleting s4, p4"
		fi
		ip netns del "$A"; ip netns del "$B"; ip netns del "$X"
		if wait_for -t 120 all_freed; then
			pass "round $r: every tunnel freed ($(created) created)"
		else
			fail "round $r: $(created) created, $(destroyed) destroyed after 120s"
		fi
		rmmod_ipt "every tunnel deleted"
	else
		# tunnels up, the flood running: module unload deletes them
		rmmod_ipt "tunnels up, traffic flowing"
		stop_all
		ip netns del "$A"; ip netns del "$B"; ip netns del "$X"
		if wait_for -t 120 all_freed; then
			pass "round $r: every tunnel freed ($(created) created)"
		else
			fail "round $r: $(created) created, $(destroyed) destroyed after 120s"
		fi
	fi
done

log "=== sanity: a fresh pair still pings (at ${SECONDS}s)"
setup_ns F1 F2
add_veth "$F1" veth 192.0.2.1/24 "$F2" veth 192.0.2.2/24
ip -n "$F1" link add f type ipt_ipip local 192.0.2.1 remote 192.0.2.2 &&
ip -n "$F2" link add f type ipt_ipip local 192.0.2.2 remote 192.0.2.1 || die "sanity: tunnels"
s_up "$F1" f 10.7.0.1/30; s_up "$F2" f 10.7.0.2/30
if wait_for -t 30 ping_ok "$F1" 10.7.0.2; then
	pass "sanity: a new ipt_ipip pair pings after the stress"
else
	fail "sanity: no ping through a new ipt_ipip pair"
fi
ip -n "$F1" link del f; ip -n "$F2" link del f
wait_for -t 60 all_freed || fail "$(created) ipt devices created, $(destroyed) destroyed at the end"
log "=== done (at ${SECONDS}s)"
exit $RET
