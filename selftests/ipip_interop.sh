#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ipt_ipip against the in-tree ipip driver, and next to it.
#
# 1. Interop: ipt_ipip in $NSA, in-tree ipip in $NSB.  Ping and a 20 MB
#    TCP transfer (sha256 checked on the receiver) in each direction.
#
#   +----------------------------+               +----------------------------+
#   | $NSA                       |               | $NSB                       |
#   |  ipt0 (ipt_ipip) 10.0.0.1  |  IPv4 in IPv4 |  tun0 (ipip) 10.0.0.2      |
#   |   local 192.0.2.1 ================================ local 192.0.2.2      |
#   |  veth0 192.0.2.1/24 -------+-- veth pair --+------- veth1 192.0.2.2/24  |
#   +----------------------------+               +----------------------------+
#
# 2. Coexistence: $H has an ipt_ipip tunnel to $P1, an in-tree ipip tunnel
#    to $P2 and the in-tree fallback device tunl0 UP.  Each peer's packets
#    must land on its own device: what matches no ipt tunnel is handed to
#    the in-tree driver untouched (same byte count), and what matches no
#    tunnel at all (from $P2's second address) ends up on tunl0.
#
#   $P1                               $H                                   $P2
#   ipt1 10.1.0.2 ==== ipt1 (ipt_ipip) 10.1.0.1
#                      itree (ipip)    10.2.0.1 ==================== itree 10.2.0.2
#                      tunl0 (UP, no tunnel) <====================== stray 10.3.0.2
#   veth 192.0.2.2 --- p1 192.0.2.1    p2 198.51.100.1/24 ------ veth 198.51.100.2
#                                                                      + 198.51.100.3
#
# 3. IPsec: the same ipt_ipip / ipip pair ($XA, $XB) with its outer
#    packets (protocol 4) carried in ESP tunnel mode: the wire only sees
#    ESP, and ipt honours an inbound policy that demands ESP (a plain
#    protocol 4 packet is refused before it reaches the tunnel).

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SIZE_MB=20
PINGS=10
PING_INNER=84	# default ping: 56 bytes of data + 8 ICMP + 20 IPv4

require_ipt
require_cmd ip ping ss sha256sum nft
require_module ipip veth
[ -x "$PY" ] || skip "$PY not installed"

# no IPv6 on the devices made from now on: nothing but our traffic
sysctl_ns() { ns_exec "$1" sysctl -qw "$2" >/dev/null || die "sysctl $2 in $1"; }
quiet_ns() {
	sysctl_ns "$1" net.ipv6.conf.all.disable_ipv6=1
	sysctl_ns "$1" net.ipv6.conf.default.disable_ipv6=1
}

# tunnel NS NAME ADDR/PREFIX KIND ARGS...: make a tunnel device and bring it up.
tunnel() {
	local ns=$1 name=$2 addr=$3 kind=$4
	shift 4
	ip -n "$ns" link add "$name" type "$kind" "$@" ||
		die "ip link add $name type $kind $* in $ns failed"
	ip -n "$ns" addr add "$addr" dev "$name" || die "address $addr on $name in $ns"
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
	check_eq "$what: sha256 of the $SIZE_MB MB received" "$want" "$got"
	rm -f "$src" "$dst"
}

# ---------------------------------------------------------------------------
log "=== 1. ipt_ipip <-> in-tree ipip"

setup_ns NSA NSB
quiet_ns "$NSA"
quiet_ns "$NSB"
add_veth "$NSA" veth0 192.0.2.1/24 "$NSB" veth1 192.0.2.2/24
tunnel "$NSA" ipt0 10.0.0.1/30 ipt_ipip local 192.0.2.1 remote 192.0.2.2
tunnel "$NSB" tun0 10.0.0.2/30 ipip local 192.0.2.2 remote 192.0.2.1 ttl 64
wait_for ping_ok "$NSA" 192.0.2.2 || die "no connectivity over the veth pair"

rx_a=$(link_stat "$NSA" ipt0 rx_packets)
rx_b=$(link_stat "$NSB" tun0 rx_packets)
tx_a=$(link_stat "$NSA" ipt0 tx_packets)
tx_b=$(link_stat "$NSB" tun0 tx_packets)
if ping_ok "$NSA" 10.0.0.2 "$PINGS"; then
	pass "ping ipt_ipip -> ipip"
else
	fail "ping 10.0.0.1 (ipt_ipip) -> 10.0.0.2 (in-tree ipip) failed"
fi
check_eq "ipt0 tx_packets after $PINGS pings ipt -> ipip" "$PINGS" "$(delta "$NSA" ipt0 tx_packets "$tx_a")"
check_eq "tun0 rx_packets after $PINGS pings ipt -> ipip" "$PINGS" "$(delta "$NSB" tun0 rx_packets "$rx_b")"
check_eq "ipt0 rx_packets (echo replies from ipip)" "$PINGS" "$(delta "$NSA" ipt0 rx_packets "$rx_a")"

rx_a=$(link_stat "$NSA" ipt0 rx_packets)
rx_b=$(link_stat "$NSB" tun0 rx_packets)
if ping_ok "$NSB" 10.0.0.1 "$PINGS"; then
	pass "ping ipip -> ipt_ipip"
else
	fail "ping 10.0.0.2 (in-tree ipip) -> 10.0.0.1 (ipt_ipip) failed"
fi
check_eq "ipt0 rx_packets after $PINGS pings ipip -> ipt" "$PINGS" "$(delta "$NSA" ipt0 rx_packets "$rx_a")"
check_eq "tun0 rx_packets (echo replies from ipt)" "$PINGS" "$(delta "$NSB" tun0 rx_packets "$rx_b")"

rx_b=$(link_stat "$NSB" tun0 rx_bytes)
tcp_transfer "$NSA" "$NSB" 10.0.0.2 "TCP ipt_ipip -> ipip"
check_ge "tun0 rx_bytes during the transfer from ipt" $((SIZE_MB << 20)) "$(delta "$NSB" tun0 rx_bytes "$rx_b")"

rx_a=$(link_stat "$NSA" ipt0 rx_bytes)
tcp_transfer "$NSB" "$NSA" 10.0.0.1 "TCP ipip -> ipt_ipip"
check_ge "ipt0 rx_bytes during the transfer from ipip" $((SIZE_MB << 20)) "$(delta "$NSA" ipt0 rx_bytes "$rx_a")"

for c in rx_errors rx_dropped tx_errors tx_dropped; do
	check_eq "ipt0 $c" 0 "$(link_stat "$NSA" ipt0 $c)"
done

# ---------------------------------------------------------------------------
log "=== 2. ipt_ipip, in-tree ipip and tunl0 in one namespace"

setup_ns H P1 P2
quiet_ns "$H"
quiet_ns "$P1"
quiet_ns "$P2"
add_veth "$H" p1 192.0.2.1/24 "$P1" veth 192.0.2.2/24
add_veth "$H" p2 198.51.100.1/24 "$P2" veth 198.51.100.2/24
ip -n "$P2" addr add 198.51.100.3/24 dev veth || die "second address on $P2"

tunnel "$H" ipt1 10.1.0.1/30 ipt_ipip local 192.0.2.1 remote 192.0.2.2
tunnel "$H" itree 10.2.0.1/30 ipip local 198.51.100.1 remote 198.51.100.2 ttl 64
ip -n "$H" link show tunl0 >/dev/null 2>&1 || die "no tunl0 in $H (ipip fallback device)"
ip -n "$H" link set tunl0 up || die "tunl0 up in $H"

tunnel "$P1" ipt1 10.1.0.2/30 ipt_ipip local 192.0.2.2 remote 192.0.2.1
tunnel "$P2" itree 10.2.0.2/30 ipip local 198.51.100.2 remote 198.51.100.1 ttl 64
# matches no tunnel of $H: only its fallback device may take it
tunnel "$P2" stray 10.3.0.2/30 ipip local 198.51.100.3 remote 198.51.100.1 ttl 64

wait_for ping_ok "$P1" 192.0.2.1 || die "no connectivity $P1 -> $H"
wait_for ping_ok "$P2" 198.51.100.1 || die "no connectivity $P2 -> $H"

# snap: remember $H's three tunnel rx counters
snap() {
	local d c
	for d in ipt1 itree tunl0; do
		for c in rx_packets rx_bytes; do
			printf -v "S_${d}_$c" '%s' "$(link_stat "$H" $d $c)"
		done
	done
}
# expect_rx WHAT IPT1 ITREE TUNL0: packets each of $H's devices received
# since snap, $PING_INNER bytes each.
expect_rx() {
	local what=$1 d n v
	shift
	for d in ipt1 itree tunl0; do
		n=$1
		shift
		v=S_${d}_rx_packets
		check_eq "$what: $d rx_packets" "$n" "$(delta "$H" $d rx_packets "${!v}")"
		v=S_${d}_rx_bytes
		check_eq "$what: $d rx_bytes" $((n * PING_INNER)) "$(delta "$H" $d rx_bytes "${!v}")"
	done
}

snap
ping_ok "$P1" 10.1.0.1 "$PINGS" && pass "ping $P1 -> $H over ipt_ipip" ||
	fail "ping $P1 -> $H over ipt_ipip failed"
expect_rx "$PINGS pings from P1 (ipt_ipip)" "$PINGS" 0 0

snap
ping_ok "$P2" 10.2.0.1 "$PINGS" && pass "ping $P2 -> $H over in-tree ipip" ||
	fail "ping $P2 -> $H over in-tree ipip failed (not passed on by ipt?)"
expect_rx "$PINGS pings from P2 (in-tree ipip)" 0 "$PINGS" 0

snap
# nothing answers 10.3.0.1: only the count on tunl0 matters
ns_exec "$P2" ping -q -n -c "$PINGS" -i 0.2 -W 1 10.3.0.1 >/dev/null 2>&1
expect_rx "$PINGS pings from P2's unknown address (fallback)" 0 0 "$PINGS"

ping_ok "$H" 10.1.0.2 3 || fail "ping $H -> $P1 over ipt_ipip failed"
ping_ok "$H" 10.2.0.2 3 || fail "ping $H -> $P2 over in-tree ipip failed"
for d in ipt1 itree; do
	check_eq "$H $d rx_errors" 0 "$(link_stat "$H" $d rx_errors)"
done

# ---------------------------------------------------------------------------
log "=== 3. ipt_ipip <-> ipip inside ESP tunnel mode"

if ! modprobe -q esp4 2>/dev/null && [ ! -d /sys/module/esp4 ]; then
	log "SKIP: esp4 not available, no IPsec check"
	exit $RET
fi

setup_ns XA XB
quiet_ns "$XA"
quiet_ns "$XB"
add_veth "$XA" veth0 192.0.2.1/24 "$XB" veth1 192.0.2.2/24

KEY_AB=0x$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
KEY_BA=0x$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
# esp NS: the same SAs on both ends, policies for protocol 4 only
esp() {
	local ns=$1 me=$2 peer=$3
	ip -n "$ns" xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1001 \
		reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' "$KEY_AB" 128 &&
	ip -n "$ns" xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x1002 \
		reqid 2 mode tunnel aead 'rfc4106(gcm(aes))' "$KEY_BA" 128 ||
		die "xfrm states in $ns"
	esp_policy "$ns" add "$me" "$peer"
}
# esp_policy NS add|del ME PEER
esp_policy() {
	local ns=$1 op=$2 me=$3 peer=$4 rin rout
	[ "$me" = 192.0.2.1 ] && { rout=1; rin=2; } || { rout=2; rin=1; }
	if [ "$op" = add ]; then
		ip -n "$ns" xfrm policy add src "$me" dst "$peer" proto 4 dir out \
			tmpl src "$me" dst "$peer" proto esp reqid $rout mode tunnel &&
		ip -n "$ns" xfrm policy add src "$peer" dst "$me" proto 4 dir in \
			tmpl src "$peer" dst "$me" proto esp reqid $rin mode tunnel ||
			die "xfrm policies in $ns"
	else
		ip -n "$ns" xfrm policy del src "$me" dst "$peer" proto 4 dir out ||
			die "xfrm policy del in $ns"
	fi
}
# IPsec before the tunnels: their route caches are then made with it
esp "$XA" 192.0.2.1 192.0.2.2
esp "$XB" 192.0.2.2 192.0.2.1

# What each veth receives from the wire: ESP, and protocol 4 that did not
# come out of ESP (decrypted packets pass the ingress hook again, with a
# secpath).
wire_counters() { # NS DEV
	ns_exec "$1" nft -f - <<-NFT || die "nft in $1"
	table netdev wire {
		counter esp_in {}
		counter clear_ipip_in {}
		chain ingress {
			type filter hook ingress device $2 priority 0;
			ip protocol esp counter name esp_in
			ip protocol ipencap meta ipsec missing counter name clear_ipip_in
		}
	}
	NFT
}
wire_counters "$XA" veth0
wire_counters "$XB" veth1
wire() { # NS COUNTER: packets seen so far
	ns_exec "$1" nft list counter netdev wire "$2" |
		sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

tunnel "$XA" ipt0 10.0.0.1/30 ipt_ipip local 192.0.2.1 remote 192.0.2.2
tunnel "$XB" tun0 10.0.0.2/30 ipip local 192.0.2.2 remote 192.0.2.1 ttl 64
wait_for ping_ok "$XA" 192.0.2.2 || die "no connectivity over the veth pair"

esp0=$(wire "$XB" esp_in)
ipip0=$(wire "$XB" clear_ipip_in)
esp1=$(wire "$XA" esp_in)
ipip1=$(wire "$XA" clear_ipip_in)
rx_a=$(link_stat "$XA" ipt0 rx_packets)
if ping_ok "$XA" 10.0.0.2 "$PINGS"; then
	pass "ping ipt_ipip -> ipip through ESP"
else
	fail "ping ipt_ipip -> ipip through ESP failed"
fi
check_eq "ESP packets from ipt_ipip on XB's wire" "$PINGS" $(( $(wire "$XB" esp_in) - esp0 ))
check_eq "protocol 4 in clear on XB's wire" 0 $(( $(wire "$XB" clear_ipip_in) - ipip0 ))
check_eq "ESP packets from ipip on XA's wire" "$PINGS" $(( $(wire "$XA" esp_in) - esp1 ))
check_eq "protocol 4 in clear on XA's wire" 0 $(( $(wire "$XA" clear_ipip_in) - ipip1 ))
check_eq "ipt0 rx_packets (replies decrypted and decapsulated)" "$PINGS" "$(delta "$XA" ipt0 rx_packets "$rx_a")"

log "XB stops encrypting: XA's inbound policy must refuse its plain IPIP"
esp_policy "$XB" del 192.0.2.2 192.0.2.1
ipip0=$(wire "$XA" clear_ipip_in)
rx_a=$(link_stat "$XA" ipt0 rx_packets)
tx_b=$(link_stat "$XB" tun0 tx_packets)
xfrm_stat() { ns_exec "$XA" awk -v k="$1" '$1 == k { print $2 }' /proc/net/xfrm_stat; }
mismatch=$(xfrm_stat XfrmInTmplMismatch)
ns_exec "$XB" ping -q -n -c "$PINGS" -i 0.2 -W 1 10.0.0.1 >/dev/null 2>&1 &&
	fail "ping from XB without ESP was answered despite XA's inbound policy"
n=$(delta "$XB" tun0 tx_packets "$tx_b")
check_ge "XB tun0 tx_packets sent in clear" "$PINGS" "$n"
check_eq "protocol 4 in clear on XA's wire" "$n" $(( $(wire "$XA" clear_ipip_in) - ipip0 ))
check_eq "ipt0 rx_packets from the plain IPIP refused by policy" 0 "$(delta "$XA" ipt0 rx_packets "$rx_a")"
check_eq "XA XfrmInTmplMismatch growth" "$n" $(( $(xfrm_stat XfrmInTmplMismatch) - mismatch ))

exit $RET
