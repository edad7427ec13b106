// SPDX-License-Identifier: GPL-2.0
/*
 * ipt netlink: the attribute policies, and the translation between
 * attributes and a tunnel's configuration.
 */

#include <linux/netdevice.h>
#include <net/ipv6.h>
#include <net/netlink.h>

#include "ipt.h"

/* Attribute policies by outer family; ipt_validate() checks the ranges
 * that a policy cannot express (values with a sentinel).
 */
const struct nla_policy ipt_policy4[IFLA_IPT_MAX + 1] = {
	[IFLA_IPT_UNSPEC]	= { .strict_start_type = IFLA_IPT_LINK },
	[IFLA_IPT_LINK]		= { .type = NLA_U32 },
	[IFLA_IPT_LOCAL]	= NLA_POLICY_EXACT_LEN(sizeof(struct in_addr)),
	[IFLA_IPT_REMOTE]	= NLA_POLICY_EXACT_LEN(sizeof(struct in_addr)),
	[IFLA_IPT_TTL]		= { .type = NLA_U8 },
	[IFLA_IPT_DSCP]		= { .type = NLA_U8 },
	[IFLA_IPT_DF]		= NLA_POLICY_MAX(NLA_U8, IPT_DF_MAX),
	[IFLA_IPT_CLAMP_MSS]	= NLA_POLICY_MAX(NLA_U8, 1),
	[IFLA_IPT_KEEPALIVE_INTERVAL] = { .type = NLA_U32 },
	[IFLA_IPT_KEEPALIVE_RETRIES] = { .type = NLA_U32 },
	[IFLA_IPT_ENCAP_LIMIT]	= { .type = NLA_REJECT,
				    .reject_message = "encaplimit is only valid for ipt_4in6" },
	[IFLA_IPT_FLOWLABEL]	= { .type = NLA_REJECT,
				    .reject_message = "flowlabel is only valid for ipt_4in6" },
	[IFLA_IPT_FAST_PATH]	= NLA_POLICY_MAX(NLA_U8, 1),
};

const struct nla_policy ipt_policy6[IFLA_IPT_MAX + 1] = {
	[IFLA_IPT_UNSPEC]	= { .strict_start_type = IFLA_IPT_LINK },
	[IFLA_IPT_LINK]		= { .type = NLA_U32 },
	[IFLA_IPT_LOCAL]	= NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
	[IFLA_IPT_REMOTE]	= NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
	[IFLA_IPT_TTL]		= { .type = NLA_U8 },
	[IFLA_IPT_DSCP]		= { .type = NLA_U8 },
	[IFLA_IPT_DF]		= NLA_POLICY_MAX(NLA_U8, IPT_DF_MAX),
	[IFLA_IPT_CLAMP_MSS]	= NLA_POLICY_MAX(NLA_U8, 1),
	[IFLA_IPT_KEEPALIVE_INTERVAL] = { .type = NLA_U32 },
	[IFLA_IPT_KEEPALIVE_RETRIES] = { .type = NLA_U32 },
	[IFLA_IPT_ENCAP_LIMIT]	= { .type = NLA_U16 },
	[IFLA_IPT_FLOWLABEL]	= { .type = NLA_U32 },
	[IFLA_IPT_FAST_PATH]	= NLA_POLICY_MAX(NLA_U8, 1),
};

int ipt_validate(struct nlattr *tb[], struct nlattr *data[],
		 struct netlink_ext_ack *extack)
{
	if (!data)
		return 0;

	if (data[IFLA_IPT_DSCP] &&
	    nla_get_u8(data[IFLA_IPT_DSCP]) > 63 &&
	    nla_get_u8(data[IFLA_IPT_DSCP]) != IPT_DSCP_INHERIT) {
		NL_SET_ERR_MSG_ATTR(extack, data[IFLA_IPT_DSCP],
				    "DSCP must be 0-63 or inherit");
		return -EINVAL;
	}
	if (data[IFLA_IPT_KEEPALIVE_INTERVAL] &&
	    nla_get_u32(data[IFLA_IPT_KEEPALIVE_INTERVAL]) > IPT_KEEPALIVE_MAX) {
		NL_SET_ERR_MSG_ATTR(extack, data[IFLA_IPT_KEEPALIVE_INTERVAL],
				    "keepalive interval must be 0 (off) to 3600 seconds");
		return -EINVAL;
	}
	if (data[IFLA_IPT_KEEPALIVE_RETRIES] &&
	    (nla_get_u32(data[IFLA_IPT_KEEPALIVE_RETRIES]) < 1 ||
	     nla_get_u32(data[IFLA_IPT_KEEPALIVE_RETRIES]) > 255)) {
		NL_SET_ERR_MSG_ATTR(extack, data[IFLA_IPT_KEEPALIVE_RETRIES],
				    "keepalive retries must be 1-255");
		return -EINVAL;
	}
	if (data[IFLA_IPT_ENCAP_LIMIT] &&
	    nla_get_u16(data[IFLA_IPT_ENCAP_LIMIT]) > 255 &&
	    nla_get_u16(data[IFLA_IPT_ENCAP_LIMIT]) != IPT_ENCAP_LIMIT_NONE) {
		NL_SET_ERR_MSG_ATTR(extack, data[IFLA_IPT_ENCAP_LIMIT],
				    "encaplimit must be 0-255 or none");
		return -EINVAL;
	}
	if (data[IFLA_IPT_FLOWLABEL] &&
	    nla_get_u32(data[IFLA_IPT_FLOWLABEL]) > 0xfffff &&
	    nla_get_u32(data[IFLA_IPT_FLOWLABEL]) != IPT_FLOWLABEL_AUTO) {
		NL_SET_ERR_MSG_ATTR(extack, data[IFLA_IPT_FLOWLABEL],
				    "flowlabel must be 0-0xfffff or auto");
		return -EINVAL;
	}
	return 0;
}

static bool addr_unicast(const struct ipt_kind *kind, const union ipt_addr *a)
{
	if (kind->family == AF_INET)
		return !ipv4_is_multicast(a->ip4) && !ipv4_is_lbcast(a->ip4) &&
		       !ipv4_is_zeronet(a->ip4);
	return !(ipv6_addr_type(&a->ip6) &
		 (IPV6_ADDR_MULTICAST | IPV6_ADDR_ANY));
}

/* RTNL.  Merge @data into @cfg and check the result as a whole (the
 * core checks it against the other tunnels).
 */
int ipt_parse_cfg(struct ipt_tunnel *t, struct nlattr *data[],
		  struct ipt_cfg *cfg, struct netlink_ext_ack *extack)
{
	const struct ipt_kind *kind = t->kind;

	if (data && data[IFLA_IPT_LOCAL])
		nla_memcpy(&cfg->local, data[IFLA_IPT_LOCAL], ipt_addr_len(kind));
	if (data && data[IFLA_IPT_REMOTE])
		nla_memcpy(&cfg->remote, data[IFLA_IPT_REMOTE], ipt_addr_len(kind));
	if (data && data[IFLA_IPT_LINK])
		cfg->link = nla_get_u32(data[IFLA_IPT_LINK]);
	if (data && data[IFLA_IPT_TTL])
		cfg->ttl = nla_get_u8(data[IFLA_IPT_TTL]);
	if (data && data[IFLA_IPT_DSCP])
		cfg->dscp = nla_get_u8(data[IFLA_IPT_DSCP]);
	if (data && data[IFLA_IPT_DF])
		cfg->df = nla_get_u8(data[IFLA_IPT_DF]);
	if (data && data[IFLA_IPT_KEEPALIVE_INTERVAL])
		cfg->ka_interval = nla_get_u32(data[IFLA_IPT_KEEPALIVE_INTERVAL]);
	if (data && data[IFLA_IPT_KEEPALIVE_RETRIES])
		cfg->ka_retries = nla_get_u32(data[IFLA_IPT_KEEPALIVE_RETRIES]);
	if (data && data[IFLA_IPT_CLAMP_MSS])
		cfg->clamp_mss = nla_get_u8(data[IFLA_IPT_CLAMP_MSS]);
	if (data && data[IFLA_IPT_ENCAP_LIMIT])
		cfg->encap_limit = nla_get_u16(data[IFLA_IPT_ENCAP_LIMIT]);
	if (data && data[IFLA_IPT_FLOWLABEL])
		cfg->flowlabel = nla_get_u32(data[IFLA_IPT_FLOWLABEL]);
	if (data && data[IFLA_IPT_FAST_PATH])
		cfg->fast_path = nla_get_u8(data[IFLA_IPT_FAST_PATH]);
	/* the RFC 2473 destination option: 8 more bytes of outer header */
	cfg->hlen = kind->hlen +
		    (cfg->encap_limit != IPT_ENCAP_LIMIT_NONE ? 8 : 0);

	if (!ipt_addr_any(kind, &cfg->local) && !addr_unicast(kind, &cfg->local)) {
		NL_SET_ERR_MSG(extack, "local address must be a unicast address");
		return -EINVAL;
	}
	if (ipt_addr_any(kind, &cfg->remote)) {
		if (!kind->remote_optional) {
			NL_SET_ERR_MSG(extack, "remote address is required");
			return -EINVAL;
		}
	} else if (!addr_unicast(kind, &cfg->remote)) {
		NL_SET_ERR_MSG(extack, "remote address must be a unicast address");
		return -EINVAL;
	}
	if (cfg->ka_interval && ipt_addr_any(kind, &cfg->remote)) {
		NL_SET_ERR_MSG(extack, "keepalive needs a remote address");
		return -EINVAL;
	}
	/* Only a link given now: the device of an older one may be gone
	 * (the tunnel then follows the routes), and that must not block
	 * changing anything else.
	 */
	if (data && data[IFLA_IPT_LINK] && cfg->link) {
		struct net_device *ldev = __dev_get_by_index(t->net, cfg->link);

		if (!ldev) {
			NL_SET_ERR_MSG(extack, "underlay device not found");
			return -ENODEV;
		}
		if (ldev == t->dev) {
			NL_SET_ERR_MSG(extack, "a tunnel cannot be its own underlay");
			return -EINVAL;
		}
	}

	return 0;
}

size_t ipt_get_size(const struct net_device *dev)
{
	return nla_total_size(sizeof(u32)) +		/* IFLA_IPT_LINK */
	       nla_total_size(sizeof(struct in6_addr)) +	/* IFLA_IPT_LOCAL */
	       nla_total_size(sizeof(struct in6_addr)) +	/* IFLA_IPT_REMOTE */
	       nla_total_size(sizeof(u8)) +		/* IFLA_IPT_TTL */
	       nla_total_size(sizeof(u8)) +		/* IFLA_IPT_DSCP */
	       nla_total_size(sizeof(u8)) +		/* IFLA_IPT_DF */
	       nla_total_size(sizeof(u8)) +		/* IFLA_IPT_CLAMP_MSS */
	       nla_total_size(sizeof(u8)) +		/* IFLA_IPT_FAST_PATH */
	       nla_total_size(sizeof(u32)) +	/* IFLA_IPT_KEEPALIVE_INTERVAL */
	       nla_total_size(sizeof(u32)) +	/* IFLA_IPT_KEEPALIVE_RETRIES */
	       nla_total_size(sizeof(u16)) +		/* IFLA_IPT_ENCAP_LIMIT */
	       nla_total_size(sizeof(u32));		/* IFLA_IPT_FLOWLABEL */
}

int ipt_fill_info(struct sk_buff *skb, const struct net_device *dev)
{
	const struct ipt_tunnel *t = netdev_priv(dev);
	const struct ipt_cfg *cfg = rtnl_dereference(t->cfg);
	unsigned int len = ipt_addr_len(t->kind);

	if (nla_put_u32(skb, IFLA_IPT_LINK, cfg->link) ||
	    nla_put(skb, IFLA_IPT_LOCAL, len, &cfg->local) ||
	    nla_put(skb, IFLA_IPT_REMOTE, len, &cfg->remote) ||
	    nla_put_u8(skb, IFLA_IPT_TTL, cfg->ttl) ||
	    nla_put_u8(skb, IFLA_IPT_DSCP, cfg->dscp) ||
	    nla_put_u8(skb, IFLA_IPT_DF, cfg->df) ||
	    nla_put_u8(skb, IFLA_IPT_CLAMP_MSS, cfg->clamp_mss) ||
	    nla_put_u8(skb, IFLA_IPT_FAST_PATH, cfg->fast_path) ||
	    nla_put_u32(skb, IFLA_IPT_KEEPALIVE_INTERVAL, cfg->ka_interval) ||
	    nla_put_u32(skb, IFLA_IPT_KEEPALIVE_RETRIES, cfg->ka_retries))
		return -EMSGSIZE;
	if (t->kind->family == AF_INET6 &&
	    (nla_put_u16(skb, IFLA_IPT_ENCAP_LIMIT, cfg->encap_limit) ||
	     nla_put_u32(skb, IFLA_IPT_FLOWLABEL, cfg->flowlabel)))
		return -EMSGSIZE;
	return 0;
}

struct net *ipt_get_link_net(const struct net_device *dev)
{
	const struct ipt_tunnel *t = netdev_priv(dev);

	return t->net;
}
