/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) */
/*
 * ipt: IPIP, 6in4 and 4in6 tunnel devices.
 *
 * This is the netlink contract between the ipt module and user space
 * (the iproute2 plugins).  Three link kinds share one attribute space,
 * nested in IFLA_INFO_DATA:
 *
 *   "ipt_ipip"  IPv4 in IPv4, IP protocol 4   (RFC 2003)
 *   "ipt_6in4"  IPv6 in IPv4, IP protocol 41  (RFC 4213, RFC 3056 6to4)
 *   "ipt_4in6"  IPv4 in IPv6, next header 4   (RFC 2473)
 *
 * Addresses are carried in network byte order: 4 bytes for the kinds with
 * an IPv4 underlay, 16 bytes for ipt_4in6.  An all-zero local address means
 * "any local address" (the route decides the source).  A missing or
 * all-zero remote address is only accepted by ipt_6in4 and selects
 * automatic 6to4.
 *
 * Attributes not given at creation take the defaults documented below; at
 * change time (RTM_NEWLINK on an existing device) an absent attribute
 * leaves the current value alone.
 */
#ifndef _UAPI_LINUX_IPT_H
#define _UAPI_LINUX_IPT_H

#include <linux/types.h>

enum {
	IFLA_IPT_UNSPEC,
	/* u32: ifindex of the underlay device the outer packets must use,
	 * 0 (default) lets the routing table decide.
	 */
	IFLA_IPT_LINK,
	/* be32 or in6_addr: outer source address, default any. */
	IFLA_IPT_LOCAL,
	/* be32 or in6_addr: outer destination address (required except for
	 * automatic 6to4).
	 */
	IFLA_IPT_REMOTE,
	/* u8: outer TTL / hop limit 1-255, or IPT_TTL_INHERIT to copy the
	 * inner TTL / hop limit.  Default 64.
	 */
	IFLA_IPT_TTL,
	/* u8: outer DSCP 0-63, or IPT_DSCP_INHERIT (default) to copy it
	 * from the inner header.
	 */
	IFLA_IPT_DSCP,
	/* u8: enum ipt_df, the outer Don't Fragment policy; default
	 * IPT_DF_INHERIT, IPT_DF_NO for ipt_4in6.
	 */
	IFLA_IPT_DF,
	/* u8: 1 (default) clamps the TCP MSS of SYNs crossing the tunnel. */
	IFLA_IPT_CLAMP_MSS,
	/* u32: keepalive probe interval in seconds, 0 (default) = off,
	 * at most IPT_KEEPALIVE_MAX.
	 */
	IFLA_IPT_KEEPALIVE_INTERVAL,
	/* u32: intervals without a sign of the peer before carrier is lost,
	 * 1-255, default 10.
	 */
	IFLA_IPT_KEEPALIVE_RETRIES,
	/* u16 (ipt_4in6): RFC 2473 tunnel encapsulation limit 0-255, or
	 * IPT_ENCAP_LIMIT_NONE (default) to send no destination option.
	 */
	IFLA_IPT_ENCAP_LIMIT,
	/* u32 (ipt_4in6): outer flow label 0-0xfffff, or IPT_FLOWLABEL_AUTO
	 * to derive it from the inner flow (RFC 6438).
	 */
	IFLA_IPT_FLOWLABEL,
	/* u8: 1 (default) lets the stack hand the tunnel GSO super-packets
	 * and checksum-offloaded packets (encapsulated once, segmented late)
	 * and merges received packets with GRO; 0 encapsulates and delivers
	 * every packet on its own (RouterOS "allow-fast-path").
	 */
	IFLA_IPT_FAST_PATH,
	__IFLA_IPT_MAX,
};

#define IFLA_IPT_MAX (__IFLA_IPT_MAX - 1)

/* Extended statistics: u64 attributes nested in IFLA_INFO_XSTATS, shown
 * by `ip -s -d link show`.  All are per tunnel except IPT_XSTATS_NO_TUNNEL,
 * which counts, for the whole underlay namespace, packets of our protocols
 * that matched no ipt tunnel and were passed on to the next handler.
 */
enum {
	IPT_XSTATS_UNSPEC,
	IPT_XSTATS_PAD,
	IPT_XSTATS_KEEPALIVE_TX,	/* keepalive probes sent */
	IPT_XSTATS_KEEPALIVE_RX,	/* keepalive probes received */
	IPT_XSTATS_CARRIER_CHANGES,	/* carrier lost or regained */
	IPT_XSTATS_MSS_CLAMPED,		/* TCP SYNs whose MSS was lowered */
	IPT_XSTATS_PMTU_UPDATES,	/* ICMP "too big" from the underlay */
	IPT_XSTATS_DROP_HEADER,		/* bad inner header */
	IPT_XSTATS_DROP_ECN,		/* outer CE on a not-ECT inner packet */
	IPT_XSTATS_DROP_LOOP,		/* tunnel routed over itself */
	IPT_XSTATS_DROP_6TO4,		/* RFC 3964 checks failed */
	IPT_XSTATS_DROP_TOO_BIG,	/* refused with ICMP too big */
	IPT_XSTATS_DROP_NO_ROUTE,	/* no route to the remote */
	IPT_XSTATS_NO_TUNNEL,		/* namespace-wide, see above */
	__IPT_XSTATS_MAX,
};

#define IPT_XSTATS_MAX (__IPT_XSTATS_MAX - 1)

#define IPT_TTL_INHERIT		0
#define IPT_TTL_DEFAULT		64
#define IPT_DSCP_INHERIT	0xff
#define IPT_ENCAP_LIMIT_NONE	0xffff
#define IPT_FLOWLABEL_AUTO	0xffffffff
#define IPT_KEEPALIVE_MAX	3600
#define IPT_KEEPALIVE_RETRIES_DEFAULT	10

/* Outer DF / IPv6 fragmentation policy. */
enum ipt_df {
	/* Copy DF from the inner IPv4 header (default for ipt_ipip): PMTU
	 * discovery works through the tunnel, non-DF traffic that does not
	 * fit is fragmented instead of dropped.
	 */
	IPT_DF_INHERIT,
	/* Never set DF; oversized packets are fragmented after
	 * encapsulation (RouterOS "dont-fragment=no").
	 */
	IPT_DF_NO,
	/* Always set DF; oversized packets are refused with an ICMP
	 * "fragmentation needed" / "packet too big" to the inner sender.
	 */
	IPT_DF_YES,
	__IPT_DF_MAX,
};

#define IPT_DF_MAX (__IPT_DF_MAX - 1)

#endif /* _UAPI_LINUX_IPT_H */
