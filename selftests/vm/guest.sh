#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The test runner inside the guest.  /init starts it chrooted into the host's
# userspace (read-only over 9p, tmpfs on /tmp /run /var/tmp) with:
#   IPT_ROOT   absolute path of the repository (same as on the host)
#   IPT_MODE   "tests", "demo" or "bench"
#   IPT_TESTS  space-separated test names (selftests/NAME.sh)
#   IPT_NONCE  token of this run, for the end marker run.sh waits for
#   IPT_PERF   1 for --perf runs (single vCPU, icount), else 0
#   IPT_TIMEOUT_SCALE  multiplies the timeouts of selftests/settings
#
# Everything goes to the console (stdout) as kselftest TAP; the test's own
# output is prefixed with '# '.  The kernel log is read (and cleared) after
# each test and scanned for splats; it is kept whole in $KMSG_ALL for the
# final ipt lifecycle check.  On a kernel with kmemleak (the debug kernel,
# selftests/vm/debug-kernel.sh) a last result line "kmemleak" fails if
# objects leaked after the boot.

set -u

ST=$IPT_ROOT/selftests
KMSG_ALL=/tmp/ipt-vm/kmsg.log
KO=${IPT_KO:-}	# run.sh's copy of ipt.ko, empty if not built

# In-tree modules the tests use.  Others are autoloaded on demand (the
# kernel's modprobe helper works in the guest).
MODULES=(
	tunnel4 tunnel6 ip_tunnel ipip sit ip6_tunnel
	veth dummy
	nf_tables nft_chain_nat nf_nat nf_conntrack
	sch_netem af_packet
)

# Kernel log lines that fail the test during which they appeared.
BAD_RE='\bBUG\b|WARNING|Oops|KASAN|UBSAN|rcu.*stall|refcount_t|unregister_netdevice: waiting|general protection|list_add corruption|list_del corruption|Call Trace|blocked for more than|soft lockup|hard LOCKUP|stack-protector|Kernel panic'

total=0
failed=0
mkdir -p "${KMSG_ALL%/*}"
export IPT_ROOT IPT_PERF IPT_KO
export PYTHONDONTWRITEBYTECODE=1	# the root is read-only
# The repository's iproute2 plugins (link_*.so), for `ip link add type ipt...`.
# run.sh's copies (see init) rather than the live ones.
if [ -z "${IP_LIB_DIR:-}" ] && compgen -G "/var/tmp/ip/link_*.so" >/dev/null; then
	export IP_LIB_DIR=/var/tmp/ip
fi

prefix() { sed -u 's/^/# /'; }

# The settings file is kselftest's: timeout=SECONDS; we also accept
# timeout_NAME=SECONDS for a single test.
test_timeout() {
	local key="timeout_${1//[^A-Za-z0-9_]/_}" t=""
	if [ -r "$ST/settings" ]; then
		t=$(sed -n "s/^$key=\([0-9]\+\).*/\1/p" "$ST/settings" | tail -n 1)
		[ -n "$t" ] || t=$(sed -n 's/^timeout=\([0-9]\+\).*/\1/p' "$ST/settings" | tail -n 1)
	fi
	echo $(( ${t:-120} * ${IPT_TIMEOUT_SCALE:-1} ))
}

# Print the kernel log since the last call, append it to $KMSG_ALL, and
# clear the ring buffer (dmesg -c reads and clears atomically).
kmsg_new() {
	dmesg -c 2>/dev/null | tee -a "$KMSG_ALL"
}

# kmsg_check LABEL: fail (return 1) and show the log from the first bad line
# on if the kernel log since the last call has a splat.
kmsg_check() {
	local log first
	log=$(kmsg_new)
	first=$(grep -n -E -m1 "$BAD_RE" <<<"$log" | cut -d: -f1)
	[ -n "$first" ] || return 0
	echo "# kernel log problem during $1:"
	tail -n "+$first" <<<"$log" | head -n 200 | prefix
	return 1
}

# TAP result line.  $1 = name, $2 = ok|not ok, $3 = directive/comment.
result() {
	total=$((total + 1))
	[ "$2" = ok ] || failed=$((failed + 1))
	echo "$2 $total $1${3:+ # $3}"
}

links_snapshot() {
	ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
}

# Run "$@" with a fresh /tmp and /run; the repository may live under one
# of them (a CI clone in /tmp), so it is bound back through an fd.
# shellcheck disable=SC2016 # expanded by that sh
FRESH='exec 3<"$IPT_ROOT"
mount -t tmpfs -o mode=1777 tmpfs /tmp && mount -t tmpfs tmpfs /run || exit 1
if [ ! -d "$IPT_ROOT/selftests" ]; then
	mkdir -p "$IPT_ROOT" && mount --no-canonicalize --bind /proc/self/fd/3 "$IPT_ROOT" || exit 1
fi
exec 3<&-
cd "$IPT_ROOT/selftests" || exit 1
"$@"'

# Each test runs in a fresh mount and PID namespace with its own /tmp and
# /run: its netns (ip netns add keeps them under /run/netns) and any process
# it leaves behind go away with it, and a timeout kills the whole lot.
run_test() {
	local name=$1 path=$ST/$1.sh to rc comment res=ok t0=$SECONDS
	to=$(test_timeout "$name")
	echo "# selftests: ipt: $name"
	(
		cd "$ST" || exit 1
		exec timeout -k 10 "$to" \
		unshare --mount --pid --fork --kill-child --mount-proc --propagation private \
		/bin/sh -c "$FRESH" sh "$path"
	) </dev/null 2>&1 | prefix
	rc=${PIPESTATUS[0]}
	comment=""
	case $rc in
	0) ;;
	4) comment=SKIP ;;
	124|137) res="not ok"; comment="TIMEOUT $to seconds" ;;
	*) res="not ok"; comment="exit=$rc" ;;
	esac

	local now extra
	now=$(links_snapshot)
	extra=$(comm -13 <(echo "$BASE_LINKS") <(echo "$now"))
	if [ -n "$extra" ]; then
		echo "# warning: $name left links in the initial netns, deleting them: $(tr '\n' ' ' <<<"$extra")"
		for l in $extra; do ip link del "$l" 2>/dev/null; done
		BASE_LINKS=$(links_snapshot)
	fi

	if ! kmsg_check "$name"; then
		res="not ok"
		comment="kernel log${comment:+; $comment}"
	fi
	echo "# $name: $((SECONDS - t0))s"
	result "$name" "$res" "$comment"
}

# ipt.ko: load it (dependencies first) if it has been built.
ipt_loaded=0
load_ipt() {
	local deps d out vermagic
	vermagic=$(modinfo -F vermagic "$KO" 2>/dev/null | awk '{ print $1 }')
	if [ -n "$vermagic" ] && [ "$vermagic" != "$(uname -r)" ]; then
		echo "# ipt.ko was built for $vermagic, the guest runs $(uname -r)"
	fi
	deps=$(modinfo -F depends "$KO" 2>/dev/null)
	for d in ${deps//,/ }; do
		modprobe "$d" || echo "# warning: modprobe $d (needed by ipt.ko) failed"
	done
	if out=$(insmod "$KO" dyndbg=+p 2>&1); then
		ipt_loaded=1
		echo "# loaded $KO (depends: ${deps:-none})"
		return 0
	fi
	echo "# insmod $KO failed: $out"
	dmesg | tail -n 20 | prefix
	return 1
}

# kmemleak, where the kernel has it (the debug kernel).  A scan after the
# boot finds the base kernel's suspects (some of them false positives:
# boot-time objects referenced from places kmemleak does not scan); they
# are marked as seen ("clear"), so that the scan after the run, ipt.ko
# unloaded, reports only what leaked since.  kmemleak reports objects at
# least 5 s old, and one scan may miss some: two, a few seconds apart.
KMEMLEAK=""
[ -w /sys/kernel/debug/kmemleak ] && KMEMLEAK=/sys/kernel/debug/kmemleak

kmemleak_scan() {
	local t0=$SECONDS
	sleep 6
	echo scan > "$KMEMLEAK"
	sleep 6
	echo scan > "$KMEMLEAK"
	echo "# kmemleak: two scans in $((SECONDS - t0))s"
}

kmemleak_baseline() {
	local n
	kmemleak_scan
	n=$(grep -c '^unreferenced object' "$KMEMLEAK")
	echo "# kmemleak: $n suspect(s) before ipt.ko, the base kernel's: not counted"
	echo clear > "$KMEMLEAK"
}

kmemleak_check() {
	local report n
	kmemleak_scan
	report=$(cat "$KMEMLEAK")
	n=$(grep -c '^unreferenced object' <<<"$report")
	if [ "$n" = 0 ]; then
		echo "# kmemleak: no leak since ipt.ko was loaded"
		result kmemleak ok
		return
	fi
	echo "# kmemleak: $n object(s) leaked during the run (frames of the unloaded ipt.ko show as bare addresses):"
	head -n 800 <<<"$report" | prefix
	result kmemleak "not ok" "$n leak(s)"
}

# rmmod ipt (retrying while dying netns still hold it), check the kernel log
# once more and that every ipt device created was destroyed.
post_checks() {
	local ok=1 created destroyed

	if [ "$ipt_loaded" = 1 ]; then
		for _ in $(seq 1 40); do
			rmmod ipt 2>/dev/null && { ipt_loaded=0; break; }
			sleep 0.5
		done
		if [ "$ipt_loaded" = 1 ]; then
			echo "# rmmod ipt failed: $(rmmod ipt 2>&1)"
			echo "# refcnt: $(cat /sys/module/ipt/refcnt 2>/dev/null)"
			ok=0
		fi
	fi

	kmsg_check "post-run checks" || ok=0

	created=$(grep -c -E 'ipt: [^ ]+: created *$' "$KMSG_ALL")
	destroyed=$(grep -c -E 'ipt: [^ ]+: destroyed *$' "$KMSG_ALL")
	echo "# ipt devices: $created created, $destroyed destroyed"
	if [ "$created" != "$destroyed" ]; then
		echo "# ipt device leak: created $created != destroyed $destroyed; per name, created minus destroyed:"
		sed -n -E 's/.*ipt: ([^ ]+): (created|destroyed) *$/\1 \2/p' "$KMSG_ALL" |
			awk '{ n[$1] += ($2 == "created") ? 1 : -1 } END { for (d in n) if (n[d]) print d, n[d] }' |
			sort | prefix
		ok=0
	fi

	if [ $ok = 1 ]; then
		result "post-run checks" ok
	else
		result "post-run checks" "not ok"
	fi
}

# ---------------------------------------------------------------------------

echo "# guest: $(uname -r), $(nproc) cpu(s), repo $IPT_ROOT"
ip link set lo up
dmesg -n 5	# console: warnings and worse; the rest is read with dmesg

if ! modprobe -a -q "${MODULES[@]}" 2>/dev/null; then
	for m in "${MODULES[@]}"; do
		modprobe -q "$m" 2>/dev/null || echo "# warning: modprobe $m failed"
	done
fi
echo "# modules loaded at $(cut -d' ' -f1 /proc/uptime)s"

# The boot log is checked like a test's, but only reported when bad.
boot_ok=1
kmsg_check "boot" || boot_ok=0
[ -z "$KMEMLEAK" ] || kmemleak_baseline

ipt_ok=""
if [ -n "$KO" ] && [ -e "$KO" ]; then
	load_ipt && ipt_ok=1 || ipt_ok=0
else
	echo "# ipt.ko not built, running without it"
fi
kmsg_check "ipt load" || ipt_ok=0
BASE_LINKS=$(links_snapshot)

if [ "$IPT_MODE" = demo ] || [ "$IPT_MODE" = bench ]; then
	tests=()
else
	read -r -a tests <<<"$IPT_TESTS"
fi
plan=$(( ${#tests[@]} + 1 + (boot_ok == 0) + (${#ipt_ok} > 0) ))
[ -z "$KMEMLEAK" ] || plan=$((plan + 1))
[ "$IPT_MODE" = demo ] || [ "$IPT_MODE" = bench ] && plan=$((plan + 1))

echo "TAP version 13"
echo "1..$plan"
[ $boot_ok = 1 ] || result "boot" "not ok" "kernel log"
case $ipt_ok in
1) result "load ipt.ko" ok ;;
0) result "load ipt.ko" "not ok" ;;
esac

if [ "$IPT_MODE" = demo ]; then
	rc=1
	if [ -e "$ST/demo.sh" ]; then
		echo "# running selftests/demo.sh"
		(cd "$ST" && exec timeout -k 10 "$(test_timeout demo)" bash ./demo.sh) </dev/null 2>&1
		rc=$?
	else
		echo "# selftests/demo.sh does not exist (yet)"
	fi
	if kmsg_check demo && [ $rc = 0 ]; then
		result demo ok
	else
		result demo "not ok" "exit=$rc"
	fi
elif [ "$IPT_MODE" = bench ]; then
	# selftests/bench/bench.sh with run.sh's IPT_BENCH_* knobs, in its own
	# mount and PID namespace as a test (no iperf3 outlives it).  Its
	# marked result lines go to the console as they are, for run.sh to
	# pick up; the rest is commented out of the TAP stream.
	echo "# running selftests/bench/bench.sh"
	(
		if [ -r /var/tmp/bench.env ]; then
			set -a
			# shellcheck disable=SC1091 # written by run.sh
			. /var/tmp/bench.env
			set +a
		fi
		cd "$ST" || exit 1
		exec unshare --mount --pid --fork --kill-child --mount-proc --propagation private \
			/bin/sh -c "$FRESH" sh bash "$ST/bench/bench.sh"
	) </dev/null 2>&1 | sed -u '/^@@IPT-BENCH-/!s/^/# /'
	rc=${PIPESTATUS[0]}
	if kmsg_check bench && [ "$rc" = 0 ]; then
		result bench ok
	else
		result bench "not ok" "exit=$rc"
	fi
else
	for t in "${tests[@]}"; do
		run_test "$t"
	done
fi

post_checks
[ -z "$KMEMLEAK" ] || kmemleak_check
echo "# $((total - failed))/$total ok"
echo "IPT-VM-END $IPT_NONCE failed=$failed total=$total"
