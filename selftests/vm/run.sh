#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a throwaway guest under qemu and run the selftests in it, once for the
# whole run:
#
#   selftests/vm/run.sh [--demo] [--perf] [--bench] [TEST...]
#
# The host kernel cannot load modules, so everything kernel-side runs in the
# guest: the newest installed Debian kernel (/boot/vmlinuz-V with
# /lib/modules/V), an initramfs of busybox and the virtio/9p modules (cached
# in $IPT_VM_CACHE, default .vm/ in the repository), and the host's own /
# mounted read-only over 9p as the guest's userspace.  selftests/vm/guest.sh
# does the work in there; this script parses its console output (kselftest
# TAP) and ends with the line "N passed, N failed".
#
# Environment:
#   IPT_VM_KVER       kernel version to boot (default: see pick_kernel)
#   IPT_VM_CACHE      cache directory (default: $ROOT/.vm)
#   IPT_VM_TIMEOUT    hard cap on the whole run in seconds (default 1500)
#   IPT_VM_NO_INSTALL set to 1 to never apt-get install anything
#   IPT_VM_LOG        where to keep the console log (default: cache/last.log)
#   IPT_VM_KERNEL     boot this kernel image instead, one with virtio-pci and
#                     9p built in (selftests/vm/debug-kernel.sh): the
#                     initramfs then carries no modules
#   IPT_VM_MODULES    directory to share as the guest's /lib/modules (with
#                     the modules.builtin* of IPT_VM_KERNEL, for modprobe)
#   IPT_VM_APPEND     more kernel command line
#   IPT_TIMEOUT_SCALE multiplies the tests' timeouts in selftests/settings
#   IPT_VM_MEM        guest memory, qemu -m syntax (default 2G, 4G for --bench)
#
# --bench runs selftests/bench/bench.sh instead of the tests, in the
# deterministic guest of --perf unless IPT_BENCH_ICOUNT=0, with a default
# cap of 5400s.  Its IPT_BENCH_* knobs (see that script) are passed to the
# guest; its results are written to IPT_BENCH_OUT (default
# bench/results.json, one JSON object a line) and, as a table, to the same
# name with .txt for .json.

set -euo pipefail

ME=$(readlink -f "${BASH_SOURCE[0]}")
VMDIR=${ME%/*}
ROOT=$(cd "$VMDIR/../.." && pwd -P)
ST=$ROOT/selftests
CACHE=${IPT_VM_CACHE:-$ROOT/.vm}
CAP=${IPT_VM_TIMEOUT:-1500}

usage() {
	sed -n '/^#   selftests/p' "$ME" | sed 's/^#   /usage: /'
	echo "tests: $(list_tests | tr '\n' ' ')"
	exit "${1:-0}"
}

msg() { echo "ipt-vm: $*" >&2; }
die() { msg "$*"; echo "0 passed, 1 failed"; exit 1; }

# Executable selftests/*.sh, but for the library and the demo.
list_tests() {
	local f n
	for f in "$ST"/*.sh; do
		[ -e "$f" ] || continue
		n=${f##*/}; n=${n%.sh}
		case $n in lib|demo) continue ;; esac
		if [ -x "$f" ]; then
			echo "$n"
		else
			msg "warning: ${f#"$ROOT"/} is not executable, not running it"
		fi
	done
}

MODE=tests
PERF=0
TESTS=()
while [ $# -gt 0 ]; do
	case $1 in
	--demo) MODE=demo ;;
	--perf) PERF=1 ;;
	--bench) MODE=bench ;;
	-h|--help) usage 0 ;;
	-*) msg "unknown option $1"; usage 2 ;;
	*)
		read -r -a words <<<"$1"	# make check T="a b" is one word
		for t in "${words[@]}"; do
			t=${t##*/}; t=${t%.sh}
			[ -f "$ST/$t.sh" ] || die "no such test: selftests/$t.sh"
			TESTS+=("$t")
		done ;;
	esac
	shift
done
if [ "$MODE" = tests ] && [ ${#TESTS[@]} -eq 0 ]; then
	mapfile -t TESTS < <(list_tests)
	[ ${#TESTS[@]} -gt 0 ] || die "no tests in selftests/"
fi
if [ "$MODE" = bench ]; then
	# The figures are only comparable in guest time: icount by default.
	[ "${IPT_BENCH_ICOUNT:-1}" = 0 ] || PERF=1
	CAP=${IPT_VM_TIMEOUT:-5400}
	# 10000 tunnels of each side take ~900 MB (~45 KB each)
	: "${IPT_VM_MEM:=4G}"
	BENCH_OUT=${IPT_BENCH_OUT:-$ROOT/bench/results.json}
fi
case $ROOT in
*[[:space:]]*|*[\"\'\\\$\`]*) die "the repository path '$ROOT' must not contain blanks or quotes" ;;
esac

# --- packages ---------------------------------------------------------------

# What the run needs on the host (which is also the guest's userspace).
PACKAGES=(
	qemu-system-x86 busybox-static cpio gzip kmod coreutils util-linux
	xz-utils zstd procps iproute2 iputils-ping ethtool iperf3 tcpdump
	nftables python3 python3-scapy python3-pyroute2 bc
)

ensure_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
			missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ "${IPT_VM_NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ]; then
		die "missing packages: ${missing[*]} (apt-get install them as root)"
	fi
	msg "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >&2 ||
		die "apt-get install ${missing[*]} failed"
}

# The newest version V with both /boot/vmlinuz-V and /lib/modules/V, unless
# IPT_VM_KVER says otherwise.  If ipt.ko exists and was built for another
# bootable kernel, boot that one instead.
pick_kernel() {
	local d v best="" vm
	if [ -n "${IPT_VM_KVER:-}" ]; then
		echo "$IPT_VM_KVER"
		return
	fi
	for d in /lib/modules/*/; do
		v=${d%/}; v=${v##*/}
		if [ ! -r "/boot/vmlinuz-$v" ] || [ ! -r "$d/modules.dep" ]; then
			continue
		fi
		best=$(printf '%s\n%s\n' "$best" "$v" | sed '/^$/d' | sort -V | tail -n 1)
	done
	if [ -f "$ROOT/ipt.ko" ]; then
		vm=$(modinfo -F vermagic "$ROOT/ipt.ko" 2>/dev/null | awk '{ print $1 }')
		if [ -n "$vm" ] && [ "$vm" != "$best" ] &&
		   [ -r "/boot/vmlinuz-$vm" ] && [ -r "/lib/modules/$vm/modules.dep" ]; then
			msg "ipt.ko was built for $vm, booting that instead of $best"
			best=$vm
		fi
	fi
	echo "$best"
}

ensure_packages "${PACKAGES[@]}"
if [ -n "${IPT_VM_KERNEL:-}" ]; then
	# virtio-pci and 9p built in: an initramfs without modules
	KVER=builtin
	KERNEL=$IPT_VM_KERNEL
	[ -z "${IPT_VM_MODULES:-}" ] || [ -d "$IPT_VM_MODULES" ] ||
		die "IPT_VM_MODULES=$IPT_VM_MODULES is no directory"
else
KVER=$(pick_kernel)
if [ -z "$KVER" ]; then
	ensure_packages linux-image-amd64
	KVER=$(pick_kernel)
fi
[ -n "$KVER" ] || die "no kernel with /boot/vmlinuz-V and /lib/modules/V found"
KERNEL=/boot/vmlinuz-$KVER
fi
[ -r "$KERNEL" ] || die "cannot read $KERNEL"
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not found"
BUSYBOX=$(command -v busybox) || die "busybox not found"

# --- initramfs --------------------------------------------------------------

# Modules needed to mount the 9p root, in insmod order, as .ko paths.
boot_modules() {
	local m
	[ "$KVER" != builtin ] || return 0
	for m in virtio_pci 9pnet_virtio 9p; do
		modprobe -S "$KVER" --show-depends "$m" ||
			die "modprobe -S $KVER --show-depends $m failed"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}

# Build (or reuse) the cached initramfs; prints its path.  The cache key
# covers everything that goes in, so a new kernel, busybox or /init rebuilds.
build_initramfs() {
	local mods key out tmp ko base
	mods=$(boot_modules)
	key=$( {
		echo "$KVER"
		sha256sum "$VMDIR/init" "$BUSYBOX"
		for ko in $mods; do stat -c '%n %s %Y' "$ko"; done
	} | sha256sum | cut -c1-16)
	out=$CACHE/initramfs-$KVER-$key.cpio.gz
	if [ -s "$out" ]; then
		echo "$out"
		return
	fi
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/build.XXXXXX")
	mkdir -p "$tmp/root/bin" "$tmp/root/modules"
	: > "$tmp/root/modules.order"	# empty for IPT_VM_KERNEL
	cp "$BUSYBOX" "$tmp/root/bin/busybox"
	cp "$VMDIR/init" "$tmp/root/init"
	chmod 755 "$tmp/root/init"
	for ko in $mods; do
		base=${ko##*/}
		case $ko in
		*.ko.xz)  xz -dc "$ko"   > "$tmp/root/modules/${base%.xz}"; base=${base%.xz} ;;
		*.ko.zst) zstd -qdc "$ko" > "$tmp/root/modules/${base%.zst}"; base=${base%.zst} ;;
		*.ko.gz)  gzip -dc "$ko" > "$tmp/root/modules/${base%.gz}"; base=${base%.gz} ;;
		*)        cp "$ko" "$tmp/root/modules/$base" ;;
		esac
		echo "$base" >> "$tmp/root/modules.order"
	done
	(cd "$tmp/root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$tmp/img"
	rm -f "$CACHE"/initramfs-"$KVER"-*.cpio.gz
	mv "$tmp/img" "$out"
	rm -rf "$tmp"
	msg "built $out"
	echo "$out"
}

mkdir -p "$CACHE"
INITRAMFS=$(build_initramfs) || die "cannot build the initramfs"

# --- run --------------------------------------------------------------------

RUN=$(mktemp -d "$CACHE/run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
trap 'exit 130' INT TERM

# The module and the ip plugins the guest uses travel in the initramfs:
# copies, so that a `make` during a long run cannot swap them under the
# tests.  IPT_KO names another build of the module (e.g. for a debug kernel).
KO_SRC=${IPT_KO:-$ROOT/ipt.ko}
mkdir -p "$RUN/conf/ip"
if [ -f "$KO_SRC" ]; then
	cp "$KO_SRC" "$RUN/conf/ipt.ko" || die "cannot copy $KO_SRC"
fi
for so in "$ROOT"/iproute2/link_*.so; do
	[ -e "$so" ] && { cp "$so" "$RUN/conf/ip/" || die "cannot copy $so"; }
done

NONCE=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$RUN/conf"
cat > "$RUN/conf/run.conf" <<EOF
IPT_ROOT='$ROOT'
IPT_NONCE='$NONCE'
IPT_MODE='$MODE'
IPT_TESTS='${TESTS[*]}'
IPT_PERF='$PERF'
IPT_MODULES_SHARE='${IPT_VM_MODULES:+1}'
IPT_TIMEOUT_SCALE='${IPT_TIMEOUT_SCALE:-1}'
EOF
# The benchmark's knobs, as bash assignments guest.sh sources (init
# clears the environment).
if [ "$MODE" = bench ]; then
	for v in $(compgen -v IPT_BENCH_); do
		printf '%s=%q\n' "$v" "${!v}"
	done > "$RUN/conf/bench.env"
fi
# The kernel unpacks concatenated (compressed) cpio archives in order.
(cd "$RUN/conf" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$RUN/conf.cpio.gz"
cat "$INITRAMFS" "$RUN/conf.cpio.gz" > "$RUN/initrd"

if [ "$PERF" = 1 ]; then
	# shellcheck disable=SC2054 # qemu's commas
	ACCEL=(-accel tcg,thread=single -smp 1 -icount shift=4,sleep=off)
else
	# /dev/kvm exists on these hosts but the guest hangs in early boot.
	# shellcheck disable=SC2054
	ACCEL=(-accel tcg,thread=multi -smp 2)
fi

CMDLINE="console=ttyS0,115200 panic_on_warn=1 oops=panic panic=-1 loglevel=5"
CMDLINE+=" log_buf_len=16M printk.devkmsg=on mitigations=off"
CMDLINE+=" nokaslr random.trust_cpu=on"
CMDLINE+=${IPT_VM_APPEND:+ $IPT_VM_APPEND}

# IPT_VM_MODULES: the guest's /lib/modules, as its own 9p share
MODSHARE=()
if [ -n "${IPT_VM_MODULES:-}" ]; then
	# shellcheck disable=SC2054 # qemu's commas
	MODSHARE=(-fsdev "local,id=modules,path=$IPT_VM_MODULES,readonly=on,security_model=none,multidevs=remap"
		-device virtio-9p-pci,fsdev=modules,mount_tag=modules)
fi

LOG=$RUN/console.log	# private: other runs may share the cache
KEEP=${IPT_VM_LOG:-$CACHE/last.log}
msg "booting $KERNEL (${#TESTS[@]} test(s), mode $MODE$([ "$PERF" = 1 ] && echo ", perf"))"
start=$(date +%s)

set +e
timeout --foreground -k 10 "$CAP" "$QEMU" \
	-nodefaults -no-user-config -machine q35 "${ACCEL[@]}" -cpu max -m "${IPT_VM_MEM:-2G}" \
	-kernel "$KERNEL" -initrd "$RUN/initrd" -append "$CMDLINE" \
	-display none -monitor none -serial stdio -no-reboot \
	-fsdev local,id=root,path=/,readonly=on,security_model=none,multidevs=remap \
	-device virtio-9p-pci,fsdev=root,mount_tag=root \
	-fsdev "local,id=repo,path=$ROOT,readonly=on,security_model=none,multidevs=remap" \
	-device virtio-9p-pci,fsdev=repo,mount_tag=repo \
	"${MODSHARE[@]}" \
	</dev/null 2>&1 | sed -u 's/[\x00\r]//g' | tee "$LOG"
rcs=("${PIPESTATUS[@]}")
set -e
qrc=${rcs[0]}
elapsed=$(( $(date +%s) - start ))

# --- verdict ----------------------------------------------------------------

# grep -a: a serial console may still carry stray control bytes.
grep() { command grep -a "$@"; }

passed=$(grep -E '^ok [0-9]+ ' "$LOG" | grep -c -v -E '# SKIP' || true)
skipped=$(grep -c -E '^ok [0-9]+ .*# SKIP' "$LOG" || true)
failed=$(grep -c -E '^not ok [0-9]+ ' "$LOG" || true)
plan=$(sed -n -E 's/^1\.\.([0-9]+)$/\1/p' "$LOG" | head -n 1)

echo
if grep -q "IPT-VM-END $NONCE " "$LOG"; then
	seen=$((passed + skipped + failed))
	gfailed=$(sed -n -E "s/.*IPT-VM-END $NONCE failed=([0-9]+) .*/\1/p" "$LOG" | head -n 1)
	if [ "${gfailed:-0}" -gt "$failed" ]; then
		msg "the guest counted $gfailed failures, only $failed parsed from the console"
		failed=$gfailed
	fi
	if [ -n "$plan" ] && [ "$seen" -lt "$plan" ]; then
		msg "only $seen of $plan results parsed from the console"
		failed=$((failed + plan - seen))
	fi
else
	# The guest never got to the end: say why, and count it as a failure.
	running=$(sed -n 's/^# selftests: ipt: //p' "$LOG" | tail -n 1)
	if [ -n "$running" ]; then
		last=$(grep -E '^(not )?ok [0-9]+ ' "$LOG" | tail -n 1 | sed -E 's/^(not )?ok [0-9]+ //; s/ #.*//')
		[ "$last" != "$running" ] || running=""
	fi
	during=${running:+ during $running}
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		msg "FAIL: the run timed out after ${CAP}s (IPT_VM_TIMEOUT) and was killed$during"
	elif grep -q 'Kernel panic' "$LOG"; then
		msg "FAIL: the guest kernel panicked$during:"
		grep -E 'Kernel panic|\bBUG\b|WARNING|Oops|general protection|RIP: 0010' "$LOG" |
			head -n 10 | sed 's/^/ipt-vm:   /' >&2
	else
		msg "FAIL: the guest died before the end of the run (qemu exit $qrc)$during"
	fi
	if [ -n "$plan" ]; then
		lost=$((plan - passed - skipped - failed))
		[ "$lost" -le 0 ] || msg "$lost of $plan results missing"
	fi
	failed=$((failed + 1))
fi
# The benchmark's results: lines the guest marked with this run's nonce.
if [ "$MODE" = bench ]; then
	mkdir -p "$(dirname "$BENCH_OUT")"
	sed -n "s/^@@IPT-BENCH-JSON $NONCE@@ //p" "$LOG" > "$BENCH_OUT.$$"
	sed -n "s/^@@IPT-BENCH-TABLE $NONCE@@ \{0,1\}//p" "$LOG" > "${BENCH_OUT%.json}.txt.$$"
	if [ -s "$BENCH_OUT.$$" ]; then
		mv -f "$BENCH_OUT.$$" "$BENCH_OUT"
		mv -f "${BENCH_OUT%.json}.txt.$$" "${BENCH_OUT%.json}.txt"
		msg "benchmark results: $BENCH_OUT, ${BENCH_OUT%.json}.txt"
	else
		rm -f "$BENCH_OUT.$$" "${BENCH_OUT%.json}.txt.$$"
		msg "no benchmark results in the console log"
		failed=$((failed + 1))
	fi
fi
{ cp "$LOG" "$KEEP.$$" && mv -f "$KEEP.$$" "$KEEP"; } 2>/dev/null || KEEP="(not saved: cannot write ${KEEP})"
msg "console log: $KEEP; ${elapsed}s for boot and run"
[ "$skipped" = 0 ] || echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
