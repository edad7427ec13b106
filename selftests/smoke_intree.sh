#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Smoke test of the harness with the in-tree ipip driver (no ipt needed):
# ping across an IPIP tunnel between two namespaces and check that exactly
# the pings show up in the tunnels' rx counters, and that the traffic really
# takes the tunnel.
#
#   +-------------------------+                 +-------------------------+
#   | $NSA                    |                 | $NSB                    |
#   |  tun0 198.51.100.1/24   |   ipip over     |  tun0 198.51.100.2/24   |
#   |   local 192.0.2.1  ===========================  local 192.0.2.2     |
#   |  veth0 192.0.2.1/24 ----+--- veth pair ---+---- veth1 192.0.2.2/24  |
#   +-------------------------+                 +-------------------------+

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

COUNT=5

require_cmd ip ping
require_module ipip veth

setup_ns NSA NSB
add_veth "$NSA" veth0 192.0.2.1/24 "$NSB" veth1 192.0.2.2/24

# add_tunnel NS LOCAL REMOTE ADDRESS
add_tunnel() {
	ip -n "$1" link add tun0 type ipip local "$2" remote "$3" ttl 64 ||
		die "cannot create the ipip tunnel in $1"
	# no IPv6 link-local traffic to disturb the counters
	ns_exec "$1" sysctl -qw net.ipv6.conf.tun0.disable_ipv6=1
	ip -n "$1" addr add "$4/24" dev tun0 || die "address on tun0 in $1"
	ip -n "$1" link set tun0 up || die "tun0 up in $1"
}
add_tunnel "$NSA" 192.0.2.1 192.0.2.2 198.51.100.1
add_tunnel "$NSB" 192.0.2.2 192.0.2.1 198.51.100.2

log "underlay: $NSA veth0 -> $NSB veth1"
wait_for ping_ok "$NSA" 192.0.2.2 || die "no connectivity over the veth pair"

rx_b=$(link_stat "$NSB" tun0 rx_packets) || die "no rx_packets for tun0"
rx_a=$(link_stat "$NSA" tun0 rx_packets) || die "no rx_packets for tun0"

log "overlay: $COUNT pings 198.51.100.1 -> 198.51.100.2 through tun0"
ping_ok "$NSA" 198.51.100.2 "$COUNT" || fail "ping through the tunnel failed"

check_eq "$NSB tun0 rx_packets (echo requests)" $((rx_b + COUNT)) "$(link_stat "$NSB" tun0 rx_packets)"
check_eq "$NSA tun0 rx_packets (echo replies)" $((rx_a + COUNT)) "$(link_stat "$NSA" tun0 rx_packets)"
check_ge "$NSA tun0 tx_packets" "$COUNT" "$(link_stat "$NSA" tun0 tx_packets)"

log "with $NSB's tun0 down the overlay must be unreachable"
ip -n "$NSB" link set tun0 down
if ping_ok "$NSA" 198.51.100.2; then
	fail "ping 198.51.100.2 works without the tunnel"
else
	pass "no ping without the tunnel"
fi

exit "$RET"
