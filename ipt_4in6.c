// SPDX-License-Identifier: GPL-2.0
/*
 * ipt_4in6: IPv4 in IPv6, next header 4 (RFC 2473).
 */

#include <linux/if_arp.h>
#include <linux/in.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/xfrm.h>

#include "ipt.h"

static const struct ipt_kind ipt_4in6_kind = {
	.inner		= htons(ETH_P_IP),
	.family		= AF_INET6,
	.proto		= IPPROTO_IPIP,
	.hlen		= sizeof(struct ipv6hdr),
	/* as RouterOS: non-DF traffic is fragmented at the tunnel entry */
	.default_df	= IPT_DF_NO,
	.dev_type	= ARPHRD_TUNNEL6,
	.min_mtu	= IPV4_MIN_MTU,
};

static void ipt_4in6_setup(struct net_device *dev)
{
	ipt_setup(dev, &ipt_4in6_kind);
}

static struct rtnl_link_ops ipt_4in6_link_ops __read_mostly = {
	IPT_RTNL_LINK_OPS("ipt_4in6", ipt_policy6, ipt_4in6_setup)
};

static int ipt_4in6_rcv(struct sk_buff *skb)
{
	return ipt_rcv6(skb, &ipt_4in6_kind);
}

static int ipt_4in6_err(struct sk_buff *skb, struct inet6_skb_parm *opt,
			u8 type, u8 code, int offset, __be32 info)
{
	return ipt_err6(skb, type, code, offset, info, &ipt_4in6_kind);
}

static struct xfrm6_tunnel ipt_4in6_handler __read_mostly = {
	.handler	= ipt_4in6_rcv,
	.err_handler	= ipt_4in6_err,
	.priority	= IPT_HANDLER_PRIORITY,
};

int __init ipt_4in6_init(void)
{
	int err;

	/* AF_INET selects the IPv6 chain for next header 4 (tunnel46) */
	err = xfrm6_tunnel_register(&ipt_4in6_handler, AF_INET);
	if (err) {
		pr_err("cannot register the IPv6 next header 4 handler: %d\n", err);
		return err;
	}

	err = rtnl_link_register(&ipt_4in6_link_ops);
	if (err)
		goto err_deregister_handler;
	return 0;

err_deregister_handler:
	xfrm6_tunnel_deregister(&ipt_4in6_handler, AF_INET);
	return err;
}

void ipt_4in6_uninit(void)
{
	rtnl_link_unregister(&ipt_4in6_link_ops);
	xfrm6_tunnel_deregister(&ipt_4in6_handler, AF_INET);
}

MODULE_ALIAS_RTNL_LINK("ipt_4in6");
