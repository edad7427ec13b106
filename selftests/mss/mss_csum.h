/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A plain, non-incremental TCP checksum (RFC 793, RFC 8200 8.1) over the
 * pseudo-header and the TCP header, for mss_test.c and mss_fuzz.c to check
 * the incremental update of ipt_mss_lower() against.  Independent of the
 * shim's csum_replace2() on purpose.
 */
#ifndef _IPT_MSS_CSUM_H
#define _IPT_MSS_CSUM_H

#include <stddef.h>
#include <stdint.h>

#define MSS_TCP_CHECK_OFF	16

struct mss_pseudo {
	int family;		/* 4 or 6 */
	uint8_t saddr[16];	/* the first 4 bytes for IPv4 */
	uint8_t daddr[16];
};

/* 32-bit sum of big-endian 16-bit words; an odd tail is padded with 0. */
static inline uint32_t mss_sum16(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static inline uint16_t mss_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Sum of the pseudo-header for a TCP segment of @len bytes, unfolded. */
static inline uint32_t mss_pseudo_sum(const struct mss_pseudo *ph, size_t len)
{
	size_t alen = ph->family == 6 ? 16 : 4;
	uint32_t s = 0;

	s = mss_sum16(s, ph->saddr, alen);
	s = mss_sum16(s, ph->daddr, alen);
	s += 6;				/* IPPROTO_TCP */
	s += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
	return s;
}

static inline uint16_t mss_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void mss_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* The checksum of @th (@len bytes) as if its check field were zero. */
static inline uint16_t mss_tcp_csum(const struct mss_pseudo *ph,
				    const uint8_t *th, size_t len)
{
	uint32_t s = mss_pseudo_sum(ph, len);

	s = mss_sum16(s, th, len);
	s -= mss_get16(th + MSS_TCP_CHECK_OFF);	/* s stays >= 0: it holds it */
	return (uint16_t)~mss_fold(s);
}

/* Is the check field of @th right? (the whole sum folds to 0xffff) */
static inline int mss_tcp_csum_ok(const struct mss_pseudo *ph,
				  const uint8_t *th, size_t len)
{
	return mss_fold(mss_sum16(mss_pseudo_sum(ph, len), th, len)) == 0xffff;
}

/* What the stack leaves in the check field for CHECKSUM_PARTIAL: the
 * folded pseudo-header sum, not complemented (~tcp_v4_check(len, s, d, 0)).
 */
static inline uint16_t mss_partial_seed(const struct mss_pseudo *ph,
					size_t len)
{
	return mss_fold(mss_pseudo_sum(ph, len));
}

/* What the device (or skb_checksum_help) then does: sum from the start of
 * the TCP header, check field (the seed) included, and store the result.
 */
static inline void mss_partial_finish(uint8_t *th, size_t len)
{
	mss_put16(th + MSS_TCP_CHECK_OFF,
		  (uint16_t)~mss_fold(mss_sum16(0, th, len)));
}

#endif /* _IPT_MSS_CSUM_H */
