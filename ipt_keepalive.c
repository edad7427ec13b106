// SPDX-License-Identifier: GPL-2.0
/*
 * ipt keepalive and carrier.
 *
 * A probe is the Cisco/RouterOS keepalive, generalised to our three kinds:
 * a tunnel packet whose inner packet is itself a tunnel packet addressed
 * back to the sender,
 *
 *   outer  local -> remote, our protocol (4 or 41; IPv6 next header 4)
 *   mid    remote -> local, same family and protocol, hop limit 255
 *   inner  a header-only datagram of the tunnel's inner family: unspecified
 *          addresses, protocol / next header 59 (no next header)
 *
 * The peer decapsulates the outer header and sends "mid" back: ipt does
 * it itself, any router that forwards what comes out of its tunnel does it
 * too (Cisco, RouterOS; Linux with forwarding and accept_local).  When
 * "mid" arrives here it is an ordinary tunnel packet from the peer whose
 * inner packet is the marker: the peer is alive.  Any other valid packet
 * from the peer counts as well, but not the peer's own probes: they only
 * show that the way from the peer works.  Were they heard, a path that
 * loses our packets would take carrier down on the peer only, and keep
 * ours up for as long as the peer kept probing.
 *
 * The timer runs only with keepalive on, or while the remote is not
 * routable, and the device up; the receive path only stores a jiffies
 * value, and only when it changed.
 */

#include <linux/timer.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/route.h>

#include "ipt.h"

#define KA_PROTO_NONE	59	/* IPPROTO_NONE / NEXTHDR_NONE */
#define KA_MID_TTL	255

/* Carrier is the AND of "underlay routable" and "peer heard"; the state
 * is changed from process (RTNL) and softirq context: ka_lock orders the
 * transitions so that netif_carrier_*() follows the last one.
 */
static void carrier_update(struct ipt_tunnel *t)
{
	bool up = !t->underlay_down && !t->ka_down;

	if (up == netif_carrier_ok(t->dev))
		return;
	if (up)
		netif_carrier_on(t->dev);
	else
		netif_carrier_off(t->dev);
	ipt_xstat_inc(t, IPT_XSTATS_CARRIER_CHANGES);
}

#define UNDERLAY_RECHECK	HZ

/* Going down also arms the timer, which looks for the route again every
 * UNDERLAY_RECHECK: with carrier off nothing is transmitted any more,
 * and adding a route raises no event that would tell us.
 */
static void set_underlay_down(struct ipt_tunnel *t, bool down)
{
	spin_lock_bh(&t->ka_lock);
	t->underlay_down = down;
	carrier_update(t);
	spin_unlock_bh(&t->ka_lock);
	if (down && netif_running(t->dev))
		timer_reduce(&t->ka_timer, jiffies + UNDERLAY_RECHECK);
}

/* BH.  The transmit path saw the outer route come or go. */
void ipt_underlay_seen(struct ipt_tunnel *t, bool routable)
{
	if (unlikely(READ_ONCE(t->underlay_down) == routable))
		set_underlay_down(t, !routable);
}

static void heard(struct ipt_tunnel *t)
{
	spin_lock_bh(&t->ka_lock);
	t->ka_down = false;
	carrier_update(t);
	spin_unlock_bh(&t->ka_lock);
}

/* BH, any valid packet from the peer. */
void ipt_ka_heard(struct ipt_tunnel *t)
{
	unsigned long now = jiffies;

	if (READ_ONCE(t->last_rx) != now)
		WRITE_ONCE(t->last_rx, now);
	if (unlikely(READ_ONCE(t->ka_down)))
		heard(t);
}

static void push_inner_marker(struct sk_buff *skb, __be16 inner)
{
	if (inner == htons(ETH_P_IP)) {
		struct iphdr *iph = skb_push(skb, sizeof(*iph));

		memset(iph, 0, sizeof(*iph));
		iph->version = 4;
		iph->ihl = 5;
		iph->tot_len = htons(sizeof(*iph));
		iph->ttl = 1;
		iph->protocol = KA_PROTO_NONE;
		ip_send_check(iph);
	} else {
		struct ipv6hdr *ip6h = skb_push(skb, sizeof(*ip6h));

		memset(ip6h, 0, sizeof(*ip6h));
		ip6h->version = 6;
		ip6h->nexthdr = KA_PROTO_NONE;
		ip6h->hop_limit = 1;
	}
}

static void push_ip4(struct sk_buff *skb, u8 proto, u8 ttl, __be32 saddr,
		     __be32 daddr)
{
	struct iphdr *iph = skb_push(skb, sizeof(*iph));

	memset(iph, 0, sizeof(*iph));
	iph->version = 4;
	iph->ihl = 5;
	iph->tot_len = htons(skb->len);
	iph->ttl = ttl;
	iph->protocol = proto;
	iph->saddr = saddr;
	iph->daddr = daddr;
	skb_reset_network_header(skb);
}

static void push_ip6(struct sk_buff *skb, u8 proto, u8 hop,
		     const struct in6_addr *saddr, const struct in6_addr *daddr)
{
	struct ipv6hdr *ip6h = skb_push(skb, sizeof(*ip6h));

	memset(ip6h, 0, sizeof(*ip6h));
	ip6h->version = 6;
	ip6h->payload_len = htons(skb->len - sizeof(*ip6h));
	ip6h->nexthdr = proto;
	ip6h->hop_limit = hop;
	ip6h->saddr = *saddr;
	ip6h->daddr = *daddr;
	skb_reset_network_header(skb);
}

/* Softirq (timer).  Probes are not counted as traffic, only in xstats. */
static void send_probe(struct ipt_tunnel *t, const struct ipt_cfg *cfg)
{
	const struct ipt_kind *kind = t->kind;
	unsigned int room = LL_MAX_HEADER + 2 * sizeof(struct ipv6hdr) +
			    sizeof(struct ipv6hdr);
	u8 ttl = cfg->ttl == IPT_TTL_INHERIT ? IPT_TTL_DEFAULT : cfg->ttl;
	struct sk_buff *skb;
	int err;

	skb = alloc_skb(room, GFP_ATOMIC);
	if (!skb)
		return;
	skb_reserve(skb, room);
	push_inner_marker(skb, kind->inner);

	if (kind->family == AF_INET) {
		struct rtable *rt;
		struct flowi4 fl4;

		rt = ip_route_output_ports(t->net, &fl4, NULL, cfg->remote.ip4,
					   cfg->local.ip4, 0, 0, kind->proto,
					   0, cfg->link);
		if (IS_ERR(rt)) {
			ipt_underlay_seen(t, false);
			kfree_skb(skb);
			return;
		}
		push_ip4(skb, kind->proto, KA_MID_TTL, fl4.daddr, fl4.saddr);
		ip_send_check(ip_hdr(skb));
		push_ip4(skb, kind->proto, ttl, fl4.saddr, fl4.daddr);
		skb_dst_set(skb, &rt->dst);
		skb->protocol = htons(ETH_P_IP);
		ip_select_ident(t->net, skb, NULL);
		err = ip_local_out(t->net, NULL, skb);
	} else {
		struct dst_entry *dst;
		struct flowi6 fl6 = {
			.daddr = cfg->remote.ip6,
			.saddr = cfg->local.ip6,
			.flowi6_oif = cfg->link,
			.flowi6_proto = kind->proto,
		};

		dst = ip6_dst_lookup_flow(t->net, NULL, &fl6, NULL);
		if (IS_ERR(dst)) {
			ipt_underlay_seen(t, false);
			kfree_skb(skb);
			return;
		}
		push_ip6(skb, kind->proto, KA_MID_TTL, &fl6.daddr, &fl6.saddr);
		push_ip6(skb, kind->proto, ttl, &fl6.saddr, &fl6.daddr);
		skb_dst_set(skb, dst);
		skb->protocol = htons(ETH_P_IPV6);
		err = ip6_local_out(t->net, NULL, skb);
	}
	if (!net_xmit_eval(err))
		ipt_xstat_inc(t, IPT_XSTATS_KEEPALIVE_TX);
}

static void ipt_ka_timer(struct timer_list *timer)
{
	struct ipt_tunnel *t = from_timer(t, timer, ka_timer);
	const struct ipt_cfg *cfg;
	unsigned long interval;

	rcu_read_lock();
	cfg = rcu_dereference(t->cfg);
	interval = cfg->ka_interval * HZ;
	if (!netif_running(t->dev))
		goto out;

	if (READ_ONCE(t->underlay_down)) {
		if (!ipt_routable(t, cfg, ipt_route_dev(t, cfg))) {
			mod_timer(&t->ka_timer, jiffies + UNDERLAY_RECHECK);
			goto out;
		}
		/* the peer gets a full grace period from now on */
		WRITE_ONCE(t->last_rx, jiffies);
		set_underlay_down(t, false);
		ipt_underlay_recheck(t);
	}
	if (!interval)
		goto out;

	send_probe(t, cfg);
	if (time_after(jiffies,
		       READ_ONCE(t->last_rx) + interval * cfg->ka_retries) &&
	    !READ_ONCE(t->ka_down)) {
		spin_lock_bh(&t->ka_lock);
		t->ka_down = true;
		carrier_update(t);
		spin_unlock_bh(&t->ka_lock);
	}
	/* a probe that found no route took the underlay down */
	if (READ_ONCE(t->underlay_down))
		interval = min_t(unsigned long, interval, UNDERLAY_RECHECK);
	mod_timer(&t->ka_timer, jiffies + interval);
out:
	rcu_read_unlock();
}

/* RTNL: device opened, closed or reconfigured. */
void ipt_ka_start(struct ipt_tunnel *t)
{
	const struct ipt_cfg *cfg = rtnl_dereference(t->cfg);

	if (!cfg->ka_interval || !netif_running(t->dev)) {
		del_timer_sync(&t->ka_timer);
		spin_lock_bh(&t->ka_lock);
		t->ka_down = false;
		carrier_update(t);
		spin_unlock_bh(&t->ka_lock);
		if (t->underlay_down && netif_running(t->dev))
			mod_timer(&t->ka_timer, jiffies + UNDERLAY_RECHECK);
		return;
	}
	/* a fresh start gets the full grace period */
	WRITE_ONCE(t->last_rx, jiffies);
	mod_timer(&t->ka_timer, jiffies + cfg->ka_interval * HZ);
}

void ipt_ka_stop(struct ipt_tunnel *t)
{
	del_timer_sync(&t->ka_timer);
}

void ipt_ka_init(struct ipt_tunnel *t)
{
	spin_lock_init(&t->ka_lock);
	timer_setup(&t->ka_timer, ipt_ka_timer, 0);
}

/* Send "mid" of a peer's probe back to it.  Only ever to the tunnel's own
 * peer (the caller checked that mid's destination is the outer source):
 * we cannot be used to reflect packets elsewhere.
 */
static void reflect(struct ipt_tunnel *t, struct sk_buff *skb)
{
	const struct ipt_cfg *cfg = rcu_dereference(t->cfg);

	/* We are going to write headers in front of the data: a packet
	 * tap (tcpdump on the underlay) may still share it.
	 */
	if (skb_unclone(skb, GFP_ATOMIC))
		goto drop;
	skb_scrub_packet(skb, true);
	skb_reset_network_header(skb);
	skb->ip_summed = CHECKSUM_NONE;
	if (t->kind->family == AF_INET) {
		struct iphdr *iph = ip_hdr(skb);
		struct rtable *rt;
		struct flowi4 fl4;

		rt = ip_route_output_ports(t->net, &fl4, NULL, iph->daddr,
					   iph->saddr, 0, 0, t->kind->proto,
					   0, cfg->link);
		if (IS_ERR(rt))
			goto drop;
		skb_dst_set(skb, &rt->dst);
		skb->protocol = htons(ETH_P_IP);
		memset(IPCB(skb), 0, sizeof(*IPCB(skb)));
		ip_local_out(t->net, NULL, skb);
	} else {
		struct ipv6hdr *ip6h = ipv6_hdr(skb);
		struct dst_entry *dst;
		struct flowi6 fl6 = {
			.daddr = ip6h->daddr,
			.saddr = ip6h->saddr,
			.flowi6_oif = cfg->link,
			.flowi6_proto = t->kind->proto,
		};

		dst = ip6_dst_lookup_flow(t->net, NULL, &fl6, NULL);
		if (IS_ERR(dst))
			goto drop;
		skb_dst_set(skb, dst);
		skb->protocol = htons(ETH_P_IPV6);
		memset(IP6CB(skb), 0, sizeof(*IP6CB(skb)));
		ip6_local_out(t->net, NULL, skb);
	}
	return;
drop:
	kfree_skb(skb);
}

/* Is the inner packet at skb->data the marker (a reflected probe of
 * ours) or the "mid" of the peer's probe?  The outer header is still at
 * the network header.  Consumes @skb and returns true if so.
 */
bool ipt_ka_rcv(struct ipt_tunnel *t, struct sk_buff *skb)
{
	const struct ipt_kind *kind = t->kind;
	bool mid = false;

	/* pskb_may_pull() may move the head: headers are read after it */
	if (kind->family == AF_INET) {
		const struct iphdr *o, *i;

		if (pskb_may_pull(skb, sizeof(*i))) {
			o = ip_hdr(skb);
			i = (const struct iphdr *)skb->data;
			mid = i->version == 4 && i->ihl == 5 &&
			      i->protocol == kind->proto &&
			      i->saddr == o->daddr && i->daddr == o->saddr &&
			      !ip_fast_csum(i, i->ihl);
		}
	} else {
		const struct ipv6hdr *o, *i;

		if (pskb_may_pull(skb, sizeof(*i))) {
			o = ipv6_hdr(skb);
			i = (const struct ipv6hdr *)skb->data;
			mid = i->version == 6 && i->nexthdr == kind->proto &&
			      ipv6_addr_equal(&i->saddr, &o->daddr) &&
			      ipv6_addr_equal(&i->daddr, &o->saddr);
		}
	}

	/* the peer's probe: send it back, it says nothing about ours */
	if (mid) {
		ipt_xstat_inc(t, IPT_XSTATS_KEEPALIVE_RX);
		reflect(t, skb);
		return true;
	}

	/* the marker, back from the peer */
	if (kind->inner == htons(ETH_P_IP)) {
		const struct iphdr *i;

		if (skb->len != sizeof(*i) || !pskb_may_pull(skb, sizeof(*i)))
			return false;
		i = (const struct iphdr *)skb->data;
		if (i->version != 4 ||
		    i->protocol != KA_PROTO_NONE || i->saddr || i->daddr)
			return false;
	} else {
		const struct ipv6hdr *i;

		if (skb->len != sizeof(*i) || !pskb_may_pull(skb, sizeof(*i)))
			return false;
		i = (const struct ipv6hdr *)skb->data;
		if (i->version != 6 || i->nexthdr != KA_PROTO_NONE ||
		    !ipv6_addr_any(&i->saddr) || !ipv6_addr_any(&i->daddr))
			return false;
	}
	ipt_xstat_inc(t, IPT_XSTATS_KEEPALIVE_RX);
	ipt_ka_heard(t);
	consume_skb(skb);
	return true;
}
