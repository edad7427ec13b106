#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: the seed's IPIP site-to-site example, built step by step in
# network namespaces, with the commands shown as they run.
#
#  $HA 192.168.10.2         $RA                 $ISP               $RB          192.168.20.2 $HB
#  eth0 --- lan 192.168.10.1 wan 198.51.100.1 -- isp -- 203.0.113.2 wan  lan 192.168.20.1 --- eth0
#                  ipip-to-b 10.10.10.1/30 ========== ipip-to-a 10.10.10.2/30

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd ip ping nft iperf3
require_module veth nf_tables

say() { printf '\n### %s\n' "$*"; }
run() { printf '%s$ %s\n' "${CUR:-}" "$*"; "$@"; }

say "two sites, their LAN hosts and an ISP router between them"
setup_ns HA RA ISP RB HB
add_veth "$HA" eth0 192.168.10.2/24 "$RA" lan 192.168.10.1/24
add_veth "$RA" wan 198.51.100.1/24 "$ISP" to-a 198.51.100.254/24
add_veth "$ISP" to-b 203.0.113.254/24 "$RB" wan 203.0.113.2/24
add_veth "$RB" lan 192.168.20.1/24 "$HB" eth0 192.168.20.2/24
ip -n "$HA" route add default via 192.168.10.1
ip -n "$HB" route add default via 192.168.20.1
ip -n "$RA" route add default via 198.51.100.254
ip -n "$RB" route add default via 203.0.113.254
for ns in "$RA" "$ISP" "$RB"; do ns_exec "$ns" sysctl -qw net.ipv4.ip_forward=1; done

say "site A: /interface ipip add name=ipip-to-b local-address=198.51.100.1 remote-address=203.0.113.2"
run ip -n "$RA" link add ipip-to-b type ipt_ipip local 198.51.100.1 remote 203.0.113.2 || die "ipt_ipip"
run ip -n "$RA" addr add 10.10.10.1/30 dev ipip-to-b
run ip -n "$RA" link set ipip-to-b up
run ip -n "$RA" route add 192.168.20.0/24 via 10.10.10.2

say "site B: the mirror image"
run ip -n "$RB" link add ipip-to-a type ipt_ipip local 203.0.113.2 remote 198.51.100.1 || die "ipt_ipip"
run ip -n "$RB" addr add 10.10.10.2/30 dev ipip-to-a
run ip -n "$RB" link set ipip-to-a up
run ip -n "$RB" route add 192.168.10.0/24 via 10.10.10.1

say "input firewall: accept protocol 4 (ipencap) from the peer, drop the rest"
for side in "$RA 203.0.113.2" "$RB 198.51.100.1"; do
	set -- $side
	ns_exec "$1" nft -f - <<-NFT || die "nft"
	table inet filter {
		chain input {
			type filter hook input priority 0; policy drop;
			ct state established,related accept
			iif lo accept
			ip protocol icmp accept
			ip protocol ipencap ip saddr $2 accept comment "Allow IPIP from peer"
		}
	}
	NFT
done
run ip netns exec "$RA" nft list chain inet filter input

say "the tunnel (R = running: LOWER_UP)"
wait_for ping_ok "$RA" 203.0.113.2 || die "no underlay"
run ip -n "$RA" -d link show ipip-to-b

say "ping the peer's tunnel address and a host on the far LAN"
wait_for ping_ok "$RA" 10.10.10.2 || fail "tunnel does not answer"
run ip netns exec "$RA" ping -c 3 10.10.10.2 || fail "ping 10.10.10.2"
run ip netns exec "$HA" ping -c 3 192.168.20.2 || fail "LAN to LAN ping"
run ip -n "$RA" route get 192.168.20.2

say "a short iperf3 from LAN A to LAN B"
ns_exec "$HB" iperf3 -s -1 >/dev/null 2>&1 &
wait_for -t 10 sh -c "ip netns exec $HB ss -ltn | grep -q ':5201'" || die "iperf3 server"
run ip netns exec "$HA" iperf3 -c 192.168.20.2 -t 3 || fail "iperf3"
wait

say "counters"
run ip -n "$RA" -s -d link show ipip-to-b
exit $RET
