// SPDX-License-Identifier: GPL-2.0
/*
 * iproute2 plugin for the ipt link kinds: ipt_ipip (IPv4 in IPv4),
 * ipt_6in4 (IPv6 in IPv4, automatic 6to4 without a remote) and ipt_4in6
 * (IPv4 in IPv6).
 *
 * One parser and one printer serve the three kinds, as ip/link_iptnl.c
 * does for ipip and sit: they branch on lu->id.  Every link_ipt_<kind>.so
 * holds the three link_util instances and ip dlsym()s the one named after
 * the kind it loaded the file for.
 *
 * The options take the RouterOS words (remote-address, local-address,
 * dont-fragment, dscp, clamp-tcp-mss, keepalive) and the iproute2 ones
 * (remote, local, dev, ttl, hoplimit, encaplimit, flowlabel); the printer
 * writes back words the parser accepts.  Only the options given are sent:
 * on an existing device the kernel keeps the value of every other one.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/ipt.h>

#include "iproute2.h"

/* ip's iplink_modify() leaves at least this much room for the request. */
#define IPT_REQ_MAX 1024

/* RouterOS probes this many times when "keepalive" gives no count. */
#define IPT_KEEPALIVE_RETRIES 10

enum {
	IPT_IPIP = 1 << 0,
	IPT_6IN4 = 1 << 1,
	IPT_4IN6 = 1 << 2,
	IPT_ALL = IPT_IPIP | IPT_6IN4 | IPT_4IN6,
};

struct ipt_kind {
	const char *id;
	unsigned int mask;
	int af;			/* family of the outer header */
	const char *ttl_word;	/* word for the outer TTL / hop limit */
	const char *local;	/* values accepted by "local" and "remote" */
	const char *remote;
};

static const struct ipt_kind ipt_ipip = {
	.id = "ipt_ipip",
	.mask = IPT_IPIP,
	.af = AF_INET,
	.ttl_word = "ttl",
	.local = "an IPv4 address or any",
	.remote = "the IPv4 address of the peer",
};

static const struct ipt_kind ipt_6in4 = {
	.id = "ipt_6in4",
	.mask = IPT_6IN4,
	.af = AF_INET,
	.ttl_word = "ttl",
	.local = "an IPv4 address or any",
	.remote = "an IPv4 address, or any for automatic 6to4",
};

static const struct ipt_kind ipt_4in6 = {
	.id = "ipt_4in6",
	.mask = IPT_4IN6,
	.af = AF_INET6,
	.ttl_word = "hoplimit",
	.local = "an IPv6 address or any",
	.remote = "the IPv6 address of the peer",
};

static const struct ipt_kind *ipt_kind(const struct link_util *lu)
{
	if (!strcmp(lu->id, "ipt_4in6"))
		return &ipt_4in6;
	if (!strcmp(lu->id, "ipt_6in4"))
		return &ipt_6in4;
	return &ipt_ipip;
}

/* A number in [min, max], or a word standing for a sentinel value. */
struct ipt_range {
	int size;		/* attribute payload: 1, 2 or 4 bytes */
	__u32 min;
	__u32 max;
	int base;		/* 0 (also takes 0x...) is printed in hex */
	const char *word;
	__u32 word_val;
};

static const struct ipt_range ipt_ttl_range = {
	.size = 1, .min = 1, .max = 255, .base = 10,
	.word = "inherit", .word_val = IPT_TTL_INHERIT,
};

static const struct ipt_range ipt_dscp_range = {
	.size = 1, .min = 0, .max = 63, .base = 10,
	.word = "inherit", .word_val = IPT_DSCP_INHERIT,
};

static const struct ipt_range ipt_encap_limit_range = {
	.size = 2, .min = 0, .max = 255, .base = 10,
	.word = "none", .word_val = IPT_ENCAP_LIMIT_NONE,
};

static const struct ipt_range ipt_flowlabel_range = {
	.size = 4, .min = 0, .max = 0xfffff, .base = 0,
	.word = "auto", .word_val = IPT_FLOWLABEL_AUTO,
};

/* The words of a u8 attribute, ended by an empty entry. */
struct ipt_word {
	const char *word;
	__u8 val;
};

static const struct ipt_word ipt_df_words[] = {
	{ "inherit", IPT_DF_INHERIT },
	{ "yes", IPT_DF_YES },
	{ "no", IPT_DF_NO },
	{ }
};

static const struct ipt_word ipt_yes_no[] = {
	{ "yes", 1 },
	{ "no", 0 },
	{ }
};

struct ipt_opt;

typedef int (*ipt_parse_t)(const struct ipt_kind *k, const struct ipt_opt *o,
			   const char *word, const char *arg,
			   struct nlmsghdr *n);

struct ipt_opt {
	const char *word;
	const char *alias;
	unsigned int kinds;	/* IPT_* kinds that take the option */
	int attr;
	ipt_parse_t parse;
	const char *values;	/* what the value may be, for messages */
	const struct ipt_range *range;
	const struct ipt_word *words;
};

static int ipt_addattr(struct nlmsghdr *n, int type, const void *data,
		       int len)
{
	unsigned int off = NLMSG_ALIGN(n->nlmsg_len);
	struct rtattr *rta = (struct rtattr *)((char *)n + off);

	if (off + RTA_SPACE(len) > IPT_REQ_MAX) {
		fprintf(stderr, "ipt: netlink request too long\n");
		return -1;
	}
	memset(rta, 0, RTA_SPACE(len));
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	n->nlmsg_len = off + RTA_SPACE(len);
	return 0;
}

static int ipt_addattr_uint(struct nlmsghdr *n, int type, int size, __u32 val)
{
	__u16 u16 = val;
	__u8 u8 = val;

	switch (size) {
	case 1:
		return ipt_addattr(n, type, &u8, 1);
	case 2:
		return ipt_addattr(n, type, &u16, 2);
	}
	return ipt_addattr(n, type, &val, 4);
}

static const char *ipt_values(const struct ipt_kind *k,
			      const struct ipt_opt *o)
{
	switch (o->attr) {
	case IFLA_IPT_LOCAL:
		return k->local;
	case IFLA_IPT_REMOTE:
		return k->remote;
	}
	return o->values;
}

static int ipt_invalid(const struct ipt_kind *k, const struct ipt_opt *o,
		       const char *word, const char *arg)
{
	fprintf(stderr, "%s: invalid %s \"%s\", expected %s\n",
		k->id, word, arg, ipt_values(k, o));
	return -1;
}

/* A plain unsigned number: no sign, no blanks, nothing after it. */
static bool ipt_get_u32(const char *s, int base, __u32 max, __u32 *val)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || v > max)
		return false;
	*val = v;
	return true;
}

static bool ipt_addr_any(const void *addr, unsigned int len)
{
	static const unsigned char zero[16];

	return !memcmp(addr, zero, len);
}

static int ipt_parse_addr(const struct ipt_kind *k, const struct ipt_opt *o,
			  const char *word, const char *arg,
			  struct nlmsghdr *n)
{
	int other = k->af == AF_INET ? AF_INET6 : AF_INET;
	int len = k->af == AF_INET ? 4 : 16;
	bool any_ok = o->attr == IFLA_IPT_LOCAL || k->mask == IPT_6IN4;
	unsigned char addr[16] = { 0 };

	if (strcmp(arg, "any") && inet_pton(k->af, arg, addr) != 1) {
		if (inet_pton(other, arg, addr) == 1) {
			fprintf(stderr,
				"%s: %s %s is an IPv%c address, %s takes %s\n",
				k->id, word, arg, other == AF_INET ? '4' : '6',
				k->id, ipt_values(k, o));
			return -1;
		}
		return ipt_invalid(k, o, word, arg);
	}
	if (!any_ok && ipt_addr_any(addr, len)) {
		fprintf(stderr,
			"%s: %s must be %s; only ipt_6in4 takes any (automatic 6to4)\n",
			k->id, word, ipt_values(k, o));
		return -1;
	}
	return ipt_addattr(n, o->attr, addr, len);
}

static int ipt_parse_range(const struct ipt_kind *k, const struct ipt_opt *o,
			   const char *word, const char *arg,
			   struct nlmsghdr *n)
{
	const struct ipt_range *r = o->range;
	__u32 v = r->word_val;

	if (strcmp(arg, r->word) &&
	    (!ipt_get_u32(arg, r->base, r->max, &v) || v < r->min))
		return ipt_invalid(k, o, word, arg);
	return ipt_addattr_uint(n, o->attr, r->size, v);
}

static int ipt_parse_words(const struct ipt_kind *k, const struct ipt_opt *o,
			   const char *word, const char *arg,
			   struct nlmsghdr *n)
{
	const struct ipt_word *w;

	for (w = o->words; w->word; w++)
		if (!strcmp(arg, w->word))
			return ipt_addattr_uint(n, o->attr, 1, w->val);
	return ipt_invalid(k, o, word, arg);
}

static int ipt_parse_dev(const struct ipt_kind *k, const struct ipt_opt *o,
			 const char *word, const char *arg,
			 struct nlmsghdr *n)
{
	unsigned int ifindex = if_nametoindex(arg);

	if (!ifindex) {
		fprintf(stderr, "%s: %s \"%s\": no such device\n",
			k->id, word, arg);
		return -1;
	}
	return ipt_addattr_uint(n, o->attr, 4, ifindex);
}

/* "off", or SECONDS[s][,RETRIES]: RouterOS writes "10s,10". */
static int ipt_parse_keepalive(const struct ipt_kind *k,
			       const struct ipt_opt *o, const char *word,
			       const char *arg, struct nlmsghdr *n)
{
	__u32 retries = IPT_KEEPALIVE_RETRIES;
	unsigned long interval;
	char *end;

	if (!strcmp(arg, "off"))
		return ipt_addattr_uint(n, IFLA_IPT_KEEPALIVE_INTERVAL, 4, 0);
	if (!isdigit((unsigned char)*arg))
		return ipt_invalid(k, o, word, arg);
	errno = 0;
	interval = strtoul(arg, &end, 10);
	if (errno || !interval || interval > UINT32_MAX)
		return ipt_invalid(k, o, word, arg);
	if (*end == 's')
		end++;
	if (*end == ',') {
		if (!ipt_get_u32(end + 1, 10, UINT32_MAX, &retries) ||
		    !retries)
			return ipt_invalid(k, o, word, arg);
	} else if (*end) {
		return ipt_invalid(k, o, word, arg);
	}
	if (ipt_addattr_uint(n, IFLA_IPT_KEEPALIVE_INTERVAL, 4, interval))
		return -1;
	return ipt_addattr_uint(n, IFLA_IPT_KEEPALIVE_RETRIES, 4, retries);
}

static const struct ipt_opt ipt_opts[] = {
	{
		.word = "remote", .alias = "remote-address", .kinds = IPT_ALL,
		.attr = IFLA_IPT_REMOTE, .parse = ipt_parse_addr,
	}, {
		.word = "local", .alias = "local-address", .kinds = IPT_ALL,
		.attr = IFLA_IPT_LOCAL, .parse = ipt_parse_addr,
	}, {
		.word = "dev", .kinds = IPT_ALL,
		.attr = IFLA_IPT_LINK, .parse = ipt_parse_dev,
		.values = "a network device",
	}, {
		.word = "ttl", .kinds = IPT_ALL,
		.attr = IFLA_IPT_TTL, .parse = ipt_parse_range,
		.values = "1-255 or inherit", .range = &ipt_ttl_range,
	}, {
		.word = "hoplimit", .kinds = IPT_4IN6,
		.attr = IFLA_IPT_TTL, .parse = ipt_parse_range,
		.values = "1-255 or inherit", .range = &ipt_ttl_range,
	}, {
		.word = "dscp", .kinds = IPT_ALL,
		.attr = IFLA_IPT_DSCP, .parse = ipt_parse_range,
		.values = "0-63 or inherit", .range = &ipt_dscp_range,
	}, {
		.word = "dont-fragment", .kinds = IPT_ALL,
		.attr = IFLA_IPT_DF, .parse = ipt_parse_words,
		.values = "inherit, yes or no", .words = ipt_df_words,
	}, {
		.word = "encaplimit", .kinds = IPT_4IN6,
		.attr = IFLA_IPT_ENCAP_LIMIT, .parse = ipt_parse_range,
		.values = "0-255 or none", .range = &ipt_encap_limit_range,
	}, {
		.word = "flowlabel", .kinds = IPT_4IN6,
		.attr = IFLA_IPT_FLOWLABEL, .parse = ipt_parse_range,
		.values = "0-0xfffff or auto", .range = &ipt_flowlabel_range,
	}, {
		.word = "clamp-tcp-mss", .kinds = IPT_ALL,
		.attr = IFLA_IPT_CLAMP_MSS, .parse = ipt_parse_words,
		.values = "yes or no", .words = ipt_yes_no,
	}, {
		.word = "fast-path", .alias = "allow-fast-path", .kinds = IPT_ALL,
		.attr = IFLA_IPT_FAST_PATH, .parse = ipt_parse_words,
		.values = "yes or no", .words = ipt_yes_no,
	}, {
		.word = "keepalive", .kinds = IPT_ALL,
		.attr = IFLA_IPT_KEEPALIVE_INTERVAL,
		.parse = ipt_parse_keepalive,
		.values = "SECONDS[,RETRIES] (both at least 1) or off",
	},
};

static const struct ipt_opt *ipt_find_opt(const struct ipt_kind *k,
					  const char *word)
{
	const struct ipt_opt *o;

	for (o = ipt_opts; o < ipt_opts + sizeof(ipt_opts) / sizeof(*o); o++)
		if ((o->kinds & k->mask) &&
		    (!strcmp(word, o->word) ||
		     (o->alias && !strcmp(word, o->alias))))
			return o;
	return NULL;
}

static void ipt_usage(const struct ipt_kind *k, FILE *f)
{
	const char *v = k->af == AF_INET ? "IPv4" : "IPv6";

	fprintf(f,
		"Usage: ip link { add | set } NAME type %s\n"
		"\t[ remote %s ] [ local { ADDR | any } ] [ dev PHYS_DEV ]\n"
		"\t[ %s { 1-255 | inherit } ] [ dscp { 0-63 | inherit } ]\n"
		"\t[ dont-fragment { inherit | yes | no } ]\n",
		k->id, k->mask == IPT_6IN4 ? "{ ADDR | any }" : "ADDR",
		k->ttl_word);
	if (k->mask == IPT_4IN6)
		fprintf(f,
			"\t[ encaplimit { 0-255 | none } ] [ flowlabel { 0-0xfffff | auto } ]\n");
	fprintf(f,
		"\t[ clamp-tcp-mss { yes | no } ] [ keepalive { SECONDS[,RETRIES] | off } ]\n"
		"\t[ fast-path { yes | no } ]\n"
		"\n"
		"Where:\tADDR := an %s address\n"
		"\tremote-address and local-address are aliases of remote and local,\n"
		"\tallow-fast-path of fast-path.\n",
		v);
	if (k->mask == IPT_4IN6)
		fprintf(f, "\tttl is an alias of hoplimit.\n");
	if (k->mask == IPT_6IN4)
		fprintf(f,
			"\tWithout a remote, or with remote any, the tunnel does automatic 6to4.\n");
	else
		fprintf(f, "\tremote is required by add.\n");
	fprintf(f,
		"\tSECONDS may end in s; RETRIES defaults to %d.\n"
		"\tDefaults: local any, %s 64, dscp inherit, clamp-tcp-mss yes,\n"
		"\tfast-path yes,\n"
		"\tkeepalive off%s; without dev the route picks the underlay.\n"
		"\tip link set changes only the options given.\n",
		IPT_KEEPALIVE_RETRIES, k->ttl_word,
		k->mask == IPT_4IN6 ? ", encaplimit none" :
		k->mask == IPT_IPIP ? ", dont-fragment inherit" : "");
}

static int ipt_parse_opt(struct link_util *lu, int argc, char **argv,
			 struct nlmsghdr *n)
{
	const __u16 add = NLM_F_CREATE | NLM_F_EXCL;
	const struct ipt_kind *k = ipt_kind(lu);
	const char *given[IFLA_IPT_MAX + 1] = { NULL };
	const struct ipt_opt *o;

	for (; argc > 0; argc -= 2, argv += 2) {
		if (!strcmp(*argv, "help")) {
			ipt_usage(k, stderr);
			return -1;
		}
		o = ipt_find_opt(k, *argv);
		if (!o) {
			fprintf(stderr,
				"%s: unknown option \"%s\", try \"ip link help %s\"\n",
				k->id, *argv, k->id);
			return -1;
		}
		if (argc < 2) {
			fprintf(stderr, "%s: %s needs a value: %s\n",
				k->id, *argv, ipt_values(k, o));
			return -1;
		}
		if (given[o->attr] && !strcmp(*argv, given[o->attr])) {
			fprintf(stderr, "%s: %s given twice\n", k->id, *argv);
			return -1;
		}
		if (given[o->attr]) {
			fprintf(stderr, "%s: %s and %s set the same option\n",
				k->id, given[o->attr], *argv);
			return -1;
		}
		given[o->attr] = *argv;
		if (o->parse(k, o, argv[0], argv[1], n))
			return -1;
	}
	/* Only "ip link add": "replace" may change an existing device. */
	if ((n->nlmsg_flags & add) == add && k->mask != IPT_6IN4 &&
	    !given[IFLA_IPT_REMOTE]) {
		fprintf(stderr, "%s: remote is required: %s\n",
			k->id, k->remote);
		return -1;
	}
	return 0;
}

/* Read a u8, u16 or u32 attribute; one of another size counts as absent. */
static bool ipt_get(struct rtattr *tb[], int type, int size, __u32 *val)
{
	struct rtattr *rta = tb[type];
	__u16 u16;
	__u8 u8;

	if (!rta || RTA_PAYLOAD(rta) != (unsigned int)size)
		return false;
	switch (size) {
	case 1:
		memcpy(&u8, RTA_DATA(rta), 1);
		*val = u8;
		break;
	case 2:
		memcpy(&u16, RTA_DATA(rta), 2);
		*val = u16;
		break;
	default:
		memcpy(val, RTA_DATA(rta), 4);
	}
	return true;
}

/* "word value " in plain text, "key": "value" in JSON. */
static void ipt_print_str(FILE *f, const char *key, const char *word,
			  const char *val)
{
	if (is_json_context())
		jsonw_string_field(get_json_writer(), key, val);
	else
		fprintf(f, "%s %s ", word, val);
}

static void ipt_print_uint(FILE *f, const char *key, const char *word,
			   __u32 val, bool hex)
{
	if (is_json_context())
		jsonw_uint_field(get_json_writer(), key, val);
	else
		fprintf(f, hex ? "%s 0x%05x " : "%s %u ", word, val);
}

static void ipt_print_addr(FILE *f, const char *word, struct rtattr *rta)
{
	unsigned int len = RTA_PAYLOAD(rta);
	char buf[INET6_ADDRSTRLEN];

	if (len != 4 && len != 16)
		return;
	if (ipt_addr_any(RTA_DATA(rta), len))
		ipt_print_str(f, word, word, "any");
	else
		ipt_print_str(f, word, word,
			      inet_ntop(len == 4 ? AF_INET : AF_INET6,
					RTA_DATA(rta), buf, sizeof(buf)));
}

static void ipt_print_link(FILE *f, struct rtattr *tb[])
{
	char name[IF_NAMESIZE];
	__u32 ifindex;

	if (!ipt_get(tb, IFLA_IPT_LINK, 4, &ifindex) || !ifindex)
		return;
	if (!if_indextoname(ifindex, name))
		snprintf(name, sizeof(name), "if%u", ifindex);
	ipt_print_str(f, "link", "dev", name);
}

static void ipt_print_range(FILE *f, struct rtattr *tb[], int attr,
			    const char *key, const char *word,
			    const struct ipt_range *r)
{
	__u32 v;

	if (!ipt_get(tb, attr, r->size, &v))
		return;
	if (v == r->word_val)
		ipt_print_str(f, key, word, r->word);
	else
		ipt_print_uint(f, key, word, v, !r->base);
}

static void ipt_print_df(FILE *f, struct rtattr *tb[])
{
	const struct ipt_word *w;
	__u32 v;

	if (!ipt_get(tb, IFLA_IPT_DF, 1, &v))
		return;
	for (w = ipt_df_words; w->word; w++) {
		if (w->val == v) {
			ipt_print_str(f, "dont_fragment", "dont-fragment",
				      w->word);
			return;
		}
	}
	/* A policy newer than this plugin: show its number. */
	ipt_print_uint(f, "dont_fragment", "dont-fragment", v, false);
}

/* A yes/no u8: a JSON bool */
static void ipt_print_bool(FILE *f, struct rtattr *tb[], int attr,
			   const char *json, const char *word)
{
	__u32 v;

	if (!ipt_get(tb, attr, 1, &v))
		return;
	if (is_json_context())
		jsonw_bool_field(get_json_writer(), json, v);
	else
		fprintf(f, "%s %s ", word, v ? "yes" : "no");
}

/* "keepalive": {"interval": N, "retries": N}, or null when off. */
static void ipt_print_keepalive(FILE *f, struct rtattr *tb[])
{
	struct json_writer *jw = get_json_writer();
	__u32 interval, retries;
	bool has_retries;

	if (!ipt_get(tb, IFLA_IPT_KEEPALIVE_INTERVAL, 4, &interval))
		return;
	has_retries = ipt_get(tb, IFLA_IPT_KEEPALIVE_RETRIES, 4, &retries);
	if (!is_json_context()) {
		if (!interval)
			fprintf(f, "keepalive off ");
		else if (has_retries)
			fprintf(f, "keepalive %u,%u ", interval, retries);
		else
			fprintf(f, "keepalive %u ", interval);
		return;
	}
	if (!interval) {
		jsonw_null_field(jw, "keepalive");
		return;
	}
	jsonw_name(jw, "keepalive");
	jsonw_start_object(jw);
	jsonw_uint_field(jw, "interval", interval);
	if (has_retries)
		jsonw_uint_field(jw, "retries", retries);
	jsonw_end_object(jw);
}

static void ipt_print_opt(struct link_util *lu, FILE *f, struct rtattr *tb[])
{
	const struct ipt_kind *k = ipt_kind(lu);

	if (!tb)
		return;
	if (tb[IFLA_IPT_REMOTE])
		ipt_print_addr(f, "remote", tb[IFLA_IPT_REMOTE]);
	else if (k->mask == IPT_6IN4)
		ipt_print_str(f, "remote", "remote", "any");
	if (tb[IFLA_IPT_LOCAL])
		ipt_print_addr(f, "local", tb[IFLA_IPT_LOCAL]);
	ipt_print_link(f, tb);
	ipt_print_range(f, tb, IFLA_IPT_TTL, "ttl", k->ttl_word,
			&ipt_ttl_range);
	ipt_print_range(f, tb, IFLA_IPT_DSCP, "dscp", "dscp", &ipt_dscp_range);
	ipt_print_df(f, tb);
	ipt_print_range(f, tb, IFLA_IPT_ENCAP_LIMIT, "encap_limit",
			"encaplimit", &ipt_encap_limit_range);
	ipt_print_range(f, tb, IFLA_IPT_FLOWLABEL, "flowlabel", "flowlabel",
			&ipt_flowlabel_range);
	ipt_print_bool(f, tb, IFLA_IPT_CLAMP_MSS, "clamp_tcp_mss",
		       "clamp-tcp-mss");
	ipt_print_keepalive(f, tb);
	ipt_print_bool(f, tb, IFLA_IPT_FAST_PATH, "fast_path", "fast-path");
}

static void ipt_print_help(struct link_util *lu, int argc, char **argv,
			   FILE *f)
{
	(void)argc;
	(void)argv;
	ipt_usage(ipt_kind(lu), f);
}

/*
 * Extended statistics: IFLA_INFO_XSTATS nests one u64 per IPT_XSTATS_*
 * (the kernel's ipt_fill_xstats()).  ip 6.1 calls print_xstats from
 * print_linktype() only with both -s and -d, right after print_opt() and,
 * in JSON, inside an object "info_xstats" that it opened itself: the
 * counters are its members.  In plain text they follow the kind's line,
 * and ip goes on (addrgenmode ...) where we leave off.
 */
struct ipt_xstat {
	int attr;
	const char *key;	/* JSON */
	const char *label;	/* plain: the column heading */
	int row;
};

static const struct ipt_xstat ipt_xstats[] = {
	{ IPT_XSTATS_KEEPALIVE_TX, "keepalive_tx", "keepalive-tx", 0 },
	{ IPT_XSTATS_KEEPALIVE_RX, "keepalive_rx", "keepalive-rx", 0 },
	{ IPT_XSTATS_CARRIER_CHANGES, "carrier_changes", "carrier-changes", 0 },
	{ IPT_XSTATS_MSS_CLAMPED, "mss_clamped", "mss-clamped", 0 },
	{ IPT_XSTATS_PMTU_UPDATES, "pmtu_updates", "pmtu-updates", 0 },
	{ IPT_XSTATS_DROP_HEADER, "drop_header", "header", 1 },
	{ IPT_XSTATS_DROP_ECN, "drop_ecn", "ecn", 1 },
	{ IPT_XSTATS_DROP_LOOP, "drop_loop", "loop", 1 },
	{ IPT_XSTATS_DROP_6TO4, "drop_6to4", "6to4", 1 },
	{ IPT_XSTATS_DROP_TOO_BIG, "drop_too_big", "too-big", 1 },
	{ IPT_XSTATS_DROP_NO_ROUTE, "drop_no_route", "no-route", 1 },
	{ IPT_XSTATS_NO_TUNNEL, "no_tunnel", "no-tunnel", 2 },
};

#define IPT_XSTATS_N (sizeof(ipt_xstats) / sizeof(*ipt_xstats))

/* Row headings, as "RX:" and "TX:" in ip -s; "netns" is not per tunnel. */
static const char * const ipt_xstats_rows[] = { "tunnel:", "drops:", "netns:" };

#define IPT_XSTATS_ROWS (sizeof(ipt_xstats_rows) / sizeof(*ipt_xstats_rows))

/* Blocks of two lines (headings, then values right-aligned under them),
 * as ip -s prints RX: and TX:; a counter the kernel did not send is left
 * out, a row without any is not printed.  Ends with a new indented line
 * for what ip prints after us.
 */
static void ipt_print_xstats_plain(FILE *f, const bool has[],
				   const __u64 val[])
{
	char num[IPT_XSTATS_N][24];
	int width[IPT_XSTATS_N];
	unsigned int i, row;
	bool any = false;

	for (i = 0; i < IPT_XSTATS_N; i++) {
		int l = strlen(ipt_xstats[i].label);

		snprintf(num[i], sizeof(num[i]), "%llu",
			 (unsigned long long)val[i]);
		width[i] = (int)strlen(num[i]) > l ? (int)strlen(num[i]) : l;
	}
	for (row = 0; row < IPT_XSTATS_ROWS; row++) {
		bool in_row = false;

		for (i = 0; i < IPT_XSTATS_N; i++)
			in_row |= has[i] && ipt_xstats[i].row == (int)row;
		if (!in_row)
			continue;
		fprintf(f, "\n    %-7s", ipt_xstats_rows[row]);
		for (i = 0; i < IPT_XSTATS_N; i++)
			if (has[i] && ipt_xstats[i].row == (int)row)
				fprintf(f, " %*s", width[i], ipt_xstats[i].label);
		fprintf(f, "\n    %-7s", "");
		for (i = 0; i < IPT_XSTATS_N; i++)
			if (has[i] && ipt_xstats[i].row == (int)row)
				fprintf(f, " %*s", width[i], num[i]);
		any = true;
	}
	if (any)
		fprintf(f, "\n    ");
}

static void ipt_print_xstats(struct link_util *lu, FILE *f,
			     struct rtattr *xstats)
{
	__u64 val[IPT_XSTATS_N] = { 0 };
	bool has[IPT_XSTATS_N] = { false };
	struct rtattr *rta;
	unsigned int i;
	int len;

	(void)lu;
	if (!xstats)
		return;
	len = RTA_PAYLOAD(xstats);
	for (rta = RTA_DATA(xstats); RTA_OK(rta, len);
	     rta = RTA_NEXT(rta, len)) {
		/* IPT_XSTATS_PAD is empty; counters newer than this
		 * plugin match no entry and are not shown.
		 */
		if (RTA_PAYLOAD(rta) != sizeof(__u64))
			continue;
		for (i = 0; i < IPT_XSTATS_N; i++) {
			if (ipt_xstats[i].attr == rta->rta_type) {
				memcpy(&val[i], RTA_DATA(rta), sizeof(__u64));
				has[i] = true;
			}
		}
	}
	if (!is_json_context()) {
		ipt_print_xstats_plain(f, has, val);
		return;
	}
	for (i = 0; i < IPT_XSTATS_N; i++)
		if (has[i])
			jsonw_u64_field(get_json_writer(), ipt_xstats[i].key,
					val[i]);
}

struct link_util ipt_ipip_link_util = {
	.id = "ipt_ipip",
	.maxattr = IFLA_IPT_MAX,
	.parse_opt = ipt_parse_opt,
	.print_opt = ipt_print_opt,
	.print_xstats = ipt_print_xstats,
	.print_help = ipt_print_help,
};

struct link_util ipt_6in4_link_util = {
	.id = "ipt_6in4",
	.maxattr = IFLA_IPT_MAX,
	.parse_opt = ipt_parse_opt,
	.print_opt = ipt_print_opt,
	.print_xstats = ipt_print_xstats,
	.print_help = ipt_print_help,
};

struct link_util ipt_4in6_link_util = {
	.id = "ipt_4in6",
	.maxattr = IFLA_IPT_MAX,
	.parse_opt = ipt_parse_opt,
	.print_opt = ipt_print_opt,
	.print_xstats = ipt_print_xstats,
	.print_help = ipt_print_help,
};
