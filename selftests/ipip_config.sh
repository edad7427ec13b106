#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configuring ipt_ipip: every refused configuration says why (plugin or
# kernel extack, the kernel checks also reached with hand-built netlink
# messages) and leaves no device behind; the tunnel key is kind + local +
# remote + underlay; "ip -d link show" prints the options back in the
# syntax "ip link add" takes, and "ip -j" as JSON; "ip link set ... type
# ipt_ipip remote NEW" moves a tunnel to another peer.
#
#  +-----------------------------------+            +--------------------------+
#  | $NSA                              |            | $NSB                     |
#  |  veth0 192.0.2.1/24, 192.0.2.11 --+------------+-- veth1 192.0.2.2/24     |
#  |                                   |            |                          |
#  |  ta-b 10.1.0.1/30  local .1  remote 192.0.2.2 ==  tb  10.1.0.2/30         |
#  |  ta-c 10.2.0.1/30  local .1  remote 198.51.100.3 =====================+  |
#  |  tm   10.9.0.1/24  local .11 remote 192.0.2.2 ==  tbm 10.9.0.2/24     |  |
#  |        then         remote 198.51.100.3 =============================+|  |
#  |                                   |            +----------------------||--+
#  |                                   |            +----------------------||--+
#  |  vethc 198.51.100.1/24 -----------+------------+-- vethc 198.51.100.3/24  |
#  |                                   |            |   tc  10.2.0.2/30       |
#  +-----------------------------------+            |   tcm 10.9.0.3/24       |
#                                                   | $NSC                     |
#                                                   +--------------------------+
#
# ta-b and ta-c share their local address; tm moves from B to C.

source "$(dirname "$0")/lib.sh"

require_ipt
require_cmd ping
require_module veth
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"

TMPD=$(mktemp -d /tmp/ipip_config.XXXXXX) || die "mktemp"

# nl.py {add|set} NAME [KEY=VALUE...]: one RTM_NEWLINK for an ipt_ipip
# device, built by hand with only the IFLA_IPT_* attributes given (link=DEV
# or ifindex, local=, remote=, ttl=, dscp=, df=); prints the answer as
# "errno=N msg=EXTACK".
cat > "$TMPD/nl.py" <<'EOF'
import socket, struct, sys

RTM_NEWLINK = 16
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 1, 4, 0x200, 0x400
NLM_F_ACK_TLVS = 0x200
NLMSG_ERROR = 2
NLMSGERR_ATTR_MSG = 1
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11
IFLA_IFNAME, IFLA_LINKINFO = 3, 18
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IPT = {"link": (1, "u32"), "local": (2, "in4"), "remote": (3, "in4"),
       "ttl": (4, "u8"), "dscp": (5, "u8"), "df": (6, "u8")}

def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack("HH", n, t) + payload + b"\0" * (-n % 4)

op, name = sys.argv[1], sys.argv[2]
data = b""
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    t, kind = IPT[k]
    if kind == "in4":
        p = socket.inet_aton(v)
    elif kind == "u8":
        p = struct.pack("B", int(v, 0))
    else:
        p = struct.pack("I", int(v) if v.isdigit() else socket.if_nametoindex(v))
    data += attr(t, p)
linkinfo = attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"ipt_ipip\0") +
                attr(IFLA_INFO_DATA, data))
flags = NLM_F_REQUEST | NLM_F_ACK
if op == "add":
    flags |= NLM_F_CREATE | NLM_F_EXCL
    ifindex, body = 0, attr(IFLA_IFNAME, name.encode() + b"\0") + linkinfo
else:
    ifindex, body = socket.if_nametoindex(name), linkinfo
body = struct.pack("BxHiII", socket.AF_UNSPEC, 0, ifindex, 0, 0) + body
msg = struct.pack("IHHII", 16 + len(body), RTM_NEWLINK, flags, 1, 0) + body

s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
s.bind((0, 0))
s.send(msg)
while True:
    r = s.recv(65536)
    ln, typ, fl = struct.unpack("IHH", r[:8])
    if typ != NLMSG_ERROR:
        continue
    err = -struct.unpack("i", r[16:20])[0]
    text = ""
    pos = 20 + 16		# nlmsgerr: error, then the request's header only
    while fl & NLM_F_ACK_TLVS and pos + 4 <= ln:
        alen, atype = struct.unpack("HH", r[pos:pos + 4])
        if alen < 4:
            break
        if atype == NLMSGERR_ATTR_MSG:
            text = r[pos + 4:pos + alen].rstrip(b"\0").decode()
        pos += (alen + 3) & ~3
    print("errno=%d msg=%s" % (err, text))
    break
EOF

nl() { # NS add|set NAME KEY=VALUE...
	local ns=$1
	shift
	ns_exec "$ns" "$PY" "$TMPD/nl.py" "$@"
}

links() { # NS: names of its links
	ip -n "$1" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort | tr '\n' ' '
}

# refused WHAT MESSAGE CMD...: CMD (ip, in $NSA) must fail, print MESSAGE
# and leave the links of $NSA as they were.
refused() {
	local what=$1 msg=$2 before after out
	shift 2
	before=$(links "$NSA")
	if out=$("$@" 2>&1); then
		fail "$what: accepted: $*"
	else
		case $out in
		*"$msg"*) pass "$what: refused: $out" ;;
		*) fail "$what: expected the message \"$msg\", got: $out" ;;
		esac
	fi
	after=$(links "$NSA")
	[ "$before" = "$after" ] || fail "$what: links were [$before], now [$after]"
}

# nl_refused WHAT ERRNO MESSAGE add|set NAME KEY=VALUE...: the same with a
# hand-built netlink message: errno and extack text are both checked.
nl_refused() {
	local what=$1 errno=$2 msg=$3 before after out
	shift 3
	before=$(links "$NSA")
	out=$(nl "$NSA" "$@")
	check_eq "$what (netlink $*)" "errno=$errno msg=$msg" "$out"
	after=$(links "$NSA")
	[ "$before" = "$after" ] || fail "$what: links were [$before], now [$after]"
}

# opts NS DEV: the ipt_ipip options that ip -d link show prints.
opts() {
	ip -n "$1" -d link show dev "$2" | awk '
		/ ipt_ipip / {
			for (i = 1; i <= NF && $i != "ipt_ipip"; i++) ;
			out = ""
			for (i++; i < NF; i += 2) {
				if ($i !~ /^(remote|local|dev|ttl|dscp|dont-fragment|clamp-tcp-mss|keepalive)$/)
					break
				out = out (out ? " " : "") $i " " $(i + 1)
			}
			print out
		}'
}

tunnel() { # NS NAME ADDRESS OPTION...
	local ns=$1 name=$2 addr=$3
	shift 3
	ip -n "$ns" link add "$name" type ipt_ipip "$@" ||
		die "cannot create $name in $ns: ip link add $name type ipt_ipip $*"
	ns_exec "$ns" sysctl -qw "net.ipv6.conf.$name.disable_ipv6=1"
	ip -n "$ns" addr add "$addr" dev "$name" || die "address on $name in $ns"
	ip -n "$ns" link set "$name" up || die "$name up in $ns"
}

# --- topology ----------------------------------------------------------------

setup_ns NSA NSB NSC
add_veth "$NSA" veth0 192.0.2.1/24 "$NSB" veth1 192.0.2.2/24
add_veth "$NSA" vethc 198.51.100.1/24 "$NSC" vethc 198.51.100.3/24
ip -n "$NSA" addr add 192.0.2.11/24 dev veth0 || die "192.0.2.11 on veth0"
ip -n "$NSC" route add 192.0.2.0/24 via 198.51.100.1 || die "route in $NSC"

tunnel "$NSA" ta-b 10.1.0.1/30 local 192.0.2.1 remote 192.0.2.2
tunnel "$NSB" tb 10.1.0.2/30 local 192.0.2.2 remote 192.0.2.1
tunnel "$NSA" ta-c 10.2.0.1/30 local 192.0.2.1 remote 198.51.100.3
tunnel "$NSC" tc 10.2.0.2/30 local 198.51.100.3 remote 192.0.2.1
tunnel "$NSA" tm 10.9.0.1/24 local 192.0.2.11 remote 192.0.2.2
tunnel "$NSB" tbm 10.9.0.2/24 local 192.0.2.2 remote 192.0.2.11
tunnel "$NSC" tcm 10.9.0.3/24 local 198.51.100.3 remote 192.0.2.11

wait_for ping_ok "$NSA" 192.0.2.2 || die "no underlay to $NSB"
wait_for ping_ok "$NSA" 198.51.100.3 || die "no underlay to $NSC"
wait_for ping_ok "$NSC" 192.0.2.1 || die "no underlay from $NSC to 192.0.2.1"

# --- refusals ------------------------------------------------------------------

log "refused by the plugin"
refused "no remote" "remote is required" \
	ip -n "$NSA" link add tnew type ipt_ipip local 192.0.2.1
refused "ttl 0" 'invalid ttl "0", expected 1-255 or inherit' \
	ip -n "$NSA" link add tnew type ipt_ipip remote 192.0.2.99 ttl 0
refused "ttl 256" 'invalid ttl "256", expected 1-255 or inherit' \
	ip -n "$NSA" link add tnew type ipt_ipip remote 192.0.2.99 ttl 256
refused "ttl abc" 'invalid ttl "abc", expected 1-255 or inherit' \
	ip -n "$NSA" link add tnew type ipt_ipip remote 192.0.2.99 ttl abc
refused "dscp 64" 'invalid dscp "64", expected 0-63 or inherit' \
	ip -n "$NSA" link add tnew type ipt_ipip remote 192.0.2.99 dscp 64
refused "dont-fragment maybe" 'invalid dont-fragment "maybe", expected inherit, yes or no' \
	ip -n "$NSA" link add tnew type ipt_ipip remote 192.0.2.99 dont-fragment maybe
refused "unknown dev" 'dev "nosuchdev": no such device' \
	ip -n "$NSA" link add tnew type ipt_ipip remote 192.0.2.99 dev nosuchdev
refused "remote any" "only ipt_6in4 takes any" \
	ip -n "$NSA" link add tnew type ipt_ipip remote any

log "refused by the kernel"
refused "remote multicast" "remote address must be a unicast address" \
	ip -n "$NSA" link add tnew type ipt_ipip remote 224.0.0.5
refused "remote broadcast" "remote address must be a unicast address" \
	ip -n "$NSA" link add tnew type ipt_ipip remote 255.255.255.255
refused "local multicast" "local address must be a unicast address" \
	ip -n "$NSA" link add tnew type ipt_ipip local 239.1.1.1 remote 192.0.2.99
refused "local broadcast" "local address must be a unicast address" \
	ip -n "$NSA" link add tnew type ipt_ipip local 255.255.255.255 remote 192.0.2.99
refused "duplicate of ta-b" "a tunnel with these addresses and underlay already exists" \
	ip -n "$NSA" link add tnew type ipt_ipip local 192.0.2.1 remote 192.0.2.2
refused "mtu 67" "mtu less than device minimum" \
	ip -n "$NSA" link add tnew mtu 67 type ipt_ipip remote 192.0.2.99
refused "mtu 65516" "mtu greater than device maximum" \
	ip -n "$NSA" link add tnew mtu 65516 type ipt_ipip remote 192.0.2.99

log "kernel checks reached with hand-built netlink messages"
nl_refused "no remote" 22 "remote address is required" add tnew local=192.0.2.1
nl_refused "remote 0.0.0.0" 22 "remote address is required" add tnew remote=0.0.0.0
nl_refused "dscp 64" 22 "DSCP must be 0-63 or inherit" add tnew remote=192.0.2.99 dscp=64
nl_refused "dscp 254" 22 "DSCP must be 0-63 or inherit" add tnew remote=192.0.2.99 dscp=254
nl_refused "df 3" 34 "integer out of range" add tnew remote=192.0.2.99 df=3
nl_refused "unknown underlay ifindex" 19 "underlay device not found" \
	add tnew remote=192.0.2.99 link=99999
nl_refused "duplicate of ta-b" 17 "a tunnel with these addresses and underlay already exists" \
	add tnew local=192.0.2.1 remote=192.0.2.2
check_eq "a valid hand-built request (control)" "errno=0 msg=" \
	"$(nl "$NSA" add tnew remote=192.0.2.99 ttl=9 dscp=63 df=2)"
check_eq "its options" "remote 192.0.2.99 local any ttl 9 dscp 63 dont-fragment yes" \
	"$(opts "$NSA" tnew | cut -d' ' -f1-10)"
ip -n "$NSA" link del tnew || fail "cannot delete tnew"

# --- the tunnel key ------------------------------------------------------------

log "same addresses on another underlay: allowed"
if ip -n "$NSA" link add tdev type ipt_ipip local 192.0.2.1 remote 192.0.2.2 dev vethc; then
	pass "ta-b's addresses with dev vethc: created"
else
	fail "ta-b's addresses with dev vethc: refused"
fi
refused "duplicate of tdev (same dev)" "a tunnel with these addresses and underlay already exists" \
	ip -n "$NSA" link add tnew type ipt_ipip local 192.0.2.1 remote 192.0.2.2 dev vethc
nl_refused "duplicate of tdev (same link)" 17 "a tunnel with these addresses and underlay already exists" \
	add tnew local=192.0.2.1 remote=192.0.2.2 link=vethc

log "two tunnels with one local address, each to its peer"
rx_b=$(link_stat "$NSA" ta-b rx_packets)
rx_c=$(link_stat "$NSA" ta-c rx_packets)
ping_ok "$NSA" 10.1.0.2 3 || fail "no ping through ta-b (to $NSB)"
ping_ok "$NSA" 10.2.0.2 4 || fail "no ping through ta-c (to $NSC)"
check_eq "ta-b rx_packets: the 3 replies from $NSB" $((rx_b + 3)) "$(link_stat "$NSA" ta-b rx_packets)"
check_eq "ta-c rx_packets: the 4 replies from $NSC" $((rx_c + 4)) "$(link_stat "$NSA" ta-c rx_packets)"
check_eq "tdev rx_packets (bound to vethc, nothing for it)" 0 "$(link_stat "$NSA" tdev rx_packets)"

# --- moving a tunnel -------------------------------------------------------------

log "ip link set tm type ipt_ipip remote NEW moves tm from $NSB to $NSC"
wait_for ping_ok "$NSA" 10.9.0.2 || fail "no ping through tm to $NSB before the move"
ip -n "$NSA" link set tm type ipt_ipip remote 198.51.100.3 ||
	fail "ip link set tm type ipt_ipip remote 198.51.100.3 failed"
check_eq "tm options after the move" "remote 198.51.100.3 local 192.0.2.11" \
	"$(opts "$NSA" tm | cut -d' ' -f1-4)"
rx=$(link_stat "$NSA" tm rx_packets)
ping_ok "$NSA" 10.9.0.3 3 || fail "no ping through tm to $NSC after the move"
check_eq "tm rx_packets: the 3 replies from $NSC" $((rx + 3)) "$(link_stat "$NSA" tm rx_packets)"
rx=$(link_stat "$NSA" tm rx_packets)
if ping_ok "$NSB" 10.9.0.1 2; then
	fail "$NSB (the old peer) still reaches tm"
else
	pass "$NSB (the old peer) no longer reaches tm"
fi
check_eq "tm rx_packets while the old peer pings" "$rx" "$(link_stat "$NSA" tm rx_packets)"

log "a change to a duplicate key is refused and leaves the tunnel alone"
before=$(opts "$NSA" tm)
refused "tm: local 192.0.2.1 (then ta-c's key)" "a tunnel with these addresses and underlay already exists" \
	ip -n "$NSA" link set tm type ipt_ipip local 192.0.2.1
nl_refused "tm: local 192.0.2.1 (then ta-c's key)" 17 "a tunnel with these addresses and underlay already exists" \
	set tm local=192.0.2.1
nl_refused "tm: dscp 64" 22 "DSCP must be 0-63 or inherit" set tm dscp=64 ttl=5
refused "tm: remote 224.0.0.5" "remote address must be a unicast address" \
	ip -n "$NSA" link set tm type ipt_ipip remote 224.0.0.5 ttl 5
check_eq "tm options after the refused changes" "$before" "$(opts "$NSA" tm)"
ping_ok "$NSA" 10.9.0.3 || fail "tm no longer carries traffic to $NSC after the refused changes"
ping_ok "$NSA" 10.2.0.2 || fail "ta-c no longer carries traffic after the refused changes"

# --- printing ----------------------------------------------------------------------

# roundtrip NAME OPTION... -- WORD VALUE...: create NAME with the options;
# ip -d link show must print each WORD VALUE pair, and creating it again
# from what was printed must give the same.
roundtrip() {
	local name=$1 o=() p1 p2 want
	shift
	while [ "$1" != -- ]; do o+=("$1"); shift; done
	shift
	ip -n "$NSA" link add "$name" type ipt_ipip "${o[@]}" ||
		{ fail "ip link add $name type ipt_ipip ${o[*]} failed"; return; }
	p1=$(opts "$NSA" "$name")
	log "ip link add $name type ipt_ipip ${o[*]} -> ip -d link: $p1"
	while [ $# -gt 0 ]; do
		want+="$1 $2 "
		case " $p1 " in
		*" $1 $2 "*) pass "$name: prints '$1 $2'" ;;
		*) fail "$name: expected '$1 $2' in: $p1" ;;
		esac
		shift 2
	done
	ip -n "$NSA" link del "$name"
	# shellcheck disable=SC2086 # the printed words
	if ip -n "$NSA" link add "$name" type ipt_ipip $p1; then
		p2=$(opts "$NSA" "$name")
		check_eq "$name: re-created from its own ip -d output" "$p1" "$p2"
	else
		fail "$name: ip link add $name type ipt_ipip $p1 (its own output) refused"
	fi
}

# json NAME JSON: ip -j -d link show must have linkinfo kind ipt_ipip and
# info_data with these keys and values (null: the key must be absent).
json() {
	local line
	while read -r line; do
		case $line in
		ok*) pass "$1 json: ${line#ok }" ;;
		*) fail "$1 json: $line" ;;
		esac
	done < <(ip -n "$NSA" -j -d link show dev "$1" | "$PY" -c '
import json, sys
want = json.loads(sys.argv[1])
try:
    li = json.load(sys.stdin)[0]["linkinfo"]
except Exception as e:
    print("bad output: %r" % e)
    sys.exit()
print(("ok" if li.get("info_kind") == "ipt_ipip" else "bad") +
      " info_kind %r" % li.get("info_kind"))
data = li.get("info_data", {})
for k, v in want.items():
    if v is None:
        print(("ok" if k not in data else "bad") + " %s absent (got %r)" % (k, data.get(k)))
    else:
        print(("ok" if data.get(k) == v else "bad") +
              " %s: expected %r, got %r" % (k, v, data.get(k, "(absent)")))
' "$2")
}

log "ip -d link show prints the options back, ip -j as JSON"
roundtrip tfull local 192.0.2.1 remote 192.0.2.7 dev veth0 ttl 17 dscp 10 dont-fragment yes -- \
	remote 192.0.2.7 local 192.0.2.1 dev veth0 ttl 17 dscp 10 dont-fragment yes
json tfull '{"remote": "192.0.2.7", "local": "192.0.2.1", "link": "veth0",
	"ttl": 17, "dscp": 10, "dont_fragment": "yes"}'
roundtrip tinh remote 192.0.2.8 ttl inherit dont-fragment no -- \
	remote 192.0.2.8 local any ttl inherit dscp inherit dont-fragment no
json tinh '{"remote": "192.0.2.8", "local": "any", "link": null,
	"ttl": "inherit", "dscp": "inherit", "dont_fragment": "no"}'
roundtrip tdef remote-address 192.0.2.6 local-address 192.0.2.11 -- \
	remote 192.0.2.6 local 192.0.2.11 ttl 64 dscp inherit dont-fragment inherit
json tdef '{"remote": "192.0.2.6", "local": "192.0.2.11", "link": null,
	"ttl": 64, "dscp": "inherit", "dont_fragment": "inherit"}'
ip -n "$NSA" link set tdef type ipt_ipip ttl 1 dscp 0 dont-fragment no dev vethc ||
	fail "ip link set tdef type ipt_ipip ttl 1 dscp 0 dont-fragment no dev vethc failed"
json tdef '{"remote": "192.0.2.6", "local": "192.0.2.11", "link": "vethc",
	"ttl": 1, "dscp": 0, "dont_fragment": "no"}'

exit $RET
