// SPDX-License-Identifier: GPL-2.0
/*
 * ipt receive: decapsulation shared by all kinds, delivery of the inner
 * packets, and the ICMP errors the underlay sends about our outer packets.
 *
 * Decapsulation runs from the tunnel4/tunnel6 protocol handlers under
 * rcu_read_lock() with BH disabled: in softirq, or in process context
 * for packets injected there (tun, an NFQUEUE verdict).  The delivery
 * cells' poll runs from NAPI; their setup and teardown under RTNL and
 * from the device destructor.
 */

#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <net/icmp.h>
#include <net/ip6_route.h>
#include <net/ndisc.h>
#include <net/inet_ecn.h>
#include <net/ip.h>
#include <net/ip_tunnels.h>
#include <net/route.h>
#include <net/tcp.h>
#include <net/xfrm.h>

#include "ipt.h"

static bool inner_ok(struct sk_buff *skb, __be16 inner)
{
	if (inner == htons(ETH_P_IP))
		return pskb_may_pull(skb, sizeof(struct iphdr)) &&
		       ip_hdr(skb)->version == 4 && ip_hdr(skb)->ihl >= 5;
	return pskb_may_pull(skb, sizeof(struct ipv6hdr)) &&
	       ipv6_hdr(skb)->version == 6;
}

static u8 inner_dsfield(const struct sk_buff *skb, __be16 inner)
{
	if (inner == htons(ETH_P_IP))
		return ipv4_get_dsfield(ip_hdr(skb));
	return ipv6_get_dsfield(ipv6_hdr(skb));
}

/* RFC 6040 normal mode.  The inner header is only written when the ECN
 * field changes, and then made private first: the skb may be a clone
 * (a capture on the underlay) sharing its data.
 */
static int decap_ecn(struct sk_buff *skb, u8 outer, __be16 inner)
{
	bool set_ce = false;
	int rc;

	rc = __INET_ECN_decapsulate(outer, inner_dsfield(skb, inner), &set_ce);
	if (rc)
		return rc;
	if (set_ce || (outer & INET_ECN_MASK) == INET_ECN_ECT_1) {
		if (skb_ensure_writable(skb, inner == htons(ETH_P_IP) ?
					     sizeof(struct iphdr) :
					     sizeof(struct ipv6hdr)))
			return 2;
		if (set_ce)
			INET_ECN_set_ce(skb);
		else
			INET_ECN_set_ect1(skb);
	}
	return 0;
}

/* Delivery of decapsulated packets.
 *
 * A packet is handed to the stack at once, by a nested
 * netif_receive_skb() from the outer packet's protocol handler, unless
 * GRO could merge it or an earlier packet of the tunnel still waits: then
 * it goes through a per-cpu NAPI cell, as gro_cells does it, whose poll
 * runs GRO.  GRO can only merge TCP segments that carry data and are not
 * GSO packets already (the underlay's GRO merges IPIP, SIT and IPv4 in
 * IPv6 flows itself, and a veth passes the sender's GSO packets whole):
 * everything else would pay a second NAPI poll and the GRO lookup for
 * nothing (BENCHMARKS.md, "TCP, offloads on").
 *
 * Order: a packet bypasses the cell only when the cell is idle -- its
 * NAPI not scheduled (so its queue is empty and its poll not running)
 * and GRO holding nothing (gro_flush_timeout can keep packets after the
 * poll).  A flow whose packets take both ways is then never reordered.
 *
 * Stack: a direct delivery runs the whole receive path of the inner
 * packet on top of the outer one's.  It is only done in softirq (not for
 * packets injected from a system call) and one level deep per CPU: the
 * inner packets of a tunnel inside a tunnel go through the cell, on a
 * fresh stack.
 *
 * A cell is fed from BH on its own CPU.  Its queue is locked anyway: with
 * a threaded NAPI (sysfs "threaded") the poll runs in a kthread on any
 * CPU.  The lock is uncontended otherwise.  The idle test then races
 * with the poll, which may cost order, not memory safety.
 */
struct ipt_rx_cell {
	struct sk_buff_head queue;
	struct napi_struct napi;
};

static DEFINE_PER_CPU(bool, ipt_rx_direct);

/* Whether GRO could merge @skb; the answer only decides the cost, as an
 * idle cell keeps any answer in order.  Data segments of up to 40 bytes
 * count as pure ACKs, which is harmless.
 */
static bool ipt_gro_can_merge(const struct sk_buff *skb)
{
	unsigned int max_tcp = sizeof(struct tcphdr) + MAX_TCP_OPTION_SPACE;

	if (skb_is_gso(skb) || skb_cloned(skb) || netif_elide_gro(skb->dev))
		return false;
	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *iph = ip_hdr(skb);

		return iph->protocol == IPPROTO_TCP && !ip_is_fragment(iph) &&
		       skb->len > iph->ihl * 4 + max_tcp;
	}
	return ipv6_hdr(skb)->nexthdr == IPPROTO_TCP &&
	       skb->len > sizeof(struct ipv6hdr) + max_tcp;
}

static bool ipt_cell_idle(const struct ipt_rx_cell *cell)
{
	return !test_bit(NAPI_STATE_SCHED, &cell->napi.state) &&
	       !READ_ONCE(cell->napi.gro_bitmask);
}

static void ipt_deliver(struct ipt_tunnel *t, struct sk_buff *skb)
{
	struct ipt_rx_cell *cell = this_cpu_ptr(t->cells);
	unsigned int qlen;
	bool full;

	if (likely(in_serving_softirq()) && !__this_cpu_read(ipt_rx_direct) &&
	    ipt_cell_idle(cell) && !ipt_gro_can_merge(skb)) {
		__this_cpu_write(ipt_rx_direct, true);
		netif_receive_skb(skb);
		__this_cpu_write(ipt_rx_direct, false);
		return;
	}

	spin_lock(&cell->queue.lock);
	qlen = skb_queue_len(&cell->queue);
	full = qlen > READ_ONCE(netdev_max_backlog);
	if (likely(!full))
		__skb_queue_tail(&cell->queue, skb);
	spin_unlock(&cell->queue.lock);
	if (unlikely(full)) {
		dev_core_stats_rx_dropped_inc(t->dev);
		kfree_skb_reason(skb, SKB_DROP_REASON_CPU_BACKLOG);
		return;
	}
	if (!qlen)
		napi_schedule(&cell->napi);
}

static int ipt_cell_poll(struct napi_struct *napi, int budget)
{
	struct ipt_rx_cell *cell = container_of(napi, struct ipt_rx_cell, napi);
	struct sk_buff *skb;
	int done = 0;

	while (done < budget) {
		skb = skb_dequeue(&cell->queue);
		if (!skb)
			break;
		/* GRO must not merge into a shared buffer (a packet socket
		 * on the underlay holds a clone).  Only packets that queued
		 * behind others while something captures pay the copy of
		 * the head, and their merges then chain instead of taking
		 * the head as a page fragment.
		 */
		if (unlikely(skb_unclone(skb, GFP_ATOMIC))) {
			dev_core_stats_rx_dropped_inc(napi->dev);
			kfree_skb_reason(skb, SKB_DROP_REASON_NOMEM);
		} else {
			napi_gro_receive(napi, skb);
		}
		done++;
	}
	if (done < budget)
		napi_complete_done(napi, done);
	return done;
}

/* RTNL, from ndo_init. */
int ipt_rx_cells_init(struct ipt_tunnel *t)
{
	int cpu;

	t->cells = alloc_percpu(struct ipt_rx_cell);
	if (!t->cells)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		struct ipt_rx_cell *cell = per_cpu_ptr(t->cells, cpu);

		skb_queue_head_init(&cell->queue);
		set_bit(NAPI_STATE_NO_BUSY_POLL, &cell->napi.state);
		netif_napi_add(t->dev, &cell->napi, ipt_cell_poll);
		napi_enable(&cell->napi);
	}
	return 0;
}

struct ipt_rx_cells_free {
	struct rcu_head rcu;
	struct ipt_rx_cell __percpu *cells;
};

static void ipt_rx_cells_free_rcu(struct rcu_head *head)
{
	struct ipt_rx_cells_free *f;

	f = container_of(head, struct ipt_rx_cells_free, rcu);
	free_percpu(f->cells);
	kfree(f);
}

/* From the destructor, after unregistration: no protocol handler finds
 * the tunnel any more, but a cell may still be scheduled with packets
 * queued; napi_disable() waits for that poll, which delivers them (as
 * gro_cells does).  The cells are freed after a grace period, as netpoll
 * walks dev->napi_list under RCU; call_rcu() rather than waiting, to keep
 * deleting many tunnels fast (the module's exit waits in rcu_barrier()).
 */
void ipt_rx_cells_destroy(struct ipt_tunnel *t)
{
	struct ipt_rx_cells_free *f;
	int cpu;

	if (!t->cells)
		return;
	for_each_possible_cpu(cpu) {
		struct ipt_rx_cell *cell = per_cpu_ptr(t->cells, cpu);

		napi_disable(&cell->napi);
		__netif_napi_del(&cell->napi);
		__skb_queue_purge(&cell->queue);
	}
	f = kmalloc(sizeof(*f), GFP_KERNEL | __GFP_NOWARN);
	if (likely(f)) {
		f->cells = t->cells;
		call_rcu(&f->rcu, ipt_rx_cells_free_rcu);
	} else {
		synchronize_rcu_expedited();
		free_percpu(t->cells);
	}
	t->cells = NULL;
}

/* Consumes @skb; skb->data points at the inner header. */
int ipt_rcv(struct ipt_tunnel *t, struct sk_buff *skb, u8 outer_dsfield)
{
	struct net_device *dev = t->dev;
	__be16 inner = t->kind->inner;
	int err;

	if (unlikely(skb->len <= IPT_KA_MAXLEN) && ipt_ka_rcv(t, skb))
		return 0;

	if (iptunnel_pull_header(skb, 0, inner, !net_eq(t->net, dev_net(dev)))) {
		DEV_STATS_INC(dev, rx_dropped);
		goto drop;
	}
	skb_reset_network_header(skb);
	skb_reset_mac_header(skb);

	if (unlikely(!inner_ok(skb, inner))) {
		ipt_xstat_inc(t, IPT_XSTATS_DROP_HEADER);
		DEV_STATS_INC(dev, rx_length_errors);
		DEV_STATS_INC(dev, rx_errors);
		goto drop;
	}

	ipt_ka_heard(t);

	err = decap_ecn(skb, outer_dsfield, inner);
	if (unlikely(err)) {
		net_dbg_ratelimited("%s: invalid ECN combination, outer 0x%02x\n",
				    dev->name, outer_dsfield);
		if (err > 1) {
			ipt_xstat_inc(t, IPT_XSTATS_DROP_ECN);
			DEV_STATS_INC(dev, rx_frame_errors);
			DEV_STATS_INC(dev, rx_errors);
			goto drop;
		}
	}

	if (rcu_dereference(t->cfg)->clamp_mss) {
		unsigned int mtu = READ_ONCE(t->path_mtu);

		ipt_mss_clamp(t, skb, mtu ? min(mtu, READ_ONCE(dev->mtu)) :
					    READ_ONCE(dev->mtu));
	}

	skb->dev = dev;
	dev_sw_netstats_rx_add(dev, skb->len);
	ipt_deliver(t, skb);
	return 0;

drop:
	kfree_skb(skb);
	return 0;
}

/* IPv4 underlay.  Returns non-zero, leaving @skb alone, when no tunnel
 * matches so that the next handler on the chain (in-tree ipip, sit,
 * xfrm) gets it.
 */
int ipt_rcv4(struct sk_buff *skb, const struct ipt_kind *kind)
{
	const struct iphdr *iph = ip_hdr(skb);
	u8 dsfield = ipv4_get_dsfield(iph);
	struct ipt_tunnel *t;

	t = ipt_lookup(dev_net(skb->dev), kind, &iph->daddr, &iph->saddr,
		       skb->dev->ifindex);
	if (!t) {
		ipt_count_no_tunnel(dev_net(skb->dev));
		return -ENOENT;
	}

	if (!xfrm4_policy_check(NULL, XFRM_POLICY_IN, skb))
		goto drop;

	/* may pull: iph is not used after this */
	if (unlikely(!t->key.remote.ip4) &&
	    !kind->auto_rcv_ok4(iph->saddr, iph->daddr, skb)) {
		ipt_xstat_inc(t, IPT_XSTATS_DROP_6TO4);
		DEV_STATS_INC(t->dev, rx_dropped);
		goto drop;
	}
	return ipt_rcv(t, skb, dsfield);

drop:
	kfree_skb(skb);
	return 0;
}

/* Tell the sender of the inner IPv4 packet quoted at @offset in an ICMP
 * error about it now, instead of on its next packet.  The inner packet
 * was either sent from this host or forwarded into the tunnel: route it
 * again the same way to find out, and only relay when that route really
 * leads into this tunnel.
 */
static void relay_icmp4(struct ipt_tunnel *t, struct sk_buff *skb,
			int offset, u8 type, u8 code, u32 mtu)
{
	struct net *net = dev_net(t->dev);
	const struct iphdr *eiph;
	struct sk_buff *skb2;
	struct rtable *rt;
	struct flowi4 fl4;
	bool local;

	if (!pskb_may_pull(skb, offset + sizeof(struct iphdr)))
		return;

	skb2 = skb_clone(skb, GFP_ATOMIC);
	if (!skb2)
		return;

	memset(IPCB(skb2), 0, sizeof(*IPCB(skb2)));
	skb_dst_drop(skb2);
	skb_pull(skb2, offset);
	skb_reset_network_header(skb2);
	eiph = ip_hdr(skb2);
	if (eiph->version != 4 || eiph->ihl < 5)
		goto out;

	rt = ip_route_output_ports(net, &fl4, NULL, eiph->saddr, 0, 0, 0,
				   IPPROTO_IP, RT_TOS(eiph->tos), 0);
	if (IS_ERR(rt))
		goto out;
	skb2->dev = rt->dst.dev;
	local = rt->rt_flags & RTCF_LOCAL;
	ip_rt_put(rt);

	if (local) {
		rt = ip_route_output_ports(net, &fl4, NULL, eiph->daddr,
					   eiph->saddr, 0, 0, IPPROTO_IP,
					   RT_TOS(eiph->tos), 0);
		if (IS_ERR(rt))
			goto out;
		skb_dst_set(skb2, &rt->dst);
	} else if (ip_route_input(skb2, eiph->daddr, eiph->saddr,
				  ip4h_dscp(eiph), skb2->dev)) {
		goto out;
	}
	if (skb_dst(skb2)->dev != t->dev)
		goto out;

	if (type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED) {
		struct net_device *dev = skb2->dev;

		if (mtu >= dst_mtu(skb_dst(skb2)))
			goto out;
		/* ip_rt_update_pmtu() looks the route up again with skb->dev
		 * as the output device: the tunnel's, not the sender's side,
		 * or the exception lands nowhere.
		 */
		skb2->dev = t->dev;
		skb_dst_update_pmtu_no_confirm(skb2, mtu);
		skb2->dev = dev;
	}
	icmp_send(skb2, type, code, htonl(mtu));
out:
	kfree_skb(skb2);
}

/* As relay_icmp4(), for an inner IPv6 packet: the ICMPv4 error is
 * translated (RFC 4213 3.4; "too big" becomes Packet Too Big with the
 * tunnel path MTU, which is never below 1280).
 */
static void relay_icmp6(struct ipt_tunnel *t, struct sk_buff *skb,
			int offset, u8 type, u8 code, u32 mtu)
{
	struct net *net = dev_net(t->dev);
	const struct ipv6hdr *eip6h;
	unsigned int tunnel_mtu;
	struct sk_buff *skb2;
	struct rt6_info *rt;

	if (!pskb_may_pull(skb, offset + sizeof(struct ipv6hdr)))
		return;

	skb2 = skb_clone(skb, GFP_ATOMIC);
	if (!skb2)
		return;

	skb_dst_drop(skb2);
	skb_pull(skb2, offset);
	skb_reset_network_header(skb2);
	eip6h = ipv6_hdr(skb2);
	if (eip6h->version != 6)
		goto out;

	/* Only for packets that really went into this tunnel. */
	rt = rt6_lookup(net, &eip6h->daddr, &eip6h->saddr, 0, skb2, 0);
	if (!rt)
		goto out;
	tunnel_mtu = dst_mtu(&rt->dst);
	if (rt->dst.dev != t->dev) {
		ip6_rt_put(rt);
		goto out;
	}
	ip6_rt_put(rt);

	rt = rt6_lookup(net, &eip6h->saddr, NULL, 0, skb2, 0);
	if (!rt)
		goto out;
	skb2->dev = rt->dst.dev;
	ip6_rt_put(rt);

	if (type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED) {
		mtu = max_t(u32, mtu, IPV6_MIN_MTU);
		/* as relay_icmp4(): only news that lower the path */
		if (mtu >= tunnel_mtu)
			goto out;
		ip6_update_pmtu(skb2, net, htonl(mtu), 0, 0,
				sock_net_uid(net, NULL));
		icmpv6_send(skb2, ICMPV6_PKT_TOOBIG, 0, mtu);
	} else if (type == ICMP_TIME_EXCEEDED) {
		icmpv6_send(skb2, ICMPV6_TIME_EXCEED, ICMPV6_EXC_HOPLIMIT, 0);
	} else {
		icmpv6_send(skb2, ICMPV6_DEST_UNREACH, ICMPV6_ADDR_UNREACH, 0);
	}
out:
	kfree_skb(skb2);
}

/* ICMP error about one of our IPv4 outer packets; @skb->data points at the
 * quoted outer header.  Returns non-zero when the packet is not ours.
 */
int ipt_err4(struct sk_buff *skb, u32 info, const struct ipt_kind *kind)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	const int type = icmp_hdr(skb)->type;
	const int code = icmp_hdr(skb)->code;
	struct net *net = dev_net(skb->dev);
	const struct ipt_cfg *cfg;
	struct ipt_tunnel *t;
	int offset;

	t = ipt_lookup(net, kind, &iph->saddr, &iph->daddr, skb->dev->ifindex);
	if (!t)
		return -ENOENT;
	cfg = rcu_dereference(t->cfg);
	offset = iph->ihl * 4;

	switch (type) {
	case ICMP_DEST_UNREACH:
		if (code == ICMP_FRAG_NEEDED) {
			/* Lower the path MTU of the outer route: the next
			 * transmit sees it through the route cache.
			 */
			ipv4_update_pmtu(skb, net, info, cfg->link, kind->proto);
			ipt_xstat_inc(t, IPT_XSTATS_PMTU_UPDATES);
			if (info <= kind->hlen)
				return 0;
			/* what the inner sender may be told (IPv6: 1280,
			 * relay_icmp6() sees to it)
			 */
			info = max_t(u32, info - kind->hlen, IPV4_MIN_MTU);
			break;
		}
		if (code == ICMP_SR_FAILED)
			return 0;
		/* RFC 2003 4.1: the rest become host unreachable */
		info = 0;
		break;
	case ICMP_TIME_EXCEEDED:
		/* Meaningful to the inner sender only if it chose the TTL */
		if (code != ICMP_EXC_TTL || cfg->ttl != IPT_TTL_INHERIT)
			return 0;
		info = 0;
		break;
	case ICMP_REDIRECT:
		ipv4_redirect(skb, net, cfg->link, kind->proto);
		return 0;
	default:
		return 0;
	}

	if (kind->inner == htons(ETH_P_IP))
		relay_icmp4(t, skb, offset, type,
			    type == ICMP_DEST_UNREACH && code != ICMP_FRAG_NEEDED ?
			    ICMP_HOST_UNREACH : code, info);
	else
		relay_icmp6(t, skb, offset, type, code, info);
	return 0;
}

/* IPv6 underlay, next header 4; as ipt_rcv4(). */
int ipt_rcv6(struct sk_buff *skb, const struct ipt_kind *kind)
{
	const struct ipv6hdr *ip6h = ipv6_hdr(skb);
	struct ipt_tunnel *t;

	t = ipt_lookup(dev_net(skb->dev), kind, &ip6h->daddr, &ip6h->saddr,
		       skb->dev->ifindex);
	if (!t) {
		ipt_count_no_tunnel(dev_net(skb->dev));
		return -ENOENT;
	}

	if (!xfrm6_policy_check(NULL, XFRM_POLICY_IN, skb)) {
		kfree_skb(skb);
		return 0;
	}
	return ipt_rcv(t, skb, ipv6_get_dsfield(ip6h));
}

/* ICMPv6 error about one of our IPv6 outer packets: @skb->data points at
 * the quoted outer header, @offset at the quoted inner packet.
 */
int ipt_err6(struct sk_buff *skb, u8 type, u8 code, int offset, __be32 info,
	     const struct ipt_kind *kind)
{
	const struct ipv6hdr *ip6h = (const struct ipv6hdr *)skb->data;
	struct net *net = dev_net(skb->dev);
	const struct ipt_cfg *cfg;
	struct ipt_tunnel *t;
	u32 mtu = 0;

	t = ipt_lookup(net, kind, &ip6h->saddr, &ip6h->daddr,
		       skb->dev->ifindex);
	if (!t)
		return -ENOENT;
	cfg = rcu_dereference(t->cfg);

	switch (type) {
	case ICMPV6_PKT_TOOBIG:
		ip6_update_pmtu(skb, net, info, cfg->link, 0,
				sock_net_uid(net, NULL));
		ipt_xstat_inc(t, IPT_XSTATS_PMTU_UPDATES);
		mtu = max_t(u32, ntohl(info), IPV6_MIN_MTU) - cfg->hlen;
		if (mtu < IPV4_MIN_MTU)
			return 0;
		type = ICMP_DEST_UNREACH;
		code = ICMP_FRAG_NEEDED;
		break;
	case ICMPV6_DEST_UNREACH:
		type = ICMP_DEST_UNREACH;
		code = ICMP_HOST_UNREACH;
		break;
	case ICMPV6_TIME_EXCEED:
		if (code != ICMPV6_EXC_HOPLIMIT || cfg->ttl != IPT_TTL_INHERIT)
			return 0;
		type = ICMP_TIME_EXCEEDED;
		code = ICMP_EXC_TTL;
		break;
	case NDISC_REDIRECT:
		ip6_redirect(skb, net, cfg->link, 0, sock_net_uid(net, NULL));
		return 0;
	default:
		return 0;
	}

	relay_icmp4(t, skb, offset, type, code, mtu);
	return 0;
}
