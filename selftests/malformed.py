#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# The packet classes of selftests/malformed.sh and their runner.
#
#   malformed.py UAPI_HEADER NSA NSB NSC [--kinds "ipip 6in4 4in6"] [--only REGEX]
#
# malformed.sh builds the topology (see there) and runs this once: one
# python start for everything, python being slow to start under TCG.
#
# CLASSES is the table.  A row is a name, the kinds it applies to, a
# builder that returns the packets $NSB sends to $NSA's underlay veth
# (L3 bytes, framed here), and the expected outcome:
#
#   exp     counter deltas on $NSA.  Keys: a device statistic or ipt
#           extended statistic, of the kind's main tunnel ("rx_packets",
#           "drop_header"), of a role ("other.rx_packets", "auto.drop_6to4")
#           or of a device by name ("ipip0.rx_packets"); "no_tunnel" (the
#           namespace-wide xstat); a MIB counter ("Ip.InHdrErrors",
#           "IpExt.InTruncatedPkts", "Icmp6.OutPktTooBigs").  Every tracked
#           counter that the row does not name must not move: a packet
#           counted twice, or in the wrong place, fails its class.
#   reply   True: the ICMP echo request in the class (echo id c.id) is
#           answered through a tunnel; False: it is not; None: don't care.
#   checks  more assertions on what $NSB and $NSC captured (ICMP errors
#           sent back or relayed, forwarded TCP segments, reflected
#           keepalives) and on `ip route get` path MTU exceptions.
#
# Packets are built byte by byte with struct (scapy fixes up lengths and
# checksums, and importing it costs tens of seconds under TCG).  After each
# class a "fence", a valid echo request through the same tunnel, is sent
# and its reply awaited: everything runs on one CPU in order, so once the
# fence is back the class's packets have been dealt with and the counters
# can be read.  $NSA also taps its underlay veth: every frame sent must
# arrive there byte for byte, which also shows that nothing on the receive
# path wrote into data it shared with the tap's clone.
#
# Output: one "ok: [KIND] CLASS" or "FAIL: [KIND] CLASS: why" line per class
# and kind, then a summary; exit status 1 if any class failed.  Rows with
# known= describe a known bug: they still fail (and say so) until fixed.

import ctypes
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time

# --- namespaces ---------------------------------------------------------------

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_HOME = os.open("/proc/self/ns/net", os.O_RDONLY)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET):
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


class NS:
    """`with ns:` runs the block in network namespace ns (sockets made
    there stay in it)."""

    def __init__(self, name):
        self.name = name
        self.fd = os.open("/run/netns/" + name, os.O_RDONLY)

    def __enter__(self):
        _setns(self.fd)
        return self

    def __exit__(self, *exc):
        _setns(_HOME)

    def ip(self, *args, check=True):
        r = subprocess.run(["ip", "-n", self.name] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if check and r.returncode:
            raise RuntimeError("ip -n %s %s: %s" % (self.name, " ".join(args),
                                                    r.stdout.strip()))
        return r.stdout

    def write(self, path, value):
        with self:
            with open(path, "w") as f:
                f.write(value)


# --- counters -----------------------------------------------------------------

STATS64 = ("rx_packets tx_packets rx_bytes tx_bytes rx_errors tx_errors "
           "rx_dropped tx_dropped multicast collisions rx_length_errors "
           "rx_over_errors rx_crc_errors rx_frame_errors rx_fifo_errors "
           "rx_missed_errors tx_aborted_errors tx_carrier_errors").split()
# What every class is checked against (ipt devices only)
TRACK_DEV = ("rx_packets rx_errors rx_dropped rx_length_errors "
             "rx_frame_errors collisions tx_errors tx_dropped "
             "tx_carrier_errors").split()
TRACK_X = ("mss_clamped pmtu_updates drop_header drop_ecn drop_loop "
           "drop_6to4 drop_too_big drop_no_route keepalive_rx").split()
TRACK_MIB = set("""
Ip.InHdrErrors Ip.InAddrErrors Ip.InUnknownProtos Ip.InDiscards
Ip.ReasmFails Ip.ReasmOKs IpExt.InTruncatedPkts IpExt.InCsumErrors
IpExt.ReasmOverlaps Icmp.InErrors Icmp.InCsumErrors Icmp.OutDestUnreachs
Icmp.OutTimeExcds Icmp.OutParmProbs
Ip6.InHdrErrors Ip6.InAddrErrors Ip6.InUnknownProtos Ip6.InDiscards
Ip6.InTruncatedPkts Ip6.ReasmFails Ip6.ReasmOKs Icmp6.InErrors
Icmp6.InCsumErrors Icmp6.OutDestUnreachs Icmp6.OutPktTooBigs
Icmp6.OutTimeExcds Icmp6.OutParmProblems
""".split())
MIB_PREFIX = ("Ip.", "IpExt.", "Icmp.", "Ip6.", "Icmp6.")


def xstat_names(uapi):
    """The IPT_XSTATS_* enum, by attribute number, lower case without the
    prefix: the header is the contract, not a copy of it here."""
    text = open(uapi).read()
    body = re.search(r"enum\s*{\s*(IPT_XSTATS_UNSPEC\b.*?)}", text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return [n.strip().replace("IPT_XSTATS_", "").lower()
            for n in body.split(",") if n.strip()]


def nl_attrs(buf):
    off = 0
    while off + 4 <= len(buf):
        ln, t = struct.unpack_from("=HH", buf, off)
        if ln < 4:
            break
        yield t & 0x3fff, buf[off + 4:off + ln]
        off += (ln + 3) & ~3


class Links:
    """RTM_GETLINK dumps of one namespace: name -> mac, mtu, kind, stats64,
    ipt xstats."""

    def __init__(self, ns, xnames):
        with ns:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        self.sock.bind((0, 0))
        self.xnames = xnames
        self.seq = 0

    def dump(self):
        self.seq += 1
        body = struct.pack("=BxHiII", 0, 0, 0, 0, 0)
        self.sock.send(struct.pack("=IHHII", 16 + len(body), 18, 0x301,
                                   self.seq, 0) + body)
        links = {}
        while True:
            data = self.sock.recv(1 << 20)
            off = 0
            while off + 16 <= len(data):
                ln, typ = struct.unpack_from("=IH", data, off)
                if typ == 3:		# NLMSG_DONE
                    return links
                if typ == 2:		# NLMSG_ERROR
                    raise OSError("RTM_GETLINK dump failed")
                if typ == 16:
                    self._link(data[off + 32:off + ln], links)
                off += (ln + 3) & ~3

    def _link(self, buf, links):
        d = {"stats": {}, "x": {}, "kind": "", "mtu": 0, "mac": b""}
        name = None
        for t, v in nl_attrs(buf):
            if t == 3:			# IFLA_IFNAME
                name = v.rstrip(b"\0").decode()
            elif t == 1:		# IFLA_ADDRESS
                d["mac"] = v
            elif t == 4:		# IFLA_MTU
                d["mtu"] = struct.unpack("=I", v)[0]
            elif t == 23:		# IFLA_STATS64
                n = min(len(v) // 8, len(STATS64))
                d["stats"] = dict(zip(STATS64, struct.unpack("=%dQ" % n, v[:n * 8])))
            elif t == 18:		# IFLA_LINKINFO
                for t2, v2 in nl_attrs(v):
                    if t2 == 1:
                        d["kind"] = v2.rstrip(b"\0").decode()
                    elif t2 == 3:	# IFLA_INFO_XSTATS
                        for t3, v3 in nl_attrs(v2):
                            if len(v3) == 8 and t3 < len(self.xnames):
                                d["x"][self.xnames[t3]] = struct.unpack("=Q", v3)[0]
        if name:
            links[name] = d


def read_mibs(ns):
    out = {}
    with ns:
        for f in ("snmp", "netstat"):
            lines = open("/proc/thread-self/net/" + f).read().splitlines()
            for a, b in zip(lines[::2], lines[1::2]):
                p, names = a.split(":", 1)
                vals = b.split(":", 1)[1]
                for n, v in zip(names.split(), vals.split()):
                    out[p + "." + n] = int(v)
        for line in open("/proc/thread-self/net/snmp6"):
            n, v = line.split()
            if n.startswith("Icmp6"):
                out["Icmp6." + n[5:]] = int(v)
            elif n.startswith("Ip6"):
                out["Ip6." + n[3:]] = int(v)
    return out


def snapshot(links, ns):
    """Flat {key: value} of everything tracked on $NSA."""
    s = {}
    for name, d in links.dump().items():
        if not d["kind"].startswith("ipt_"):
            continue
        for k in TRACK_DEV:
            s[name + "." + k] = d["stats"].get(k, 0)
        for k in TRACK_X:
            s[name + "." + k] = d["x"].get(k, 0)
        s["no_tunnel"] = d["x"].get("no_tunnel", 0)
    for k, v in read_mibs(ns).items():
        if k in TRACK_MIB:
            s[k] = v
    return s


# --- packets ------------------------------------------------------------------

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def a4(a):
    return socket.inet_pton(socket.AF_INET, a)


def a6(a):
    return socket.inet_pton(socket.AF_INET6, a)


def fam(a):
    return 6 if ":" in a else 4


def ip4(payload, src, dst, proto, ttl=64, tos=0, ident=1, df=False, mf=False,
        off=0, opts=b"", ihl=None, tot=None, ck=None, ver=4):
    """IPv4 header + payload; ihl, tot (total length) and ck (checksum)
    default to what is right, off is in bytes."""
    if ihl is None:
        ihl = (20 + len(opts)) // 4
    if tot is None:
        tot = 20 + len(opts) + len(payload)
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (off >> 3)
    h = struct.pack("!BBHHHBBH4s4s", ver << 4 | (ihl & 15), tos, tot & 0xffff,
                    ident & 0xffff, flags, ttl, proto, 0, a4(src), a4(dst)) + opts
    p = h + payload
    if ck is None:
        ck = csum(p[:max(20, (ihl & 15) * 4)])
    return p[:10] + struct.pack("!H", ck) + p[12:]


def ip6(payload, src, dst, nh, hlim=64, tc=0, fl=0, plen=None, ver=6):
    if plen is None:
        plen = len(payload)
    return struct.pack("!IHBB16s16s", ver << 28 | tc << 20 | (fl & 0xfffff),
                       plen & 0xffff, nh, hlim, a6(src), a6(dst)) + payload


def pseudo(src, dst, proto, length):
    if fam(src) == 4:
        return a4(src) + a4(dst) + struct.pack("!BBH", 0, proto, length)
    return a6(src) + a6(dst) + struct.pack("!I3xB", length, proto)


def l4(proto, hdr_wo_ck, ck_off, data, src, dst, ck=None):
    seg = hdr_wo_ck + data
    if ck is None:
        ck = csum(pseudo(src, dst, proto, len(seg)) + seg)
    return seg[:ck_off] + struct.pack("!H", ck) + seg[ck_off + 2:]


def icmp4(typ, code, rest, data=b"", ck=None):
    seg = struct.pack("!BBH", typ, code, 0) + rest + data
    if ck is None:
        ck = csum(seg)
    return seg[:2] + struct.pack("!H", ck) + seg[4:]


def icmp6(typ, code, rest, data, src, dst, ck=None):
    return l4(58, struct.pack("!BBH", typ, code, 0) + rest, 2, data, src, dst, ck)


def udp(sport, dport, data, src, dst):
    return l4(17, struct.pack("!HHHH", sport, dport, 8 + len(data), 0), 6,
              data, src, dst)


def tcp(sport, dport, src, dst, flags=0x02, opts=b"", doff=None, data=b"",
        seq=1000, ack=0, ck=None, bad_ck=False):
    if doff is None:
        doff = (20 + len(opts)) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (doff & 15) << 4,
                    flags, 64240, 0, 0) + opts
    seg = l4(6, h, 16, data, src, dst, ck)
    if bad_ck:
        seg = seg[:16] + struct.pack("!H", struct.unpack("!H", seg[16:18])[0] ^ 0x5a5a) + seg[18:]
    return seg


def ip(payload, src, dst, proto, **kw):
    """IPv4 or IPv6 by the addresses; ttl is the hop limit for IPv6."""
    if fam(src) == 4:
        return ip4(payload, src, dst, proto, **kw)
    kw6 = {}
    for k6, k4 in (("hlim", "ttl"), ("tc", "tos"), ("fl", "ident"), ("plen", "tot")):
        if k4 in kw:
            kw6[k6] = kw.pop(k4)
    kw.pop("df", None)
    kw6.update(kw)
    return ip6(payload, src, dst, proto, **kw6)


def tlv_pad(opts):
    """Pad an option area so that the header is a multiple of 8 bytes."""
    n = -(2 + len(opts)) % 8
    if n == 1:
        return opts + b"\0"
    if n:
        return opts + bytes([1, n - 2]) + bytes(n - 2)
    return opts


def opthdr(nh, opts):
    """Hop-by-hop or destination options header."""
    opts = tlv_pad(opts)
    return bytes([nh, (2 + len(opts)) // 8 - 1]) + opts


def rthdr(nh, rtype, segleft, data=b"\0" * 4 + bytes(16)):
    return bytes([nh, (4 + len(data)) // 8 - 1, rtype, segleft]) + data


def fraghdr(nh, off, m, ident):
    return struct.pack("!BBHI", nh, 0, off | (1 if m else 0), ident)


def frag4(pkt, pieces):
    """IPv4 fragments of pkt: pieces are (start, end[, more]) payload byte
    ranges; more defaults to "not the end"."""
    ihl = (pkt[0] & 15) * 4
    hdr, pay = bytearray(pkt[:ihl]), pkt[ihl:]
    df = struct.unpack_from("!H", hdr, 6)[0] & 0x4000
    out = []
    for p in pieces:
        o, e = p[0], min(p[1], len(pay))
        more = p[2] if len(p) > 2 else e < len(pay)
        h = bytearray(hdr)
        struct.pack_into("!HHH", h, 2, ihl + e - o,
                         struct.unpack_from("!H", hdr, 4)[0],
                         df | (0x2000 if more else 0) | (o >> 3))
        struct.pack_into("!H", h, 10, 0)
        struct.pack_into("!H", h, 10, csum(bytes(h)))
        out.append(bytes(h) + pay[o:e])
    return out


def frag6(pkt, pieces, ident):
    """IPv6 fragments of pkt (a fixed header directly followed by the
    fragmentable part), as frag4()."""
    nh, pay = pkt[6], pkt[40:]
    out = []
    for p in pieces:
        o, e = p[0], min(p[1], len(pay))
        more = p[2] if len(p) > 2 else e < len(pay)
        body = fraghdr(nh, o, more, ident) + pay[o:e]
        out.append(pkt[:4] + struct.pack("!HB", len(body), 44) + pkt[7:40] + body)
    return out


def frag(pkt, pieces, ident):
    return frag4(pkt, pieces) if pkt[0] >> 4 == 4 else frag6(pkt, pieces, ident)


PAYLOAD = b"ipt-malformed-" + bytes(range(18))	# 32 bytes


def echo(ident, src, dst, data=PAYLOAD, ick=None, **kw):
    """ICMP echo request; ick: ICMP checksum, other keywords for ip()"""
    if fam(src) == 4:
        return ip4(icmp4(8, 0, struct.pack("!HH", ident, 1), data, ick), src, dst,
                   1, ident=ident, **kw)
    return ip(icmp6(128, 0, struct.pack("!HH", ident, 1), data, src, dst, ick),
              src, dst, 58, **kw)


def set_byte(pkt, i, v):
    return pkt[:i] + bytes([v]) + pkt[i + 1:]


def ecn(pkt, bits):
    """Set the ECN field of an IPv4 or IPv6 header (and the checksum)."""
    if pkt[0] >> 4 == 4:
        p = set_byte(pkt, 1, (pkt[1] & ~3) | bits)
        p = p[:10] + b"\0\0" + p[12:]
        ihl = (p[0] & 15) * 4
        return p[:10] + struct.pack("!H", csum(p[:ihl])) + p[12:]
    return set_byte(pkt, 1, (pkt[1] & ~0x30) | bits << 4)


# --- capture ------------------------------------------------------------------

ETH_P_ALL = 3
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23


class Tap:
    """Incoming frames of one interface."""

    def __init__(self, ns, ifname):
        with ns:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                              socket.htons(ETH_P_ALL))
            s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            s.bind((ifname, ETH_P_ALL))
        s.setblocking(False)
        self.s = s
        self.drain()

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.s.recv(65536))
            except BlockingIOError:
                return out


def walk(l3, ev, depth=0):
    """Events of one packet: every IP header ("ip"), echo replies ("echo"),
    ICMP errors ("err"), headers with no next header ("none"); tunnel
    payloads are walked with depth + 1."""
    if len(l3) >= 20 and l3[0] >> 4 == 4:
        ihl = (l3[0] & 15) * 4
        tot, foff = struct.unpack_from("!H2xH", l3, 2)
        proto = l3[9]
        src, dst = socket.inet_ntop(socket.AF_INET, l3[12:16]), socket.inet_ntop(socket.AF_INET, l3[16:20])
        pay = l3[ihl:tot]
        ev.append(dict(t="ip", fam=4, src=src, dst=dst, depth=depth, proto=proto,
                       l3=l3[:tot], ttl=l3[8], ident=struct.unpack_from("!H", l3, 4)[0]))
        if foff & 0x1fff:
            return
    elif len(l3) >= 40 and l3[0] >> 4 == 6:
        plen = struct.unpack_from("!H", l3, 4)[0]
        proto = l3[6]
        src, dst = socket.inet_ntop(socket.AF_INET6, l3[8:24]), socket.inet_ntop(socket.AF_INET6, l3[24:40])
        pay = l3[40:40 + plen]
        fl = struct.unpack_from("!I", l3, 0)[0] & 0xfffff
        while proto in (0, 43, 44, 60) and len(pay) >= 8:
            if proto == 44:
                if struct.unpack_from("!H", pay, 2)[0] & 0xfff8:
                    proto = None
                    break
                proto, pay = pay[0], pay[8:]
            else:
                proto, pay = pay[0], pay[(pay[1] + 1) * 8:]
        ev.append(dict(t="ip", fam=6, src=src, dst=dst, depth=depth, proto=proto,
                       l3=l3[:40 + plen], ttl=l3[7], ident=fl))
    else:
        return
    f = ev[-1]["fam"]
    if proto in (4, 41):
        walk(pay, ev, depth + 1)
    elif proto == 59:
        ev.append(dict(t="none", fam=f, src=src, dst=dst, depth=depth))
    elif (proto, f) in ((1, 4), (58, 6)) and len(pay) >= 8:
        typ, code = pay[0], pay[1]
        if (f, typ) in ((4, 0), (6, 129)):
            ev.append(dict(t="echo", fam=f, id=struct.unpack_from("!H", pay, 4)[0],
                           src=src, dst=dst, depth=depth))
        elif (f == 4 and typ in (3, 4, 5, 11, 12)) or (f == 6 and typ < 128):
            ev.append(dict(t="err", fam=f, type=typ, code=code,
                           info=struct.unpack_from("!I", pay, 4)[0],
                           quote=pay[8:], src=src, dst=dst, depth=depth))


def events(frames):
    ev = []
    for fr in frames:
        if len(fr) > 14 and fr[12:14] in (b"\x08\x00", b"\x86\xdd"):
            walk(fr[14:], ev)
    return ev


# --- kinds --------------------------------------------------------------------

class Kind:
    """One tunnel kind on $NSA, with the addresses the classes use."""

    def __init__(self, name, **kw):
        self.name = name
        self.__dict__.update(kw)
        self.ofam = fam(self.o_local)
        self.ifam = fam(self.i_local)
        self.roles = {"main": self.main, "other": self.other}

    def echo(self, ident, src=None, dst=None, **kw):
        return echo(ident, src or self.i_peer, dst or self.i_local, **kw)

    def wrap(self, inner, src=None, dst=None, proto=None, **kw):
        return ip(inner, src or self.o_peer, dst or self.o_local,
                  self.proto if proto is None else proto, **kw)

    def good(self, c):
        return self.wrap(self.echo(c.id))

    # MIB counter names for the inner (mib, icmp) or outer (omib, oicmp)
    # family; v4 names that live in IpExt and the v6 spelling of some.
    @staticmethod
    def _mib(f, n):
        if f == 6:
            return "Ip6." + n
        return ("IpExt." if n in ("InTruncatedPkts", "InCsumErrors",
                                  "ReasmOverlaps") else "Ip.") + n

    @staticmethod
    def _icmp(f, n):
        if f == 6:
            return "Icmp6." + {"OutParmProbs": "OutParmProblems"}.get(n, n)
        return "Icmp." + n

    def mib(self, n):
        return self._mib(self.ifam, n)

    def omib(self, n):
        return self._mib(self.ofam, n)

    def icmp(self, n):
        return self._icmp(self.ifam, n)

    def oicmp(self, n):
        return self._icmp(self.ofam, n)


KINDS = {
    "ipip": Kind("ipip", main="ipip0", other="ipip1", proto=4, hlen=20,
                 o_local="192.0.2.1", o_peer="192.0.2.2", o_stranger="192.0.2.3",
                 o_other="192.0.2.4", o_spare="192.0.2.12",
                 i_local="10.0.0.1", i_peer="10.0.0.2", i_other="10.0.4.2",
                 i_c="10.9.0.2", i_cgw="10.9.0.1", mss=1440,
                 lp_remote="198.18.4.1", lp_local_addr="10.70.4.1/30", lp_peer="10.70.4.2"),
    "6in4": Kind("6in4", main="six0", other="six1", proto=41, hlen=20,
                 o_local="192.0.2.1", o_peer="192.0.2.2", o_stranger="192.0.2.3",
                 o_other="192.0.2.4", o_spare="192.0.2.12",
                 i_local="2001:db8:6::1", i_peer="2001:db8:6::2",
                 i_other="2001:db8:64::2", i_c="2001:db8:9::2",
                 i_cgw="2001:db8:9::1", mss=1420,
                 lp_remote="198.18.6.1", lp_local_addr="2001:db8:70:6::1/64",
                 lp_peer="2001:db8:70:6::2"),
    "4in6": Kind("4in6", main="v4in6", other="v4in6b", proto=4, hlen=40,
                 o_local="2001:db8::1", o_peer="2001:db8::2", o_stranger="2001:db8::3",
                 o_other="2001:db8::4", o_spare="2001:db8::12",
                 i_local="10.0.1.1", i_peer="10.0.1.2", i_other="10.0.5.2",
                 i_c="10.9.0.2", i_cgw="10.9.0.1", mss=1420,
                 lp_remote="2001:db8:ff::1", lp_local_addr="10.70.46.1/30",
                 lp_peer="10.70.46.2"),
}
KINDS["6in4"].roles["auto"] = "auto0"
ALL = ("ipip", "6in4", "4in6")
O4 = ("ipip", "6in4")		# IPv4 underlay
O6 = ("4in6",)			# IPv6 underlay
I4 = ("ipip", "4in6")		# IPv4 inside
I6 = ("6in4",)			# IPv6 inside

# The automatic 6to4 tunnel of $NSA: ipt_6in4 without remote, local
# 192.0.2.11, 2002:c000:20b::1/16.
AUTO_LOCAL = "192.0.2.11"
AUTO_ADDR = "2002:c000:20b::1"


def v6to4(v4, host=1):
    b = a4(v4)
    return "2002:%02x%02x:%02x%02x::%x" % (b[0], b[1], b[2], b[3], host)


# --- the class table ----------------------------------------------------------

CLASSES = []


class Case:
    def __init__(self, name, kinds, build, exp, reply, checks, setup,
                 teardown, known, send, ignore, from_c):
        self.__dict__.update(locals())
        del self.__dict__["self"]


def case(name, kinds=ALL, exp=None, reply=False, checks=(), setup=None,
         teardown=None, known=None, send=None, ignore=(), from_c=False):
    """Register a class; from_c: the packets come from C (the LAN side of
    A) instead of B."""
    def deco(fn):
        CLASSES.append(Case(name, kinds, fn, exp or {}, reply, checks, setup,
                            teardown, known, send, ignore, from_c))
        return fn
    return deco


# Checks: functions of the result R, returning None or what went wrong.

def b_err(f, typ, code, depth=None, dst=None, what="", info=None):
    """$NSB received this ICMP error from $NSA."""
    def check(R):
        for e in R.b:
            if (e["t"] == "err" and e["fam"] == f and e["type"] == typ and
                    e["code"] == code and (depth is None or e["depth"] == depth) and
                    (dst is None or e["dst"] == dst) and
                    (info is None or e["info"] == info)):
                return None
        return "no ICMPv%d %d/%d %sat B" % (f, typ, code, what)
    return check


def b_no_err(R):
    errs = ["%d/%d" % (e["type"], e["code"]) for e in R.b if e["t"] == "err"]
    return "unexpected ICMP errors at B: %s" % errs if errs else None


def c_err(f, typ, code, info=None, quote=None):
    """$NSC (the inner sender behind $NSA) got this relayed ICMP error,
    quoting what the class quoted."""
    def check(R):
        got = [e for e in R.c if e["t"] == "err"]
        for e in got:
            if e["fam"] != f or e["type"] != typ or e["code"] != code:
                continue
            if info is not None and e["info"] != info:
                return "relayed ICMPv%d %d/%d with info %d, expected %d" % (
                    f, typ, code, e["info"], info)
            q = quote(R) if callable(quote) else quote
            if q is not None and (len(e["quote"]) < min(len(q), 28) or
                                  not q.startswith(e["quote"][:len(q)])):
                return "relayed ICMPv%d %d/%d quotes %s, not the inner packet" % (
                    f, typ, code, e["quote"][:48].hex())
            return None
        return "nothing relayed to C (wanted ICMPv%d %d/%d; got %s)" % (
            f, typ, code, ["v%d %d/%d" % (e["fam"], e["type"], e["code"]) for e in got])
    return check


def c_no_err(R):
    errs = ["v%d %d/%d info %d" % (e["fam"], e["type"], e["code"], e["info"])
            for e in R.c if e["t"] == "err"]
    return "relayed to C: %s" % errs if errs else None


def c_relay_min(f, typ, minimum):
    """Whatever is relayed of this type carries a sane MTU (or nothing)."""
    def check(R):
        for e in R.c:
            if e["t"] == "err" and e["fam"] == f and e["type"] == typ:
                mtu = e["info"] & 0xffff if f == 4 else e["info"]
                if mtu < minimum:
                    return "relayed ICMPv%d type %d with MTU %d (< %d) to C" % (
                        f, typ, mtu, minimum)
        return None
    return check


def pmtu(role, want):
    """`ip route get` the outer remote of a tunnel role: its path MTU
    exception (None: none)."""
    def check(R):
        k = R.k
        dst = k.o_other if role == "other" else k.o_peer
        out = R.A.ip(*(["-6"] if k.ofam == 6 else []), "route", "get", dst)
        m = re.search(r"\bmtu (?:lock )?(\d+)", out)
        got = int(m.group(1)) if m else None
        if got != want:
            return "ip route get %s: mtu %s, expected %s" % (dst, got, want)
        return None
    return check


def reflected(R):
    """The peer's keepalive probe went back to it: "mid" from $NSA's
    underlay address to the peer's, carrying the marker."""
    k = R.k
    for e in R.b:
        if (e["t"] == "none" and e["depth"] == 1 and
                any(x["t"] == "ip" and x["depth"] == 0 and x["src"] == k.o_local and
                    x["dst"] == k.o_peer and x["proto"] == k.proto for x in R.b)):
            return None
    return "the keepalive probe was not reflected to the peer"


def not_reflected(R):
    for e in R.b:
        if e["t"] == "none":
            return "something with no next header came back to B"
    return None


def no_b_to(addr):
    def check(R):
        for e in R.b:
            if e["t"] == "ip" and e["dst"] == addr:
                return "a packet to %s left on the underlay" % addr
        return None
    return check


def flush(R):
    """Forget path MTU exceptions between classes."""
    R.A.write("/proc/sys/net/ipv4/route/flush", "1")
    R.A.ip("-6", "route", "flush", "cache", check=False)


# --- 1. outer header --------------------------------------------------------

@case("well-formed (control)", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.good(c)]


@case("outer: trailing bytes beyond the length field", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.good(c) + b"\xde\xad" * 15]


@case("outer: length field larger than the packet",
      exp=lambda k: {k.omib("InTruncatedPkts"): 1})
def _(k, c):
    p = k.good(c)
    return [k.wrap(k.echo(c.id), tot=len(p) + 100) if k.ofam == 4 else
            k.wrap(k.echo(c.id), plen=len(p) - 40 + 100)]


@case("outer: length field cuts the inner packet short",
      exp=lambda k: {"rx_packets": 1, k.mib("InTruncatedPkts"): 1})
def _(k, c):
    inner = k.echo(c.id)
    if k.ofam == 4:
        return [k.wrap(inner, tot=20 + len(inner) - 10)]
    return [k.wrap(inner, plen=len(inner) - 10)]


@case("outer: header truncated", exp=lambda k: {k.omib("InHdrErrors"): 1})
def _(k, c):
    return [k.good(c)[:12 if k.ofam == 4 else 30]]


@case("outer: no payload at all")
def _(k, c):
    return [k.wrap(b"")]


@case("outer: TTL / hop limit 0", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.wrap(k.echo(c.id), ttl=0)]


@case("outer: TTL / hop limit 1", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.wrap(k.echo(c.id), ttl=1)]


@case("outer: from a stranger, not the peer",
      exp=lambda k: {"no_tunnel": 1, k.oicmp("OutDestUnreachs"): 1},
      checks=[lambda R: b_err(R.k.ofam, 3 if R.k.ofam == 4 else 1,
                              3 if R.k.ofam == 4 else 4, depth=0,
                              dst=R.k.o_stranger, what="(port unreachable) ")(R)])
def _(k, c):
    return [k.wrap(k.echo(c.id), src=k.o_stranger)]


@case("outer: to another local address of A",
      exp=lambda k: {"no_tunnel": 1, k.oicmp("OutDestUnreachs"): 1},
      checks=[lambda R: b_err(R.k.ofam, 3 if R.k.ofam == 4 else 1,
                              3 if R.k.ofam == 4 else 4, depth=0,
                              dst=R.k.o_peer, what="(port unreachable) ")(R)])
def _(k, c):
    return [k.wrap(k.echo(c.id), dst=k.o_spare)]


@case("outer: source is A's own address",
      exp=lambda k: {} if k.ofam == 4 else {"no_tunnel": 1, "Icmp6.OutDestUnreachs": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id), src=k.o_local)]


@case("outer: multicast destination", exp={"no_tunnel": 1}, checks=[b_no_err])
def _(k, c):
    return [k.wrap(k.echo(c.id), dst="224.0.0.1" if k.ofam == 4 else "ff02::1")]


@case("outer: multicast source", exp=lambda k: {} if k.ofam == 4 else {"Ip6.InHdrErrors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id), src="224.0.0.9" if k.ofam == 4 else "ff02::9")]


@case("outer: ECN CE, inner not-ECT",
      exp={"drop_ecn": 1, "rx_frame_errors": 1, "rx_errors": 1})
def _(k, c):
    return [ecn(k.good(c), 3)]


@case("outer: ECN CE, inner ECT(0)", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [ecn(k.wrap(ecn(k.echo(c.id), 2)), 3)]


@case("outer: ECN ECT(1), inner ECT(0)", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [ecn(k.wrap(ecn(k.echo(c.id), 2)), 1)]


@case("outer: ECN ECT(0), inner not-ECT", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [ecn(k.good(c), 2)]


@case("outer: ECN CE, inner CE", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [ecn(k.wrap(ecn(k.echo(c.id), 3)), 3)]


# outer fragments: reassembled by the underlay first, then decapsulated

def _ofrag(k, c, pieces, order=None, data=PAYLOAD * 4):
    p = k.wrap(k.echo(c.id, data=data), ident=c.id)
    fr = frag(p, pieces, c.id)
    return [fr[i] for i in order] if order else fr


@case("outer fragments, in order", exp=lambda k: {"rx_packets": 1, k.omib("ReasmOKs"): 1},
      reply=True)
def _(k, c):
    return _ofrag(k, c, [(0, 64), (64, 1000)])


@case("outer fragments, last first", exp=lambda k: {"rx_packets": 1, k.omib("ReasmOKs"): 1},
      reply=True)
def _(k, c):
    return _ofrag(k, c, [(0, 64), (64, 1000)], order=[1, 0])


@case("outer fragments, 8 bytes each", exp=lambda k: {"rx_packets": 1, k.omib("ReasmOKs"): 1},
      reply=True)
def _(k, c):
    return _ofrag(k, c, [(i, i + 8) for i in range(0, 96, 8)] + [(96, 1000)])


@case("outer fragments, one duplicated", exp=lambda k: {"rx_packets": 1, k.omib("ReasmOKs"): 1},
      reply=True)
def _(k, c):
    return _ofrag(k, c, [(0, 64), (64, 1000)], order=[0, 0, 1])


@case("outer fragments, overlapping",
      exp=lambda k: {k.omib("ReasmFails"): 1} if k.ofam == 6 else
      {"Ip.ReasmFails": 1, "IpExt.ReasmOverlaps": 1})
def _(k, c):
    return _ofrag(k, c, [(0, 64), (56, 1000)])


@case("outer fragments, a second one rewriting the inner header",
      exp=lambda k: {k.omib("ReasmFails"): 1} if k.ofam == 6 else
      {"Ip.ReasmFails": 1, "IpExt.ReasmOverlaps": 1})
def _(k, c):
    # [8, 72) overlaps the first fragment and carries a different inner
    # header: the whole datagram goes
    fr = _ofrag(k, c, [(0, 64), (64, 1000)])
    evil = _ofrag(k, c, [(8, 72, True)])[0]
    hl = 20 if k.ofam == 4 else 48
    return [fr[0], evil[:hl] + bytes(len(evil) - hl), fr[1]]


@case("outer fragments, a different one inside the first (taken as a duplicate)",
      exp=lambda k: {"rx_packets": 1, k.omib("ReasmOKs"): 1}, reply=True)
def _(k, c):
    # Linux drops a fragment that lies within one it has as a duplicate,
    # without looking at it: the zeroes never reach the inner header
    fr = _ofrag(k, c, [(0, 64), (64, 1000)])
    evil = _ofrag(k, c, [(0, 16, True)])[0]
    hl = 20 if k.ofam == 4 else 48
    return [fr[0], evil[:hl] + bytes(len(evil) - hl), fr[1]]


@case("outer fragment: the first one only")
def _(k, c):
    return _ofrag(k, c, [(0, 64)])


@case("outer fragments reassembling beyond 64 KiB",
      exp=lambda k: {"Ip.ReasmFails": 1} if k.ofam == 4 else
      {"Ip6.InHdrErrors": 1, "Icmp6.OutParmProblems": 1})
def _(k, c):
    if k.ofam == 6:
        # RFC 8200: the fragment that ends past 65535 is refused on its
        # own, with a parameter problem
        p = k.wrap(k.echo(c.id, data=bytes(64)))
        return frag6(p, [(0, 64, True)], c.id) + \
            [ip6(fraghdr(4, 65528, False, c.id) + bytes(16), k.o_peer, k.o_local, 44)]
    # IPv4: 45 fragments of 1480 bytes, complete, 66600 bytes together
    p = ip4(bytes(1480 * 45), k.o_peer, k.o_local, k.proto, ident=c.id, tot=0)
    return frag4(p, [(o, o + 1480) for o in range(0, 1480 * 45, 1480)])


# --- 2. outer IPv4 header ---------------------------------------------------

@case("outer IPv4: IHL 4", kinds=O4, exp={"Ip.InHdrErrors": 1})
def _(k, c):
    p = k.good(c)
    return [ip4(p[20:], k.o_peer, k.o_local, k.proto, ihl=4)]


@case("outer IPv4: IHL 0", kinds=O4, exp={"Ip.InHdrErrors": 1})
def _(k, c):
    p = k.good(c)
    return [ip4(p[20:], k.o_peer, k.o_local, k.proto, ihl=0)]


@case("outer IPv4: IHL 15, options past the end of the packet", kinds=O4,
      exp={"Ip.InHdrErrors": 1})
def _(k, c):
    return [ip4(bytes(24), k.o_peer, k.o_local, k.proto, ihl=15)]


@case("outer IPv4: total length below the header length", kinds=O4,
      exp={"Ip.InHdrErrors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id), tot=16)]


@case("outer IPv4: bad header checksum", kinds=O4,
      exp={"Ip.InHdrErrors": 1, "IpExt.InCsumErrors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id), ck=0x1234)]


@case("outer IPv4: version 6 in an IPv4 frame", kinds=O4, exp={"Ip.InHdrErrors": 1})
def _(k, c):
    return [(0x0800, k.wrap(k.echo(c.id), ver=6))]


@case("outer IPv4: NOP options", kinds=O4, exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.wrap(k.echo(c.id), opts=b"\x01\x01\x01\x00")]


@case("outer IPv4: record route option", kinds=O4, exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.wrap(k.echo(c.id), opts=b"\x07\x0b\x04" + bytes(8) + b"\x00")]


@case("outer IPv4: timestamp option", kinds=O4, exp={"rx_packets": 1}, reply=True)
def _(k, c):
    # A writes its timestamp into the header: not into the tap's copy
    return [k.wrap(k.echo(c.id), opts=b"\x44\x0c\x05\x00" + bytes(8))]


@case("outer IPv4: loose source route through A", kinds=O4)
def _(k, c):
    # source routing is off: dropped before any tunnel sees it
    return [k.wrap(k.echo(c.id), opts=b"\x83\x07\x04" + a4("10.9.0.2") + b"\x00")]


@case("outer IPv4: option length past the header", kinds=O4,
      exp={"Ip.InHdrErrors": 1, "Icmp.OutParmProbs": 1},
      checks=[b_err(4, 12, 0, depth=0, what="(parameter problem) ")])
def _(k, c):
    return [k.wrap(k.echo(c.id), opts=b"\x07\x28\x04\x00")]


@case("outer IPv4: broadcast destination", kinds=O4, exp={"no_tunnel": 1},
      checks=[b_no_err])
def _(k, c):
    return [k.wrap(k.echo(c.id), dst="192.0.2.255")]


@case("outer IPv4: broadcast source", kinds=O4)
def _(k, c):
    return [k.wrap(k.echo(c.id), src="255.255.255.255")]


@case("outer IPv4: DF and MF on one fragment", kinds=O4, exp={"rx_packets": 1, "Ip.ReasmOKs": 1},
      reply=True)
def _(k, c):
    p = k.wrap(k.echo(c.id, data=PAYLOAD * 4), ident=c.id, df=True)
    return frag4(p, [(0, 64), (64, 1000)])


# --- 3. outer IPv6 header and extension headers ----------------------------------


def _x6(k, c, hdrs, inner=None):
    """Outer IPv6 with the extension headers hdrs (from chain()) in front
    of the inner packet."""
    return ip6(hdrs[1] + (inner or k.echo(c.id)), k.o_peer, k.o_local, hdrs[0])


def chain(*hdrs):
    """(first next header, bytes) of a chain of (type, builder(nh)) ending
    in next header 4."""
    nh, out = 4, b""
    for typ, b in reversed(hdrs):
        out = b(nh) + out
        nh = typ
    return nh, out


HBH = lambda opts=b"": (0, lambda nh: opthdr(nh, opts))
DST = lambda opts=b"": (60, lambda nh: opthdr(nh, opts))
RT = lambda t, sl: (43, lambda nh: rthdr(nh, t, sl))
FRAG = lambda ident: (44, lambda nh: fraghdr(nh, 0, False, ident))
ENCAP = lambda lim: DST(bytes([4, 1, lim]))	# RFC 2473 encapsulation limit


@case("outer IPv6: version 4 in an IPv6 frame", kinds=O6, exp={"Ip6.InHdrErrors": 1})
def _(k, c):
    return [(0x86dd, k.wrap(k.echo(c.id), ver=4))]


@case("outer IPv6: payload length 0", kinds=O6)
def _(k, c):
    return [k.wrap(k.echo(c.id), plen=0)]


@case("outer IPv6: loopback source", kinds=O6, exp={"Ip6.InHdrErrors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id), src="::1")]


@case("outer IPv6: hop-by-hop options (PadN)", kinds=O6, exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [_x6(k, c, chain(HBH()))]


@case("outer IPv6: hop-by-hop, unknown option to skip", kinds=O6, exp={"rx_packets": 1},
      reply=True)
def _(k, c):
    return [_x6(k, c, chain(HBH(b"\x1e\x02\x00\x00")))]


@case("outer IPv6: hop-by-hop, unknown option to discard", kinds=O6,
      exp={"Ip6.InHdrErrors": 1})
def _(k, c):
    return [_x6(k, c, chain(HBH(b"\x5e\x02\x00\x00")))]


@case("outer IPv6: hop-by-hop, unknown option to refuse", kinds=O6,
      exp={"Ip6.InHdrErrors": 1, "Icmp6.OutParmProblems": 1},
      checks=[b_err(6, 4, 2, depth=0, what="(parameter problem) ")])
def _(k, c):
    return [_x6(k, c, chain(HBH(b"\x9e\x02\x00\x00")))]


@case("outer IPv6: hop-by-hop after another header", kinds=O6,
      exp={"Ip6.InUnknownProtos": 1, "Icmp6.OutParmProblems": 1})
def _(k, c):
    return [_x6(k, c, chain(DST(), HBH()))]


@case("outer IPv6: hop-by-hop router alert", kinds=O6, exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [_x6(k, c, chain(HBH(b"\x05\x02\x00\x00")))]


@case("outer IPv6: jumbo payload option below 65536", kinds=O6,
      exp={"Ip6.InHdrErrors": 1, "Icmp6.OutParmProblems": 1},
      checks=[b_err(6, 4, 0, depth=0, what="(parameter problem) ")])
def _(k, c):
    nh, hbh = chain(HBH(b"\xc2\x04" + struct.pack("!I", 1000)))
    return [ip6(hbh + k.echo(c.id), k.o_peer, k.o_local, nh, plen=0)]


@case("outer IPv6: jumbo payload option longer than the packet", kinds=O6,
      exp={"Ip6.InHdrErrors": 1})
def _(k, c):
    nh, hbh = chain(HBH(b"\xc2\x04" + struct.pack("!I", 70000)))
    return [ip6(hbh + k.echo(c.id), k.o_peer, k.o_local, nh, plen=0)]


@case("outer IPv6: encapsulation limit 0", kinds=O6, exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [_x6(k, c, chain(ENCAP(0)))]


@case("outer IPv6: encapsulation limit 255", kinds=O6, exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [_x6(k, c, chain(ENCAP(255)))]


@case("outer IPv6: two encapsulation limit headers", kinds=O6, exp={"rx_packets": 1},
      reply=True)
def _(k, c):
    return [_x6(k, c, chain(ENCAP(0), ENCAP(1)))]


@case("outer IPv6: destination options past the packet", kinds=O6,
      exp={"Ip6.InHdrErrors": 1})
def _(k, c):
    return [ip6(b"\x04\x20" + bytes(6), k.o_peer, k.o_local, 60)]


@case("outer IPv6: destination options, unknown option to discard", kinds=O6,
      exp={"Ip6.InHdrErrors": 1})
def _(k, c):
    return [_x6(k, c, chain(DST(b"\x5e\x02\x00\x00")))]


@case("outer IPv6: routing header type 0, segments left 0", kinds=O6,
      exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [_x6(k, c, chain(RT(0, 0)))]


@case("outer IPv6: routing header type 0, segments left 1", kinds=O6,
      exp={"Ip6.InHdrErrors": 1, "Icmp6.OutParmProblems": 1})
def _(k, c):
    return [_x6(k, c, chain(RT(0, 1)))]


@case("outer IPv6: segment routing header, segments left 0", kinds=O6)
def _(k, c):
    return [_x6(k, c, chain(RT(4, 0)))]


@case("outer IPv6: atomic fragment header", kinds=O6,
      exp={"rx_packets": 1, "Ip6.ReasmOKs": 1}, reply=True)
def _(k, c):
    return [_x6(k, c, chain(FRAG(c.id)))]


@case("outer IPv6: hop-by-hop, routing, fragment, destination options",
      kinds=O6, exp={"rx_packets": 1, "Ip6.ReasmOKs": 1}, reply=True)
def _(k, c):
    return [_x6(k, c, chain(HBH(), DST(), RT(0, 0), FRAG(c.id), ENCAP(3)))]


@case("outer IPv6: fragments with the encapsulation limit in the first",
      kinds=O6, exp={"rx_packets": 1, "Ip6.ReasmOKs": 1}, reply=True)
def _(k, c):
    nh, dst = chain(ENCAP(0))
    inner = k.echo(c.id, data=PAYLOAD * 4)
    body = dst + inner
    return [ip6(fraghdr(nh, 0, True, c.id) + body[:64], k.o_peer, k.o_local, 44),
            ip6(fraghdr(nh, 64, False, c.id) + body[64:], k.o_peer, k.o_local, 44)]


# --- 4. inner header, any kind ----------------------------------------------------

@case("inner: header truncated (dropped before any tunnel looks)")
def _(k, c):
    return [k.wrap(k.echo(c.id)[:19 if k.ifam == 4 else 39])]


@case("inner: header of the other family",
      exp={"drop_header": 1, "rx_length_errors": 1, "rx_errors": 1})
def _(k, c):
    if k.ifam == 4:
        return [k.wrap(echo(c.id, "2001:db8:6::2", "2001:db8:6::1"))]
    return [k.wrap(echo(c.id, "10.0.0.2", "10.0.0.1", data=PAYLOAD * 2))]


@case("inner: version 0", exp={"drop_header": 1, "rx_length_errors": 1, "rx_errors": 1})
def _(k, c):
    p = k.echo(c.id)
    return [k.wrap(set_byte(p, 0, p[0] & 15))]


@case("inner: version 15", exp={"drop_header": 1, "rx_length_errors": 1, "rx_errors": 1})
def _(k, c):
    p = k.echo(c.id)
    return [k.wrap(set_byte(p, 0, 0xf0 | (p[0] & 15)))]


@case("inner: length field larger than the packet",
      exp=lambda k: {"rx_packets": 1, k.mib("InTruncatedPkts"): 1})
def _(k, c):
    p = k.echo(c.id)
    return [k.wrap(k.echo(c.id, tot=len(p) + 50) if k.ifam == 4 else
                   k.echo(c.id, plen=len(p) - 40 + 50))]


@case("inner: trailing bytes beyond the length field", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.wrap(k.echo(c.id) + bytes(12))]


@case("inner: TTL / hop limit 0, to A", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.wrap(k.echo(c.id, ttl=0))]


@case("inner: TTL / hop limit 1, to A", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.wrap(k.echo(c.id, ttl=1))]


def _ttl_exceeded(R):
    k = R.k
    return b_err(k.ifam, 11 if k.ifam == 4 else 3, 0, depth=1, dst=k.i_peer,
                 what="(time exceeded) through the tunnel ")(R)


def _ttl_exp(k):
    """forwarding counts a packet that runs out of hops as an input header
    error, and answers it"""
    return {"rx_packets": 1, k.mib("InHdrErrors"): 1, k.icmp("OutTimeExcds"): 1}


@case("inner: TTL / hop limit 1, to be forwarded", exp=_ttl_exp, checks=[_ttl_exceeded])
def _(k, c):
    return [k.wrap(k.echo(c.id, dst=k.i_c, ttl=1))]


@case("inner: TTL / hop limit 0, to be forwarded", exp=_ttl_exp, checks=[_ttl_exceeded])
def _(k, c):
    return [k.wrap(k.echo(c.id, dst=k.i_c, ttl=0))]


@case("inner: TTL / hop limit 2, forwarded to C", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.wrap(k.echo(c.id, dst=k.i_c, ttl=2))]


@case("inner: to another address of A", exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.wrap(k.echo(c.id, dst=k.i_cgw))]


@case("inner: source is A's own tunnel address", exp={"rx_packets": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id, src=k.i_local))]


@case("inner: multicast source",
      exp=lambda k: {"rx_packets": 1} if k.ifam == 4 else {"rx_packets": 1, "Ip6.InHdrErrors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id, src="224.1.2.3" if k.ifam == 4 else "ff0e::1"))]


@case("inner: bad ICMP checksum",
      exp=lambda k: {"rx_packets": 1, k.icmp("InCsumErrors"): 1, k.icmp("InErrors"): 1})
def _(k, c):
    return [k.wrap(k.echo(c.id, ick=0x4242))]


def _ifrag(k, c, pieces, order=None):
    p = k.echo(c.id, data=PAYLOAD * 4)
    if k.ifam == 4:
        p = ip4(p[20:], k.i_peer, k.i_local, 1, ident=c.id)
    fr = frag(p, pieces, c.id)
    return [k.wrap(f) for f in ([fr[i] for i in order] if order else fr)]


@case("inner fragments, in order",
      exp=lambda k: {"rx_packets": 2, k.mib("ReasmOKs"): 1}, reply=True)
def _(k, c):
    return _ifrag(k, c, [(0, 64), (64, 1000)])


@case("inner fragments, last first",
      exp=lambda k: {"rx_packets": 2, k.mib("ReasmOKs"): 1}, reply=True)
def _(k, c):
    return _ifrag(k, c, [(0, 64), (64, 1000)], order=[1, 0])


@case("inner fragments, one duplicated",
      exp=lambda k: {"rx_packets": 3, k.mib("ReasmOKs"): 1}, reply=True)
def _(k, c):
    return _ifrag(k, c, [(0, 64), (64, 1000)], order=[0, 1, 0])


@case("inner fragments, overlapping",
      exp=lambda k: {"rx_packets": 2, k.mib("ReasmFails"): 1} if k.ifam == 6 else
      {"rx_packets": 2, "Ip.ReasmFails": 1, "IpExt.ReasmOverlaps": 1})
def _(k, c):
    return _ifrag(k, c, [(0, 64), (48, 1000)])


@case("inner fragment: the first one only", exp={"rx_packets": 1})
def _(k, c):
    return _ifrag(k, c, [(0, 64)])


# --- 5. inner IPv4 header -----------------------------------------------------

@case("inner IPv4: IHL 4", kinds=I4, exp={"drop_header": 1, "rx_length_errors": 1, "rx_errors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id, ihl=4))]


@case("inner IPv4: IHL 0", kinds=I4, exp={"drop_header": 1, "rx_length_errors": 1, "rx_errors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id, ihl=0))]


@case("inner IPv4: IHL 15, options past the end of the packet", kinds=I4,
      exp={"rx_packets": 1, "Ip.InHdrErrors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id, ihl=15, data=b""))]


@case("inner IPv4: total length below the header length", kinds=I4,
      exp={"rx_packets": 1, "Ip.InHdrErrors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id, tot=19))]


@case("inner IPv4: bad header checksum", kinds=I4,
      exp={"rx_packets": 1, "Ip.InHdrErrors": 1, "IpExt.InCsumErrors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id, ck=0x1234))]


@case("inner IPv4: NOP options", kinds=I4, exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.wrap(k.echo(c.id, opts=b"\x01" * 8))]


@case("inner IPv4: option length past the header", kinds=I4,
      exp={"rx_packets": 1, "Ip.InHdrErrors": 1, "Icmp.OutParmProbs": 1},
      checks=[b_err(4, 12, 0, depth=1, what="(parameter problem) through the tunnel ")])
def _(k, c):
    return [k.wrap(k.echo(c.id, opts=b"\x07\x28\x04\x00"))]


@case("inner IPv4: echo to the limited broadcast address (ignored)", kinds=I4,
      exp={"rx_packets": 1, "Icmp.InErrors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id, dst="255.255.255.255"))]


# --- 6. inner IPv6 header -----------------------------------------------------


@case("inner IPv6: loopback source", kinds=I6, exp={"rx_packets": 1, "Ip6.InHdrErrors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id, src="::1"))]


@case("inner IPv6: multicast destination of scope 0", kinds=I6,
      exp={"rx_packets": 1, "Ip6.InHdrErrors": 1})
def _(k, c):
    return [k.wrap(k.echo(c.id, dst="ff00::1"))]


@case("inner IPv6: hop-by-hop options", kinds=I6, exp={"rx_packets": 1}, reply=True)
def _(k, c):
    return [k.wrap(ip6(opthdr(58, b"") + k.echo(c.id)[40:], k.i_peer, k.i_local, 0))]


@case("inner IPv6: destination options past the packet", kinds=I6,
      exp={"rx_packets": 1, "Ip6.InHdrErrors": 1})
def _(k, c):
    return [k.wrap(ip6(b"\x3a\x20" + bytes(6), k.i_peer, k.i_local, 60))]


@case("inner IPv6: atomic fragment", kinds=I6, exp={"rx_packets": 1, "Ip6.ReasmOKs": 1},
      reply=True)
def _(k, c):
    e = k.echo(c.id)
    return [k.wrap(ip6(fraghdr(58, 0, False, c.id) + e[40:], k.i_peer, k.i_local, 44))]


@case("inner IPv6: routing header type 0, segments left 1", kinds=I6,
      exp={"rx_packets": 1, "Ip6.InHdrErrors": 1, "Icmp6.OutParmProblems": 1},
      checks=[b_err(6, 4, 0, depth=1, what="(parameter problem) through the tunnel ")])
def _(k, c):
    e = k.echo(c.id)
    return [k.wrap(ip6(rthdr(58, 0, 1) + e[40:], k.i_peer, k.i_local, 43))]


@case("inner IPv6: 40 bytes, no next header", kinds=I6, exp={"rx_packets": 1})
def _(k, c):
    return [k.wrap(ip6(b"", k.i_peer, k.i_local, 59))]


# --- 7. keepalive look-alikes -------------------------------------------------------

def _marker(f):
    return ip4(b"", "0.0.0.0", "0.0.0.0", 59, ttl=1, ident=0) if f == 4 else \
        ip6(b"", "::", "::", 59, hlim=1)


def _mid(k, **kw):
    """The peer's probe as it reaches us: "mid" goes back to the peer."""
    return ip(_marker(k.ifam), k.o_local, k.o_peer, k.proto, ttl=255, ident=0, **kw)


# Regression: reflect() once sent the received skb back without making it
# private, and the new link-layer header landed in data a packet tap
# (tcpdump on the underlay) still shared.


@case("keepalive: the peer's probe is reflected", exp={"keepalive_rx": 1},
      checks=[reflected])
def _(k, c):
    return [k.wrap(_mid(k))]


@case("keepalive: our marker back from the peer", exp={"keepalive_rx": 1},
      checks=[not_reflected])
def _(k, c):
    return [k.wrap(_marker(k.ifam))]


@case("keepalive: probe with a bad mid checksum is not reflected", kinds=("ipip",),
      exp={"rx_packets": 1, "Ip.InHdrErrors": 1, "IpExt.InCsumErrors": 1},
      checks=[not_reflected])
def _(k, c):
    return [k.wrap(_mid(k, ck=0x1111))]


@case("keepalive: probe from a stranger is not reflected",
      exp=lambda k: {"no_tunnel": 1, k.oicmp("OutDestUnreachs"): 1},
      checks=[not_reflected])
def _(k, c):
    return [k.wrap(ip(_marker(k.ifam), k.o_local, k.o_stranger, k.proto, ttl=255, ident=0),
                   src=k.o_stranger)]


# --- 8. nested encapsulation ----------------------------------------------------------

K4 = dict(src="192.0.2.2", dst="192.0.2.1")
K6 = dict(src="2001:db8::2", dst="2001:db8::1")


def as_ipip(p):
    return ip4(p, proto=4, **K4)


def as_6in4(p):
    return ip4(p, proto=41, **K4)


def as_4in6(p):
    return ip6(p, nh=4, **K6)


def e_ipip(c):
    return echo(c.id, "10.0.0.2", "10.0.0.1")


def e_6in4(c):
    return echo(c.id, "2001:db8:6::2", "2001:db8:6::1")


def e_4in6(c):
    return echo(c.id, "10.0.1.2", "10.0.1.1")


@case("nested: ipip in ipip", kinds=("ipip",), exp={"rx_packets": 2}, reply=True)
def _(k, c):
    return [as_ipip(as_ipip(e_ipip(c)))]


@case("nested: 6in4 in ipip", kinds=("ipip",),
      exp={"rx_packets": 1, "six0.rx_packets": 1}, reply=True)
def _(k, c):
    return [as_ipip(as_6in4(e_6in4(c)))]


@case("nested: 4in6 in 6in4", kinds=("6in4",),
      exp={"rx_packets": 1, "v4in6.rx_packets": 1}, reply=True)
def _(k, c):
    return [as_6in4(as_4in6(e_4in6(c)))]


@case("nested: ipip in 4in6 in 6in4", kinds=("6in4",),
      exp={"rx_packets": 1, "v4in6.rx_packets": 1, "ipip0.rx_packets": 1}, reply=True)
def _(k, c):
    return [as_6in4(as_4in6(as_ipip(e_ipip(c))))]


@case("nested: ipip in 4in6", kinds=("4in6",),
      exp={"rx_packets": 1, "ipip0.rx_packets": 1}, reply=True)
def _(k, c):
    return [as_4in6(as_ipip(e_ipip(c)))]


@case("nested: 6in4 in 4in6", kinds=("4in6",),
      exp={"rx_packets": 1, "six0.rx_packets": 1}, reply=True)
def _(k, c):
    return [as_4in6(as_6in4(e_6in4(c)))]


@case("nested: ipip 40 deep", kinds=("ipip",), exp={"rx_packets": 40}, reply=True)
def _(k, c):
    p = e_ipip(c)
    for _ in range(40):
        p = as_ipip(p)
    return [p]


@case("nested: 6in4 and 4in6 alternating 20 deep", kinds=("6in4", "4in6"),
      exp={"six0.rx_packets": 10, "v4in6.rx_packets": 10}, reply=True)
def _(k, c):
    if k.name == "6in4":
        p = e_4in6(c)
        for _ in range(10):
            p = as_6in4(as_4in6(p))
    else:
        p = e_6in4(c)
        for _ in range(10):
            p = as_4in6(as_6in4(p))
    return [p]


def _stranger_unreach(R):
    """tunnel4/tunnel6 answered the stranger: port unreachable, in the
    family of the packet that came out of the tunnel"""
    f = R.k.ifam
    return b_err(f, 3 if f == 4 else 1, 3 if f == 4 else 4, depth=0,
                 dst="192.0.2.3" if f == 4 else "2001:db8::3",
                 what="(port unreachable) ")(R)


@case("nested: from a stranger inside the tunnel",
      exp=lambda k: {"rx_packets": 1, "no_tunnel": 1, k.icmp("OutDestUnreachs"): 1},
      checks=[_stranger_unreach])
def _(k, c):
    # the packet that comes out of our tunnel is itself a tunnel packet,
    # from an address that has no tunnel with us
    if k.name == "6in4":
        return [k.wrap(ip6(e_4in6(c), "2001:db8::3", "2001:db8::1", 4))]
    if k.name == "4in6":
        return [k.wrap(ip4(e_6in4(c), "192.0.2.3", "192.0.2.1", 41))]
    return [k.wrap(ip4(e_ipip(c), "192.0.2.3", "192.0.2.1", 4))]


@case("nested: wrong family two levels down", kinds=("ipip",),
      exp={"rx_packets": 1, "drop_header": 1, "rx_length_errors": 1, "rx_errors": 1})
def _(k, c):
    return [as_ipip(as_ipip(e_6in4(c)))]


# --- 9. 6to4 (RFC 3964) on the automatic tunnel ---------------------------------------

def _6to4(k, c, src, osrc="192.0.2.2", dst=AUTO_ADDR, odst=AUTO_LOCAL, **kw):
    return ip4(echo(c.id, src, dst, **kw), osrc, odst, 41)


@case("6to4: valid", kinds=I6, exp={"auto.rx_packets": 1}, reply=True)
def _(k, c):
    return [_6to4(k, c, v6to4("192.0.2.2"))]


@case("6to4: valid, from another 6to4 site", kinds=I6, exp={"auto.rx_packets": 1}, reply=True)
def _(k, c):
    return [_6to4(k, c, v6to4("192.0.2.3"), osrc="192.0.2.3")]


@case("6to4: native source (a relay)", kinds=I6, exp={"auto.rx_packets": 1})
def _(k, c):
    return [_6to4(k, c, "2001:db8:77::1")]


for _name, _src, _osrc in (
        ("source embeds another IPv4 address", v6to4("192.0.2.3"), "192.0.2.2"),
        ("source embeds a private address (10/8)", v6to4("10.77.0.2"), "10.77.0.2"),
        ("source embeds a private address (172.16/12)", v6to4("172.16.7.7"), "172.16.7.7"),
        ("source embeds a private address (192.168/16)", v6to4("192.168.7.7"), "192.168.7.7"),
        ("source embeds a link-local address", v6to4("169.254.7.7"), "169.254.7.7"),
        ("source embeds a loopback address", v6to4("127.0.0.1"), "192.0.2.2"),
        ("source embeds a multicast address", v6to4("224.0.0.5"), "192.0.2.2"),
        ("source embeds 0.0.0.0", v6to4("0.0.0.0"), "192.0.2.2"),
        ("source embeds 255.255.255.255", v6to4("255.255.255.255"), "192.0.2.2")):
    case("6to4: " + _name, kinds=I6, exp={"auto.drop_6to4": 1, "auto.rx_dropped": 1})(
        lambda k, c, s=_src, o=_osrc: [_6to4(k, c, s, osrc=o)])


@case("6to4: destination embeds another address of A", kinds=I6,
      exp={"auto.drop_6to4": 1, "auto.rx_dropped": 1})
def _(k, c):
    return [_6to4(k, c, v6to4("192.0.2.2"), dst=v6to4("192.0.2.1"))]


@case("6to4: IPv4 inside protocol 41", kinds=I6,
      exp={"auto.drop_6to4": 1, "auto.rx_dropped": 1})
def _(k, c):
    return [ip4(echo(c.id, "10.0.0.2", "10.0.0.1", data=PAYLOAD * 2), "192.0.2.2",
                AUTO_LOCAL, 41)]


@case("6to4: a keepalive probe is not reflected", kinds=I6,
      exp={"auto.drop_6to4": 1, "auto.rx_dropped": 1}, checks=[not_reflected])
def _(k, c):
    return [ip4(ip4(_marker(6), AUTO_LOCAL, "192.0.2.2", 41, ttl=255), "192.0.2.2",
                AUTO_LOCAL, 41)]


@case("6to4: inner header truncated", kinds=I6)
def _(k, c):
    return [ip4(_6to4(k, c, v6to4("192.0.2.2"))[20:50], "192.0.2.2", AUTO_LOCAL, 41)]


# --- 10. TCP MSS clamp on receive -----------------------------------------------------
#
# SYNs from the peer's side to C, forwarded by A: what C gets is compared
# with what was sent, byte for byte but for the TTL / hop limit, the IPv4
# header checksum and, when clamped, the MSS value and the TCP checksum.
# The TCP checksum must come out right when it went in right (and exactly as
# wrong when it went in wrong): the ones' complement sum over the segment
# and pseudo header is what the incremental update keeps.

MSS1460 = b"\x02\x04\x05\xb4"
TCP_OPT_CASES = [
    # name, options, expect clamped, extra tcp() arguments
    ("MSS 1460", MSS1460, True, {}),
    ("MSS 536, below the path", b"\x02\x04\x02\x18", False, {}),
    ("MSS 65535", b"\x02\x04\xff\xff", True, {}),
    ("MSS at an odd offset", b"\x01" + MSS1460 + b"\x01\x01\x01", True, {}),
    ("Linux's SYN options", MSS1460 + b"\x04\x02\x08\x0a" + bytes(8) + b"\x01\x03\x03\x07",
     True, {}),
    ("36 NOPs then MSS", b"\x01" * 36 + MSS1460, True, {}),
    ("EOL before MSS", b"\x00" + MSS1460 + b"\x00\x00\x00", False, {}),
    ("MSS, EOL, garbage", MSS1460 + b"\x00\xff\xff\xff", True, {}),
    ("zero-length option before MSS", b"\x1e\x00" + MSS1460 + b"\x01\x01", False, {}),
    ("one-byte option length before MSS", b"\x1e\x01" + MSS1460 + b"\x01\x01", False, {}),
    ("option length past the header", MSS1460 + b"\x08\x28\x00\x00", False, {}),
    ("MSS option of length 3", b"\x02\x03\x05\xb4", False, {}),
    ("MSS option of length 6", b"\x02\x06\x05\xb4\x00\x00\x01\x01", False, {}),
    ("two MSS options", MSS1460 + MSS1460, False, {}),
    ("MSS cut by the end of the header", b"\x01\x01\x02\x04", False, {}),
    ("option kind as the last byte", b"\x01\x01\x01\x02", False, {}),
    ("data offset 4", MSS1460, False, {"doff": 4}),
    ("data offset 5, MSS in the payload", b"", False, {"data": MSS1460}),
    ("data offset past the packet", MSS1460, False, {"doff": 15}),
    ("SYN-ACK", MSS1460, True, {"flags": 0x12}),
    ("ACK without SYN", MSS1460, False, {"flags": 0x10}),
    ("bad TCP checksum", MSS1460, True, {"bad_ck": True}),
]


def _tcp_pkt(k, c, opts, ipkw=None, **kw):
    seg = tcp(40000 + c.id % 20000, 7000, k.i_peer, k.i_c, opts=opts, **kw)
    return ip(seg, k.i_peer, k.i_c, 6, ident=c.id, **(ipkw or {}))


def _l4_of(p):
    """(ip header bytes, transport bytes, ip family) of a packet."""
    if p[0] >> 4 == 4:
        ihl = (p[0] & 15) * 4
        return p[:ihl], p[ihl:struct.unpack_from("!H", p, 2)[0]], 4
    nh, off = p[6], 40
    while nh in (0, 43, 60, 44):
        nh2 = p[off]
        off += 8 if nh == 44 else (p[off + 1] + 1) * 8
        nh = nh2
    return p[:off], p[off:40 + struct.unpack_from("!H", p, 4)[0]], 6


def _sum(p, seg):
    """ones' complement sum of segment and pseudo header, 0 and 0xffff alike"""
    h, _, f = _l4_of(p)
    src, dst = (h[12:16], h[16:20]) if f == 4 else (h[8:24], h[24:40])
    ph = src + dst + (struct.pack("!BBH", 0, 6, len(seg)) if f == 4 else
                      struct.pack("!I3xB", len(seg), 6))
    return csum(ph + seg) % 0xffff


def tcp_check(sent, clamp_to, nonfirst=False, tx=False):
    """tx: the segment went from C into the tunnel, look for it at B"""
    def check(R):
        k = R.k
        if tx:
            got = [e["l3"] for e in R.b if e["t"] == "ip" and e["depth"] == 1 and
                   e["src"] == k.i_c and e["ident"] == R.c_id]
        else:
            got = [e["l3"] for e in R.c if e["t"] == "ip" and e["depth"] == 0 and
                   e["src"] == k.i_peer and e["ident"] == R.c_id]
        if not got:
            return "the segment did not reach %s" % ("B" if tx else "C")
        p = got[0]
        sh, st, f = _l4_of(sent)
        gh, gt, _ = _l4_of(p)
        if f == 4:
            if gh[8] != sh[8] - 1 or csum(gh) != 0 or gh[:8] + gh[9:10] + gh[12:] != \
                    sh[:8] + sh[9:10] + sh[12:]:
                return "IPv4 header changed beyond the TTL: %s" % gh.hex()
        elif gh[:7] + gh[8:] != sh[:7] + sh[8:] or gh[7] != sh[7] - 1:
            return "IPv6 headers changed beyond the hop limit"
        if nonfirst or clamp_to is None:
            return None if gt == st else "segment changed: sent %s got %s" % (st.hex(), gt.hex())
        if len(gt) != len(st):
            return "segment length changed"
        diff = [i for i in range(len(st)) if st[i] != gt[i]]
        off = st.find(MSS1460) if MSS1460 in st else st.find(b"\x02\x04\xff\xff")
        allowed = {16, 17, off + 2, off + 3}
        if not set(diff) <= allowed:
            return "bytes %s changed, only the MSS and checksum may" % sorted(set(diff) - allowed)
        mss = struct.unpack_from("!H", gt, off + 2)[0]
        if mss != clamp_to:
            return "MSS %d, expected %d" % (mss, clamp_to)
        if _sum(p, gt) != _sum(sent, st):
            return "TCP checksum broken by the clamp (sum %04x, sent %04x)" % (
                _sum(p, gt), _sum(sent, st))
        return None
    return check


def _tcp_pkt_tx(k, c, opts, **kw):
    seg = tcp(7000, 40000 + c.id % 20000, k.i_c, k.i_peer, opts=opts, **kw)
    return ip(seg, k.i_c, k.i_peer, 6, ident=c.id)


for _name, _opts, _clamp, _kw in TCP_OPT_CASES:
    def _mk(opts=_opts, kw=_kw):
        return lambda k, c: [k.wrap(_tcp_pkt(k, c, opts, **kw))]

    def _chk(opts=_opts, kw=_kw, clamp=_clamp):
        def check(R):
            return tcp_check(_tcp_pkt(R.k, R.case_ctx, opts, **kw),
                             R.k.mss if clamp else None)(R)
        return check
    case("TCP SYN to C: " + _name,
         exp={"rx_packets": 1, "mss_clamped": 1} if _clamp else {"rx_packets": 1},
         reply=None, checks=[_chk()])(_mk())

# The same from C into the tunnel: clamped on transmit, before the
# encapsulation, seen on the underlay at B.
for _name, _opts, _clamp, _kw in TCP_OPT_CASES:
    def _mk(opts=_opts, kw=_kw):
        return lambda k, c: [_tcp_pkt_tx(k, c, opts, **kw)]

    def _chk(opts=_opts, kw=_kw, clamp=_clamp):
        def check(R):
            return tcp_check(_tcp_pkt_tx(R.k, R.case_ctx, opts, **kw),
                             R.k.mss if clamp else None, tx=True)(R)
        return check
    case("TCP SYN from C into the tunnel: " + _name,
         exp={"mss_clamped": 1} if _clamp else {}, reply=None, from_c=True,
         checks=[_chk()])(_mk())


def _syn_chk(build, clamp, nonfirst=False):
    def check(R):
        return tcp_check(build(R.k, R.case_ctx), R.k.mss if clamp else None,
                         nonfirst)(R)
    return check


def _syn_ipopts(k, c):
    return ip4(tcp(40000, 7000, k.i_peer, k.i_c, opts=MSS1460), k.i_peer, k.i_c, 6,
               ident=c.id, opts=b"\x01\x01\x01\x00")


case("TCP SYN to C: inner IPv4 options before TCP", kinds=I4,
     exp={"rx_packets": 1, "mss_clamped": 1}, reply=None,
     checks=[_syn_chk(_syn_ipopts, True)])(lambda k, c: [k.wrap(_syn_ipopts(k, c))])


def _syn_dstopt(k, c):
    return ip6(opthdr(6, b"") + tcp(40000, 7000, k.i_peer, k.i_c, opts=MSS1460),
               k.i_peer, k.i_c, 60, fl=c.id)


case("TCP SYN to C: destination options before TCP", kinds=I6,
     exp={"rx_packets": 1, "mss_clamped": 1}, reply=None,
     checks=[_syn_chk(_syn_dstopt, True)])(lambda k, c: [k.wrap(_syn_dstopt(k, c))])


def _syn_nonfirst(k, c):
    seg = tcp(40000, 7000, k.i_peer, k.i_c, opts=MSS1460)
    if k.ifam == 4:
        return ip4(seg, k.i_peer, k.i_c, 6, ident=c.id, off=8)
    return ip6(fraghdr(6, 8, False, c.id) + seg, k.i_peer, k.i_c, 44, fl=c.id)


def _syn_dstopt_bad(k, c):
    return ip6(b"\x06\x20" + bytes(6) + tcp(40000, 7000, k.i_peer, k.i_c, opts=MSS1460),
               k.i_peer, k.i_c, 60, fl=c.id)


def _raw_check(build):
    """forwarded as it came, but for the hop limit"""
    def check(R):
        sent = build(R.k, R.case_ctx)
        got = [e["l3"] for e in R.c if e["t"] == "ip" and e["depth"] == 0 and
               e["src"] == R.k.i_peer and e["ident"] == R.c_id]
        if not got:
            return "the packet did not reach C"
        g = got[0]
        if g[:7] + g[8:] != sent[:7] + sent[8:] or g[7] != sent[7] - 1:
            return "changed on the way: sent %s got %s" % (sent.hex(), g.hex())
        return None
    return check


case("TCP SYN to C: behind destination options running past the packet", kinds=I6,
     exp={"rx_packets": 1}, reply=None, checks=[_raw_check(_syn_dstopt_bad)])(
         lambda k, c: [k.wrap(_syn_dstopt_bad(k, c))])


case("TCP SYN to C: SYN-like bytes in a non-first fragment",
     exp={"rx_packets": 1}, reply=None,
     checks=[_syn_chk(_syn_nonfirst, False, nonfirst=True)])(
         lambda k, c: [k.wrap(_syn_nonfirst(k, c))])


# --- 11. ICMP errors about our outer packets --------------------------------------------
#
# As a router on the path would send them to A (from $NSB's address),
# quoting an outer packet of A's and the inner packet it carried, from C
# to the peer's side.  Valid ones lower the path MTU of that outer route
# only and are relayed to C; forged or truncated ones must not touch the
# path MTU of any other tunnel, and nothing but well-formed errors about
# packets that went into that very tunnel may reach C.

def inner_from_c(k, dst=None, proto=17):
    dst = dst or k.i_peer
    return ip(udp(5555, 6666, PAYLOAD, k.i_c, dst), k.i_c, dst, proto, df=True,
              ident=4242)


def quote(k, inner=None, src=None, dst=None, proto=None, **kw):
    """The outer packet A would have sent, as an ICMP error quotes it."""
    inner = inner if inner is not None else inner_from_c(k)
    return ip(inner, src or k.o_local, dst or k.o_peer,
              k.proto if proto is None else proto, df=True, ttl=63, **kw)


def icmp_err(k, typ, code, info, quoted, src=None, ck=None):
    """An ICMP(v6) error of the underlay about an outer packet of A."""
    src = src or k.o_peer
    if k.ofam == 4:
        return ip4(icmp4(typ, code, struct.pack("!I", info), quoted, ck), src,
                   k.o_local, 1)
    return ip6(icmp6(typ, code, struct.pack("!I", info), quoted, src, k.o_local, ck),
               src, k.o_local, 58)


def too_big(k, mtu, quoted):
    if k.ofam == 4:
        return icmp_err(k, 3, 4, mtu & 0xffff, quoted)
    return icmp_err(k, 2, 0, mtu, quoted)


def relayed_too_big(k, mtu):
    """What C should get for a "too big" of @mtu about the main tunnel."""
    if k.name == "ipip":
        return c_err(4, 3, 4, info=mtu - k.hlen, quote=inner_from_c(k))
    if k.name == "6in4":		# never below 1280 for IPv6 (RFC 4213 3.2)
        return c_err(6, 2, 0, info=max(mtu - k.hlen, 1280), quote=inner_from_c(k))
    # an IPv6 path is never below 1280 either
    return c_err(4, 3, 4, info=max(mtu, 1280) - k.hlen, quote=inner_from_c(k))


def tb_mib(k):
    return "Icmp6.OutPktTooBigs" if k.ifam == 6 else "Icmp.OutDestUnreachs"


def icase(name, kinds=ALL, exp=None, checks=(), known=None, ignore=()):
    """An ICMP class: path MTU exceptions are flushed after it."""
    return case(name, kinds=kinds, exp=exp, reply=None, checks=checks,
                teardown=flush, known=known, ignore=ignore)


icase("ICMP too big 1400, valid",
      exp=lambda k: {"pmtu_updates": 1, tb_mib(k): 1},
      checks=[lambda R: relayed_too_big(R.k, 1400)(R), pmtu("main", 1400),
              pmtu("other", None)])(
    lambda k, c: [too_big(k, 1400, quote(k))])

icase("ICMP too big 1400 about the other tunnel",
      exp=lambda k: {"other.pmtu_updates": 1, tb_mib(k): 1},
      checks=[lambda R: c_err(R.k.ifam, 3 if R.k.ifam == 4 else 2, 4 if R.k.ifam == 4 else 0,
                              quote=inner_from_c(R.k, R.k.i_other))(R),
              pmtu("main", None), pmtu("other", 1400)])(
    lambda k, c: [too_big(k, 1400, quote(k, inner_from_c(k, k.i_other), dst=k.o_other))])

icase("ICMP too big: inner packet went into another tunnel",
      exp={"pmtu_updates": 1}, checks=[c_no_err, pmtu("main", 1400), pmtu("other", None)])(
    lambda k, c: [too_big(k, 1400, quote(k, inner_from_c(k, k.i_other)))])

icase("ICMP too big: quoted source is not ours", checks=[c_no_err, pmtu("main", None)])(
    lambda k, c: [too_big(k, 1400, quote(k, src=k.o_stranger))])

icase("ICMP too big: quoted destination is not a tunnel's",
      checks=[c_no_err, pmtu("main", None), pmtu("other", None)])(
    lambda k, c: [too_big(k, 1400, quote(k, dst=k.o_stranger))])

icase("ICMP too big: quoted packet is the peer's to us",
      checks=[c_no_err, pmtu("main", None)])(
    lambda k, c: [too_big(k, 1400, quote(k, src=k.o_peer, dst=k.o_local))])

icase("ICMP too big: quoted protocol is not a tunnel",
      checks=[c_no_err, pmtu("main", None)])(
    lambda k, c: [too_big(k, 1400, quote(k, proto=47))])

icase("ICMP too big: inner packet truncated to 8 bytes",
      exp={"pmtu_updates": 1}, checks=[c_no_err, pmtu("main", 1400)])(
    lambda k, c: [too_big(k, 1400, quote(k)[:(20 if k.ofam == 4 else 40) + 8])])

icase("ICMP too big: outer header truncated",
      exp=lambda k: {k.oicmp("InErrors"): 1},
      checks=[c_no_err, pmtu("main", None)])(
    lambda k, c: [too_big(k, 1400, quote(k)[:24 if k.ofam == 4 else 30])])

icase("ICMP too big: inner header of the other family",
      exp={"pmtu_updates": 1}, checks=[c_no_err, pmtu("main", 1400)])(
    lambda k, c: [too_big(k, 1400, quote(k, echo(7, "2001:db8:9::2", "2001:db8:6::2")
                                         if k.ifam == 4 else
                                         echo(7, "10.9.0.2", "10.0.0.2")))])

icase("ICMP too big: inner version 0", exp={"pmtu_updates": 1},
      checks=[c_no_err, pmtu("main", 1400)])(
    lambda k, c: [too_big(k, 1400, quote(k, set_byte(inner_from_c(k), 0,
                                                      inner_from_c(k)[0] & 15)))])

icase("ICMP too big: inner source not routable", exp={"pmtu_updates": 1},
      checks=[c_no_err])(
    lambda k, c: [too_big(k, 1400, quote(k, ip(udp(1, 2, PAYLOAD, x, k.i_peer), x, k.i_peer,
                                               17, df=True)))
                  for x in ["198.51.100.9" if k.ifam == 4 else "2001:db8:5151::9"]])

icase("ICMP too big: inner packet is an ICMP error", exp={"pmtu_updates": 1},
      checks=[c_no_err])(
    lambda k, c: [too_big(k, 1400, quote(k, ip(
        icmp4(3, 1, bytes(4), bytes(28)) if k.ifam == 4 else
        icmp6(1, 3, bytes(4), bytes(48), k.i_c, k.i_peer),
        k.i_c, k.i_peer, 1 if k.ifam == 4 else 58, df=True)))])

icase("ICMP too big: inner packet is a non-first fragment", kinds=I4,
      exp={"pmtu_updates": 1}, checks=[c_no_err])(
    lambda k, c: [too_big(k, 1400, quote(k, ip4(udp(1, 2, PAYLOAD, k.i_c, k.i_peer),
                                                 k.i_c, k.i_peer, 17, off=8)))])

icase("ICMP too big: inner destination multicast", exp={"pmtu_updates": 1},
      checks=[c_no_err])(
    lambda k, c: [too_big(k, 1400, quote(k, ip(udp(1, 2, PAYLOAD, k.i_c, d), k.i_c, d, 17)))
                  for d in ["239.1.2.3" if k.ifam == 4 else "ff0e::1"]])

icase("ICMP too big: the inner sender is A itself",
      exp=lambda k: {"pmtu_updates": 1, tb_mib(k): 1, k.icmp("InErrors"): 1},
      checks=[c_no_err])(
    lambda k, c: [too_big(k, 1400, quote(k, ip(udp(5, 6, PAYLOAD, k.i_local, k.i_peer),
                                               k.i_local, k.i_peer, 17, df=True)))])

icase("ICMP too big 576", exp=lambda k: {"pmtu_updates": 1, tb_mib(k): 1},
      checks=[lambda R: relayed_too_big(R.k, 576)(R),
              lambda R: pmtu("main", 576 if R.k.ofam == 4 else None)(R)])(
    lambda k, c: [too_big(k, 576, quote(k))])

# Regression: relay_icmp6() once relayed Packet Too Big to the inner sender
# even when the MTU did not lower the tunnel path.

icase("ICMP too big of the same MTU as the route", exp={"pmtu_updates": 1},
      ignore=("Icmp6.OutPktTooBigs",),
      checks=[c_no_err, lambda R: pmtu("main", 1500 if R.k.ofam == 4 else None)(R)])(
    lambda k, c: [too_big(k, 1500, quote(k))])

icase("ICMP too big 65535", exp={"pmtu_updates": 1}, checks=[c_no_err, pmtu("main", None)],
      ignore=("Icmp6.OutPktTooBigs",))(
    lambda k, c: [too_big(k, 65535, quote(k))])

icase("ICMP too big 0", kinds=O4, exp={"pmtu_updates": 1},
      checks=[c_no_err, pmtu("main", 552)])(
    lambda k, c: [too_big(k, 0, quote(k))])

# Regression: ipt_err4() once relayed the underlay's MTU minus 20 to the
# inner sender however small (ICMP frag needed with MTU < 68).

icase("ICMP too big 40: MTU below the IPv4 minimum", kinds=O4,
      exp={"pmtu_updates": 1}, ignore=("Icmp.OutDestUnreachs", "Icmp6.OutPktTooBigs"),
      checks=[c_relay_min(4, 3, 68), c_relay_min(6, 2, 1280), pmtu("main", 552)])(lambda k, c: [too_big(k, 40, quote(k))])

icase("ICMP too big 80: inner MTU would be 60, below 68", kinds=O4,
      exp={"pmtu_updates": 1}, ignore=("Icmp.OutDestUnreachs", "Icmp6.OutPktTooBigs"),
      checks=[c_relay_min(4, 3, 68), c_relay_min(6, 2, 1280), pmtu("main", 552)])(lambda k, c: [too_big(k, 80, quote(k))])

icase("ICMP too big 88: inner MTU exactly 68", kinds=O4,
      exp=lambda k: {"pmtu_updates": 1, tb_mib(k): 1},
      checks=[lambda R: relayed_too_big(R.k, 88)(R), pmtu("main", 552)])(
    lambda k, c: [too_big(k, 88, quote(k))])

icase("ICMPv6 too big 1000: below the IPv6 minimum", kinds=O6,
      exp=lambda k: {"pmtu_updates": 1, tb_mib(k): 1},
      checks=[lambda R: relayed_too_big(R.k, 1000)(R), pmtu("main", None)])(
    lambda k, c: [too_big(k, 1000, quote(k))])

icase("ICMPv6 too big 0", kinds=O6, exp=lambda k: {"pmtu_updates": 1, tb_mib(k): 1},
      checks=[lambda R: relayed_too_big(R.k, 0)(R), pmtu("main", None)])(
    lambda k, c: [too_big(k, 0, quote(k))])

icase("ICMPv6 too big 0xffffffff", kinds=O6, exp={"pmtu_updates": 1},
      checks=[c_no_err, pmtu("main", None)])(
    lambda k, c: [too_big(k, 0xffffffff, quote(k))])

icase("ICMPv6 too big quoting the encapsulation limit option", kinds=O6,
      exp=lambda k: {"pmtu_updates": 1, tb_mib(k): 1},
      checks=[lambda R: relayed_too_big(R.k, 1400)(R), pmtu("main", 1400)])(
    lambda k, c: [too_big(k, 1400, ip6(opthdr(4, bytes([4, 1, 4])) + inner_from_c(k),
                                       k.o_local, k.o_peer, 60))])

icase("ICMPv6 too big quoting a non-first outer fragment", kinds=O6,
      checks=[c_no_err, pmtu("main", None)])(
    lambda k, c: [too_big(k, 1400, ip6(fraghdr(4, 64, False, 9) + PAYLOAD * 2,
                                       k.o_local, k.o_peer, 44))])

icase("ICMPv6 too big quoting destination options past the quote", kinds=O6,
      exp={"Icmp6.InErrors": 1}, checks=[c_no_err, pmtu("main", None)])(
    lambda k, c: [too_big(k, 1400, ip6(b"\x04\x20" + bytes(14), k.o_local, k.o_peer, 60))])

icase("ICMP too big, quoted outer IPv4 with options", kinds=O4,
      exp=lambda k: {"pmtu_updates": 1, tb_mib(k): 1},
      checks=[lambda R: relayed_too_big(R.k, 1400)(R), pmtu("main", 1400)])(
    lambda k, c: [too_big(k, 1400, quote(k, opts=b"\x01\x01\x01\x00"))])

icase("ICMP too big, quoted outer IHL 4", kinds=O4, exp={"Icmp.InErrors": 1},
      checks=[c_no_err, pmtu("main", None)])(
    lambda k, c: [too_big(k, 1400, quote(k, ihl=4))])

icase("ICMP too big, quoted outer IHL 15 past the quote", kinds=O4,
      exp={"Icmp.InErrors": 1}, checks=[c_no_err, pmtu("main", None)])(
    lambda k, c: [too_big(k, 1400, quote(k, ihl=15)[:40])])


icase("ICMP too big about one of our keepalive probes", exp={"pmtu_updates": 1},
      checks=[c_no_err, pmtu("main", 1400)])(
    lambda k, c: [too_big(k, 1400, quote(k, ip(_marker(k.ifam), k.o_peer, k.o_local,
                                                k.proto, ttl=255)))])

# An ICMP error that reaches A through one of its tunnels, about the outer
# packets of a tunnel of another kind whose underlay family that tunnel
# carries (or of itself, for ipip).
THROUGH = {"ipip": "ipip", "6in4": "4in6", "4in6": "ipip"}


def _through_exp(k):
    t = KINDS[THROUGH[k.name]]
    return {"rx_packets": 1, t.main + ".pmtu_updates": 1, tb_mib(t): 1}


def _through_checks(R):
    t = KINDS[THROUGH[R.k.name]]
    T = Ctx()
    T.__dict__.update(R.__dict__)
    T.k = t
    return relayed_too_big(t, 1400)(T) or pmtu("main", 1400)(T)


icase("ICMP too big arriving through the tunnel", exp=_through_exp,
      checks=[_through_checks])(
    lambda k, c: [k.wrap(too_big(KINDS[THROUGH[k.name]], 1400,
                                 quote(KINDS[THROUGH[k.name]])))])


def _unreach(k, quoted, code4=1, code6=0):
    return icmp_err(k, 3, code4, 0, quoted) if k.ofam == 4 else \
        icmp_err(k, 1, code6, 0, quoted)


def relayed_unreach(R):
    k = R.k
    if k.ifam == 4:
        return c_err(4, 3, 1, quote=inner_from_c(k))(R)
    return c_err(6, 1, 3, quote=inner_from_c(k))(R)


icase("ICMP host unreachable, valid", exp=lambda k: {k.icmp("OutDestUnreachs"): 1},
      checks=[relayed_unreach, pmtu("main", None)])(
    lambda k, c: [_unreach(k, quote(k))])

icase("ICMP port unreachable, valid", exp=lambda k: {k.icmp("OutDestUnreachs"): 1},
      checks=[relayed_unreach])(
    lambda k, c: [_unreach(k, quote(k), 3, 4)])

icase("ICMP unreachable: inner source not routable", checks=[c_no_err])(
    lambda k, c: [_unreach(k, quote(k, ip(udp(1, 2, PAYLOAD, x, k.i_peer), x, k.i_peer, 17)))
                  for x in ["198.51.100.9" if k.ifam == 4 else "2001:db8:5151::9"]])

icase("ICMP unreachable: inner packet went into another tunnel", checks=[c_no_err])(
    lambda k, c: [_unreach(k, quote(k, inner_from_c(k, k.i_other)))])

icase("ICMP source route failed", kinds=O4, checks=[c_no_err])(
    lambda k, c: [_unreach(k, quote(k), 5)])

icase("ICMP time exceeded (TTL not inherited: not relayed)", checks=[c_no_err])(
    lambda k, c: [icmp_err(k, 11 if k.ofam == 4 else 3, 0, 0, quote(k))])

icase("ICMP parameter problem", checks=[c_no_err])(
    lambda k, c: [icmp_err(k, 12 if k.ofam == 4 else 4, 0, 0, quote(k))])

icase("ICMP redirect for the peer", kinds=O4,
      checks=[c_no_err, lambda R: None if " via " not in R.A.ip("route", "get", R.k.o_peer)
              else "a redirect changed the route to the peer"])(
    lambda k, c: [icmp_err(k, 5, 1, struct.unpack("!I", a4(k.o_stranger))[0], quote(k))])

def _icmp_4bytes(k):
    if k.ofam == 4:
        return ip4(icmp4(3, 4, b"")[:4], k.o_peer, k.o_local, 1)
    return ip6(icmp6(2, 0, b"", b"", k.o_peer, k.o_local), k.o_peer, k.o_local, 58)


icase("ICMP message truncated to 4 bytes", exp=lambda k: {k.oicmp("InErrors"): 1},
      checks=[c_no_err])(lambda k, c: [_icmp_4bytes(k)])

icase("ICMP too big with a bad checksum",
      exp=lambda k: {k.oicmp("InErrors"): 1, k.oicmp("InCsumErrors"): 1},
      checks=[c_no_err, pmtu("main", None)])(
    lambda k, c: [icmp_err(k, 3 if k.ofam == 4 else 2, 4 if k.ofam == 4 else 0, 1400,
                           quote(k), ck=0x7777)])

icase("ICMP too big about the automatic 6to4 tunnel", kinds=I6,
      exp={"auto.pmtu_updates": 1, "Icmp6.OutPktTooBigs": 1},
      checks=[c_err(6, 2, 0, info=1380), pmtu("main", 1400)])(
    lambda k, c: [too_big(k, 1400, ip4(ip6(udp(1, 2, PAYLOAD, k.i_c, v6to4("192.0.2.2")),
                                           k.i_c, v6to4("192.0.2.2"), 17),
                                       AUTO_LOCAL, "192.0.2.2", 41, df=True))])


# --- 12. transmit: tunnels routed over themselves and nested ------------------------

def _udp_send(R, dst, n=1):
    """From a socket of $NSA: the datagrams go into a tunnel."""
    with R.A:
        s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET,
                          socket.SOCK_DGRAM)
    try:
        for _ in range(n):
            try:
                s.sendto(b"loop" * 8, (dst, 9))
            except OSError:
                pass
    finally:
        s.close()


def _lp_setup(R):
    """lp-KIND: remote routed via the peer while it comes up (carrier on),
    then over the tunnel itself."""
    k, A = R.k, R.A
    dev = "lp-" + k.name
    v6 = k.ofam == 6
    A.ip("link", "add", dev, "type", "ipt_" + k.name, "local", k.o_local,
         "remote", k.lp_remote)
    if k.ifam == 4 and not v6:
        A.write("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % dev, "1")
    A.ip(*(["-6"] if v6 else []), "route", "add", k.lp_remote, "via", k.o_peer)
    A.ip("addr", "add", k.lp_local_addr, "dev", dev)
    A.ip("link", "set", dev, "up")
    A.ip(*(["-6"] if v6 else []), "route", "replace", k.lp_remote, "dev", dev)


def _lp_teardown(R):
    R.A.ip("link", "del", "lp-" + R.k.name, check=False)
    R.A.ip(*(["-6"] if R.k.ofam == 6 else []), "route", "del", R.k.lp_remote, check=False)


case("transmit: remote routed over the tunnel itself",
     exp=lambda k: {"lp-%s.drop_loop" % k.name: 3, "lp-%s.collisions" % k.name: 3,
                    "lp-%s.tx_errors" % k.name: 3},
     reply=None, setup=_lp_setup, teardown=_lp_teardown,
     checks=[lambda R: no_b_to(R.k.lp_remote)(R)],
     send=lambda R: _udp_send(R, R.k.lp_peer, 3))(lambda k, c: [])

# Two tunnels routed over each other: each packet is encapsulated again and
# again until the stack's transmit recursion limit drops it.
MUTUAL = {
    # kind: (kind of the partner, remote of A's, remote of the partner's,
    #        A's tunnel address, the peer behind it)
    "ipip": ("ipip", "198.18.1.1", "198.18.2.1", "10.71.4.1/30", "10.71.4.2"),
    "6in4": ("4in6", "198.18.1.6", "2001:db8:fe::6", "2001:db8:71:6::1/64", "2001:db8:71:6::2"),
    "4in6": ("6in4", "2001:db8:fe::4", "198.18.1.4", "10.71.46.1/30", "10.71.46.2"),
}
_LOCAL = {"ipip": "192.0.2.1", "6in4": "192.0.2.1", "4in6": "2001:db8::1"}


def _mu_setup(R):
    k, A = R.k, R.A
    pk, r1, r2, addr, _ = MUTUAL[k.name]
    devs = [("mu-a", k.name, r1), ("mu-b", pk, r2)]
    for dev, kind, remote in devs:
        v6 = ":" in remote
        A.ip(*(["-6"] if v6 else []), "route", "add", remote, "via",
             "2001:db8::2" if v6 else "192.0.2.2")
        A.ip("link", "add", dev, "type", "ipt_" + kind, "local", _LOCAL[kind],
             "remote", remote)
        A.ip("link", "set", dev, "addrgenmode", "none")
        A.ip("link", "set", dev, "up")
    A.ip("addr", "add", addr, "dev", "mu-a")
    # A's remote over B, B's over A: no event tells ipt, transmit finds it
    A.ip(*(["-6"] if ":" in r1 else []), "route", "replace", r1, "dev", "mu-b")
    A.ip(*(["-6"] if ":" in r2 else []), "route", "replace", r2, "dev", "mu-a")


def _mu_teardown(R):
    pk, r1, r2, _, _ = MUTUAL[R.k.name]
    for dev in ("mu-a", "mu-b"):
        R.A.ip("link", "del", dev, check=False)
    for r in (r1, r2):
        R.A.ip(*(["-6"] if ":" in r else []), "route", "del", r, check=False)


def _mu_check(R):
    """Dropped at the recursion limit, counted there."""
    n = sum(R.delta.get("%s.%s" % (d, s), 0) for d in ("mu-a", "mu-b")
            for s in ("tx_dropped", "tx_errors", "drop_loop"))
    if n < 3:
        return "3 packets into two tunnels routed over each other: %d drops counted" % n
    pk, r1, r2, _, _ = MUTUAL[R.k.name]
    return no_b_to(r1)(R) or no_b_to(r2)(R)


case("transmit: two tunnels routed over each other", reply=None,
     ignore=("mu-a.", "mu-b."), setup=_mu_setup, teardown=_mu_teardown, checks=[_mu_check],
     send=lambda R: _udp_send(R, MUTUAL[R.k.name][4], 3))(lambda k, c: [])

# nested on transmit: a tunnel whose remote is routed into another ipt
# tunnel (legal: encapsulated twice, the MTU follows)
NESTED_TX = {
    # kind: (underlying tunnel, remote routed into it, address, peer, MTU)
    "ipip": ("v4in6", "198.18.9.4", "10.72.4.1/30", "10.72.4.2", 1460 - 20),
    "6in4": ("ipip0", "198.18.9.6", "2001:db8:72:6::1/64", "2001:db8:72:6::2", 1480 - 20),
    "4in6": ("six0", "2001:db8:fe::46", "10.72.46.1/30", "10.72.46.2", 1480 - 40),
}


def _nx_setup(R):
    k, A = R.k, R.A
    under, remote, addr, _, _ = NESTED_TX[k.name]
    v6 = ":" in remote
    A.ip(*(["-6"] if v6 else []), "route", "add", remote, "dev", under)
    A.ip("link", "add", "nx-" + k.name, "type", "ipt_" + k.name, "local",
         _LOCAL[k.name], "remote", remote)
    A.ip("link", "set", "nx-" + k.name, "addrgenmode", "none")
    A.ip("addr", "add", addr, "dev", "nx-" + k.name)
    A.ip("link", "set", "nx-" + k.name, "up")


def _nx_teardown(R):
    under, remote, _, _, _ = NESTED_TX[R.k.name]
    R.A.ip("link", "del", "nx-" + R.k.name, check=False)
    R.A.ip(*(["-6"] if ":" in remote else []), "route", "del", remote, check=False)


def _nx_check(R):
    k = R.k
    under, remote, _, peer, mtu = NESTED_TX[k.name]
    got = R.links.dump().get("nx-" + k.name, {}).get("mtu")
    if got != mtu:
        return "nx-%s MTU %s, expected %d (its underlay tunnel's less the header)" % (
            k.name, got, mtu)
    for e in R.b:
        if e["t"] == "ip" and e["depth"] == 1 and e["dst"] == remote:
            if any(x["t"] == "ip" and x["depth"] == 2 and x["dst"] == peer for x in R.b):
                return None
    return "no packet to %s encapsulated twice on the underlay" % peer


case("transmit: nested in another ipt tunnel", reply=None, setup=_nx_setup,
     teardown=_nx_teardown, checks=[_nx_check],
     send=lambda R: _udp_send(R, NESTED_TX[R.k.name][3], 1))(lambda k, c: [])


# --- runner -------------------------------------------------------------------

class Ctx:
    pass


class Runner:
    FENCE_TIMEOUT = 10

    def __init__(self, uapi, nsa, nsb, nsc):
        self.A, self.B, self.C = NS(nsa), NS(nsb), NS(nsc)
        self.links = Links(self.A, xstat_names(uapi))
        la = self.links.dump()
        lb = Links(self.B, []).dump()
        lc = Links(self.C, []).dump()
        self.eth = {4: la["ua"]["mac"] + lb["ub"]["mac"] + b"\x08\x00",
                    6: la["ua"]["mac"] + lb["ub"]["mac"] + b"\x86\xdd"}
        self.eth_c = {4: la["uc"]["mac"] + lc["eth0"]["mac"] + b"\x08\x00",
                      6: la["uc"]["mac"] + lc["eth0"]["mac"] + b"\x86\xdd"}
        with self.B:
            self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            self.tx.bind(("ub", 0))
        with self.C:
            self.tx_c = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            self.tx_c.bind(("eth0", 0))
        self.tb = Tap(self.B, "ub")
        self.tc = Tap(self.C, "eth0")
        self.ta = Tap(self.A, "ua")
        self.next_id = 0x1000
        self.next_fence = 0xf000

    def frame(self, p):
        if isinstance(p, tuple):
            return self.eth[4][:12] + struct.pack("!H", p[0]) + p[1]
        return self.eth[6 if p[0] >> 4 == 6 else 4] + p

    def fence(self, k):
        """A valid echo through the kind's tunnel, and its reply: returns
        the frames $NSB got meanwhile, or None if the reply never came."""
        fid = self.next_fence
        self.next_fence = 0xf000 + (self.next_fence + 1) % 0xfff
        self.tx.send(self.frame(k.wrap(k.echo(fid))))
        got = []
        end = time.time() + self.FENCE_TIMEOUT
        while time.time() < end:
            select.select([self.tb.s], [], [], 0.05)
            new = self.tb.drain()
            got += new
            if any(e["t"] == "echo" and e["id"] == fid for e in events(new)):
                time.sleep(0.02)
                return got + self.tb.drain(), fid
        return None, fid

    def run_case(self, k, cs):
        R = Ctx()
        R.k, R.A, R.links, R.case = k, self.A, self.links, cs
        c = Ctx()
        c.id = self.next_id
        self.next_id += 1
        R.case_ctx, R.c_id = c, c.id
        fails = []
        try:
            if cs.setup:
                cs.setup(R)
            pkts = cs.build(k, c)
            if cs.from_c:
                frames = [self.eth_c[p[0] >> 4] + p for p in pkts]
            else:
                frames = [self.frame(p) for p in pkts]
            self.tb.drain()
            self.tc.drain()
            self.ta.drain()
            before = snapshot(self.links, self.A)
            for f in frames:
                (self.tx_c if cs.from_c else self.tx).send(f)
            if cs.send:
                cs.send(R)
            got, fid = self.fence(k)
            if got is None:
                fails.append("the fence (a valid packet after the class) got no reply: "
                             "tunnel broken?")
                got = self.tb.drain()
            after = snapshot(self.links, self.A)
            R.b = [e for e in events(got)
                   if not (e["t"] == "echo" and e["id"] == fid)]
            R.c = events(self.tc.drain())
            atap = self.ta.drain()
            # the fence's own counts
            after[k.main + ".rx_packets"] -= 1
            R.delta = {key: after.get(key, 0) - before.get(key, 0)
                       for key in set(before) | set(after)}
            exp = cs.exp(k) if callable(cs.exp) else cs.exp
            want = {}
            for key, v in exp.items():
                want[self.resolve(k, key)] = v
            for key in sorted(set(R.delta) | set(want)):
                if key.startswith(tuple(cs.ignore)):
                    continue
                if R.delta.get(key, 0) != want.get(key, 0):
                    fails.append("%s %+d, expected %+d" % (key, R.delta.get(key, 0),
                                                          want.get(key, 0)))
            replied = any(e["t"] == "echo" and e["id"] == c.id and e["depth"] >= 1
                          for e in R.b)
            if cs.reply is True and not replied:
                fails.append("not delivered (no echo reply through the tunnel)")
            elif cs.reply is False and any(e["t"] == "echo" and e["id"] == c.id
                                           for e in R.b):
                fails.append("delivered (echo reply seen), expected a drop")
            for chk in cs.checks:
                r = chk(R)
                if r:
                    fails.append(r)
            # every frame arrived at A's tap as sent: nothing wrote into
            # data the receive path shared with the tap
            pos = 0
            for i, f in enumerate([] if cs.from_c else frames):
                while pos < len(atap) and atap[pos] != f:
                    pos += 1
                if pos == len(atap):
                    fails.append("frame %d of %d not seen unmodified at A's tap%s" % (
                        i + 1, len(frames), tap_diff(f, atap)))
                    break
                pos += 1
        except Exception as e:		# a broken class must not stop the others
            fails.append("%s: %s" % (type(e).__name__, e))
        finally:
            if cs.teardown:
                try:
                    cs.teardown(R)
                except Exception as e:
                    fails.append("teardown: %s" % e)
        return fails

    @staticmethod
    def resolve(k, key):
        if key.startswith(MIB_PREFIX) or key == "no_tunnel":
            return key
        if "." in key:
            dev, stat = key.split(".", 1)
            return k.roles.get(dev, dev) + "." + stat
        return k.main + "." + key


def tap_diff(sent, tapped):
    """Where the first tapped frame of the same length differs from what
    was sent: the receive path wrote into data shared with the tap."""
    for t in tapped:
        if len(t) == len(sent):
            d = [i for i in range(len(t)) if t[i] != sent[i]]
            return " (bytes %d-%d, sent %s, tap has %s)" % (
                d[0], d[-1], sent[d[0]:d[-1] + 1].hex(), t[d[0]:d[-1] + 1].hex())
    return " (nothing of that length: %d frames tapped)" % len(tapped)


def main():
    args = sys.argv[1:]
    kinds, only = list(ALL), None
    while "--kinds" in args:
        i = args.index("--kinds")
        kinds = args[i + 1].split()
        del args[i:i + 2]
    while "--only" in args:
        i = args.index("--only")
        only = re.compile(args[i + 1])
        del args[i:i + 2]
    uapi, nsa, nsb, nsc = args
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})	# in order, see top
    run = Runner(uapi, nsa, nsb, nsc)
    total, failed, known = {}, [], []
    t0 = time.time()
    for name in kinds:
        k = KINDS[name]
        print("=== %s: %d classes" % (name, sum(name in cs.kinds for cs in CLASSES)),
              flush=True)
        for cs in CLASSES:
            if name not in cs.kinds or (only and not only.search(cs.name)):
                continue
            total[name] = total.get(name, 0) + 1
            fails = run.run_case(k, cs)
            label = "[%s] %s" % (name, cs.name)
            kn = cs.known.get(name) if isinstance(cs.known, dict) else cs.known
            if not fails:
                print("ok: %s%s" % (label, " (known bug fixed? %s)" % kn
                                    if kn else ""), flush=True)
                continue
            if kn:
                known.append(label)
                print("FAIL: %s: known bug: %s: %s" % (label, kn, "; ".join(fails)),
                      flush=True)
            else:
                print("FAIL: %s: %s" % (label, "; ".join(fails)), flush=True)
            failed.append(label)
    print("classes per kind: %s; %d failed (%d of them known bugs), %ds" % (
        ", ".join("%s %d" % kv for kv in total.items()), len(failed), len(known),
        time.time() - t0), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
