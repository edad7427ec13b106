#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# pcap_words.py [--bare6 PREFIX] FILE: one line of KEY=VALUE words per IP
# packet of a pcap file, for the selftests' pkt_* helpers (lib.sh).
#
# o_* is the outer header, i_* the packet inside it (IPv4 in IPv4, IPv6
# in IPv4, IPv4 in IPv6).  A packet that is not encapsulated gets o_*
# words, except a bare IPv6 packet with --bare6 i_ (6in4 tests capture
# the inner IPv6 packets on their own).
#
#   IPv4: len proto ttl tos df mf off src dst, then icmp (type) or
#         sport dport (UDP) in a first fragment
#   IPv6: plen nh hlim tc fl src dst, icmp6 (type); a destination options
#         header adds dnh dlen and opt=4/LEN/VALUE... (tunnel encapsulation
#         limit), pad=1/LEN or other=TYPE/LEN per option; a fragment
#         header frag=1 fnh foff fm fid
#
# Copes with a file tcpdump -U is still writing (a cut last record is
# left out).  Frames other than IPv4 and IPv6 (ARP) are left out.

import socket
import struct
import sys

ETH_IP = {b"\x08\x00", b"\x86\xdd"}


def ip4_words(p, pre):
    if len(p) < 20 or p[0] >> 4 != 4:
        return None
    ihl = (p[0] & 15) * 4
    tos, tot, _, frag, ttl, proto = struct.unpack("!BHHHBB", p[1:10])
    off = frag & 0x1fff
    w = ["%slen=%d" % (pre, tot), "%sproto=%d" % (pre, proto),
         "%sttl=%d" % (pre, ttl), "%stos=0x%02x" % (pre, tos),
         "%sdf=%d" % (pre, frag >> 14 & 1), "%smf=%d" % (pre, frag >> 13 & 1),
         "%soff=%d" % (pre, off * 8),
         "%ssrc=%s" % (pre, socket.inet_ntoa(p[12:16])),
         "%sdst=%s" % (pre, socket.inet_ntoa(p[16:20]))]
    if off:
        return w
    l4 = p[ihl:tot]
    if proto == 1 and len(l4) >= 1:
        w.append("%sicmp=%d" % (pre, l4[0]))
    elif proto == 17 and len(l4) >= 4:
        sport, dport = struct.unpack("!HH", l4[:4])
        w += ["%ssport=%d" % (pre, sport), "%sdport=%d" % (pre, dport)]
    elif pre == "o_" and proto == 4:
        w += ip4_words(l4, "i_") or []
    elif pre == "o_" and proto == 41:
        w += ip6_words(l4, "i_") or []
    return w


def dest_opts(opts, pre):
    w = []
    i = 0
    while i < len(opts):
        t = opts[i]
        if t == 0:		# Pad1
            i += 1
            continue
        if i + 1 >= len(opts):
            break
        n = opts[i + 1]
        v = opts[i + 2:i + 2 + n]
        if t == 4:
            w.append("%sopt=%d/%d/%s" % (pre, t, n, "/".join(str(b) for b in v)))
        elif t == 1:
            w.append("%spad=%d/%d" % (pre, t, n))
        else:
            w.append("%sother=%d/%d" % (pre, t, n))
        i += 2 + n
    return w


def ip6_words(p, pre):
    if len(p) < 40 or p[0] >> 4 != 6:
        return None
    vtf, plen, nh, hlim = struct.unpack("!IHBB", p[:8])
    w = ["%splen=%d" % (pre, plen), "%snh=%d" % (pre, nh),
         "%shlim=%d" % (pre, hlim), "%stc=0x%02x" % (pre, vtf >> 20 & 0xff),
         "%sfl=0x%05x" % (pre, vtf & 0xfffff),
         "%ssrc=%s" % (pre, socket.inet_ntop(socket.AF_INET6, p[8:24])),
         "%sdst=%s" % (pre, socket.inet_ntop(socket.AF_INET6, p[24:40]))]
    rest = p[40:]
    if nh == 60 and len(rest) >= 8:
        dnh, dlen = rest[0], rest[1]
        w += ["%sdnh=%d" % (pre, dnh), "%sdlen=%d" % (pre, dlen)]
        w += dest_opts(rest[2:(dlen + 1) * 8], pre)
        nh, rest = dnh, rest[(dlen + 1) * 8:]
    if nh == 44 and len(rest) >= 8:
        fnh, _, offm, fid = struct.unpack("!BBHI", rest[:8])
        w += ["%sfrag=1" % pre, "%sfnh=%d" % (pre, fnh),
              "%sfoff=%d" % (pre, offm & ~7), "%sfm=%d" % (pre, offm & 1),
              "%sfid=0x%08x" % (pre, fid)]
        nh, rest = (fnh, rest[8:]) if offm & ~7 == 0 else (None, b"")
    if nh == 58 and rest:
        w.append("%sicmp6=%d" % (pre, rest[0]))
    elif pre == "o_" and nh == 4:
        w += ip4_words(rest, "i_") or []
    return w


def main():
    args = sys.argv[1:]
    bare6 = "o_"
    if len(args) == 3 and args[0] == "--bare6":
        bare6 = args[1]
        args = args[2:]
    if len(args) != 1:
        sys.exit("usage: pcap_words.py [--bare6 PREFIX] FILE")
    data = open(args[0], "rb").read()
    if len(data) < 24:
        return
    e = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<",
         b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}.get(data[:4])
    if not e:
        sys.exit("%s: not a pcap file" % args[0])
    lt = struct.unpack(e + "I", data[20:24])[0] & 0xffff
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack(e + "I", data[pos + 8:pos + 12])[0]
        pkt = data[pos + 16:pos + 16 + incl]
        if len(pkt) < incl:
            break
        pos += 16 + incl
        if lt == 1:		# Ethernet
            if pkt[12:14] not in ETH_IP:
                continue
            pkt = pkt[14:]
        elif lt == 113:		# Linux cooked
            if pkt[14:16] not in ETH_IP:
                continue
            pkt = pkt[16:]
        elif lt == 276:		# Linux cooked v2
            if pkt[0:2] not in ETH_IP:
                continue
            pkt = pkt[20:]
        elif lt not in (12, 14, 101, 228, 229):	# raw IP
            sys.exit("unexpected link type %d" % lt)
        if not pkt:
            continue
        if pkt[0] >> 4 == 6:
            w = ip6_words(pkt, bare6)
        else:
            w = ip4_words(pkt, "o_")
        if w:
            print(" ".join(w))


main()
