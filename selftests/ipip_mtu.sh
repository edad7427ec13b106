#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The MTU of ipt_ipip devices: underlay device MTU - 20 by default, following
# the underlay when its MTU changes, sticky once the user has set one, within
# 68..65515, and taken from the "dev" device when the tunnel is bound to one.
#
#  +--------------------------------------+              +----------------+
#  | $NSA                                 |              | $NSB           |
#  |  veth0 192.0.2.1/24      (mtu 1500) -+--------------+- veth1         |
#  |  veth2 198.51.100.1/24   (mtu 1492) -+--------------+- veth3         |
#  |  veth4 172.16.0.1/24     (mtu 1400) -+--------------+- veth5         |
#  |        (added after t7)              |              |                |
#  |  203.0.113.0/24 via 192.0.2.2        |              |                |
#  |                                      |              +----------------+
#  |  t1 remote 192.0.2.2                   -> underlay veth0
#  |  t2 remote 198.51.100.2                -> underlay veth2
#  |  t3 remote 203.0.113.2                 -> underlay veth0 (routed)
#  |  t4 remote 203.0.113.2 dev veth2       -> underlay veth2 (bound)
#  |  t5 mtu 1400 remote 192.0.2.5          -> sticky
#  |  t6 remote 192.0.2.6                   -> refused MTU changes
#  |  t7 remote 172.16.0.2                  -> no route until veth4 exists
#  +--------------------------------------+
#
# Nothing is sent: the MTU is a property of the configuration.

source "$(dirname "$0")/lib.sh"

require_ipt
require_module veth

setup_ns NSA NSB
add_veth "$NSA" veth0 192.0.2.1/24 "$NSB" veth1 192.0.2.2/24
ip link add veth2 netns "$NSA" mtu 1492 type veth peer name veth3 netns "$NSB" mtu 1492 ||
	die "cannot create veth2/veth3"
ip -n "$NSA" addr add 198.51.100.1/24 dev veth2 || die "address on veth2"
ip -n "$NSA" link set veth2 up || die "veth2 up"
ip -n "$NSB" link set veth3 up || die "veth3 up"
ip -n "$NSA" route add 203.0.113.0/24 via 192.0.2.2 || die "route to 203.0.113.0/24"

mtu_of() { # DEV (in $NSA)
	ns_exec "$NSA" cat "/sys/class/net/$1/mtu" 2>/dev/null || echo "(no $1)"
}

mtu_is() { [ "$(mtu_of "$1")" = "$2" ]; }

# check_mtu DEV EXPECTED WHY: poll, the update may come from a notifier.
check_mtu() {
	wait_for -t 5 mtu_is "$1" "$2"
	check_eq "$1 MTU $3" "$2" "$(mtu_of "$1")"
}

underlay_mtu() { # DEV MTU
	ip -n "$NSA" link set "$1" mtu "$2" || fail "cannot set $1 mtu $2"
}

tunnel() { # NAME [mtu N] OPTION...
	local name=$1 mtu=()
	shift
	[ "$1" = mtu ] && { mtu=(mtu "$2"); shift 2; }
	ip -n "$NSA" link add "$name" "${mtu[@]}" type ipt_ipip "$@" ||
		{ fail "ip link add $name ${mtu[*]} type ipt_ipip $* failed"; return 1; }
	ip -n "$NSA" link set "$name" up
}

links() { ip -n "$NSA" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }

# refused WHAT MESSAGE CMD...: CMD must fail saying MESSAGE and change no link.
refused() {
	local what=$1 msg=$2 before after out
	shift 2
	before=$(links)
	if out=$("$@" 2>&1); then
		fail "$what: accepted ($*)"
	else
		case $out in
		*"$msg"*) pass "$what: refused with \"$msg\"" ;;
		*) fail "$what: expected the message \"$msg\", got: $out" ;;
		esac
	fi
	after=$(links)
	[ "$before" = "$after" ] ||
		fail "$what: links changed from [$(echo $before)] to [$(echo $after)]"
}

log "defaults: underlay MTU - 20"
tunnel t1 remote 192.0.2.2 local 192.0.2.1
tunnel t2 remote 198.51.100.2
tunnel t3 remote 203.0.113.2
tunnel t4 remote 203.0.113.2 dev veth2
check_mtu t1 1480 "on a 1500 underlay"
check_mtu t2 1472 "on a 1492 underlay"
check_mtu t3 1480 "on a 1500 underlay behind a gateway"
check_mtu t4 1472 "bound to the 1492 veth2, though the route is over veth0"
range=$(ip -n "$NSA" -d link show t1)
case $range in
*"minmtu 68 maxmtu 65515"*) pass "t1 range: minmtu 68 maxmtu 65515" ;;
*) fail "t1 range: expected 'minmtu 68 maxmtu 65515' in: $range" ;;
esac

log "underlay MTU changes are followed"
underlay_mtu veth0 1400
check_mtu t1 1380 "after veth0 mtu 1400"
check_mtu t3 1380 "after veth0 mtu 1400"
check_mtu t2 1472 "(veth2 untouched)"
check_mtu t4 1472 "(bound to veth2, veth0 changed)"
underlay_mtu veth2 1450
check_mtu t2 1430 "after veth2 mtu 1450"
check_mtu t4 1430 "after veth2 mtu 1450 (bound)"
check_mtu t3 1380 "(veth0 untouched)"
underlay_mtu veth0 9000
check_mtu t1 8980 "after veth0 mtu 9000"
underlay_mtu veth0 1500
check_mtu t1 1480 "after veth0 back to 1500"

log "an MTU given by the user is sticky"
tunnel t5 mtu 1400 remote 192.0.2.5
check_mtu t5 1400 "created with mtu 1400"
underlay_mtu veth0 1300
check_mtu t1 1280 "after veth0 mtu 1300"
check_mtu t5 1400 "created with mtu 1400, after veth0 mtu 1300"
underlay_mtu veth0 1500
check_mtu t5 1400 "created with mtu 1400, after veth0 back to 1500"
ip -n "$NSA" link set t1 mtu 1300 || fail "ip link set t1 mtu 1300 failed"
check_mtu t1 1300 "set to 1300"
underlay_mtu veth0 1450
check_mtu t3 1430 "after veth0 mtu 1450"
check_mtu t1 1300 "set to 1300, after veth0 mtu 1450"
underlay_mtu veth0 1500
check_mtu t1 1300 "set to 1300, after veth0 back to 1500"
ip -n "$NSA" link set t1 type ipt_ipip ttl 10 || fail "ip link set t1 type ipt_ipip ttl 10 failed"
check_mtu t1 1300 "set to 1300, after a change of its options"

log "out-of-range MTUs are refused and change nothing"
refused "ip link add mtu 67" "mtu less than device minimum" \
	ip -n "$NSA" link add t9 mtu 67 type ipt_ipip remote 192.0.2.9
refused "ip link add mtu 65516" "mtu greater than device maximum" \
	ip -n "$NSA" link add t9 mtu 65516 type ipt_ipip remote 192.0.2.9
tunnel t6 remote 192.0.2.6
check_mtu t6 1480 "before the refused changes"
refused "ip link set t6 mtu 67" "mtu less than device minimum" \
	ip -n "$NSA" link set t6 mtu 67
refused "ip link set t6 mtu 65516" "mtu greater than device maximum" \
	ip -n "$NSA" link set t6 mtu 65516
check_mtu t6 1480 "after the refused changes"
underlay_mtu veth0 1420
check_mtu t6 1400 "still following veth0 after the refused changes"
underlay_mtu veth0 1500
check_mtu t6 1480 "after veth0 back to 1500"
ip -n "$NSA" link set t5 mtu 68 || fail "ip link set t5 mtu 68 (the minimum) refused"
check_mtu t5 68 "set to the minimum"
ip -n "$NSA" link set t5 mtu 65515 || fail "ip link set t5 mtu 65515 (the maximum) refused"
check_mtu t5 65515 "set to the maximum"

log "a tunnel created before its underlay is routable picks it up"
tunnel t7 remote 172.16.0.2
check_mtu t7 1480 "with no route to the remote (Ethernet default - 20)"
ip link add veth4 netns "$NSA" mtu 1400 type veth peer name veth5 netns "$NSB" mtu 1400 ||
	die "cannot create veth4/veth5"
ip -n "$NSA" addr add 172.16.0.1/24 dev veth4 || die "address on veth4"
ip -n "$NSA" link set veth4 up || die "veth4 up"
ip -n "$NSB" link set veth5 up || die "veth5 up"
check_mtu t7 1380 "once veth4 (mtu 1400) routes to the remote"
underlay_mtu veth4 1300
check_mtu t7 1280 "after veth4 mtu 1300"

log "rebinding with ip link set ... dev follows the new underlay"
ip -n "$NSA" link set t4 type ipt_ipip dev veth0 || fail "ip link set t4 type ipt_ipip dev veth0 failed"
check_mtu t4 1480 "bound to veth0 instead of veth2"
underlay_mtu veth2 1492
check_mtu t4 1480 "bound to veth0, after veth2 mtu 1492"
check_mtu t2 1472 "after veth2 back to 1492"

exit $RET
