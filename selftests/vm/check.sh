#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: the whole guest run, split over IPT_JOBS guests that boot
# and run in parallel (default 2), each with its own module instance, so
# that tests which reload ipt.ko cannot disturb each other.  Tests go to
# the least loaded guest, heaviest first, weighed by their timeout in
# selftests/settings.  Each guest's report is shown whole, then one final
# line "N passed, N failed" sums them; the exit status is non-zero if any
# guest failed.
#
#   selftests/vm/check.sh [TEST...]     (TESTs: a single guest, as run.sh)
#
# IPT_CHECK_TESTS="T1 T2 ...": split only these over the guests (.ci/run's
# debug-kernel subset).

set -uo pipefail

ME=$(readlink -f "${BASH_SOURCE[0]}")
VMDIR=${ME%/*}
ST=$(cd "$VMDIR/.." && pwd -P)
JOBS=${IPT_JOBS:-2}
# per guest; CI allows 90 minutes for everything
export IPT_VM_TIMEOUT=${IPT_VM_TIMEOUT:-3000}

[ $# -gt 0 ] && exec "$VMDIR/run.sh" "$@"

weight() {
	local n=$1 t
	t=$(sed -n "s/^timeout_${n//[^A-Za-z0-9_]/_}=\([0-9]\+\).*/\1/p" "$ST/settings" | tail -n 1)
	[ -n "$t" ] || t=$(sed -n 's/^timeout=\([0-9]\+\).*/\1/p' "$ST/settings" | tail -n 1)
	t=${t:-120}
	# perf only runs under `make perf`: here it is a quick skip
	[ "$n" = perf ] && t=1
	echo "$t $n"
}

tests=()
if [ -n "${IPT_CHECK_TESTS:-}" ]; then
	for n in $IPT_CHECK_TESTS; do
		[ -x "$ST/$n.sh" ] || { echo "no test $n"; echo "0 passed, 1 failed"; exit 1; }
		tests+=("$n")
	done
else
	for f in "$ST"/*.sh; do
		n=${f##*/}; n=${n%.sh}
		case $n in lib|demo) continue ;; esac
		[ -x "$f" ] && tests+=("$n")
	done
fi
[ ${#tests[@]} -gt 0 ] || { echo "no tests"; echo "0 passed, 1 failed"; exit 1; }
[ "$JOBS" -ge 1 ] 2>/dev/null || JOBS=1

declare -a group load
for ((j = 0; j < JOBS; j++)); do group[j]=""; load[j]=0; done
while read -r w n; do
	best=0
	for ((j = 1; j < JOBS; j++)); do
		[ "${load[j]}" -lt "${load[best]}" ] && best=$j
	done
	group[best]+=" $n"
	load[best]=$((load[best] + w))
done < <(for n in "${tests[@]}"; do weight "$n"; done | sort -rn)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pids=()
for ((j = 0; j < JOBS; j++)); do
	[ -n "${group[j]}" ] || continue
	echo "ipt-check: guest $j:${group[j]}"
	# each guest keeps its own console log next to the shared cache,
	# as last.N.log (IPT_CHECK_LOG=NAME: NAME.N.log)
	IPT_VM_LOG=${IPT_VM_CACHE:-$ST/../.vm}/${IPT_CHECK_LOG:-last}.$j.log \
		"$VMDIR/run.sh" ${group[j]} >"$out/$j.log" 2>&1 &
	pids[j]=$!
	# stagger the boots: initramfs build and the first boot share a cache
	[ "$j" = 0 ] && sleep 5
done

rc=0 passed=0 failed=0
for j in "${!pids[@]}"; do
	wait "${pids[j]}" || rc=1
	echo "=================== guest $j:${group[j]}"
	cat "$out/$j.log"
	line=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed$' "$out/$j.log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "ipt-check: guest $j printed no summary"
		failed=$((failed + 1)); rc=1
		continue
	fi
	set -- $line
	passed=$((passed + $1)); failed=$((failed + $3))
done
[ "$failed" = 0 ] || rc=1
echo "$passed passed, $failed failed"
exit "$rc"
