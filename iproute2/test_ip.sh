#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The ipt plugins inside the real ip (iproute2 6.1), with no ipt module.
#
# Each accepted command runs with ipt_shim.so, which keeps the
# IFLA_LINKINFO that the plugin built; then "ip -d link show dev lo", with
# -j and with -j -p, runs with that IFLA_LINKINFO added to the kernel's
# answer, so ip itself loads the plugin, prints around it and writes the
# JSON; with an IFLA_INFO_XSTATS nest added, "ip -s -d" also shows the
# extended statistics.  Refused input must make ip fail with the plugin's message and
# send nothing.
#
# Usage: test_ip.sh DIR	(the directory of link_ipt_*.so and ipt_shim.so)
#
# Where it may (root), it runs in a network namespace of its own: should
# the module be loaded, what "ip link add" creates goes away with it.

set -u

dir=$(cd "${1:?usage: $0 DIR}" && pwd)
if [ -z "${IPT_TEST_NETNS:-}" ] && unshare -n true 2>/dev/null; then
	IPT_TEST_NETNS=1 exec unshare -n "$0" "$@"
fi

ip=${IP:-ip}
python=${PYTHON:-/usr/bin/python3}
shim=$dir/ipt_shim.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export IP_LIB_DIR=$dir
passed=0
failed=0

result() # STATUS DESCRIPTION [DETAIL...]
{
	local status=$1 what=$2

	shift 2
	if [ "$status" = 0 ]; then
		passed=$((passed + 1))
		echo "ok $((passed + failed)) - $what"
	else
		failed=$((failed + 1))
		echo "not ok $((passed + failed)) - $what"
		printf '#   %s\n' "$@"
	fi
}

# ip with the shim; IPT_SHIM_* come from the caller.
shim_ip()
{
	LD_PRELOAD=$shim "$ip" "$@"
}

# check { add | set } KIND ARGS PLAIN JSON
#
# ARGS are accepted and sent; shown back, they read PLAIN in
# "ip -d link show" and JSON (the "info_data" object) in "ip -j -d".
check()
{
	local verb=$1 kind=$2 args=$3 plain=$4 json=$5
	local what="$verb $kind $args" name=ipttest line
	local -a words

	read -r -a words <<<"$args"
	[ "$verb" = set ] && name=lo
	rm -f "$tmp/sent"
	IPT_SHIM_SAVE=$tmp/sent shim_ip link "$verb" "$name" type "$kind" \
		"${words[@]}" 2>"$tmp/err"
	if [ ! -s "$tmp/sent" ] || grep -q '^ipt_' "$tmp/err"; then
		result 1 "$what" "not sent: $(cat "$tmp/err")"
		return
	fi

	line=$(IPT_SHIM_LINKINFO=$tmp/sent shim_ip -d link show dev lo |
	       grep "^    $kind")
	[ "${line#"    $kind $plain"}" != "$line" ]
	result $? "$what: plain" "got:  $line" "want: $kind $plain"

	IPT_SHIM_LINKINFO=$tmp/sent shim_ip -d -j link show dev lo \
		>"$tmp/json"
	"$python" - "$tmp/json" "$kind" "$json" <<'EOF'
import json, sys
got = json.load(open(sys.argv[1]))[0]["linkinfo"]
want = {"info_kind": sys.argv[2], "info_data": json.loads(sys.argv[3])}
if got != want:
    print("#   got:  " + json.dumps(got))
    print("#   want: " + json.dumps(want))
    sys.exit(1)
EOF
	result $? "$what: json"

	IPT_SHIM_LINKINFO=$tmp/sent shim_ip -d -j -p link show dev lo |
		"$python" -m json.tool >/dev/null
	result $? "$what: json -p"
}

# xstats KIND: the device of the last check, with the IFLA_INFO_XSTATS
# nest that the kernel's ipt_fill_xstats() adds (after IFLA_INFO_KIND,
# NLA_F_NESTED set, one u64 per counter; counter N holds N * 1000, and
# no_tunnel more than 32 bits).  ip 6.1 shows it with -s -d only: in plain
# text as a block after the kind's line, in JSON as linkinfo.info_xstats.
xstats()
{
	local kind=$1 out rc
	local -a got want
	local want_plain="
    tunnel: keepalive-tx keepalive-rx carrier-changes mss-clamped pmtu-updates
                    2000         3000            4000        5000         6000
    drops:  header  ecn loop  6to4 too-big no-route
              7000 8000 9000 10000   11000    12000
    netns:   no-tunnel
            4294980296
    addrgenmode "
	local want_json='{"keepalive_tx": 2000, "keepalive_rx": 3000, "carrier_changes": 4000, "mss_clamped": 5000, "pmtu_updates": 6000, "drop_header": 7000, "drop_ecn": 8000, "drop_loop": 9000, "drop_6to4": 10000, "drop_too_big": 11000, "drop_no_route": 12000, "no_tunnel": 4294980296}'

	if ! "$python" - "$tmp/sent" "$tmp/xstats" <<'EOF'
import struct, sys
IFLA_INFO_KIND, IFLA_INFO_XSTATS, NLA_F_NESTED = 1, 3, 0x8000
def attr(t, data):
    return struct.pack("=HH", 4 + len(data), t) + data + bytes(-len(data) % 4)
li = open(sys.argv[1], "rb").read()
length, typ = struct.unpack_from("=HH", li)
body = li[4:length]
klen, ktype = struct.unpack_from("=HH", body)
assert ktype == IFLA_INFO_KIND
kind, rest = body[:(klen + 3) & ~3], body[(klen + 3) & ~3:]
counters = b"".join(attr(n, struct.pack("=Q", n * 1000 + (1 << 32 if n == 13 else 0)))
                    for n in range(2, 14))
xs = attr(IFLA_INFO_XSTATS | NLA_F_NESTED, counters)
open(sys.argv[2], "wb").write(attr(typ, kind + xs + rest))
EOF
	then
		result 1 "xstats $kind: cannot build the nest"
		return
	fi

	out=$(IPT_SHIM_LINKINFO=$tmp/xstats shim_ip -d link show dev lo)
	[ "$out" = "$(IPT_SHIM_LINKINFO=$tmp/sent shim_ip -d link show dev lo)" ]
	result $? "xstats $kind: not shown without -s" "got: $out"

	out=$(IPT_SHIM_LINKINFO=$tmp/xstats shim_ip -s -d link show dev lo)
	[ "${out#*"    $kind "*" $want_plain"}" != "$out" ]
	rc=$?
	mapfile -t got <<<"$out"
	mapfile -t want <<<"$want_plain"
	result $rc "xstats $kind: ip -s -d" "got:" "${got[@]}" \
		"want after the kind's line:" "${want[@]}"

	IPT_SHIM_LINKINFO=$tmp/xstats shim_ip -s -d -j link show dev lo \
		>"$tmp/json"
	"$python" - "$tmp/json" "$kind" "$want_json" <<'EOF'
import json, sys
got = json.load(open(sys.argv[1]))[0]["linkinfo"]
want = json.loads(sys.argv[3])
if got.get("info_kind") != sys.argv[2] or got.get("info_xstats") != want:
    print("#   got:  " + json.dumps(got))
    print("#   want: info_xstats " + json.dumps(want))
    sys.exit(1)
EOF
	result $? "xstats $kind: ip -s -d -j"

	IPT_SHIM_LINKINFO=$tmp/xstats shim_ip -d -j link show dev lo \
		>"$tmp/json"
	"$python" - "$tmp/json" <<'EOF'
import json, sys
sys.exit("info_xstats" in json.load(open(sys.argv[1]))[0]["linkinfo"])
EOF
	result $? "xstats $kind: no info_xstats without -s"

	IPT_SHIM_LINKINFO=$tmp/xstats shim_ip -s -s -d -j -p link show dev lo |
		"$python" -m json.tool >/dev/null
	result $? "xstats $kind: ip -s -s -d -j -p is valid JSON"
}

# refuse KIND ARGS MESSAGE: ip fails with MESSAGE, the first line of its
# stderr, and sends no RTM_NEWLINK.
refuse()
{
	local kind=$1 args=$2 msg=$3 rc
	local -a words

	read -r -a words <<<"$args"
	rm -f "$tmp/sent"
	IPT_SHIM_SAVE=$tmp/sent shim_ip link add ipttest type "$kind" \
		"${words[@]}" 2>"$tmp/err"
	rc=$?
	[ $rc = 1 ] && [ "$(head -n 1 "$tmp/err")" = "$msg" ] &&
		[ ! -e "$tmp/sent" ]
	result $? "refuse $kind $args" "exit $rc, sent: $([ -e "$tmp/sent" ] &&
		echo yes || echo no)" "got:  $(head -n 1 "$tmp/err")" \
		"want: $msg"
}

if ! "$ip" -V >/dev/null 2>&1; then
	echo "# no $ip: nothing to test"
	echo "0 passed, 0 failed"
	exit 0
fi
echo "# $("$ip" -V) (the plugins follow iproute2 6.1), IP_LIB_DIR=$dir"

check add ipt_ipip \
	"keepalive off clamp-tcp-mss yes dont-fragment inherit dscp inherit ttl 64 dev lo local-address 198.51.100.1 remote-address 203.0.113.2" \
	"remote 203.0.113.2 local 198.51.100.1 dev lo ttl 64 dscp inherit dont-fragment inherit clamp-tcp-mss yes keepalive off " \
	'{"remote": "203.0.113.2", "local": "198.51.100.1", "link": "lo", "ttl": 64, "dscp": "inherit", "dont_fragment": "inherit", "clamp_tcp_mss": true, "keepalive": null}'
check add ipt_ipip \
	"remote 192.0.2.1 local any ttl inherit dscp 46 dont-fragment no clamp-tcp-mss no keepalive 10s,3" \
	"remote 192.0.2.1 local any ttl inherit dscp 46 dont-fragment no clamp-tcp-mss no keepalive 10,3 " \
	'{"remote": "192.0.2.1", "local": "any", "ttl": "inherit", "dscp": 46, "dont_fragment": "no", "clamp_tcp_mss": false, "keepalive": {"interval": 10, "retries": 3}}'
check set ipt_ipip "ttl 5" "ttl 5 " '{"ttl": 5}'
check add ipt_6in4 "local 198.51.100.1 dont-fragment yes keepalive 20" \
	"remote any local 198.51.100.1 dont-fragment yes keepalive 20,10 " \
	'{"remote": "any", "local": "198.51.100.1", "dont_fragment": "yes", "keepalive": {"interval": 20, "retries": 10}}'
check add ipt_6in4 "remote any" "remote any " '{"remote": "any"}'
check add ipt_6in4 "remote 192.0.2.9 ttl 1" "remote 192.0.2.9 ttl 1 " \
	'{"remote": "192.0.2.9", "ttl": 1}'
check add ipt_6in4 "" "" '{}'
check add ipt_4in6 \
	"remote 2001:db8::2 local 2001:db8::1 hoplimit 9 dscp 0 dont-fragment no encaplimit 4 flowlabel 0x12345 dev lo clamp-tcp-mss yes keepalive 30" \
	"remote 2001:db8::2 local 2001:db8::1 dev lo hoplimit 9 dscp 0 dont-fragment no encaplimit 4 flowlabel 0x12345 clamp-tcp-mss yes keepalive 30,10 " \
	'{"remote": "2001:db8::2", "local": "2001:db8::1", "link": "lo", "ttl": 9, "dscp": 0, "dont_fragment": "no", "encap_limit": 4, "flowlabel": 74565, "clamp_tcp_mss": true, "keepalive": {"interval": 30, "retries": 10}}'
check add ipt_4in6 \
	"remote 2001:db8::2 ttl inherit dont-fragment inherit encaplimit none flowlabel auto" \
	"remote 2001:db8::2 hoplimit inherit dont-fragment inherit encaplimit none flowlabel auto " \
	'{"remote": "2001:db8::2", "ttl": "inherit", "dont_fragment": "inherit", "encap_limit": "none", "flowlabel": "auto"}'

check add ipt_ipip "remote 192.0.2.1 keepalive 1,3" \
	"remote 192.0.2.1 keepalive 1,3 " \
	'{"remote": "192.0.2.1", "keepalive": {"interval": 1, "retries": 3}}'
xstats ipt_ipip
check add ipt_6in4 "keepalive off" "remote any keepalive off " \
	'{"remote": "any", "keepalive": null}'
xstats ipt_6in4
check add ipt_4in6 "remote 2001:db8::2 keepalive 1s,3" \
	"remote 2001:db8::2 keepalive 1,3 " \
	'{"remote": "2001:db8::2", "keepalive": {"interval": 1, "retries": 3}}'
xstats ipt_4in6

# ip's JSON writer escapes what the plugin hands it.
if [ -n "${IPT_TEST_NETNS:-}" ] &&
   "$ip" link add 'q"x' type veth peer name ipt-peer 2>/dev/null; then
	check add ipt_ipip "remote 192.0.2.1 dev q\"x" 'remote 192.0.2.1 dev q"x ' \
		'{"remote": "192.0.2.1", "link": "q\"x"}'
else
	echo "# no veth in a namespace of our own: name escaping not tested"
fi

refuse ipt_ipip "remote 1.2.3.4 ttl 300" \
	'ipt_ipip: invalid ttl "300", expected 1-255 or inherit'
refuse ipt_ipip "remote 1.2.3.4 ttl 0" \
	'ipt_ipip: invalid ttl "0", expected 1-255 or inherit'
refuse ipt_ipip "remote 1.2.3.4 ttl abc" \
	'ipt_ipip: invalid ttl "abc", expected 1-255 or inherit'
refuse ipt_ipip "remote 1.2.3.4 dscp 64" \
	'ipt_ipip: invalid dscp "64", expected 0-63 or inherit'
refuse ipt_ipip "remote 1.2.3" \
	'ipt_ipip: invalid remote "1.2.3", expected the IPv4 address of the peer'
refuse ipt_ipip "remote 2001:db8::1" \
	'ipt_ipip: remote 2001:db8::1 is an IPv6 address, ipt_ipip takes the IPv4 address of the peer'
refuse ipt_4in6 "remote 192.0.2.1" \
	'ipt_4in6: remote 192.0.2.1 is an IPv4 address, ipt_4in6 takes the IPv6 address of the peer'
refuse ipt_ipip "remote any" \
	'ipt_ipip: remote must be the IPv4 address of the peer; only ipt_6in4 takes any (automatic 6to4)'
refuse ipt_ipip "ttl 64" \
	'ipt_ipip: remote is required: the IPv4 address of the peer'
refuse ipt_ipip "remote 1.2.3.4 keepalive 10,0" \
	'ipt_ipip: invalid keepalive "10,0", expected SECONDS[,RETRIES] (both at least 1) or off'
refuse ipt_ipip "remote 1.2.3.4 bogus 1" \
	'ipt_ipip: unknown option "bogus", try "ip link help ipt_ipip"'
refuse ipt_ipip "remote 1.2.3.4 dev ipt-no-such-dev" \
	'ipt_ipip: dev "ipt-no-such-dev": no such device'
refuse ipt_4in6 "remote 2001:db8::2 flowlabel 0x100000" \
	'ipt_4in6: invalid flowlabel "0x100000", expected 0-0xfffff or auto'
refuse ipt_ipip "help" 'Usage: ip link { add | set } NAME type ipt_ipip'

for kind in ipt_ipip ipt_6in4 ipt_4in6; do
	out=$("$ip" link help "$kind")
	rc=$?
	[ $rc = 0 ] && [ "${out%%$'\n'*}" = "Usage: ip link { add | set } NAME type $kind" ]
	result $? "ip link help $kind" "exit $rc: ${out%%$'\n'*}"
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
