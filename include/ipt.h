/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interface shared by the ipt core and the per-kind files.
 */
#ifndef _IPT_H
#define _IPT_H

#include <linux/hashtable.h>
#include <linux/netdevice.h>
#include <linux/rhashtable.h>
#include <linux/workqueue.h>
#include <net/dst_cache.h>
#include <net/ipv6.h>
#include <net/netns/generic.h>
#include <net/rtnetlink.h>
#include <uapi/linux/ipt.h>

/* IPT_VERSION, for MODULE_VERSION(), comes from the VERSION file via Kbuild. */

/* Ahead of every in-tree handler on the tunnel4/tunnel6 chains (they use
 * 0-4): we answer "not mine" with one hash lookup, whereas an UP in-tree
 * fallback device would swallow everything that reaches it.
 */
#define IPT_HANDLER_PRIORITY	-1

union ipt_addr {
	__be32 ip4;
	struct in6_addr ip6;
};

/* Receive lookup key.  It is hashed as raw bytes, so every instance must
 * be fully zeroed before the fields are set.
 */
struct ipt_key {
	union ipt_addr local;
	union ipt_addr remote;
	u8 family;	/* outer: AF_INET or AF_INET6 */
	u8 proto;	/* inner: IPPROTO_IPIP or IPPROTO_IPV6 */
	u16 pad;
};

/* Per-kind constants and hooks; one instance per rtnl kind. */
struct ipt_kind {
	__be16 inner;		/* ETH_P_IP or ETH_P_IPV6 */
	u8 family;		/* outer address family */
	u8 proto;		/* outer protocol / next header */
	u8 hlen;		/* outer header bytes */
	bool remote_optional;	/* 6to4: no remote means automatic */
	u8 default_df;		/* enum ipt_df */
	unsigned short dev_type;
	unsigned int min_mtu;
	/* Automatic tunnels (no remote) only: the outer destination for
	 * @skb or 0, and the inbound source checks.
	 */
	__be32 (*auto_remote4)(struct sk_buff *skb);
	bool (*auto_rcv_ok4)(__be32 saddr, __be32 daddr, struct sk_buff *skb);
};

/* What the user configured.  Replaced as a whole under RTNL and freed
 * after a grace period, so the transmit path (an RCU-bh reader) always
 * sees a consistent set.
 */
struct ipt_cfg {
	union ipt_addr local;
	union ipt_addr remote;
	int link;
	u32 flowlabel;		/* ipt_4in6: host order or IPT_FLOWLABEL_AUTO */
	u16 encap_limit;	/* ipt_4in6: 0-255 or IPT_ENCAP_LIMIT_NONE */
	u8 hlen;		/* outer headers, derived */
	u8 ttl;
	u8 dscp;
	u8 df;
	bool clamp_mss;
	bool fast_path;		/* offloads: see ipt_fix_features() */
	u32 ka_interval;	/* seconds, 0 = off */
	u32 ka_retries;
	struct rcu_head rcu;
};

/* The tunnels carried by one underlay device (ipt_underlay.c).  Looked
 * up under RTNL, or under RCU from the IPv6 address notifier.
 */
struct ipt_underlay {
	struct hlist_node node;		/* ipt_net::underlays */
	struct list_head tunnels;	/* ipt_tunnel::ul_node, RTNL */
	int ifindex;			/* 0: ipt_net::unrouted */
	bool pending;			/* an IPv6 address changed */
	struct rcu_head rcu;
};

/* Per network namespace: the tunnels whose underlay is there. */
struct ipt_net {
	struct rhltable table;		/* receive lookup, RCU readers */
	struct list_head tunnels;	/* all tunnels of this underlay, RTNL */
	int wild_local;			/* tunnels with local "any" */
	int wild_remote;		/* tunnels with remote "any" (6to4) */
	unsigned long __percpu *no_tunnel;	/* IPT_XSTATS_NO_TUNNEL */

	/* ipt_underlay.c: tunnels by underlay device, RTNL (RCU readers) */
	DECLARE_HASHTABLE(underlays, 4);
	struct ipt_underlay unrouted;	/* tunnels with no route */
	bool recheck;			/* work: look at every tunnel */
	bool dying;			/* no more work from notifiers */
	struct work_struct ul_work;	/* IPv6 address changes */
};

extern unsigned int ipt_net_id;

static inline struct ipt_net *ipt_net(const struct net *net)
{
	return net_generic(net, ipt_net_id);
}

struct ipt_tunnel {
	struct ipt_cfg __rcu *cfg;
	const struct ipt_kind *kind;
	struct net_device *dev;
	/* Underlay namespace: where outer packets are routed and received.
	 * The device itself may be moved to another namespace.
	 */
	struct net *net;
	struct dst_cache dst_cache;
	struct ipt_rx_cell __percpu *cells;	/* receive delivery, ipt_rx.c */

	/* Receive table linkage; key changes only while unhashed (RTNL). */
	struct rhlist_head node;
	struct ipt_key key;
	int link;			/* cfg->link, to prefer bound tunnels */
	struct list_head list;		/* ipt_net::tunnels, RTNL */

	unsigned int path_mtu;		/* last seen by transmit, for the clamp */

	/* Extended statistics.  None counts data packets that are passed
	 * on, only exceptions (drops, probes, clamped SYNs, ICMP), so they
	 * are plain atomics: per-cpu copies would cost each tunnel 112
	 * bytes per possible CPU that the in-tree tunnels do not pay.
	 */
	atomic64_t xstats[__IPT_XSTATS_MAX];

	/* Keepalive and carrier, see ipt_keepalive.c */
	unsigned long last_rx;		/* jiffies, peer last heard */
	struct timer_list ka_timer;
	spinlock_t ka_lock;		/* carrier transitions */
	bool ka_down;			/* peer silent for too long */
	bool underlay_down;		/* remote not routable */

	int underlay_ifindex;		/* last resolved underlay, RTNL */
	struct ipt_underlay *ul;	/* its group, NULL if unregistered */
	struct list_head ul_node;	/* ipt_underlay::tunnels, RTNL */
	bool mtu_user;			/* MTU set by the user: sticky */
	bool mtu_auto;			/* we are changing the MTU ourselves */
};

static inline unsigned int ipt_addr_len(const struct ipt_kind *kind)
{
	return kind->family == AF_INET ? sizeof(struct in_addr) :
					 sizeof(struct in6_addr);
}

static inline bool ipt_addr_any(const struct ipt_kind *kind,
				const union ipt_addr *a)
{
	return kind->family == AF_INET ? !a->ip4 : ipv6_addr_any(&a->ip6);
}

/* Tunnels routed over each other would raise each other's headroom on
 * every packet until the u16 wraps (as in-tree, CVE-2024-26804): capped.
 */
#define IPT_MAX_HEADROOM	512

static inline void ipt_adj_headroom(struct net_device *dev,
				    unsigned int headroom)
{
	headroom = min_t(unsigned int, headroom, IPT_MAX_HEADROOM);
	if (headroom > READ_ONCE(dev->needed_headroom))
		WRITE_ONCE(dev->needed_headroom, headroom);
}

/* Any context */
static inline void ipt_xstat_inc(struct ipt_tunnel *t, int idx)
{
	atomic64_inc(&t->xstats[idx]);
}

/* ipt_core.c */
void ipt_setup(struct net_device *dev, const struct ipt_kind *kind);
int ipt_newlink(struct net *src_net, struct net_device *dev,
		struct nlattr *tb[], struct nlattr *data[],
		struct netlink_ext_ack *extack);
int ipt_changelink(struct net_device *dev, struct nlattr *tb[],
		   struct nlattr *data[], struct netlink_ext_ack *extack);
size_t ipt_get_xstats_size(const struct net_device *dev);
int ipt_fill_xstats(struct sk_buff *skb, const struct net_device *dev);
void ipt_count_no_tunnel(struct net *net);
struct ipt_tunnel *ipt_lookup(struct net *net, const struct ipt_kind *kind,
			      const void *local, const void *remote,
			      int ifindex);

/* ipt_underlay.c */
struct net_device *ipt_route_dev(struct ipt_tunnel *t,
				 const struct ipt_cfg *cfg);
bool ipt_routable(struct ipt_tunnel *t, const struct ipt_cfg *cfg,
		  const struct net_device *tdev);
int ipt_underlay_resolve(struct ipt_tunnel *t, const struct ipt_cfg *cfg,
			 bool *routable);
void ipt_underlay_update(struct ipt_tunnel *t);
void ipt_underlay_attach(struct ipt_tunnel *t);
void ipt_underlay_detach(struct ipt_tunnel *t);
void ipt_underlay_recheck(struct ipt_tunnel *t);
void ipt_underlay_net_init(struct ipt_net *in);
void ipt_underlay_net_exit_batch(struct list_head *net_list);
int ipt_underlay_init(void);
void ipt_underlay_uninit(void);

/* ipt_netlink.c */
extern const struct nla_policy ipt_policy4[IFLA_IPT_MAX + 1];
extern const struct nla_policy ipt_policy6[IFLA_IPT_MAX + 1];
int ipt_validate(struct nlattr *tb[], struct nlattr *data[],
		 struct netlink_ext_ack *extack);
int ipt_parse_cfg(struct ipt_tunnel *t, struct nlattr *data[],
		  struct ipt_cfg *cfg, struct netlink_ext_ack *extack);
size_t ipt_get_size(const struct net_device *dev);
int ipt_fill_info(struct sk_buff *skb, const struct net_device *dev);
struct net *ipt_get_link_net(const struct net_device *dev);

/* The rtnl_link_ops of a kind: all but the name, the policy of its outer
 * family and its setup are the core's.
 */
#define IPT_RTNL_LINK_OPS(_kind, _policy, _setup)		\
	.kind		= _kind,				\
	.maxtype	= IFLA_IPT_MAX,				\
	.policy		= _policy,				\
	.priv_size	= sizeof(struct ipt_tunnel),		\
	.setup		= _setup,				\
	.validate	= ipt_validate,				\
	.newlink	= ipt_newlink,				\
	.changelink	= ipt_changelink,			\
	.get_size	= ipt_get_size,				\
	.fill_info	= ipt_fill_info,			\
	.get_xstats_size = ipt_get_xstats_size,			\
	.fill_xstats	= ipt_fill_xstats,			\
	.get_link_net	= ipt_get_link_net,

/* ipt_rx.c */
int ipt_rcv(struct ipt_tunnel *t, struct sk_buff *skb, u8 outer_dsfield);
int ipt_rx_cells_init(struct ipt_tunnel *t);
void ipt_rx_cells_destroy(struct ipt_tunnel *t);
int ipt_rcv4(struct sk_buff *skb, const struct ipt_kind *kind);
int ipt_err4(struct sk_buff *skb, u32 info, const struct ipt_kind *kind);
int ipt_rcv6(struct sk_buff *skb, const struct ipt_kind *kind);
int ipt_err6(struct sk_buff *skb, u8 type, u8 code, int offset, __be32 info,
	     const struct ipt_kind *kind);

/* ipt_tx.c */
netdev_tx_t ipt_xmit4(struct sk_buff *skb, struct net_device *dev);
netdev_tx_t ipt_xmit6(struct sk_buff *skb, struct net_device *dev);

/* ipt_mss.c */
int ipt_mss_find(const u8 *th, unsigned int len);
bool ipt_mss_lower(u8 *th, unsigned int len, u16 max, bool partial);
void ipt_mss_clamp(struct ipt_tunnel *t, struct sk_buff *skb,
		   unsigned int mtu);

/* ipt_keepalive.c */
void ipt_ka_init(struct ipt_tunnel *t);
void ipt_ka_start(struct ipt_tunnel *t);
void ipt_ka_stop(struct ipt_tunnel *t);
void ipt_ka_heard(struct ipt_tunnel *t);
bool ipt_ka_rcv(struct ipt_tunnel *t, struct sk_buff *skb);
void ipt_underlay_seen(struct ipt_tunnel *t, bool routable);

/* Probes and their replies are never longer than this (inner bytes). */
#define IPT_KA_MAXLEN	(sizeof(struct iphdr) + sizeof(struct ipv6hdr))

/* Kinds */
int ipt_ipip_init(void);
void ipt_ipip_uninit(void);
int ipt_6in4_init(void);
void ipt_6in4_uninit(void);
int ipt_4in6_init(void);
void ipt_4in6_uninit(void);

#endif /* _IPT_H */
