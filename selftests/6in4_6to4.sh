#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Automatic 6to4 (RFC 3056) with an ipt_6in4 device without a remote:
# the outer destination is the IPv4 address embedded in a 2002::/48
# destination, or in the route's gateway for native IPv6 (a relay, given
# as 2002:WWXX:YYZZ::1 or as the IPv4-compatible ::a.b.c.d); inbound
# protocol 41 is taken from anyone, with the RFC 3964 checks.
#
#   $H1 (ipt_6in4, no remote)       $INET (IPv4 router)          $H2 (in-tree sit remote any)
#   tun6to4 2002:c000:201::1/16                                   tun6to4 2002:c633:6401::1/16
#   veth 192.0.2.1/24 ------------ h1 .254   h2 .254 ------------ veth 198.51.100.1/24
#   ::/0 via 2002:c058:6301::1      |            |                ::/0 via ::192.88.99.1
#   tun6to4p local 10.1.1.1 (dummy) |            |
#                                  relay .254   evil .254
#                                   |            |
#   $RELAY (in-tree sit remote any) |            $EVIL (scapy: crafted protocol 41)
#   veth 192.88.99.1/24 ------------+            veth 203.0.113.66/24 ---+
#   tun6to4 2002:c058:6301::1/16
#   nat 2001:db8:ffff::1/64 ------------------- $N (native IPv6) eth0 2001:db8:ffff::2/64
#
# Checked: 6to4 host to 6to4 host both ways (ipt <-> in-tree sit) with the
# outer addresses on the wire; native IPv6 through the relay with each
# way of naming it; the RFC 3964 drops on receive (crafted on $EVIL:
# rx_dropped and IPT_XSTATS_DROP_6TO4 grow by exactly the number sent,
# nothing is delivered, the valid controls are) and on transmit (no
# protocol 41 to an embedded private, loopback or multicast address).

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd ping tcpdump nft
require_module sit veth dummy nf_tables
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"
UAPI=$(cd "$(dirname "$0")/.." && pwd)/include/uapi/linux/ipt.h
[ -r "$UAPI" ] || skip "cannot read $UAPI"

TMPD=$(mktemp -d /tmp/6in4_6to4.XXXXXX) || die "mktemp"

H1_4=192.0.2.1
H2_4=198.51.100.1
RELAY4=192.88.99.1
EVIL4=203.0.113.66
H1_6=2002:c000:201::1		# 192.0.2.1
H2_6=2002:c633:6401::1		# 198.51.100.1
RELAY6=2002:c058:6301::1	# 192.88.99.1
EVIL6=2002:cb00:7142::1		# 203.0.113.66
NATIVE=2001:db8:ffff::2

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

# xstat NS DEV NAME: one extended statistic, "n/a" if there is none.
xstat() {
	local v
	v=$(ns_exec "$1" "$PY" "$TMPD/xstats.py" "$UAPI" "$2" | awk -v n="$3" '$1 == n { print $2 }')
	echo "${v:-n/a}"
}

stat() { ns_exec "$1" cat "/sys/class/net/$2/statistics/$3"; }

CAP_SNAPLEN=128

# cap_text FILE: the capture as text, one line per packet.
cap_text() { tcpdump -n -r "$1" 2>/dev/null; }

# cap_count FILE REGEX: packets of the capture whose line matches.
cap_count() { cap_text "$1" | grep -c -E "$2"; }

# check_cap WHAT FILE REGEX MIN: at least MIN such packets (tcpdump may
# write them a little after the pings returned).
__cap_ge() { [ "$(cap_count "$1" "$2")" -ge "$3" ]; }
check_cap() {
	wait_for -t 10 __cap_ge "$2" "$3" "$4"
	check_ge "$1" "$4" "$(cap_count "$2" "$3")"
}

# --- topology ----------------------------------------------------------------

setup_ns INET H1 H2 RELAY EVIL N
# No DAD; on the 6to4 hosts no link-local addresses, MLD reports or
# router solicitations: a 6to4 tunnel has no IPv4 destination for
# multicast, and they would show up in the counters checked below.
for ns in "$INET" "$H1" "$H2" "$RELAY" "$EVIL" "$N"; do
	ns_exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0
	ns_exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
done
for ns in "$H1" "$H2"; do
	ns_exec "$ns" sysctl -qw net.ipv6.conf.default.addr_gen_mode=1
done
for ns in "$H1" "$H2" "$RELAY"; do
	ns_exec "$ns" nft -f - <<-'NFT' || die "nft in $ns"
	table ip6 quiet {
		chain output {
			type filter hook output priority 0;
			icmpv6 type { 130, 131, 132, 133, 143 } drop comment "MLD, RS"
		}
	}
	NFT
done

add_veth "$H1" veth "$H1_4/24" "$INET" h1 192.0.2.254/24
add_veth "$H2" veth "$H2_4/24" "$INET" h2 198.51.100.254/24
add_veth "$RELAY" veth "$RELAY4/24" "$INET" relay 192.88.99.254/24
add_veth "$EVIL" veth "$EVIL4/24" "$INET" evil 203.0.113.254/24
ip -n "$H1" route add default via 192.0.2.254 || die "default route on $H1"
ip -n "$H2" route add default via 198.51.100.254 || die "default route on $H2"
ip -n "$RELAY" route add default via 192.88.99.254 || die "default route on $RELAY"
ip -n "$EVIL" route add default via 203.0.113.254 || die "default route on $EVIL"
ns_exec "$INET" sysctl -qw net.ipv4.ip_forward=1

# H1: automatic ipt_6in4, and a second one on a private address
ip -n "$H1" link add tun6to4 type ipt_6in4 local "$H1_4" || die "cannot create ipt_6in4 tun6to4 on $H1"
ip -n "$H1" addr add "$H1_6/16" dev tun6to4 || die "address on $H1 tun6to4"
ip -n "$H1" link set tun6to4 up || die "tun6to4 up on $H1"
ip -n "$H1" link add dummy0 type dummy || die "dummy0 on $H1"
ip -n "$H1" addr add 10.1.1.1/32 dev dummy0 || die "10.1.1.1 on $H1"
ip -n "$H1" link set dummy0 up || die "dummy0 up on $H1"
ip -n "$INET" route add 10.1.1.1/32 via "$H1_4" || die "route to 10.1.1.1"
ip -n "$H1" link add tun6to4p type ipt_6in4 local 10.1.1.1 || die "cannot create tun6to4p on $H1"
ip -n "$H1" addr add 2002:a01:101::1/64 dev tun6to4p || die "address on tun6to4p"
ip -n "$H1" link set tun6to4p up || die "tun6to4p up on $H1"

# H2: the in-tree sit 6to4 host
ip -n "$H2" link add tun6to4 type sit remote any local "$H2_4" ttl 64 ||
	die "cannot create the in-tree sit 6to4 tunnel on $H2"
ip -n "$H2" addr add "$H2_6/16" dev tun6to4 || die "address on $H2 tun6to4"
ip -n "$H2" link set tun6to4 up || die "tun6to4 up on $H2"
ip -n "$H2" -6 route add default via "::$RELAY4" dev tun6to4 || die "relay route on $H2"

# RELAY: in-tree sit 6to4 router with native IPv6 behind it
ip -n "$RELAY" link add tun6to4 type sit remote any local "$RELAY4" ttl 64 ||
	die "cannot create the in-tree sit 6to4 tunnel on $RELAY"
ip -n "$RELAY" addr add "$RELAY6/16" dev tun6to4 || die "address on $RELAY tun6to4"
ip -n "$RELAY" link set tun6to4 up || die "tun6to4 up on $RELAY"
add_veth "$RELAY" nat 2001:db8:ffff::1/64 "$N" eth0 "$NATIVE/64"
ip -n "$N" -6 route add default via 2001:db8:ffff::1 || die "default route on $N"
ns_exec "$RELAY" sysctl -qw net.ipv6.conf.all.forwarding=1

for a in "$H2_4" "$RELAY4" "$EVIL4"; do
	wait_for -t 30 ping_ok "$H1" "$a" || die "no IPv4 from $H1 to $a"
done
ping_ok "$EVIL" 10.1.1.1 || die "no IPv4 from $EVIL to 10.1.1.1"

WIRE=$TMPD/wire.pcap
cap_start "$H1" veth "$WIRE" ip proto 41

# --- 6to4 <-> 6to4 -------------------------------------------------------------

log "6to4 host to 6to4 host: ipt_6in4 <-> in-tree sit"
wait_for -t 30 ping_ok "$H1" "$H2_6" || fail "$H1 (ipt) cannot ping $H2_6 (sit 6to4)"
tx0=$(link_stat "$H1" tun6to4 tx_packets)
rx0=$(link_stat "$H1" tun6to4 rx_packets)
ping_ok "$H1" "$H2_6" 5 && pass "ping6 $H1_6 -> $H2_6" || fail "ping6 $H1_6 -> $H2_6"
ping_ok "$H2" "$H1_6" 5 && pass "ping6 $H2_6 -> $H1_6" || fail "ping6 $H2_6 -> $H1_6"
check_eq "tun6to4 tx_packets for 10 pings" $((tx0 + 10)) "$(link_stat "$H1" tun6to4 tx_packets)"
check_eq "tun6to4 rx_packets for 10 pings" $((rx0 + 10)) "$(link_stat "$H1" tun6to4 rx_packets)"
check_cap "wire: protocol 41 $H1_4 > $H2_4" "$WIRE" "IP $H1_4 > $H2_4: IP6 $H1_6 > $H2_6" 10
check_cap "wire: protocol 41 $H2_4 > $H1_4" "$WIRE" "IP $H2_4 > $H1_4: IP6 $H2_6 > $H1_6" 10

# --- native IPv6 through the relay ----------------------------------------------------

log "native IPv6 through the relay"
wait_for -t 30 ping_ok "$H2" "$NATIVE" || fail "the relay does not work for in-tree sit ($H2)"

relay_ping() { # WHAT: ping the native host through the relay, see it on the wire
	local what=$1 to0 from0
	to0=$(cap_count "$WIRE" "IP $H1_4 > $RELAY4: IP6 $H1_6 > $NATIVE")
	from0=$(cap_count "$WIRE" "IP $RELAY4 > $H1_4: IP6 $NATIVE > $H1_6")
	if wait_for -t 20 ping_ok "$H1" "$NATIVE"; then
		pass "$what: ping6 $NATIVE"
	else
		fail "$what: ping6 $NATIVE failed"
	fi
	ping_ok "$H1" "$NATIVE" 3 || fail "$what: 3 more pings to $NATIVE"
	check_cap "$what: protocol 41 to the relay $RELAY4 on the wire" "$WIRE" \
		"IP $H1_4 > $RELAY4: IP6 $H1_6 > $NATIVE" $((to0 + 4))
	check_cap "$what: protocol 41 from the relay $RELAY4 on the wire" "$WIRE" \
		"IP $RELAY4 > $H1_4: IP6 $NATIVE > $H1_6" $((from0 + 4))
}

if ip -n "$H1" -6 route add default via "$RELAY6" dev tun6to4; then
	relay_ping "default via $RELAY6 (6to4 address of the relay)"
	ip -n "$H1" -6 route del default || fail "cannot delete the default route"
else
	fail "ip -6 route add default via $RELAY6 dev tun6to4 refused"
fi
if out=$(ip -n "$H1" -6 route add default via "::$RELAY4" dev tun6to4 2>&1); then
	relay_ping "default via ::$RELAY4 (IPv4-compatible)"
	ip -n "$H1" -6 route del default || fail "cannot delete the default route"
else
	fail "ip -6 route add default via ::$RELAY4 dev tun6to4 refused (as sit takes it): $out"
fi
if ip -n "$H1" -6 route add default via "::$RELAY4" dev tun6to4 onlink; then
	relay_ping "default via ::$RELAY4 onlink"
	ip -n "$H1" -6 route del default || fail "cannot delete the default route"
else
	fail "ip -6 route add default via ::$RELAY4 dev tun6to4 onlink refused"
fi
ip -n "$H1" -6 route add default via "$RELAY6" dev tun6to4 || fail "relay route back"

# --- RFC 3964 on receive ---------------------------------------------------------------

log "RFC 3964: protocol 41 crafted on $EVIL"
TUN=$TMPD/tun.pcap
cap_start "$H1" tun6to4 "$TUN" icmp6
dropped0=$(stat "$H1" tun6to4 rx_dropped)
rx0=$(link_stat "$H1" tun6to4 rx_packets)
x0=$(xstat "$H1" tun6to4 DROP_6TO4)
pdropped0=$(stat "$H1" tun6to4p rx_dropped)
prx0=$(link_stat "$H1" tun6to4p rx_packets)
px0=$(xstat "$H1" tun6to4p DROP_6TO4)

# One echo reply per case (nothing answers it), told apart by its ICMPv6
# id.  The last two go to tun6to4p (10.1.1.1).
ns_exec "$EVIL" "$PY" - <<EOF || fail "scapy could not send the crafted packets"
from scapy.all import IP, IPv6, ICMPv6EchoReply, Raw, conf, send
from scapy.supersocket import L3RawSocket
conf.L3socket = L3RawSocket
cases = [  # (id, outer src, outer dst, inner src, inner dst)
    # dropped: the 2002:: inner source does not embed the outer source
    (0x101, "$EVIL4", "$H1_4", "$H2_6", "$H1_6"),
    (0x102, "$EVIL4", "$H1_4", "2002:a00:1::1", "$H1_6"),	# 10.0.0.1
    (0x103, "$EVIL4", "$H1_4", "2002:7f00:1::1", "$H1_6"),	# 127.0.0.1
    (0x104, "$EVIL4", "$H1_4", "2002:e000:1::1", "$H1_6"),	# 224.0.0.1
    (0x105, "$EVIL4", "$H1_4", "2002:c0a8:101::1", "$H1_6"),	# 192.168.1.1
    # dropped: embeds the outer source, but a private one
    (0x106, "10.0.0.1", "$H1_4", "2002:a00:1::1", "$H1_6"),
    (0x107, "172.16.0.1", "$H1_4", "2002:ac10:1::1", "$H1_6"),
    # dropped: the 2002:: inner destination does not embed the outer one
    (0x108, "$EVIL4", "$H1_4", "$EVIL6", "$H2_6"),
    # valid: a 6to4 source embedding the outer source, a native source
    (0x181, "$EVIL4", "$H1_4", "$EVIL6", "$H1_6"),
    (0x182, "$EVIL4", "$H1_4", "2001:db8:eeee::1", "$H1_6"),
    # tun6to4p: a 2002:: destination embedding its private local address
    (0x109, "$EVIL4", "10.1.1.1", "$EVIL6", "2002:a01:101::1"),
    # tun6to4p: valid, native destination
    (0x183, "$EVIL4", "10.1.1.1", "$EVIL6", "2001:db8:1::1"),
]
for i, osrc, odst, isrc, idst in cases:
    send(IP(src=osrc, dst=odst, ttl=64) / IPv6(src=isrc, dst=idst, hlim=64) /
         ICMPv6EchoReply(id=i, seq=1) / Raw(b"x" * 32), verbose=0)
EOF

DROPPED=8
rx_now() { [ "$(link_stat "$H1" tun6to4 rx_packets)" = "$((rx0 + 2))" ]; }
wait_for -t 20 rx_now
check_eq "tun6to4 rx_dropped: the $DROPPED invalid packets" $((dropped0 + DROPPED)) \
	"$(stat "$H1" tun6to4 rx_dropped)"
check_eq "tun6to4 IPT_XSTATS_DROP_6TO4: the $DROPPED invalid packets" $((x0 + DROPPED)) \
	"$(xstat "$H1" tun6to4 DROP_6TO4)"
check_eq "tun6to4 rx_packets: the 2 valid packets" $((rx0 + 2)) "$(link_stat "$H1" tun6to4 rx_packets)"
check_eq "tun6to4p rx_dropped: 2002:a01:101:: destination" $((pdropped0 + 1)) \
	"$(stat "$H1" tun6to4p rx_dropped)"
check_eq "tun6to4p IPT_XSTATS_DROP_6TO4" $((px0 + 1)) "$(xstat "$H1" tun6to4p DROP_6TO4)"
check_eq "tun6to4p rx_packets: the valid packet" $((prx0 + 1)) "$(link_stat "$H1" tun6to4p rx_packets)"

# 0x182 is the last one sent to tun6to4: once it is in the capture, all are
TXT=$TMPD/tun.txt
tun_caught_up() { cap_text "$TUN" > "$TXT" && grep -q "echo reply, id $((0x182)), seq 1" "$TXT"; }
wait_for -t 10 tun_caught_up
for id in 0x181 0x182; do
	check_eq "valid packet id $id delivered on tun6to4" 1 \
		"$(grep -c "echo reply, id $((id)), seq 1" "$TXT")"
done
n=$(grep -c -E "echo reply, id (257|258|259|260|261|262|263|264), " "$TXT")
check_eq "invalid packets delivered on tun6to4" 0 "$n"

# --- RFC 3964 on transmit -----------------------------------------------------------------

log "RFC 3964: no protocol 41 to embedded private, loopback, multicast addresses"
tx0=$(link_stat "$H1" tun6to4 tx_packets)
txc0=$(stat "$H1" tun6to4 tx_carrier_errors)
x0=$(xstat "$H1" tun6to4 DROP_6TO4)
n=0
for a in 2002:a00:1::1=10.0.0.1 2002:ac10:1::1=172.16.0.1 2002:c0a8:101::1=192.168.1.1 \
	 2002:7f00:1::1=127.0.0.1 2002:a9fe:101::1=169.254.1.1 2002:e000:1::1=224.0.0.1 \
	 2002:ffff:ffff::1=255.255.255.255 2002::1=0.0.0.0; do
	if ns_exec "$H1" ping -n -c 1 -W 2 "${a%=*}" >/dev/null 2>&1; then
		fail "ping6 ${a%=*} (embedding ${a#*=}) was answered"
	fi
	n=$((n + 1))
done
check_eq "tun6to4 tx_packets for $n pings to unusable 6to4 addresses" "$tx0" "$(link_stat "$H1" tun6to4 tx_packets)"
check_eq "tun6to4 tx_carrier_errors" $((txc0 + n)) "$(stat "$H1" tun6to4 tx_carrier_errors)"
check_eq "tun6to4 IPT_XSTATS_DROP_6TO4 on transmit" $((x0 + n)) "$(xstat "$H1" tun6to4 DROP_6TO4)"
bad=$(cap_text "$WIRE" | grep -c -E "> (10\.0\.0\.1|172\.16\.0\.1|192\.168\.1\.1|127\.0\.0\.1|169\.254\.1\.1|224\.0\.0\.1|255\.255\.255\.255|0\.0\.0\.0): ")
check_eq "protocol 41 to unusable addresses on the wire" 0 "$bad"

log "6in4_6to4 took ${SECONDS}s"
exit $RET
