#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The seed's IPIP site-to-site scenario: two sites joined over a routed
# "internet" by an ipt_ipip tunnel, LAN routes through the tunnel and an
# input firewall that only lets protocol 4 in from the peer.
#
#  $HA 192.168.10.2          $RA                 $ISP                $RB          192.168.20.2 $HB
#  eth0 ---- lan 192.168.10.1 wan 198.51.100.1 -- isp -- 203.0.113.2 wan  lan 192.168.20.1 ---- eth0
#                      ipip-to-b 10.10.10.1/30 ======== ipip-to-a 10.10.10.2/30

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd nft ping
require_module veth nf_tables

setup_ns HA RA ISP RB HB
add_veth "$HA" eth0 192.168.10.2/24 "$RA" lan 192.168.10.1/24
add_veth "$RA" wan 198.51.100.1/24 "$ISP" to-a 198.51.100.254/24
add_veth "$ISP" to-b 203.0.113.254/24 "$RB" wan 203.0.113.2/24
add_veth "$RB" lan 192.168.20.1/24 "$HB" eth0 192.168.20.2/24

ip -n "$HA" route add default via 192.168.10.1
ip -n "$HB" route add default via 192.168.20.1
ip -n "$RA" route add default via 198.51.100.254
ip -n "$RB" route add default via 203.0.113.254
for ns in "$RA" "$ISP" "$RB"; do
	ns_exec "$ns" sysctl -qw net.ipv4.ip_forward=1
done

# /interface ipip add name=ipip-to-b local-address=198.51.100.1 remote-address=203.0.113.2
ip -n "$RA" link add ipip-to-b type ipt_ipip local 198.51.100.1 remote 203.0.113.2 ||
	die "cannot create ipt_ipip on $RA"
ip -n "$RB" link add ipip-to-a type ipt_ipip local-address 203.0.113.2 remote-address 198.51.100.1 ||
	die "cannot create ipt_ipip on $RB"
ip -n "$RA" addr add 10.10.10.1/30 dev ipip-to-b
ip -n "$RB" addr add 10.10.10.2/30 dev ipip-to-a
ip -n "$RA" link set ipip-to-b up
ip -n "$RB" link set ipip-to-a up
ip -n "$RA" route add 192.168.20.0/24 via 10.10.10.2
ip -n "$RB" route add 192.168.10.0/24 via 10.10.10.1

# Input chain with a default drop; protocol 4 from the peer is accepted
# ahead of it, as the seed's "Allow IPIP from branch" rule.
firewall() { # NS PEER
	ns_exec "$1" nft -f - <<-NFT || die "nft in $1"
	table inet filter {
		chain input {
			type filter hook input priority 0; policy drop;
			ct state established,related accept
			iif lo accept
			ip protocol icmp accept
			ip protocol ipencap ip saddr $2 accept comment "Allow IPIP"
		}
	}
	NFT
}
firewall "$RA" 203.0.113.2
firewall "$RB" 198.51.100.1

wait_for ping_ok "$RA" 203.0.113.2 || die "underlay between the sites does not work"

log "ip -d link show on $RA"
ip -n "$RA" -d link show ipip-to-b
details=$(ip -n "$RA" -d link show ipip-to-b)
case $details in
*"ipt_ipip remote 203.0.113.2 local 198.51.100.1"*) pass "ip -d link shows the tunnel" ;;
*) fail "ip -d link: expected 'ipt_ipip remote 203.0.113.2 local 198.51.100.1', got: $details" ;;
esac
check_eq "tunnel MTU" 1480 "$(ip -n "$RA" -j link show ipip-to-b | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["mtu"])')"

wait_for ping_ok "$RA" 10.10.10.2 || fail "no ping between the tunnel addresses"
ping_ok "$HA" 192.168.20.2 5 || fail "LAN A cannot reach LAN B through the tunnel"
ping_ok "$HB" 192.168.10.2 5 || fail "LAN B cannot reach LAN A through the tunnel"

rx=$(link_stat "$RB" ipip-to-a rx_packets)
ping_ok "$HA" 192.168.20.2 10 || fail "LAN ping failed"
check_eq "rx packets on $RB's tunnel after 10 LAN pings" $((rx + 10)) "$(link_stat "$RB" ipip-to-a rx_packets)"

log "dropping protocol 4 on $RB's input chain stops the tunnel"
ns_exec "$RB" nft insert rule inet filter input ip protocol ipencap drop
if ping_ok "$HA" 192.168.20.2 2; then
	fail "LAN ping still works with protocol 4 dropped"
else
	pass "tunnel stopped by the input rule"
fi
ns_exec "$RB" nft flush chain inet filter input
ns_exec "$RB" nft add rule inet filter input ct state established,related accept
ns_exec "$RB" nft add rule inet filter input ip protocol icmp accept
ns_exec "$RB" nft add rule inet filter input ip protocol ipencap ip saddr 198.51.100.1 accept
wait_for ping_ok "$HA" 192.168.20.2 || fail "tunnel did not come back after accepting protocol 4"

exit $RET
