#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Bounded random netlink fuzzer for the ipt link kinds (issue 9).

Run inside the namespace prepared by config_fuzz.sh:

    config_fuzz.py UNDERLAY_IFNAME

IPT_FUZZ_OPS (default 10000) operations, seeded by IPT_FUZZ_SEED (default
random, always printed), each one raw RTM_NEWLINK (create, or change of an
existing device), RTM_SETLINK or RTM_DELLINK built by hand so that the
attributes can be malformed in ways iproute2 never sends.  After every
operation the namespace's links are dumped (raw RTM_GETLINK) and checked:

  - a refusal carries an extended ack message; one without is a failure
    when it comes from ipt's paths (validate/newlink/changelink), and is
    only listed when the request was refused by the rtnetlink core before
    ipt was asked (see core_reason());
  - a refusal changes nothing: no device appears, no device's ipt
    configuration, name, ifindex or (for the target) MTU moves;
  - an accepted request reads back as sent: the previous configuration
    (or the documented defaults) with the sent attributes merged in, MTU
    as sent;
  - every 500 operations and at the end `ip -j -d link show` prints the
    same configuration as the raw dump (the iproute2 plugin's decoding).

Everything is deleted at the end.  Exit status 0 when all held, 1 if not.
"""

import ipaddress
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time

SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
NETLINK_GET_STRICT_CHK = 12

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 0x200, 0x400, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLMSGERR_ATTR_MSG = 1
NLA_F_NESTED, NLA_F_NET_BYTEORDER = 0x8000, 0x4000
NLA_TYPE_MASK = 0x3fff

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK = 1, 3, 4, 5
IFLA_LINKINFO = 18
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFF_UP = 1

# include/uapi/linux/ipt.h
(A_LINK, A_LOCAL, A_REMOTE, A_TTL, A_DSCP, A_DF, A_CLAMP, A_KA_INT,
 A_KA_RET, A_ENCAP, A_FLOW, A_FAST) = range(1, 13)
A_MAX = A_FAST
A_NAMES = {A_LINK: "link", A_LOCAL: "local", A_REMOTE: "remote",
           A_TTL: "ttl", A_DSCP: "dscp", A_DF: "df", A_CLAMP: "clamp_mss",
           A_KA_INT: "keepalive_interval", A_KA_RET: "keepalive_retries",
           A_ENCAP: "encap_limit", A_FLOW: "flowlabel", A_FAST: "fast_path"}
KINDS = ("ipt_ipip", "ipt_6in4", "ipt_4in6")
ALEN = {"ipt_ipip": 4, "ipt_6in4": 4, "ipt_4in6": 16}

# Messages ipt itself sets (ipt_netlink.c, ipt_core.c, and the
# reject_message of its policies): a refusal carrying one of these came
# from ipt's code, anything else with a message from the core.
IPT_MSGS = (
    "DSCP must be 0-63 or inherit",
    "keepalive interval must be 0 (off) to 3600 seconds",
    "keepalive retries must be 1-255",
    "encaplimit must be 0-255 or none",
    "flowlabel must be 0-0xfffff or auto",
    "local address must be a unicast address",
    "remote address is required",
    "remote address must be a unicast address",
    "keepalive needs a remote address",
    "underlay device not found",
    "a tunnel cannot be its own underlay",
    "a tunnel with these addresses and underlay already exists",
    "cannot rehash the tunnel",
    "encaplimit is only valid for ipt_4in6",
    "flowlabel is only valid for ipt_4in6",
)

# Extack messages the parser sets as warnings on requests it lets through:
# when a later step refuses without its own message, the reply carries
# these, which say nothing about the refusal.
WARNINGS = ("bytes leftover after parsing attributes",)


def nla(t, payload, raw_len=None):
    ln = 4 + len(payload) if raw_len is None else raw_len
    return struct.pack("=HH", ln, t) + payload + \
        b"\0" * ((4 - (4 + len(payload)) % 4) % 4)


def parse_attrs(buf):
    out = []
    pos = 0
    while pos + 4 <= len(buf):
        ln, t = struct.unpack_from("=HH", buf, pos)
        if ln < 4 or pos + ln > len(buf):
            break
        out.append((t, buf[pos + 4:pos + ln]))
        pos += (ln + 3) & ~3
    return out


class Netlink:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        self.s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.s.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.s.bind((0, 0))
        self.seq = 0

    def request(self, typ, flags, body):
        """Send one request with NLM_F_ACK; return (errno, extack msg)."""
        self.seq += 1
        hdr = struct.pack("=IHHII", 16 + len(body), typ,
                          flags | NLM_F_REQUEST | NLM_F_ACK, self.seq, 0)
        self.s.send(hdr + body)
        while True:
            data = self.s.recv(1 << 16)
            pos = 0
            while pos + 16 <= len(data):
                ln, t, fl, seq, _ = struct.unpack_from("=IHHII", data, pos)
                if ln < 16:
                    break
                if t == NLMSG_ERROR and seq == self.seq:
                    err = -struct.unpack_from("=i", data, pos + 16)[0]
                    msg = ""
                    # capped: the error code, then the request's header
                    for at, ap in parse_attrs(data[pos + 36:pos + ln]):
                        if at == NLMSGERR_ATTR_MSG:
                            msg = ap.rstrip(b"\0").decode(errors="replace")
                    return err, msg
                pos += (ln + 3) & ~3

    def dump_links(self):
        """{name: (ifindex, kind, {attr: bytes}, mtu, flags)} of the netns."""
        for _ in range(10):
            self.seq += 1
            body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0)
            hdr = struct.pack("=IHHII", 16 + len(body), RTM_GETLINK,
                              NLM_F_REQUEST | NLM_F_DUMP, self.seq, 0)
            self.s.send(hdr + body)
            links, done, intr = {}, False, False
            while not done:
                data = self.s.recv(1 << 20)
                pos = 0
                while pos + 16 <= len(data):
                    ln, t, fl, seq, _ = struct.unpack_from("=IHHII", data, pos)
                    if ln < 16:
                        break
                    if seq == self.seq:
                        if fl & NLM_F_DUMP_INTR:
                            intr = True
                        if t == NLMSG_DONE or t == NLMSG_ERROR:
                            done = True
                        elif t == RTM_NEWLINK:
                            self._one_link(data[pos + 16:pos + ln], links)
                    pos += (ln + 3) & ~3
            if not intr:
                return links
        raise RuntimeError("link dump interrupted 10 times")

    @staticmethod
    def _one_link(msg, links):
        _, _, ifindex, flags, _ = struct.unpack_from("=BxHiII", msg, 0)
        name, kind, data, mtu = None, None, None, None
        for t, p in parse_attrs(msg[16:]):
            t &= NLA_TYPE_MASK
            if t == IFLA_IFNAME:
                name = p.rstrip(b"\0").decode()
                # only ours are looked into: python under TCG is slow
                if not name.startswith("fz"):
                    break
            elif t == IFLA_MTU:
                mtu = struct.unpack("=I", p[:4])[0]
            elif t == IFLA_LINKINFO:
                for it, ip in parse_attrs(p):
                    it &= NLA_TYPE_MASK
                    if it == IFLA_INFO_KIND:
                        kind = ip.rstrip(b"\0").decode()
                    elif it == IFLA_INFO_DATA:
                        data = {at & NLA_TYPE_MASK: ap
                                for at, ap in parse_attrs(ip)}
        links[name] = (ifindex, kind, data, mtu, flags)


def defaults(kind):
    a = ALEN[kind]
    d = {A_LINK: struct.pack("=I", 0), A_LOCAL: bytes(a), A_REMOTE: bytes(a),
         A_TTL: b"\x40", A_DSCP: b"\xff",
         A_DF: b"\x01" if kind == "ipt_4in6" else b"\x00",
         A_CLAMP: b"\x01", A_FAST: b"\x01",
         A_KA_INT: struct.pack("=I", 0), A_KA_RET: struct.pack("=I", 10)}
    if kind == "ipt_4in6":
        d[A_ENCAP] = struct.pack("=H", 0xffff)
        d[A_FLOW] = struct.pack("=I", 0xffffffff)
    return d


class Fuzzer:
    NAMES = ["fz%d" % i for i in range(10)]

    def __init__(self, seed, ops, underlay):
        self.rnd = random.Random(seed)
        self.seed = seed
        self.ops = ops
        self.nl = Netlink()
        self.underlay = underlay
        self.failures = []
        self.msgs = {}			# (errno, msg) -> count
        self.core_nomsg = {}		# reason -> count
        self.ipt_nomsg = []		# descriptions
        self.stats = {}			# (op, accepted) -> count
        self.notes = {}
        self.times = {}
        self.t_dump = 0.0
        self.state = self.nl.dump_links()
        self.base_ifindexes = {v[0] for v in self.state.values()}
        self.deleted_ifindexes = set()

    # --- value generators ---------------------------------------------

    def addr(self, alen):
        r = self.rnd
        if alen == 4:
            pool = ["0.0.0.0", "192.0.2.1", "192.0.2.2", "192.0.2.3",
                    "198.51.100.1", "198.51.100.2", "203.0.113.9",
                    "127.0.0.1", "224.0.0.1", "239.1.2.3",
                    "255.255.255.255", "0.1.2.3", "169.254.0.1", "10.0.0.1"]
        else:
            pool = ["::", "::1", "2001:db8:1::1", "2001:db8:2::1",
                    "2001:db8:2::2", "2001:db8:2::3", "ff02::1", "ff0e::5",
                    "fe80::1", "::ffff:192.0.2.1", "2002:c000:201::1",
                    "::192.0.2.1"]
        if r.random() < 0.05:
            return bytes(r.getrandbits(8) for _ in range(alen))
        return ipaddress.ip_address(r.choice(pool)).packed

    def u8(self):
        return self.rnd.choice([0, 1, 2, 3, 63, 64, 65, 127, 128, 254, 255,
                                self.rnd.getrandbits(8)])

    def link_value(self, self_ifindex):
        r = self.rnd
        tun = [v[0] for v in self.state.values() if v[1] in KINDS]
        cand = [0, 0, 0, self.state[self.underlay][0], self.state["lo"][0],
                99999, 0xffffffff, 0x7fffffff]
        if tun:
            cand.append(r.choice(tun))
        if self_ifindex:
            cand += [self_ifindex, self_ifindex]
        if self.deleted_ifindexes:
            cand.append(r.choice(sorted(self.deleted_ifindexes)))
        return r.choice(cand)

    def value(self, t, alen, self_ifindex):
        r = self.rnd
        if t == A_LINK:
            return struct.pack("=I", self.link_value(self_ifindex))
        if t in (A_LOCAL, A_REMOTE):
            if r.random() < 0.08:
                return self.addr(16 if alen == 4 else 4)	# other family
            return self.addr(alen)
        if t in (A_TTL, A_DSCP):
            return bytes([self.u8()])
        if t == A_DF:
            return bytes([r.choice([0, 1, 2, 2, 3, 255])])
        if t in (A_CLAMP, A_FAST):
            return bytes([r.choice([0, 1, 1, 0, 2, 255])])
        if t == A_KA_INT:
            v = r.choice([0, 0, 1, 2, 10, 3599, 3600, 3601, 0x7fffffff,
                          0xffffffff, r.getrandbits(32)])
            return struct.pack("=I", v)
        if t == A_KA_RET:
            return struct.pack("=I", r.choice([0, 1, 2, 10, 254, 255, 256,
                                               0xffffffff]))
        if t == A_ENCAP:
            return struct.pack("=H", r.choice([0, 1, 4, 255, 256, 0xfffe,
                                               0xffff, 0xffff]))
        if t == A_FLOW:
            return struct.pack("=I", r.choice([0, 1, 0x12345, 0xfffff,
                                               0x100000, 0xfffffffe,
                                               0xffffffff, 0xffffffff]))
        return bytes(r.getrandbits(8) for _ in range(r.randrange(0, 9)))

    def mutate_len(self, p):
        """A payload of the wrong size, or None to keep it."""
        r = self.rnd
        x = r.random()
        if x < 0.02:
            return b""
        if x < 0.035:
            return p + bytes(r.randrange(1, 5))
        if x < 0.05 and len(p) > 1:
            return p[:-1]
        if x < 0.055:
            return bytes(r.getrandbits(8) for _ in range(r.randrange(17, 300)))
        return None

    def gen_data(self, kind, self_ifindex, change):
        """([(type_with_flags, payload)], extra raw bytes for INFO_DATA)."""
        r = self.rnd
        alen = ALEN[kind]
        attrs = []
        # half the requests well-formed, so that enough are accepted to
        # have tunnels to change, duplicate and delete
        clean = r.random() < 0.5
        types = list(range(A_LINK, A_MAX + 1))
        n = r.choice([0, 1, 1, 2, 2, 3, 4, 6]) if change else \
            r.choice([1, 2, 3, 4, 6, 9])
        chosen = r.sample(types, min(n, len(types)))
        if not change and A_REMOTE not in chosen and r.random() < 0.85:
            chosen.append(A_REMOTE)
        if not clean and r.random() < 0.1 and kind != "ipt_4in6":
            chosen.append(r.choice([A_ENCAP, A_FLOW]))	# wrong kind
        for t in chosen:
            p = self.value(t, alen, self_ifindex)
            m = None if clean else self.mutate_len(p)
            if m is not None:
                p = m
            ft = t
            x = 1 if clean else r.random()
            if x < 0.015:
                ft |= NLA_F_NESTED
            elif x < 0.03:
                ft |= NLA_F_NET_BYTEORDER
            attrs.append((ft, p))
        if clean:
            return attrs, b""
        if r.random() < 0.05 and attrs:			# duplicate
            attrs.append(r.choice(attrs))
        if r.random() < 0.06:				# unknown types
            attrs.append((r.choice([0, A_MAX + 1, A_MAX + 2, 31, 100,
                                    NLA_TYPE_MASK]),
                          bytes(r.getrandbits(8)
                                for _ in range(r.randrange(0, 20)))))
        if r.random() < 0.03:				# nested junk
            inner = nla(A_TTL, b"\x05") + nla(77, b"junk")
            attrs.append((r.choice([A_LOCAL, A_TTL, 50]) | NLA_F_NESTED,
                          inner))
        tail = b""
        x = r.random()
        if x < 0.02:				# stray bytes after the last one
            tail = bytes(r.getrandbits(8) for _ in range(r.randrange(1, 4)))
        elif x < 0.04:				# nla_len past the end
            tail = struct.pack("=HH", r.randrange(9, 200), A_TTL) + b"\x07"
        elif x < 0.05:				# nla_len below the header
            tail = struct.pack("=HH", r.randrange(0, 4), A_TTL) + b"\0\0\0\0"
        return attrs, tail

    # --- requests ------------------------------------------------------

    @staticmethod
    def build(ifindex, name, kind, attrs, tail, top, data_flag=True,
              flags=0, change=0, kind_raw=None):
        body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, ifindex, flags,
                           change)
        if name is not None:
            body += nla(IFLA_IFNAME, name.encode() + b"\0")
        for t, p in top:
            body += nla(t, p)
        if kind is not None or kind_raw is not None:
            li = nla(IFLA_INFO_KIND,
                     kind_raw if kind_raw is not None else
                     kind.encode() + b"\0")
            if attrs is not None:
                d = b"".join(nla(t, p) for t, p in attrs) + tail
                li += nla(IFLA_INFO_DATA | (NLA_F_NESTED if data_flag else 0),
                          d)
            body += nla(IFLA_LINKINFO | NLA_F_NESTED, li)
        return body

    def top_attrs(self, self_ifindex):
        r = self.rnd
        top = []
        if r.random() < 0.15:
            mtu = r.choice([0, 67, 68, 1279, 1280, 1281, 1400, 1480, 1500,
                            9000, 65495, 65515, 65516, 65535, 65536,
                            0x7fffffff, 0xffffffff])
            p = struct.pack("=I", mtu)
            x = r.random()
            if x < 0.1:
                p = p[:2]
            elif x < 0.2:
                p = p + bytes(4)
            top.append((IFLA_MTU, p))
        if r.random() < 0.05:
            top.append((IFLA_LINK, struct.pack("=I",
                                               self.link_value(self_ifindex))))
        return top

    def tunnels(self):
        return sorted(n for n, v in self.state.items() if v[1] in KINDS)

    def op_newlink(self):
        """Create a tunnel (NLM_F_CREATE|NLM_F_EXCL)."""
        r = self.rnd
        name = r.choice(self.NAMES)
        kind = r.choice(KINDS)
        tuns = self.tunnels()
        desc = "create %s %s" % (kind, name)
        if tuns and r.random() < 0.1:
            # a duplicate of another tunnel: same addresses and underlay
            other = self.state[r.choice(tuns)]
            if other[1] == kind:
                attrs = [(A_LOCAL, other[2][A_LOCAL]),
                         (A_REMOTE, other[2][A_REMOTE]),
                         (A_LINK, other[2][A_LINK])]
                body = self.build(0, name, kind, attrs, b"", [],
                                  flags=0)
                return self.run("newlink-dup", RTM_NEWLINK,
                                NLM_F_CREATE | NLM_F_EXCL, body, name, kind,
                                attrs, [], desc + " dup", expect_dup=True)
        attrs, tail = self.gen_data(kind, 0, False)
        top = self.top_attrs(0)
        kind_raw = None
        data_flag = r.random() > 0.03
        if r.random() < 0.01:
            kind_raw = kind.encode()				# no NUL
        body = self.build(0, name, kind, attrs, tail, top, data_flag,
                          kind_raw=kind_raw)
        return self.run("newlink", RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                        body, name, kind, attrs, top, desc)

    def op_change(self):
        """Change an existing tunnel: RTM_NEWLINK without NLM_F_EXCL,
        what `ip link set NAME type KIND ...` sends."""
        r = self.rnd
        tuns = self.tunnels()
        if not tuns:
            return self.op_newlink()
        name = r.choice(tuns)
        ifindex, kind = self.state[name][0], self.state[name][1]
        use_kind = kind if r.random() < 0.9 else r.choice(KINDS)
        if len(tuns) > 1 and r.random() < 0.1:
            # another tunnel's addresses and underlay
            other = self.state[r.choice([t for t in tuns if t != name])]
            if other[1] == kind:
                attrs = [(A_LOCAL, other[2][A_LOCAL]),
                         (A_REMOTE, other[2][A_REMOTE]),
                         (A_LINK, other[2][A_LINK])]
                body = self.build(0, name, kind, attrs, b"", [])
                return self.run("change-dup", RTM_NEWLINK, 0, body, name,
                                kind, attrs, [], "change %s to a dup" % name,
                                expect_dup=True)
        attrs, tail = self.gen_data(use_kind, ifindex, True)
        top = self.top_attrs(ifindex)
        by_index = r.random() < 0.3
        if r.random() < 0.05:
            attrs = None			# a kind without INFO_DATA
        body = self.build(ifindex if by_index else 0,
                          None if by_index else name, use_kind,
                          attrs, tail, top, r.random() > 0.03)
        return self.run("change", RTM_NEWLINK, 0, body, name, use_kind,
                        attrs, top, "change %s (%s) as %s" %
                        (name, kind, use_kind))

    def op_setlink(self):
        """RTM_SETLINK: MTU extremes, up/down."""
        r = self.rnd
        tuns = self.tunnels()
        if not tuns:
            return self.op_newlink()
        name = r.choice(tuns + ["nosuch0"])
        ifindex = self.state[name][0] if name in self.state else 0
        top = self.top_attrs(ifindex) if r.random() < 0.7 else []
        flags, change = 0, 0
        if r.random() < 0.4:
            flags, change = r.choice([IFF_UP, 0]), IFF_UP
        body = self.build(0, name, None, None, b"", top, flags=flags,
                          change=change)
        return self.run("setlink", RTM_SETLINK, 0, body, name, None, [],
                        top, "setlink %s" % name)

    def op_dellink(self):
        r = self.rnd
        tuns = self.tunnels()
        name = r.choice(tuns + ["fz99"]) if tuns else "fz99"
        if name in self.state and r.random() < 0.3:
            body = self.build(self.state[name][0], None, None, None, b"", [])
        elif r.random() < 0.05:
            body = self.build(99999, None, None, None, b"", [])
            name = "ifindex 99999"
        else:
            body = self.build(0, name, None, None, b"", [])
        return self.run("dellink", RTM_DELLINK, 0, body, name, None, [], [],
                        "delete %s" % name)

    # --- checks ----------------------------------------------------------

    def fail(self, what):
        self.failures.append(what)
        print("FAIL: %s" % what, flush=True)

    @staticmethod
    def short_info_data(body):
        for t, p in parse_attrs(body[16:]):
            if t & NLA_TYPE_MASK == IFLA_LINKINFO:
                for it, ip in parse_attrs(p):
                    if it & NLA_TYPE_MASK == IFLA_INFO_DATA and \
                            0 < len(ip) < 4:
                        return True
        return False

    def core_reason(self, op, typ, flags, name, kind, err, before, body):
        """Why the rtnetlink core refused before (or instead of) asking
        ipt, when it did: such refusals may lack a message in 6.1."""
        exists = name in before
        if typ == RTM_NEWLINK and err == 34 and self.short_info_data(body):
            # __rtnl_newlink() parses IFLA_LINKINFO with a NULL extack:
            # an IFLA_INFO_DATA shorter than an attribute header fails
            # ifla_info_policy (NLA_NESTED) with -ERANGE and no message
            return "rtnl_newlink: INFO_DATA of 1-3 bytes, IFLA_LINKINFO " \
                "parsed without extack (ERANGE)"
        if typ == RTM_NEWLINK and exists and flags & NLM_F_EXCL and \
                err == 17:
            return "rtnl_newlink: name exists and NLM_F_EXCL (EEXIST)"
        if typ == RTM_NEWLINK and exists and kind is not None and \
                kind != before[name][1] and err == 95:
            return "rtnl_newlink: INFO_DATA for another kind than the " \
                "device's (EOPNOTSUPP)"
        if typ in (RTM_SETLINK, RTM_DELLINK) and not exists and err == 19:
            return "rtnl_%s: no such device (ENODEV)" % \
                ("setlink" if typ == RTM_SETLINK else "dellink")
        return None

    def run(self, op, typ, flags, body, name, kind, attrs, top, desc,
            expect_dup=False):
        before = self.state
        t0 = time.time()
        err, msg = self.nl.request(typ, flags, body)
        t1 = time.time()
        after = self.nl.dump_links()
        self.t_dump += time.time() - t1
        self.state = after
        self.stats[(op, err == 0)] = self.stats.get((op, err == 0), 0) + 1
        self.times[(op, err == 0)] = self.times.get((op, err == 0), 0) + \
            t1 - t0
        if msg in WARNINGS:
            # a warning of the parser, not the refusal's reason
            msg = ""
        where = "op %d (%s; request %s)" % (self.i, desc, body.hex())

        if err:
            self.msgs[(err, msg)] = self.msgs.get((err, msg), 0) + 1
            if not msg:
                reason = self.core_reason(op, typ, flags, name, kind, err,
                                          before, body)
                if reason:
                    self.core_nomsg[reason] = \
                        self.core_nomsg.get(reason, 0) + 1
                else:
                    self.ipt_nomsg.append("%s: errno %d" % (where, err))
                    self.fail("refusal without an extack message: errno "
                              "%d, %s" % (err, where))
            elif msg in IPT_MSGS and kind is None:
                self.fail("ipt message %r on a request without a kind: %s"
                          % (msg, where))
        if expect_dup and err == 0:
            self.fail("a duplicate of another tunnel was accepted: " + where)
        elif expect_dup and err != 17:
            # refused for something else first (a dangling link, say)
            self.notes["dup refused with errno %d %r" % (err, msg)] = \
                self.notes.get("dup refused with errno %d %r"
                               % (err, msg), 0) + 1

        if err:
            self.check_unchanged(before, after, name, top, where, op)
        elif typ == RTM_DELLINK:
            if name in after:
                self.fail("%s still exists after an accepted delete: %s"
                          % (name, where))
            gone = set(before) - set(after)
            if name in before and gone != {name}:
                self.fail("delete of %s removed %s: %s"
                          % (name, sorted(gone), where))
            if name in before:
                self.deleted_ifindexes.add(before[name][0])
        else:
            self.check_accepted(before, after, typ, name, kind, attrs, top,
                                where)

    @staticmethod
    def cfg(v):
        return (v[0], v[1], v[2])

    def check_unchanged(self, before, after, name, top, where, op):
        if set(before) != set(after):
            self.fail("links changed by a refused request: %s -> %s: %s"
                      % (sorted(before), sorted(after), where))
            return
        for n in before:
            if self.cfg(before[n]) == self.cfg(after[n]):
                continue
            # rtnl_newlink calls changelink before do_setlink: a top-level
            # attribute do_setlink refuses (an MTU) leaves the ipt change
            # made.  The core's behaviour, not ipt's; noted, not failed.
            if n == name and op == "change" and top:
                self.notes["change applied, then do_setlink refused"] = \
                    self.notes.get("change applied, then do_setlink "
                                   "refused", 0) + 1
                continue
            self.fail("refused request changed %s: %s -> %s: %s"
                      % (n, self.show(before[n]), self.show(after[n]),
                         where))
        if name in before and before[name][3] != after[name][3] and \
                op != "change":
            self.fail("refused request changed the MTU of %s: %d -> %d: %s"
                      % (name, before[name][3], after[name][3], where))

    def show(self, v):
        d = v[2] or {}
        return "%s#%d{%s}" % (v[1], v[0], ", ".join(
            "%s=%s" % (A_NAMES.get(t, t), d[t].hex()) for t in sorted(d)))

    def check_accepted(self, before, after, typ, name, kind, attrs, top,
                       where):
        if name not in after:
            self.fail("%s does not exist after an accepted request: %s"
                      % (name, where))
            return
        if set(after) - set(before) - {name} or set(before) - set(after):
            self.fail("accepted request on %s changed the link list: "
                      "%s -> %s: %s" % (name, sorted(before), sorted(after),
                                        where))
        for n in before:
            if n != name and n in after and \
                    self.cfg(before[n]) != self.cfg(after[n]):
                self.fail("request on %s changed %s: %s -> %s: %s"
                          % (name, n, self.show(before[n]),
                             self.show(after[n]), where))
        v = after[name]
        if name in before:
            if v[0] != before[name][0]:
                self.fail("%s changed ifindex: %s" % (name, where))
            kind = before[name][1]
            exp = dict(before[name][2])
        else:
            if v[1] != kind:
                self.fail("%s is a %s, asked for %s: %s"
                          % (name, v[1], kind, where))
                return
            exp = defaults(kind)
        if typ == RTM_NEWLINK and attrs is not None:
            # the last of duplicates wins, as in nla_parse()
            for t, p in attrs:
                t &= NLA_TYPE_MASK
                if 1 <= t <= A_MAX and (t in exp):
                    exp[t] = p
        if v[2] != exp:
            self.fail("%s reads back %s, expected %s: %s"
                      % (name, self.show(v), self.show((v[0], kind, exp)),
                         where))
        for t, p in top:
            if t == IFLA_MTU and len(p) >= 4:
                want = struct.unpack("=I", p[:4])[0]
                if v[3] != want:
                    self.fail("%s MTU %d, set %d: %s"
                              % (name, v[3], want, where))

    # --- ip -j -d link show --------------------------------------------

    def ip_json_check(self):
        out = subprocess.run(["ip", "-j", "-d", "link", "show"],
                             capture_output=True, text=True, check=False)
        try:
            links = {l["ifname"]: l for l in json.loads(out.stdout)}
        except ValueError:
            self.fail("ip -j -d link show: no JSON: %r %r"
                      % (out.stdout[:200], out.stderr[:200]))
            return
        for name in self.tunnels():
            v = self.state[name]
            got = links.get(name, {}).get("linkinfo", {})
            if got.get("info_kind") != v[1]:
                self.fail("ip -j: %s kind %r, raw %s" %
                          (name, got.get("info_kind"), v[1]))
                continue
            want = self.json_of(v)
            info = got.get("info_data", {})
            for k, w in want.items():
                if info.get(k, "(absent)") != w:
                    self.fail("ip -j: %s %s is %r, raw dump says %r (%s)"
                              % (name, k, info.get(k, "(absent)"), w,
                                 self.show(v)))
            if links[name].get("mtu") != v[3]:
                self.fail("ip -j: %s mtu %r, raw %d"
                          % (name, links[name].get("mtu"), v[3]))

    @staticmethod
    def json_of(v):
        d = v[2]

        def addr(b):
            if not any(b):
                return "any"
            # as ip prints it (inet_ntop: "::c000:201", not python's
            # "::192.0.2.1")
            return socket.inet_ntop(socket.AF_INET if len(b) == 4 else
                                    socket.AF_INET6, b)

        def u(t, fmt):
            return struct.unpack(fmt, d[t])[0]
        j = {"remote": addr(d[A_REMOTE]), "local": addr(d[A_LOCAL])}
        link = u(A_LINK, "=I")
        if link:
            try:
                j["link"] = socket.if_indextoname(link)
            except OSError:
                j["link"] = "if%u" % link
        else:
            j["link"] = "(absent)"
        j["ttl"] = "inherit" if d[A_TTL][0] == 0 else d[A_TTL][0]
        j["dscp"] = "inherit" if d[A_DSCP][0] == 255 else d[A_DSCP][0]
        j["dont_fragment"] = {0: "inherit", 1: "no", 2: "yes"}[d[A_DF][0]]
        j["clamp_tcp_mss"] = bool(d[A_CLAMP][0])
        j["fast_path"] = bool(d[A_FAST][0])
        ka = u(A_KA_INT, "=I")
        j["keepalive"] = None if not ka else \
            {"interval": ka, "retries": u(A_KA_RET, "=I")}
        if v[1] == "ipt_4in6":
            e, f = u(A_ENCAP, "=H"), u(A_FLOW, "=I")
            j["encap_limit"] = "none" if e == 0xffff else e
            j["flowlabel"] = "auto" if f == 0xffffffff else f
        return j

    # --- main loop -------------------------------------------------------

    def fuzz(self):
        ops = [(self.op_newlink, 30), (self.op_change, 44),
               (self.op_setlink, 10), (self.op_dellink, 6)]
        funcs = [f for f, w in ops for _ in range(w)]
        t0 = time.time()
        for self.i in range(self.ops):
            self.rnd.choice(funcs)()
            if (self.i + 1) % 500 == 0:
                self.ip_json_check()
                print("# %d ops, %d tunnels, %.0fs, %d failures"
                      % (self.i + 1, len(self.tunnels()), time.time() - t0,
                         len(self.failures)), flush=True)
            if len(self.failures) > 50:
                print("# too many failures, stopping")
                break
        self.ip_json_check()
        # everything goes
        for name in self.tunnels():
            body = self.build(0, name, None, None, b"", [])
            err, msg = self.nl.request(RTM_DELLINK, 0, body)
            if err:
                self.fail("final delete of %s: errno %d %s" % (name, err, msg))
        self.state = self.nl.dump_links()
        if self.tunnels():
            self.fail("tunnels left after the final deletes: %s"
                      % self.tunnels())

    def report(self):
        print("# operations (op, accepted): count")
        for k in sorted(self.stats):
            print("#   %-12s %-5s %5d  %6.1fs in the kernel" %
                  (k[0], k[1], self.stats[k], self.times.get(k, 0)))
        print("# %.1fs in the link dumps after each" % self.t_dump)
        print("# refusals by (errno, extack message), ipt's marked *:")
        for (e, m), c in sorted(self.msgs.items(), key=lambda x: -x[1]):
            print("#   %s %3d %-70r %d" % ("*" if m in IPT_MSGS else " ", e,
                                           m, c))
        print("# refusals without a message from the rtnetlink core "
              "(before ipt is asked; not ipt's to fix):")
        for k, c in sorted(self.core_nomsg.items()):
            print("#   %s: %d" % (k, c))
        print("# refusals without a message from ipt's paths: %d"
              % len(self.ipt_nomsg))
        for d in self.ipt_nomsg[:20]:
            print("#   " + d)
        for k, c in sorted(self.notes.items()):
            print("# note: %s: %d" % (k, c))
        print("# seed %d, %d failures" % (self.seed, len(self.failures)))


def main():
    seed = int(os.environ.get("IPT_FUZZ_SEED") or
               int.from_bytes(os.urandom(4), "little"))
    ops = int(os.environ.get("IPT_FUZZ_OPS") or 10000)
    print("# seed %d (IPT_FUZZ_SEED=%d to repeat), %d operations"
          % (seed, seed, ops), flush=True)
    f = Fuzzer(seed, ops, sys.argv[1])
    try:
        f.fuzz()
    finally:
        f.report()
    return 1 if f.failures else 0


if __name__ == "__main__":
    sys.exit(main())
