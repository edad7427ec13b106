#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Path MTU through ipt_6in4, in the manner of the kernel's
# tools/testing/selftests/net/pmtu.sh (pmtu_ipv6_ipv4_exception, its check
# of the sit route exception: route_get_dst_pmtu_from_exception):
#
#  - the tunnel MTU: underlay device MTU - 20 (1480 on 1500, 1472 on
#    1492), following the underlay, never below 1280;
#  - Packet Too Big for what exceeds the tunnel MTU: a local sender gets
#    EMSGSIZE with the MTU, a forwarded packet's sender a PTB;
#  - an ICMPv4 "fragmentation needed" from a router of the underlay
#    lowers the outer route's PMTU and becomes at once a PTB to the inner
#    sender and an IPv6 route exception through the tunnel (path MTU
#    1400 -> 1380 after one packet); once the outer PMTU is known, a
#    packet too big for it is refused with a PTB by the tunnel itself;
#  - an underlay path MTU below 1300 (1200): the sender is told 1280, and
#    packets of 1280 still get through, the outer IPv4 packet fragmented.
#
#  $L                 $A                              $R                        $B
#  eth0 ------------- lan                                                        (in-tree sit)
#  2001:db8:10::2/64  2001:db8:10::1/64
#                     wan 192.0.2.1/24 ------ to-a .254  to-b 198.51.100.254 - wan 198.51.100.2/24
#                                                          (mtu 1500/1400/1200)  (same)
#                     ipt0 (ipt_6in4) 2001:db8:46::1 =========================== tun0 2001:db8:46::2
#                                                                                 + ::d1 .. ::d6
#                     ppp0 (dummy, mtu 1492) 203.0.113.1/24
#                     t1492 (ipt_6in4) remote 203.0.113.2
#
# Each check uses a destination of its own ($B's ::dN addresses): IPv6
# route exceptions are per destination and outlive `ip -6 route flush
# cache`.  `ip route flush cache` on $A forgets the outer PMTU.

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd ping tcpdump
require_module sit veth dummy
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"
UAPI=$(cd "$(dirname "$0")/.." && pwd)/include/uapi/linux/ipt.h
[ -r "$UAPI" ] || skip "cannot read $UAPI"

TMPD=$(mktemp -d /tmp/6in4_pmtu.XXXXXX) || die "mktemp"

A4=192.0.2.1
B4=198.51.100.2
L6=2001:db8:10::2
A6=2001:db8:46::1
B6=2001:db8:46::2
D=2001:db8:46::d		# D1 .. D6: ${D}1 ...

# xstats.py UAPI_HEADER IFNAME: the ipt extended statistics of IFNAME
# (u64 attributes nested in IFLA_LINKINFO/IFLA_INFO_XSTATS), one
# "NAME VALUE" line each, NAME without the IPT_XSTATS_ prefix.  The names
# and numbers come from the enum in the UAPI header.
cat > "$TMPD/xstats.py" <<'EOF'
import re, socket, struct, sys

text = open(sys.argv[1]).read()
body = re.search(r"enum\s*{\s*(IPT_XSTATS_UNSPEC\b.*?)}", text, re.S).group(1)
body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
names = [n.strip() for n in body.split(",") if n.strip()]

def attrs(buf):
    off = 0
    while off + 4 <= len(buf):
        n, t = struct.unpack("=HH", buf[off:off + 4])
        if n < 4:
            break
        yield t & 0x3fff, buf[off + 4:off + n]
        off += (n + 3) & ~3

name = sys.argv[2].encode() + b"\0"
ifname = struct.pack("=HH", 4 + len(name), 3) + name + bytes(-len(name) % 4)
body = struct.pack("=BxHiII", 0, 0, 0, 0, 0) + ifname
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.bind((0, 0))
s.send(struct.pack("=IHHII", 16 + len(body), 18, 1, 1, 0) + body)	# RTM_GETLINK
r = s.recv(65536)
if struct.unpack("=H", r[4:6])[0] != 16:				# RTM_NEWLINK
    sys.exit("%s: no such device" % sys.argv[2])
for t, v in attrs(r[32:]):
    if t == 18:						# IFLA_LINKINFO
        for t2, v2 in attrs(v):
            if t2 == 3:					# IFLA_INFO_XSTATS
                for t3, v3 in attrs(v2):
                    if len(v3) == 8 and t3 < len(names):
                        print(names[t3].replace("IPT_XSTATS_", ""),
                              struct.unpack("=Q", v3)[0])
EOF

# xstat NAME: one extended statistic of $A's ipt0, "n/a" if there is none.
xstat() {
	local v
	v=$(ns_exec "$A" "$PY" "$TMPD/xstats.py" "$UAPI" ipt0 | awk -v n="$1" '$1 == n { print $2 }')
	echo "${v:-n/a}"
}

# As pmtu.sh: the value after "mtu" in `ip route get`, "lock N" if locked.
mtu_parse() {
	local next=0 i
	for i in $1; do
		[ $next -eq 1 ] && [ "$i" = lock ] && next=2 && continue
		[ $next -eq 1 ] && echo "$i" && return
		[ $next -eq 2 ] && echo "lock $i" && return
		[ "$i" = mtu ] && next=1
	done
}
# route_get_dst_pmtu_from_exception NS DST
route_get_dst_pmtu_from_exception() {
	mtu_parse "$(ip -n "$1" route get "$2" 2>&1)"
}
pmtu_is() { [ "$(route_get_dst_pmtu_from_exception "$1" "$2")" = "$3" ]; }

# check_pmtu WHAT NS DST EXPECTED: poll, the ICMP is handled in softirq
check_pmtu() {
	wait_for -t 5 pmtu_is "$2" "$3" "$4"
	check_eq "$1: route exception for $3 in $2" "$4" "$(route_get_dst_pmtu_from_exception "$2" "$3")"
}

mtu_of() { ns_exec "$A" cat "/sys/class/net/$1/mtu" 2>/dev/null || echo "(no $1)"; }
mtu_is() { [ "$(mtu_of "$1")" = "$2" ]; }
check_mtu() { # DEV EXPECTED WHY
	wait_for -t 5 mtu_is "$1" "$2"
	check_eq "$1 MTU $3" "$2" "$(mtu_of "$1")"
}

# ping6 NS SIZE DST PING_OPTION...: one ping, its output in $OUT, true if
# answered.
ping6() {
	local ns=$1 size=$2 dst=$3
	shift 3
	OUT=$(ns_exec "$ns" ping -6 -n -c 1 -W 3 -s "$size" "$@" "$dst" 2>&1)
}

# expect_ptb WHAT NS SIZE DST MTU [PING_OPTION...]: the ping is refused
# and its output names MTU (a Packet Too Big or a local EMSGSIZE).
expect_ptb() {
	local what=$1 ns=$2 size=$3 dst=$4 mtu=$5
	shift 5
	if ping6 "$ns" "$size" "$dst" "$@"; then
		fail "$what: ping -s $size $dst was answered, expected to be told mtu $mtu"
		return
	fi
	case $OUT in
	*"Packet too big: mtu=$mtu"*) pass "$what: Packet too big: mtu=$mtu" ;;
	*"message too long, mtu: $mtu"*|*"message too long, mtu=$mtu"*)
		pass "$what: local error: message too long, mtu $mtu" ;;
	*) fail "$what: expected to be told mtu $mtu, ping said: $(echo $OUT)" ;;
	esac
}

# expect_reply WHAT NS SIZE DST [PING_OPTION...]
expect_reply() {
	local what=$1 ns=$2 size=$3 dst=$4
	shift 4
	if ping6 "$ns" "$size" "$dst" "$@"; then
		pass "$what: ping -s $size $* answered"
	else
		fail "$what: ping -s $size $* $dst not answered: $(echo $OUT)"
	fi
}

# underlay_path MTU: the MTU of the R-B link, both ends
underlay_path() {
	ip -n "$R" link set to-b mtu "$1" || fail "R to-b mtu $1"
	ip -n "$B" link set wan mtu "$1" || fail "B wan mtu $1"
}

# --- topology ----------------------------------------------------------------

setup_ns L A R B
for ns in "$L" "$A" "$R" "$B"; do
	ns_exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0
	ns_exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
done
add_veth "$L" eth0 "$L6/64" "$A" lan 2001:db8:10::1/64
add_veth "$A" wan "$A4/24" "$R" to-a 192.0.2.254/24
add_veth "$R" to-b 198.51.100.254/24 "$B" wan "$B4/24"
ip -n "$L" -6 route add default via 2001:db8:10::1 || die "default route on $L"
ip -n "$A" route add default via 192.0.2.254 || die "default route on $A"
ip -n "$B" route add default via 198.51.100.254 || die "default route on $B"
ns_exec "$R" sysctl -qw net.ipv4.ip_forward=1
ns_exec "$A" sysctl -qw net.ipv6.conf.all.forwarding=1

ip -n "$A" link add ipt0 type ipt_6in4 local "$A4" remote "$B4" || die "cannot create ipt0"
ip -n "$A" addr add "$A6/64" dev ipt0 nodad || die "address on ipt0"
ip -n "$A" link set ipt0 up || die "ipt0 up"

ip -n "$B" link add tun0 type sit local "$B4" remote "$A4" ttl 64 || die "cannot create sit tun0"
ip -n "$B" addr add "$B6/64" dev tun0 nodad || die "address on tun0"
for i in 1 2 3 4 5 6; do
	ip -n "$B" addr add "$D$i/64" dev tun0 nodad || die "address $D$i on tun0"
done
ip -n "$B" link set tun0 up || die "tun0 up"
ip -n "$B" -6 route add 2001:db8:10::/64 via "$A6" || die "LAN route on $B"

wait_for -t 30 ping_ok "$A" "$B4" || die "no IPv4 between $A and $B"
wait_for -t 30 ping_ok "$A" "$B6" || die "no IPv6 through the tunnel"
wait_for -t 30 ping_ok "$L" "$B6" || die "no IPv6 from the LAN through the tunnel"

# --- the tunnel MTU -------------------------------------------------------------

log "tunnel MTU: underlay MTU - 20, following the underlay"
check_mtu ipt0 1480 "on a 1500 underlay"
ip -n "$A" link add ppp0 mtu 1492 type dummy || die "dummy ppp0"
ip -n "$A" addr add 203.0.113.1/24 dev ppp0 || die "address on ppp0"
ip -n "$A" link set ppp0 up || die "ppp0 up"
ip -n "$A" link add t1492 type ipt_6in4 local 203.0.113.1 remote 203.0.113.2 || die "cannot create t1492"
check_mtu t1492 1472 "on a 1492 underlay (PPPoE)"
for m in 1400:1380 1300:1280 1290:1280 9000:8980 1492:1472; do
	ip -n "$A" link set ppp0 mtu "${m%:*}" || fail "ppp0 mtu ${m%:*}"
	check_mtu t1492 "${m#*:}" "after the underlay's MTU went to ${m%:*}"
done
ip -n "$A" link set wan mtu 1400 || fail "wan mtu 1400"
check_mtu ipt0 1380 "after wan mtu 1400"
ip -n "$A" link set wan mtu 1500 || fail "wan mtu 1500"
check_mtu ipt0 1480 "after wan back to 1500"

# --- Packet Too Big for the tunnel MTU ------------------------------------------

log "Packet Too Big for packets over the tunnel MTU (1480)"
expect_ptb "local sender, 1481 bytes" "$A" 1433 "$B6" 1480 -M "do"
expect_reply "local sender, 1480 bytes" "$A" 1432 "$B6" -M "do"
expect_ptb "forwarded, 1481 bytes" "$L" 1433 "$B6" 1480 -M "do"
expect_reply "forwarded, 1480 bytes" "$L" 1432 "$B6" -M "do"

# --- underlay path MTU 1400 --------------------------------------------------------

log "underlay path MTU 1400: IPv6 route exception at 1380 after one packet"
underlay_path 1400
upd0=$(xstat PMTU_UPDATES)
big0=$(xstat DROP_TOO_BIG)
# as pmtu.sh: -M want, a packet that fits the tunnel but not the path
expect_ptb "local sender, path 1400" "$A" 1400 "${D}1" 1380 -M want
check_pmtu "local sender, path 1400" "$A" "${D}1" 1380
check_pmtu "outer route" "$A" "$B4" 1400
check_eq "IPT_XSTATS_PMTU_UPDATES after one frag-needed" $((upd0 + 1)) "$(xstat PMTU_UPDATES)"
check_eq "IPT_XSTATS_DROP_TOO_BIG (sent, refused by the router)" "$big0" "$(xstat DROP_TOO_BIG)"
expect_reply "local sender, 1380 bytes" "$A" 1332 "${D}1" -M "do"
expect_ptb "local sender, 1381 bytes" "$A" 1333 "${D}1" 1380 -M "do"

log "forwarded packets"
expect_ptb "forwarded, to the known exception" "$L" 1400 "${D}1" 1380 -M "do"
check_pmtu "forwarded, to the known exception: sender" "$L" "${D}1" 1380
big1=$(xstat DROP_TOO_BIG)
expect_ptb "forwarded, new destination, outer PMTU known" "$L" 1400 "${D}2" 1380 -M "do"
check_eq "IPT_XSTATS_DROP_TOO_BIG: refused by the tunnel" $((big1 + 1)) "$(xstat DROP_TOO_BIG)"
check_pmtu "forwarded, new destination, outer PMTU known" "$A" "${D}2" 1380
check_pmtu "forwarded, new destination, outer PMTU known: sender" "$L" "${D}2" 1380
expect_reply "forwarded, 1380 bytes" "$L" 1332 "${D}2" -M "do"

log "forwarded, outer PMTU unknown: the frag-needed becomes a PTB at once"
ip -n "$A" route flush cache || fail "ip route flush cache"
check_eq "outer route after flush" "" "$(route_get_dst_pmtu_from_exception "$A" "$B4")"
upd1=$(xstat PMTU_UPDATES)
big1=$(xstat DROP_TOO_BIG)
expect_ptb "forwarded, outer PMTU unknown, first packet" "$L" 1400 "${D}3" 1380 -M "do"
check_eq "IPT_XSTATS_PMTU_UPDATES" $((upd1 + 1)) "$(xstat PMTU_UPDATES)"
check_eq "IPT_XSTATS_DROP_TOO_BIG (sent, refused by the router)" "$big1" "$(xstat DROP_TOO_BIG)"
check_pmtu "forwarded, outer PMTU unknown" "$A" "${D}3" 1380
check_pmtu "forwarded, outer PMTU unknown: outer route" "$A" "$B4" 1400
expect_reply "forwarded, 1380 bytes" "$L" 1332 "${D}3" -M "do"

# --- underlay path MTU 1200 ---------------------------------------------------------

log "underlay path MTU 1200: never below 1280, the outer packet is fragmented"
underlay_path 1200
ip -n "$A" route flush cache || fail "ip route flush cache"

WIRE=$TMPD/wire.pcap
CAP_SNAPLEN=64 cap_start "$B" wan "$WIRE" ip proto 41 and src host "$A4"

expect_ptb "local sender, path 1200" "$A" 1300 "${D}4" 1280 -M want
check_pmtu "local sender, path 1200" "$A" "${D}4" 1280
check_pmtu "outer route" "$A" "$B4" 1200
expect_reply "local sender, 1280 bytes over a 1200 path" "$A" 1232 "${D}4" -M "do"
expect_ptb "local sender, 1281 bytes" "$A" 1233 "${D}4" 1280 -M "do"

expect_ptb "forwarded, new destination, outer PMTU known" "$L" 1300 "${D}5" 1280 -M "do"
check_pmtu "forwarded, new destination, outer PMTU known" "$A" "${D}5" 1280
expect_reply "forwarded, 1280 bytes over a 1200 path" "$L" 1232 "${D}5" -M "do"

ip -n "$A" route flush cache || fail "ip route flush cache"
expect_ptb "forwarded, outer PMTU unknown, first packet" "$L" 1300 "${D}6" 1280 -M "do"
check_pmtu "forwarded, outer PMTU unknown" "$A" "${D}6" 1280
expect_reply "forwarded, 1280 bytes" "$L" 1232 "${D}6" -M "do"

# The 1280-byte packets crossed the 1200 path as outer IPv4 fragments
# without DF: tcpdump -v shows the first ones as "offset 0, flags [+]".
# Polled: tcpdump may write the last ones a little after the pings.
first_frags() {
	tcpdump -n -v -r "$WIRE" 2>/dev/null |
		grep -c -E "offset 0, flags \[\+\], proto IPv6 \(41\), length (1[01][0-9][0-9]|1200)\)"
}
__frags_ge() { [ "$(first_frags)" -ge "$1" ]; }
wait_for -t 10 __frags_ge 3
check_ge "outer first fragments (no DF, MF, at most 1200 bytes) of the 1280-byte packets" 3 "$(first_frags)"

log "6in4_pmtu took ${SECONDS}s"
exit $RET
