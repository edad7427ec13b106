// SPDX-License-Identifier: GPL-2.0
/*
 * ipt TCP MSS clamp: SYNs crossing the tunnel, in either direction, never
 * announce a segment size that does not fit the tunnel's path MTU.
 *
 * The option walk and rewrite at the top work on plain bytes and also
 * build in user space (selftests/mss/) for unit tests and fuzzing.
 */

#ifdef __KERNEL__
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <net/checksum.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/tcp.h>
#include <asm/unaligned.h>

#include "ipt.h"
#else
#include "mss_shim.h"
#endif

#define TCP_HLEN	20
#define TCP_CHECK_OFF	16

/* Offset of the MSS option in the @len byte TCP header @th, or -1 when
 * there is none, it is malformed, or any option is: a header we do not
 * fully understand is left alone, and nothing outside @len is read.
 */
int ipt_mss_find(const u8 *th, unsigned int len)
{
	unsigned int i = TCP_HLEN;
	int mss = -1;

	while (i < len) {
		u8 kind = th[i], olen;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return -1;
		olen = th[i + 1];
		if (olen < 2 || olen > len - i)
			return -1;
		if (kind == TCPOPT_MSS) {
			if (olen != TCPOLEN_MSS || mss >= 0)
				return -1;
			mss = i;
		}
		i += olen;
	}
	return mss;
}

/* Lower the MSS option of TCP header @th to @max, never raise it.  The
 * checksum is fixed incrementally (RFC 1624) unless @partial: then the
 * field only holds the pseudo-header sum and the payload sum is computed
 * later.  The sum is of 16-bit words from the start of the header, so a
 * value at an odd offset (options need no alignment) counts byte-swapped.
 * Returns true when the header changed.
 */
bool ipt_mss_lower(u8 *th, unsigned int len, u16 max, bool partial)
{
	int off = ipt_mss_find(th, len);
	u16 old;

	if (off < 0)
		return false;
	old = get_unaligned_be16(th + off + 2);
	if (old <= max)
		return false;
	put_unaligned_be16(max, th + off + 2);
	if (!partial)
		csum_replace2((__sum16 *)(th + TCP_CHECK_OFF),
			      htons(off & 1 ? swab16(old) : old),
			      htons(off & 1 ? swab16(max) : max));
	return true;
}

#ifdef __KERNEL__
/* BH, on the inner packet (network header set) before encapsulation or
 * after decapsulation.  @mtu is the tunnel path MTU.
 */
void ipt_mss_clamp(struct ipt_tunnel *t, struct sk_buff *skb,
		   unsigned int mtu)
{
	unsigned int thoff, doff, nhoff = skb_network_offset(skb);
	struct tcphdr _th;
	const struct tcphdr *th;
	unsigned int overhead;

	/* Neither GSO nor GRO ever builds a super-packet from a SYN. */
	if (skb_is_gso(skb))
		return;
	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *iph = ip_hdr(skb);

		if (iph->protocol != IPPROTO_TCP ||
		    iph->frag_off & htons(IP_OFFSET))
			return;
		thoff = nhoff + iph->ihl * 4;
		overhead = sizeof(struct iphdr) + TCP_HLEN;
	} else {
		u8 nexthdr = ipv6_hdr(skb)->nexthdr;
		__be16 frag_off;
		int off;

		off = ipv6_skip_exthdr(skb, nhoff + sizeof(struct ipv6hdr),
				       &nexthdr, &frag_off);
		if (off < 0 || nexthdr != IPPROTO_TCP ||
		    frag_off & htons(IP6_OFFSET))
			return;
		thoff = off;
		overhead = sizeof(struct ipv6hdr) + TCP_HLEN;
	}

	th = skb_header_pointer(skb, thoff, sizeof(_th), &_th);
	if (!th || !th->syn)
		return;
	doff = th->doff * 4;
	if (doff <= TCP_HLEN || mtu <= overhead)
		return;

	/* May reallocate the head: only offsets are kept across it. */
	if (skb_ensure_writable(skb, thoff + doff))
		return;
	if (ipt_mss_lower(skb->data + thoff, doff, mtu - overhead,
			  skb->ip_summed == CHECKSUM_PARTIAL))
		ipt_xstat_inc(t, IPT_XSTATS_MSS_CLAMPED);
}
#endif
