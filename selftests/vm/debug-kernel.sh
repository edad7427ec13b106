#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-debug`: build (or reuse) a debug kernel from Debian's
# linux-source-6.1, build ipt.ko against it, boot it with panic_on_warn=1
# and run the whole selftest suite in it, then check kmemleak.
#
#   selftests/vm/debug-kernel.sh [TEST...]   build as needed, run the tests
#                                            (all of them over IPT_JOBS
#                                            guests, as check.sh, or TESTs
#                                            in one guest)
#   selftests/vm/debug-kernel.sh --build     only build the kernel and ipt.ko
#   selftests/vm/debug-kernel.sh --cached    exit 0 if the kernel for the
#                                            current config is cached, else 1
#
# The kernel is `make allnoconfig` plus selftests/vm/debug.config (virtio,
# 9p, netns, veth, IPv6, the in-tree tunnels, nftables, all built in) with
# KASAN (generic, inline), KMEMLEAK, PROVE_LOCKING/LOCKDEP, PROVE_RCU,
# DEBUG_ATOMIC_SLEEP, DEBUG_PREEMPT, DEBUG_NET, the netdev/netns refcount
# trackers, UBSAN (bounds, shift, bool, enum), DEBUG_LIST and DEBUG_OBJECTS.
# REFCOUNT_FULL no longer exists: since 5.5 refcount_t always saturates and
# WARNs on overflow, underflow and increment from zero, so every kernel has
# it (and panic_on_warn turns it into a failure).  No DWARF nor BTF.
#
# The build is cached outside the tree, in $IPT_DEBUG_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/ipt-debug-kernel): the unpacked source per
# linux-source version, and one build directory per key, the sha256 of
# debug.config, the base config, the source tarball's version, size and
# mtime and the gcc version.  A changed key rebuilds from scratch (old
# builds are removed); the same key reuses the kernel, so only ipt.ko is
# rebuilt, into a private directory (never ./ipt.ko, which other runs use).
#
# Build time from a clean cache on the 2-core CI machine (nice 10, -j2,
# KASAN+UBSAN instrumentation, no debug info), measured while other
# guests ran on it: 581 s (9.7 minutes), unpacking the 138 MB tarball
# (~10 s) and configuring included; some 1400 objects.  ipt.ko against
# it: under 10 s.  The cache takes 2 GB (1.5 GB of source, 0.5 GB build).
#
# Environment:
#   IPT_DEBUG_CACHE   cache directory (see above)
#   IPT_DEBUG_MAKEJ   make -j for the kernel build (default: nproc)
#   IPT_DEBUG_NICE    niceness of the kernel build (default 10: the
#                     machine is shared)
#   IPT_VM_NO_INSTALL set to 1 to never apt-get install anything
#   IPT_JOBS          guests in parallel for the whole suite (default 2)
#   IPT_DEBUG_TIMEOUT_SCALE  multiplies the selftests/settings timeouts in
#                     the guest (default 3: KASAN, lockdep and kmemleak
#                     under TCG are several times slower)

set -euo pipefail

ME=$(readlink -f "${BASH_SOURCE[0]}")
VMDIR=${ME%/*}
ROOT=$(cd "$VMDIR/../.." && pwd -P)
FRAGMENT=$VMDIR/debug.config
CACHE=${IPT_DEBUG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipt-debug-kernel}
TARBALL=/usr/src/linux-source-6.1.tar.xz
MAKEJ=${IPT_DEBUG_MAKEJ:-$(nproc)}
NICE=${IPT_DEBUG_NICE:-10}
# bumped when the way the kernel is configured or built changes
RECIPE=1

msg() { echo "ipt-debug: $*" >&2; }
die() { msg "$*"; echo "0 passed, 1 failed"; exit 1; }

MODE=run
TESTS=()
for a in "$@"; do
	case $a in
	--build) MODE=build ;;
	--cached) MODE=cached ;;
	-h|--help) sed -n '/^#   selftests/,/^#$/p' "$ME" | sed 's/^# \{0,3\}//'; exit 0 ;;
	-*) die "unknown option $a" ;;
	*) TESTS+=("$a") ;;
	esac
done
case $CACHE in
/*) ;;
*) die "IPT_DEBUG_CACHE must be an absolute path: $CACHE" ;;
esac
case $CACHE in
*[[:space:]]*|*[\"\'\\\$\`]*) die "the cache path '$CACHE' must not contain blanks or quotes" ;;
esac

# --- packages ---------------------------------------------------------------

PACKAGES=(
	linux-source-6.1 gcc make libc6-dev flex bison bc libelf-dev libssl-dev
	cpio xz-utils kmod
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

# --- the key ----------------------------------------------------------------

SRCVER=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
# The base key: what makes a build useless; the key adds debug.config, a
# change of which only needs an incremental build.
basekey() {
	{
		echo "recipe $RECIPE allnoconfig"
		echo "source $SRCVER $(stat -c '%s %Y' "$TARBALL")"
		gcc --version | head -n 1
	} | sha256sum | cut -c1-16
}
key() {
	{ basekey; cat "$FRAGMENT"; } | sha256sum | cut -c1-16
}

if [ "$MODE" = cached ]; then
	[ -r "$TARBALL" ] || { msg "no $TARBALL"; exit 1; }
	K=$CACHE/build-$(key)
	if [ -f "$K/.complete" ]; then
		echo "$K"
		exit 0
	fi
	msg "no debug kernel for this config in $CACHE"
	exit 1
fi

ensure_packages "${PACKAGES[@]}"
SRCVER=$(dpkg-query -W -f='${Version}' linux-source-6.1)
[ -r "$TARBALL" ] || die "no $TARBALL (package linux-source-6.1)"
KEY=$(key)
BASEKEY=$(basekey)
SRC=$CACHE/src-$SRCVER
K=$CACHE/build-$KEY

mkdir -p "$CACHE"
# One builder at a time: a second run waits for the first one's kernel.
exec 9>"$CACHE/lock"
if ! flock -n 9; then
	msg "waiting for another build in $CACHE"
	flock 9
fi

# --- source and kernel ------------------------------------------------------

unpack_source() {
	[ -f "$SRC/.complete" ] && return 0
	msg "unpacking $TARBALL into $SRC"
	rm -rf "$SRC" "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	nice -n "$NICE" tar -xJf "$TARBALL" -C "$SRC.tmp" --strip-components=1 ||
		die "cannot unpack $TARBALL"
	[ -f "$SRC.tmp/Makefile" ] || die "$TARBALL has no top-level Makefile"
	mv "$SRC.tmp" "$SRC"
	touch "$SRC/.complete"
	# other source versions are of no more use
	for d in "$CACHE"/src-*; do
		[ "$d" = "$SRC" ] || [ ! -d "$d" ] || rm -rf "$d"
	done
}

# Every CONFIG_ line of debug.config, and every "# CONFIG_X is not set",
# must be in the final .config as written.
verify_config() {
	local line sym want have bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) sym=${line%%=*}; want=$line ;;
		"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *}; want=$line ;;
		*) continue ;;
		esac
		have=$(grep -E "^($sym=|# $sym is not set)" "$K/.config" || true)
		[ -n "$have" ] || have="(absent)"
		if [ "$have" != "$want" ]; then
			msg "config: wanted $want, got $have"
			bad=1
		fi
	done < "$FRAGMENT"
	[ $bad = 0 ] || die "the debug kernel's .config lacks options of debug.config (a dependency is missing?)"
}

build_kernel() {
	local t0 t1 kver
	if [ -f "$K/.complete" ]; then
		msg "reusing the debug kernel $(cat "$K/kernelrelease") in $K"
		return 0
	fi
	t0=$(date +%s)
	unpack_source
	# Older keys' builds: of the same source and compiler, one is updated
	# for the new debug.config (kbuild rebuilds what the changed options
	# touch); the others are of no more use.
	for d in "$CACHE"/build-*; do
		[ "$d" != "$K" ] && [ -d "$d" ] || continue
		if [ ! -e "$K" ] && [ -f "$d/.configured" ] &&
		   [ "$(cat "$d/basekey" 2>/dev/null)" = "$BASEKEY" ]; then
			msg "updating the build in $d for the changed debug.config"
			rm -f "$d/.complete" "$d/.configured"
			mv "$d" "$K"
		else
			msg "removing the stale $d"
			rm -rf "$d"
		fi
	done
	if [ -f "$K/.configured" ]; then
		# make picks up where an interrupted build (a CI run out of
		# time) stopped
		msg "resuming the build in $K"
		echo "resumed" > "$K/resumed"
	else
		[ -f "$K/basekey" ] || { rm -rf "$K"; mkdir -p "$K"; }
		echo "$BASEKEY" > "$K/basekey"
		msg "configuring in $K (key $KEY)"
		make -s -C "$SRC" O="$K" KCONFIG_ALLCONFIG="$FRAGMENT" allnoconfig >&2 ||
			die "make allnoconfig failed"
		make -s -C "$SRC" O="$K" olddefconfig >&2 || die "make olddefconfig failed"
		verify_config
		touch "$K/.configured"
	fi
	msg "building the kernel with -j$MAKEJ at nice $NICE (log: $K/build.log)"
	if ! nice -n "$NICE" make -C "$SRC" O="$K" -j"$MAKEJ" all >> "$K/build.log" 2>&1; then
		tail -n 40 "$K/build.log" >&2
		die "the debug kernel build failed (log: $K/build.log)"
	fi
	kver=$(make -s -C "$SRC" O="$K" kernelrelease)
	echo "$kver" > "$K/kernelrelease"
	# modules.builtin and its index for the guest's /lib/modules: modprobe
	# (guest.sh, require_module) then succeeds for the built-ins
	rm -rf "$K/root"
	make -s -C "$SRC" O="$K" INSTALL_MOD_PATH="$K/root" modules_install >&2 ||
		die "make modules_install failed"
	[ -s "$K/root/lib/modules/$kver/modules.builtin.bin" ] ||
		die "no modules.builtin.bin for $kver"
	t1=$(date +%s)
	echo "$((t1 - t0))" > "$K/build-seconds"
	touch "$K/.complete"
	msg "built $kver in $((t1 - t0))s (unpack, config and build)"
}

# ipt.ko for that kernel, from a copy of the module's sources in a private
# directory: prints the module's path.
build_module() {
	local out=$1 f
	rm -rf "$out"
	mkdir -p "$out"
	cp -r "$ROOT/include" "$out/"
	for f in "$ROOT"/Kbuild "$ROOT"/VERSION "$ROOT"/*.c "$ROOT"/*.h; do
		[ -e "$f" ] && cp "$f" "$out/"
	done
	if ! nice -n "$NICE" make -C "$K" M="$out" -j"$MAKEJ" modules > "$out/build.log" 2>&1; then
		cat "$out/build.log" >&2
		die "ipt.ko does not build against the debug kernel"
	fi
	grep -E 'warning:|error:' "$out/build.log" >&2 || true
	[ -f "$out/ipt.ko" ] || die "no ipt.ko in $out"
}

build_kernel
KVER=$(cat "$K/kernelrelease")
if [ "$MODE" = build ]; then
	build_module "$K/ipt"
	msg "debug kernel: $K/arch/x86/boot/bzImage ($KVER), ipt.ko: $K/ipt/ipt.ko"
	exit 0
fi
# the kernel is built: let other runs use it while this one tests
flock -u 9

MOD=$(mktemp -d "$CACHE/ipt.XXXXXX")
trap 'rm -rf "$MOD"' EXIT
build_module "$MOD"
msg "ipt.ko built against $KVER"

# --- the run ----------------------------------------------------------------

export IPT_VM_KERNEL=$K/arch/x86/boot/bzImage
export IPT_VM_MODULES=$K/root/lib/modules
export IPT_KO=$MOD/ipt.ko
export IPT_VM_MEM=${IPT_VM_MEM:-3G}
export IPT_TIMEOUT_SCALE=${IPT_DEBUG_TIMEOUT_SCALE:-3}
# per guest: the settings' timeouts are scaled, so is the cap
export IPT_VM_TIMEOUT=${IPT_VM_TIMEOUT:-$((3000 * IPT_TIMEOUT_SCALE))}

start=$(date +%s)
set +e
if [ ${#TESTS[@]} -gt 0 ]; then
	IPT_VM_LOG=${IPT_VM_LOG:-${IPT_VM_CACHE:-$ROOT/.vm}/last-debug.log} \
		"$VMDIR/run.sh" "${TESTS[@]}"
else
	# console logs: .vm/last-debug.N.log
	IPT_CHECK_LOG=last-debug "$VMDIR/check.sh"
fi
rc=$?
set -e
msg "debug kernel suite: $(( $(date +%s) - start ))s on $KVER"
exit "$rc"
