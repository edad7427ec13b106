#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ipt_6in4 against the in-tree sit driver, and next to it.
#
# 1. Interop: ipt_6in4 in $NSA, in-tree sit in $NSB.  Ping and a 20 MB
#    TCP transfer over IPv6 (sha256 checked on the receiver) each way.
#
#   +------------------------------+               +------------------------------+
#   | $NSA                         |               | $NSB                         |
#   |  ipt0 (ipt_6in4)             | IPv6 in IPv4  |  tun0 (sit)                  |
#   |   2001:db8:46::1/64          |  protocol 41  |   2001:db8:46::2/64          |
#   |   local 192.0.2.1 ==================================== local 192.0.2.2     |
#   |  veth0 192.0.2.1/24 ---------+-- veth pair --+--------- veth1 192.0.2.2/24  |
#   +------------------------------+               +------------------------------+
#
# 2. Coexistence: $H has an ipt_6in4 tunnel to $P1, an in-tree sit tunnel
#    to $P2, an automatic (6to4) ipt_6in4 tunnel on a third address of
#    its own, and the in-tree fallback device sit0 UP.  Each peer's
#    packets must land on its own device: what matches no ipt tunnel is
#    handed to sit untouched (same byte count) and counted in ipt's
#    namespace-wide IPT_XSTATS_NO_TUNNEL; what matches no tunnel at all
#    (from $P2's second address) ends up on sit0.
#
#   $P1                                $H                                     $P2
#   ipt1 2001:db8:1::2 ==== ipt1  (ipt_6in4) 2001:db8:1::1
#                           itree (sit)      2001:db8:2::1 ================ itree 2001:db8:2::2
#                           sit0  (UP, no tunnel)         <================ stray 2001:db8:3::2
#                           tun6to4 (ipt_6in4, no remote) local 203.0.113.1 (on a dummy)
#   veth 192.0.2.2 ---- p1 192.0.2.1        p2 198.51.100.1/24 ------- veth 198.51.100.2
#                                                                          + 198.51.100.3

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SIZE_MB=20
PINGS=10
PING_INNER=104	# default ping6: 56 bytes of data + 8 ICMPv6 + 40 IPv6
UAPI=$(cd "$(dirname "$0")/.." && pwd)/include/uapi/linux/ipt.h

require_ipt
require_cmd ip ping ss sha256sum nft
require_module sit veth dummy nf_tables
[ -x "$PY" ] || skip "$PY not installed"
[ -r "$UAPI" ] || skip "cannot read $UAPI"

TMPD=$(mktemp -d /tmp/6in4_interop.XXXXXX) || die "mktemp"

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

# Nothing but our traffic on the tunnels, for exact counters: no DAD, no
# link-local addresses (no router solicitations) and no MLD reports (sent
# for every address, tunnels included).
quiet_ns() {
	ns_exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0
	ns_exec "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0
	ns_exec "$1" sysctl -qw net.ipv6.conf.default.addr_gen_mode=1
	ns_exec "$1" nft -f - <<-'NFT' || die "nft in $1"
	table ip6 quiet {
		chain output {
			type filter hook output priority 0;
			icmpv6 type { 130, 131, 132, 143 } drop comment "MLD"
		}
	}
	NFT
}

# tunnel NS NAME ADDR/PREFIX KIND ARGS...: make a tunnel device and bring it up.
tunnel() {
	local ns=$1 name=$2 addr=$3 kind=$4
	shift 4
	ip -n "$ns" link add "$name" type "$kind" "$@" ||
		die "ip link add $name type $kind $* in $ns failed"
	ip -n "$ns" addr add "$addr" dev "$name" nodad || die "address $addr on $name in $ns"
	ip -n "$ns" link set "$name" up || die "$name up in $ns"
}

# delta NS DEV COUNTER BEFORE: the counter's growth since BEFORE.
delta() {
	local now
	now=$(link_stat "$1" "$2" "$3") || { echo "n/a"; return; }
	echo $((now - $4))
}

# tcp_transfer FROM_NS TO_NS TO_ADDR LABEL: send $SIZE_MB MB of random data
# from FROM_NS to a listener on TO_ADDR in TO_NS and compare sha256 sums.
PORT=5000
tcp_transfer() {
	local from=$1 to=$2 addr=$3 what=$4 src dst want got pid port
	port=$((PORT++))
	src=$TMPD/tcp-$port.src
	dst=$TMPD/tcp-$port.dst
	head -c "${SIZE_MB}M" /dev/urandom > "$src" || die "cannot write $src"
	want=$(sha256sum < "$src" | cut -d' ' -f1)

	ns_exec "$to" "$PY" - "$addr" "$port" "$dst" <<-'EOF' &
	import socket, sys
	addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	s = socket.socket(socket.AF_INET6)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	s.bind((addr, port))
	s.listen(1)
	s.settimeout(300)
	c, _ = s.accept()
	c.settimeout(300)
	with open(out, "wb") as f:
	    while True:
	        d = c.recv(1 << 16)
	        if not d:
	            break
	        f.write(d)
	c.close()
	EOF
	pid=$!
	listening() { [ -n "$(ns_exec "$to" ss -Hltn "sport = :$port")" ]; }
	wait_for -t 60 listening || { kill "$pid" 2>/dev/null; fail "$what: no listener on [$addr]:$port"; return; }

	ns_exec "$from" "$PY" - "$addr" "$port" "$src" <<-'EOF'
	import socket, sys
	addr, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	s = socket.create_connection((addr, port), timeout=300)
	with open(src, "rb") as f:
	    s.sendfile(f)
	s.shutdown(socket.SHUT_WR)
	s.recv(1)	# the receiver closes once it has everything
	s.close()
	EOF
	[ $? = 0 ] || fail "$what: the sender failed"
	wait "$pid" || fail "$what: the receiver failed"

	got=$(ns_exec "$to" sha256sum < "$dst" | cut -d' ' -f1)
	check_eq "$what: sha256 of the $SIZE_MB MB received" "$want" "$got"
	rm -f "$src" "$dst"
}

# ---------------------------------------------------------------------------
log "=== 1. ipt_6in4 <-> in-tree sit"

setup_ns NSA NSB
quiet_ns "$NSA"
quiet_ns "$NSB"
add_veth "$NSA" veth0 192.0.2.1/24 "$NSB" veth1 192.0.2.2/24
tunnel "$NSA" ipt0 2001:db8:46::1/64 ipt_6in4 local 192.0.2.1 remote 192.0.2.2
tunnel "$NSB" tun0 2001:db8:46::2/64 sit local 192.0.2.2 remote 192.0.2.1 ttl 64
wait_for -t 30 ping_ok "$NSA" 192.0.2.2 || die "no connectivity over the veth pair"
check_eq "ipt0 MTU" 1480 "$(ns_exec "$NSA" cat /sys/class/net/ipt0/mtu)"
check_eq "sit tun0 MTU" 1480 "$(ns_exec "$NSB" cat /sys/class/net/tun0/mtu)"
wait_for -t 30 ping_ok "$NSA" 2001:db8:46::2 || fail "no ping6 over the tunnel at all"

rx_a=$(link_stat "$NSA" ipt0 rx_packets)
rx_b=$(link_stat "$NSB" tun0 rx_packets)
tx_a=$(link_stat "$NSA" ipt0 tx_packets)
if ping_ok "$NSA" 2001:db8:46::2 "$PINGS"; then
	pass "ping6 ipt_6in4 -> sit"
else
	fail "ping6 2001:db8:46::1 (ipt_6in4) -> 2001:db8:46::2 (in-tree sit) failed"
fi
check_eq "ipt0 tx_packets after $PINGS pings ipt -> sit" "$PINGS" "$(delta "$NSA" ipt0 tx_packets "$tx_a")"
check_eq "tun0 rx_packets after $PINGS pings ipt -> sit" "$PINGS" "$(delta "$NSB" tun0 rx_packets "$rx_b")"
check_eq "ipt0 rx_packets (echo replies from sit)" "$PINGS" "$(delta "$NSA" ipt0 rx_packets "$rx_a")"

rx_a=$(link_stat "$NSA" ipt0 rx_packets)
rx_b=$(link_stat "$NSB" tun0 rx_packets)
if ping_ok "$NSB" 2001:db8:46::1 "$PINGS"; then
	pass "ping6 sit -> ipt_6in4"
else
	fail "ping6 2001:db8:46::2 (in-tree sit) -> 2001:db8:46::1 (ipt_6in4) failed"
fi
check_eq "ipt0 rx_packets after $PINGS pings sit -> ipt" "$PINGS" "$(delta "$NSA" ipt0 rx_packets "$rx_a")"
check_eq "tun0 rx_packets (echo replies from ipt)" "$PINGS" "$(delta "$NSB" tun0 rx_packets "$rx_b")"

rx_b=$(link_stat "$NSB" tun0 rx_bytes)
tcp_transfer "$NSA" "$NSB" 2001:db8:46::2 "TCP ipt_6in4 -> sit"
check_ge "tun0 rx_bytes during the transfer from ipt" $((SIZE_MB << 20)) "$(delta "$NSB" tun0 rx_bytes "$rx_b")"

rx_a=$(link_stat "$NSA" ipt0 rx_bytes)
tcp_transfer "$NSB" "$NSA" 2001:db8:46::1 "TCP sit -> ipt_6in4"
check_ge "ipt0 rx_bytes during the transfer from sit" $((SIZE_MB << 20)) "$(delta "$NSA" ipt0 rx_bytes "$rx_a")"

for c in rx_errors rx_dropped tx_errors tx_dropped; do
	check_eq "ipt0 $c" 0 "$(link_stat "$NSA" ipt0 $c)"
done

# ---------------------------------------------------------------------------
log "=== 2. ipt_6in4, in-tree sit and sit0 in one namespace"

setup_ns H P1 P2
quiet_ns "$H"
quiet_ns "$P1"
quiet_ns "$P2"
add_veth "$H" p1 192.0.2.1/24 "$P1" veth 192.0.2.2/24
add_veth "$H" p2 198.51.100.1/24 "$P2" veth 198.51.100.2/24
ip -n "$P2" addr add 198.51.100.3/24 dev veth || die "second address on $P2"
ip -n "$H" link add dummy0 type dummy || die "dummy0 in $H"
ip -n "$H" addr add 203.0.113.1/32 dev dummy0 || die "address on dummy0"
ip -n "$H" link set dummy0 up || die "dummy0 up"

tunnel "$H" ipt1 2001:db8:1::1/64 ipt_6in4 local 192.0.2.1 remote 192.0.2.2
tunnel "$H" itree 2001:db8:2::1/64 sit local 198.51.100.1 remote 198.51.100.2 ttl 64
tunnel "$H" tun6to4 2002:cb00:7101::1/16 ipt_6in4 local 203.0.113.1
ip -n "$H" link show sit0 >/dev/null 2>&1 || die "no sit0 in $H (sit fallback device)"
ip -n "$H" link set sit0 up || die "sit0 up in $H"

tunnel "$P1" ipt1 2001:db8:1::2/64 ipt_6in4 local 192.0.2.2 remote 192.0.2.1
tunnel "$P2" itree 2001:db8:2::2/64 sit local 198.51.100.2 remote 198.51.100.1 ttl 64
# matches no tunnel of $H: only its fallback device may take it
tunnel "$P2" stray 2001:db8:3::2/64 sit local 198.51.100.3 remote 198.51.100.1 ttl 64

wait_for -t 30 ping_ok "$P1" 192.0.2.1 || die "no connectivity $P1 -> $H"
wait_for -t 30 ping_ok "$P2" 198.51.100.1 || die "no connectivity $P2 -> $H"
wait_for -t 30 ping_ok "$P1" 2001:db8:1::1 || fail "no ping6 $P1 -> $H over ipt_6in4 at all"
wait_for -t 30 ping_ok "$P2" 2001:db8:2::1 || fail "no ping6 $P2 -> $H over sit at all"

# snap: remember $H's tunnel rx counters and ipt's no-tunnel count
DEVS="ipt1 itree sit0 tun6to4"
snap() {
	local d c
	for d in $DEVS; do
		for c in rx_packets rx_bytes; do
			printf -v "S_${d}_$c" '%s' "$(link_stat "$H" $d $c)"
		done
	done
	S_no_tunnel=$(xstat "$H" ipt1 NO_TUNNEL)
}
# expect_rx WHAT IPT1 ITREE SIT0 TUN6TO4 NO_TUNNEL: packets each of $H's
# devices received since snap, $PING_INNER bytes each, and the growth of
# IPT_XSTATS_NO_TUNNEL.
expect_rx() {
	local what=$1 d n v
	shift
	for d in $DEVS; do
		n=$1
		shift
		v=S_${d}_rx_packets
		check_eq "$what: $d rx_packets" "$n" "$(delta "$H" $d rx_packets "${!v}")"
		v=S_${d}_rx_bytes
		check_eq "$what: $d rx_bytes" $((n * PING_INNER)) "$(delta "$H" $d rx_bytes "${!v}")"
	done
	check_eq "$what: IPT_XSTATS_NO_TUNNEL growth" "$1" \
		"$(( $(xstat "$H" ipt1 NO_TUNNEL) - S_no_tunnel ))"
}

check_eq "IPT_XSTATS_NO_TUNNEL is namespace-wide (ipt1 and tun6to4 agree)" \
	"$(xstat "$H" ipt1 NO_TUNNEL)" "$(xstat "$H" tun6to4 NO_TUNNEL)"

snap
ping_ok "$P1" 2001:db8:1::1 "$PINGS" && pass "ping6 $P1 -> $H over ipt_6in4" ||
	fail "ping6 $P1 -> $H over ipt_6in4 failed"
expect_rx "$PINGS pings from P1 (ipt_6in4)" "$PINGS" 0 0 0 0

snap
ping_ok "$P2" 2001:db8:2::1 "$PINGS" && pass "ping6 $P2 -> $H over in-tree sit" ||
	fail "ping6 $P2 -> $H over in-tree sit failed (not passed on by ipt?)"
expect_rx "$PINGS pings from P2 (in-tree sit)" 0 "$PINGS" 0 0 "$PINGS"

snap
# nothing answers 2001:db8:3::1: only the count on sit0 matters
ns_exec "$P2" ping -q -n -c "$PINGS" -i 0.2 -W 1 2001:db8:3::1 >/dev/null 2>&1
expect_rx "$PINGS pings from P2's unknown address (fallback)" 0 0 "$PINGS" 0 "$PINGS"

ping_ok "$H" 2001:db8:1::2 3 || fail "ping6 $H -> $P1 over ipt_6in4 failed"
ping_ok "$H" 2001:db8:2::2 3 || fail "ping6 $H -> $P2 over in-tree sit failed"
for d in ipt1 itree tun6to4; do
	check_eq "$H $d rx_errors" 0 "$(link_stat "$H" $d rx_errors)"
	check_eq "$H $d rx_dropped" 0 "$(link_stat "$H" $d rx_dropped)"
done
check_eq "$H tun6to4 DROP_6TO4" 0 "$(xstat "$H" tun6to4 DROP_6TO4)"

log "6in4_interop took ${SECONDS}s"
exit $RET
