#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Underlay tracking without traffic: carrier and MTU follow the device the
# route to the remote uses, on the events that change it, and only the
# tunnels of that device are touched.
#
#   $NSA  v1 192.0.2.1/24, 2001:db8:1::1/64 ---- $NSB v1 192.0.2.2, 2001:db8:1::2
#         v2 198.51.100.1/24 (MTU 1400) -------- $NSB v2 198.51.100.2
#
#   a. ipt_4in6 over v1: deleting the IPv6 address whose prefix routes the
#      remote takes the carrier down at once (IPv6 address events come on
#      an atomic chain: deferred work), adding it back brings it up.
#   b. ipt_ipip to 203.0.113.2, routed nowhere at first: carrier off, MTU
#      1480; a route via v2 (MTU 1400) is added (no event tells us): the
#      carrier comes back within seconds and the MTU becomes 1380.
#   c. v2's MTU change moves the tunnel on v2, not the one on v1; v1 down
#      drops only v1's tunnels.
#   d. the underlay device deleted: its tunnels lose carrier, the others
#      stay; 200 tunnels on v1 all follow one MTU change.

source "$(dirname "$0")/lib.sh"

require_ipt
require_module veth

setup_ns NSA NSB
add_veth "$NSA" v1 192.0.2.1/24 "$NSB" v1 192.0.2.2/24
add_veth "$NSA" v2 198.51.100.1/24 "$NSB" v2 198.51.100.2/24
ip -n "$NSA" link set v2 mtu 1400
ip -n "$NSB" link set v2 mtu 1400
ip -n "$NSA" addr add 2001:db8:1::1/64 dev v1 nodad
ip -n "$NSB" addr add 2001:db8:1::2/64 dev v1 nodad

carrier() { # DEV: 1 or 0
	ip -n "$NSA" link show dev "$1" | grep -q NO-CARRIER && echo 0 || echo 1
}
mtu_of() {
	ip -n "$NSA" -o link show dev "$1" | sed -n 's/.* mtu \([0-9]*\).*/\1/p'
}
has_carrier() { [ "$(carrier "$1")" = "$2" ]; }
has_mtu() { [ "$(mtu_of "$1")" = "$2" ]; }

# --- a ---------------------------------------------------------------------
ip -n "$NSA" link add t46 type ipt_4in6 local 2001:db8:1::1 remote 2001:db8:1::2 ||
	die "a: cannot create t46"
ip -n "$NSA" link set t46 up
wait_for has_carrier t46 1 && pass "a: t46 has carrier" || fail "a: t46 without carrier"
ip -n "$NSA" addr del 2001:db8:1::1/64 dev v1
if wait_for -t 5 has_carrier t46 0; then
	pass "a: IPv6 underlay address deleted: t46 lost carrier without traffic"
else
	fail "a: t46 kept carrier after its IPv6 underlay prefix went"
fi
ip -n "$NSA" addr add 2001:db8:1::1/64 dev v1 nodad
if wait_for -t 5 has_carrier t46 1; then
	pass "a: IPv6 underlay address back: t46 has carrier again"
else
	fail "a: t46 without carrier after the address came back"
fi

# --- b ---------------------------------------------------------------------
ip -n "$NSA" link add tb type ipt_ipip local 198.51.100.1 remote 203.0.113.2 ||
	die "b: cannot create tb"
ip -n "$NSA" link set tb up
check_eq "b: unrouted tb has no carrier" 0 "$(carrier tb)"
check_eq "b: unrouted tb MTU (1500 - 20)" 1480 "$(mtu_of tb)"
ip -n "$NSA" route add 203.0.113.0/24 via 198.51.100.2 dev v2
if wait_for -t 6 has_carrier tb 1; then
	pass "b: route added: tb has carrier"
else
	fail "b: tb without carrier after a route appeared"
fi
if wait_for -t 6 has_mtu tb 1380; then
	pass "b: route added: tb MTU follows v2 (1400 - 20)"
else
	fail "b: tb MTU $(mtu_of tb), expected 1380 after the route via v2 appeared"
fi

# --- c ---------------------------------------------------------------------
ip -n "$NSA" link add ta type ipt_ipip local 192.0.2.1 remote 192.0.2.2 ||
	die "c: cannot create ta"
ip -n "$NSA" link set ta up
check_eq "c: ta on v1 MTU" 1480 "$(mtu_of ta)"
ip -n "$NSA" link set v2 mtu 1300
check_eq "c: v2 MTU 1300: tb follows" 1280 "$(mtu_of tb)"
check_eq "c: v2 MTU 1300: ta on v1 untouched" 1480 "$(mtu_of ta)"
ip -n "$NSA" link set v1 down
check_eq "c: v1 down: ta lost carrier" 0 "$(carrier ta)"
check_eq "c: v1 down: t46 lost carrier" 0 "$(carrier t46)"
check_eq "c: v1 down: tb on v2 keeps carrier" 1 "$(carrier tb)"
ip -n "$NSA" link set v1 up
ip -n "$NSA" addr add 2001:db8:1::1/64 dev v1 nodad 2>/dev/null
wait_for has_carrier ta 1 && pass "c: v1 up: ta has carrier again" ||
	fail "c: v1 up: ta without carrier"

# --- d ---------------------------------------------------------------------
B=/tmp/underlay.batch
: >$B
for i in $(seq 1 200); do
	echo "link add m$i type ipt_ipip local 192.0.2.1 remote 10.$((i / 250)).$((i % 250)).1" >>$B
	echo "link set m$i up" >>$B
done
ip -n "$NSA" route add 10.0.0.0/8 via 192.0.2.2 dev v1
ip -n "$NSA" -batch $B || fail "d: 200 tunnels"
ip -n "$NSA" link set v1 mtu 1450
n=$(ip -n "$NSA" -o link show type ipt_ipip | grep -E '^[0-9]+: m[0-9]+[@:]' | grep -c ' mtu 1430 ')
check_eq "d: v1 MTU 1450: tunnels on v1 at 1430" 200 "$n"
check_eq "d: v1 MTU 1450: tb on v2 untouched" 1280 "$(mtu_of tb)"
ip -n "$NSA" link del v2
check_eq "d: v2 deleted: tb lost carrier" 0 "$(carrier tb)"
check_eq "d: v2 deleted: ta keeps carrier" 1 "$(carrier ta)"
ip -n "$NSA" link set v1 mtu 1500
check_eq "d: v1 MTU back to 1500: ta follows" 1480 "$(mtu_of ta)"

# --- e ---------------------------------------------------------------------
# A tunnel bound to a device that is deleted later can still be changed
# (the old binding no longer blocks every change); a change carrying a bad
# MTU fails as a whole (rtnetlink applies IFLA_MTU after changelink).
ip -n "$NSA" link add d9 type dummy && ip -n "$NSA" link set d9 up
ip -n "$NSA" link add te type ipt_ipip local 192.0.2.1 remote 192.0.2.77 dev d9 ||
	die "e: cannot create te bound to d9"
ip -n "$NSA" link del d9
if ip -n "$NSA" link set te type ipt_ipip ttl 9 2>/tmp/e.err; then
	pass "e: te changed after its bound device went"
else
	fail "e: te cannot be changed after its bound device went: $(cat /tmp/e.err)"
fi
ttl_of() { ip -n "$NSA" -d link show dev "$1" | grep -o ' ttl [0-9a-z]*' | head -n 1 | cut -d' ' -f3; }
check_eq "e: te ttl" 9 "$(ttl_of te)"
if out=$(ip -n "$NSA" link set te mtu 70000 type ipt_ipip ttl 33 2>&1); then
	fail "e: MTU 70000 accepted"
else
	case $out in
	*"mtu greater than device maximum"*) pass "e: MTU 70000 refused: $out" ;;
	*) fail "e: MTU 70000 refused without the reason: $out" ;;
	esac
fi
check_eq "e: te ttl unchanged by the refused request" 9 "$(ttl_of te)"

exit $RET
