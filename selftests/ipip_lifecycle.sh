#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ipt_ipip device lifetime under traffic: namespace deletion, ip link del,
# rmmod, and a thousand tunnels at once.  What is checked here is that the
# devices go away (and come back) when they should; the runner fails the
# test on any WARN/BUG/refcount/"unregister_netdevice: waiting" in the
# kernel log and pairs ipt's "created"/"destroyed" debug lines at the end.
#
# Every case uses a pair of namespaces like this one, the peer $P* sending
# a ping flood (and UDP) through the tunnel so that packets are in flight
# in both directions when the tunnel goes away:
#
#   +--------------------------------+               +------------------------------+
#   | $U (underlay, tunnel created)  |               | $P (peer)                    |
#   |  tN (ipt_ipip) 10.0.N.1/30 ======================== pN (ipt_ipip or ipip)     |
#   |   local 192.0.2.1              |               |     10.0.N.2/30              |
#   |  veth 192.0.2.1/24 ------------+-- veth pair --+---- veth 192.0.2.2/24        |
#   +--------------------------------+               +------------------------------+
#        | ip link set tN netns $X  (cases a2-a4, c)
#        v
#   +--------------------------------+
#   | $X: tN 10.0.N.1/30 (the device |   its outer packets still use $U's veth
#   |     only, no underlay)         |
#   +--------------------------------+
#
# a1  delete the namespace holding the tunnel and its underlay
# a2  delete $U, holding only the underlay of a tunnel moved to $X: the
#     tunnel goes with it (iperf3 runs through it from $X)
# a3  delete $X: the tunnel goes, $U can make one with the same addresses
# a4  delete $X and $U back to back
# b   ip link del under traffic, on the receiving and on the sending end,
#     and 20 add/del and 20 remote changes while a flood comes in
# c   rmmod ipt with tunnels in three namespaces (one moved away from its
#     underlay, one namespace being deleted) and traffic both ways, insmod
#     again, a new tunnel works
# d   1000 tunnels made and deleted with ip -batch, then 1000 made and
#     their namespace deleted

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# the runner exports the copy of ipt.ko it loaded
KO=${IPT_KO:-${IPT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}/ipt.ko}
PY=/usr/bin/python3
MANY=1000

require_ipt
require_cmd ip ping iperf3 ss dmesg
require_module veth ipip
[ -x "$PY" ] || skip "$PY not installed"

# With ipt's dynamic debug on (the runner loads it with dyndbg=+p), the
# "destroyed" line of a device is the proof that its last reference went
# and it was freed; without it we can only see it unlisted.
DYNDBG=0
grep -qs '\[ipt\]ipt_dev_free =p' /sys/kernel/debug/dynamic_debug/control && DYNDBG=1
[ $DYNDBG = 1 ] || log "note: ipt dynamic debug is off, device frees are not checked"

# The module must be back for the next tests whatever happens here.
on_exit '[ -d /sys/module/ipt ] || insmod "$KO" $([ $DYNDBG = 1 ] && echo dyndbg=+p)'

PIDS=()
# bg NS CMD...: run CMD in NS in the background until stop_traffic.  Not
# through ns_exec: $! must be the command itself (ip netns exec execs it),
# not a subshell whose kill would leave the command running.
bg() { ip netns exec "$@" >/dev/null 2>&1 & PIDS+=($!); }
stop_traffic() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
}
on_exit stop_traffic

quiet_ns() {
	local ns
	for ns in "$@"; do
		ns_exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 &&
		ns_exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 ||
			die "sysctl in $ns"
	done
}

# pair U P N [KIND_P]: veth between U and P, an ipt_ipip tunnel tN in U and
# a tunnel pN of KIND_P (default ipt_ipip) in P, 10.0.N.1 <-> 10.0.N.2.
pair() {
	local u=$1 p=$2 n=$3 kind=${4:-ipt_ipip} extra=()
	quiet_ns "$u" "$p"
	add_veth "$u" veth 192.0.2.1/24 "$p" veth 192.0.2.2/24
	[ "$kind" = ipip ] && extra=(ttl 64)
	ip -n "$u" link add "t$n" type ipt_ipip local 192.0.2.1 remote 192.0.2.2 ||
		die "ip link add t$n type ipt_ipip in $u failed"
	ip -n "$p" link add "p$n" type "$kind" local 192.0.2.2 remote 192.0.2.1 "${extra[@]}" ||
		die "ip link add p$n type $kind in $p failed"
	ip -n "$p" addr add "10.0.$n.2/30" dev "p$n" && ip -n "$p" link set "p$n" up ||
		die "p$n in $p"
}
# tun_up NS N: address and up for tN in NS
tun_up() {
	ip -n "$1" addr add "10.0.$2.1/30" dev "t$2" && ip -n "$1" link set "t$2" up ||
		die "t$2 up in $1"
}

# flood FROM_NS DST: ping floods and a UDP stream to DST until stop_traffic
UDP_PY='
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 300
while time.time() < end:
    try:
        s.sendto(b"u" * 1000, (sys.argv[1], 9))
    except OSError:
        time.sleep(0.01)
'
flood() {
	bg "$1" ping -f -q -w 300 "$2"
	bg "$1" ping -f -q -w 300 -s 1400 "$2"
	bg "$1" "$PY" -c "$UDP_PY" "$2"
}

# flowing NS DEV COUNTER: COUNTER of DEV is 200 packets more than when
# first asked
flowing() {
	local now start
	now=$(link_stat "$1" "$2" "$3") || return 1
	start=${FLOW_START:=$now}
	[ $((now - start)) -ge 200 ]
}
# wait_flowing NS DEV WHAT [COUNTER (rx_packets)]
wait_flowing() {
	local c=${4:-rx_packets}
	unset FLOW_START
	if wait_for -t 60 flowing "$1" "$2" "$c"; then
		pass "$3: traffic flows ($c of $2: $(link_stat "$1" "$2" "$c"))"
	else
		fail "$3: no traffic through $2 in $1 ($c $(link_stat "$1" "$2" "$c"))"
	fi
}

# freed NAME...: every device NAME has its "destroyed" line (always true
# without dynamic debug)
freed() {
	local d log
	[ $DYNDBG = 1 ] || return 0
	log=$(dmesg)
	for d in "$@"; do
		grep -qE "ipt: $d: destroyed *\$" <<<"$log" || return 1
	done
}
# expect_freed WHAT NAME...
expect_freed() {
	local what=$1
	shift
	if wait_for -t 60 freed "$@"; then
		[ $DYNDBG = 0 ] || pass "$what: $* freed"
	else
		fail "$what: no 'destroyed' line for $* after 60s"
	fi
}
gone() { ! ip -n "$1" link show dev "$2" >/dev/null 2>&1; }
# expect_gone WHAT NS DEV
expect_gone() {
	if wait_for -t 60 gone "$2" "$3"; then
		pass "$1: $3 gone from its namespace"
	else
		fail "$1: $3 still in $2 after 60s"
	fi
}
# ns_gone NS: the namespace is no longer listed
ns_gone() { ! ip netns list | grep -qw "$1"; }
# del_ns NS...: delete now (and not again at exit)
del_ns() {
	local ns
	for ns in "$@"; do
		ip netns del "$ns" || fail "ip netns del $ns failed"
	done
}
ipt_count() { ip -n "$1" -o link show type ipt_ipip 2>/dev/null | wc -l; }

# ---------------------------------------------------------------------------
log "=== a1. delete the namespace of the tunnel and its underlay (at ${SECONDS}s)"
setup_ns U1 P1
pair "$U1" "$P1" 1
tun_up "$U1" 1
wait_for ping_ok "$P1" 10.0.1.1 || die "a1: no ping through t1"
flood "$P1" 10.0.1.1
wait_flowing "$U1" t1 a1
del_ns "$U1"
expect_gone "a1: the peer's veth (underlay deleted)" "$P1" veth
expect_freed a1 t1
stop_traffic

# ---------------------------------------------------------------------------
log "=== a2. delete the underlay namespace of a tunnel moved elsewhere (at ${SECONDS}s)"
setup_ns U2 X2 P2
pair "$U2" "$P2" 2
ip -n "$U2" link set dev t2 netns "$X2" || die "a2: cannot move t2 to $X2"
check_eq "a2: ipt_ipip devices left in $U2 after the move" 0 "$(ipt_count "$U2")"
tun_up "$X2" 2
wait_for ping_ok "$X2" 10.0.2.2 || die "a2: no ping from $X2 through t2"
bg "$P2" iperf3 -s -1 -B 10.0.2.2
iperf_up() { [ -n "$(ns_exec "$P2" ss -Hltn "sport = :5201")" ]; }
wait_for -t 30 iperf_up || fail "a2: no iperf3 server"
bg "$X2" iperf3 -c 10.0.2.2 -t 300
bg "$X2" ping -f -q -w 300 10.0.2.2
flood "$P2" 10.0.2.1
wait_flowing "$X2" t2 a2
del_ns "$U2"
expect_gone "a2: t2 (its underlay namespace deleted)" "$X2" t2
expect_freed a2 t2
stop_traffic
ping_ok "$X2" 127.0.0.1 || fail "a2: $X2 itself broken"

# ---------------------------------------------------------------------------
log "=== a3. delete the namespace a tunnel was moved to (at ${SECONDS}s)"
setup_ns U3 X3 P3
pair "$U3" "$P3" 3
ip -n "$U3" link set dev t3 netns "$X3" || die "a3: cannot move t3 to $X3"
tun_up "$X3" 3
wait_for ping_ok "$P3" 10.0.3.1 || die "a3: no ping from $P3 to t3 in $X3"
flood "$P3" 10.0.3.1
wait_flowing "$X3" t3 a3
del_ns "$X3"
expect_freed a3 t3
# the same addresses are free again once t3 is unhashed from $U3's table
recreate() { ip -n "$U3" link add t3 type ipt_ipip local 192.0.2.1 remote 192.0.2.2 2>/dev/null; }
if wait_for -t 60 recreate; then
	pass "a3: $U3 made a new t3 with the same addresses"
else
	fail "a3: $U3 cannot make a tunnel with t3's addresses: $(ip -n "$U3" link add t3 type ipt_ipip local 192.0.2.1 remote 192.0.2.2 2>&1)"
fi
stop_traffic
tun_up "$U3" 3
wait_for ping_ok "$U3" 10.0.3.2 && pass "a3: the new t3 works" || fail "a3: no ping through the new t3"

# ---------------------------------------------------------------------------
log "=== a4. delete the device's and the underlay's namespaces together (at ${SECONDS}s)"
setup_ns U4 X4 P4
pair "$U4" "$P4" 4
ip -n "$U4" link set dev t4 netns "$X4" || die "a4: cannot move t4 to $X4"
tun_up "$X4" 4
wait_for ping_ok "$P4" 10.0.4.1 || die "a4: no ping from $P4 to t4 in $X4"
flood "$P4" 10.0.4.1
wait_flowing "$X4" t4 a4
del_ns "$X4" "$U4"
expect_gone "a4: the peer's veth" "$P4" veth
expect_freed a4 t4
stop_traffic

# ---------------------------------------------------------------------------
log "=== b. ip link del under traffic (at ${SECONDS}s)"
setup_ns L5 P5
pair "$L5" "$P5" 5
tun_up "$L5" 5
wait_for ping_ok "$L5" 10.0.5.2 || die "b: no ping through t5"
bg "$P5" iperf3 -s -B 10.0.5.2
iperf_up5() { [ -n "$(ns_exec "$P5" ss -Hltn "sport = :5201")" ]; }
wait_for -t 30 iperf_up5 || fail "b: no iperf3 server"
bg "$L5" iperf3 -c 10.0.5.2 -t 300
flood "$L5" 10.0.5.2
flood "$P5" 10.0.5.1
wait_flowing "$P5" p5 "b, receiving end"
ip -n "$P5" link del p5 || fail "b: ip link del p5 (receiving end) failed"
expect_gone "b: p5 deleted with a flood coming in" "$P5" p5
expect_freed "b" p5
wait_flowing "$L5" t5 "b, sending end" tx_packets
ip -n "$L5" link del t5 || fail "b: ip link del t5 (sending end) failed"
expect_gone "b: t5 deleted while sending" "$L5" t5
expect_freed "b" t5
stop_traffic

log "b: 20 add/del cycles of the tunnel with a flood arriving for it"
ip -n "$P5" link add p5 type ipt_ipip local 192.0.2.2 remote 192.0.2.1 &&
ip -n "$P5" addr add 10.0.5.2/30 dev p5 && ip -n "$P5" link set p5 up || die "b: p5 again"
flood "$P5" 10.0.5.1
churn_ok=0
for i in $(seq 1 20); do
	ip -n "$L5" link add t5 type ipt_ipip local 192.0.2.1 remote 192.0.2.2 &&
	ip -n "$L5" addr add 10.0.5.1/30 dev t5 &&
	ip -n "$L5" link set t5 up &&
	ip -n "$L5" link del t5 || break
	churn_ok=$i
done
check_eq "b: add/up/del cycles under a flood" 20 "$churn_ok"

log "b: 20 remote changes back and forth under a flood"
ip -n "$L5" link add t5 type ipt_ipip local 192.0.2.1 remote 192.0.2.2 || die "b: t5 again"
tun_up "$L5" 5
bg "$L5" ping -f -q -w 300 10.0.5.2
wait_flowing "$L5" t5 "b, before the changes"
change_ok=0
for i in $(seq 1 10); do
	ip -n "$L5" link set dev t5 type ipt_ipip remote 192.0.2.3 &&
	ip -n "$L5" link set dev t5 type ipt_ipip remote 192.0.2.2 || break
	change_ok=$((i * 2))
done
check_eq "b: remote changes under a flood" 20 "$change_ok"
wait_flowing "$L5" t5 "b, after the changes"
stop_traffic
ping_ok "$L5" 10.0.5.2 3 || fail "b: no ping through t5 after the churn"

# ---------------------------------------------------------------------------
log "=== c. rmmod ipt with tunnels up and traffic flowing (at ${SECONDS}s)"
# R6: ipt_ipip t6 with an in-tree ipip peer, iperf3 and floods both ways
# U7/X7: t7 moved away from its underlay, flood from P7
# Z8: t8 in a namespace deleted just before the rmmod
setup_ns R6 P6 U7 X7 P7 Z8 P8
pair "$R6" "$P6" 6 ipip
tun_up "$R6" 6
pair "$U7" "$P7" 7
ip -n "$U7" link set dev t7 netns "$X7" || die "c: cannot move t7"
tun_up "$X7" 7
pair "$Z8" "$P8" 8
tun_up "$Z8" 8
wait_for ping_ok "$R6" 10.0.6.2 || die "c: no ping ipt_ipip -> ipip"
wait_for ping_ok "$P7" 10.0.7.1 || die "c: no ping through the moved t7"
wait_for ping_ok "$P8" 10.0.8.1 || die "c: no ping through t8"

bg "$P6" iperf3 -s -B 10.0.6.2
iperf_up6() { [ -n "$(ns_exec "$P6" ss -Hltn "sport = :5201")" ]; }
wait_for -t 30 iperf_up6 || fail "c: no iperf3 server"
bg "$R6" iperf3 -c 10.0.6.2 -t 300
bg "$R6" ping -f -q -w 300 10.0.6.2
flood "$P6" 10.0.6.1
flood "$P7" 10.0.7.1
flood "$P8" 10.0.8.1
wait_flowing "$R6" t6 "c, t6"
wait_flowing "$X7" t7 "c, t7"
wait_flowing "$Z8" t8 "c, t8"

del_ns "$Z8"
rmmod_out=$(rmmod ipt 2>&1)
rc=$?
if [ $rc != 0 ]; then
	# the deleted namespace is being cleaned up: give it a moment
	log "c: first rmmod failed: $rmmod_out; retrying"
	again() { rmmod_out=$(rmmod ipt 2>&1); }
	wait_for -t 30 again
	rc=$?
fi
if [ $rc = 0 ]; then
	pass "c: rmmod ipt with traffic flowing"
else
	die "c: rmmod ipt failed: $rmmod_out (refcnt $(cat /sys/module/ipt/refcnt 2>/dev/null))"
fi
check_eq "c: ipt_ipip devices in $R6 after rmmod" 0 "$(ipt_count "$R6")"
gone "$R6" t6 || fail "c: t6 still in $R6 after rmmod"
gone "$X7" t7 || fail "c: t7 still in $X7 after rmmod"
gone "$P8" veth || wait_for -t 60 gone "$P8" veth || fail "c: $P8's veth still there: its peer namespace was not cleaned up"
ip -n "$P6" link show dev p6 >/dev/null 2>&1 || fail "c: the in-tree ipip peer p6 went away too"
expect_freed "c" t6 t7 t8
stop_traffic

if [ $DYNDBG = 1 ]; then
	insmod "$KO" dyndbg=+p
else
	insmod "$KO"
fi || die "c: insmod $KO failed"
pass "c: insmod $KO again"
ip -n "$R6" link add t6 type ipt_ipip local 192.0.2.1 remote 192.0.2.2 ||
	die "c: no ipt_ipip tunnel after the reload"
tun_up "$R6" 6
if wait_for ping_ok "$R6" 10.0.6.2; then
	pass "c: a new tunnel works after the reload"
else
	fail "c: no ping through the tunnel made after the reload"
fi
rx=$(link_stat "$R6" t6 rx_packets)
ping_ok "$P6" 10.0.6.1 5 || fail "c: no ping from the in-tree peer after the reload"
# at least: the killed iperf3 server's orphaned socket may still be
# retransmitting its FIN to 10.0.6.1
check_ge "c: t6 rx_packets growth from 5 pings after the reload" 5 \
	$(( $(link_stat "$R6" t6 rx_packets) - rx ))
gone "$X7" t7 || fail "c: t7 is back?"

# ---------------------------------------------------------------------------
log "=== d. $MANY tunnels (at ${SECONDS}s)"
setup_ns M9 P9
quiet_ns "$M9" "$P9"
add_veth "$M9" veth 192.0.2.1/24 "$P9" veth 192.0.2.2/24
ip -n "$M9" route add default via 192.0.2.2 || die "d: default route"
B=/tmp/batch
# remote 10.A.B.1 for tunnel i, all different
remote() { echo "10.$(($1 / 250)).$(($1 % 250)).1"; }
: > $B.add
: > $B.up
: > $B.del
for i in $(seq 0 $((MANY - 1))); do
	echo "link add m$i type ipt_ipip local 192.0.2.1 remote $(remote "$i")" >> $B.add
	echo "link set m$i up" >> $B.up
	echo "link del m$i" >> $B.del
done

start=$SECONDS
ip -n "$M9" -batch $B.add || fail "d: ip -batch of $MANY link add failed"
ip -n "$M9" -batch $B.up || fail "d: ip -batch of $MANY link set up failed"
log "d: $MANY tunnels made and up in $((SECONDS - start))s"
check_eq "d: ipt_ipip devices after $MANY adds" "$MANY" "$(ipt_count "$M9")"
check_eq "d: up ipt_ipip devices" "$MANY" "$(ip -n "$M9" -o link show type ipt_ipip up | wc -l)"

# traffic through one of them while the others go
ip -n "$P9" link add back type ipt_ipip local "$(remote 7)" remote 192.0.2.1 || die "d: back"
ip -n "$P9" addr add "$(remote 7)/32" dev veth && ip -n "$P9" addr add 10.99.0.2/30 dev back &&
	ip -n "$P9" link set back up || die "d: back up"
ip -n "$M9" addr add 10.99.0.1/30 dev m7 || die "d: address on m7"
wait_for ping_ok "$M9" 10.99.0.2 || fail "d: no ping through m7 of $MANY"
bg "$P9" ping -f -q -w 300 10.99.0.1

start=$SECONDS
ip -n "$M9" -batch $B.del || fail "d: ip -batch of $MANY link del failed"
log "d: $MANY tunnels deleted in $((SECONDS - start))s"
check_eq "d: ipt_ipip devices after $MANY dels" 0 "$(ipt_count "$M9")"
if [ $DYNDBG = 1 ]; then
	all_freed() {
		[ "$(dmesg | grep -cE 'ipt: m[0-9]+: destroyed *$')" = "$MANY" ]
	}
	wait_for -t 60 all_freed
	check_eq "d: 'destroyed' lines of the m* tunnels" "$MANY" \
		"$(dmesg | grep -cE 'ipt: m[0-9]+: destroyed *$')"
fi

log "d: $MANY tunnels again, then their namespace is deleted"
ip -n "$M9" -batch $B.add || fail "d: second ip -batch of $MANY link add failed"
ip -n "$M9" -batch $B.up || fail "d: second ip -batch of $MANY link set up failed"
check_eq "d: ipt_ipip devices after $MANY more adds" "$MANY" "$(ipt_count "$M9")"
ip -n "$M9" addr add 10.99.0.1/30 dev m7 || die "d: address on m7"
wait_for ping_ok "$M9" 10.99.0.2 || fail "d: no ping through the new m7"
start=$SECONDS
del_ns "$M9"
expect_gone "d: the peer's veth" "$P9" veth
if [ $DYNDBG = 1 ]; then
	all_freed() {
		[ "$(dmesg | grep -cE 'ipt: m[0-9]+: destroyed *$')" = $((2 * MANY)) ]
	}
	wait_for -t 120 all_freed
	check_eq "d: 'destroyed' lines of the m* tunnels after the namespace went" \
		$((2 * MANY)) "$(dmesg | grep -cE 'ipt: m[0-9]+: destroyed *$')"
fi
log "d: namespace with $MANY tunnels gone in $((SECONDS - start))s"
stop_traffic
log "=== done (at ${SECONDS}s)"

exit $RET
