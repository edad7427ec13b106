#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Packaging checks, run on the host (not in the guest: selftests/vm/run.sh
# only runs selftests/*.sh), as root, with the kernel headers installed:
#
#   selftests/host/packaging.sh [-k KVER] [--deb] [--deb-install]
#
# Everything happens on a copy of the working tree (its tracked and
# untracked files, not the ignored ones) in a temporary folder, so the
# tree and its build products are left alone:
#
#   version  VERSION holds the version; include/ipt.h (through Kbuild),
#            dkms.conf, debian/changelog and modinfo agree with it
#   build    make module plugins, for KVER (default: as the Makefile picks)
#   modinfo  description, author, license GPL, version, vermagic and the
#            rtnl-link-ipt_{ipip,6in4,4in6} aliases; a kind whose
#            ipt_<kind>.c does not exist yet is skipped as "not yet"
#   install  make install / uninstall with DESTDIR: the layout, no
#            modules.* in a staging tree, depmod -b in an image root,
#            the plugins work in ip
#   dkms     dkms add, build, install, remove in private trees (and with a
#            throwaway signing key), so nothing outside the temporary
#            folder changes
#   man      man -l, groff -ww, every kind and option of "ip link help"
#            documented, options marked pending exactly where the kernel
#            still refuses them
#   --deb    dpkg-buildpackage -b, and what the packages hold
#   --deb-install  (implies --deb) installs ipt-dkms and ipt-tools with
#            apt-get, checks the DKMS build for KVER and ip with the
#            system plugin folder, purges them and checks that nothing is
#            left.  This one changes the system while it runs; it refuses
#            to start if ipt-dkms or ipt-tools is installed.
#
# Output: TAP, ending with the line "N passed, N failed".  Exit 0 when
# nothing failed (skips are no failures), 1 otherwise.

# shellcheck disable=SC2016 # bash -c '...' gets its values as "$1"...

set -u
export LC_ALL=C

ME=$(readlink -f "${BASH_SOURCE[0]}")
ROOT=$(cd "${ME%/*}/../.." && pwd -P)
KINDS=(ipip 6in4 4in6)

KVER=${KVER:-}
DEB=0
DEB_INSTALL=0
while [ $# -gt 0 ]; do
	case $1 in
	-k) KVER=${2:?-k needs a kernel version}; shift ;;
	--deb) DEB=1 ;;
	--deb-install) DEB=1; DEB_INSTALL=1 ;;
	-h|--help) sed -n '/^#   selftests/p' "$ME" | sed 's/^#   /usage: /'; exit 0 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

n=0 passed=0 failed=0 skipped=0
ok()   { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $*"; }
nok()  { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
note() { echo "# $*"; }

# check DESC CMD...: CMD succeeds
check() {
	local desc=$1

	shift
	if "$@"; then ok "$desc"; else nok "$desc"; fi
}

# eq DESC EXPECTED ACTUAL
eq() {
	if [ "$2" = "$3" ]; then
		ok "$1: $3"
	else
		nok "$1: expected \"$2\", got \"$3\""
	fi
}

# show_log FILE: the end of a failed command's output, as TAP comments
show_log() { tail -n 25 "$1" | sed 's/^/#   /'; }

# first PATH...: the first of the (globbed) paths that exists
first() {
	local f

	for f in "$@"; do
		[ -e "$f" ] && { echo "$f"; return; }
	done
}

# flat TEXT: on one line
flat() { echo "${1//$'\n'/ }"; }

finish() {
	echo "1..$n"
	[ "$skipped" = 0 ] || note "$skipped skipped"
	note "took $((SECONDS - START))s"
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
}

START=$SECONDS
echo "TAP version 13"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ipt-packaging.XXXXXX") || exit 1
PKGS_INSTALLED=0
MOK_BEFORE=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ "$PKGS_INSTALLED" = 1 ]; then
		echo "# cleanup: purging ipt-dkms ipt-tools"
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ipt-dkms ipt-tools \
			>/dev/null 2>&1
	fi
	remove_new_mok
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# dkms makes /var/lib/dkms/mok.{key,pub} to sign with when they are
# missing: take them away again if this run made them.
MOK_FILES=(/var/lib/dkms/mok.key /var/lib/dkms/mok.pub)
for f in "${MOK_FILES[@]}"; do [ -e "$f" ] && MOK_BEFORE+="$f "; done
# shellcheck disable=SC2317 # called by cleanup
remove_new_mok() {
	local f

	for f in "${MOK_FILES[@]}"; do
		case " $MOK_BEFORE " in *" $f "*) continue ;; esac
		rm -f "$f"
	done
}

# The kernel: as the top-level Makefile picks it.
if [ -z "$KVER" ]; then
	KVER=$(uname -r)
	if [ ! -d "/lib/modules/$KVER/build" ]; then
		KVER=$(printf '%s\n' /lib/modules/*/build | sort -V | tail -n 1 | cut -d/ -f4)
		[ "$KVER" = "*" ] && KVER=
	fi
fi
KDIR=/lib/modules/$KVER/build
if [ -z "$KVER" ] || [ ! -d "$KDIR" ]; then
	nok "kernel headers for ${KVER:-any kernel} in /lib/modules/*/build"
	finish
fi
note "kernel $KVER"

# --- the copy ---------------------------------------------------------

copy_tree() # DEST
{
	mkdir -p "$1"
	if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$ROOT" && git ls-files -z -co --exclude-standard |
			while IFS= read -r -d '' f; do
				[ -e "$f" ] && printf '%s\0' "$f"
			done | xargs -0 -r cp -a --parents -t "$1")
	else
		tar -C "$ROOT" --exclude=./.git --exclude=./.vm -cf - . |
			tar -C "$1" -xf -
	fi
}

C=$TMP/tree
copy_tree "$C"

# --- version ----------------------------------------------------------

V=
if [ -r "$C/VERSION" ]; then
	V=$(cat "$C/VERSION")
	if [[ $V =~ ^[0-9][0-9A-Za-z.+~]*$ ]] && [ "$(wc -l <"$C/VERSION")" = 1 ]; then
		ok "VERSION: $V"
	else
		nok "VERSION: \"$V\" is not one line of a version without '-'"
	fi
else
	nok "VERSION file"
fi

h=$(sed -n 's/^#define[[:space:]]\+IPT_VERSION[[:space:]]\+"\(.*\)".*/\1/p' \
	"$C/include/ipt.h")
if [ -n "$h" ]; then
	eq "include/ipt.h IPT_VERSION" "$V" "$h"
elif grep -q 'VERSION' "$C/Kbuild" && grep -q -- '-DIPT_VERSION' "$C/Kbuild"; then
	ok "include/ipt.h: IPT_VERSION comes from VERSION through Kbuild"
else
	nok "include/ipt.h: no IPT_VERSION, and Kbuild does not pass it"
fi

# dkms sources dkms.conf with bash; from elsewhere, to see it find VERSION
# by itself.
d=$(cd / && bash -c 'kernelver=$2 kernel_source_dir=$3 dkms_tree=/var/lib/dkms
	. "$1" >/dev/null 2>&1
	echo "$PACKAGE_NAME $PACKAGE_VERSION"' _ "$C/dkms.conf" "$KVER" "$KDIR")
eq "dkms.conf PACKAGE_NAME PACKAGE_VERSION" "ipt $V" "$d"

if command -v dpkg-parsechangelog >/dev/null; then
	d=$(dpkg-parsechangelog -l "$C/debian/changelog" -SVersion 2>/dev/null)
else
	d=$(sed -n '1s/^[^ ]* (\(.*\)).*/\1/p' "$C/debian/changelog")
fi
d=${d#*:}
eq "debian/changelog upstream version" "$V" "${d%-*}"

# --- build ------------------------------------------------------------

KO=$C/ipt.ko
if make -C "$C" KVER="$KVER" module plugins >"$TMP/build.log" 2>&1; then
	ok "make module plugins for $KVER"
else
	nok "make module plugins for $KVER"
	show_log "$TMP/build.log"
	finish
fi

# --- modinfo ----------------------------------------------------------

mi() { modinfo -F "$1" "$KO" 2>/dev/null; }

check "modinfo description: $(mi description)" test -n "$(mi description)"
check "modinfo author: $(mi author)" test -n "$(mi author)"
eq "modinfo license" GPL "$(mi license)"
eq "modinfo version" "$V" "$(mi version)"
eq "modinfo name" ipt "$(mi name)"
eq "modinfo vermagic kernel" "$KVER" "$(mi vermagic | cut -d' ' -f1)"
aliases=$(mi alias)
for k in "${KINDS[@]}"; do
	a=rtnl-link-ipt_$k
	if grep -qx "$a" <<<"$aliases"; then
		ok "modinfo alias $a"
	elif [ ! -e "$C/ipt_$k.c" ]; then
		skip "modinfo alias $a" "not yet: there is no ipt_$k.c"
	else
		nok "modinfo alias $a (ipt_$k.c exists)"
	fi
done
if [ -r "/lib/modules/$KVER/modules.dep" ]; then
	missing=
	for dep in $(mi depends | tr , ' '); do
		grep -q "/$dep\.ko[.a-z]*:" "/lib/modules/$KVER/modules.dep" ||
			missing+=" $dep"
	done
	check "modinfo depends ($(mi depends)) are modules of $KVER${missing:+, not$missing}" \
		test -z "$missing"
fi

# dkms skips, rather than builds for, a kernel without these.
bec=$(cd / && bash -c '. "$1" >/dev/null 2>&1; echo "$BUILD_EXCLUSIVE_CONFIG"' \
	_ "$C/dkms.conf")
for c in $bec; do
	check "$KVER has $c (dkms.conf BUILD_EXCLUSIVE_CONFIG)" \
		grep -q "^$c=[ym]" "$KDIR/.config"
done

# --- make install / uninstall -----------------------------------------

multiarch=$(${CC:-cc} -print-multiarch 2>/dev/null)
IPLIBDIR=/usr/lib${multiarch:+/$multiarch}/ip
if IP=$(command -v ip); then
	check "default IPLIBDIR $IPLIBDIR is where $IP looks for plugins" \
		grep -aqF "$IPLIBDIR" "$IP"
fi

# A staging tree, as for a package.
D=$TMP/destdir
if make -C "$C" KVER="$KVER" install DESTDIR="$D" >"$TMP/install.log" 2>&1; then
	ok "make install DESTDIR=<tmp>"
else
	nok "make install DESTDIR=<tmp>"
	show_log "$TMP/install.log"
fi
ko=$(first "$D/lib/modules/$KVER"/updates/ipt.ko*)
ko=${ko#"$D/"}
expected=$({
	echo "./${ko:-lib/modules/$KVER/updates/ipt.ko}"
	for k in "${KINDS[@]}"; do echo ".$IPLIBDIR/link_ipt_$k.so"; done
	echo ./usr/share/man/man8/ip-link-ipt.8
} | sort)
actual=$(cd "$D" 2>/dev/null && find . ! -type d | sort)
if [ "$expected" = "$actual" ]; then
	ok "make install layout: $(flat "$actual")"
else
	nok "make install layout"
	diff <(echo "$expected") <(echo "$actual") | sed 's/^/#   /'
fi
if [ -n "$ko" ]; then
	eq "installed module version" "$V" "$(modinfo -F version "$D/$ko" 2>/dev/null)"
fi
if [ -n "${IP:-}" ]; then
	for k in "${KINDS[@]}"; do
		check "installed link_ipt_$k.so: ip link help ipt_$k" \
			bash -c 'IP_LIB_DIR=$1 "$2" link help "$3" 2>&1 | grep -q "type $3\$"' \
			_ "$D$IPLIBDIR" "$IP" "ipt_$k"
	done
fi
if make -C "$C" KVER="$KVER" uninstall DESTDIR="$D" >"$TMP/uninstall.log" 2>&1; then
	left=$(cd "$D" && find . ! -type d)
	check "make uninstall DESTDIR=<tmp> leaves no file${left:+: $(flat "$left")}" \
		test -z "$left"
else
	nok "make uninstall DESTDIR=<tmp>"
	show_log "$TMP/uninstall.log"
fi

# An image root with a complete module tree: depmod -b runs there.
I=$TMP/image
M=$I/lib/modules/$KVER
mkdir -p "$M"
ln -s "/lib/modules/$KVER/kernel" "$M/kernel"
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -e "/lib/modules/$KVER/$f" ] && cp "/lib/modules/$KVER/$f" "$M/"
done
if [ ! -e "$M/modules.order" ] && [ ! -e "$M/modules.builtin" ]; then
	skip "make install into an image root runs depmod -b" \
		"/lib/modules/$KVER has no module tree"
elif make -C "$C" KVER="$KVER" install-module DESTDIR="$I" >"$TMP/image.log" 2>&1 &&
     grep -q "^updates/ipt\.ko[.a-z]*:" "$M/modules.dep" 2>/dev/null; then
	ok "make install-module into an image root runs depmod -b"
	check "the image's modules.alias maps rtnl-link-ipt_ipip to ipt" \
		grep -q "^alias rtnl-link-ipt_ipip ipt$" "$M/modules.alias"
	make -C "$C" KVER="$KVER" uninstall DESTDIR="$I" >"$TMP/image.log" 2>&1
	check "make uninstall from the image root updates modules.dep" \
		bash -c '! grep -q "^updates/ipt" "$1"' _ "$M/modules.dep"
else
	nok "make install-module into an image root runs depmod -b"
	show_log "$TMP/image.log"
fi

# --- dkms -------------------------------------------------------------

if [ "$(id -u)" != 0 ]; then
	skip "dkms add/build/install/remove" "not root"
elif ! command -v dkms >/dev/null; then
	skip "dkms add/build/install/remove" "no dkms (apt-get install dkms)"
else
	DT=$TMP/dkms
	mkdir -p "$DT/tree" "$DT/dkms" "$DT/src" "$DT/install/$KVER"
	copy_tree "$DT/tree"
	# dkms takes these from its environment (framework.conf may still
	# override them); a key of our own keeps /var/lib/dkms untouched.
	export mok_signing_key=$DT/mok.key mok_certificate=$DT/mok.pub
	dk() {
		dkms --dkmstree "$DT/dkms" --sourcetree "$DT/src" \
			--installtree "$DT/install" --no-depmod "$@"
	}
	log=$DT/log
	if dk add "$DT/tree" >"$log" 2>&1; then
		ok "dkms add"
	else
		nok "dkms add"; show_log "$log"
	fi
	if dk build -m ipt -v "$V" -k "$KVER" >"$log" 2>&1; then
		ok "dkms build -m ipt -v $V -k $KVER"
	else
		nok "dkms build -m ipt -v $V -k $KVER"
		show_log "$log"
		find "$DT/dkms" -name make.log -exec tail -n 20 {} \; | sed 's/^/#   /'
	fi
	if dk install -m ipt -v "$V" -k "$KVER" >"$log" 2>&1; then
		ok "dkms install (into a private tree)"
	else
		nok "dkms install (into a private tree)"; show_log "$log"
	fi
	st=$(dk status -m ipt -v "$V" -k "$KVER" 2>/dev/null)
	check "dkms status: $st" grep -q ": installed" <<<"$st"
	dko=$(first "$DT/install/$KVER"/updates/dkms/ipt.ko*)
	check "dkms installed updates/dkms/ipt.ko" test -n "$dko"
	if [ -n "$dko" ]; then
		eq "dkms-built module version" "$V" "$(modinfo -F version "$dko")"
	fi
	if dk remove -m ipt -v "$V" --all >"$log" 2>&1; then
		ok "dkms remove --all"
	else
		nok "dkms remove --all"; show_log "$log"
	fi
	left=$(cd "$DT" && find dkms install -type f)
	check "nothing left in the dkms and install trees${left:+: $(flat "$left")}" \
		test -z "$left"
	unset mok_signing_key mok_certificate
fi

# --- man page ---------------------------------------------------------

MAN=$C/man/ip-link-ipt.8
if ! [ -r "$MAN" ]; then
	nok "man/ip-link-ipt.8 exists"
else
	if command -v man >/dev/null; then
		check "man -l man/ip-link-ipt.8" \
			bash -c 'man -l "$1" >/dev/null 2>"$2" && ! [ -s "$2" ]' _ "$MAN" "$TMP/man.err"
		[ -s "$TMP/man.err" ] && sed 's/^/#   /' "$TMP/man.err"
	else
		skip "man -l man/ip-link-ipt.8" "no man"
	fi
	if command -v groff >/dev/null; then
		w=$(groff -man -Tutf8 -ww -z "$MAN" 2>&1)
		check "groff -man -Tutf8 -ww -z: no warnings${w:+: $w}" test -z "$w"
		text=$(groff -man -Tascii -rLL=500n -P-cbou "$MAN" 2>/dev/null)
	else
		skip "groff -man -Tutf8 -ww -z" "no groff"
		text=$(sed 's/\\-/-/g' "$MAN")
	fi
	# Every kind, and every option word "ip link help" shows for it.
	for k in "${KINDS[@]}"; do
		words=ipt_$k
		if [ -n "${IP:-}" ]; then
			words+=" $(IP_LIB_DIR=$C/iproute2 "$IP" link help "ipt_$k" 2>&1 |
				grep -oE '\[ [a-z][a-z-]+|[a-z]+-address' | sed 's/^\[ //' | sort -u | tr '\n' ' ')"
		fi
		missing=
		for w in $words; do
			grep -qE "(^|[^a-z_-])$w([^a-z_-]|\$)" <<<"$text" || missing+=" $w"
		done
		check "man page documents ipt_$k and its options${missing:+, not:$missing}" \
			test -z "$missing"
	done
	# "X is not supported yet": the man page says it of exactly the
	# options the kernel still refuses.
	kernel=$(cat "$C"/ipt_*.c | grep -o '"[a-z-]* is not supported yet"' |
		cut -d'"' -f2 | cut -d' ' -f1 | sort -u | xargs)
	doc=$(sed 's/\\-/-/g' "$MAN" | grep -o '"[a-z-]* is not supported yet"' |
		cut -d'"' -f2 | cut -d' ' -f1 | sort -u | xargs)
	eq "options the man page and the kernel call pending" "$kernel" "$doc"
fi

# --- Debian packages --------------------------------------------------

if [ "$DEB" = 1 ]; then
	B=$TMP/deb
	copy_tree "$B/ipt"
	arch=$(dpkg --print-architecture 2>/dev/null)
	if ! command -v dpkg-buildpackage >/dev/null; then
		nok "dpkg-buildpackage (apt-get install dpkg-dev debhelper dh-dkms)"
	elif (cd "$B/ipt" && dpkg-buildpackage -us -uc -b) >"$TMP/deb.log" 2>&1; then
		ok "dpkg-buildpackage -us -uc -b"
	else
		nok "dpkg-buildpackage -us -uc -b"; show_log "$TMP/deb.log"
	fi
	DKMS_DEB=$(first "$B/ipt-dkms_$V"-*_all.deb)
	TOOLS_DEB=$(first "$B/ipt-tools_$V"-*_"$arch".deb)
	check "ipt-dkms_$V-*_all.deb built" test -n "$DKMS_DEB"
	check "ipt-tools_$V-*_$arch.deb built" test -n "$TOOLS_DEB"
	if [ -n "$DKMS_DEB" ]; then
		c=$(dpkg-deb -c "$DKMS_DEB" | awk '{print $6}')
		missing=
		for f in dkms.conf VERSION Kbuild include/ipt.h include/uapi/linux/ipt.h \
			 $(cd "$C" && ls ipt_*.c); do
			grep -qx "./usr/src/ipt-$V/$f" <<<"$c" || missing+=" $f"
		done
		check "ipt-dkms holds the module source in /usr/src/ipt-$V${missing:+, not:$missing}" \
			test -z "$missing"
		mkdir -p "$TMP/x"
		dpkg-deb -x "$DKMS_DEB" "$TMP/x"
		d=$(cd / && bash -c '. "$1" >/dev/null 2>&1; echo "$PACKAGE_NAME $PACKAGE_VERSION"' \
			_ "$TMP/x/usr/src/ipt-$V/dkms.conf")
		eq "packaged dkms.conf" "ipt $V" "$d"
		check "ipt-dkms depends on dkms" \
			bash -c 'dpkg-deb -f "$1" Depends | grep -q "\bdkms\b"' _ "$DKMS_DEB"
	fi
	if [ -n "$TOOLS_DEB" ]; then
		c=$(dpkg-deb -c "$TOOLS_DEB" | awk '{print $6}')
		missing=
		for f in "${KINDS[@]}"; do
			grep -qx ".$IPLIBDIR/link_ipt_$f.so" <<<"$c" || missing+=" link_ipt_$f.so"
		done
		grep -qx ./usr/share/man/man8/ip-link-ipt.8.gz <<<"$c" ||
			missing+=" ip-link-ipt.8.gz"
		check "ipt-tools holds the plugins and the man page${missing:+, not:$missing}" \
			test -z "$missing"
	fi
fi

if [ "$DEB_INSTALL" = 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		skip "install and purge the packages" "not root"
	elif [ -z "${DKMS_DEB:-}" ] || [ -z "${TOOLS_DEB:-}" ]; then
		nok "install and purge the packages: they were not built"
	elif dpkg-query -W -f='${db:Status-Status}\n' ipt-dkms ipt-tools 2>/dev/null |
	     grep -qvx not-installed; then
		skip "install and purge the packages" "ipt-dkms or ipt-tools is installed already"
	else
		MD=/lib/modules/$KVER
		sums() { (cd "$MD" && md5sum modules.* 2>/dev/null); }
		before=$(sums)
		PKGS_INSTALLED=1
		if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"$DKMS_DEB" "$TOOLS_DEB" >"$TMP/apt.log" 2>&1; then
			ok "apt-get install ./ipt-dkms_*.deb ./ipt-tools_*.deb"
		else
			nok "apt-get install ./ipt-dkms_*.deb ./ipt-tools_*.deb"
			show_log "$TMP/apt.log"
		fi
		st=$(dkms status -m ipt -v "$V" -k "$KVER" 2>/dev/null)
		check "dkms status: $st" grep -q ": installed" <<<"$st"
		dko=$(first "$MD"/updates/dkms/ipt.ko*)
		check "$MD/updates/dkms/ipt.ko exists" test -n "$dko"
		[ -n "$dko" ] && eq "modinfo version of the DKMS module" "$V" \
			"$(modinfo -F version "$dko" 2>/dev/null)"
		for k in "${KINDS[@]}"; do
			if [ ! -e "$C/ipt_$k.c" ]; then
				skip "modprobe finds rtnl-link-ipt_$k" "not yet: there is no ipt_$k.c"
				continue
			fi
			check "modprobe finds rtnl-link-ipt_$k in updates/dkms" \
				bash -c 'modprobe -S "$1" --show-depends "$2" 2>/dev/null |
					grep -q "updates/dkms/ipt\.ko"' _ "$KVER" "rtnl-link-ipt_$k"
		done
		for k in "${KINDS[@]}"; do
			check "ip link help ipt_$k with the system plugin folder" \
				bash -c 'env -u IP_LIB_DIR ip link help "$1" 2>&1 | grep -q "type $1\$"' \
				_ "ipt_$k"
		done
		check "man -w ip-link-ipt" bash -c 'man -w ip-link-ipt >/dev/null 2>&1'
		if DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ipt-dkms ipt-tools \
			>"$TMP/apt.log" 2>&1; then
			PKGS_INSTALLED=0
			ok "apt-get purge ipt-dkms ipt-tools"
		else
			nok "apt-get purge ipt-dkms ipt-tools"; show_log "$TMP/apt.log"
		fi
		left=$(ls -d /var/lib/dkms/ipt /usr/src/ipt-"$V" "$MD"/updates/dkms/ipt.ko* \
			"$IPLIBDIR"/link_ipt_* /usr/share/man/man8/ip-link-ipt.8* 2>/dev/null)
		st=$(dkms status -m ipt 2>/dev/null)
		check "nothing left after the purge${left:+: $(flat "$left")}${st:+, dkms: $st}" \
			test -z "$left$st"
		check "$MD/modules.* as before" test "$before" = "$(sums)"
	fi
fi

finish
