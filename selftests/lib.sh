#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the ipt selftests, in the spirit of the kernel's
# tools/testing/selftests/net/lib.sh and pmtu.sh.  A test does:
#
#	source "$(dirname "$0")/lib.sh"
#	require_module ipip
#	setup_ns NSA NSB		# sets $NSA, $NSB to unique names
#	add_veth "$NSA" veth0 192.0.2.1/24 "$NSB" veth1 192.0.2.2/24
#	ns_exec "$NSA" ping -c 1 -W 2 192.0.2.2 >/dev/null || fail "no ping"
#	check_eq "rx packets" 5 "$(link_stat "$NSB" veth1 rx_packets)"
#	exit $RET
#
# Exit codes are kselftest's: 0 pass, 1 fail, 4 skip ($ksft_skip).  fail()
# records a failure and carries on, die() stops the test, skip() skips it.
# Namespaces made by setup_ns are deleted on exit; on_exit adds more
# cleanup.  The guest runner (selftests/vm/guest.sh) gives each test a fresh
# mount and PID namespace and checks the kernel log after it, so tests need
# not look at dmesg.

# shellcheck disable=SC2034 # for the tests that source this
ksft_pass=0
ksft_fail=1
ksft_skip=4

# shellcheck disable=SC2034
RET=0
LIB_DIR=$(dirname "${BASH_SOURCE[0]}")
NS_LIST=()
EXIT_HOOKS=()

log()  { echo "$*"; }
fail() { echo "FAIL: $*"; RET=$ksft_fail; }
die()  { echo "FAIL: $*"; exit $ksft_fail; }
skip() { echo "SKIP: $*"; exit $ksft_skip; }
pass() { echo "ok: $*"; }

# check_eq WHAT EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1: $3"
	else
		fail "$1: expected $2, got $3"
		return 1
	fi
}

# check_ge WHAT MIN ACTUAL (integers)
check_ge() {
	if [ "$3" -ge "$2" ] 2>/dev/null; then
		pass "$1: $3 >= $2"
	else
		fail "$1: expected at least $2, got $3"
		return 1
	fi
}

# wait_for [-t SECONDS] CMD...: run CMD every 0.1s until it succeeds (0) or
# the time is up (1, default 10s).  Use it instead of sleeping.  The time
# is multiplied by IPT_TIMEOUT_SCALE (the debug kernel's guests are slower).
wait_for() {
	local t=10 end
	if [ "$1" = -t ]; then t=$2; shift 2; fi
	end=$(( $(date +%s%N) + t * ${IPT_TIMEOUT_SCALE:-1} * 1000000000 ))
	until "$@"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# on_exit CMD...: run CMD (as one eval'd string) at exit, last added first.
on_exit() { EXIT_HOOKS=("$*" "${EXIT_HOOKS[@]}"); }

__lib_cleanup() {
	local rc=$? h ns
	set +e
	for h in "${EXIT_HOOKS[@]}"; do eval "$h" >/dev/null 2>&1; done
	for ns in "${NS_LIST[@]}"; do ip netns del "$ns" >/dev/null 2>&1; done
	exit $rc
}
trap __lib_cleanup EXIT

# require_cmd CMD...: skip unless every CMD is in $PATH.
require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c not installed"
	done
}

# require_module MOD...: load each module or skip.  Built-ins count as there.
require_module() {
	local m
	for m in "$@"; do
		[ -d "/sys/module/$m" ] && continue
		modprobe -q "$m" 2>/dev/null || skip "module $m not available"
	done
}

# require_ipt: skip unless the runner loaded ipt.ko.
require_ipt() {
	[ -d /sys/module/ipt ] || skip "ipt.ko not loaded (not built?)"
}

# setup_ns VAR...: create a netns with a unique name per VAR, store the name
# in VAR and bring its loopback up.
setup_ns() {
	local var ns
	for var in "$@"; do
		ns="${var,,}-$$-$(mktemp -u XXXXXX)"
		ip netns add "$ns" || die "ip netns add $ns failed"
		NS_LIST+=("$ns")
		ip -n "$ns" link set lo up || die "lo up in $ns failed"
		printf -v "$var" '%s' "$ns"
	done
}

# ns_exec NS CMD...
ns_exec() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# add_veth NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair between two netns, with
# one address (v4 or v6, with prefix length; "" for none) on each end, up.
add_veth() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" ||
		die "veth $1/$2 <-> $4/$5 failed"
	__addr_up "$1" "$2" "$3"
	__addr_up "$4" "$5" "$6"
}

# underlay_pair: namespaces $NSA and $NSB joined by veth0 (192.0.2.1/24,
# 2001:db8::1/64) and veth1 (192.0.2.2/24, 2001:db8::2/64), reachable.
underlay_pair() {
	setup_ns NSA NSB
	add_veth "$NSA" veth0 192.0.2.1/24 "$NSB" veth1 192.0.2.2/24
	ip -n "$NSA" addr add 2001:db8::1/64 dev veth0 nodad
	ip -n "$NSB" addr add 2001:db8::2/64 dev veth1 nodad
	wait_for ping_ok "$NSA" 192.0.2.2 || die "no underlay"
}

# tunnel_pair DEV KIND ARGS_A ARGS_B ADDR_A ADDR_B: DEV of KIND in $NSA
# (ARGS_A, a word list) and in $NSB (ARGS_B), with an address each, up.
tunnel_pair() {
	# shellcheck disable=SC2086 # ARGS are words
	ip -n "$NSA" link add "$1" type "$2" $3 || die "cannot create $2 in $NSA"
	# shellcheck disable=SC2086
	ip -n "$NSB" link add "$1" type "$2" $4 || die "cannot create $2 in $NSB"
	ip -n "$NSA" addr add "$5" dev "$1" nodad
	ip -n "$NSB" addr add "$6" dev "$1" nodad
	ip -n "$NSA" link set "$1" up
	ip -n "$NSB" link set "$1" up
}

# tunnel_trio: one tunnel of each kind between $NSA and $NSB over
# underlay_pair's addresses, up and answering: t4 (ipt_ipip, 10.1.1.1/30
# and .2), t6 (ipt_6in4, fd00:1::1/64 and ::2), t46 (ipt_4in6,
# 10.1.3.1/30 and .2).
tunnel_trio() {
	tunnel_pair t4 ipt_ipip "local 192.0.2.1 remote 192.0.2.2" \
		"local 192.0.2.2 remote 192.0.2.1" 10.1.1.1/30 10.1.1.2/30
	tunnel_pair t6 ipt_6in4 "local 192.0.2.1 remote 192.0.2.2" \
		"local 192.0.2.2 remote 192.0.2.1" fd00:1::1/64 fd00:1::2/64
	tunnel_pair t46 ipt_4in6 "local 2001:db8::1 remote 2001:db8::2" \
		"local 2001:db8::2 remote 2001:db8::1" 10.1.3.1/30 10.1.3.2/30
	wait_for ping_ok "$NSA" 10.1.1.2 && wait_for ping_ok "$NSA" fd00:1::2 &&
		wait_for ping_ok "$NSA" 10.1.3.2 || die "tunnels down"
}

__addr_up() {
	local ns=$1 dev=$2 addr=$3
	if [ -n "$addr" ]; then
		case $addr in
		*:*) ip -n "$ns" addr add "$addr" dev "$dev" nodad ;;
		*)   ip -n "$ns" addr add "$addr" dev "$dev" ;;
		esac || die "ip addr add $addr dev $dev in $ns failed"
	fi
	ip -n "$ns" link set "$dev" up || die "$dev up in $ns failed"
}

# link_stat NS DEV COUNTER: one counter of `ip -s link show`, COUNTER being
# rx_ or tx_ followed by bytes, packets, errors, dropped, missed, mcast,
# carrier, collsns (as in ip's column headers, lower case).
link_stat() {
	ip -n "$1" -s link show dev "$2" | awk -v want="$3" '
		/^ *[RT]X: / {
			dir = tolower(substr($1, 1, 2))
			n = split($0, hdr)
			getline
			for (i = 2; i <= n; i++)
				if (dir "_" hdr[i] == want) { print $(i - 1); found = 1; exit }
		}
		END { if (!found) exit 1 }'
}

# cap_start NS DEV FILE FILTER...: tcpdump (snap length $CAP_SNAPLEN,
# default 256) into FILE until the test ends; returns once tcpdump is
# listening.  FILE.err is emptied first, so a reused FILE cannot match
# the previous capture's "listening on" line.
cap_start() {
	local ns=$1 dev=$2 file=$3
	shift 3
	: >"$file.err"
	ns_exec "$ns" tcpdump -Z root -U --immediate-mode -n -s "${CAP_SNAPLEN:-256}" -i "$dev" \
		-w "$file" "$@" 2>>"$file.err" &
	on_exit "kill $!"
	wait_for -t 30 grep -q "listening on" "$file.err" ||
		die "tcpdump on $dev in $ns did not start: $(cat "$file.err")"
}

# pcap_max_tcp FILE: the largest TCP payload in the pcap FILE (0 if none).
pcap_max_tcp() {
	tcpdump -r "$1" -nn -q 2>/dev/null |
		awk '$(NF - 1) == "tcp" { if ($NF > m) m = $NF } END { print m + 0 }'
}

# iperf3_sent FILE: the bytes an `iperf3 -c ... -J` run whose output is
# FILE sent (0 when it failed: TCP, so a clean finish means all arrived;
# iperf3's receiver figure misses the last interval).
iperf3_sent() {
	/usr/bin/python3 -c 'import json, sys
print(int(json.load(open(sys.argv[1]))["end"]["sum_sent"]["bytes"]))' "$1" 2>/dev/null ||
		echo 0
}

# ping_ok NS ADDR [COUNT]: quiet ping that reports success only.
ping_ok() {
	local c=${3:-1}
	ns_exec "$1" ping -q -n -c "$c" -i 0.2 -W 2 "$2" >/dev/null 2>&1
}

# --- captured packets as words -----------------------------------------------
#
# pcap_words.py (next to this file) turns a pcap file into one line of
# KEY=VALUE words per IP packet: o_* the outer header, i_* the packet in
# it (see its header for the words).  FILE below is a pcap file, or
# FILE.txt, its text as pkt_dump left it.  A test may set PKT_BARE6=i_
# (a bare IPv6 packet is an inner one: 6in4) and PKT_WAIT (pkt_wait's
# time in seconds, default 15).

__pkt_words() {
	/usr/bin/python3 "$LIB_DIR/pcap_words.py" ${PKT_BARE6:+--bare6 "$PKT_BARE6"} "$1"
}

# pkt_dump FILE: FILE.txt, the text of FILE as it is now.
pkt_dump() { __pkt_words "$1" >"$1.txt"; }

# __pkt_match FIRST FILE WORD...: the lines of FILE with every WORD (only
# the first when FIRST is 1; then fails if there is none).
__pkt_match() {
	local first=$1 file=$2
	shift 2
	case $file in
	*.txt) cat "$file" ;;
	*) __pkt_words "$file" ;;
	esac | awk -v first="$first" -v want="$*" '
		BEGIN { n = split(want, w, " ") }
		{
			line = " " $0 " "
			for (i = 1; i <= n; i++)
				if (!index(line, " " w[i] " ")) next
			print; found = 1
			if (first) exit
		}
		END { exit first && !found }'
}

# pkt_all FILE WORD...: every packet line of FILE with every WORD.
pkt_all() { __pkt_match 0 "$@"; }

# pkt_find FILE WORD...: the first such line; fails if there is none.
pkt_find() { __pkt_match 1 "$@"; }

# pkt_wait FILE WORD...: poll until FILE has such a packet (a pcap file is
# dumped to FILE.txt each time), leave its line in $PKT.
pkt_wait() {
	PKT=""
	wait_for -t "${PKT_WAIT:-15}" __pkt_wait "$@"
}
__pkt_wait() {
	case $1 in
	*.txt) PKT=$(pkt_find "$@") ;;
	*) pkt_dump "$1" && PKT=$(pkt_find "$1.txt" "${@:2}") ;;
	esac
}

# field KEY [LINE]: the value of KEY in LINE (default $PKT), or "(none)".
field() {
	local w
	for w in ${2-$PKT}; do
		[ "${w%%=*}" = "$1" ] && { echo "${w#*=}"; return; }
	done
	echo "(none)"
}

# check_fields WHAT KEY=VALUE...: each KEY of $PKT must have VALUE.
check_fields() {
	local what=$1 kv
	shift
	if [ -z "$PKT" ]; then
		fail "$what: packet not captured"
		return
	fi
	for kv in "$@"; do
		check_eq "$what: ${kv%%=*}" "${kv#*=}" "$(field "${kv%%=*}")"
	done
}
