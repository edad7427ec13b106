#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ipt against the in-tree tunnel of the same kind, in one boot of the guest,
# interleaved round by round (ipt, in-tree, plain veth, ipt, ...), median of
# the rounds.  `make bench` / `make bench-scale` run it through
# `selftests/vm/run.sh --bench`, by default in the deterministic guest (one
# vCPU, -icount shift=4,sleep=off: guest time follows the instructions
# executed, so the figures are CPU cost, repeatable within ~1% whatever
# else the host is doing; TCP without offloads is the exception, see
# BENCHMARKS.md).  Not a selftest: nothing here passes or fails on
# the figures; the exit status only says whether every measurement ran.
#
#   +--------------------------------+             +--------------------------------+
#   | $NSA (sender)                  |             | $NSB (receiver)                |
#   |  ipt0  outer .1   inner 10.1.0.1 ============== ipt0  outer .2   inner 10.1.0.2 |
#   |  tree0 outer .11  inner 10.2.0.1 ============== tree0 outer .12  inner 10.2.0.2 |
#   |  veth0 192.0.2.1, .11            |             |  + N extra tunnels of each    |
#   |        2001:db8::1, ::11  ------ veth pair ----- veth1 192.0.2.2, .12, ::2, ::12|
#   +--------------------------------+             +--------------------------------+
#
# ipt and in-tree tunnels share the veth pair but not their outer
# addresses: ipt's receive handler runs first (priority -1 on the
# tunnel4/tunnel6 chains) and would take the in-tree tunnel's packets, had
# they the same endpoints as an ipt tunnel, so the in-tree receive path
# would never be measured.  In-tree packets still pay ipt's hash miss, as
# on any machine where ipt is loaded.
#
# Kinds: ipip (ipt_ipip vs ipip), 6in4 (ipt_6in4 vs sit), 4in6 (ipt_4in6 vs
# ip6tnl mode ipip6 encaplimit none); the in-tree tunnels get ttl 64 as
# ipt's default.  Cases, per kind:
#   tcp    iperf3 TCP, one stream, offloads on: receiver Mbit/s
#   nooff  the same with every offload off (per-packet cost): ethtool -K
#          sg/tx-checksumming/gso/tso/gro off on the veths and the in-tree
#          tunnels, `fast-path no` on ipt (which clears the same set; if
#          refused, ethtool -K on ipt as well, and the output says so)
#   udp    iperf3 UDP, 64-byte payload, unlimited rate: received packets per
#          second (the sender alone fills the vCPU and the receiver keeps up,
#          so this is the per-packet cost of both ends)
#   lat    ping round-trip time, average of $PINGS pings: microseconds
#   rx     udp with N extra tunnels of each side in the receiving namespace
#          (same local, distinct remotes spread over the address space),
#          for N in $EXTRA, added incrementally: the receive lookup cost
#   prof   (not a default) a perf profile of a TCP transfer per side
#   ctl    control plane in a namespace of its own: guest time (busy CPU
#          and elapsed) to create and to delete $CTL_N tunnels with
#          `ip -batch` (explicit names), and memory per tunnel from
#          /proc/meminfo (Slab + Percpu, and MemAvailable) around creation
# Plain veth (no tunnel, the inner family directly on the veth pair: the
# limit) is measured alongside in tcp, nooff, udp and lat.
#
# Knobs (environment; run.sh passes every IPT_BENCH_* to the guest):
#   IPT_BENCH_KINDS       kinds to run (default "ipip 6in4 4in6")
#   IPT_BENCH_CASES       cases to run, in this order whatever the order
#                         given (default "tcp nooff udp lat rx ctl"; prof,
#                         the profile, is not a default)
#   IPT_BENCH_ROUNDS      interleaved rounds per case (default 3)
#   IPT_BENCH_EXTRA       N for rx (default "0 1000 10000"; make bench-scale
#                         adds 100000)
#   IPT_BENCH_CTL_N       tunnels per ctl round (default 10000)
#   IPT_BENCH_CTL_ROUNDS  ctl rounds (default 1: a round of one kind takes
#                         over 2 minutes; busy time repeated within 3%
#                         between boots)
#   IPT_BENCH_TCP_SECS    guest seconds per TCP transfer (default 3)
#   IPT_BENCH_UDP_SECS    guest seconds per UDP transfer (default 3)
#   IPT_BENCH_PINGS       pings per latency round (default 200)
#   IPT_BENCH_PROF_OFF    prof: 1 profiles TCP with offloads off (default 0)
#   IPT_BENCH_PROF_TOP    prof: symbols shown per side, at most (default 40)
#   IPT_BENCH_PROF_LIMIT  prof: leave out symbols below this % (default 0.5)
#   IPT_BENCH_PROF_CTL    1: ctl profiles each ip -batch the same way (its
#                         figures then include perf's cost)
#   IPT_BENCH_VETH        0: leave out the plain veth figures (default 1)
#   IPT_BENCH_EVEN        a ratio within this many percent counts as even
#                         in the summary (default 2)
#   IPT_BENCH_ICOUNT      (run.sh) 0: the faster, non-deterministic guest
#   IPT_BENCH_OUT         (run.sh) where the JSON lines go on the host
#                         (default bench/results.json; the table goes to
#                         the same name with .txt)
#
# Output: a line per case as it completes, then the table.  For run.sh,
# "@@IPT-BENCH-JSON <nonce>@@ {...}" lines (one JSON object each: the run,
# every case, the summary) and "@@IPT-BENCH-TABLE <nonce>@@ ..." lines (the
# table); guest.sh passes them through unprefixed.

# The case_* functions are called by name (and what they call looks
# unreachable to shellcheck):
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

KINDS=${IPT_BENCH_KINDS:-ipip 6in4 4in6}
CASES=${IPT_BENCH_CASES:-tcp nooff udp lat rx ctl}
ROUNDS=${IPT_BENCH_ROUNDS:-3}
EXTRA=${IPT_BENCH_EXTRA:-0 1000 10000}
CTL_N=${IPT_BENCH_CTL_N:-10000}
CTL_ROUNDS=${IPT_BENCH_CTL_ROUNDS:-1}
TCP_SECS=${IPT_BENCH_TCP_SECS:-3}
UDP_SECS=${IPT_BENCH_UDP_SECS:-3}
PINGS=${IPT_BENCH_PINGS:-200}
VETH=${IPT_BENCH_VETH:-1}
PROF_OFF=${IPT_BENCH_PROF_OFF:-0}
PROF_TOP=${IPT_BENCH_PROF_TOP:-40}
PROF_LIMIT=${IPT_BENCH_PROF_LIMIT:-0.5}
PROF_CTL=${IPT_BENCH_PROF_CTL:-0}
EVEN=${IPT_BENCH_EVEN:-2}
NONCE=${IPT_NONCE:-none}
# rx extras go to groups EXTRA_GROUP + index / 10000, deleted a group per
# request: one request for 200000 devices would hold RTNL for minutes,
# and the hung task detector would complain about whoever waits for it.
EXTRA_GROUP=100

require_ipt
require_cmd iperf3 ethtool ping awk tc
require_module ipip sit ip6_tunnel veth dummy

if [ "${IPT_PERF:-0}" = 1 ]; then
	MODE=icount
	MODE_TEXT="icount, deterministic (TCG, 1 vCPU, -icount shift=4,sleep=off): guest time is instructions"
else
	MODE=tcg
	MODE_TEXT="NOT deterministic (TCG, $(nproc) vCPUs, no icount): figures vary with the host's load"
fi

# ipt logs every device created and destroyed at debug level (guest.sh
# loads it with dyndbg=+p, for its lifecycle check).  Tens of thousands of
# printks would be charged to ipt's control plane and flood the log buffer:
# off for the benchmark, which then leaves no "created" lines to count.
echo 'module ipt -p' > /sys/kernel/debug/dynamic_debug/control 2>/dev/null

# Under icount with sleep=off, a task waiting for the host (9p reads on
# a loaded host) leaves the vCPU idle and guest time leaps ahead: the hung
# task detector then reports 120 s "blocked" that took no work at all, and
# guest.sh would fail the run on it.  Not in the deterministic guest.
if [ "$MODE" = icount ]; then
	echo 0 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
fi

FAILED=0
ROWS=()		# table rows, tab-separated, for the end
ADV=()		# "advantage case" per row, > 1: ipt better

say() { echo "$*"; }
warn() { echo "WARNING: $*"; FAILED=1; }
json() { echo "@@IPT-BENCH-JSON $NONCE@@ $*"; }
tline() { echo "@@IPT-BENCH-TABLE $NONCE@@ $*"; }

# Guest clock in ns, and the CPU time spent busy (user, nice, system, irq,
# softirq) in ms: under icount the latter is instructions, whatever the
# idle periods (RCU grace periods, timers) did to the clock.
now() { date +%s%N; }
USER_HZ=$(getconf CLK_TCK)
busy_ms() {	# builtins only: settle() calls it often
	local user nice sys irq softirq _
	read -r _ user nice sys _ _ irq softirq _ < /proc/stat
	echo $(( (user + nice + sys + irq + softirq) * 1000 / USER_HZ ))
}
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }

# Wait (at most a minute of guest time) until the vCPU is nearly idle over
# 5 s: creating or deleting thousands of devices leaves RCU callbacks,
# kobject releases and workqueue items behind, which would be charged to
# whatever is measured next.  The sleep and the subshell alone cost ~80 ms
# under TCG, hence the long window.  Idle time is skipped under icount
# (sleep=off), so this costs little wall time.
settle() {
	local i b0
	for i in $(seq 12); do
		b0=$(busy_ms)
		sleep 5
		[ $(( $(busy_ms) - b0 )) -gt 200 ] || return 0
	done
	say "  (still busy after a minute)"
}

# jget FILE PATH: a value of iperf3's JSON, e.g. "end.sum.packets".  iperf3
# (cJSON) puts one member per line, indented by depth with tabs; this walks
# that rather than needing jq or python in the loop.
jget() {
	awk -v want="$2" '
	match($0, /^\t*"/) {
		d = RLENGTH - 1
		key = substr($0, RLENGTH + 1); sub(/".*/, "", key)
		k[d] = key
		for (i = d + 1; i in k; i++) delete k[i]
		p = k[1]
		for (i = 2; i <= d; i++) p = p "." k[i]
		if (p == want) {
			v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/,$/, "", v)
			print v; exit
		}
	}' "$1"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
# (max - min) / median, in percent: how well the rounds agree
spread() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
		m = a[int((NR + 1) / 2)]; if (NR && m) printf "%.1f", (a[NR] - a[1]) * 100 / m; else print "-" }'
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
jlist() { local IFS=,; echo "[$*]"; }

# --- topology ---------------------------------------------------------------

# kind_conf KIND: what differs per kind.  Extras' remotes: an IPv4 first
# octet spread over 11-210 (sit hashes the first octet only: all extras in
# one 10/8 would land in a single bucket, or never in the measured one),
# the index in the low 24 bits so that all differ.
kind_conf() {
	case $1 in
	ipip)
		IPT_TYPE=ipt_ipip TREE_TYPE=ipip TREE_ARGS="ttl 64" TREE_LABEL=ipip
		OUTER=4 INNER=4 ;;
	6in4)
		IPT_TYPE=ipt_6in4 TREE_TYPE=sit TREE_ARGS="ttl 64" TREE_LABEL=sit
		OUTER=4 INNER=6 ;;
	4in6)
		IPT_TYPE=ipt_4in6 TREE_TYPE=ip6tnl TREE_ARGS="mode ipip6 encaplimit none"
		TREE_LABEL="ip6tnl ipip6"
		OUTER=6 INNER=4 ;;
	*) die "unknown kind $1 (ipip, 6in4, 4in6)" ;;
	esac
	# ipt's outer addresses, then the in-tree tunnel's (see the top)
	if [ "$OUTER" = 4 ]; then
		LA=192.0.2.1 LB=192.0.2.2 TA=192.0.2.11 TB=192.0.2.12
	else
		LA=2001:db8::1 LB=2001:db8::2 TA=2001:db8::11 TB=2001:db8::12
	fi
	if [ "$INNER" = 4 ]; then
		IPT_A=10.1.0.1/30 IPT_B=10.1.0.2 TREE_A=10.2.0.1/30 TREE_B=10.2.0.2
		VETH_B=192.0.2.2
	else
		IPT_A=fd00:1::1/64 IPT_B=fd00:1::2 TREE_A=fd00:2::1/64 TREE_B=fd00:2::2
		VETH_B=2001:db8::2
	fi
}

# tun NS NAME ipt|tree LOCAL REMOTE: a tunnel, up, without IPv6 link-local
# addresses (no DAD, router solicitations or MLD during the measurements).
tun() {
	if [ "$3" = ipt ]; then
		ip -n "$1" link add "$2" type "$IPT_TYPE" local "$4" remote "$5"
	else
		# shellcheck disable=SC2086 # TREE_ARGS are words
		ip -n "$1" link add "$2" type "$TREE_TYPE" local "$4" remote "$5" $TREE_ARGS
	fi || die "cannot create $3 tunnel $2 ($IPT_TYPE/$TREE_TYPE) in $1"
	ip -n "$1" link set "$2" addrgenmode none up
}

addr() { # NS DEV ADDR/PLEN
	case $3 in
	*:*) ip -n "$1" addr add "$3" dev "$2" nodad ;;
	*)   ip -n "$1" addr add "$3" dev "$2" ;;
	esac || die "ip addr add $3 dev $2 in $1 failed"
}

setup_kind() {
	setup_ns NSA NSB
	ip link add veth0 netns "$NSA" type veth peer name veth1 netns "$NSB" ||
		die "cannot create the veth pair"
	ip -n "$NSA" link set veth0 addrgenmode none
	ip -n "$NSB" link set veth1 addrgenmode none
	local a
	for a in 192.0.2.1/24 192.0.2.11/24 2001:db8::1/64 2001:db8::11/64; do
		addr "$NSA" veth0 "$a"
	done
	for a in 192.0.2.2/24 192.0.2.12/24 2001:db8::2/64 2001:db8::12/64; do
		addr "$NSB" veth1 "$a"
	done
	ip -n "$NSA" link set veth0 up
	ip -n "$NSB" link set veth1 up
	# the extras' remotes are routed, as a real server's would be
	ip -n "$NSB" route add default via 192.0.2.1
	ip -n "$NSB" -6 route add default via 2001:db8::1
	wait_for ping_ok "$NSA" 192.0.2.2 || die "no IPv4 underlay"
	wait_for ping_ok "$NSA" 2001:db8::2 || die "no IPv6 underlay"

	tun "$NSA" ipt0 ipt "$LA" "$LB"; tun "$NSB" ipt0 ipt "$LB" "$LA"
	tun "$NSA" tree0 tree "$TA" "$TB"; tun "$NSB" tree0 tree "$TB" "$TA"
	say "qdiscs: ipt0 $(tc -n "$NSA" qdisc show dev ipt0 | awk '{ print $2; exit }'), tree0 $(tc -n "$NSA" qdisc show dev tree0 | awk '{ print $2; exit }')"
	addr "$NSA" ipt0 "$IPT_A"; addr "$NSB" ipt0 "$IPT_B/${IPT_A#*/}"
	addr "$NSA" tree0 "$TREE_A"; addr "$NSB" tree0 "$TREE_B/${TREE_A#*/}"
	wait_for ping_ok "$NSA" "$IPT_B" || die "$IPT_TYPE tunnel does not pass traffic"
	wait_for ping_ok "$NSA" "$TREE_B" || die "$TREE_TYPE tunnel does not pass traffic"
	EXTRAS=0
}

teardown_kind() {
	ip netns del "$NSA"
	ip netns del "$NSB"
	# shellcheck disable=SC2034 # lib.sh's: nothing left to delete at exit
	NS_LIST=()
	# the namespaces are freed by a kernel worker: let it finish before
	# the next kind is measured (one vCPU)
	settle
}

# Target address of a side in the receiving namespace.
target() {
	case $1 in
	ipt) echo "$IPT_B" ;;
	tree) echo "$TREE_B" ;;
	veth) echo "$VETH_B" ;;
	esac
}

# --- measurements: each sets VAL (empty on failure) -------------------------

# iperf3 server in $NSB on ADDR, for one test.
server() {
	ns_exec "$NSB" iperf3 -s -1 -B "$1" >/dev/null 2>&1 &
	SPID=$!
	wait_for -t 20 sh -c "ip netns exec $NSB ss -Hltn | grep -q ':5201 '" ||
		{ warn "iperf3 server on $1 did not start"; return 1; }
}

m_tcp() { # ADDR
	local out=/tmp/bench-iperf.json
	VAL=""
	server "$1" || return
	if ns_exec "$NSA" iperf3 -c "$1" -t "$TCP_SECS" -J > "$out" 2>&1; then
		VAL=$(calc "%.1f" "$(jget "$out" end.sum_received.bits_per_second) / 1e6")
	else
		warn "iperf3 TCP to $1 failed: $(jget "$out" error)"
	fi
	wait "$SPID"
}

m_udp() { # ADDR
	local out=/tmp/bench-iperf.json pk lost s
	VAL=""
	server "$1" || return
	if ns_exec "$NSA" iperf3 -c "$1" -u -l 64 -b 0 -t "$UDP_SECS" -J > "$out" 2>&1; then
		pk=$(jget "$out" end.sum.packets)
		lost=$(jget "$out" end.sum.lost_packets)
		s=$(jget "$out" end.sum.seconds)
		VAL=$(calc "%.0f" "($pk - $lost) / $s")
		LOST=$lost
	else
		warn "iperf3 UDP to $1 failed: $(jget "$out" error)"
	fi
	wait "$SPID"
}

m_lat() { # ADDR
	local avg
	VAL=""
	avg=$(ns_exec "$NSA" ping -q -n -c "$PINGS" -i 0.01 -W 1 "$1" |
		sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
	if [ -n "$avg" ]; then
		VAL=$(calc "%.1f" "$avg * 1000")
	else
		warn "ping $1 failed"
	fi
}

# rounds FN SIDE...: ROUNDS interleaved rounds of FN over the sides; the
# values go to R_ipt, R_tree, R_veth (space-separated).
rounds() {
	local fn=$1 r s cur
	shift
	R_ipt="" R_tree="" R_veth="" LOSTS=0
	for r in $(seq "$ROUNDS"); do
		for s in "$@"; do
			LOST=0
			"$fn" "$(target "$s")"
			LOSTS=$((LOSTS + ${LOST:-0}))
			cur=R_$s
			printf -v "$cur" '%s %s' "${!cur}" "${VAL:-nan}"
		done
		say "  round $r: ipt ${R_ipt##* } in-tree ${R_tree##* }${R_veth:+ veth ${R_veth##* }}"
	done
	[ "$LOSTS" = 0 ] || say "  note: $LOSTS UDP datagrams lost over the rounds"
}

sides() {
	if [ "$VETH" = 1 ]; then echo "ipt tree veth"; else echo "ipt tree"; fi
}

# record KIND CASE LABEL UNIT higher|lower [info]: the medians of R_*, one
# line, one JSON object, one table row.  "info" rows are left out of the
# summary: figures that depend on more than the instructions executed.
record() {
	local kind=$1 case=$2 label=$3 unit=$4 better=$5 info=${6:-}
	local -a ri rt rv
	local mi mt mv ratio adv verdict si st
	read -r -a ri <<<"$R_ipt"
	read -r -a rt <<<"$R_tree"
	read -r -a rv <<<"$R_veth"
	if [[ " ${ri[*]} ${rt[*]} " == *" nan "* ]] || [ ${#ri[@]} = 0 ] || [ ${#rt[@]} = 0 ]; then
		warn "$kind $case: a measurement failed, no result"
		json "{\"type\":\"case\",\"kind\":\"$kind\",\"case\":\"$case\",\"error\":\"measurement failed\"}"
		return
	fi
	mi=$(median "${ri[@]}"); mt=$(median "${rt[@]}")
	mv=""; [ ${#rv[@]} = 0 ] || mv=$(median "${rv[@]}")
	si=$(spread "${ri[@]}"); st=$(spread "${rt[@]}")
	if awk -v a="$mi" -v b="$mt" 'BEGIN { exit !(a <= 0 || b <= 0) }'; then
		# MemAvailable over few tunnels: the page cache moves more
		ratio=null adv=null verdict="n/a"
	else
		ratio=$(calc "%.3f" "$mi / $mt")
		if [ "$better" = higher ]; then
			adv=$ratio
		else
			adv=$(calc "%.3f" "$mt / $mi")
		fi
		verdict=$(awk -v a="$adv" -v e="$EVEN" 'BEGIN {
			if (a > 1 + e / 100) print "ipt ahead"; else if (a < 1 - e / 100) print "ipt behind"; else print "even" }')
		if [ -n "$info" ]; then
			verdict="($verdict: info only)"
		else
			ADV+=("$adv $kind/$case")
		fi
	fi
	say "$kind $case: ipt $mi, in-tree ($TREE_LABEL) $mt${mv:+, veth $mv} $unit; ipt/in-tree $ratio ($better is better: $verdict); spread ipt ${si}%, in-tree ${st}%"
	json "{\"type\":\"case\",\"kind\":\"$kind\",\"ipt_kind\":\"$IPT_TYPE\",\"in_tree_kind\":\"$TREE_LABEL\",\"case\":\"$case\",\"label\":\"$label\",\"unit\":\"$unit\",\"better\":\"$better\",\"mode\":\"$MODE\",\"rounds\":${#ri[@]},\"ipt\":$mi,\"in_tree\":$mt,\"veth\":${mv:-null},\"ratio\":$ratio,\"advantage\":$adv,\"verdict\":\"$verdict\",\"spread_pct\":{\"ipt\":$si,\"in_tree\":$st},\"ipt_rounds\":$(jlist "${ri[@]}"),\"in_tree_rounds\":$(jlist "${rt[@]}"),\"veth_rounds\":$(jlist "${rv[@]}")${NOTE:+,\"note\":\"$NOTE\"}}"
	ROWS+=("$kind	$label	$unit	$mi	$mt	${ratio/null/-}	${mv:--}	$verdict")
}

# --- cases ------------------------------------------------------------------

warmup() {
	# ARP/ND, route caches, slabs: the first transfer of a boot is not
	# like the others
	local s
	for s in ipt tree; do
		server "$(target "$s")" || continue
		ns_exec "$NSA" iperf3 -c "$(target "$s")" -t 1 >/dev/null 2>&1 ||
			warn "warm-up through $s failed"
		wait "$SPID"
	done
}

case_tcp() {
	say "$1 tcp: iperf3 TCP ${TCP_SECS}s, offloads on"
	# shellcheck disable=SC2046
	rounds m_tcp $(sides)
	record "$1" tcp "TCP, offloads on" Mbit/s higher
}

# What `ethtool -k` says of a device's offloads, in short.
features() {
	ns_exec "$1" ethtool -k "$2" | awk -F': ' '
		/^(scatter-gather|tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):/ {
			split($2, v, " "); printf "%s %s, ", $1, v[1] }' | sed 's/, $//'
}

# The offloads ipt's fast-path no clears (NETIF_F_SG, HW_CSUM, GSO, GRO):
# the same set goes off on the others, so that all pay the same per-packet
# work (segmentation, checksums, copies).
OFF_FEATURES="sg off tx off gso off tso off gro off"

# ethtool -K words that put a device's offloads back as they are now (veth
# has GRO off by default, and turning it on would switch it to NAPI).
saved_features() { # NS DEV
	ns_exec "$1" ethtool -k "$2" | awk -F': ' '
		$1 == "scatter-gather" { w["sg"] = $2 }
		$1 == "tx-checksumming" { w["tx"] = $2 }
		$1 == "generic-segmentation-offload" { w["gso"] = $2 }
		$1 == "tcp-segmentation-offload" { w["tso"] = $2 }
		$1 == "generic-receive-offload" { w["gro"] = $2 }
		END { for (k in w) { split(w[k], v, " "); printf "%s %s ", k, v[1] } }'
}

offloads() { # off|restore
	local ns dev yn i=0
	[ "$1" = off ] && yn=no || yn=yes
	for ns in "$NSA" "$NSB"; do
		for dev in veth0 veth1 tree0; do
			ip -n "$ns" link show "$dev" >/dev/null 2>&1 || continue
			i=$((i + 1))
			if [ "$1" = off ]; then
				SAVED[i]=$(saved_features "$ns" "$dev")
				BEFORE[i]=$(ns_exec "$ns" ethtool -k "$dev")
				# shellcheck disable=SC2086 # words
				ns_exec "$ns" ethtool -K "$dev" $OFF_FEATURES >/dev/null 2>&1
			else
				# shellcheck disable=SC2086
				ns_exec "$ns" ethtool -K "$dev" ${SAVED[i]} >/dev/null 2>&1
				[ "${BEFORE[i]}" = "$(ns_exec "$ns" ethtool -k "$dev")" ] ||
					say "  NOTE: $dev's offloads in $ns differ from before: $(diff <(echo "${BEFORE[i]}") <(ns_exec "$ns" ethtool -k "$dev") | grep '^[<>]' | tr '\n' ' ')"
			fi
		done
		if ! ip -n "$ns" link set ipt0 type "$IPT_TYPE" fast-path "$yn" 2>/dev/null; then
			FAST_PATH_FALLBACK=1
			i=$((i + 1))
			if [ "$1" = off ]; then
				SAVED[i]=$(saved_features "$ns" ipt0)
				# shellcheck disable=SC2086
				ns_exec "$ns" ethtool -K ipt0 $OFF_FEATURES >/dev/null 2>&1
			else
				# shellcheck disable=SC2086
				ns_exec "$ns" ethtool -K ipt0 ${SAVED[i]} >/dev/null 2>&1
			fi
		fi
	done
}

case_nooff() {
	local dev
	FAST_PATH_FALLBACK=0
	offloads off
	NOTE=""
	if [ "$FAST_PATH_FALLBACK" = 1 ]; then
		NOTE="ip link set ipt0 type $IPT_TYPE fast-path no refused: offloads turned off on ipt0 with ethtool -K"
		say "$1 nooff: NOTE: $NOTE"
	fi
	say "$1 nooff: iperf3 TCP ${TCP_SECS}s, offloads off (ipt: fast-path no; in-tree and veths: ethtool -K $OFF_FEATURES)"
	for dev in ipt0 tree0 veth0; do
		say "  $dev: $(features "$NSA" "$dev")"
	done
	# shellcheck disable=SC2046
	rounds m_tcp $(sides)
	record "$1" nooff "TCP, offloads off" Mbit/s higher
	NOTE=""
	offloads restore
}

# prof: where the instructions go.  perf's cpu-clock is an hrtimer, and
# under -icount guest time is instructions, so each sample stands for the
# same number of instructions: a deterministic instruction profile, which
# TCG's missing PMU does not prevent.  One TCP transfer (offloads as set by
# IPT_BENCH_PROF_OFF: 0 on, 1 off) per side, profiled system-wide, then
# the symbols above IPT_BENCH_PROF_LIMIT % and the share of each module.  Not in the
# default cases: sampling costs instructions of its own.
case_prof() {
	local s data
	command -v perf >/dev/null || { warn "prof: no perf on this system"; return; }
	[ "$PROF_OFF" = 1 ] && offloads off
	for s in $(sides); do
		data=/tmp/bench-perf-$s.data
		server "$(target "$s")" || continue
		# nstat's history file is per user, not per namespace
		NSTAT_HISTORY=/tmp/nstat-a ns_exec "$NSA" nstat -n
		NSTAT_HISTORY=/tmp/nstat-b ns_exec "$NSB" nstat -n
		ns_exec "$NSA" perf record -q -a -e cpu-clock -F 4000 -o "$data" -- \
			iperf3 -c "$(target "$s")" -t "$TCP_SECS" >/dev/null 2>&1 ||
			warn "prof: perf record on $s failed"
		wait "$SPID"
		say "$1 prof $s: TCP/IP counters that moved, sender | receiver:"
		say "  $(NSTAT_HISTORY=/tmp/nstat-a ns_exec "$NSA" nstat -s | awk 'NR > 1 { printf "%s=%s ", $1, $2 }')"
		say "  | $(NSTAT_HISTORY=/tmp/nstat-b ns_exec "$NSB" nstat -s | awk 'NR > 1 { printf "%s=%s ", $1, $2 }')"
		say "$1 prof $s ($( [ "$PROF_OFF" = 1 ] && echo "offloads off" || echo "offloads on" )): top symbols, % of samples"
		perf report -i "$data" --stdio --no-children --sort dso,sym \
			--percent-limit "$PROF_LIMIT" 2>/dev/null | grep -v '^#' | grep -v '^$' |
			head -n "$PROF_TOP" | while IFS= read -r l; do say "  $l"; done
		say "  by module: $(perf report -i "$data" --stdio --no-children --sort dso 2>/dev/null |
			awk '/%/ && $1 + 0 >= 0.1 { printf "%s%s %s", s, $2, $1; s = ", " }')"
		rm -f "$data"
	done
	[ "$PROF_OFF" = 1 ] && offloads restore
}

case_udp() {
	say "$1 udp: iperf3 UDP 64-byte datagrams, ${UDP_SECS}s, unlimited rate"
	# shellcheck disable=SC2046
	rounds m_udp $(sides)
	record "$1" udp "UDP 64 B, received" pps higher
}

case_lat() {
	say "$1 lat: $PINGS pings at 10 ms, average RTT"
	# shellcheck disable=SC2046
	rounds m_lat $(sides)
	record "$1" lat "ping RTT avg" us lower
}

# extra_batch SIDE FROM TO [NAMEPREFIX [GROUP]]: `ip -batch` lines adding
# tunnels FROM..TO of a side with the receiving end's local address of that
# side's measured tunnel, and distinct remotes; with GROUP, tunnel i goes
# to group GROUP + i / 10000.
extra_batch() {
	local type args laddr
	if [ "$1" = ipt ]; then
		type=$IPT_TYPE args="" laddr=$LB
	else
		type=$TREE_TYPE args=$TREE_ARGS laddr=$TB
	fi
	awk -v from="$2" -v to="$3" -v p="$4" -v grp="${5:-}" \
	    -v type="$type" -v args="$args" -v local="$laddr" -v v6="$([ "$OUTER" = 6 ] && echo 1)" 'BEGIN {
		for (i = from; i <= to; i++) {
			if (v6) {
				r = sprintf("2001:db8:%x:%x::1", 256 + int(i / 65536), i % 65536)
			} else {
				a = 11 + (i * 37) % 200
				if (a == 127 || a == 192) a++
				r = sprintf("%d.%d.%d.%d", a, int(i / 65536) % 256, int(i / 256) % 256, i % 256)
			}
			g = grp == "" ? "" : sprintf("group %d ", grp + int(i / 10000))
			printf "link add %s%d %stype %s local %s remote %s %s\n", p, i, g, type, local, r, args
		}
	}'
}

case_rx() {
	local n b0 t0 s f g
	for n in $EXTRA; do
		if [ "$n" -gt "$EXTRAS" ]; then
			for s in ipt tree; do
				f=/tmp/bench-extra-$s.batch
				extra_batch "$s" $((EXTRAS + 1)) "$n" "x${s:0:1}" "$EXTRA_GROUP" > "$f"
				b0=$(busy_ms); t0=$(now)
				ip -n "$NSB" -batch "$f" >/dev/null || die "cannot add the extra $s tunnels"
				say "$1 rx: added $((n - EXTRAS)) extra $s tunnels in $(( $(busy_ms) - b0 )) ms busy, $(( ($(now) - t0) / 1000000 )) ms elapsed"
			done
			EXTRAS=$n
			settle
		elif [ "$n" -lt "$EXTRAS" ]; then
			warn "rx: N must grow ($EXTRA), skipping $n"
			continue
		fi
		say "$1 rx: UDP 64 B with $n extra tunnels per side in the receiving namespace"
		rounds m_udp ipt tree
		R_veth=""
		record "$1" "rx$n" "UDP 64 B, $n extra tunnels" pps higher
	done
	if [ "$EXTRAS" -gt 0 ]; then
		b0=$(busy_ms)
		for g in $(seq "$EXTRA_GROUP" $((EXTRA_GROUP + EXTRAS / 10000))); do
			ip -n "$NSB" link del group "$g" || warn "cannot delete the extra tunnels of group $g"
		done
		say "$1 rx: deleted the $((2 * EXTRAS)) extra tunnels in $(( $(busy_ms) - b0 )) ms busy"
		EXTRAS=0
		settle
	fi
	CTL_WARM=1
}

# ctl_op NS BATCHFILE: run it; sets BUSY (ms) and ELAPSED (ms).
ctl_op() {
	local b0 t0
	b0=$(busy_ms); t0=$(now)
	if [ "$PROF_CTL" = 1 ]; then
		perf record -q -a -e cpu-clock -F 1000 -o /tmp/bench-perf-ctl.data -- \
			ip -n "$1" -batch "$2" >/dev/null 2>&1 || warn "ip -batch $2 failed"
	else
		ip -n "$1" -batch "$2" >/dev/null || warn "ip -batch $2 failed"
	fi
	BUSY=$(( $(busy_ms) - b0 )); ELAPSED=$(( ($(now) - t0) / 1000000 ))
	[ "$PROF_CTL" = 1 ] || return 0
	say "  profile of ip -batch $2 (figures include perf's cost):"
	perf report -i /tmp/bench-perf-ctl.data --stdio --no-children --sort dso,sym \
		--percent-limit "$PROF_LIMIT" 2>/dev/null | grep -v '^#' | grep -v '^$' |
		head -n "$PROF_TOP" | while IFS= read -r l; do say "    $l"; done
	rm -f /tmp/bench-perf-ctl.data
}

case_ctl() {
	local kind=$1 NSC r s order a a0 p0 a1 p1
	local -A add_busy add_el del_busy del_el mem_sp mem_av
	setup_ns NSC
	ip -n "$NSC" link add dummy0 type dummy
	for a in 192.0.2.2/24 192.0.2.12/24 2001:db8::2/64 2001:db8::12/64; do
		addr "$NSC" dummy0 "$a"
	done
	ip -n "$NSC" link set dummy0 up
	ip -n "$NSC" route add default via 192.0.2.1
	ip -n "$NSC" -6 route add default via 2001:db8::1
	for s in ipt tree; do
		extra_batch "$s" 1 "$CTL_N" "c${s:0:1}" > "/tmp/bench-ctl-$s.add"
		awk -v n="$CTL_N" -v p="c${s:0:1}" 'BEGIN { for (i = 1; i <= n; i++) printf "link del %s%d\n", p, i }' \
			> "/tmp/bench-ctl-$s.del"
	done
	if [ "${CTL_WARM:-0}" = 0 ]; then
		# The first tunnels of a boot also populate percpu chunks that
		# outlive them: warm up both sides so that neither pays it.
		for s in ipt tree; do
			head -n 1000 "/tmp/bench-ctl-$s.add" | sed 's/^\(link add [a-z]*[0-9]*\) /\1 group 9 /' > /tmp/bench-warm
			ip -n "$NSC" -batch /tmp/bench-warm >/dev/null
			ip -n "$NSC" link del group 9
		done
		CTL_WARM=1
	fi
	say "$kind ctl: $CTL_N tunnels per side and round, created and deleted with ip -batch"
	for r in $(seq "$CTL_ROUNDS"); do
		# alternate which side goes first, for what the first leaves behind
		if [ $((r % 2)) = 1 ]; then order="ipt tree"; else order="tree ipt"; fi
		for s in $order; do
			settle
			a0=$(meminfo MemAvailable); p0=$(( $(meminfo Slab) + $(meminfo Percpu) ))
			ctl_op "$NSC" "/tmp/bench-ctl-$s.add"
			add_busy[$s]+=" $BUSY"; add_el[$s]+=" $ELAPSED"
			a1=$(meminfo MemAvailable); p1=$(( $(meminfo Slab) + $(meminfo Percpu) ))
			mem_sp[$s]+=" $(( (p1 - p0) * 1024 / CTL_N ))"
			mem_av[$s]+=" $(( (a0 - a1) * 1024 / CTL_N ))"
			settle
			ctl_op "$NSC" "/tmp/bench-ctl-$s.del"
			del_busy[$s]+=" $BUSY"; del_el[$s]+=" $ELAPSED"
			say "  round $r $s: add ${add_busy[$s]##* } ms busy / ${add_el[$s]##* } ms elapsed, del ${del_busy[$s]##* } / ${del_el[$s]##* } ms, ${mem_sp[$s]##* } B Slab+Percpu, ${mem_av[$s]##* } B MemAvailable per tunnel"
		done
	done
	ip netns del "$NSC"
	R_veth=""
	R_ipt=${add_busy[ipt]} R_tree=${add_busy[tree]}
	record "$kind" ctl_add_busy "create $CTL_N, busy CPU" ms lower
	R_ipt=${add_el[ipt]} R_tree=${add_el[tree]}
	record "$kind" ctl_add_time "create $CTL_N, elapsed" ms lower info
	R_ipt=${del_busy[ipt]} R_tree=${del_busy[tree]}
	record "$kind" ctl_del_busy "delete $CTL_N, busy CPU" ms lower
	R_ipt=${del_el[ipt]} R_tree=${del_el[tree]}
	record "$kind" ctl_del_time "delete $CTL_N, elapsed" ms lower info
	R_ipt=${mem_sp[ipt]} R_tree=${mem_sp[tree]}
	record "$kind" mem_slab_percpu "memory/tunnel, Slab+Percpu" B lower
	R_ipt=${mem_av[ipt]} R_tree=${mem_av[tree]}
	record "$kind" mem_available "memory/tunnel, MemAvailable" B lower info
}

# --- main -------------------------------------------------------------------

has_case() { [[ " $CASES " == *" $1 "* ]]; }

START_NS=$(now)
START_BUSY=$(busy_ms)
say "ipt benchmark: mode $MODE_TEXT"
say "kernel $(uname -r), ipt.ko srcversion $(cat /sys/module/ipt/srcversion 2>/dev/null || echo '?'), $(nproc) vCPU(s), $(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
say "kinds: $KINDS; cases: $CASES; rounds: $ROUNDS; rx N: $EXTRA; ctl: $CTL_N x $CTL_ROUNDS"
GIT=$(git -C "$IPT_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
json "{\"type\":\"run\",\"mode\":\"$MODE\",\"mode_text\":\"$MODE_TEXT\",\"kernel\":\"$(uname -r)\",\"git\":\"$GIT\",\"ipt_srcversion\":\"$(cat /sys/module/ipt/srcversion 2>/dev/null)\",\"vcpus\":$(nproc),\"kinds\":\"$KINDS\",\"cases\":\"$CASES\",\"rounds\":$ROUNDS,\"extra\":\"$EXTRA\",\"ctl_n\":$CTL_N,\"ctl_rounds\":$CTL_ROUNDS,\"tcp_secs\":$TCP_SECS,\"udp_secs\":$UDP_SECS,\"pings\":$PINGS}"

for kind in $KINDS; do
	kind_conf "$kind"
	say ""
	say "=== $kind: $IPT_TYPE vs $TREE_LABEL ($TREE_TYPE $TREE_ARGS), inner IPv$INNER over IPv$OUTER ==="
	t0=$(now)
	setup_kind
	if has_case tcp || has_case nooff || has_case udp || has_case lat || has_case rx || has_case prof; then
		warmup
	fi
	for c in tcp nooff udp lat rx ctl prof; do
		has_case "$c" && "case_$c" "$kind"
	done
	teardown_kind
	say "=== $kind done: $(( ($(now) - t0) / 1000000000 )) s guest time"
done

# --- summary and table --------------------------------------------------------

# ADV: "advantage kind/case" per row; advantage > 1: ipt better
read -r s_n s_a s_b s_c s_g < <(printf '%s\n' "${ADV[@]}" | awk -v e="$EVEN" '
	NF == 2 {
		n++; l += log($1)
		if ($1 > 1 + e / 100) a++; else if ($1 < 1 - e / 100) b++; else c++
	}
	END { printf "%d %d %d %d %.3f\n", n, a, b, c, n ? exp(l / n) : 1 }')
s_ahead=$(printf '%s\n' "${ADV[@]}" | awk -v e="$EVEN" '$1 > 1 + e / 100 { printf "%s%s", s, $2; s = " " }')
s_behind=$(printf '%s\n' "${ADV[@]}" | awk -v e="$EVEN" '$1 < 1 - e / 100 { printf "%s%s", s, $2; s = " " }')
elapsed=$(( ($(now) - START_NS) / 1000000000 ))
SUMMARY="summary ($MODE): ${s_n:-0} cases; ipt ahead in ${s_a:-0}, behind in ${s_b:-0}, even (within ${EVEN}%) in ${s_c:-0}; geometric mean of ipt's advantage ${s_g:-1} (> 1: ipt better)${s_behind:+; behind: $s_behind}"

say ""
tline "ipt vs in-tree tunnels, $(date -u +%Y-%m-%d), kernel $(uname -r), git $GIT"
tline "mode: $MODE_TEXT"
tline "rounds: $ROUNDS interleaved (ipt, in-tree, veth), medians; ctl: $CTL_ROUNDS round(s) of $CTL_N"
tline "ratio = ipt / in-tree; 'ahead'/'behind' take the unit's better direction into account (±${EVEN}% is even)"
tline ""
{
	printf 'kind\tcase\tunit\tipt\tin-tree\tipt/in-tree\tveth\tverdict\n'
	printf '%s\n' "${ROWS[@]}"
} | awk -F'\t' '{ printf "%-5s %-32s %-7s %12s %12s %11s %12s  %s\n", $1, $2, $3, $4, $5, $6, $7, $8 }' |
	while IFS= read -r l; do tline "$l"; done
tline ""
tline "$SUMMARY"
tline "guest time: ${elapsed} s elapsed, $(( ($(busy_ms) - START_BUSY) / 1000 )) s busy"
json "{\"type\":\"summary\",\"mode\":\"$MODE\",\"cases\":${s_n:-0},\"ipt_ahead\":${s_a:-0},\"ipt_behind\":${s_b:-0},\"even\":${s_c:-0},\"even_pct\":$EVEN,\"geomean_advantage\":${s_g:-1},\"ahead\":\"$s_ahead\",\"behind\":\"$s_behind\",\"guest_seconds\":$elapsed,\"complete\":$([ "$FAILED" = 0 ] && echo true || echo false)}"

[ "$FAILED" = 0 ] || exit 1
exit 0
