// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the byte-level MSS clamp of ipt_mss.c:
 *
 *	clang -fsanitize=fuzzer,address,undefined -I. mss_fuzz.c ../../ipt_mss.c
 *
 * Input: bound (2 bytes, big endian), flags (1 byte: bit 0 CHECKSUM_PARTIAL,
 * bit 1 IPv6 pseudo-header), then the TCP header itself, of any length.
 * The header is copied into an allocation of exactly its size (ASan: no
 * access outside it), given a correct checksum (or the CHECKSUM_PARTIAL
 * seed), and lowered.  Then:
 *   - ipt_mss_find() agrees with an independent walk of the option list,
 *   - the result is exactly "MSS value set to the bound when it was above
 *     it", never raised, and nothing changed otherwise,
 *   - no byte but the MSS value and (without partial) the check field
 *     changed,
 *   - the checksum is valid (with partial, after the device's sum).
 */

#include <stdio.h>
#include <stdlib.h>

#include "mss_shim.h"
#include "mss_csum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "mss_fuzz: %s:%d: %s\n", __FILE__, __LINE__, \
			#cond); \
		abort(); \
	} \
} while (0)

/* The option walk as RFC 9293 3.2 describes it, written apart from
 * ipt_mss_find(): the offset of the one well-formed MSS option, or -1 if
 * there is none or any option before EOL (or the end) is malformed.
 */
static int ref_find(const u8 *th, size_t len)
{
	size_t pos;
	int found = -1;

	for (pos = 20; pos < len;) {
		size_t left = len - pos;

		switch (th[pos]) {
		case 0:				/* EOL: the rest is padding */
			return found;
		case 1:				/* NOP */
			pos += 1;
			continue;
		}
		if (left < 2)			/* no room for the length */
			return -1;
		if (th[pos + 1] < 2 || th[pos + 1] > left)
			return -1;
		if (th[pos] == 2) {
			if (th[pos + 1] != 4 || found != -1)
				return -1;
			found = (int)pos;
		}
		pos += th[pos + 1];
	}
	return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mss_pseudo ph = {
		4, { 192, 0, 2, 1 }, { 198, 51, 100, 7 }
	};
	u8 *th, *pre;
	bool partial, changed;
	int ref, off;
	size_t len, i;
	u16 bound;

	if (size < 3)
		return 0;
	bound = (u16)(data[0] << 8 | data[1]);
	partial = data[2] & 1;
	if (data[2] & 2) {
		ph.family = 6;
		ph.saddr[0] = 0x20;
		ph.daddr[15] = data[2];
	}
	data += 3;
	len = size - 3;

	th = malloc(len ? len : 1);
	pre = malloc(len ? len : 1);
	CHECK(th && pre);
	memcpy(th, data, len);

	if (len < 20) {
		/* No room for options: nothing may happen at all. */
		memcpy(pre, th, len);
		CHECK(ipt_mss_find(th, (unsigned int)len) == -1);
		CHECK(!ipt_mss_lower(th, (unsigned int)len, bound, partial));
		CHECK(!memcmp(th, pre, len));
		goto out;
	}

	if (partial)
		mss_put16(th + MSS_TCP_CHECK_OFF, mss_partial_seed(&ph, len));
	else
		mss_put16(th + MSS_TCP_CHECK_OFF, mss_tcp_csum(&ph, th, len));
	CHECK(partial || mss_tcp_csum_ok(&ph, th, len));
	memcpy(pre, th, len);

	ref = ref_find(pre, len);
	off = ipt_mss_find(th, (unsigned int)len);
	CHECK(off == ref);
	CHECK(!memcmp(th, pre, len));

	changed = ipt_mss_lower(th, (unsigned int)len, bound, partial);

	if (ref >= 0 && mss_get16(pre + ref + 2) > bound) {
		CHECK(changed);
		CHECK(mss_get16(th + ref + 2) == bound);
	} else {
		CHECK(!changed);
		CHECK(!memcmp(th, pre, len));
	}
	if (ref >= 0)		/* never raised */
		CHECK(mss_get16(th + ref + 2) <= mss_get16(pre + ref + 2));

	for (i = 0; i < len; i++) {
		bool mss_byte = ref >= 0 && (i == (size_t)ref + 2 ||
					     i == (size_t)ref + 3);
		bool check_byte = !partial && (i == 16 || i == 17);

		CHECK(th[i] == pre[i] || mss_byte || check_byte);
	}

	if (partial)
		mss_partial_finish(th, len);
	CHECK(mss_tcp_csum_ok(&ph, th, len));
	if (!partial)	/* and it is the one a full recomputation gives */
		CHECK(mss_get16(th + MSS_TCP_CHECK_OFF) ==
		      mss_tcp_csum(&ph, th, len));
out:
	free(th);
	free(pre);
	return 0;
}
