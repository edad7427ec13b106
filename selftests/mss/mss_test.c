// SPDX-License-Identifier: GPL-2.0
/*
 * Unit test of the byte-level MSS clamp of ipt_mss.c (ipt_mss_find,
 * ipt_mss_lower), built in user space with mss_shim.h.
 *
 * Every case is a TCP SYN header with a given option list.  For each one,
 * with a full checksum (CHECKSUM_NONE / COMPLETE) and a pseudo-header seed
 * (CHECKSUM_PARTIAL), over an IPv4 and an IPv6 pseudo-header, it checks:
 *   - the offset ipt_mss_find() reports (or -1),
 *   - the return value of ipt_mss_lower(),
 *   - the exact bytes afterwards: the original header with, if lowered,
 *     the expected MSS value and, without partial, the check field a full
 *     recomputation gives (with partial the check field is left alone and
 *     the checksum the device computes later must come out right),
 *   - that nothing else changed and the checksum is valid.
 * The header sits at the very end of an allocation of exactly its size,
 * so that ASan catches any read past the length it is given.
 * A sweep then tries every 16-bit MSS value against a few bounds, at even
 * and odd offsets, for the corner cases of the one's complement update
 * (0x0000 / 0xffff, byte-swapped words).
 */

#include <stdio.h>
#include <stdlib.h>

#include "mss_shim.h"
#include "mss_csum.h"

#define MAXOPT 40

struct tcase {
	const char *name;
	unsigned int olen;		/* option bytes */
	u8 opt[MAXOPT];
	u16 max;			/* the bound */
	int off;			/* expected ipt_mss_find(), -1 none */
	int mss;			/* expected MSS after, -1 unchanged */
};

/* 1460 = 05 b4, 1440 = 05 a0, 1420 = 05 8c, 8960 = 23 00 */
#define MSS1460 0x02, 0x04, 0x05, 0xb4
#define TS 0x08, 0x0a, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00
#define SACKP 0x04, 0x02
#define WS7 0x03, 0x03, 0x07

static const struct tcase cases[] = {
	{ "Linux SYN: MSS first, SACK-perm, TS, NOP, WS",
	  20, { MSS1460, SACKP, TS, 0x01, WS7 }, 1440, 20, 1440 },
	{ "MSS after NOP NOP TS SACK-perm NOP NOP NOP WS",
	  24, { 0x01, 0x01, TS, SACKP, 0x01, 0x01, 0x01, WS7, MSS1460 },
	  1440, 40, 1440 },
	{ "MSS after NOP WS NOP NOP SACK-perm (BSD layout)",
	  12, { 0x01, WS7, 0x01, 0x01, SACKP, MSS1460 }, 1420, 28, 1420 },
	{ "MSS at an odd offset: NOP MSS NOP NOP NOP",
	  8, { 0x01, MSS1460, 0x01, 0x01, 0x01 }, 1440, 21, 1440 },
	{ "MSS at an odd offset: NOP NOP NOP MSS NOP",
	  8, { 0x01, 0x01, 0x01, MSS1460, 0x01 }, 1440, 23, 1440 },
	{ "MSS at an odd offset after WS: WS MSS NOP",
	  8, { WS7, MSS1460, 0x01 }, 1340, 23, 1340 },
	{ "MSS at offset 22: NOP NOP MSS NOP NOP",
	  8, { 0x01, 0x01, MSS1460, 0x01, 0x01 }, 1440, 22, 1440 },
	{ "MSS alone", 4, { MSS1460 }, 1440, 20, 1440 },
	{ "MSS alone, bound 1340", 4, { MSS1460 }, 1340, 20, 1340 },
	{ "MSS larger than the bound (8960 -> 1440)",
	  4, { 0x02, 0x04, 0x23, 0x00 }, 1440, 20, 1440 },
	{ "MSS smaller than the bound", 4, { 0x02, 0x04, 0x02, 0x18 },
	  1440, 20, -1 },
	{ "MSS equal to the bound", 4, { 0x02, 0x04, 0x05, 0xa0 },
	  1440, 20, -1 },
	{ "MSS below a 65535 bound: never raised", 4, { MSS1460 },
	  0xffff, 20, -1 },
	{ "MSS 0", 4, { 0x02, 0x04, 0x00, 0x00 }, 1440, 20, -1 },
	{ "MSS 65535 -> 1", 4, { 0x02, 0x04, 0xff, 0xff }, 1, 20, 1 },
	{ "MSS then EOL padding", 8, { MSS1460, 0x00, 0x00, 0x00, 0x00 },
	  1440, 20, 1440 },
	{ "MSS, EOL, then garbage after EOL is ignored",
	  8, { MSS1460, 0x00, 0x08, 0x01, 0xff }, 1440, 20, 1440 },
	{ "EOL before MSS: the MSS is padding",
	  8, { 0x00, 0x00, 0x00, 0x00, MSS1460 }, 1440, -1, -1 },
	{ "NOP NOP EOL then MSS", 8, { 0x01, 0x01, 0x00, 0x00, MSS1460 },
	  1440, -1, -1 },
	{ "no MSS: NOP NOP SACK-perm", 4, { 0x01, 0x01, SACKP }, 1440, -1, -1 },
	{ "no MSS: all NOP", 8, { 1, 1, 1, 1, 1, 1, 1, 1 }, 1440, -1, -1 },
	{ "no MSS: unknown kind 253 len 4", 4, { 0xfd, 0x04, 0xab, 0xcd },
	  1440, -1, -1 },
	{ "unknown kind 253 len 4 before MSS",
	  8, { 0xfd, 0x04, 0xab, 0xcd, MSS1460 }, 1440, 24, 1440 },
	{ "doff 5, no options", 0, { 0 }, 1440, -1, -1 },
	/* malformed: the whole header is left alone */
	{ "malformed: option length 0 before MSS",
	  8, { 0x08, 0x00, 0x00, 0x00, MSS1460 }, 1440, -1, -1 },
	{ "malformed: option length 1 before MSS",
	  8, { 0x08, 0x01, 0x01, 0x01, MSS1460 }, 1440, -1, -1 },
	{ "malformed: option length 1 after MSS",
	  8, { MSS1460, 0x08, 0x01, 0x01, 0x01 }, 1440, -1, -1 },
	{ "malformed: MSS length 0", 4, { 0x02, 0x00, 0x05, 0xb4 },
	  1440, -1, -1 },
	{ "malformed: MSS length 1", 4, { 0x02, 0x01, 0x05, 0xb4 },
	  1440, -1, -1 },
	{ "malformed: MSS length 3", 4, { 0x02, 0x03, 0x05, 0xb4 },
	  1440, -1, -1 },
	{ "malformed: MSS length 6", 8, { 0x02, 0x06, 0x05, 0xb4, 0, 0, 1, 1 },
	  1440, -1, -1 },
	{ "malformed: TS length runs past doff, after MSS",
	  8, { MSS1460, 0x01, 0x01, 0x08, 0x0a }, 1440, -1, -1 },
	{ "malformed: last option one byte past doff",
	  8, { MSS1460, 0xfd, 0x05, 0x00, 0x00 }, 1440, -1, -1 },
	{ "last option ends exactly at doff",
	  8, { MSS1460, 0xfd, 0x04, 0x00, 0x00 }, 1440, 20, 1440 },
	{ "malformed: MSS runs past doff", 4, { 0x01, 0x01, 0x02, 0x04 },
	  1440, -1, -1 },
	{ "malformed: option length 255", 8, { MSS1460, 0xfd, 0xff, 0, 0 },
	  1440, -1, -1 },
	{ "malformed: header ends at a kind byte (MSS)",
	  4, { 0x01, 0x01, 0x01, 0x02 }, 1440, -1, -1 },
	{ "malformed: header ends at a kind byte, after MSS",
	  8, { MSS1460, 0x01, 0x01, 0x01, 0x08 }, 1440, -1, -1 },
	{ "malformed: duplicate MSS", 8, { MSS1460, MSS1460 }, 1440, -1, -1 },
	{ "malformed: duplicate MSS, second one smaller",
	  8, { MSS1460, 0x02, 0x04, 0x02, 0x18 }, 1440, -1, -1 },
	{ "40 bytes of options, MSS last",
	  40, { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, MSS1460 },
	  1440, 56, 1440 },
};

static int failures;

#define FAIL(...) do { \
	failures++; \
	printf("FAIL: " __VA_ARGS__); \
	putchar('\n'); \
} while (0)

static void hexdump(const char *what, const u8 *p, unsigned int len)
{
	unsigned int i;

	printf("  %-8s", what);
	for (i = 0; i < len; i++)
		printf(" %02x", p[i]);
	putchar('\n');
}

static const struct mss_pseudo ph4 = {
	4, { 192, 168, 10, 2 }, { 192, 168, 20, 2 }
};

static const struct mss_pseudo ph6 = {
	6, { 0x20, 0x01, 0x0d, 0xb8, 0, 0x0a, [15] = 2 },
	   { 0x20, 0x01, 0x0d, 0xb8, 0, 0x0b, [15] = 2 }
};

/* A SYN with @olen option bytes; doff covers them (rounded up: only the
 * length passed to the functions matters).
 */
static void build(u8 *th, const u8 *opt, unsigned int olen, u16 window)
{
	static const u8 base[20] = {
		0xc0, 0x01, 0x00, 0x50,		/* ports 49153 -> 80 */
		0x12, 0x34, 0x56, 0x78,		/* seq */
		0x00, 0x00, 0x00, 0x00,		/* ack */
		0x00, 0x02,			/* doff, SYN */
		0xfa, 0xf0,			/* window */
		0x00, 0x00, 0x00, 0x00,		/* check, urg */
	};

	memcpy(th, base, sizeof(base));
	th[12] = (u8)(((20 + olen + 3) / 4) << 4);
	mss_put16(th + 14, window);
	memcpy(th + 20, opt, olen);
}

/* Run one header through ipt_mss_lower and check the outcome.  @off and
 * @mss as in struct tcase.  Returns 0 when it was right.
 */
static int run(const char *name, const u8 *orig, unsigned int len, u16 max,
	       int off, int mss, const struct mss_pseudo *ph, bool partial,
	       bool verbose)
{
	u8 *th = malloc(len), *want = malloc(len), *pre = malloc(len);
	int before = failures, got_off;
	unsigned int i;
	bool changed;

	if (!th || !want || !pre) {
		perror("malloc");
		exit(2);
	}
	memcpy(th, orig, len);
	if (partial)
		mss_put16(th + MSS_TCP_CHECK_OFF, mss_partial_seed(ph, len));
	else
		mss_put16(th + MSS_TCP_CHECK_OFF, mss_tcp_csum(ph, th, len));
	memcpy(want, th, len);
	memcpy(pre, th, len);

	got_off = ipt_mss_find(th, len);
	if (got_off != off)
		FAIL("%s: ipt_mss_find: expected %d, got %d", name, off, got_off);
	if (memcmp(th, want, len))
		FAIL("%s: ipt_mss_find wrote to the header", name);

	if (mss >= 0) {
		mss_put16(want + off + 2, (u16)mss);
		if (!partial)
			mss_put16(want + MSS_TCP_CHECK_OFF,
				  mss_tcp_csum(ph, want, len));
	}

	changed = ipt_mss_lower(th, len, max, partial);
	if (changed != (mss >= 0))
		FAIL("%s (%s, IPv%d): ipt_mss_lower returned %d, expected %d",
		     name, partial ? "partial" : "full", ph->family, changed,
		     mss >= 0);
	if (memcmp(th, want, len)) {
		FAIL("%s (%s, IPv%d, bound %u): wrong bytes after",
		     name, partial ? "partial" : "full", ph->family, max);
		hexdump("expected", want, len);
		hexdump("got", th, len);
	}
	for (i = 0; i < len; i++) {
		bool mss_byte = off >= 0 && (i == (unsigned int)off + 2 ||
						 i == (unsigned int)off + 3);
		bool check_byte = !partial && (i == 16 || i == 17);

		if (th[i] != pre[i] && !mss_byte && !check_byte)
			FAIL("%s (%s): byte %u changed (0x%02x -> 0x%02x)", name,
			     partial ? "partial" : "full", i, pre[i], th[i]);
	}
	if (partial)
		mss_partial_finish(th, len);
	if (!mss_tcp_csum_ok(ph, th, len))
		FAIL("%s (%s, IPv%d): checksum invalid: 0x%04x, expected 0x%04x",
		     name, partial ? "partial" : "full", ph->family,
		     mss_get16(th + MSS_TCP_CHECK_OFF), mss_tcp_csum(ph, th, len));

	free(th);
	free(want);
	free(pre);
	if (verbose && failures == before)
		printf("ok: %s (%s, IPv%d)\n", name,
		       partial ? "CHECKSUM_PARTIAL" : "full checksum",
		       ph->family);
	return failures != before;
}

static void run_cases(void)
{
	const struct mss_pseudo *phs[] = { &ph4, &ph6 };
	unsigned int c, p, partial;
	u8 th[60];

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct tcase *tc = &cases[c];

		build(th, tc->opt, tc->olen, 0xfaf0);
		for (p = 0; p < 2; p++)
			for (partial = 0; partial < 2; partial++)
				run(tc->name, th, 20 + tc->olen, tc->max,
				    tc->off, tc->mss, phs[p], partial, true);
	}
}

/* Every MSS value, a few bounds and windows: the incremental update must
 * always agree with a full recomputation, including where the checksum
 * is 0x0000 or the sum folds to 0xffff.
 */
static void sweep(void)
{
	static const u16 bounds[] = { 0, 1, 536, 1220, 1340, 1420, 1440,
				      8960, 0xfffe, 0xffff };
	static const u16 windows[] = { 0x0000, 0xfaf0, 0xffff, 0x1234 };
	int before = failures;
	unsigned int v, b, w;
	u8 th[28];
	long n = 0;

	/* w also picks the MSS offset: 20, 21, 22, 23 (NOPs before it) */
	for (w = 0; w < sizeof(windows) / sizeof(windows[0]); w++)
		for (v = 0; v <= 0xffff; v++)
			for (b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
				u8 opt[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
				u16 max = bounds[b];

				opt[w] = 0x02;
				opt[w + 1] = 0x04;
				opt[w + 2] = v >> 8;
				opt[w + 3] = v & 0xff;
				build(th, opt, 8, windows[w]);
				if (run("sweep", th, 28, max, 20 + (int)w,
					v > max ? max : -1, (v + b) & 1 ? &ph6 : &ph4,
					(v >> 1 & 1) && (b & 1), false)) {
					printf("  (MSS %u at %u, bound %u, window 0x%04x)\n",
					       v, 20 + w, max, windows[w]);
					if (failures - before > 10)
						return;
				}
				n++;
			}
	if (failures == before)
		printf("ok: sweep of %ld MSS/bound/window combinations\n", n);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	run_cases();
	sweep();
	if (failures) {
		printf("mss_test: FAIL (%d failures)\n", failures);
		return 1;
	}
	printf("mss_test: PASS (%zu cases x 4 checksum modes, sweep)\n",
	       sizeof(cases) / sizeof(cases[0]));
	return 0;
}
