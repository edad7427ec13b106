#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configuration of ipt_6in4 devices: what is refused, with which message,
# and that a refusal leaves nothing behind (no device, no stale entry in
# the receive table: the same addresses can be used right after); what is
# accepted is printed back by `ip -d link show` and `ip -j -d link show`,
# in words the parser takes again.
#
#  +-----------------------------------------------+       +----------------+
#  | $NS                                           |       | $PEER          |
#  |  veth0 192.0.2.1/24 --------------------------+-------+- veth1         |
#  |                                               |       |  192.0.2.2/24  |
#  |  he-ipv6  ipt_6in4 local 192.0.2.1 remote 192.0.2.2 [options]         |
#  |  tun6to4  ipt_6in4 local 192.0.2.1 (no remote: automatic 6to4)        |
#  |  (and the refused ones)                       |       |                |
#  +-----------------------------------------------+       +----------------+
#
# Refusals are checked at both levels that refuse: the iproute2 plugin's
# message for `ip link ...`, and the kernel's extended ack for raw
# RTM_NEWLINK requests that bypass the plugin (a small python helper).
# Nothing is sent through the tunnels.

source "$(dirname "$0")/lib.sh"

require_ipt
require_module veth
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"

TMPD=$(mktemp -d /tmp/6in4_config.XXXXXX) || die "mktemp"

# nl.py: raw RTM_NEWLINK requests, one per line of stdin, each answered by
# one line: "ok" or "error ERRNO: EXTACK MESSAGE".  A request is
# "add|set IFNAME KIND [ATTR=VALUE...]": add creates (exclusive), set
# changes an existing device.  ATTR is mtu or an IFLA_IPT_* name (lower
# case, no prefix); VALUE is an IPv4 address or TYPE:NUMBER, TYPE being
# u8, u16 or u32.  One python for all requests: it starts slowly under TCG.
cat > "$TMPD/nl.py" <<'EOF'
import errno, ipaddress, socket, struct, sys

IPT = ["unspec", "link", "local", "remote", "ttl", "dscp", "df",
       "clamp_mss", "keepalive_interval", "keepalive_retries",
       "encap_limit", "flowlabel"]
IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO = 3, 4, 18
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
RTM_NEWLINK, NLMSG_ERROR = 16, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 1, 4, 0x200, 0x400
NLM_F_ACK_TLVS, NLMSGERR_ATTR_MSG = 0x200, 1
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11

def nla(t, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, t) + data + bytes(-n % 4)

def value(v):
    if ":" in v:
        t, n = v.split(":")
        return struct.pack({"u8": "=B", "u16": "=H", "u32": "=I"}[t], int(n, 0))
    return ipaddress.IPv4Address(v).packed

def request(seq, op, name, kind, *attrs):
    flags = NLM_F_REQUEST | NLM_F_ACK
    if op == "add":
        flags |= NLM_F_CREATE | NLM_F_EXCL
    top, data = nla(IFLA_IFNAME, name.encode() + bytes(1)), b""
    for a in attrs:
        k, v = a.split("=", 1)
        if k == "mtu":
            top += nla(IFLA_MTU, struct.pack("=I", int(v)))
        else:
            data += nla(IPT.index(k), value(v))
    info = nla(IFLA_INFO_KIND, kind.encode() + bytes(1)) + \
        nla(IFLA_INFO_DATA | 0x8000, data)
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0) + top + \
        nla(IFLA_LINKINFO | 0x8000, info)
    return struct.pack("=IHHII", 16 + len(body), RTM_NEWLINK, flags, seq, 0) + body

s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
s.bind((0, 0))
s.settimeout(60)
for seq, line in enumerate(sys.stdin, 1):
    s.send(request(seq, *line.split()))
    try:
        r = s.recv(65536)
    except socket.timeout:
        print("no answer")
        continue
    length, typ, rflags, rseq = struct.unpack("=IHHI", r[:12])
    if typ != NLMSG_ERROR or rseq != seq:
        print("unexpected answer type %d seq %d" % (typ, rseq))
        continue
    err = -struct.unpack("=i", r[16:20])[0]
    if not err:
        print("ok")
        continue
    text, off = "", 20 + 16	# capped: the request's header only
    while rflags & NLM_F_ACK_TLVS and off + 4 <= length:
        n, t = struct.unpack("=HH", r[off:off + 4])
        if n < 4:
            break
        if t & 0x3fff == NLMSGERR_ATTR_MSG:
            text = r[off + 4:off + n].rstrip(bytes(1)).decode()
        off += (n + 3) & ~3
    print("error %s: %s" % (errno.errorcode.get(err, err), text))
EOF

setup_ns NS PEER
add_veth "$NS" veth0 192.0.2.1/24 "$PEER" veth1 192.0.2.2/24

IPL="ip -n $NS link"

links() { ip -n "$NS" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }
links_now() { links | paste -sd " "; }
BASE_LINKS=$(links_now)

# details DEV: the kind's part of `ip -d link show`: "ipt_6in4 WORD VALUE..."
details() {
	ip -n "$NS" -d link show dev "$1" 2>&1 |
		sed -n 's/^ *\(ipt_6in4 .*\)$/\1/p' |
		sed -E 's/ +(addrgenmode|numtxqueues|gso_max_size) .*//; s/ +$//'
}

# check_opts DEV WORD=VALUE...: each option WORD of DEV's details has
# VALUE; an empty VALUE means the word must not be printed at all.
check_opts() {
	local dev=$1 d kv want got
	shift
	d=" $(details "$dev") "
	case $d in
	" ipt_6in4 "*) ;;
	*) fail "$dev: no ipt_6in4 details in: $d"; return ;;
	esac
	for kv in "$@"; do
		want=${kv#*=}
		got=$(awk -v w="${kv%%=*}" '{ for (i = 2; i < NF; i += 2) if ($i == w) { print $(i + 1); exit } }' <<<"$d")
		check_eq "$dev: ip -d link show, ${kv%%=*}" "${want:-(not printed)}" "${got:-(not printed)}"
	done
}

# json DEV KEY...: "KEY=VALUE ..." from linkinfo.info_data of
# `ip -j -d link show`, VALUE as JSON has it; a missing KEY is "-".
json() {
	local dev=$1
	shift
	ip -n "$NS" -j -d link show dev "$dev" | "$PY" -c '
import json, sys
li = json.load(sys.stdin)[0]["linkinfo"]
d = li.get("info_data", {})
print(" ".join(["kind=" + li["info_kind"]] +
               ["%s=%s" % (k, json.dumps(d[k]) if k in d else "-") for k in sys.argv[1:]]))' "$@"
}

# refused WHAT MESSAGE CMD...: CMD fails saying MESSAGE and the set of
# links stays as it was.
refused() {
	local what=$1 msg=$2 before out
	shift 2
	before=$(links_now)
	if out=$("$@" 2>&1); then
		fail "$what: accepted ($*)"
	else
		case $out in
		*"$msg"*) pass "$what: refused with \"$msg\"" ;;
		*) fail "$what: expected the message \"$msg\", got: $out" ;;
		esac
	fi
	[ "$before" = "$(links_now)" ] ||
		fail "$what: links changed from [$before] to [$(links_now)]"
}

# nl_refused WHAT ERRNO MESSAGE REQUEST: queue a raw request that the
# kernel must refuse with ERRNO and MESSAGE; nl_run sends the queue.
NL_WHAT=()
NL_WANT=()
NL_REQ=()
nl_refused() {
	NL_WHAT+=("$1")
	NL_WANT+=("error $2: $3")
	NL_REQ+=("$4")
}
nl_run() {
	local before out i
	before=$(links_now)
	mapfile -t out < <(printf '%s\n' "${NL_REQ[@]}" | ns_exec "$NS" "$PY" "$TMPD/nl.py" 2>&1)
	for i in "${!NL_REQ[@]}"; do
		check_eq "${NL_WHAT[i]} (kernel, raw netlink: ${NL_REQ[i]})" \
			"${NL_WANT[i]}" "${out[i]:-(no answer)}"
	done
	[ "$before" = "$(links_now)" ] ||
		fail "raw requests: links changed from [$before] to [$(links_now)]"
	NL_WHAT=()
	NL_WANT=()
	NL_REQ=()
}

# accepted WHAT CMD...
accepted() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$what"
	else
		fail "$what: refused: $out"
	fi
}

ADDRS="local 192.0.2.1 remote 192.0.2.2"

# ---------------------------------------------------------------------------
log "=== refused by the iproute2 plugin"

refused "ttl 0" 'ipt_6in4: invalid ttl "0", expected 1-255 or inherit' \
	$IPL add he-ipv6 type ipt_6in4 $ADDRS ttl 0
refused "ttl 256" 'ipt_6in4: invalid ttl "256", expected 1-255 or inherit' \
	$IPL add he-ipv6 type ipt_6in4 $ADDRS ttl 256
refused "ttl -1" 'ipt_6in4: invalid ttl "-1", expected 1-255 or inherit' \
	$IPL add he-ipv6 type ipt_6in4 $ADDRS ttl -1
refused "dscp 64" 'ipt_6in4: invalid dscp "64", expected 0-63 or inherit' \
	$IPL add he-ipv6 type ipt_6in4 $ADDRS dscp 64
refused "dont-fragment maybe" 'ipt_6in4: invalid dont-fragment "maybe", expected inherit, yes or no' \
	$IPL add he-ipv6 type ipt_6in4 $ADDRS dont-fragment maybe
refused "encaplimit (ipt_4in6 only)" 'ipt_6in4: unknown option "encaplimit"' \
	$IPL add he-ipv6 type ipt_6in4 $ADDRS encaplimit 4
refused "flowlabel (ipt_4in6 only)" 'ipt_6in4: unknown option "flowlabel"' \
	$IPL add he-ipv6 type ipt_6in4 $ADDRS flowlabel 5
refused "hoplimit (ipt_4in6 only)" 'ipt_6in4: unknown option "hoplimit"' \
	$IPL add he-ipv6 type ipt_6in4 $ADDRS hoplimit 5
refused "IPv6 remote" 'ipt_6in4: remote 2001:db8::1 is an IPv6 address, ipt_6in4 takes an IPv4 address, or any for automatic 6to4' \
	$IPL add he-ipv6 type ipt_6in4 local 192.0.2.1 remote 2001:db8::1
refused "ttl given twice" 'ipt_6in4: ttl given twice' \
	$IPL add he-ipv6 type ipt_6in4 $ADDRS ttl 5 ttl 6
refused "remote and remote-address" 'ipt_6in4: remote and remote-address set the same option' \
	$IPL add he-ipv6 type ipt_6in4 remote 192.0.2.2 remote-address 192.0.2.3
refused "dev that does not exist" 'ipt_6in4: dev "nosuchdev": no such device' \
	$IPL add he-ipv6 type ipt_6in4 $ADDRS dev nosuchdev

# ---------------------------------------------------------------------------
log "=== refused by the kernel"

refused "local multicast" "local address must be a unicast address" \
	$IPL add he-ipv6 type ipt_6in4 local 224.0.0.1 remote 192.0.2.2
refused "local broadcast" "local address must be a unicast address" \
	$IPL add he-ipv6 type ipt_6in4 local 255.255.255.255 remote 192.0.2.2
refused "remote multicast" "remote address must be a unicast address" \
	$IPL add he-ipv6 type ipt_6in4 local 192.0.2.1 remote 239.1.2.3
refused "remote broadcast" "remote address must be a unicast address" \
	$IPL add he-ipv6 type ipt_6in4 local 192.0.2.1 remote 255.255.255.255
refused "6to4 with a multicast local" "local address must be a unicast address" \
	$IPL add tun6to4 type ipt_6in4 local 232.1.1.1
refused "mtu 1279" "mtu less than device minimum" \
	$IPL add he-ipv6 mtu 1279 type ipt_6in4 $ADDRS
refused "mtu 65516" "mtu greater than device maximum" \
	$IPL add he-ipv6 mtu 65516 type ipt_6in4 $ADDRS

R="add he-ipv6 ipt_6in4 local=192.0.2.1 remote=192.0.2.2"
nl_refused "dscp 64" EINVAL "DSCP must be 0-63 or inherit" "$R dscp=u8:64"
nl_refused "dscp 254" EINVAL "DSCP must be 0-63 or inherit" "$R dscp=u8:254"
nl_refused "dont-fragment 3" ERANGE "integer out of range" "$R df=u8:3"
nl_refused "encaplimit" EINVAL "encaplimit is only valid for ipt_4in6" "$R encap_limit=u16:4"
nl_refused "flowlabel" EINVAL "flowlabel is only valid for ipt_4in6" "$R flowlabel=u32:5"
nl_refused "local multicast" EINVAL "local address must be a unicast address" \
	"add he-ipv6 ipt_6in4 local=224.0.0.1 remote=192.0.2.2"
nl_refused "remote multicast" EINVAL "remote address must be a unicast address" \
	"add he-ipv6 ipt_6in4 local=192.0.2.1 remote=224.0.0.5"
nl_refused "mtu 1279" EINVAL "mtu less than device minimum" "$R mtu=1279"
nl_refused "underlay ifindex 999999" ENODEV "underlay device not found" "$R link=u32:999999"
nl_run

# A refused request must not have left the addresses taken.
accepted "the refused addresses are free again" $IPL add he-ipv6 type ipt_6in4 $ADDRS
accepted "6to4 on the same local" $IPL add tun6to4 type ipt_6in4 local 192.0.2.1

# ---------------------------------------------------------------------------
log "=== duplicates"

EEXIST_MSG="a tunnel with these addresses and underlay already exists"
refused "same local and remote (EEXIST)" "$EEXIST_MSG" \
	$IPL add he-ipv6b type ipt_6in4 $ADDRS
refused "a second 6to4 tunnel on the same local (EEXIST)" "$EEXIST_MSG" \
	$IPL add tun6to4b type ipt_6in4 local 192.0.2.1
refused "6to4 with remote any spelled out (EEXIST)" "$EEXIST_MSG" \
	$IPL add tun6to4b type ipt_6in4 local 192.0.2.1 remote any
refused "same device name" "File exists" \
	$IPL add he-ipv6 type ipt_6in4 local 192.0.2.1 remote 192.0.2.9
accepted "same addresses bound to an underlay device (dev veth0)" \
	$IPL add he-ipv6b type ipt_6in4 $ADDRS dev veth0
refused "same addresses and the same underlay device (EEXIST)" "$EEXIST_MSG" \
	$IPL add he-ipv6c type ipt_6in4 $ADDRS dev veth0
accepted "ipt_ipip with the same addresses (another inner protocol)" \
	$IPL add ipip-b type ipt_ipip $ADDRS
accepted "another remote from the same local" \
	$IPL add he-ipv6c type ipt_6in4 local 192.0.2.1 remote 192.0.2.3

log "=== refused changes leave the device as it was"
before=$(details he-ipv6c)
refused "change to the addresses of he-ipv6 (EEXIST)" "$EEXIST_MSG" \
	$IPL set he-ipv6c type ipt_6in4 remote 192.0.2.2
refused "change to a multicast remote" "remote address must be a unicast address" \
	$IPL set he-ipv6c type ipt_6in4 remote 224.1.1.1
refused "change to a multicast local" "local address must be a unicast address" \
	$IPL set he-ipv6c type ipt_6in4 local 239.0.0.1
refused "set mtu 1279" "mtu less than device minimum" $IPL set he-ipv6c mtu 1279
nl_refused "change to the addresses of he-ipv6" EEXIST "$EEXIST_MSG" \
	"set he-ipv6c ipt_6in4 remote=192.0.2.2"
nl_refused "change to dscp 64" EINVAL "DSCP must be 0-63 or inherit" \
	"set he-ipv6c ipt_6in4 dscp=u8:64"
nl_refused "change with encaplimit" EINVAL "encaplimit is only valid for ipt_4in6" \
	"set he-ipv6c ipt_6in4 encap_limit=u16:0"
nl_refused "change with flowlabel" EINVAL "flowlabel is only valid for ipt_4in6" \
	"set he-ipv6c ipt_6in4 flowlabel=u32:0"
nl_run
check_eq "he-ipv6c after the refused changes" "$before" "$(details he-ipv6c)"
check_eq "he-ipv6c MTU after the refused changes" 1480 \
	"$(ns_exec "$NS" cat /sys/class/net/he-ipv6c/mtu)"
accepted "he-ipv6c mtu 1280 (the IPv6 minimum)" $IPL set he-ipv6c mtu 1280
accepted "he-ipv6c takes over 192.0.2.2 once he-ipv6b is gone" \
	eval "$IPL del he-ipv6b && $IPL set he-ipv6c type ipt_6in4 remote 192.0.2.2 dev veth0"

for d in he-ipv6c ipip-b tun6to4; do
	$IPL del "$d" || fail "ip link del $d"
done

# ---------------------------------------------------------------------------
log "=== what ip -d link show prints"

check_opts he-ipv6 remote=192.0.2.2 local=192.0.2.1 dev= ttl=64 dscp=inherit \
	dont-fragment=inherit
range=$(ip -n "$NS" -d link show dev he-ipv6)
case $range in
*"minmtu 1280 maxmtu 65515"*) pass "he-ipv6: minmtu 1280 maxmtu 65515" ;;
*) fail "he-ipv6: expected 'minmtu 1280 maxmtu 65515' in: $range" ;;
esac
case $range in
*"link/sit 192.0.2.1 peer 192.0.2.2 "*) pass "he-ipv6: link/sit 192.0.2.1 peer 192.0.2.2" ;;
*) fail "he-ipv6: expected 'link/sit 192.0.2.1 peer 192.0.2.2' in: $range" ;;
esac
check_eq "he-ipv6 MTU (veth0 1500 - 20)" 1480 "$(ns_exec "$NS" cat /sys/class/net/he-ipv6/mtu)"

$IPL set he-ipv6 type ipt_6in4 ttl inherit dscp 46 dont-fragment yes ||
	fail "ip link set he-ipv6 type ipt_6in4 ttl inherit dscp 46 dont-fragment yes"
check_opts he-ipv6 remote=192.0.2.2 local=192.0.2.1 ttl=inherit dscp=46 dont-fragment=yes
$IPL set he-ipv6 type ipt_6in4 ttl 255 dscp 0 dont-fragment no dev veth0 ||
	fail "ip link set he-ipv6 type ipt_6in4 ttl 255 dscp 0 dont-fragment no dev veth0"
check_opts he-ipv6 remote=192.0.2.2 local=192.0.2.1 dev=veth0 ttl=255 dscp=0 dont-fragment=no
$IPL set he-ipv6 type ipt_6in4 remote 198.51.100.7 ||
	fail "ip link set he-ipv6 type ipt_6in4 remote 198.51.100.7"
check_opts he-ipv6 remote=198.51.100.7 local=192.0.2.1 dev=veth0 ttl=255 dscp=0 dont-fragment=no
check_eq "ip -j -d link show he-ipv6" \
	'kind=ipt_6in4 remote="198.51.100.7" local="192.0.2.1" link="veth0" ttl=255 dscp=0 dont_fragment="no"' \
	"$(json he-ipv6 remote local link ttl dscp dont_fragment)"

$IPL add tun6to4 type ipt_6in4 local 192.0.2.1 || fail "cannot create tun6to4"
check_opts tun6to4 remote=any local=192.0.2.1 dev= ttl=64 dscp=inherit dont-fragment=inherit
check_eq "ip -j -d link show tun6to4" \
	'kind=ipt_6in4 remote="any" local="192.0.2.1" link=- ttl=64 dscp="inherit" dont_fragment="inherit"' \
	"$(json tun6to4 remote local link ttl dscp dont_fragment)"
$IPL add any6to4 type ipt_6in4 remote any || fail "cannot create any6to4 (remote any, local any)"
check_opts any6to4 remote=any local=any ttl=64
check_eq "ip -j -d link show any6to4" 'kind=ipt_6in4 remote="any" local="any"' \
	"$(json any6to4 remote local)"
# flags DEV: the link flags, as in <...> of ip link show
flags() { ip -n "$NS" -o link show dev "$1" | sed -n 's/.*<\([^>]*\)>.*/\1/p'; }
# check_p2p DEV yes|no: POINTOPOINT and "peer" for a fixed remote; none
# for automatic 6to4, which is NBMA like sit's (addrconf then gives it
# ::a.b.c.d/96, and a relay written ::a.b.c.d is an on-link next hop).
check_p2p() {
	local dev=$1 want=$2 got=no line
	case ",$(flags "$dev")," in *,POINTOPOINT,*) got=yes ;; esac
	check_eq "$dev: POINTOPOINT flag" "$want" "$got"
	line=$(ip -n "$NS" link show dev "$dev" | sed -n 's/^ *\(link\/sit .*\)/\1/p')
	case $want:$line in
	yes:"link/sit "*" peer "*|no:"link/sit "*" brd 0.0.0.0"*) pass "$dev: $line" ;;
	*) fail "$dev: expected link/sit ... $([ "$want" = yes ] && echo peer || echo brd 0.0.0.0), got: $line" ;;
	esac
}
check_p2p he-ipv6 yes
check_p2p tun6to4 no
check_p2p any6to4 no
$IPL set tun6to4 type ipt_6in4 remote 192.0.2.9 || fail "ip link set tun6to4 type ipt_6in4 remote 192.0.2.9"
check_p2p tun6to4 yes
$IPL set tun6to4 type ipt_6in4 remote any || fail "ip link set tun6to4 type ipt_6in4 remote any"
check_p2p tun6to4 no
check_opts tun6to4 remote=any local=192.0.2.1

log "=== the printed words create the same device again"
for d in he-ipv6 tun6to4 any6to4; do
	words=$(details "$d")
	words=${words#ipt_6in4 }
	$IPL del "$d" || fail "ip link del $d"
	# shellcheck disable=SC2086 # the words are the options
	if out=$($IPL add "$d" type ipt_6in4 $words 2>&1); then
		check_eq "$d recreated from its own printout" "ipt_6in4 $words" "$(details "$d")"
	else
		fail "ip link add $d type ipt_6in4 $words: $out"
	fi
done

log "=== ip link set changes only the options given"
$IPL set tun6to4 type ipt_6in4 ttl 9 || fail "ip link set tun6to4 type ipt_6in4 ttl 9"
check_opts tun6to4 remote=any local=192.0.2.1 ttl=9 dscp=inherit dont-fragment=inherit
$IPL set tun6to4 type ipt_6in4 dscp 10 || fail "ip link set tun6to4 type ipt_6in4 dscp 10"
check_opts tun6to4 remote=any local=192.0.2.1 ttl=9 dscp=10 dont-fragment=inherit

log "=== nothing is left behind"
for d in he-ipv6 tun6to4 any6to4; do
	$IPL del "$d" || fail "ip link del $d"
done
check_eq "links left in $NS" "$BASE_LINKS" "$(links_now)"

exit $RET
