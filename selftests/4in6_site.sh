#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The seed's 4in6 site-to-site example end to end: two IPv4 sites joined
# over a routed IPv6 transport by an ipt_4in6 tunnel, LAN routes through
# the tunnel, an IPv6 input firewall that only lets next header 4 in from
# the peer, and an IPv4 forward firewall that accepts what comes out of
# the tunnel (policy drop otherwise).
#
#  $HA 192.168.10.2/24            $MID (IPv6 router)             192.168.20.2/24 $HB
#   eth0 ---- lan 192.168.10.1                                 192.168.20.1 lan ---- eth0
#                  $RA                                                $RB
#             wan 2001:db8:a::1/64 -- a::254  [$MID]  b::254 -- 2001:db8:b::1/64 wan
#             4in6-to-b 10.99.0.1/30 ========== ipt_4in6 ======== 10.99.0.2/30 4in6-to-a
#
# Firewall on $RA and $RB (nft, table inet filter):
#   input   policy drop: lo, ICMP, ICMPv6 (neighbour discovery) and next
#           header 4 from the peer's transport address
#           ($RA: "meta l4proto ipencap", $RB: "ip6 nexthdr ipencap")
#   forward policy drop: in-interface tunnel, and LAN -> tunnel
#
# Deleting the "4in6 from ..." input rule on $RB stops the tunnel and adding
# it back restores it; the forward rule is checked the same way.

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd nft ping
require_module veth nf_tables

setup_ns HA RA MID RB HB
add_veth "$HA" eth0 192.168.10.2/24 "$RA" lan 192.168.10.1/24
add_veth "$RA" wan 2001:db8:a::1/64 "$MID" to-a 2001:db8:a::254/64
add_veth "$MID" to-b 2001:db8:b::254/64 "$RB" wan 2001:db8:b::1/64
add_veth "$RB" lan 192.168.20.1/24 "$HB" eth0 192.168.20.2/24

ip -n "$HA" route add default via 192.168.10.1 || die "default route on HA"
ip -n "$HB" route add default via 192.168.20.1 || die "default route on HB"
ip -n "$RA" -6 route add default via 2001:db8:a::254 || die "IPv6 default route on RA"
ip -n "$RB" -6 route add default via 2001:db8:b::254 || die "IPv6 default route on RB"
ns_exec "$MID" sysctl -qw net.ipv6.conf.all.forwarding=1 || die "forwarding on MID"
for ns in "$RA" "$RB"; do
	ns_exec "$ns" sysctl -qw net.ipv4.ip_forward=1 || die "ip_forward on $ns"
done

wait_for ping_ok "$RA" 2001:db8:b::1 || die "no IPv6 transport between the sites"

# /interface 4in6 add name=4in6-to-b local-address=2001:db8:a::1 remote-address=2001:db8:b::1
# tunnel NS NAME LOCAL REMOTE ADDR PEER_ADDR REMOTE_LAN
tunnel() {
	local ns=$1 name=$2 local=$3 remote=$4 addr=$5 peer=$6 lan=$7
	ip -n "$ns" link add "$name" type ipt_4in6 local-address "$local" remote-address "$remote" ||
		die "cannot create $name (ipt_4in6) on $ns"
	# no IPv6 autoconfiguration traffic on the tunnel: counters stay exact
	ns_exec "$ns" sysctl -qw "net.ipv6.conf.$name.disable_ipv6=1" ||
		die "disable_ipv6 on $name"
	ip -n "$ns" addr add "$addr/30" dev "$name" || die "address $addr on $name"
	ip -n "$ns" link set "$name" up || die "$name up on $ns"
	ip -n "$ns" route add "$lan" via "$peer" || die "route $lan via $peer on $ns"
}
tunnel "$RA" 4in6-to-b 2001:db8:a::1 2001:db8:b::1 10.99.0.1 10.99.0.2 192.168.20.0/24
tunnel "$RB" 4in6-to-a 2001:db8:b::1 2001:db8:a::1 10.99.0.2 10.99.0.1 192.168.10.0/24

# firewall NS PEER TUNNEL MATCH: MATCH selects next header 4
firewall() {
	ns_exec "$1" nft -f - <<-NFT || die "nft on $1"
	table inet filter {
		chain input {
			type filter hook input priority 0; policy drop;
			iif lo accept
			ip protocol icmp accept
			meta l4proto ipv6-icmp accept
			ip6 saddr $2 $4 counter accept comment "4in6 from peer"
		}
		chain forward {
			type filter hook forward priority 0; policy drop;
			iifname "$3" counter accept comment "4in6 forward"
			iifname "lan" oifname "$3" accept
		}
	}
	NFT
}
firewall "$RA" 2001:db8:b::1 4in6-to-b "meta l4proto ipencap"
firewall "$RB" 2001:db8:a::1 4in6-to-a "ip6 nexthdr ipencap"

# rule_handle NS CHAIN COMMENT
rule_handle() {
	ip netns exec "$1" nft -a list chain inet filter "$2" |
		sed -n "s/.*comment \"$3\" # handle \([0-9]*\).*/\1/p"
}
# rule_packets NS CHAIN COMMENT
rule_packets() {
	ip netns exec "$1" nft list chain inet filter "$2" |
		sed -n "s/.*counter packets \([0-9]*\) .*comment \"$3\".*/\1/p"
}

log "ip -d link show on $RA"
ip -n "$RA" -d link show 4in6-to-b
details=$(ip -n "$RA" -d link show 4in6-to-b)
case $details in
*"ipt_4in6 remote 2001:db8:b::1 local 2001:db8:a::1 "*) pass "ip -d link shows the tunnel" ;;
*) fail "ip -d link: expected 'ipt_4in6 remote 2001:db8:b::1 local 2001:db8:a::1', got: $details" ;;
esac
check_eq "tunnel MTU on a 1500 transport (seed: 1460)" 1460 \
	"$(ns_exec "$RA" cat /sys/class/net/4in6-to-b/mtu)"
case $details in
*"state UP"*|*",UP,LOWER_UP>"*) pass "4in6-to-b is up and running" ;;
*) fail "4in6-to-b is not UP,LOWER_UP: $details" ;;
esac

log "/ping 10.99.0.2, /ping 192.168.20.1, LAN to LAN"
wait_for ping_ok "$RA" 10.99.0.2 || fail "no ping between the tunnel addresses"
ping_ok "$RA" 192.168.20.1 3 || fail "RA cannot reach RB's LAN address through the tunnel"
ping_ok "$HA" 192.168.20.2 5 || fail "LAN A cannot reach LAN B through the tunnel"
ping_ok "$HB" 192.168.10.2 5 || fail "LAN B cannot reach LAN A through the tunnel"

route=$(ip -n "$RA" route show 192.168.20.0/24)
check_eq "RA's route to LAN B" "192.168.20.0/24 via 10.99.0.2 dev 4in6-to-b" "$(echo $route)"
hop=$(ip -n "$RA" route get 192.168.20.2)
case $hop in
*"via 10.99.0.2 dev 4in6-to-b"*) pass "RA routes 192.168.20.2 via the tunnel" ;;
*) fail "ip route get 192.168.20.2 on RA: expected 'via 10.99.0.2 dev 4in6-to-b', got: $hop" ;;
esac

rx=$(link_stat "$RB" 4in6-to-a rx_packets)
tx=$(link_stat "$RA" 4in6-to-b tx_packets)
in_b=$(rule_packets "$RB" input "4in6 from peer")
in_a=$(rule_packets "$RA" input "4in6 from peer")
fwd_b=$(rule_packets "$RB" forward "4in6 forward")
ping_ok "$HA" 192.168.20.2 10 || fail "10 LAN pings HA -> HB failed"
check_eq "RA 4in6-to-b tx_packets after 10 LAN pings" $((tx + 10)) "$(link_stat "$RA" 4in6-to-b tx_packets)"
check_eq "RB 4in6-to-a rx_packets after 10 LAN pings" $((rx + 10)) "$(link_stat "$RB" 4in6-to-a rx_packets)"
check_eq "RB input rule '4in6 from peer' (ip6 nexthdr ipencap) packets" $((in_b + 10)) \
	"$(rule_packets "$RB" input "4in6 from peer")"
check_eq "RA input rule '4in6 from peer' (meta l4proto ipencap) packets (replies)" $((in_a + 10)) \
	"$(rule_packets "$RA" input "4in6 from peer")"
check_eq "RB forward rule '4in6 forward' packets" $((fwd_b + 10)) \
	"$(rule_packets "$RB" forward "4in6 forward")"
# sysfs_stat NS DEV COUNTER: /sys/class/net/DEV/statistics/COUNTER
sysfs_stat() { ns_exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
for c in rx_errors rx_dropped tx_errors tx_dropped tx_carrier_errors; do
	check_eq "RA 4in6-to-b $c" 0 "$(sysfs_stat "$RA" 4in6-to-b $c)"
	check_eq "RB 4in6-to-a $c" 0 "$(sysfs_stat "$RB" 4in6-to-a $c)"
done

log "deleting RB's input rule for next header 4 stops the tunnel"
h=$(rule_handle "$RB" input "4in6 from peer")
[ -n "$h" ] || die "no handle for RB's '4in6 from peer' rule"
ns_exec "$RB" nft delete rule inet filter input handle "$h" || die "cannot delete RB's input rule"
rx=$(link_stat "$RB" 4in6-to-a rx_packets)
if ping_ok "$HA" 192.168.20.2 3; then
	fail "LAN ping still works without RB's input rule for next header 4"
else
	pass "LAN ping stopped by RB's input policy"
fi
if ping_ok "$RA" 10.99.0.2 2; then
	fail "tunnel address ping still works without RB's input rule"
else
	pass "tunnel address ping stopped by RB's input policy"
fi
check_eq "RB 4in6-to-a rx_packets while next header 4 is dropped" "$rx" \
	"$(link_stat "$RB" 4in6-to-a rx_packets)"
ping_ok "$RA" 2001:db8:b::1 || fail "the IPv6 transport itself should still work"

log "adding the rule back restores the tunnel"
ns_exec "$RB" nft add rule inet filter input ip6 saddr 2001:db8:a::1 ip6 nexthdr ipencap \
	counter accept comment '"4in6 from peer"' || die "cannot add RB's input rule back"
wait_for ping_ok "$HA" 192.168.20.2 || fail "tunnel did not come back after accepting next header 4"
ping_ok "$HB" 192.168.10.2 3 || fail "LAN B -> LAN A after restoring the rule"

log "the forward rule: without it, LAN traffic out of the tunnel is dropped on RB"
h=$(rule_handle "$RB" forward "4in6 forward")
[ -n "$h" ] || die "no handle for RB's '4in6 forward' rule"
ns_exec "$RB" nft delete rule inet filter forward handle "$h" || die "cannot delete RB's forward rule"
if ping_ok "$HA" 192.168.20.2 2; then
	fail "LAN ping HA -> HB works without RB's forward rule (forward policy drop)"
else
	pass "LAN ping stopped by RB's forward policy"
fi
ping_ok "$RA" 10.99.0.2 2 || fail "tunnel addresses should still ping without the forward rule"
ns_exec "$RB" nft insert rule inet filter forward iifname '"4in6-to-a"' counter accept \
	comment '"4in6 forward"' || die "cannot add RB's forward rule back"
wait_for ping_ok "$HA" 192.168.20.2 || fail "LAN ping did not come back with the forward rule"

log "4in6_site took ${SECONDS}s"
exit $RET
