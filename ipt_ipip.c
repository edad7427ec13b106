// SPDX-License-Identifier: GPL-2.0
/*
 * ipt_ipip: IPv4 in IPv4, IP protocol 4 (RFC 2003).
 */

#include <linux/if_arp.h>
#include <linux/in.h>
#include <net/ip.h>
#include <net/xfrm.h>

#include "ipt.h"

static const struct ipt_kind ipt_ipip_kind = {
	.inner		= htons(ETH_P_IP),
	.family		= AF_INET,
	.proto		= IPPROTO_IPIP,
	.hlen		= sizeof(struct iphdr),
	.default_df	= IPT_DF_INHERIT,
	.dev_type	= ARPHRD_TUNNEL,
	.min_mtu	= IPV4_MIN_MTU,
};

static void ipt_ipip_setup(struct net_device *dev)
{
	ipt_setup(dev, &ipt_ipip_kind);
}

static struct rtnl_link_ops ipt_ipip_link_ops __read_mostly = {
	IPT_RTNL_LINK_OPS("ipt_ipip", ipt_policy4, ipt_ipip_setup)
};

static int ipt_ipip_rcv(struct sk_buff *skb)
{
	return ipt_rcv4(skb, &ipt_ipip_kind);
}

static int ipt_ipip_err(struct sk_buff *skb, u32 info)
{
	return ipt_err4(skb, info, &ipt_ipip_kind);
}

static struct xfrm_tunnel ipt_ipip_handler __read_mostly = {
	.handler	= ipt_ipip_rcv,
	.err_handler	= ipt_ipip_err,
	.priority	= IPT_HANDLER_PRIORITY,
};

int __init ipt_ipip_init(void)
{
	int err;

	err = xfrm4_tunnel_register(&ipt_ipip_handler, AF_INET);
	if (err) {
		pr_err("cannot register the IPv4 protocol 4 handler: %d\n", err);
		return err;
	}

	err = rtnl_link_register(&ipt_ipip_link_ops);
	if (err)
		goto err_deregister_handler;
	return 0;

err_deregister_handler:
	xfrm4_tunnel_deregister(&ipt_ipip_handler, AF_INET);
	return err;
}

void ipt_ipip_uninit(void)
{
	rtnl_link_unregister(&ipt_ipip_link_ops);
	xfrm4_tunnel_deregister(&ipt_ipip_handler, AF_INET);
}

MODULE_ALIAS_RTNL_LINK("ipt_ipip");
