#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# MTU and path MTU of ipt_4in6 tunnels.
#
# 1. Device MTU: underlay device MTU - 40 (1460 on 1500, 1452 on 1492, 8
#    less with an encapsulation limit), following the underlay's MTU
#    changes unless the user set one.  ($M1, $M2; nothing is sent.)
#
#    $M1 veth0 2001:db8:1::1/64 mtu 1500 ---- $M2    t1 remote 2001:db8:1::2
#    $M1 veth2 2001:db8:2::1/64 mtu 1492 ---- $M2    t2 remote 2001:db8:2::2
#                                                    t3 remote 2001:db8:2::3 encaplimit 4
#                                                    t4 mtu 1400 remote 2001:db8:1::4
#
# 2.-4. Path MTU below the device MTU, with a LAN host $H behind $A so that
#    both locally sent and forwarded inner packets are seen:
#
#  $H 192.168.1.2 -- 192.168.1.1 $A  2001:db8:a::1 -- a::254 $R b::254 -- 2001:db8:b::2,3,4 $B
#                                          mtu 1500                 mtu 1400
#    tun0 10.0.0.1/30 ==== remote b::2, outer route "mtu lock 1300" ==== tun0 10.0.0.2/30
#         10.9.0.0/16 via tun0                                     lo 10.9.N.2
#    tun1 10.1.0.1/30 ==== remote b::3, the real path (R's 1400 link) == tun1 10.1.0.2/30
#         10.8.0.0/16 via tun1                                     lo 10.8.N.2
#    tun2 10.2.0.1/30 ---> remote b::4 (only for the first packet of $H)
#         10.7.0.0/16 via tun2
#
#    2. Source fragmentation: a non-DF inner packet that fits the device
#       MTU (1460) but not the path (1300 - 40) is sent as outer IPv6
#       fragments, captured on $B, and the reply arrives.
#    3. DF inner packets over the path get ICMP frag-needed with the path
#       MTU - 40 (1260), locally and forwarded; "dont-fragment yes" refuses
#       non-DF packets the same way.
#    4. ICMPv6 Packet Too Big from $R (1400) lowers the outer path MTU and
#       reaches the inner sender at once: after one packet the route to
#       the inner destination has an exception of 1400 - 40 = 1360, from
#       $A itself and for $H.  A Packet Too Big below 1280 counts as 1280
#       (inner 1240).  Unreachables from $R come back as host unreachable.
#
# 5. As tools/testing/selftests/net/pmtu.sh pmtu_ipv4_ipv6_exception (its
#    ip6tnl ipip6 has an encapsulation limit option, overhead 48; ipt_4in6
#    has none by default, overhead 40):
#
#    $PA veth_A-R1 mtu 5000 -- $PR1 -- veth_R1-B mtu 4000 -- $PB
#        ip_a (mtu 5000) ============ ipt_4in6 ============ ip_b (mtu 5000)
#    ping -M want -s 4500 creates an exception of 4000 - 40 = 3960, and
#    with "encaplimit 4" on ip_a one of 4000 - 48 = 3952.

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd ping tcpdump
require_module veth
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"

TMPD=$(mktemp -d /tmp/4in6_pmtu.XXXXXX) || die "mktemp"

mtu_of() { ns_exec "$1" cat "/sys/class/net/$2/mtu" 2>/dev/null || echo "(no $2)"; }
mtu_is() { [ "$(mtu_of "$1" "$2")" = "$3" ]; }

# check_mtu NS DEV EXPECTED WHY: poll, the update may come from a notifier.
check_mtu() {
	wait_for -t 5 mtu_is "$1" "$2" "$3"
	check_eq "$2 MTU $4" "$3" "$(mtu_of "$1" "$2")"
}

# route_mtu NS ROUTE-GET-ARGS...: the mtu of `ip route get`, "none" if none
# (as pmtu.sh's route_get_dst_pmtu_from_exception).
route_mtu() {
	local ns=$1 out
	shift
	out=$(ip -n "$ns" route get "$@" 2>&1)
	case $out in
	*" mtu lock "[0-9]*) echo "$out" | sed -n 's/.* mtu lock \([0-9]*\).*/\1/p' | head -n 1 ;;
	*" mtu "[0-9]*) echo "$out" | sed -n 's/.* mtu \([0-9]*\).*/\1/p' | head -n 1 ;;
	*) echo none ;;
	esac
}
route_mtu_is() { [ "$(route_mtu "${@:2}")" = "$1" ]; }

sysfs_stat() { ns_exec "$1" cat "/sys/class/net/$2/statistics/$3"; }

# tunnel NS NAME LOCAL REMOTE ADDR [IP-LINK-ADD-OPTION...] [-- TYPE-OPTION...]
tunnel() {
	local ns=$1 name=$2 local=$3 remote=$4 addr=$5 pre=()
	shift 5
	while [ $# -gt 0 ] && [ "$1" != -- ]; do pre+=("$1"); shift; done
	[ "$1" = -- ] && shift
	ip -n "$ns" link add "$name" "${pre[@]}" type ipt_4in6 local "$local" remote "$remote" "$@" ||
		die "cannot create $name in $ns"
	ns_exec "$ns" sysctl -qw "net.ipv6.conf.$name.disable_ipv6=1"
	ip -n "$ns" addr add "$addr" dev "$name" || die "address $addr on $name in $ns"
	ip -n "$ns" link set "$name" up || die "$name up in $ns"
}

# ---------------------------------------------------------------------------
log "=== 1. device MTU from the underlay"

setup_ns M1 M2
add_veth "$M1" veth0 2001:db8:1::1/64 "$M2" veth1 2001:db8:1::2/64
ip link add veth2 netns "$M1" mtu 1492 type veth peer name veth3 netns "$M2" mtu 1492 ||
	die "cannot create veth2/veth3"
ip -n "$M1" addr add 2001:db8:2::1/64 dev veth2 nodad || die "address on veth2"
ip -n "$M1" link set veth2 up || die "veth2 up"
ip -n "$M2" link set veth3 up || die "veth3 up"

mk() { # NAME [mtu N] OPTION...
	local name=$1 mtu=()
	shift
	[ "$1" = mtu ] && { mtu=(mtu "$2"); shift 2; }
	ip -n "$M1" link add "$name" "${mtu[@]}" type ipt_4in6 "$@" ||
		{ fail "ip link add $name ${mtu[*]} type ipt_4in6 $* failed"; return 1; }
	ip -n "$M1" link set "$name" up
}
mk t1 remote 2001:db8:1::2
mk t2 remote 2001:db8:2::2
mk t3 remote 2001:db8:2::3 encaplimit 4
mk t4 mtu 1400 remote 2001:db8:1::4
check_mtu "$M1" t1 1460 "on a 1500 underlay"
check_mtu "$M1" t2 1452 "on a 1492 underlay"
check_mtu "$M1" t3 1444 "on a 1492 underlay with encaplimit 4"
check_mtu "$M1" t4 1400 "created with mtu 1400"

ip -n "$M1" link set veth0 mtu 1400 || fail "veth0 mtu 1400"
check_mtu "$M1" t1 1360 "after veth0 mtu 1400"
check_mtu "$M1" t2 1452 "(veth2 untouched)"
check_mtu "$M1" t4 1400 "(user mtu) after veth0 mtu 1400"
ip -n "$M1" link set veth2 mtu 1300 || fail "veth2 mtu 1300"
check_mtu "$M1" t2 1260 "after veth2 mtu 1300"
check_mtu "$M1" t3 1252 "(encaplimit 4) after veth2 mtu 1300"
ip -n "$M1" link set veth0 mtu 9000 || fail "veth0 mtu 9000"
check_mtu "$M1" t1 8960 "after veth0 mtu 9000"
check_mtu "$M1" t4 1400 "(user mtu) after veth0 mtu 9000"
ip -n "$M1" link set veth0 mtu 1500 || fail "veth0 mtu 1500"
ip -n "$M1" link set veth2 mtu 1492 || fail "veth2 mtu 1492"
check_mtu "$M1" t1 1460 "after veth0 back to 1500"
check_mtu "$M1" t2 1452 "after veth2 back to 1492"
check_mtu "$M1" t3 1444 "after veth2 back to 1492"
ip -n "$M1" link set t1 mtu 1280 || fail "ip link set t1 mtu 1280"
ip -n "$M1" link set veth0 mtu 1450 || fail "veth0 mtu 1450"
check_mtu "$M1" t1 1280 "(set by the user) after veth0 mtu 1450"
ip -n "$M1" link set veth0 mtu 1500 || fail "veth0 mtu 1500"

# ---------------------------------------------------------------------------
log "=== 2.-4. topology H - A - R - B"

setup_ns H A R B
for ns in "$A" "$B"; do
	ns_exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0
	ns_exec "$ns" sysctl -qw net.ipv4.conf.default.rp_filter=0
done
add_veth "$H" eth0 192.168.1.2/24 "$A" lan 192.168.1.1/24
add_veth "$A" wan 2001:db8:a::1/64 "$R" to-a 2001:db8:a::254/64
ip link add to-b netns "$R" mtu 1400 type veth peer name wan netns "$B" mtu 1400 ||
	die "cannot create R's 1400 link"
ip -n "$R" addr add 2001:db8:b::254/64 dev to-b nodad || die "address on to-b"
ip -n "$B" addr add 2001:db8:b::2/64 dev wan nodad || die "address on B's wan"
ip -n "$B" addr add 2001:db8:b::3/64 dev wan nodad || die "second address on B's wan"
ip -n "$R" link set to-b up || die "to-b up"
ip -n "$B" link set wan up || die "B's wan up"
ns_exec "$R" sysctl -qw net.ipv6.conf.all.forwarding=1 || die "forwarding on R"
ns_exec "$A" sysctl -qw net.ipv4.ip_forward=1 || die "ip_forward on A"
ip -n "$H" route add default via 192.168.1.1 || die "default route on H"
ip -n "$A" -6 route add 2001:db8:b::/64 via 2001:db8:a::254 || die "route to b on A"
ip -n "$B" -6 route add 2001:db8:a::/64 via 2001:db8:b::254 || die "route to a on B"
# the path to b::2 is 1300 for A, without any ICMP: tun0 keeps MTU 1460
ip -n "$A" -6 route add 2001:db8:b::2/128 via 2001:db8:a::254 mtu lock 1300 ||
	die "mtu lock route on A"

tunnel "$A" tun0 2001:db8:a::1 2001:db8:b::2 10.0.0.1/30
tunnel "$B" tun0 2001:db8:b::2 2001:db8:a::1 10.0.0.2/30
tunnel "$A" tun1 2001:db8:a::1 2001:db8:b::3 10.1.0.1/30
tunnel "$B" tun1 2001:db8:b::3 2001:db8:a::1 10.1.0.2/30
ip -n "$A" route add 10.9.0.0/16 dev tun0 || die "route 10.9/16 on A"
ip -n "$A" route add 10.8.0.0/16 dev tun1 || die "route 10.8/16 on A"
# tun2 only sends (its packets die at R): a fresh outer path for H's test
ip -n "$B" addr add 2001:db8:b::4/64 dev wan nodad || die "third address on B's wan"
tunnel "$A" tun2 2001:db8:a::1 2001:db8:b::4 10.2.0.1/30
ip -n "$A" route add 10.7.0.0/16 dev tun2 || die "route 10.7/16 on A"
for n in 1 2 3 4 5; do
	ip -n "$B" addr add 10.9.$n.2/32 dev lo || die "10.9.$n.2 on B"
	ip -n "$B" addr add 10.8.$n.2/32 dev lo || die "10.8.$n.2 on B"
done
ip -n "$B" route add 192.168.1.0/24 dev tun0 || die "route to H's LAN on B"

wait_for ping_ok "$A" 2001:db8:b::2 || die "no IPv6 path A -> B"
wait_for ping_ok "$A" 10.0.0.2 || die "no ping through tun0"
wait_for ping_ok "$A" 10.1.0.2 || die "no ping through tun1"
ping_ok "$H" 10.9.5.2 || die "H cannot reach B through tun0"

check_mtu "$A" tun0 1460 "(outer route mtu lock 1300: the device MTU is still the underlay's - 40)"
check_mtu "$A" tun1 1460 "(R's 1400 link is two hops away)"
check_eq "outer path MTU to b::2" 1300 "$(route_mtu "$A" 2001:db8:b::2)"

CAP=$TMPD/b.pcap
cap_start "$B" wan "$CAP" ip6 and src host 2001:db8:a::1 and not icmp6

log "--- 2. source fragmentation of a non-DF inner packet"
tx0=$(link_stat "$A" tun0 tx_packets)
txe0=$(sysfs_stat "$A" tun0 tx_errors)
out=$(ns_exec "$A" ping -n -c 1 -W 3 -M dont -s 1400 10.9.1.2 2>&1)
case $out in
*" 0% packet loss"*) pass "ping -M dont -s 1400 10.9.1.2 (inner 1428 > path 1260): reply received" ;;
*) fail "ping -M dont -s 1400 10.9.1.2: expected a reply, got: $out" ;;
esac
check_eq "tun0 tx_packets for that ping" $((tx0 + 1)) "$(link_stat "$A" tun0 tx_packets)"
check_eq "tun0 tx_errors for that ping" "$txe0" "$(sysfs_stat "$A" tun0 tx_errors)"
frags_seen() { [ "$(pkt_all "$CAP" o_frag=1 o_fm=0 | wc -l)" -ge 1 ]; }
wait_for -t 5 frags_seen
first=$(pkt_all "$CAP" o_frag=1 o_foff=0 o_fm=1 i_dst=10.9.1.2 i_len=1428 i_df=0 | head -n 1)
if [ -n "$first" ]; then
	pass "first outer fragment (fragment header, offset 0, M=1) carries the inner header"
	id=$(field o_fid "$first")
	check_eq "first fragment: next header after the fragment header" 4 "$(field o_fnh "$first")"
	plen=$(field o_plen "$first")
	if [ "$plen" -le 1260 ] 2>/dev/null; then
		pass "first fragment: outer packet within the 1300 path (payload length $plen <= 1260)"
	else
		fail "first fragment: expected an outer payload length <= 1260, got $plen"
	fi
	last=$(pkt_all "$CAP" o_frag=1 o_fm=0 "o_fid=$id" | head -n 1)
	if [ -n "$last" ]; then
		pass "last outer fragment (M=0) of the same packet"
		# 40 + payload length: fragment header 8 + inner 1428 in two pieces
		check_eq "fragments' payloads add up to fragment headers + the inner packet" \
			$((8 + 8 + 1428)) $(( $(field o_plen "$first") + $(field o_plen "$last") ))
	else
		fail "no last fragment with id $id in: $(pkt_all "$CAP" o_frag=1)"
	fi
else
	fail "no first outer fragment of the 1428-byte inner packet on B: $(pkt_all "$CAP" i_dst=10.9.1.2) $(pkt_all "$CAP" o_frag=1)"
fi
check_eq "no inner fragmentation: route exception to 10.9.1.2 on A" none "$(route_mtu "$A" 10.9.1.2)"
out=$(ns_exec "$H" ping -n -c 2 -i 0.3 -W 3 -M dont -s 1400 10.9.1.2 2>&1)
case $out in
*" 0% packet loss"*) pass "H (forwarded): ping -M dont -s 1400 10.9.1.2 through the 1300 path" ;;
*) fail "H: ping -M dont -s 1400 10.9.1.2: expected replies, got: $out" ;;
esac

log "--- 3. DF inner packets over the path: ICMP frag-needed, mtu 1260"
out=$(ns_exec "$A" ping -n -c 1 -W 2 -M do -s 1232 10.9.2.2 2>&1)
case $out in
*" 0% packet loss"*) pass "ping -M do -s 1232 (inner 1260 = path - 40) passes" ;;
*) fail "ping -M do -s 1232 10.9.2.2: expected a reply, got: $out" ;;
esac
txe0=$(sysfs_stat "$A" tun0 tx_errors)
out=$(ns_exec "$A" ping -n -c 1 -W 2 -M do -s 1233 10.9.2.2 2>&1)
case $out in
*"mtu = 1260"*|*"mtu=1260"*) pass "local ping -M do -s 1233: frag needed, mtu 1260" ;;
*) fail "local ping -M do -s 1233 10.9.2.2: expected frag needed with mtu 1260, got: $out" ;;
esac
check_eq "tun0 tx_errors after the refused packet" $((txe0 + 1)) "$(sysfs_stat "$A" tun0 tx_errors)"
check_eq "A's route exception to 10.9.2.2" 1260 "$(route_mtu "$A" 10.9.2.2)"
out=$(ns_exec "$A" ping -n -c 1 -W 2 -M do -s 1233 10.9.2.2 2>&1)
case $out in
*"mtu=1260"*|*"mtu = 1260"*) pass "second local ping -M do -s 1233: refused locally with mtu 1260" ;;
*) fail "second local ping -M do -s 1233: expected a local error with mtu 1260, got: $out" ;;
esac

out=$(ns_exec "$H" ping -n -c 1 -W 2 -M do -s 1400 10.9.3.2 2>&1)
case $out in
*"From 192.168.1.1 "*"Frag needed"*"mtu = 1260"*) pass "H (forwarded) ping -M do -s 1400: frag needed from A, mtu 1260" ;;
*) fail "H ping -M do -s 1400 10.9.3.2: expected frag needed from 192.168.1.1 with mtu 1260, got: $out" ;;
esac
check_eq "H's route exception to 10.9.3.2" 1260 "$(route_mtu "$H" 10.9.3.2)"
check_eq "no inner packet to 10.9.3.2 reached B's wire" 0 "$(pkt_all "$CAP" i_dst=10.9.3.2 | wc -l)"

log "dont-fragment yes: non-DF packets over the path are refused too"
ip -n "$A" link set tun0 type ipt_4in6 dont-fragment yes || fail "dont-fragment yes on tun0"
out=$(ns_exec "$H" ping -n -c 1 -W 2 -M dont -s 1400 10.9.4.2 2>&1)
case $out in
*"From 192.168.1.1 "*"Frag needed"*"mtu = 1260"*) pass "dont-fragment yes: H's non-DF 1428-byte packet refused, mtu 1260" ;;
*) fail "dont-fragment yes: H ping -M dont -s 1400 10.9.4.2: expected frag needed with mtu 1260, got: $out" ;;
esac
out=$(ns_exec "$A" ping -n -c 1 -W 2 -M dont -s 1400 10.9.5.2 2>&1)
case $out in
*"mtu = 1260"*|*"mtu=1260"*) pass "dont-fragment yes: A's non-DF 1428-byte packet refused, mtu 1260" ;;
*) fail "dont-fragment yes: A ping -M dont -s 1400 10.9.5.2: expected frag needed with mtu 1260, got: $out" ;;
esac
check_eq "dont-fragment yes: no packet to 10.9.4.2 or 10.9.5.2 reached B" 0 \
	"$(pkt_all "$CAP" o_frag=1 | grep -c -E 'i_dst=10\.9\.[45]\.2 ')"
ping_ok "$H" 10.9.4.2 || fail "dont-fragment yes: a small ping should still pass"
ip -n "$A" link set tun0 type ipt_4in6 dont-fragment no || fail "dont-fragment no on tun0"

log "--- 4. Packet Too Big from R (1400 link) becomes an inner exception of 1360"
pmtu_b3=$(route_mtu "$A" 2001:db8:b::3)
check_eq "outer path MTU to b::3 before" none "$pmtu_b3"
ns_exec "$A" ping -n -c 1 -W 2 -M want -s 1400 10.8.1.2 >/dev/null 2>&1
check_eq "outer exception to b::3 after one packet (R's PTB)" 1400 "$(route_mtu "$A" 2001:db8:b::3)"
check_eq "inner exception to 10.8.1.2 after one packet (1400 - 40)" 1360 "$(route_mtu "$A" 10.8.1.2)"
check_mtu "$A" tun1 1460 "(a PTB changes the path, not the device)"
out=$(ns_exec "$A" ping -n -c 1 -W 2 -M do -s 1332 10.8.1.2 2>&1)
case $out in
*" 0% packet loss"*) pass "ping -M do -s 1332 (inner 1360) passes the 1400 link" ;;
*) fail "ping -M do -s 1332 10.8.1.2: expected a reply, got: $out" ;;
esac
out=$(ns_exec "$A" ping -n -c 1 -W 2 -M do -s 1333 10.8.1.2 2>&1)
case $out in
*"mtu=1360"*|*"mtu = 1360"*) pass "ping -M do -s 1333: refused with mtu 1360" ;;
*) fail "ping -M do -s 1333 10.8.1.2: expected mtu 1360, got: $out" ;;
esac

# H's packets are forwarded; A relays R's PTB to H at once.  The path to
# b::3 is known now: tun2 takes a fresh one, to b::4.
check_eq "outer path MTU to b::4 before" none "$(route_mtu "$A" 2001:db8:b::4)"
out=$(ns_exec "$H" ping -n -c 1 -W 2 -M do -s 1400 10.7.2.2 2>&1)
case $out in
*"From 192.168.1.1 "*"Frag needed"*"mtu = 1360"*) pass "H: R's PTB relayed by A as frag needed, mtu 1360, on the first packet" ;;
*) fail "H ping -M do -s 1400 10.7.2.2: expected frag needed from 192.168.1.1 with mtu 1360, got: $out" ;;
esac
check_eq "H's route exception to 10.7.2.2" 1360 "$(route_mtu "$H" 10.7.2.2)"
check_eq "A's outer exception to b::4 after H's one packet" 1400 "$(route_mtu "$A" 2001:db8:b::4)"

log "a Packet Too Big below 1280 counts as 1280 (inner 1240)"
ns_exec "$R" "$PY" - <<'PYEOF' || fail "cannot send the crafted Packet Too Big"
import socket
from scapy.all import IP, IPv6, ICMP, ICMPv6PacketTooBig, Raw
quoted = (IPv6(src="2001:db8:a::1", dst="2001:db8:b::3", nh=4, hlim=63) /
          IP(src="10.1.0.1", dst="10.8.4.2", ttl=64, flags="DF") /
          ICMP(type=8, id=0x4343, seq=1) / Raw(b"x" * 1000))
ptb = (IPv6(src="2001:db8:a::254", dst="2001:db8:a::1", hlim=64) /
       ICMPv6PacketTooBig(mtu=1000) / Raw(bytes(quoted)[:1232]))
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(bytes(ptb), ("2001:db8:a::1", 0))
PYEOF
wait_for -t 5 route_mtu_is 1240 "$A" 10.8.4.2
check_eq "inner exception to 10.8.4.2 after a PTB of 1000" 1240 "$(route_mtu "$A" 10.8.4.2)"
# 6.1 ignores a PTB below 1280 for the outer route (RFC 8201 4) where older
# kernels took it as 1280: either way the outer path is never below 1280.
outer=$(route_mtu "$A" 2001:db8:b::3)
if [ "$outer" -ge 1280 ] 2>/dev/null; then
	pass "outer path MTU to b::3 after a PTB of 1000 is not below 1280: $outer"
else
	fail "outer path MTU to b::3 after a PTB of 1000: expected at least 1280, got $outer"
fi
out=$(ns_exec "$A" ping -n -c 1 -W 2 -M do -s 1212 10.8.4.2 2>&1)
case $out in
*" 0% packet loss"*) pass "ping -M do -s 1212 (inner 1240, outer 1280) passes" ;;
*) fail "ping -M do -s 1212 10.8.4.2: expected a reply, got: $out" ;;
esac

log "unreachables from R come back as host unreachable"
ip -n "$R" -6 route add unreachable 2001:db8:b::3/128 || fail "unreachable route on R"
out=$(ns_exec "$H" ping -n -c 1 -W 2 10.8.5.2 2>&1)
case $out in
*"From 192.168.1.1 "*"Destination Host Unreachable"*) pass "H: R's ICMPv6 unreachable relayed as host unreachable" ;;
*) fail "H ping 10.8.5.2 with b::3 unreachable at R: expected 'Destination Host Unreachable' from 192.168.1.1, got: $out" ;;
esac
ip -n "$R" -6 route del unreachable 2001:db8:b::3/128 || fail "cannot remove the unreachable route"
wait_for ping_ok "$A" 10.8.5.2 || fail "tun1 does not work again after removing R's unreachable route"

# ---------------------------------------------------------------------------
log "=== 5. pmtu.sh pmtu_ipv4_ipv6_exception with ipt_4in6"

ll_mtu=4000
setup_ns PA PR1 PB
add_veth "$PA" veth_A-R1 2001:db8:10::1/64 "$PR1" veth_R1-A 2001:db8:10::2/64
add_veth "$PB" veth_B-R1 2001:db8:20::1/64 "$PR1" veth_R1-B 2001:db8:20::2/64
ns_exec "$PR1" sysctl -qw net.ipv6.conf.all.forwarding=1 || die "forwarding on R1"
ip -n "$PA" -6 route add 2001:db8:20::/64 via 2001:db8:10::2 || die "route on PA"
ip -n "$PB" -6 route add 2001:db8:10::/64 via 2001:db8:20::2 || die "route on PB"
tunnel "$PA" ip_a 2001:db8:10::1 2001:db8:20::1 192.168.2.1/24
tunnel "$PB" ip_b 2001:db8:20::1 2001:db8:10::1 192.168.2.2/24
ip -n "$PB" addr add 192.168.3.2/32 dev lo || die "second address on PB"
ip -n "$PA" route add 192.168.3.2/32 dev ip_a || die "route to 192.168.3.2 on PA"
wait_for ping_ok "$PA" 192.168.2.2 || die "no ping through ip_a"

# Create route exception by exceeding link layer MTU
ip -n "$PA" link set veth_A-R1 mtu $((ll_mtu + 1000)) || fail "mtu veth_A-R1"
ip -n "$PR1" link set veth_R1-A mtu $((ll_mtu + 1000)) || fail "mtu veth_R1-A"
ip -n "$PB" link set veth_B-R1 mtu $ll_mtu || fail "mtu veth_B-R1"
ip -n "$PR1" link set veth_R1-B mtu $ll_mtu || fail "mtu veth_R1-B"
ip -n "$PA" link set ip_a mtu $((ll_mtu + 1000)) || fail "mtu ip_a"
ip -n "$PB" link set ip_b mtu $((ll_mtu + 1000)) || fail "mtu ip_b"
ns_exec "$PA" ping -q -M want -i 0.1 -w 1 -s $((ll_mtu + 500)) 192.168.2.2 >/dev/null 2>&1
check_eq "exceeding link layer MTU on ip4ip6 (ipt_4in6, no encap limit): exception" \
	$((ll_mtu - 40)) "$(route_mtu "$PA" 192.168.2.2)"

ip -n "$PA" link set ip_a type ipt_4in6 encaplimit 4 || fail "encaplimit 4 on ip_a"
check_mtu "$PA" ip_a $((ll_mtu + 1000)) "(set by the user) after encaplimit 4"
ns_exec "$PA" ping -q -M want -i 0.1 -w 1 -s $((ll_mtu + 500)) 192.168.3.2 >/dev/null 2>&1
check_eq "exceeding link layer MTU on ip4ip6 (ipt_4in6, encaplimit 4, as ip6tnl): exception" \
	$((ll_mtu - 40 - 8)) "$(route_mtu "$PA" 192.168.3.2)"

log "4in6_pmtu took ${SECONDS}s"
exit $RET
