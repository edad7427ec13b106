// SPDX-License-Identifier: GPL-2.0
/*
 * ipt core: the per-netns tunnel table, the netdevice and its lifetime,
 * creating and changing tunnels, following the underlay (carrier, MTU),
 * extended statistics and module init/exit.
 */

#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/module.h>
#include <linux/inetdevice.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ip_tunnels.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/route.h>

#include "ipt.h"

#define IPT_FEATURES (NETIF_F_SG | NETIF_F_FRAGLIST | NETIF_F_HIGHDMA | \
		      NETIF_F_GSO_SOFTWARE | NETIF_F_HW_CSUM)

/* What "fast-path no" turns off: GSO needs SG, GRO is done in ipt_rx.c. */
#define IPT_FAST_PATH_FEATURES (NETIF_F_SG | NETIF_F_FRAGLIST | \
				NETIF_F_GSO_SOFTWARE | NETIF_F_GSO | \
				NETIF_F_HW_CSUM | NETIF_F_GRO)

unsigned int ipt_net_id __read_mostly;

static const struct rhashtable_params ipt_rht_params = {
	.key_len = sizeof(struct ipt_key),
	.key_offset = offsetof(struct ipt_tunnel, key),
	.head_offset = offsetof(struct ipt_tunnel, node),
	.automatic_shrinking = true,
};

static void make_key(struct ipt_key *key, const struct ipt_kind *kind,
		     const void *local, const void *remote)
{
	memset(key, 0, sizeof(*key));
	memcpy(&key->local, local, ipt_addr_len(kind));
	memcpy(&key->remote, remote, ipt_addr_len(kind));
	key->family = kind->family;
	key->proto = kind->inner == htons(ETH_P_IP) ? IPPROTO_IPIP :
						     IPPROTO_IPV6;
}

/* RCU read side.  Among tunnels with the same addresses the one bound to
 * the receiving device wins, then an unbound one, then any.  A tunnel that
 * is administratively down is not there for receive, as with the in-tree
 * tunnels: its packets go to the next handler (or get the ICMP error of
 * no handler) instead of being delivered on a down device.  Carrier is
 * not looked at: a keepalive-down tunnel must still hear the replies that
 * bring it back.
 */
static struct ipt_tunnel *lookup_key(struct ipt_net *in,
				     const struct ipt_key *key, int ifindex)
{
	struct ipt_tunnel *t, *cand = NULL;
	struct rhlist_head *list, *pos;

	list = rhltable_lookup(&in->table, key, ipt_rht_params);
	rhl_for_each_entry_rcu(t, pos, list, node) {
		if (!(READ_ONCE(t->dev->flags) & IFF_UP))
			continue;
		if (t->link == ifindex)
			return t;
		if (!cand || (cand->link && !t->link))
			cand = t;
	}
	return cand;
}

/* RCU read side.  Exact match first; the wildcard passes cost nothing
 * unless such tunnels exist in this namespace.
 */
struct ipt_tunnel *ipt_lookup(struct net *net, const struct ipt_kind *kind,
			      const void *local, const void *remote,
			      int ifindex)
{
	struct ipt_net *in = ipt_net(net);
	struct ipt_tunnel *t;
	struct ipt_key key;

	make_key(&key, kind, local, remote);
	t = lookup_key(in, &key, ifindex);
	if (t)
		return t;

	if (READ_ONCE(in->wild_local)) {
		memset(&key.local, 0, sizeof(key.local));
		t = lookup_key(in, &key, ifindex);
		if (t)
			return t;
		memcpy(&key.local, local, ipt_addr_len(kind));
	}

	if (kind->remote_optional && READ_ONCE(in->wild_remote)) {
		memset(&key.remote, 0, sizeof(key.remote));
		t = lookup_key(in, &key, ifindex);
		if (t)
			return t;
		memset(&key.local, 0, sizeof(key.local));
		t = lookup_key(in, &key, ifindex);
	}
	return t;
}

static void ipt_dev_free(struct net_device *dev)
{
	struct ipt_tunnel *t = netdev_priv(dev);

	ipt_rx_cells_destroy(t);
	dst_cache_destroy(&t->dst_cache);
	free_percpu(dev->tstats);
	kfree(rcu_dereference_protected(t->cfg, 1));
	RCU_INIT_POINTER(t->cfg, NULL);
	pr_debug("%s: destroyed\n", dev->name);
}

static void hash_count(struct ipt_net *in, struct ipt_tunnel *t, int delta)
{
	if (ipt_addr_any(t->kind, &t->key.local))
		WRITE_ONCE(in->wild_local, in->wild_local + delta);
	if (ipt_addr_any(t->kind, &t->key.remote))
		WRITE_ONCE(in->wild_remote, in->wild_remote + delta);
}

static int hash_tunnel(struct ipt_net *in, struct ipt_tunnel *t)
{
	int err;

	err = rhltable_insert(&in->table, &t->node, ipt_rht_params);
	if (!err)
		hash_count(in, t, 1);
	return err;
}

static void unhash_tunnel(struct ipt_net *in, struct ipt_tunnel *t)
{
	if (!rhltable_remove(&in->table, &t->node, ipt_rht_params))
		hash_count(in, t, -1);
}

/* RTNL, from register_netdevice().  Everything that can fail happens
 * here: a failure after register_netdevice() returned could not be
 * unwound by rtnl_newlink().
 */
static int ipt_dev_init(struct net_device *dev)
{
	struct ipt_tunnel *t = netdev_priv(dev);
	struct ipt_net *in = ipt_net(t->net);
	int err;

	dev->tstats = netdev_alloc_pcpu_stats(struct pcpu_sw_netstats);
	if (!dev->tstats)
		return -ENOMEM;

	err = dst_cache_init(&t->dst_cache, GFP_KERNEL);
	if (err)
		goto err_free_stats;

	err = ipt_rx_cells_init(t);
	if (err)
		goto err_destroy_dst_cache;

	err = hash_tunnel(in, t);
	if (err)
		goto err_destroy_cells;

	list_add_tail(&t->list, &in->tunnels);
	ipt_underlay_attach(t);
	netdev_lockdep_set_classes(dev);
	pr_debug("%s: created\n", dev->name);
	return 0;

err_destroy_cells:
	ipt_rx_cells_destroy(t);
err_destroy_dst_cache:
	dst_cache_destroy(&t->dst_cache);
err_free_stats:
	free_percpu(dev->tstats);
	dev->tstats = NULL;
	return err;
}

/* RTNL.  unregister_netdevice_many() waits for a grace period after this,
 * so no receive path still holds the tunnel when ipt_dev_free() runs.
 */
static void ipt_dev_uninit(struct net_device *dev)
{
	struct ipt_tunnel *t = netdev_priv(dev);

	ipt_ka_stop(t);
	unhash_tunnel(ipt_net(t->net), t);
	list_del(&t->list);
	ipt_underlay_detach(t);
	dst_cache_reset(&t->dst_cache);
}

static int ipt_dev_open(struct net_device *dev)
{
	struct ipt_tunnel *t = netdev_priv(dev);

	/* The underlay may have been configured after the tunnel. */
	ipt_underlay_update(t);
	ipt_ka_start(t);
	return 0;
}

static int ipt_dev_stop(struct net_device *dev)
{
	ipt_ka_stop(netdev_priv(dev));
	return 0;
}

static int ipt_change_mtu(struct net_device *dev, int new_mtu)
{
	struct ipt_tunnel *t = netdev_priv(dev);

	if (!t->mtu_auto)
		t->mtu_user = true;
	WRITE_ONCE(dev->mtu, new_mtu);
	return 0;
}

/* RTNL.  Without the fast path the stack segments and checksums every
 * packet before handing it to us, and received packets skip GRO.
 */
static netdev_features_t ipt_fix_features(struct net_device *dev,
					  netdev_features_t features)
{
	struct ipt_tunnel *t = netdev_priv(dev);

	if (!rtnl_dereference(t->cfg)->fast_path)
		features &= ~IPT_FAST_PATH_FEATURES;
	return features;
}

static int ipt_get_iflink(const struct net_device *dev)
{
	const struct ipt_tunnel *t = netdev_priv(dev);

	return READ_ONCE(t->link);
}

/* One set per outer family: the transmit path is chosen without an
 * indirect call.
 */
static const struct net_device_ops ipt_netdev_ops4 = {
	.ndo_init		= ipt_dev_init,
	.ndo_uninit		= ipt_dev_uninit,
	.ndo_open		= ipt_dev_open,
	.ndo_stop		= ipt_dev_stop,
	.ndo_start_xmit		= ipt_xmit4,
	.ndo_get_stats64	= dev_get_tstats64,
	.ndo_change_mtu		= ipt_change_mtu,
	.ndo_get_iflink		= ipt_get_iflink,
	.ndo_fix_features	= ipt_fix_features,
};

static const struct net_device_ops ipt_netdev_ops6 = {
	.ndo_init		= ipt_dev_init,
	.ndo_uninit		= ipt_dev_uninit,
	.ndo_open		= ipt_dev_open,
	.ndo_stop		= ipt_dev_stop,
	.ndo_start_xmit		= ipt_xmit6,
	.ndo_get_stats64	= dev_get_tstats64,
	.ndo_change_mtu		= ipt_change_mtu,
	.ndo_get_iflink		= ipt_get_iflink,
	.ndo_fix_features	= ipt_fix_features,
};

void ipt_setup(struct net_device *dev, const struct ipt_kind *kind)
{
	struct ipt_tunnel *t = netdev_priv(dev);

	t->kind = kind;
	t->dev = dev;
	INIT_LIST_HEAD(&t->list);
	INIT_LIST_HEAD(&t->ul_node);
	ipt_ka_init(t);

	dev->netdev_ops = kind->family == AF_INET ? &ipt_netdev_ops4 :
						    &ipt_netdev_ops6;
	dev->header_ops = &ip_tunnel_header_ops;
	dev->type = kind->dev_type;
	dev->flags = IFF_NOARP | IFF_POINTOPOINT;
	dev->addr_len = ipt_addr_len(kind);
	dev->needed_headroom = LL_MAX_HEADER + kind->hlen;
	dev->min_mtu = kind->min_mtu;
	dev->max_mtu = (kind->family == AF_INET ? IP_MAX_MTU : IP6_MAX_MTU) -
		       kind->hlen;
	dev->mtu = ETH_DATA_LEN - kind->hlen;

	dev->priv_flags |= IFF_NO_QUEUE;
	dev->features |= NETIF_F_LLTX | IPT_FEATURES;
	dev->hw_features |= IPT_FEATURES;
	dev->hw_enc_features |= IPT_FEATURES;
	netif_keep_dst(dev);

	dev->needs_free_netdev = true;
	dev->priv_destructor = ipt_dev_free;
}

/* RTNL.  @cfg must not duplicate another tunnel's key and underlay. */
static int check_dup(struct ipt_tunnel *t, const struct ipt_cfg *cfg,
		     struct netlink_ext_ack *extack)
{
	struct ipt_net *in = ipt_net(t->net);
	struct rhlist_head *list, *pos;
	struct ipt_tunnel *other;
	struct ipt_key key;
	int err = 0;

	make_key(&key, t->kind, &cfg->local, &cfg->remote);
	rcu_read_lock();
	list = rhltable_lookup(&in->table, &key, ipt_rht_params);
	rhl_for_each_entry_rcu(other, pos, list, node) {
		if (other != t && other->link == cfg->link) {
			NL_SET_ERR_MSG(extack,
				       "a tunnel with these addresses and underlay already exists");
			err = -EEXIST;
			break;
		}
	}
	rcu_read_unlock();
	return err;
}

/* RTNL */
static int parse_cfg(struct ipt_tunnel *t, struct nlattr *data[],
		     struct ipt_cfg *cfg, struct netlink_ext_ack *extack)
{
	int err = ipt_parse_cfg(t, data, cfg, extack);

	return err ?: check_dup(t, cfg, extack);
}

static void set_dev_addrs(struct net_device *dev, const struct ipt_cfg *cfg)
{
	const struct ipt_tunnel *t = netdev_priv(dev);

	__dev_addr_set(dev, &cfg->local, dev->addr_len);
	memcpy(dev->broadcast, &cfg->remote, dev->addr_len);
	/* Automatic 6to4 has no peer: NBMA like sit's, so that addrconf
	 * gives it ::a.b.c.d/96 and a relay written ::a.b.c.d is an
	 * on-link next hop.
	 */
	if (ipt_addr_any(t->kind, &cfg->remote))
		dev->flags &= ~IFF_POINTOPOINT;
	else
		dev->flags |= IFF_POINTOPOINT;
}

int ipt_newlink(struct net *src_net, struct net_device *dev,
		struct nlattr *tb[], struct nlattr *data[],
		struct netlink_ext_ack *extack)
{
	struct ipt_tunnel *t = netdev_priv(dev);
	struct ipt_cfg *cfg;
	bool routable;
	int err, mtu;

	cfg = kzalloc(sizeof(*cfg), GFP_KERNEL);
	if (!cfg)
		return -ENOMEM;
	cfg->ttl = IPT_TTL_DEFAULT;
	cfg->dscp = IPT_DSCP_INHERIT;
	cfg->df = t->kind->default_df;
	cfg->encap_limit = IPT_ENCAP_LIMIT_NONE;
	cfg->flowlabel = IPT_FLOWLABEL_AUTO;
	cfg->clamp_mss = true;
	cfg->fast_path = true;
	cfg->ka_retries = IPT_KEEPALIVE_RETRIES_DEFAULT;

	t->net = src_net;
	err = parse_cfg(t, data, cfg, extack);
	if (err) {
		kfree(cfg);
		return err;
	}

	make_key(&t->key, t->kind, &cfg->local, &cfg->remote);
	t->link = cfg->link;
	RCU_INIT_POINTER(t->cfg, cfg);
	set_dev_addrs(dev, cfg);

	mtu = ipt_underlay_resolve(t, cfg, &routable);
	if (tb[IFLA_MTU])
		t->mtu_user = true;
	else
		dev->mtu = mtu;
	t->underlay_down = !routable;
	if (!routable)
		netif_carrier_off(dev);

	err = register_netdevice(dev);
	if (err) {
		/* ipt_dev_free() has run if ndo_init did; else cfg is ours */
		kfree(rcu_dereference_protected(t->cfg, 1));
		RCU_INIT_POINTER(t->cfg, NULL);
	}
	return err;
}

int ipt_changelink(struct net_device *dev, struct nlattr *tb[],
		   struct nlattr *data[], struct netlink_ext_ack *extack)
{
	struct ipt_tunnel *t = netdev_priv(dev);
	struct ipt_net *in = ipt_net(t->net);
	struct ipt_cfg *old = rtnl_dereference(t->cfg);
	struct ipt_key key = t->key;
	struct ipt_cfg *cfg;
	bool rehash;
	int err;

	/* rtnetlink applies IFLA_MTU only after us: refuse a bad one now,
	 * so that the request fails as a whole instead of half applied.
	 */
	if (tb[IFLA_MTU]) {
		u32 mtu = nla_get_u32(tb[IFLA_MTU]);

		/* the core's words (dev_validate_mtu()) */
		if (mtu < dev->min_mtu) {
			NL_SET_ERR_MSG_ATTR(extack, tb[IFLA_MTU],
					    "mtu less than device minimum");
			return -EINVAL;
		}
		if (mtu > dev->max_mtu) {
			NL_SET_ERR_MSG_ATTR(extack, tb[IFLA_MTU],
					    "mtu greater than device maximum");
			return -EINVAL;
		}
	}

	cfg = kmemdup(old, sizeof(*cfg), GFP_KERNEL);
	if (!cfg)
		return -ENOMEM;

	err = parse_cfg(t, data, cfg, extack);
	if (err)
		goto err_free;

	make_key(&key, t->kind, &cfg->local, &cfg->remote);
	rehash = memcmp(&key, &t->key, sizeof(key)) || cfg->link != t->link;
	if (rehash)
		unhash_tunnel(in, t);
	rcu_assign_pointer(t->cfg, cfg);
	/* No receive lookup walks the old key and no transmit still uses
	 * the old configuration (and could refill the route cache from it)
	 * after this.
	 */
	synchronize_net();

	if (rehash) {
		struct ipt_key old_key = t->key;

		t->key = key;
		WRITE_ONCE(t->link, cfg->link);
		err = hash_tunnel(in, t);
		if (err) {
			NL_SET_ERR_MSG(extack, "cannot rehash the tunnel");
			t->key = old_key;
			WRITE_ONCE(t->link, old->link);
			rcu_assign_pointer(t->cfg, old);
			synchronize_net();
			if (hash_tunnel(in, t))
				netdev_err(dev, "tunnel lost from the receive table, recreate it\n");
			goto err_free;
		}
	}
	dst_cache_reset(&t->dst_cache);
	if (cfg->fast_path != old->fast_path)
		netdev_update_features(dev);
	kfree(old);

	set_dev_addrs(dev, cfg);
	ipt_underlay_update(t);
	ipt_ka_start(t);
	netdev_state_change(dev);
	return 0;

err_free:
	kfree(cfg);
	return err;
}

size_t ipt_get_xstats_size(const struct net_device *dev)
{
	return nla_total_size(0) +
	       IPT_XSTATS_MAX * nla_total_size_64bit(sizeof(u64));
}

/* Under RTNL or RCU */
int ipt_fill_xstats(struct sk_buff *skb, const struct net_device *dev)
{
	const struct ipt_tunnel *t = netdev_priv(dev);
	struct ipt_net *in = ipt_net(t->net);
	u64 sum[__IPT_XSTATS_MAX];
	struct nlattr *nest;
	int cpu, i;

	for (i = 0; i < __IPT_XSTATS_MAX; i++)
		sum[i] = atomic64_read(&t->xstats[i]);
	for_each_possible_cpu(cpu)
		sum[IPT_XSTATS_NO_TUNNEL] += *per_cpu_ptr(in->no_tunnel, cpu);

	nest = nla_nest_start(skb, IFLA_INFO_XSTATS);
	if (!nest)
		return -EMSGSIZE;
	for (i = IPT_XSTATS_PAD + 1; i < __IPT_XSTATS_MAX; i++)
		if (nla_put_u64_64bit(skb, i, sum[i], IPT_XSTATS_PAD))
			goto err_cancel;
	nla_nest_end(skb, nest);
	return 0;

err_cancel:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

/* BH: a packet of one of our protocols that matched no ipt tunnel. */
void ipt_count_no_tunnel(struct net *net)
{
	struct ipt_net *in = ipt_net(net);

	this_cpu_inc(*in->no_tunnel);
}

static int __net_init ipt_net_init(struct net *net)
{
	struct ipt_net *in = ipt_net(net);

	int err;

	INIT_LIST_HEAD(&in->tunnels);
	ipt_underlay_net_init(in);
	in->no_tunnel = alloc_percpu(unsigned long);
	if (!in->no_tunnel)
		return -ENOMEM;
	err = rhltable_init(&in->table, &ipt_rht_params);
	if (err)
		free_percpu(in->no_tunnel);
	return err;
}

/* Tunnels whose underlay namespace goes away are deleted wherever their
 * device lives; devices living in a dying namespace are deleted later by
 * the core's default_device_exit_batch().
 */
static void __net_exit ipt_net_exit_batch(struct list_head *net_list)
{
	struct ipt_net *in;
	struct ipt_tunnel *t;
	struct net *net;
	LIST_HEAD(kill);

	rtnl_lock();
	list_for_each_entry(net, net_list, exit_list) {
		in = ipt_net(net);
		list_for_each_entry(t, &in->tunnels, list)
			unregister_netdevice_queue(t->dev, &kill);
	}
	unregister_netdevice_many(&kill);
	rtnl_unlock();
}

/* The receive table and counters must outlive every device of the
 * namespace: until default_device_exit_batch() has unregistered them, its
 * other devices (the underlay) still deliver packets that are looked up
 * here.  Subsystem exits run after all device exits, so the table is
 * freed from one (ipt_net_ops), and the tunnels are deleted from a device
 * exit (ipt_net_dev_ops).
 */
static void __net_exit ipt_net_free_batch(struct list_head *net_list)
{
	struct ipt_net *in;
	struct net *net;

	ipt_underlay_net_exit_batch(net_list);
	list_for_each_entry(net, net_list, exit_list) {
		in = ipt_net(net);
		rhltable_destroy(&in->table);
		free_percpu(in->no_tunnel);
	}
}

static struct pernet_operations ipt_net_ops = {
	.init = ipt_net_init,
	.exit_batch = ipt_net_free_batch,
	.id = &ipt_net_id,
	.size = sizeof(struct ipt_net),
};

static struct pernet_operations ipt_net_dev_ops = {
	.exit_batch = ipt_net_exit_batch,
};

static int __init ipt_init(void)
{
	int err;

	err = register_pernet_subsys(&ipt_net_ops);
	if (err)
		return err;

	err = register_pernet_device(&ipt_net_dev_ops);
	if (err)
		goto err_unregister_subsys;

	err = ipt_underlay_init();
	if (err)
		goto err_unregister_pernet;

	err = ipt_ipip_init();
	if (err)
		goto err_uninit_underlay;

	err = ipt_6in4_init();
	if (err)
		goto err_uninit_ipip;

	err = ipt_4in6_init();
	if (err)
		goto err_uninit_6in4;

	return 0;

err_uninit_6in4:
	ipt_6in4_uninit();
err_uninit_ipip:
	ipt_ipip_uninit();
err_uninit_underlay:
	ipt_underlay_uninit();
err_unregister_pernet:
	unregister_pernet_device(&ipt_net_dev_ops);
err_unregister_subsys:
	unregister_pernet_subsys(&ipt_net_ops);
	return err;
}

static void __exit ipt_exit(void)
{
	ipt_4in6_uninit();
	ipt_6in4_uninit();
	ipt_ipip_uninit();
	ipt_underlay_uninit();
	unregister_pernet_device(&ipt_net_dev_ops);
	unregister_pernet_subsys(&ipt_net_ops);
	rcu_barrier();
}

module_init(ipt_init);
module_exit(ipt_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("IPIP, 6in4 and 4in6 tunnels with RouterOS semantics");
MODULE_AUTHOR("The ipt developers");
MODULE_VERSION(IPT_VERSION);
