/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Just enough of the kernel for the byte-level half of ipt_mss.c
 * (ipt_mss_find, ipt_mss_lower) to build in user space, for mss_test.c
 * and mss_fuzz.c.  ipt_mss.c includes it when __KERNEL__ is not defined.
 *
 * Everything mirrors the kernel's semantics, not its implementation: the
 * unaligned accessors and csum_replace2() go through memcpy so that UBSan
 * sees no misaligned access wherever the caller puts the header.
 */
#ifndef _IPT_MSS_SHIM_H
#define _IPT_MSS_SHIM_H

#include <arpa/inet.h>		/* htons */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint16_t __be16;	/* network byte order, as in the kernel */
typedef uint16_t __sum16;	/* folded, complemented checksum as stored */

/* include/net/tcp.h */
#define TCPOPT_EOL	0	/* end of option list */
#define TCPOPT_NOP	1	/* padding */
#define TCPOPT_MSS	2	/* segment size negotiation */
#define TCPOLEN_MSS	4

/* include/linux/unaligned/be_byteshift.h */
static inline u16 get_unaligned_be16(const void *p)
{
	const u8 *b = p;

	return (u16)(b[0] << 8 | b[1]);
}

static inline void put_unaligned_be16(u16 val, void *p)
{
	u8 *b = p;

	b[0] = val >> 8;
	b[1] = val & 0xff;
}

/* include/uapi/linux/swab.h */
static inline u16 swab16(u16 x)
{
	return (u16)(x << 8 | x >> 8);
}

/* include/net/checksum.h: incremental update of the checksum @sum when the
 * 16-bit word @from becomes @to (both as stored, i.e. network order), RFC
 * 1624 eqn. 3: HC' = ~(~HC + ~m + m').  The one's complement sum does not
 * depend on the byte order as long as all words use the same one.
 */
static inline void csum_replace2(__sum16 *sum, __be16 from, __be16 to)
{
	__sum16 hc;
	u32 s;

	memcpy(&hc, sum, sizeof(hc));
	s = (u16)~hc + (u16)~from + (u32)to;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	hc = (u16)~s;
	memcpy(sum, &hc, sizeof(hc));
}

/* ipt_mss.c: the user-space half, declared as in include/ipt.h */
int ipt_mss_find(const u8 *th, unsigned int len);
bool ipt_mss_lower(u8 *th, unsigned int len, u16 max, bool partial);

#endif /* _IPT_MSS_SHIM_H */
