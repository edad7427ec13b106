#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The in-skb TCP MSS clamp of ipt (clamp-tcp-mss, default yes), for each of
# ipt_ipip, ipt_6in4 and ipt_4in6 in turn, on the same topology:
#
#  $H (LAN host)        $A (router A)                     $B (router B)        $S (server)
#  eth0 --------------- lan        wan ------------------ wan        lan ---------- eth0
#  .1.2 (MTU 1500/9000) .1.1       UA                     UB         .2.1 (MTU 9000) .2.2
#                                  tun0 ================== tun0
#
#  routes: $H default via $A; $A LAN B dev tun0 (src .1.1, advmss 8960);
#          $B LAN A dev tun0; $S default via $B
#
#  ipip: LANs 192.168.1.0/24 and 192.168.2.0/24, underlay 198.51.100.0/24
#  6in4: LANs 2001:db8:1::/64 and 2001:db8:2::/64, underlay 198.51.100.0/24
#  4in6: LANs as ipip, underlay 2001:db8:ff::/64
#
# The tunnel MTU is 1480 (ipip, 6in4) or 1460 (4in6), so a clamped SYN
# carries 1440 (IPv4 inner) or 1420 (IPv6 inner, and IPv4 in 4in6).
#
# Captures: $S's eth0 ("far", SYNs after decapsulation), $H's eth0 ("lan",
# SYN-ACKs after decapsulation) and $B's wan ("underlay", both ways, outer
# packets).  Checksums are real there: $H and $A's lan, $B's lan have tx
# checksum offload off, so what the stack leaves CHECKSUM_PARTIAL is
# summed in software before it reaches the capture; scapy-crafted SYNs carry
# a full checksum.  Each probe has its own destination port; the captures
# are analysed once per kind, at the end.
#
#  5001  clamp on $A only: $H's SYN (full checksum: clamped on transmit at
#        $A) arrives clamped with a valid checksum at $S and on the
#        underlay; $S's SYN-ACK (MSS 8960, its MTU is 9000, $B does not
#        clamp) arrives clamped at $H (clamped on receive at $A)
#  5002  as 5001 with $H's offload on (CHECKSUM_PARTIAL through $A)
#  5003  $A itself connects (route advmss 8960, CHECKSUM_PARTIAL)
#  5004  jumbo LAN: $H at MTU 9000 sends 8960 (8940)
#  5005  clamp on $B only: the SYN is clamped when it leaves the tunnel at
#        $B, the SYN-ACK when it enters it
#  5006  clamp-tcp-mss no on both: untouched (1460 / 1440 arrives)
#  5007  clamp off, nft "tcp option maxseg size set rt mtu" in $A's forward
#        chain: $S sees the same MSS as with 5001
#  6001- scapy SYNs from $H, clamp on both: malformed option lists, no MSS
#        and a non-first fragment pass untouched (bytes compared); an MSS
#        at an odd offset, IPv4 options (NOP, RR) or an IPv6 destination
#        options header before TCP are clamped with a valid checksum
#  5010  route to UB locked at mtu 1400 on $A: tunnel path 1380 (1360 for
#        4in6), later SYNs and SYN-ACKs are clamped to 1340 (1320)
#  5011  the same for $A's own SYN
#  5100  4 MB from $S to $H (not captured), sha256 compared
# IPT_XSTATS_MSS_CLAMPED of each end (read over netlink, and compared with
# `ip -s -d -j link show`) counts exactly the SYNs and SYN-ACKs it lowered:
# those seen on the underlay for the probes concerned.
#
# MSS_KINDS="ipip 4in6" selects kinds when run by hand (default all three).

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
UAPI=$(cd "$(dirname "$0")/.." && pwd)/include/uapi/linux/ipt.h
KINDS=${MSS_KINDS:-ipip 6in4 4in6}
XFER_MB=4

require_ipt
require_cmd ip tcpdump ethtool nft sha256sum
require_module veth nf_tables
[ -x "$PY" ] || skip "$PY not installed"
"$PY" -c 'import importlib.util as u, sys; sys.exit(not u.find_spec("scapy"))' ||
	skip "scapy not installed for $PY"
[ -r "$UAPI" ] || skip "cannot read $UAPI"

TMPD=$(mktemp -d /tmp/mss_clamp.XXXXXX) || die "mktemp"
on_exit "rm -rf '$TMPD'"
PIDS=()
# shellcheck disable=SC2016 # expanded at exit
on_exit 'for p in "${PIDS[@]}"; do kill "$p"; done'

# --- helpers in python -------------------------------------------------------

# tcp.py serve FILE READY PORT...: listen on every PORT (v4 and v6); the
#        first port sends FILE to whoever connects, the others just accept
#        and close.  Writes READY when listening.
# tcp.py fetch ADDR PORT OUT: read everything into OUT.
cat > "$TMPD/tcp.py" <<'EOF'
import os, select, socket, sys, threading

cmd = sys.argv[1]
if cmd == "serve":
    data = open(sys.argv[2], "rb").read()
    ports = [int(p) for p in sys.argv[4:]]
    socks = {}
    for p in ports:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", p))
        s.listen(64)
        socks[s] = p
    with open(sys.argv[3] + ".tmp", "w") as f:
        f.write("ready\n")
    os.rename(sys.argv[3] + ".tmp", sys.argv[3])

    def send(c):
        try:
            c.sendall(data)
        finally:
            c.close()

    while True:
        for s in select.select(list(socks), [], [])[0]:
            c, _ = s.accept()
            if socks[s] == ports[0]:
                threading.Thread(target=send, args=(c,), daemon=True).start()
            else:
                c.close()
elif cmd == "fetch":
    s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=60)
    with open(sys.argv[4], "wb") as f:
        while True:
            b = s.recv(65536)
            if not b:
                break
            f.write(b)
else:
    sys.exit("tcp.py: unknown command " + cmd)
EOF

# xstats.py UAPI IFNAME NAME NETNS...: the ipt extended statistic NAME
# (from the UAPI enum, without IPT_XSTATS_) of IFNAME in each named netns,
# one line, read with a raw RTM_GETLINK: IFLA_LINKINFO / IFLA_INFO_XSTATS,
# nested u64 attributes.  One process for all: python is slow under TCG.
cat > "$TMPD/xstats.py" <<'EOF'
import ctypes, os, re, socket, struct, sys

libc = ctypes.CDLL(None, use_errno=True)

text = open(sys.argv[1]).read()
body = re.search(r"enum\s*{\s*(IPT_XSTATS_UNSPEC\b.*?)}", text, re.S).group(1)
body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
names = [n.strip() for n in body.split(",") if n.strip()]

def attrs(buf):
    off = 0
    while off + 4 <= len(buf):
        n, t = struct.unpack("=HH", buf[off:off + 4])
        if n < 4:
            break
        yield t & 0x3fff, buf[off + 4:off + n]
        off += (n + 3) & ~3

def xstat(ifname, want):
    name = ifname.encode() + b"\0"
    ifn = struct.pack("=HH", 4 + len(name), 3) + name + bytes(-len(name) % 4)
    body = struct.pack("=BxHiII", 0, 0, 0, 0, 0) + ifn
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.bind((0, 0))
    s.send(struct.pack("=IHHII", 16 + len(body), 18, 1, 1, 0) + body)  # RTM_GETLINK
    r = s.recv(65536)
    s.close()
    if struct.unpack("=H", r[4:6])[0] != 16:                           # RTM_NEWLINK
        return "no-device"
    for t, v in attrs(r[32:]):
        if t == 18:                                 # IFLA_LINKINFO
            for t2, v2 in attrs(v):
                if t2 == 3:                         # IFLA_INFO_XSTATS
                    for t3, v3 in attrs(v2):
                        if (len(v3) == 8 and t3 < len(names) and
                                names[t3] == "IPT_XSTATS_" + want):
                            return str(struct.unpack("=Q", v3)[0])
    return "n/a"

out = []
for ns in sys.argv[4:]:
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:                 # CLONE_NEWNET
        sys.exit("setns %s: %s" % (ns, os.strerror(ctypes.get_errno())))
    os.close(fd)
    out.append(xstat(sys.argv[2], sys.argv[3]))
print(" ".join(out))
EOF

# craft.py 4|6 IFACE SRCMAC DSTMAC SRC DST OUT: the scapy-crafted SYNs,
# sent from $H.  Each TCP header is built byte by byte (scapy would fix or
# refuse malformed options) with a correct checksum.  OUT gets, per probe,
# "DPORT sent HEX MASKED" (MASKED: check field and MSS value as xxxx).
cat > "$TMPD/craft.py" <<'EOF'
import struct, sys, time
# not scapy.all: loading every layer takes long under TCG
from scapy.config import conf
from scapy.layers.inet import IP, IPOption_NOP, IPOption_RR, in4_chksum
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                in6_chksum)
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.sendrecv import sendp

conf.verb = 0
af, iface, smac, dmac, src, dst, out = sys.argv[1:8]
MSS = [2, 4, 0x05, 0xb4]            # 1460
TS = [8, 10, 1, 2, 3, 4, 0, 0, 0, 0]

def tcp_syn(dport, opts, ipl):
    opts = bytes(opts)
    assert len(opts) % 4 == 0
    hdr = struct.pack("!HHIIBBHHH", 40000 + dport % 1000, dport, 0x01020304,
                      0, (20 + len(opts)) // 4 << 4, 0x02, 64240, 0, 0) + opts
    if ipl.version == 4:
        c = in4_chksum(6, ipl, hdr)
    else:
        c = in6_chksum(6, ipl, hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]

def masked(h, mssoff):
    x = bytearray(h.hex().encode())
    for o in [16] + ([mssoff + 2] if mssoff is not None else []):
        x[2 * o:2 * o + 4] = b"xxxx"
    return x.decode()

# (dport, options, mssoff or None, variant)
probes = [
    (6001, MSS + [8, 1, 1, 1], None, ""),         # option length 1
    (6002, MSS + [1, 1, 8, 10], None, ""),        # TS runs past doff
    (6003, MSS + MSS, None, ""),                  # duplicate MSS
    (6004, [1, 1, 4, 2], None, ""),               # no MSS
    (6005, [1] + MSS + [1, 1, 1], 21, ""),        # MSS at an odd offset
    (6006, MSS + [4, 2, 1, 1], 20, "ipopt"),      # IPv4 options / IPv6 dstopts
    (6007, MSS + [4, 2] + TS, None, "frag"),      # non-first fragment
    (6008, [0, 0, 0, 0] + MSS, None, ""),         # EOL before MSS
    (6009, [1, 1, 1, 2], None, ""),               # ends at a kind byte
]
with open(out, "w") as f:
    for dport, opts, mssoff, variant in probes:
        if af == "4":
            ipl = IP(src=src, dst=dst, proto=6, ttl=64)
            if variant == "ipopt":
                ipl.options = [IPOption_NOP(), IPOption_RR(length=11,
                               routers=["0.0.0.0", "0.0.0.0"])]
            elif variant == "frag":
                ipl.frag = 100
            hdr = tcp_syn(dport, opts, IP(src=src, dst=dst))
            pkt = ipl / Raw(hdr)
        else:
            ipl = IPv6(src=src, dst=dst, hlim=64, nh=6)
            hdr = tcp_syn(dport, opts, IPv6(src=src, dst=dst))
            if variant == "ipopt":
                ipl.nh = 60
                pkt = ipl / IPv6ExtHdrDestOpt(nh=6) / Raw(hdr)
            elif variant == "frag":
                ipl.nh = 44
                pkt = ipl / IPv6ExtHdrFragment(nh=6, offset=100, m=0,
                                               id=0x1234) / Raw(hdr)
            else:
                pkt = ipl / Raw(hdr)
        sendp(Ether(src=smac, dst=dmac) / pkt, iface=iface)
        f.write("%d sent %s %s\n" % (dport, hdr.hex(), masked(hdr, mssoff)))
        time.sleep(0.05)
EOF

# syns.py LABEL=PCAP...: one line per TCP SYN or SYN-ACK (or non-first
# fragment) in the captures, innermost header if encapsulated:
#   LABEL syn|synack|frag sport=N dport=N mss=N|none csum=ok|bad|trunc
#   scapy=ok|bad|- outer=0|1 hex=TCP_HEADER masked=...
# csum is our own sum over pseudo-header and segment, scapy the one of
# scapy's in4_chksum/in6_chksum: both must say the same.
cat > "$TMPD/syns.py" <<'EOF'
import struct, sys
from scapy.layers.inet import IP, in4_chksum
from scapy.layers.inet6 import IPv6, in6_chksum
from scapy.utils import RawPcapReader

def csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s

def options(th):
    """MSS value and offset of the first well-formed MSS option, lenient."""
    doff = (th[12] >> 4) * 4
    i = 20
    while i < min(doff, len(th)):
        k = th[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= doff or th[i + 1] < 2:
            break
        if k == 2 and th[i + 1] == 4 and i + 4 <= doff:
            return struct.unpack("!H", th[i + 2:i + 4])[0], i
        i += th[i + 1]
    return None, None

def masked(h, mssoff):
    x = bytearray(h.hex().encode())
    for o in [16] + ([mssoff + 2] if mssoff is not None else []):
        x[2 * o:2 * o + 4] = b"xxxx"
    return x.decode()

def report(label, af, ip, seg, seglen, outer):
    """ip: raw inner IP header(s) up to the TCP header."""
    if len(seg) < 20:
        return
    flags = seg[13]
    if not flags & 0x02:
        return
    kind = "synack" if flags & 0x10 else "syn"
    sport, dport = struct.unpack("!HH", seg[:4])
    doff = (seg[12] >> 4) * 4
    mss, mssoff = options(seg)
    if len(seg) < seglen:
        ok = sc = "trunc"
    else:
        if af == 4:
            ph = ip[12:20] + struct.pack("!BBH", 0, 6, seglen)
            sc = "ok" if in4_chksum(6, IP(ip), seg) == 0 else "bad"
        else:
            ph = ip[8:40] + struct.pack("!IxxxB", seglen, 6)
            sc = "ok" if in6_chksum(6, IPv6(ip), seg) == 0 else "bad"
        ok = "ok" if csum(ph + seg) == 0xffff else "bad"
    h = seg[:doff]
    print("%s %s sport=%d dport=%d mss=%s csum=%s scapy=%s outer=%d hex=%s masked=%s"
          % (label, kind, sport, dport, mss if mss is not None else "none",
             ok, sc, outer, h.hex(), masked(h, mssoff)))

def frag(label, payload, outer):
    if len(payload) >= 4:
        sport, dport = struct.unpack("!HH", payload[:4])
        print("%s frag sport=%d dport=%d hex=%s outer=%d"
              % (label, sport, dport, payload.hex(), outer))

def inner(label, p, outer):
    """p starts at an IP header: report TCP in it, or decapsulate."""
    if len(p) < 20:
        return
    if p[0] >> 4 == 4:
        ihl = (p[0] & 15) * 4
        tot, fo, proto = struct.unpack("!H2xH1xB", p[2:10])
        p = p[:tot]
        if fo & 0x1fff:
            if proto == 6:
                frag(label, p[ihl:], outer)
            return
        if proto == 6:
            report(label, 4, p[:ihl], p[ihl:], tot - ihl, outer)
        elif proto == 4 and not outer:
            inner(label, p[ihl:], 1)
        elif proto == 41 and not outer:
            inner(label, p[ihl:], 1)
    elif p[0] >> 4 == 6 and len(p) >= 40:
        plen = struct.unpack("!H", p[4:6])[0]
        p = p[:40 + plen]
        nh, off, fragoff = p[6], 40, 0
        while nh in (0, 43, 60, 44, 51) and off + 8 <= len(p):
            if nh == 44:
                fragoff = struct.unpack("!H", p[off + 2:off + 4])[0] & ~7
                nh, off = p[off], off + 8
            elif nh == 51:
                nh, off = p[off], off + (p[off + 1] + 2) * 4
            else:
                nh, off = p[off], off + (p[off + 1] + 1) * 8
        if fragoff:
            if nh == 6:
                frag(label, p[off:], outer)
            return
        if nh == 6:
            report(label, 6, p[:off], p[off:], 40 + plen - off, outer)
        elif nh == 4 and not outer:
            inner(label, p[off:], 1)

for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    for pkt, meta in RawPcapReader(path):
        pkt = bytes(pkt)
        if len(pkt) < 14:
            continue
        et, off = struct.unpack("!H", pkt[12:14])[0], 14
        if et == 0x8100:
            et, off = struct.unpack("!H", pkt[16:18])[0], 18
        if et in (0x0800, 0x86dd):
            inner(label, pkt[off:], 0)
EOF

# --- shell helpers ------------------------------------------------------------

# mss_clamped: IPT_XSTATS_MSS_CLAMPED of tun0 on $A and on $B into $MSS_A
# and $MSS_B, read from the kernel (xstats.py); what `ip -s -d -j link
# show` prints (the plugin) must agree.
mss_clamped() {
	local k v ns ipv=""
	v=$("$PY" "$TMPD/xstats.py" "$UAPI" tun0 MSS_CLAMPED "$A" "$B")
	for ns in "$A" "$B"; do
		k=$(ip -n "$ns" -s -d -j link show tun0 | grep -o '"mss_clamped":[0-9]*')
		ipv+="${ipv:+ }${k#*:}"
	done
	[ "$v" = "$ipv" ] ||
		fail "$KIND: MSS_CLAMPED from netlink ($v) and from ip -s -d -j ($ipv) differ"
	read -r MSS_A MSS_B <<<"$v"
	case $MSS_A$MSS_B in
	''|*[!0-9]*) die "$KIND: cannot read MSS_CLAMPED of the tunnels: '$v'" ;;
	esac
}

# bg NS CMD...: start CMD in NS in the background, killed at the end of
# the kind (or the test); its pid is in $BGPID.
bg() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" &
	BGPID=$!
	PIDS+=("$BGPID")
}

stop_bg() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
}

# capture NS DEV LABEL: tcpdump on DEV into $TMPD/LABEL.pcap until stop_caps.
CAPS=()
capture() {
	local err=$TMPD/$3.err
	# Emptied here, not by the background redirection: each kind reuses
	# the labels, and an old "listening on" would let the test run ahead.
	: >"$err"
	bg "$1" tcpdump -i "$2" -n -U --immediate-mode -s 256 -w "$TMPD/$3.pcap" 2>>"$err"
	CAPS+=("$BGPID" "$3")
	wait_for grep -q "listening on" "$err" || die "tcpdump on $1/$2 did not start: $(cat "$err")"
}

# stop_caps NS ADDR: stop the captures once they hold everything so far:
# tcpdump may leave what it has not read yet behind when it is stopped, so
# a ping from NS to ADDR that crosses every capture point (payload: the
# pattern below) must be in every file first.
SENTINEL=ipt-mss-sentinel
stop_caps() {
	local i hex
	hex=$(printf %s "$SENTINEL" | od -An -tx1 | tr -d ' \n')
	ns_exec "$1" ping -q -n -c 1 -W 5 -p "$hex" "$2" >/dev/null ||
		fail "$KIND: the sentinel ping from ${1%%-*} to $2 got no answer"
	for ((i = 1; i < ${#CAPS[@]}; i += 2)); do
		wait_for -t 20 grep -q -a -F "$SENTINEL" "$TMPD/${CAPS[i]}.pcap" ||
			fail "$KIND: the ${CAPS[i]} capture never saw the sentinel ping"
	done
	for ((i = 0; i < ${#CAPS[@]}; i += 2)); do kill -INT "${CAPS[i]}" 2>/dev/null; done
	for ((i = 0; i < ${#CAPS[@]}; i += 2)); do wait "${CAPS[i]}" 2>/dev/null; done
	CAPS=()
}

# rx_at_least NS DEV N: has DEV received N packets yet?
# shellcheck disable=SC2317 # called through wait_for
rx_at_least() {
	[ "$(link_stat "$1" "$2" rx_packets)" -ge "$3" ]
}

# step WHAT: progress, with the time since the test started (TCG is slow).
step() { log "[${SECONDS}s] $KIND: $*"; }

# connect NS ADDR PORT: one TCP handshake from NS (bash's /dev/tcp: no
# python to start), returns once the SYN-ACK is in.
connect() {
	# shellcheck disable=SC2016 # for that bash
	ns_exec "$1" timeout 20 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$2" "$3" ||
		fail "$KIND: TCP connection from ${1%%-*} to [$2]:$3 failed"
}

set_clamp() { # NS yes|no
	ip -n "$1" link set tun0 type "ipt_$KIND" clamp-tcp-mss "$2" ||
		fail "$KIND: ip link set tun0 type ipt_$KIND clamp-tcp-mss $2"
	case $(ip -n "$1" -d link show tun0) in
	*"clamp-tcp-mss $2"*) ;;
	*) fail "$KIND: ip -d link show does not say clamp-tcp-mss $2" ;;
	esac
}

# load_seen FILE: syns.py's output into $SEEN (the first packet per
# "LABEL TYPE PORT FIELD") and $NSEEN (packets per "LABEL TYPE PORT"); the
# port is the destination port but for a SYN-ACK, the source port.  In
# bash: a fork and exec per lookup costs long under TCG.
declare -A SEEN NSEEN
load_seen() {
	local label type rest kv key port
	SEEN=() NSEEN=()
	while read -r label type rest; do
		port=""
		for kv in $rest; do
			case $kv in
			dport=*) [ "$type" = synack ] || port=${kv#*=} ;;
			sport=*) [ "$type" = synack ] && port=${kv#*=} ;;
			esac
		done
		key="$label $type $port"
		NSEEN[$key]=$(( ${NSEEN[$key]:-0} + 1 ))
		[ "${NSEEN[$key]}" = 1 ] || continue
		for kv in $rest; do
			SEEN[$key ${kv%%=*}]=${kv#*=}
		done
	done < "$1"
}

# seen LABEL TYPE PORT FIELD: FIELD of the first such packet.
seen() {
	echo "${SEEN[$1 $2 $3 $4]:-none seen}"
}

# count LABEL TYPE PORT...: how many such packets for these ports.
count() {
	local l=$1 t=$2 n=0 p
	shift 2
	for p in "$@"; do
		n=$((n + ${NSEEN[$l $t $p]:-0}))
	done
	echo "$n"
}

# check_syn LABEL TYPE PORT MSS WHAT: the packet was seen with that MSS and
# a valid checksum (ours and scapy's).
check_syn() {
	check_eq "$KIND: $5: MSS of the $2 in the $1 capture" "$4" "$(seen "$1" "$2" "$3" mss)"
	check_eq "$KIND: $5: checksum of the $2 in the $1 capture" "ok ok" \
		"$(seen "$1" "$2" "$3" csum) $(seen "$1" "$2" "$3" scapy)"
}

# --- one kind -----------------------------------------------------------------

run_kind() {
	KIND=$1
	local ua ub uplen lana lanb plen h a_lan b_lan s e e2 hmss jmss smss
	local af lanmac hmac rx0 p t sent hx ns
	local xa0 xb0 xa1 xb1 xa2 xb2 xa3 xb3 xa4 xb4

	case $KIND in
	ipip|6in4) ua=198.51.100.1 ub=198.51.100.2 uplen=24 ;;
	4in6) ua=2001:db8:ff::1 ub=2001:db8:ff::2 uplen=64 ;;
	esac
	case $KIND in
	ipip|4in6)
		af=4 lana=192.168.1.0/24 lanb=192.168.2.0/24 plen=24
		h=192.168.1.2 a_lan=192.168.1.1 b_lan=192.168.2.1 s=192.168.2.2
		hmss=1460 jmss=8960 smss=8960 ;;
	6in4)
		af=6 lana=2001:db8:1::/64 lanb=2001:db8:2::/64 plen=64
		h=2001:db8:1::2 a_lan=2001:db8:1::1 b_lan=2001:db8:2::1 s=2001:db8:2::2
		hmss=1440 jmss=8940 smss=8940 ;;
	esac
	# clamped: tunnel MTU minus 40 or 60; after the PMTU drop to 1400 on
	# the underlay route: 1400 minus the outer header, minus 40 or 60
	case $KIND in
	ipip) e=1440 e2=1340 ;;
	6in4) e=1420 e2=1320 ;;
	4in6) e=1420 e2=1320 ;;
	esac

	log "=== ipt_$KIND ==="
	setup_ns H A B S
	step "namespaces"
	add_veth "$H" eth0 "$h/$plen" "$A" lan "$a_lan/$plen"
	add_veth "$A" wan "$ua/$uplen" "$B" wan "$ub/$uplen"
	add_veth "$B" lan "$b_lan/$plen" "$S" eth0 "$s/$plen"
	for ns in "$A" "$B"; do
		ns_exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	done
	ip -n "$H" route add default via "$a_lan" || die "default route on H"
	ip -n "$S" route add default via "$b_lan" || die "default route on S"
	ip -n "$B" link set lan mtu 9000
	ip -n "$S" link set eth0 mtu 9000
	# real checksums in the captures (see the top)
	ns_exec "$H" ethtool -K eth0 tx off >/dev/null || die "ethtool on H"
	ns_exec "$A" ethtool -K lan tx off >/dev/null || die "ethtool on A"
	ns_exec "$B" ethtool -K lan tx off >/dev/null || die "ethtool on B"

	ip -n "$A" link add tun0 type "ipt_$KIND" local "$ua" remote "$ub" ||
		die "cannot create ipt_$KIND on A"
	ip -n "$B" link add tun0 type "ipt_$KIND" local "$ub" remote "$ua" ||
		die "cannot create ipt_$KIND on B"
	ip -n "$A" link set tun0 up
	ip -n "$B" link set tun0 up
	# $A's own SYNs announce 8960 (8940) whatever the route MTU
	ip -n "$A" route add "$lanb" dev tun0 src "$a_lan" advmss "$jmss" ||
		die "route to LAN B on A"
	ip -n "$B" route add "$lana" dev tun0 src "$b_lan" || die "route to LAN A on B"
	case $(ip -n "$A" -d link show tun0) in
	*"clamp-tcp-mss yes"*) pass "$KIND: clamp-tcp-mss yes by default" ;;
	*) fail "$KIND: ip -d link show tun0 does not say clamp-tcp-mss yes: $(ip -n "$A" -d link show tun0)" ;;
	esac

	head -c $((XFER_MB << 20)) /dev/urandom > "$TMPD/blob" || die "no blob"
	rm -f "$TMPD/ready"
	bg "$S" "$PY" "$TMPD/tcp.py" serve "$TMPD/blob" "$TMPD/ready" \
		5100 5001 5002 5003 5004 5005 5006 5007 5010 5011
	wait_for -t 30 test -e "$TMPD/ready" || die "$KIND: the server on S did not start"

	step "topology up"
	wait_for -t 20 ping_ok "$H" "$s" || die "$KIND: H cannot reach S through the tunnel"
	wait_for ping_ok "$A" "$s" || die "$KIND: A cannot reach S through the tunnel"

	capture "$S" eth0 far
	capture "$H" eth0 lan
	capture "$B" wan underlay

	mss_clamped
	xa0=$MSS_A xb0=$MSS_B

	step "captures running"
	# clamp on A only: both directions are A's
	set_clamp "$B" no
	connect "$H" "$s" 5001
	ns_exec "$H" ethtool -K eth0 tx on >/dev/null
	connect "$H" "$s" 5002
	ns_exec "$H" ethtool -K eth0 tx off >/dev/null
	connect "$A" "$s" 5003
	ip -n "$H" link set eth0 mtu 9000
	ip -n "$A" link set lan mtu 9000
	connect "$H" "$s" 5004
	ip -n "$H" link set eth0 mtu 1500
	ip -n "$A" link set lan mtu 1500
	mss_clamped
	xa1=$MSS_A xb1=$MSS_B

	# clamp on B only
	set_clamp "$A" no
	set_clamp "$B" yes
	connect "$H" "$s" 5005
	mss_clamped
	xa2=$MSS_A xb2=$MSS_B

	# neither; then the netfilter way on A
	set_clamp "$B" no
	connect "$H" "$s" 5006
	ns_exec "$A" nft -f - <<-'NFT' || fail "$KIND: nft on A"
	table inet f {
		chain forward {
			type filter hook forward priority 0; policy accept;
			tcp flags syn tcp option maxseg size set rt mtu
		}
	}
	NFT
	connect "$H" "$s" 5007
	ns_exec "$A" nft delete table inet f
	mss_clamped
	xa3=$MSS_A xb3=$MSS_B

	step "clamp on one end, off, nft done"
	# crafted SYNs, clamp on both ends
	set_clamp "$A" yes
	set_clamp "$B" yes
	lanmac=$(ip -n "$A" -o link show lan | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	hmac=$(ip -n "$H" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	rx0=$(link_stat "$S" eth0 rx_packets)
	ns_exec "$H" "$PY" "$TMPD/craft.py" "$af" eth0 "$hmac" "$lanmac" "$h" "$s" \
		"$TMPD/sent.$KIND" || fail "$KIND: craft.py failed"
	wait_for -t 20 rx_at_least "$S" eth0 $((rx0 + 9)) ||
		fail "$KIND: not all crafted SYNs reached S"
	mss_clamped
	xa4=$MSS_A xb4=$MSS_B

	step "crafted SYNs sent"
	# lower the path MTU: later clamps follow it
	case $KIND in
	4in6) ip -n "$A" -6 route add "$ub/128" dev wan mtu 1400 ;;
	*) ip -n "$A" route add "$ub/32" dev wan mtu lock 1400 ;;
	esac || fail "$KIND: cannot add the mtu 1400 route to $ub on A"
	connect "$H" "$s" 5010
	connect "$A" "$s" 5011

	stop_caps "$H" "$s"
	step "captures stopped"

	# a transfer through the clamped tunnel, at the lowered path MTU
	ns_exec "$H" "$PY" "$TMPD/tcp.py" fetch "$s" 5100 "$TMPD/got" ||
		fail "$KIND: fetching ${XFER_MB} MB from S failed"
	check_eq "$KIND: sha256 of ${XFER_MB} MB from S through the tunnel" \
		"$(sha256sum < "$TMPD/blob")" "$(sha256sum < "$TMPD/got" 2>/dev/null)"
	rm -f "$TMPD/got"
	step "transfer done"

	"$PY" "$TMPD/syns.py" far="$TMPD/far.pcap" lan="$TMPD/lan.pcap" \
		underlay="$TMPD/underlay.pcap" > "$TMPD/syns.$KIND" ||
		fail "$KIND: syns.py failed"
	load_seen "$TMPD/syns.$KIND"
	step "captures analysed"

	# --- verdicts
	check_syn far syn 5001 "$e" "clamp on A, LAN SYN (full checksum)"
	check_syn underlay syn 5001 "$e" "clamp on A, LAN SYN on the underlay"
	check_syn lan synack 5001 "$e" "clamp on A, SYN-ACK leaving the tunnel ($smss sent)"
	check_eq "$KIND: the SYN-ACK on the underlay still carries the server's MSS" \
		"$smss" "$(seen underlay synack 5001 mss)"
	check_syn far syn 5002 "$e" "clamp on A, LAN SYN (CHECKSUM_PARTIAL)"
	check_syn lan synack 5002 "$e" "clamp on A, SYN-ACK of the CHECKSUM_PARTIAL SYN"
	check_syn far syn 5003 "$e" "clamp on A, A's own SYN (advmss $jmss)"
	check_syn far syn 5004 "$e" "clamp on A, jumbo LAN SYN ($jmss)"
	check_eq "$KIND: MSS_CLAMPED of A counts the 4 SYNs and 4 SYN-ACKs it lowered" \
		$(( $(count underlay syn 5001 5002 5003 5004) + $(count underlay synack 5001 5002 5003 5004) )) \
		$((xa1 - xa0))
	check_eq "$KIND: MSS_CLAMPED of B with clamp-tcp-mss no" 0 $((xb1 - xb0))

	check_eq "$KIND: clamp on B, the SYN before B" "$hmss" "$(seen underlay syn 5005 mss)"
	check_syn far syn 5005 "$e" "clamp on B, SYN leaving the tunnel (full checksum)"
	check_syn lan synack 5005 "$e" "clamp on B, SYN-ACK entering the tunnel"
	check_eq "$KIND: MSS_CLAMPED of B (clamp on B)" \
		$(( $(count underlay syn 5005) + $(count underlay synack 5005) )) $((xb2 - xb1))
	check_eq "$KIND: MSS_CLAMPED of A with clamp-tcp-mss no" 0 $((xa2 - xa1))

	check_syn far syn 5006 "$hmss" "clamp-tcp-mss no on both, SYN untouched"
	check_syn lan synack 5006 "$smss" "clamp-tcp-mss no on both, SYN-ACK untouched"
	check_eq "$KIND: MSS_CLAMPED unchanged with clamp-tcp-mss no" "0 0" \
		"$((xa3 - xa2)) $((xb3 - xb2))"
	check_syn far syn 5007 "$(seen far syn 5001 mss)" \
		"nft 'tcp option maxseg size set rt mtu' gives what ipt gives"

	while read -r p t sent hx; do
		case $p in
		6005|6006)
			check_syn far syn "$p" "$e" "crafted SYN $p (clamped)"
			check_syn underlay syn "$p" "$e" "crafted SYN $p on the underlay"
			check_eq "$KIND: crafted SYN $p: only the MSS and the checksum changed" \
				"$hx" "$(seen far syn "$p" masked)" ;;
		6007)
			check_eq "$KIND: non-first fragment $p arrives untouched" \
				"$sent" "$(seen far frag "$p" hex | cut -c1-${#sent})" ;;
		*)
			check_eq "$KIND: crafted SYN $p arrives untouched" \
				"$sent" "$(seen far syn "$p" hex)"
			check_eq "$KIND: checksum of crafted SYN $p" "ok" "$(seen far syn "$p" csum)" ;;
		esac
	done < "$TMPD/sent.$KIND"
	check_eq "$KIND: MSS_CLAMPED of A: the two crafted SYNs it could lower" \
		"$(count underlay syn 6005 6006)" $((xa4 - xa3))
	check_eq "$KIND: MSS_CLAMPED of B: nothing left to lower" 0 $((xb4 - xb3))

	check_syn far syn 5010 "$e2" "after the PMTU drop, LAN SYN"
	check_syn lan synack 5010 "$e2" "after the PMTU drop, SYN-ACK leaving the tunnel"
	check_syn far syn 5011 "$e2" "after the PMTU drop, A's own SYN"

	if [ "$RET" != 0 ]; then
		log "$KIND: what the captures saw:"
		sed 's/ hex=.*//' "$TMPD/syns.$KIND"
	fi

	stop_bg
	for ns in "$H" "$A" "$B" "$S"; do ip netns del "$ns"; done
}

for k in $KINDS; do
	case $k in
	ipip|6in4|4in6) run_kind "$k" ;;
	*) die "unknown kind $k in MSS_KINDS" ;;
	esac
done

exit $RET
