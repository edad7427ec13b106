#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configuration of ipt_4in6 devices: what is refused (by the iproute2
# plugin or by the kernel, with its message, leaving no device behind),
# what `ip -d link show` and `ip -j -d link show` print back, and live
# changes with `ip link set NAME type ipt_4in6 ...` (only the options given
# change; encaplimit moves the automatic MTU by 8 bytes, never a user MTU).
#
#  +-------------------------------------+              +-----------+
#  | $NSA                                |              | $NSB      |
#  |  veth0 2001:db8:1::1/64 (mtu 1500) -+--------------+- veth1    |
#  |  2001:db8:2::/64 via 2001:db8:1::2  |              |           |
#  |                                     |              +-----------+
#  |  tun1, tun2, ... ipt_4in6 devices with remotes in 2001:db8:2::/64
#  +-------------------------------------+
#
# Nothing is sent through the tunnels.  The kernel's own checks are reached
# with raw RTM_NEWLINK requests (python), since the plugin refuses those
# values before they get there.

source "$(dirname "$0")/lib.sh"

require_ipt
require_module veth
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not installed"

setup_ns NSA NSB
add_veth "$NSA" veth0 2001:db8:1::1/64 "$NSB" veth1 2001:db8:1::2/64
ip -n "$NSA" -6 route add 2001:db8:2::/64 via 2001:db8:1::2 || die "route to 2001:db8:2::/64"

links() { ip -n "$NSA" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }

# refused WHAT MESSAGE CMD...: CMD must fail saying MESSAGE and change no link.
refused() {
	local what=$1 msg=$2 before after out
	shift 2
	before=$(links)
	if out=$("$@" 2>&1); then
		fail "$what: accepted ($*)"
	else
		case $out in
		*"$msg"*) pass "$what: refused with \"$msg\"" ;;
		*) fail "$what: expected the message \"$msg\", got: $out" ;;
		esac
	fi
	after=$(links)
	[ "$before" = "$after" ] ||
		fail "$what: links changed from [$(echo $before)] to [$(echo $after)]"
}

add() { ip -n "$NSA" link add "$@"; }

mtu_of() { ns_exec "$NSA" cat "/sys/class/net/$1/mtu" 2>/dev/null || echo "(no $1)"; }

# details DEV: the ipt_4in6 part of `ip -d link show DEV` (up to addrgenmode)
details() {
	ip -n "$NSA" -d link show "$1" | sed -n 's/^ *\(ipt_4in6 .*\) addrgenmode.*/\1/p' | sed 's/ *$//'
}

# json_info DEV: "KEY=JSON" lines for info_kind and every key of
# linkinfo.info_data in `ip -j -d link show DEV` (one python run per device:
# the guest is slow to start it).
json_info() {
	ip -n "$NSA" -j -d link show "$1" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)[0].get("linkinfo", {})
print("info_kind=" + json.dumps(d.get("info_kind", "missing")))
for k, v in d.get("info_data", {}).items():
    print(k + "=" + json.dumps(v))'
}

# check_json DEV KEY=JSONVALUE...: "missing" for a key that must be absent.
check_json() {
	local dev=$1 kv info got
	shift
	info=$(json_info "$dev")
	for kv in "$@"; do
		got=$(sed -n "s/^${kv%%=*}=//p" <<<"$info")
		check_eq "$dev json ${kv%%=*}" "${kv#*=}" "${got:-missing}"
	done
}

# check_details WHAT DEV EXPECTED: `ip -d link show DEV` prints the
# ipt_4in6 options EXPECTED, in that order; options that come after them
# (of features other than 4in6's, e.g. clamp-tcp-mss) are not looked at.
check_details() {
	local got
	got=$(details "$2")
	case $got in
	"$3"|"$3 "*) pass "$1: $3" ;;
	*) fail "$1: expected '$3' (then anything), got '$got'" ;;
	esac
}

# --- refused by the plugin ----------------------------------------------------

log "=== refused by the iproute2 plugin"
refused "no remote" "ipt_4in6: remote is required: the IPv6 address of the peer" \
	add tun9 type ipt_4in6 local 2001:db8:1::1
refused "remote any" "ipt_4in6: remote must be the IPv6 address of the peer; only ipt_6in4 takes any" \
	add tun9 type ipt_4in6 remote any
refused "remote ::" "ipt_4in6: remote must be the IPv6 address of the peer; only ipt_6in4 takes any" \
	add tun9 type ipt_4in6 remote ::
refused "remote-address 192.0.2.1 (IPv4)" \
	"ipt_4in6: remote-address 192.0.2.1 is an IPv4 address, ipt_4in6 takes the IPv6 address of the peer" \
	add tun9 type ipt_4in6 remote-address 192.0.2.1
refused "local 192.0.2.1 (IPv4)" \
	"ipt_4in6: local 192.0.2.1 is an IPv4 address, ipt_4in6 takes an IPv6 address or any" \
	add tun9 type ipt_4in6 local 192.0.2.1 remote 2001:db8:2::1
refused "hoplimit 0" 'ipt_4in6: invalid hoplimit "0", expected 1-255 or inherit' \
	add tun9 type ipt_4in6 remote 2001:db8:2::1 hoplimit 0
refused "hoplimit 256" 'ipt_4in6: invalid hoplimit "256", expected 1-255 or inherit' \
	add tun9 type ipt_4in6 remote 2001:db8:2::1 hoplimit 256
refused "dscp 64" 'ipt_4in6: invalid dscp "64", expected 0-63 or inherit' \
	add tun9 type ipt_4in6 remote 2001:db8:2::1 dscp 64
refused "encaplimit 256" 'ipt_4in6: invalid encaplimit "256", expected 0-255 or none' \
	add tun9 type ipt_4in6 remote 2001:db8:2::1 encaplimit 256
refused "flowlabel 0x100000" 'ipt_4in6: invalid flowlabel "0x100000", expected 0-0xfffff or auto' \
	add tun9 type ipt_4in6 remote 2001:db8:2::1 flowlabel 0x100000
refused "dont-fragment maybe" 'ipt_4in6: invalid dont-fragment "maybe", expected inherit, yes or no' \
	add tun9 type ipt_4in6 remote 2001:db8:2::1 dont-fragment maybe
refused "dev nosuchdev" 'ipt_4in6: dev "nosuchdev": no such device' \
	add tun9 type ipt_4in6 remote 2001:db8:2::1 dev nosuchdev

# --- refused by the kernel ------------------------------------------------------

log "=== refused by the kernel"
refused "no options at all (kernel)" "Error: remote address is required." \
	add tun9 type ipt_4in6
refused "remote ff02::1 (multicast)" "Error: remote address must be a unicast address." \
	add tun9 type ipt_4in6 remote ff02::1
refused "remote ff0e::5 (multicast)" "Error: remote address must be a unicast address." \
	add tun9 type ipt_4in6 remote ff0e::5
refused "local ff02::1 (multicast)" "Error: local address must be a unicast address." \
	add tun9 type ipt_4in6 local ff02::1 remote 2001:db8:2::1
refused "mtu 67" "mtu less than device minimum" \
	add tun9 mtu 67 type ipt_4in6 remote 2001:db8:2::1
refused "mtu 65536" "mtu greater than device maximum" \
	add tun9 mtu 65536 type ipt_4in6 remote 2001:db8:2::1

add tun1 type ipt_4in6 local 2001:db8:1::1 remote 2001:db8:2::1 || die "cannot create tun1"
refused "duplicate of tun1 (same local, remote, no dev)" \
	"Error: a tunnel with these addresses and underlay already exists." \
	add tun9 type ipt_4in6 local 2001:db8:1::1 remote 2001:db8:2::1 hoplimit 3
refused "same name as tun1" "File exists" \
	add tun1 type ipt_4in6 local 2001:db8:1::1 remote 2001:db8:2::9
if add tun8 type ipt_4in6 local 2001:db8:1::1 remote 2001:db8:2::1 dev veth0; then
	pass "same addresses as tun1 but bound to veth0: accepted"
	ip -n "$NSA" link del tun8
else
	fail "same addresses as tun1 but bound to veth0 was refused"
fi
if add tun8 type ipt_4in6 remote 2001:db8:2::1; then
	pass "same remote as tun1 with local any: accepted"
	ip -n "$NSA" link del tun8
else
	fail "same remote as tun1 with local any was refused"
fi

# Raw RTM_NEWLINK requests with values the plugin never sends.
# newlink NAME ATTR=HEX...: prints "errno message" of the kernel's answer.
cat > /tmp/newlink.py <<'EOF'
import os, socket, struct, sys

IFLA_IFNAME, IFLA_LINKINFO, INFO_KIND, INFO_DATA = 3, 18, 1, 2
ATTRS = {"link": 1, "local": 2, "remote": 3, "ttl": 4, "dscp": 5, "df": 6,
         "encaplimit": 10, "flowlabel": 11}

def nla(t, payload):
    l = 4 + len(payload)
    return struct.pack("=HH", l, t) + payload + b"\0" * ((4 - l % 4) % 4)

name = sys.argv[1].encode() + b"\0"
data = b""
for a in sys.argv[2:]:
    k, v = a.split("=", 1)
    data += nla(ATTRS[k], bytes.fromhex(v))
linkinfo = nla(INFO_KIND, b"ipt_4in6\0") + nla(INFO_DATA | 0x8000, data)
body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0)
body += nla(IFLA_IFNAME, name) + nla(IFLA_LINKINFO | 0x8000, linkinfo)
hdr = struct.pack("=IHHII", 16 + len(body), 16, 0x1 | 0x4 | 0x400 | 0x200, 1, 0)
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.setsockopt(270, 11, 1)		# NETLINK_EXT_ACK
s.setsockopt(270, 10, 1)		# NETLINK_CAP_ACK
s.send(hdr + body)
r = s.recv(65536)
ln, typ, flags = struct.unpack("=IHH", r[:8])
err = struct.unpack("=i", r[16:20])[0]
msg = ""
pos = 20 + 16		# capped: only the request's header is echoed
while pos + 4 <= ln:
    l, t = struct.unpack("=HH", r[pos:pos + 4])
    if l < 4:
        break
    if t == 1:		# NLMSGERR_ATTR_MSG
        msg = r[pos + 4:pos + l].rstrip(b"\0").decode()
    pos += (l + 3) & ~3
print(-err, msg)
EOF

# kernel_refused WHAT ERRNO MESSAGE ATTR=HEX...
kernel_refused() {
	local what=$1 errno=$2 msg=$3 before after out
	shift 3
	before=$(links)
	out=$(ns_exec "$NSA" "$PY" /tmp/newlink.py tun9 "$@" 2>&1)
	check_eq "$what: kernel answer" "$errno $msg" "$out"
	after=$(links)
	[ "$before" = "$after" ] ||
		fail "$what: links changed from [$(echo $before)] to [$(echo $after)]"
}
R=20010db8000200000000000000000001	# 2001:db8:2::1, in hex
kernel_refused "raw encaplimit 256" 22 "encaplimit must be 0-255 or none" remote=$R encaplimit=0001
kernel_refused "raw flowlabel 0x100000" 22 "flowlabel must be 0-0xfffff or auto" remote=$R flowlabel=00001000
kernel_refused "raw dscp 64" 22 "DSCP must be 0-63 or inherit" remote=$R dscp=40
kernel_refused "raw remote ::" 22 "remote address is required" remote=00000000000000000000000000000000
kernel_refused "raw duplicate of tun1" 17 "a tunnel with these addresses and underlay already exists" \
	local=20010db8000100000000000000000001 remote=$R
out=$(ns_exec "$NSA" "$PY" /tmp/newlink.py tun9 remote=$R df=03 2>&1)
check_eq "raw dont-fragment 3 (above IPT_DF_MAX): errno" 34 "${out%% *}"
out=$(ns_exec "$NSA" "$PY" /tmp/newlink.py tun9 remote=c0000201 2>&1)
check_eq "raw 4-byte remote: errno" 34 "${out%% *}"
ip -n "$NSA" link show tun9 >/dev/null 2>&1 && fail "tun9 exists after the refused raw requests"
out=$(ns_exec "$NSA" "$PY" /tmp/newlink.py tun9 remote=$R encaplimit=ffff flowlabel=ffffffff dscp=ff 2>&1)
check_eq "raw sentinels (encaplimit none, flowlabel auto, dscp inherit): accepted" "0 " "$out"
ip -n "$NSA" link del tun9 2>/dev/null || fail "tun9 from the raw request was not created"

# --- what ip prints back ------------------------------------------------------------

log "=== ip -d link show / ip -j -d link show"
check_details "tun1 details (defaults)" tun1 \
	"ipt_4in6 remote 2001:db8:2::1 local 2001:db8:1::1 hoplimit 64 dscp inherit dont-fragment no encaplimit none flowlabel auto"
check_json tun1 info_kind='"ipt_4in6"' remote='"2001:db8:2::1"' local='"2001:db8:1::1"' \
	ttl=64 dscp='"inherit"' dont_fragment='"no"' encap_limit='"none"' flowlabel='"auto"' \
	link=missing
check_eq "tun1 MTU (1500 underlay - 40)" 1460 "$(mtu_of tun1)"

add tun2 type ipt_4in6 remote-address 2001:db8:2::2 || die "cannot create tun2"
check_details "tun2 details (remote only: local any)" tun2 \
	"ipt_4in6 remote 2001:db8:2::2 local any hoplimit 64 dscp inherit dont-fragment no encaplimit none flowlabel auto"
check_json tun2 local='"any"'

add tun3 type ipt_4in6 local 2001:db8:1::1 remote 2001:db8:2::3 dev veth0 hoplimit 17 dscp 10 \
	dont-fragment yes encaplimit 4 flowlabel 0x12345 || die "cannot create tun3 with every option"
full="ipt_4in6 remote 2001:db8:2::3 local 2001:db8:1::1 dev veth0 hoplimit 17 dscp 10 dont-fragment yes encaplimit 4 flowlabel 0x12345"
check_details "tun3 details (every option)" tun3 "$full"
check_json tun3 remote='"2001:db8:2::3"' local='"2001:db8:1::1"' link='"veth0"' ttl=17 dscp=10 \
	dont_fragment='"yes"' encap_limit=4 flowlabel=74565
check_eq "tun3 MTU (1500 - 40 - 8 for the encap limit option)" 1452 "$(mtu_of tun3)"

add tun4 type ipt_4in6 remote 2001:db8:2::4 hoplimit inherit dont-fragment inherit encaplimit 0 \
	flowlabel 0 dscp 0 || die "cannot create tun4"
check_details "tun4 details (inherit, zeros)" tun4 \
	"ipt_4in6 remote 2001:db8:2::4 local any hoplimit inherit dscp 0 dont-fragment inherit encaplimit 0 flowlabel 0x00000"
check_json tun4 ttl='"inherit"' dscp=0 dont_fragment='"inherit"' encap_limit=0 flowlabel=0

add tun5 type ipt_4in6 remote 2001:db8:2::5 hoplimit 255 dscp 63 encaplimit 255 flowlabel 0xfffff ||
	die "cannot create tun5 (maxima)"
check_details "tun5 details (maxima)" tun5 \
	"ipt_4in6 remote 2001:db8:2::5 local any hoplimit 255 dscp 63 dont-fragment no encaplimit 255 flowlabel 0xfffff"
check_json tun5 ttl=255 dscp=63 encap_limit=255 flowlabel=1048575

log "the printed words are accepted back by the parser"
words=$(details tun3)
words=${words#ipt_4in6 }
words=${words/remote 2001:db8:2::3/remote 2001:db8:2::6}
# shellcheck disable=SC2086 # the printed words
if add tun6 type ipt_4in6 $words; then
	check_details "tun6 made from tun3's printed options" tun6 "${full/2001:db8:2::3/2001:db8:2::6}"
else
	fail "ip link add tun6 type ipt_4in6 $words (tun3's printed options) was refused"
fi
ttl_alias=$(add tun7 type ipt_4in6 remote 2001:db8:2::7 ttl 9 2>&1 && details tun7)
case $ttl_alias in
*" hoplimit 9 "*) pass "ttl is an alias of hoplimit" ;;
*) fail "ttl 9: expected 'hoplimit 9' in: $ttl_alias" ;;
esac
refused "hoplimit and ttl together" "ipt_4in6: hoplimit and ttl set the same option" \
	add tun9 type ipt_4in6 remote 2001:db8:2::9 hoplimit 3 ttl 4

# --- live changes -------------------------------------------------------------------

log "=== live changes"
set_type() { ip -n "$NSA" link set "$1" type ipt_4in6 "${@:2}"; }

set_type tun1 encaplimit 4 || fail "ip link set tun1 type ipt_4in6 encaplimit 4 failed"
check_eq "tun1 MTU after encaplimit 4" 1452 "$(mtu_of tun1)"
check_details "tun1 details after encaplimit 4 (nothing else changed)" tun1 \
	"ipt_4in6 remote 2001:db8:2::1 local 2001:db8:1::1 hoplimit 64 dscp inherit dont-fragment no encaplimit 4 flowlabel auto"
set_type tun1 encaplimit 7 || fail "encaplimit 7 on tun1 failed"
check_eq "tun1 MTU after encaplimit 4 -> 7" 1452 "$(mtu_of tun1)"
set_type tun1 encaplimit none || fail "encaplimit none on tun1 failed"
check_eq "tun1 MTU after encaplimit none" 1460 "$(mtu_of tun1)"
set_type tun3 encaplimit none || fail "encaplimit none on tun3 failed"
check_eq "tun3 MTU after encaplimit none" 1460 "$(mtu_of tun3)"
check_details "tun3 details after encaplimit none (the rest kept)" tun3 \
	"${full/encaplimit 4/encaplimit none}"

set_type tun1 hoplimit 5 dscp 46 dont-fragment yes flowlabel 0xabcde ||
	fail "changing hoplimit, dscp, dont-fragment and flowlabel on tun1 failed"
check_details "tun1 details after four changes" tun1 \
	"ipt_4in6 remote 2001:db8:2::1 local 2001:db8:1::1 hoplimit 5 dscp 46 dont-fragment yes encaplimit none flowlabel 0xabcde"
set_type tun1 hoplimit inherit dscp inherit dont-fragment no flowlabel auto ||
	fail "changing tun1 back failed"
check_details "tun1 details back to the defaults" tun1 \
	"ipt_4in6 remote 2001:db8:2::1 local 2001:db8:1::1 hoplimit inherit dscp inherit dont-fragment no encaplimit none flowlabel auto"

log "a user MTU is not moved by encaplimit"
ip -n "$NSA" link set tun2 mtu 1400 || fail "ip link set tun2 mtu 1400 failed"
set_type tun2 encaplimit 4 || fail "encaplimit 4 on tun2 failed"
check_eq "tun2 (user mtu 1400) MTU after encaplimit 4" 1400 "$(mtu_of tun2)"
set_type tun2 encaplimit none || fail "encaplimit none on tun2 failed"
check_eq "tun2 (user mtu 1400) MTU after encaplimit none" 1400 "$(mtu_of tun2)"
add tun8 mtu 1300 type ipt_4in6 remote 2001:db8:2::8 || fail "ip link add tun8 mtu 1300 failed"
set_type tun8 encaplimit 1 || fail "encaplimit 1 on tun8 failed"
check_eq "tun8 (created with mtu 1300) MTU after encaplimit 1" 1300 "$(mtu_of tun8)"

log "refused changes leave the device as it was"
before=$(details tun5)
refused "set tun5 remote ff02::1" "Error: remote address must be a unicast address." \
	set_type tun5 remote ff02::1
refused "set tun5 to tun1's addresses" "Error: a tunnel with these addresses and underlay already exists." \
	set_type tun5 local 2001:db8:1::1 remote 2001:db8:2::1
refused "set tun5 encaplimit 300" 'ipt_4in6: invalid encaplimit "300", expected 0-255 or none' \
	set_type tun5 encaplimit 300
refused "set tun5 mtu 67" "mtu less than device minimum" ip -n "$NSA" link set tun5 mtu 67
check_details "tun5 after the refused changes" tun5 "$before"
check_eq "tun5 MTU after the refused changes" 1452 "$(mtu_of tun5)"

log "changing the remote: the new one is shown and used for lookup"
set_type tun5 remote 2001:db8:2::55 || fail "remote 2001:db8:2::55 on tun5 failed"
check_details "tun5 details after the new remote" tun5 "${before/2001:db8:2::5 /2001:db8:2::55 }"
if add tun9 type ipt_4in6 remote 2001:db8:2::5 hoplimit 255 dscp 63 encaplimit 255; then
	pass "tun5's old addresses are free again"
	ip -n "$NSA" link del tun9
else
	fail "tun5's old addresses are still taken after changing its remote"
fi
refused "tun5's new addresses are taken" "Error: a tunnel with these addresses and underlay already exists." \
	add tun9 type ipt_4in6 remote 2001:db8:2::55

exit $RET
