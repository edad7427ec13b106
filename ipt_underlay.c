// SPDX-License-Identifier: GPL-2.0
/*
 * ipt underlay tracking: which device carries a tunnel's outer packets,
 * and the tunnel's carrier and MTU following that device.
 *
 * Tunnels are grouped by the ifindex of their resolved underlay device
 * (ipt_net::underlays; tunnels with no route at all in ipt_net::unrouted),
 * so that an event on a device looks only at the tunnels it carries, plus
 * the unrouted ones when the event may have made them routable.  Creating,
 * bringing up or deleting N tunnels thus costs O(N), not O(N^2), however
 * many tunnels the namespace has.
 *
 * A new route that would move a routed tunnel to another device (a more
 * specific route, a new connected prefix) is not an event we see; the
 * transmit path finds it, and the tunnel MTU catches up at the next event
 * of either device.
 */

#include <linux/hashtable.h>
#include <linux/inetdevice.h>
#include <net/addrconf.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/route.h>

#include "ipt.h"

/* RTNL.  Walks in progress (nested when an MTU we set raises an event). */
static int walking;

/* RTNL or RCU */
static struct ipt_underlay *find_group(struct ipt_net *in, int ifindex)
{
	struct ipt_underlay *g;

	if (!ifindex)
		return &in->unrouted;
	hash_for_each_possible_rcu(in->underlays, g, node, ifindex,
				   lockdep_rtnl_is_held())
		if (g->ifindex == ifindex)
			return g;
	return NULL;
}

/* RTNL.  File @t under its current underlay_ifindex.  Without memory for
 * a new group it goes with the unrouted tunnels, which are looked at on
 * every event that can make a route appear: slower, never lost.
 */
static void regroup(struct ipt_net *in, struct ipt_tunnel *t)
{
	struct ipt_underlay *g = find_group(in, t->underlay_ifindex);

	if (!g) {
		g = kzalloc(sizeof(*g), GFP_KERNEL);
		if (g) {
			g->ifindex = t->underlay_ifindex;
			INIT_LIST_HEAD(&g->tunnels);
			hash_add_rcu(in->underlays, &g->node, g->ifindex);
		} else {
			g = &in->unrouted;
		}
	}
	if (t->ul != g) {
		list_move_tail(&t->ul_node, &g->tunnels);
		t->ul = g;
	}
}

/* RTNL.  Groups left empty are freed here only, outside any walk (one
 * may be in progress further up the stack, see changed()).
 */
static void prune(struct ipt_net *in)
{
	struct ipt_underlay *g;
	struct hlist_node *tmp;
	int bkt;

	if (walking)
		return;
	hash_for_each_safe(in->underlays, bkt, tmp, g, node) {
		if (list_empty(&g->tunnels)) {
			hash_del_rcu(&g->node);
			kfree_rcu(g, rcu);
		}
	}
}

/* RTNL or RCU.  Is the remote reachable through a device that is up? */
bool ipt_routable(struct ipt_tunnel *t, const struct ipt_cfg *cfg,
		  const struct net_device *tdev)
{
	return ipt_addr_any(t->kind, &cfg->remote) ||
	       (tdev && netif_running(tdev) && netif_carrier_ok(tdev));
}

/* RTNL or RCU.  The device the route to the remote leaves through, or
 * NULL (no remote, no route, or a route over the tunnel itself).  No
 * reference is taken: the device stays valid under RTNL or RCU.
 */
struct net_device *ipt_route_dev(struct ipt_tunnel *t,
				 const struct ipt_cfg *cfg)
{
	const struct ipt_kind *kind = t->kind;
	struct net_device *tdev = NULL;

	if (kind->family == AF_INET && cfg->remote.ip4) {
		struct rtable *rt;

		rt = ip_route_output(t->net, cfg->remote.ip4, cfg->local.ip4,
				     0, cfg->link);
		if (!IS_ERR(rt)) {
			tdev = rt->dst.dev;
			ip_rt_put(rt);
		}
	} else if (kind->family == AF_INET6 &&
		   !ipv6_addr_any(&cfg->remote.ip6)) {
		struct flowi6 fl6 = {
			.daddr = cfg->remote.ip6,
			.saddr = cfg->local.ip6,
			.flowi6_oif = cfg->link,
			.flowi6_proto = kind->proto,
		};
		struct dst_entry *dst;

		dst = ip6_route_output(t->net, NULL, &fl6);
		if (!dst->error)
			tdev = dst->dev;
		dst_release(dst);
	}
	return tdev == t->dev ? NULL : tdev;
}

/* RTNL.  Resolve the underlay for @cfg and return the MTU the tunnel
 * should have: the underlay device's MTU minus our header, or the
 * Ethernet default when the remote is not routable yet.
 */
int ipt_underlay_resolve(struct ipt_tunnel *t, const struct ipt_cfg *cfg,
			 bool *routable)
{
	struct net_device *tdev = ipt_route_dev(t, cfg);
	int mtu = ETH_DATA_LEN;

	*routable = ipt_routable(t, cfg, tdev);
	if (!tdev && cfg->link)
		tdev = __dev_get_by_index(t->net, cfg->link);

	t->underlay_ifindex = tdev ? tdev->ifindex : 0;
	if (tdev) {
		mtu = tdev->mtu;
		t->dev->needed_headroom = min_t(unsigned int, IPT_MAX_HEADROOM,
						LL_RESERVED_SPACE(tdev) +
						cfg->hlen);
	}
	mtu -= cfg->hlen;
	return clamp_t(int, mtu, t->dev->min_mtu, t->dev->max_mtu);
}

/* RTNL.  Carrier and (unless the user set it) MTU follow the underlay. */
static void update(struct ipt_net *in, struct ipt_tunnel *t)
{
	bool routable;
	int mtu;

	mtu = ipt_underlay_resolve(t, rtnl_dereference(t->cfg), &routable);
	if (t->ul)	/* registered: see ipt_underlay_attach() */
		regroup(in, t);
	ipt_underlay_seen(t, routable);
	if (t->mtu_user || mtu == t->dev->mtu)
		return;
	t->mtu_auto = true;
	dev_set_mtu(t->dev, mtu);
	t->mtu_auto = false;
}

/* RTNL */
void ipt_underlay_update(struct ipt_tunnel *t)
{
	struct ipt_net *in = ipt_net(t->net);

	update(in, t);
	prune(in);
}

/* RTNL, from ndo_init: start following the underlay resolved by newlink. */
void ipt_underlay_attach(struct ipt_tunnel *t)
{
	regroup(ipt_net(t->net), t);
}

/* RTNL, from ndo_uninit */
void ipt_underlay_detach(struct ipt_tunnel *t)
{
	list_del_init(&t->ul_node);
	t->ul = NULL;
	prune(ipt_net(t->net));
}

/* RTNL.  update() may move the tunnel being looked at to another group,
 * and only that one, hence the _safe walk.
 */
static void walk(struct ipt_net *in, struct ipt_underlay *g)
{
	struct ipt_tunnel *t, *tmp;

	walking++;
	list_for_each_entry_safe(t, tmp, &g->tunnels, ul_node)
		update(in, t);
	walking--;
}

/* RTNL.  Something changed on device @ifindex of @net: look again at the
 * tunnels it carries and, if @unrouted, at those that had no route.
 */
static void changed(struct net *net, int ifindex, bool unrouted)
{
	struct ipt_net *in = ipt_net(net);
	struct ipt_underlay *g = find_group(in, ifindex);

	if (walking) {
		/* Raised by an MTU we are setting.  Tunnels routed over
		 * each other (each 20 bytes below the other) would recurse
		 * until the stack ends: finish this walk, leave the rest
		 * to the work.
		 */
		if (g)
			WRITE_ONCE(g->pending, true);
		if (unrouted)
			WRITE_ONCE(in->unrouted.pending, true);
		schedule_work(&in->ul_work);
		return;
	}
	if (g)
		walk(in, g);
	if (unrouted)
		walk(in, &in->unrouted);
	prune(in);
}

static int ipt_underlay_netdev_event(struct notifier_block *nb,
				     unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	switch (event) {
	case NETDEV_UP:
	case NETDEV_CHANGE:		/* carrier, dormant */
	case NETDEV_CHANGEMTU:		/* of a device we may not know yet */
		changed(dev_net(dev), dev->ifindex, true);
		break;
	case NETDEV_DOWN:
	case NETDEV_UNREGISTER:
		changed(dev_net(dev), dev->ifindex, false);
		break;
	}
	return NOTIFY_DONE;
}

/* RTNL.  An IPv4 address came or went, with its connected route. */
static int ipt_underlay_inetaddr_event(struct notifier_block *nb,
				       unsigned long event, void *ptr)
{
	const struct in_ifaddr *ifa = ptr;
	struct net_device *dev = ifa->ifa_dev->dev;

	changed(dev_net(dev), dev->ifindex, event == NETDEV_UP);
	return NOTIFY_DONE;
}

/* RCU (an atomic chain, maybe without RTNL): mark what to look at and
 * leave the work to ipt_underlay_work().
 */
static int ipt_underlay_inet6addr_event(struct notifier_block *nb,
					unsigned long event, void *ptr)
{
	const struct inet6_ifaddr *ifa = ptr;
	struct net_device *dev = ifa->idev->dev;
	struct ipt_net *in = ipt_net(dev_net(dev));
	struct ipt_underlay *g;
	bool kick = false;

	if (READ_ONCE(in->dying))
		return NOTIFY_DONE;
	g = find_group(in, dev->ifindex);
	if (g) {
		WRITE_ONCE(g->pending, true);
		kick = true;
	}
	if (event == NETDEV_UP && !list_empty(&in->unrouted.tunnels)) {
		WRITE_ONCE(in->unrouted.pending, true);
		kick = true;
	}
	if (kick)
		schedule_work(&in->ul_work);
	return NOTIFY_DONE;
}

static void ipt_underlay_work(struct work_struct *work)
{
	struct ipt_net *in = container_of(work, struct ipt_net, ul_work);
	struct ipt_underlay *g;
	int bkt;

	bool all;

	rtnl_lock();
	all = READ_ONCE(in->recheck);
	WRITE_ONCE(in->recheck, false);
	/* New groups may be added while we walk (never freed): a new one
	 * is not pending.
	 */
	hash_for_each(in->underlays, bkt, g, node) {
		if (all || READ_ONCE(g->pending)) {
			WRITE_ONCE(g->pending, false);
			walk(in, g);
		}
	}
	if (all || READ_ONCE(in->unrouted.pending)) {
		WRITE_ONCE(in->unrouted.pending, false);
		walk(in, &in->unrouted);
	}
	prune(in);
	rtnl_unlock();
}

/* Any context, on a registered tunnel.  A route came back that no event
 * told us about (a route added): look at every tunnel of the namespace
 * again soon, so that groups and MTUs catch up with the carrier.
 */
void ipt_underlay_recheck(struct ipt_tunnel *t)
{
	struct ipt_net *in = ipt_net(t->net);

	WRITE_ONCE(in->recheck, true);
	schedule_work(&in->ul_work);
}

void ipt_underlay_net_init(struct ipt_net *in)
{
	hash_init(in->underlays);
	INIT_LIST_HEAD(&in->unrouted.tunnels);
	INIT_WORK(&in->ul_work, ipt_underlay_work);
}

/* Every tunnel of the namespaces is gone.  Once a grace period has passed
 * after ->dying is set, no IPv6 address notifier can queue the work again.
 */
void ipt_underlay_net_exit_batch(struct list_head *net_list)
{
	struct net *net;

	list_for_each_entry(net, net_list, exit_list)
		WRITE_ONCE(ipt_net(net)->dying, true);
	synchronize_rcu();
	list_for_each_entry(net, net_list, exit_list) {
		struct ipt_net *in = ipt_net(net);

		struct ipt_underlay *g;
		struct hlist_node *tmp;
		int bkt;

		cancel_work_sync(&in->ul_work);
		hash_for_each_safe(in->underlays, bkt, tmp, g, node) {
			WARN_ON_ONCE(!list_empty(&g->tunnels));
			hash_del(&g->node);
			kfree(g);
		}
	}
}

static struct notifier_block ipt_underlay_netdev_nb = {
	.notifier_call = ipt_underlay_netdev_event,
};

static struct notifier_block ipt_underlay_inetaddr_nb = {
	.notifier_call = ipt_underlay_inetaddr_event,
};

static struct notifier_block ipt_underlay_inet6addr_nb = {
	.notifier_call = ipt_underlay_inet6addr_event,
};

int ipt_underlay_init(void)
{
	int err;

	err = register_netdevice_notifier(&ipt_underlay_netdev_nb);
	if (err)
		return err;
	err = register_inetaddr_notifier(&ipt_underlay_inetaddr_nb);
	if (err)
		goto err_unregister_netdev;
	err = register_inet6addr_notifier(&ipt_underlay_inet6addr_nb);
	if (err)
		goto err_unregister_inetaddr;
	return 0;

err_unregister_inetaddr:
	unregister_inetaddr_notifier(&ipt_underlay_inetaddr_nb);
err_unregister_netdev:
	unregister_netdevice_notifier(&ipt_underlay_netdev_nb);
	return err;
}

void ipt_underlay_uninit(void)
{
	unregister_inet6addr_notifier(&ipt_underlay_inet6addr_nb);
	unregister_inetaddr_notifier(&ipt_underlay_inetaddr_nb);
	unregister_netdevice_notifier(&ipt_underlay_netdev_nb);
}
