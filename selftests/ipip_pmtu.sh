#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Path MTU through ipt_ipip, in the way of the kernel's
# tools/testing/selftests/net/pmtu.sh (pmtu_ipv4_ipv4_exception): route
# exceptions are read back with "ip route get".
#
#  (a) locally generated: the route to the remote is locked at mtu 1400, so
#      the tunnel path MTU is 1380 although the device MTU is 1480; a DF ping
#      that does not fit gets "frag needed, mtu 1380" and an exception.
#  (b) routed: R's link to B has MTU 1400.  One DF packet that fits the
#      tunnel (1480) but not that link makes R send frag-needed to A's
#      endpoint; A lowers the outer PMTU and relays at once to the inner
#      sender, H on A's LAN or A itself: one packet is enough for the sender
#      to hold a 1380 exception.
#  (c) non-DF inner packets that do not fit still arrive: outer fragments
#      with dont-fragment inherit, inner fragments each with outer DF with
#      dont-fragment yes.
#  (d) dont-fragment no: a DF inner packet that does not fit is not refused,
#      the outer packet (DF clear) is fragmented.
#
#  $H                   $A                         $R                           $B
#  eth0 ------------ lan    wan --------------- r-a   r-b ------------------ wan     dummy0
#  192.168.1.2/24  .1.1/24  198.51.100.1/24    .254   203.0.113.254/24 (*)  .2/24   192.168.2.1-9
#                           tun0 10.0.0.1/30 =========================== tun0 10.0.0.2/30
#                           192.168.2.0/24 -> tun0                        192.168.1.0/24 -> tun0
#
#  (*) MTU 1500, lowered to 1400 after (a).  Outer packets are captured on
#      $B's wan.

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd ping tcpdump
require_module veth dummy
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"

TMPD=$(mktemp -d /tmp/ipip_pmtu.XXXXXX) || die "mktemp"

# --- capture helpers (as in ipip_header.sh) --------------------------------

CAP_SNAPLEN=128

# --- route exceptions, as pmtu.sh reads them ---------------------------------

mtu_parse() {
	local input=$1 next=0 i
	for i in ${input}; do
		[ ${next} -eq 1 ] && [ "${i}" = "lock" ] && next=2 && continue
		[ ${next} -eq 1 ] && echo "${i}" && return
		[ ${next} -eq 2 ] && echo "lock ${i}" && return
		[ "${i}" = "mtu" ] && next=1
	done
}

route_get_dst_pmtu_from_exception() { # NS DST [ARGS...]
	local ns=$1
	shift
	mtu_parse "$(ip -n "$ns" route get "$@")"
}

pmtu_is() { [ "$(route_get_dst_pmtu_from_exception "$@")" = "$PMTU_WANT" ]; }

# check_pmtu EXPECTED EVENT NS DST [ARGS...]: EXPECTED "" means no exception.
check_pmtu() {
	local expected=$1 event=$2 ns=$3 value
	shift 3
	PMTU_WANT=$expected wait_for -t 5 pmtu_is "$ns" "$@"
	value=$(route_get_dst_pmtu_from_exception "$ns" "$@")
	if [ "$value" = "$expected" ]; then
		pass "$event: ip route get $* in ${ns%%-*}: mtu ${value:-(no exception)}"
	elif [ -z "$value" ]; then
		fail "$event: no PMTU exception for $* in ${ns%%-*}, expected mtu $expected"
	elif [ -z "$expected" ]; then
		fail "$event: PMTU exception with mtu $value for $* in ${ns%%-*}, expected none"
	else
		fail "$event: PMTU exception for $* in ${ns%%-*} has mtu $value, expected $expected"
	fi
}

# ping_out NS PING_ARGS...: the output of one ping (which may fail).
ping_out() {
	local ns=$1
	shift
	ns_exec "$ns" ping -n -c 1 -W 3 "$@" 2>&1
}

# check_says WHAT REGEX TEXT
check_says() {
	if grep -Eq "$2" <<<"$3"; then
		pass "$1: $(grep -Eo "$2" <<<"$3" | head -n 1)"
	else
		fail "$1: expected /$2/ in: $(echo $3)"
	fi
}

# --- topology ----------------------------------------------------------------

setup_ns H A R B
add_veth "$H" eth0 192.168.1.2/24 "$A" lan 192.168.1.1/24
add_veth "$A" wan 198.51.100.1/24 "$R" r-a 198.51.100.254/24
add_veth "$R" r-b 203.0.113.254/24 "$B" wan 203.0.113.2/24
ip -n "$B" link add dummy0 type dummy || die "dummy0 in $B"
for i in 1 2 3 4 5 6 7 8 9; do
	ip -n "$B" addr add "192.168.2.$i/24" dev dummy0 || die "192.168.2.$i on dummy0"
done
ip -n "$B" link set dummy0 up

ip -n "$H" route add default via 192.168.1.1
ip -n "$A" route add default via 198.51.100.254
ip -n "$B" route add default via 203.0.113.254
for ns in "$A" "$R" "$B"; do
	ns_exec "$ns" sysctl -qw net.ipv4.ip_forward=1
done

tunnel() { # NS LOCAL REMOTE ADDRESS ROUTE
	ip -n "$1" link add tun0 type ipt_ipip local "$2" remote "$3" ||
		die "cannot create tun0 in $1"
	ns_exec "$1" sysctl -qw net.ipv6.conf.tun0.disable_ipv6=1
	ip -n "$1" addr add "$4/30" dev tun0 || die "address on tun0 in $1"
	ip -n "$1" link set tun0 up || die "tun0 up in $1"
	ip -n "$1" route add "$5" dev tun0 || die "route to $5 in $1"
}
tunnel "$A" 198.51.100.1 203.0.113.2 10.0.0.1 192.168.2.0/24
tunnel "$B" 203.0.113.2 198.51.100.1 10.0.0.2 192.168.1.0/24

wait_for ping_ok "$A" 203.0.113.2 || die "no connectivity between A and B"
wait_for ping_ok "$A" 10.0.0.2 || die "no ping through the tunnel"
wait_for ping_ok "$H" 192.168.2.1 || die "H cannot reach B's LAN"
ping_ok "$A" 192.168.2.1 || die "A cannot reach B's LAN"
check_eq "A tun0 MTU" 1480 "$(ns_exec "$A" cat /sys/class/net/tun0/mtu)"

# --- (a) ---------------------------------------------------------------------

log "(a) locally generated, outer route locked at mtu 1400"
ip -n "$A" route add 203.0.113.2/32 via 198.51.100.254 mtu lock 1400 ||
	die "cannot add the locked route"
check_pmtu "" "(a) before" "$A" 10.0.0.2
out=$(ping_out "$A" -M "do" -s 1400 10.0.0.2)
check_says "(a) ping -M do -s 1400 (inner 1428 > 1380)" \
	"(Frag needed.*mtu = 1380|message too long, mtu=1380)" "$out"
check_pmtu 1380 "(a) after one DF packet of 1428" "$A" 10.0.0.2
out=$(ping_out "$A" -M "do" -s 1400 10.0.0.2)
check_says "(a) second ping -M do -s 1400" "message too long, mtu=1380" "$out"
ping_ok "$A" 10.0.0.2 || fail "(a) small ping through the tunnel failed"
out=$(ping_out "$A" -M "do" -s 1352 10.0.0.2)
check_says "(a) ping -M do -s 1352 (inner 1380, fits)" " 0% packet loss" "$out"
ip -n "$A" route del 203.0.113.2/32 || fail "cannot delete the locked route"

# --- (b) ---------------------------------------------------------------------

log "(b) routed: R's link to B at MTU 1400"
ip -n "$R" link set r-b mtu 1400
ip -n "$B" link set wan mtu 1400
check_pmtu "" "(b) before" "$A" 203.0.113.2

log "(b1) one DF packet from H on A's LAN"
check_pmtu "" "(b1) before" "$H" 192.168.2.2
out=$(ping_out "$H" -M "do" -s 1420 192.168.2.2)
check_says "(b1) H: ping -M do -s 1420 (inner 1448)" \
	"From 192.168.1.1 .*Frag needed.*mtu = 1380" "$out"
check_pmtu 1400 "(b1) outer PMTU from R's frag-needed" "$A" 203.0.113.2
check_pmtu 1380 "(b1) the LAN sender's exception after one packet" "$H" 192.168.2.2
check_pmtu 1380 "(b1) A's forwarding exception after one packet" \
	"$A" 192.168.2.2 from 192.168.1.2 iif lan
out=$(ping_out "$H" -M "do" -s 1420 192.168.2.2)
check_says "(b1) H: second ping -M do -s 1420" "message too long, mtu=1380" "$out"
out=$(ping_out "$H" -M "do" -s 1352 192.168.2.2)
check_says "(b1) H: ping -M do -s 1352 (inner 1380, fits)" " 0% packet loss" "$out"

log "(b2) one DF packet from A itself, outer PMTU forgotten first"
ip -n "$A" route del default || fail "cannot delete A's default route"
ip -n "$A" route add default via 198.51.100.254 || die "cannot restore A's default route"
check_pmtu "" "(b2) before (route re-added)" "$A" 203.0.113.2
check_pmtu "" "(b2) before" "$A" 192.168.2.3
out=$(ping_out "$A" -M "do" -s 1420 192.168.2.3)
check_says "(b2) A: ping -M do -s 1420 (inner 1448)" "Frag needed.*mtu = 1380" "$out"
check_pmtu 1400 "(b2) outer PMTU from R's frag-needed" "$A" 203.0.113.2
check_pmtu 1380 "(b2) the sender's exception through the tunnel after one packet" \
	"$A" 192.168.2.3

log "pmtu.sh's check (outer PMTU now known): ping -M want bigger than the path"
ns_exec "$A" ping -q -M want -i 0.1 -w 1 -s 1420 192.168.2.9 >/dev/null 2>&1
check_pmtu 1380 "exceeding the underlay path MTU on ipt_ipip" "$A" 192.168.2.9

# --- (c), (d) ------------------------------------------------------------------

CAP=$TMPD/wan.pcap
cap_start "$B" wan "$CAP" ip proto 4 and src host 198.51.100.1

# arrives WHAT DST PING_ARGS...: the echo reply must come back.
arrives() {
	local what=$1 dst=$2 out
	shift 2
	out=$(ping_out "$A" "$@" "$dst")
	check_says "$what: ping $* $dst" " 1 received" "$out"
}

log "(c) non-DF, dont-fragment inherit: the outer packet is fragmented"
arrives "(c) inherit" 192.168.2.4 -M dont -s 1460
log "(c) non-DF, dont-fragment yes: inner fragments, each with outer DF"
ip -n "$A" link set tun0 type ipt_ipip dont-fragment yes || fail "dont-fragment yes"
arrives "(c) dont-fragment yes" 192.168.2.5 -M dont -s 1460
log "(d) dont-fragment no: DF inner packets are not refused"
ip -n "$A" link set tun0 type ipt_ipip dont-fragment no || fail "dont-fragment no"
arrives "(d) dont-fragment no" 192.168.2.6 -M "do" -s 1400
check_pmtu "" "(d) no exception for a DF packet sent with dont-fragment no" "$A" 192.168.2.6

# What went over R's 1400 link, per case.
pkts_ok() { [ -n "$(pkt_all "$CAP" i_dst=192.168.2.6)" ]; }
wait_for -t 15 pkts_ok
pkt_dump "$CAP"
summary() { # DST: outer len/df/mf/off, inner len/df/mf/off per packet
	pkt_all "$CAP.txt" "$@" | awk '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		printf "[o %s df%s mf%s off%s | i %s df%s mf%s off%s] ",
			f["o_len"], f["o_df"], f["o_mf"], f["o_off"],
			f["i_len"], f["i_df"], f["i_mf"], f["i_off"]
		delete f
	}'
}
count() { pkt_all "$CAP.txt" "$@" | wc -l; }

# (c) inherit: the first inner fragment (1476 bytes, A cuts 1488 at the
# device MTU 1480) is sent in outer fragments without DF.
log "(c) inherit on the wire: $(summary i_dst=192.168.2.4)"
check_ge "(c) inherit: outer first fragments (MF, no DF) for 192.168.2.4" 1 \
	"$(count i_dst=192.168.2.4 o_mf=1 o_df=0 o_off=0)"
check_eq "(c) inherit: outer packets for 192.168.2.4 with DF" 0 "$(count i_dst=192.168.2.4 o_df=1)"

# (c) yes: the inner packet is cut to fit 1380; every outer packet whole,
# with DF.
log "(c) yes on the wire: $(summary i_dst=192.168.2.5)"
check_ge "(c) yes: outer packets for 192.168.2.5" 3 "$(count i_dst=192.168.2.5)"
check_eq "(c) yes: outer packets for 192.168.2.5 without DF" 0 "$(count i_dst=192.168.2.5 o_df=0)"
check_eq "(c) yes: outer fragments for 192.168.2.5" 0 "$(count i_dst=192.168.2.5 o_mf=1)"
check_ge "(c) yes: inner fragments (MF) inside whole outer packets" 2 \
	"$(count i_dst=192.168.2.5 o_df=1 o_mf=0 o_off=0 i_mf=1)"

# (d) no: one inner packet with DF, in outer fragments without DF.
log "(d) no on the wire: $(summary i_dst=192.168.2.6)"
check_eq "(d) no: outer first fragments (MF, no DF) with the DF inner packet" 1 \
	"$(count i_dst=192.168.2.6 i_df=1 i_len=1428 o_mf=1 o_df=0 o_off=0)"

exit $RET
