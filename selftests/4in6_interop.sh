#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ipt_4in6 against the in-tree ip6_tunnel driver (ip6tnl mode ipip6), and
# next to it.
#
# 1. Interop: ipt_4in6 in $NSA, in-tree ip6tnl in $NSB.  Ping and a 20 MB
#    TCP transfer (sha256 checked on the receiver) in each direction, in
#    three set-ups:
#      a. ip6tnl with its default encapsulation limit (it sends a
#         destination option, next header 60; ipt sends none, next header 4)
#      b. ip6tnl with "encaplimit none" (both send next header 4)
#      c. ipt_4in6 with "encaplimit 4" towards ip6tnl "encaplimit none"
#    An ingress nft chain on each veth counts what arrives from the wire by
#    next header, to show which format each side really received.
#
#   +-----------------------------+               +-------------------------------+
#   | $NSA                        |               | $NSB                          |
#   |  ipt0 (ipt_4in6) 10.0.0.1   | IPv4 in IPv6  |  tun0 (ip6tnl ipip6) 10.0.0.2 |
#   |   local 2001:db8::1 ============================= local 2001:db8::2         |
#   |  veth0 2001:db8::1/64 ------+-- veth pair --+------- veth1 2001:db8::2/64   |
#   +-----------------------------+               +-------------------------------+
#
# 2. Coexistence: $H has an ipt_4in6 tunnel (local any) to $P1 and an
#    in-tree ip6tnl ipip6 tunnel to $P2, with the in-tree fallback device
#    ip6tnl0 UP.  Each peer's packets must land on its own device: what
#    matches no ipt tunnel is handed to the in-tree driver untouched.
#
#   $P1                                    $H                                     $P2
#   ipt1 10.1.0.2 ===== ipt1 (ipt_4in6, local any) 10.1.0.1
#                       itree (ip6tnl ipip6)       10.2.0.1 ============ itree 10.2.0.2
#   veth 2001:db8:1::2 --- p1 2001:db8:1::1        p2 2001:db8:2::1 --- veth 2001:db8:2::2

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SIZE_MB=20
PINGS=10
PING_INNER=84	# default ping: 56 bytes of data + 8 ICMP + 20 IPv4

require_ipt
require_cmd ip ping ss sha256sum nft
require_module ip6_tunnel veth nf_tables
[ -x "$PY" ] || skip "$PY not installed"

sysctl_ns() { ns_exec "$1" sysctl -qw "$2" >/dev/null || die "sysctl $2 in $1"; }
# no IPv6 autoconfiguration on the tunnel devices: counters stay exact
quiet_dev() { sysctl_ns "$1" "net.ipv6.conf.$2.disable_ipv6=1"; }

# tunnel NS NAME ADDR/PREFIX KIND ARGS...: make a tunnel device and bring it up.
tunnel() {
	local ns=$1 name=$2 addr=$3 kind=$4
	shift 4
	ip -n "$ns" link add "$name" type "$kind" "$@" ||
		die "ip link add $name type $kind $* in $ns failed"
	quiet_dev "$ns" "$name"
	ip -n "$ns" addr add "$addr" dev "$name" || die "address $addr on $name in $ns"
	ip -n "$ns" link set "$name" up || die "$name up in $ns"
}

# delta NS DEV COUNTER BEFORE: the counter's growth since BEFORE.
delta() {
	local now
	now=$(link_stat "$1" "$2" "$3") || { echo "n/a"; return; }
	echo $((now - $4))
}

sysfs_stat() { ns_exec "$1" cat "/sys/class/net/$2/statistics/$3"; }

# tcp_transfer FROM_NS TO_NS TO_ADDR LABEL: send $SIZE_MB MB of random data
# from FROM_NS to a listener on TO_ADDR in TO_NS and compare sha256 sums.
PORT=5000
tcp_transfer() {
	local from=$1 to=$2 addr=$3 what=$4 src dst want got pid port
	port=$((PORT++))
	src=/tmp/interop-$port.src
	dst=/tmp/interop-$port.dst
	head -c "${SIZE_MB}M" /dev/urandom > "$src" || die "cannot write $src"
	want=$(sha256sum < "$src" | cut -d' ' -f1)

	ns_exec "$to" "$PY" - "$addr" "$port" "$dst" <<-'EOF' &
	import socket, sys
	addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	s = socket.socket()
	s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	s.bind((addr, port))
	s.listen(1)
	s.settimeout(120)
	c, _ = s.accept()
	c.settimeout(120)
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
	wait_for -t 20 listening || { kill "$pid" 2>/dev/null; fail "$what: no listener on $addr:$port"; return; }

	local t0=$SECONDS
	ns_exec "$from" "$PY" - "$addr" "$port" "$src" <<-'EOF'
	import socket, sys
	addr, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	s = socket.create_connection((addr, port), timeout=120)
	with open(src, "rb") as f:
	    s.sendfile(f)
	s.shutdown(socket.SHUT_WR)
	s.recv(1)	# the receiver closes once it has everything
	s.close()
	EOF
	[ $? = 0 ] || fail "$what: the sender failed"
	wait "$pid" || fail "$what: the receiver failed"

	got=$(ns_exec "$to" sha256sum < "$dst" | cut -d' ' -f1)
	check_eq "$what: sha256 of the $SIZE_MB MB received ($((SECONDS - t0))s)" "$want" "$got"
	rm -f "$src" "$dst"
}

# wire_counters NS DEV: count, at ingress of DEV, IPv6 packets whose first
# next header is 4 (plain) or 60 (destination options: the encap limit).
wire_counters() {
	ns_exec "$1" nft -f - <<-NFT || die "nft in $1"
	table netdev wire {
		counter plain {}
		counter dstopt {}
		chain ingress {
			type filter hook ingress device $2 priority 0;
			ip6 nexthdr 4 counter name plain
			ip6 nexthdr 60 counter name dstopt
		}
	}
	NFT
}
wire() { # NS COUNTER: packets seen so far
	ns_exec "$1" nft list counter netdev wire "$2" |
		sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

# ---------------------------------------------------------------------------
log "=== 1. ipt_4in6 <-> in-tree ip6tnl ipip6"

setup_ns NSA NSB
add_veth "$NSA" veth0 2001:db8::1/64 "$NSB" veth1 2001:db8::2/64
wire_counters "$NSA" veth0
wire_counters "$NSB" veth1
tunnel "$NSA" ipt0 10.0.0.1/30 ipt_4in6 local 2001:db8::1 remote 2001:db8::2
wait_for ping_ok "$NSA" 2001:db8::2 || die "no connectivity over the veth pair"

# interop WHAT A_FORMAT B_FORMAT: ping and TCP both ways; A_FORMAT is the
# counter (plain/dstopt) that packets from ipt0 must hit on $NSB's wire,
# B_FORMAT the one packets from ip6tnl must hit on $NSA's.
interop() {
	local what=$1 afmt=$2 bfmt=$3 other rx_a rx_b tx_a rxb_a wa wb wa_o wb_o n
	log "--- $what"
	check_eq "$what: ipt0 MTU" "$4" "$(ns_exec "$NSA" cat /sys/class/net/ipt0/mtu)"
	check_eq "$what: tun0 (ip6tnl) MTU" "$5" "$(ns_exec "$NSB" cat /sys/class/net/tun0/mtu)"

	wb=$(wire "$NSB" "$afmt")
	wa=$(wire "$NSA" "$bfmt")
	other=$([ "$afmt" = plain ] && echo dstopt || echo plain)
	wb_o=$(wire "$NSB" "$other")
	other=$([ "$bfmt" = plain ] && echo dstopt || echo plain)
	wa_o=$(wire "$NSA" "$other")

	rx_a=$(link_stat "$NSA" ipt0 rx_packets)
	rx_b=$(link_stat "$NSB" tun0 rx_packets)
	tx_a=$(link_stat "$NSA" ipt0 tx_packets)
	rxb_a=$(link_stat "$NSA" ipt0 rx_bytes)
	if ping_ok "$NSA" 10.0.0.2 "$PINGS"; then
		pass "$what: ping ipt_4in6 -> ip6tnl"
	else
		fail "$what: ping 10.0.0.1 (ipt_4in6) -> 10.0.0.2 (ip6tnl) failed"
	fi
	check_eq "$what: ipt0 tx_packets after $PINGS pings" "$PINGS" "$(delta "$NSA" ipt0 tx_packets "$tx_a")"
	check_eq "$what: tun0 rx_packets after $PINGS pings" "$PINGS" "$(delta "$NSB" tun0 rx_packets "$rx_b")"
	check_eq "$what: ipt0 rx_packets (echo replies from ip6tnl)" "$PINGS" "$(delta "$NSA" ipt0 rx_packets "$rx_a")"
	check_eq "$what: ipt0 rx_bytes (echo replies, inner IPv4 bytes)" $((PINGS * PING_INNER)) \
		"$(delta "$NSA" ipt0 rx_bytes "$rxb_a")"

	rx_a=$(link_stat "$NSA" ipt0 rx_packets)
	rx_b=$(link_stat "$NSB" tun0 rx_packets)
	if ping_ok "$NSB" 10.0.0.1 "$PINGS"; then
		pass "$what: ping ip6tnl -> ipt_4in6"
	else
		fail "$what: ping 10.0.0.2 (ip6tnl) -> 10.0.0.1 (ipt_4in6) failed"
	fi
	check_eq "$what: ipt0 rx_packets after $PINGS pings from ip6tnl" "$PINGS" "$(delta "$NSA" ipt0 rx_packets "$rx_a")"
	check_eq "$what: tun0 rx_packets (echo replies from ipt)" "$PINGS" "$(delta "$NSB" tun0 rx_packets "$rx_b")"

	n=$((2 * PINGS))
	check_eq "$what: packets from ipt0 on NSB's wire with next header $([ "$afmt" = plain ] && echo 4 || echo 60)" \
		"$n" $(( $(wire "$NSB" "$afmt") - wb ))
	check_eq "$what: packets from ipt0 on NSB's wire in the other format" 0 \
		$(( $(wire "$NSB" "$([ "$afmt" = plain ] && echo dstopt || echo plain)") - wb_o ))
	check_eq "$what: packets from ip6tnl on NSA's wire with next header $([ "$bfmt" = plain ] && echo 4 || echo 60)" \
		"$n" $(( $(wire "$NSA" "$bfmt") - wa ))
	check_eq "$what: packets from ip6tnl on NSA's wire in the other format" 0 \
		$(( $(wire "$NSA" "$([ "$bfmt" = plain ] && echo dstopt || echo plain)") - wa_o ))

	rx_b=$(link_stat "$NSB" tun0 rx_bytes)
	tcp_transfer "$NSA" "$NSB" 10.0.0.2 "$what: TCP ipt_4in6 -> ip6tnl"
	check_ge "$what: tun0 rx_bytes during the transfer from ipt" $((SIZE_MB << 20)) "$(delta "$NSB" tun0 rx_bytes "$rx_b")"

	rx_a=$(link_stat "$NSA" ipt0 rx_bytes)
	tcp_transfer "$NSB" "$NSA" 10.0.0.1 "$what: TCP ip6tnl -> ipt_4in6"
	check_ge "$what: ipt0 rx_bytes during the transfer from ip6tnl" $((SIZE_MB << 20)) "$(delta "$NSA" ipt0 rx_bytes "$rx_a")"

	for c in rx_errors rx_dropped tx_errors tx_dropped tx_carrier_errors; do
		check_eq "$what: ipt0 $c" 0 "$(sysfs_stat "$NSA" ipt0 $c)"
	done
	for c in rx_errors tx_errors; do
		check_eq "$what: tun0 (ip6tnl) $c" 0 "$(sysfs_stat "$NSB" tun0 $c)"
	done
}

tunnel "$NSB" tun0 10.0.0.2/30 ip6tnl mode ipip6 local 2001:db8::2 remote 2001:db8::1 hoplimit 64
interop "a. ip6tnl default encaplimit" plain dstopt 1460 1452

ip -n "$NSB" link del tun0 || die "cannot delete tun0 in NSB"
tunnel "$NSB" tun0 10.0.0.2/30 ip6tnl mode ipip6 local 2001:db8::2 remote 2001:db8::1 hoplimit 64 encaplimit none
interop "b. ip6tnl encaplimit none" plain plain 1460 1460

ip -n "$NSA" link set ipt0 type ipt_4in6 encaplimit 4 || fail "ip link set ipt0 type ipt_4in6 encaplimit 4 failed"
interop "c. ipt_4in6 encaplimit 4, ip6tnl encaplimit none" dstopt plain 1452 1460

# ---------------------------------------------------------------------------
log "=== 2. ipt_4in6 and in-tree ip6tnl in one namespace"

setup_ns H P1 P2
add_veth "$H" p1 2001:db8:1::1/64 "$P1" veth 2001:db8:1::2/64
add_veth "$H" p2 2001:db8:2::1/64 "$P2" veth 2001:db8:2::2/64

tunnel "$H" ipt1 10.1.0.1/30 ipt_4in6 remote 2001:db8:1::2
tunnel "$H" itree 10.2.0.1/30 ip6tnl mode ipip6 local 2001:db8:2::1 remote 2001:db8:2::2 hoplimit 64
ip -n "$H" link show ip6tnl0 >/dev/null 2>&1 || die "no ip6tnl0 in $H (ip6_tunnel fallback device)"
quiet_dev "$H" ip6tnl0
ip -n "$H" link set ip6tnl0 up || die "ip6tnl0 up in $H"

tunnel "$P1" ipt1 10.1.0.2/30 ipt_4in6 local 2001:db8:1::2 remote 2001:db8:1::1
tunnel "$P2" itree 10.2.0.2/30 ip6tnl mode ipip6 local 2001:db8:2::2 remote 2001:db8:2::1 hoplimit 64

wait_for ping_ok "$P1" 2001:db8:1::1 || die "no connectivity $P1 -> $H"
wait_for ping_ok "$P2" 2001:db8:2::1 || die "no connectivity $P2 -> $H"

# snap: remember $H's three tunnel rx counters
snap() {
	local d c
	for d in ipt1 itree ip6tnl0; do
		for c in rx_packets rx_bytes; do
			printf -v "S_${d}_$c" '%s' "$(link_stat "$H" $d $c)"
		done
	done
}
# expect_rx WHAT IPT1 ITREE IP6TNL0: packets each of $H's devices received
# since snap, $PING_INNER bytes each.
expect_rx() {
	local what=$1 d n v
	shift
	for d in ipt1 itree ip6tnl0; do
		n=$1
		shift
		v=S_${d}_rx_packets
		check_eq "$what: $d rx_packets" "$n" "$(delta "$H" $d rx_packets "${!v}")"
		v=S_${d}_rx_bytes
		check_eq "$what: $d rx_bytes" $((n * PING_INNER)) "$(delta "$H" $d rx_bytes "${!v}")"
	done
}

snap
ping_ok "$P1" 10.1.0.1 "$PINGS" && pass "ping $P1 -> $H over ipt_4in6" ||
	fail "ping $P1 -> $H over ipt_4in6 failed"
expect_rx "$PINGS pings from P1 (ipt_4in6)" "$PINGS" 0 0

snap
ping_ok "$P2" 10.2.0.1 "$PINGS" && pass "ping $P2 -> $H over in-tree ip6tnl" ||
	fail "ping $P2 -> $H over in-tree ip6tnl failed (not passed on by ipt?)"
expect_rx "$PINGS pings from P2 (in-tree ip6tnl)" 0 "$PINGS" 0

snap
ping_ok "$H" 10.1.0.2 3 || fail "ping $H -> $P1 over ipt_4in6 failed"
ping_ok "$H" 10.2.0.2 3 || fail "ping $H -> $P2 over in-tree ip6tnl failed"
expect_rx "3 pings from H to each peer (the replies)" 3 3 0

log "the in-tree tunnel keeps working while ipt tunnels come and go"
ip -n "$H" link del ipt1 || fail "cannot delete ipt1 in $H"
ping_ok "$P2" 10.2.0.1 3 || fail "ping $P2 -> $H over ip6tnl after deleting ipt1 failed"
tunnel "$H" ipt1 10.1.0.1/30 ipt_4in6 remote 2001:db8:1::2
snap
wait_for ping_ok "$P1" 10.1.0.1 || fail "ping $P1 -> $H over the recreated ipt1 failed"
ping_ok "$P2" 10.2.0.1 "$PINGS" || fail "ping $P2 -> $H over ip6tnl next to the recreated ipt1 failed"
check_eq "itree rx_packets next to the recreated ipt1" "$PINGS" "$(delta "$H" itree rx_packets "$S_itree_rx_packets")"

for d in ipt1 itree; do
	check_eq "$H $d rx_errors" 0 "$(sysfs_stat "$H" $d rx_errors)"
done

log "4in6_interop took ${SECONDS}s"
exit $RET
