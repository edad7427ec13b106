// SPDX-License-Identifier: GPL-2.0
/*
 * ipt_6in4: IPv6 in IPv4, IP protocol 41 (RFC 4213), static like a tunnel
 * broker's or automatic 6to4 (RFC 3056) when no remote is configured.
 */

#include <linux/if_arp.h>
#include <linux/in.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/xfrm.h>

#include "ipt.h"

/* RFC 3964 5.3: addresses that must never appear embedded in 2002::/16 */
static bool v4_public(__be32 a)
{
	return !ipv4_is_zeronet(a) && !ipv4_is_loopback(a) &&
	       !ipv4_is_private_10(a) && !ipv4_is_private_172(a) &&
	       !ipv4_is_private_192(a) && !ipv4_is_linklocal_169(a) &&
	       !ipv4_is_multicast(a) && !ipv4_is_lbcast(a);
}

static bool is_6to4(const struct in6_addr *a)
{
	return a->s6_addr16[0] == htons(0x2002);
}

static __be32 embedded(const struct in6_addr *a)
{
	__be32 v4;

	memcpy(&v4, &a->s6_addr[2], sizeof(v4));
	return v4;
}

/* The IPv4 destination of an automatic tunnel: the one embedded in a
 * 2002::/16 destination, else the route's gateway, a 6to4 relay given as
 * 2002:WWXX:YYZZ:: or as an IPv4-compatible ::a.b.c.d.
 */
static __be32 ipt_6in4_auto_remote(struct sk_buff *skb)
{
	const struct in6_addr *daddr = &ipv6_hdr(skb)->daddr;
	struct dst_entry *dst = skb_dst(skb);
	__be32 v4 = 0;

	if (is_6to4(daddr)) {
		v4 = embedded(daddr);
	} else if (dst && dst->ops->family == AF_INET6) {
		const struct in6_addr *nh;

		nh = rt6_nexthop((struct rt6_info *)dst, daddr);
		if (is_6to4(nh))
			v4 = embedded(nh);
		else if (!nh->s6_addr32[0] && !nh->s6_addr32[1] &&
			 !nh->s6_addr32[2])	/* IPv4-compatible */
			v4 = nh->s6_addr32[3];
	}
	return v4 && v4_public(v4) ? v4 : 0;
}

/* RFC 3964 5.1/5.3 on what an automatic tunnel accepts from anyone: a
 * 6to4 address on either side must embed the outer address of that side
 * and be a public one.
 */
static bool ipt_6in4_auto_rcv_ok(__be32 saddr, __be32 daddr,
				 struct sk_buff *skb)
{
	const struct ipv6hdr *ip6h;

	/* the network header is still the outer one */
	if (!pskb_may_pull(skb, sizeof(*ip6h)))
		return false;
	ip6h = (const struct ipv6hdr *)skb->data;
	if (ip6h->version != 6)
		return false;

	if (is_6to4(&ip6h->saddr) &&
	    (embedded(&ip6h->saddr) != saddr || !v4_public(saddr)))
		return false;
	if (is_6to4(&ip6h->daddr) &&
	    (embedded(&ip6h->daddr) != daddr || !v4_public(daddr)))
		return false;
	return true;
}

static const struct ipt_kind ipt_6in4_kind = {
	.inner		= htons(ETH_P_IPV6),
	.family		= AF_INET,
	.proto		= IPPROTO_IPV6,
	.hlen		= sizeof(struct iphdr),
	.default_df	= IPT_DF_INHERIT,
	.remote_optional = true,
	.dev_type	= ARPHRD_SIT,
	.min_mtu	= IPV6_MIN_MTU,
	.auto_remote4	= ipt_6in4_auto_remote,
	.auto_rcv_ok4	= ipt_6in4_auto_rcv_ok,
};

static void ipt_6in4_setup(struct net_device *dev)
{
	ipt_setup(dev, &ipt_6in4_kind);
}

static struct rtnl_link_ops ipt_6in4_link_ops __read_mostly = {
	IPT_RTNL_LINK_OPS("ipt_6in4", ipt_policy4, ipt_6in4_setup)
};

static int ipt_6in4_rcv(struct sk_buff *skb)
{
	return ipt_rcv4(skb, &ipt_6in4_kind);
}

static int ipt_6in4_err(struct sk_buff *skb, u32 info)
{
	return ipt_err4(skb, info, &ipt_6in4_kind);
}

static struct xfrm_tunnel ipt_6in4_handler __read_mostly = {
	.handler	= ipt_6in4_rcv,
	.err_handler	= ipt_6in4_err,
	.priority	= IPT_HANDLER_PRIORITY,
};

int __init ipt_6in4_init(void)
{
	int err;

	/* AF_INET6 selects the IPv4 chain for protocol 41 (tunnel64) */
	err = xfrm4_tunnel_register(&ipt_6in4_handler, AF_INET6);
	if (err) {
		pr_err("cannot register the IPv4 protocol 41 handler: %d\n", err);
		return err;
	}

	err = rtnl_link_register(&ipt_6in4_link_ops);
	if (err)
		goto err_deregister_handler;
	return 0;

err_deregister_handler:
	xfrm4_tunnel_deregister(&ipt_6in4_handler, AF_INET6);
	return err;
}

void ipt_6in4_uninit(void)
{
	rtnl_link_unregister(&ipt_6in4_link_ops);
	xfrm4_tunnel_deregister(&ipt_6in4_handler, AF_INET6);
}

MODULE_ALIAS_RTNL_LINK("ipt_6in4");
