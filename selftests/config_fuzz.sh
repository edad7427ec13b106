#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bounded random netlink fuzzing of the three ipt link kinds (issue 9,
# "Robustness"): config_fuzz.py sends IPT_FUZZ_OPS (default 10000) raw
# RTM_NEWLINK / RTM_SETLINK / RTM_DELLINK requests with random and
# boundary attribute values, types and lengths (unknown, oversized,
# truncated, zero-length, nested junk, wrong-length addresses, MTU
# extremes, links to missing or own devices, duplicates, encaplimit and
# flowlabel on the IPv4-underlay kinds...) and checks after each one that
# a refusal has an extack message and changed nothing, and that what was
# accepted reads back as sent (raw dump, and `ip -j -d link show` every
# 500 operations).  The seed is printed; IPT_FUZZ_SEED repeats a run.
#
#  +--------------------------------------+            +------------------+
#  | $NSA  fz0..fz9 (ipt_*), made,        |            | $NSB             |
#  |       changed and deleted at random  |            |                  |
#  |  veth0 192.0.2.1/24 2001:db8:1::1/64 +------------+ veth1 .2 / ::2   |
#  |  198.51.100.0/24, 2001:db8:2::/64 via the peer    |                  |
#  +--------------------------------------+            +------------------+
#
# Nothing is sent through the tunnels; the runner checks the kernel log
# and that every device created was destroyed.

source "$(dirname "$0")/lib.sh"

require_ipt
require_module veth
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"
HERE=$(cd "$(dirname "$0")" && pwd)

setup_ns NSA NSB
add_veth "$NSA" veth0 192.0.2.1/24 "$NSB" veth1 192.0.2.2/24
ip -n "$NSA" addr add 2001:db8:1::1/64 dev veth0 nodad || die "v6 address on veth0"
ip -n "$NSB" addr add 2001:db8:1::2/64 dev veth1 nodad || die "v6 address on veth1"
# routable remotes, so that the underlay resolution has something to find
ip -n "$NSA" route add 198.51.100.0/24 via 192.0.2.2 || die "route to 198.51.100.0/24"
ip -n "$NSA" -6 route add 2001:db8:2::/64 via 2001:db8:1::2 || die "route to 2001:db8:2::/64"

# The guest's init clears the environment: IPT_FUZZ_OPS and IPT_FUZZ_SEED
# also come from the kernel command line (IPT_VM_APPEND="IPT_FUZZ_OPS=500").
for v in IPT_FUZZ_OPS IPT_FUZZ_SEED; do
	[ -n "${!v:-}" ] && continue
	val=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^$v=\([0-9]*\)$/\1/p" | tail -n 1)
	[ -n "$val" ] && export "$v=$val"
done

start=$SECONDS
if ns_exec "$NSA" "$PY" "$HERE/config_fuzz.py" veth0; then
	pass "config fuzz: every check held ($((SECONDS - start))s)"
else
	fail "config fuzz: see the FAIL lines above ($((SECONDS - start))s)"
fi
left=$(ip -n "$NSA" -o link show | grep -c ': fz[0-9]')
check_eq "fz* devices left in $NSA" 0 "$left"

exit $RET
