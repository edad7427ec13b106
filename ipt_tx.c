// SPDX-License-Identifier: GPL-2.0
/*
 * ipt transmit: encapsulation in an IPv4 outer header (ipt_ipip and
 * ipt_6in4) or an IPv6 one (ipt_4in6), with path MTU handling.
 *
 * ndo_start_xmit runs under rcu_read_lock_bh() with no tx lock (LLTX) and
 * no qdisc, possibly on every CPU at once: all per-packet state is on the
 * stack, the route cache and the stats are per-cpu.
 */

#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <net/icmp.h>
#include <net/inet_ecn.h>
#include <net/ip.h>
#include <net/dst_metadata.h>
#include <net/ip_tunnels.h>
#include <net/ip6_route.h>
#include <net/ip6_tunnel.h>
#include <net/route.h>

#include "ipt.h"

/* What the encapsulation needs to know about the inner packet. */
struct inner_info {
	u8 dsfield;
	u8 ttl;
	bool df;
};

static void inner_info(const struct sk_buff *skb, struct inner_info *ii)
{
	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *iph = ip_hdr(skb);

		ii->dsfield = ipv4_get_dsfield(iph);
		ii->ttl = iph->ttl;
		ii->df = iph->frag_off & htons(IP_DF);
	} else {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);

		ii->dsfield = ipv6_get_dsfield(ip6h);
		ii->ttl = ip6h->hop_limit;
		/* Routers never fragment IPv6: a packet that does not fit
		 * must come back to its sender as Packet Too Big.
		 */
		ii->df = true;
	}
}

/* The outer route does not depend on the inner packet (the outer TOS used
 * for routing is the configured one, not an inherited DSCP), so it is
 * cached per cpu whenever the remote is fixed.
 */
static struct rtable *route4(struct ipt_tunnel *t, const struct ipt_cfg *cfg,
			     __be32 daddr, __be32 *saddr)
{
	bool cached = daddr == cfg->remote.ip4;
	struct rtable *rt;
	struct flowi4 fl4;

	if (cached) {
		rt = dst_cache_get_ip4(&t->dst_cache, saddr);
		if (rt)
			return rt;
	}

	memset(&fl4, 0, sizeof(fl4));
	fl4.daddr = daddr;
	fl4.saddr = cfg->local.ip4;
	fl4.flowi4_oif = cfg->link;
	fl4.flowi4_proto = t->kind->proto;
	if (cfg->dscp != IPT_DSCP_INHERIT)
		fl4.flowi4_tos = RT_TOS(cfg->dscp << 2);

	rt = ip_route_output_key(t->net, &fl4);
	if (cached)
		ipt_underlay_seen(t, !IS_ERR(rt));
	if (IS_ERR(rt))
		return rt;
	if (cached)
		dst_cache_set_ip4(&t->dst_cache, &rt->dst, fl4.saddr);
	*saddr = fl4.saddr;
	return rt;
}

static bool fits(const struct sk_buff *skb, unsigned int mtu)
{
	if (skb_is_gso(skb))
		return skb_gso_validate_network_len(skb, mtu);
	return skb->len <= mtu;
}

static void too_big(struct sk_buff *skb, unsigned int mtu)
{
	if (skb_valid_dst(skb) && mtu < dst_mtu(skb_dst(skb)))
		skb_dst_update_pmtu_no_confirm(skb, mtu);

	if (skb->protocol == htons(ETH_P_IP))
		icmp_ndo_send(skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED,
			      htonl(mtu));
	else
		icmpv6_ndo_send(skb, ICMPV6_PKT_TOOBIG, 0, mtu);
}

static int xmit_fragment(struct net *net, struct sock *sk,
			 struct sk_buff *skb)
{
	ipt_xmit4(skb, skb->dev);
	return 0;
}

/* "dont-fragment yes" and an inner IPv4 packet without DF that does not
 * fit: fragment the inner packet (RFC 2003 5.1) so that every fragment
 * travels with the outer DF the user asked for.
 */
static void fragment_inner(struct net_device *dev, struct sk_buff *skb,
			   unsigned int mtu)
{
	if (!skb_valid_dst(skb) || mtu < IPV4_MIN_MTU) {
		DEV_STATS_INC(dev, tx_errors);
		kfree_skb(skb);
		return;
	}
	IPCB(skb)->frag_max_size = mtu;
	ip_do_fragment(dev_net(dev), NULL, skb, xmit_fragment);
}

/* The inner packet fits the path: remember the path MTU for the clamp on
 * receive, clamp, and make sure later packets get room for the outer
 * headers of the underlay the route now uses.
 */
static void before_encap(struct ipt_tunnel *t, struct sk_buff *skb,
			 const struct ipt_cfg *cfg, unsigned int mtu,
			 const struct dst_entry *dst)
{
	struct net_device *dev = t->dev;
	unsigned int headroom;

	mtu = min(mtu, READ_ONCE(dev->mtu));
	if (unlikely(mtu != READ_ONCE(t->path_mtu)))
		WRITE_ONCE(t->path_mtu, mtu);
	if (cfg->clamp_mss)
		ipt_mss_clamp(t, skb, mtu);

	headroom = LL_RESERVED_SPACE(dst->dev) + dst->header_len + cfg->hlen;
	ipt_adj_headroom(dev, headroom);
}

netdev_tx_t ipt_xmit4(struct sk_buff *skb, struct net_device *dev)
{
	struct ipt_tunnel *t = netdev_priv(dev);
	const struct ipt_kind *kind = t->kind;
	const struct ipt_cfg *cfg;
	unsigned int mtu;
	struct inner_info ii;
	__be32 daddr, saddr;
	struct rtable *rt;
	u8 tos, ttl;
	__be16 df;

	if (unlikely(skb->protocol != kind->inner))
		goto tx_drop;	/* e.g. IPv6 autoconfiguration on ipt_4in6 */
	if (unlikely(!pskb_inet_may_pull(skb)))
		goto tx_error;

	cfg = rcu_dereference_bh(t->cfg);
	inner_info(skb, &ii);
	daddr = cfg->remote.ip4;
	if (!daddr) {
		daddr = kind->auto_remote4(skb);
		if (!daddr) {
			ipt_xstat_inc(t, IPT_XSTATS_DROP_6TO4);
			goto tx_no_route;
		}
	}

	rt = route4(t, cfg, daddr, &saddr);
	if (IS_ERR(rt)) {
		ipt_xstat_inc(t, IPT_XSTATS_DROP_NO_ROUTE);
		goto tx_no_route;
	}
	if (unlikely(rt->dst.dev == dev)) {
		/* Routed over itself: drop instead of recursing. */
		net_dbg_ratelimited("%s: tunnel routed over itself\n",
				    dev->name);
		ipt_xstat_inc(t, IPT_XSTATS_DROP_LOOP);
		DEV_STATS_INC(dev, collisions);
		goto tx_error_put;
	}

	switch (cfg->df) {
	case IPT_DF_YES:
		df = htons(IP_DF);
		break;
	case IPT_DF_NO:
		df = 0;
		break;
	default:
		df = ii.df ? htons(IP_DF) : 0;
	}

	mtu = max_t(int, dst_mtu(&rt->dst) - kind->hlen, IPV4_MIN_MTU);
	if (skb->protocol == htons(ETH_P_IPV6) && mtu < IPV6_MIN_MTU) {
		/* Never tell an IPv6 sender less than 1280 (RFC 4213 3.2):
		 * a larger packet is refused with 1280, one that fits goes
		 * out without DF for IPv4 to fragment.
		 */
		mtu = IPV6_MIN_MTU;
		if (fits(skb, mtu))
			df = 0;
	}
	if (df && !fits(skb, mtu)) {
		ip_rt_put(rt);
		if (!ii.df) {
			fragment_inner(dev, skb, mtu);
			return NETDEV_TX_OK;
		}
		ipt_xstat_inc(t, IPT_XSTATS_DROP_TOO_BIG);
		too_big(skb, mtu);
		goto tx_error;
	}

	before_encap(t, skb, cfg, mtu, &rt->dst);

	if (unlikely(iptunnel_handle_offloads(skb, SKB_GSO_IPXIP4)))
		goto tx_error_put;
	if (unlikely(skb_cow_head(skb, READ_ONCE(dev->needed_headroom)))) {
		ip_rt_put(rt);
		DEV_STATS_INC(dev, tx_dropped);
		kfree_skb(skb);
		return NETDEV_TX_OK;
	}

	tos = cfg->dscp == IPT_DSCP_INHERIT ? ii.dsfield & ~INET_ECN_MASK :
					      cfg->dscp << 2;
	tos = INET_ECN_encapsulate(tos, ii.dsfield);
	ttl = cfg->ttl == IPT_TTL_INHERIT ? ii.ttl : cfg->ttl;

	skb_set_inner_ipproto(skb, kind->proto);
	iptunnel_xmit(NULL, rt, skb, saddr, daddr, kind->proto, tos, ttl, df,
		      !net_eq(t->net, dev_net(dev)));
	return NETDEV_TX_OK;

tx_no_route:
	DEV_STATS_INC(dev, tx_carrier_errors);
	dst_link_failure(skb);
	goto tx_error;
tx_error_put:
	ip_rt_put(rt);
tx_error:
	DEV_STATS_INC(dev, tx_errors);
	kfree_skb(skb);
	return NETDEV_TX_OK;
tx_drop:
	DEV_STATS_INC(dev, tx_dropped);
	kfree_skb(skb);
	return NETDEV_TX_OK;
}

static struct dst_entry *route6(struct ipt_tunnel *t, const struct ipt_cfg *cfg,
				struct in6_addr *saddr)
{
	struct dst_entry *dst;
	struct flowi6 fl6;

	dst = dst_cache_get_ip6(&t->dst_cache, saddr);
	if (dst)
		return dst;

	memset(&fl6, 0, sizeof(fl6));
	fl6.daddr = cfg->remote.ip6;
	fl6.saddr = cfg->local.ip6;
	fl6.flowi6_oif = cfg->link;
	fl6.flowi6_proto = t->kind->proto;

	/* source address selection and IPsec policy included */
	dst = ip6_dst_lookup_flow(t->net, NULL, &fl6, NULL);
	ipt_underlay_seen(t, !IS_ERR(dst));
	if (IS_ERR(dst))
		return dst;
	dst_cache_set_ip6(&t->dst_cache, dst, &fl6.saddr);
	*saddr = fl6.saddr;
	return dst;
}

/* RFC 2473 4.1.1: the Tunnel Encapsulation Limit destination option,
 * padded to 8 bytes.
 */
static void push_encap_limit(struct sk_buff *skb, u8 limit, u8 *nexthdr)
{
	u8 *opt = skb_push(skb, 8);

	opt[0] = *nexthdr;
	opt[1] = 0;			/* length in 8-byte units, minus one */
	opt[2] = IPV6_TLV_TNL_ENCAP_LIMIT;
	opt[3] = 1;
	opt[4] = limit;
	opt[5] = IPV6_TLV_PADN;
	opt[6] = 1;
	opt[7] = 0;
	*nexthdr = NEXTHDR_DEST;
}

netdev_tx_t ipt_xmit6(struct sk_buff *skb, struct net_device *dev)
{
	struct ipt_tunnel *t = netdev_priv(dev);
	const struct ipt_kind *kind = t->kind;
	unsigned int mtu, pkt_len;
	const struct ipt_cfg *cfg;
	struct ipv6hdr *ip6h;
	struct inner_info ii;
	struct dst_entry *dst;
	struct in6_addr saddr;
	__be32 flowlabel;
	bool frag = false;
	u8 nexthdr, tos;
	int err;

	if (unlikely(skb->protocol != kind->inner))
		goto tx_drop;	/* e.g. IPv6 autoconfiguration on ipt_4in6 */
	if (unlikely(!pskb_inet_may_pull(skb)))
		goto tx_error;

	cfg = rcu_dereference_bh(t->cfg);
	inner_info(skb, &ii);

	dst = route6(t, cfg, &saddr);
	if (IS_ERR(dst)) {
		ipt_xstat_inc(t, IPT_XSTATS_DROP_NO_ROUTE);
		DEV_STATS_INC(dev, tx_carrier_errors);
		dst_link_failure(skb);
		goto tx_error;
	}
	if (unlikely(dst->dev == dev)) {
		net_dbg_ratelimited("%s: tunnel routed over itself\n",
				    dev->name);
		ipt_xstat_inc(t, IPT_XSTATS_DROP_LOOP);
		DEV_STATS_INC(dev, collisions);
		goto tx_error_put;
	}

	/* IPv6 routers never fragment: a packet that does not fit the path
	 * is either refused to its sender or fragmented here, at the tunnel
	 * entry point (RFC 2473 7.1), when the inner packet allows it and
	 * the user did not ask for "dont-fragment yes".
	 */
	mtu = max_t(int, dst_mtu(dst) - cfg->hlen, IPV4_MIN_MTU);
	if (!fits(skb, mtu)) {
		if (ii.df || cfg->df == IPT_DF_YES) {
			dst_release(dst);
			ipt_xstat_inc(t, IPT_XSTATS_DROP_TOO_BIG);
			too_big(skb, mtu);
			goto tx_error;
		}
		frag = true;
	}

	before_encap(t, skb, cfg, mtu, dst);

	if (unlikely(iptunnel_handle_offloads(skb, SKB_GSO_IPXIP6)))
		goto tx_error_put;
	if (unlikely(skb_cow_head(skb, READ_ONCE(dev->needed_headroom)))) {
		dst_release(dst);
		DEV_STATS_INC(dev, tx_dropped);
		kfree_skb(skb);
		return NETDEV_TX_OK;
	}

	tos = cfg->dscp == IPT_DSCP_INHERIT ? ii.dsfield & ~INET_ECN_MASK :
					      cfg->dscp << 2;
	tos = INET_ECN_encapsulate(tos, ii.dsfield);
	if (cfg->flowlabel == IPT_FLOWLABEL_AUTO)
		/* RFC 6438: one label per inner flow, for ECMP */
		flowlabel = (__force __be32)rol32(skb_get_hash(skb), 16) &
			    IPV6_FLOWLABEL_MASK;
	else
		flowlabel = htonl(cfg->flowlabel);

	skb_scrub_packet(skb, !net_eq(t->net, dev_net(dev)));
	/* after the scrub, which clears it */
	skb->ignore_df = frag;
	skb_set_inner_ipproto(skb, kind->proto);
	pkt_len = skb->len;

	nexthdr = kind->proto;
	if (cfg->encap_limit != IPT_ENCAP_LIMIT_NONE)
		push_encap_limit(skb, cfg->encap_limit, &nexthdr);

	skb_push(skb, sizeof(*ip6h));
	skb_reset_network_header(skb);
	ip6h = ipv6_hdr(skb);
	ip6_flow_hdr(ip6h, tos, flowlabel);
	ip6h->nexthdr = nexthdr;
	ip6h->hop_limit = cfg->ttl == IPT_TTL_INHERIT ? ii.ttl : cfg->ttl;
	ip6h->saddr = saddr;
	ip6h->daddr = cfg->remote.ip6;
	skb_dst_set(skb, dst);

	memset(IP6CB(skb), 0, sizeof(*IP6CB(skb)));
	err = ip6_local_out(t->net, NULL, skb);
	if (unlikely(net_xmit_eval(err)))
		DEV_STATS_INC(dev, tx_errors);
	else
		dev_sw_netstats_tx_add(dev, 1, pkt_len);
	return NETDEV_TX_OK;

tx_error_put:
	dst_release(dst);
tx_error:
	DEV_STATS_INC(dev, tx_errors);
	kfree_skb(skb);
	return NETDEV_TX_OK;
tx_drop:
	DEV_STATS_INC(dev, tx_dropped);
	kfree_skb(skb);
	return NETDEV_TX_OK;
}
