// SPDX-License-Identifier: GPL-2.0
/*
 * Unit test of the ipt iproute2 plugins, with neither ip nor the module.
 *
 * Loads link_ipt_<kind>.so as ip does, runs parse_opt() on argument
 * vectors and checks the attributes it appends (or the message it prints
 * and its failure), then runs print_opt() on attribute tables and checks
 * the plain text, the JSON, and that the plain text parses back to the
 * same attributes; print_xstats() gets IFLA_INFO_XSTATS nests as the
 * kernel fills them.  This program stands in for the ip helpers that
 * iproute2.h declares (it is linked with -rdynamic and the plugins are
 * loaded with RTLD_NOW, so a plugin needing anything else fails to load);
 * its JSON writer keeps the comma state as ip's does, without pretty
 * printing.  test_ip.sh runs the plugins inside the real ip.
 *
 * Usage: test_plugin DIR (the directory holding the .so files)
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/ipt.h>

#include "iproute2.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char * const kinds[] = { "ipt_ipip", "ipt_6in4", "ipt_4in6" };
static struct link_util *utils[ARRAY_SIZE(kinds)];
static int passed, failed;

struct json_writer {
	FILE *out;
	int depth;
	bool sep[8];		/* a member was written at this depth */
};

static struct json_writer writer;
static bool json_mode;

bool is_json_context(void)
{
	return json_mode;
}

struct json_writer *get_json_writer(void)
{
	return json_mode ? &writer : NULL;
}

void jsonw_name(struct json_writer *w, const char *name)
{
	if (w->sep[w->depth])
		fputc(',', w->out);
	w->sep[w->depth] = true;
	fprintf(w->out, "\"%s\":", name);
}

void jsonw_start_object(struct json_writer *w)
{
	fputc('{', w->out);
	w->sep[++w->depth] = false;
}

void jsonw_end_object(struct json_writer *w)
{
	fputc('}', w->out);
	w->depth--;
}

void jsonw_string_field(struct json_writer *w, const char *prop, const char *val)
{
	jsonw_name(w, prop);
	fprintf(w->out, "\"%s\"", val);
}

void jsonw_uint_field(struct json_writer *w, const char *prop, unsigned int num)
{
	jsonw_name(w, prop);
	fprintf(w->out, "%u", num);
}

void jsonw_u64_field(struct json_writer *w, const char *prop, __u64 num)
{
	jsonw_name(w, prop);
	fprintf(w->out, "%llu", (unsigned long long)num);
}

void jsonw_bool_field(struct json_writer *w, const char *prop, bool value)
{
	jsonw_name(w, prop);
	fputs(value ? "true" : "false", w->out);
}

void jsonw_null_field(struct json_writer *w, const char *prop)
{
	jsonw_name(w, prop);
	fputs("null", w->out);
}

static void result(bool ok, const char *what, const char *kind,
		   const char *args, const char *got, const char *want)
{
	if (ok) {
		passed++;
		printf("ok %d - %s %s %s\n", passed + failed, what, kind, args);
		return;
	}
	failed++;
	printf("not ok %d - %s %s %s\n#   got:  %s\n#   want: %s\n",
	       passed + failed, what, kind, args, got, want);
}

static struct link_util *util(const char *kind)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(kind, kinds[i]))
			return utils[i];
	abort();
}

struct req {
	struct nlmsghdr n;
	struct ifinfomsg i;
	char buf[1024];
};

#define REQ_HDR_LEN NLMSG_LENGTH(sizeof(struct ifinfomsg))

/* Size of each attribute in the UAPI, and its name in expectations. */
static const struct {
	const char *name;
	int size;		/* 0: an address */
} attrs[] = {
	[IFLA_IPT_LINK] = { "LINK", 4 },
	[IFLA_IPT_LOCAL] = { "LOCAL", 0 },
	[IFLA_IPT_REMOTE] = { "REMOTE", 0 },
	[IFLA_IPT_TTL] = { "TTL", 1 },
	[IFLA_IPT_DSCP] = { "DSCP", 1 },
	[IFLA_IPT_DF] = { "DF", 1 },
	[IFLA_IPT_CLAMP_MSS] = { "CLAMP", 1 },
	[IFLA_IPT_KEEPALIVE_INTERVAL] = { "KA_INTERVAL", 4 },
	[IFLA_IPT_KEEPALIVE_RETRIES] = { "KA_RETRIES", 4 },
	[IFLA_IPT_ENCAP_LIMIT] = { "ENCAP_LIMIT", 2 },
	[IFLA_IPT_FLOWLABEL] = { "FLOWLABEL", 4 },
	[IFLA_IPT_FAST_PATH] = { "FAST_PATH", 1 },
};

/* The attributes after the request header, in order; NULL at the end. */
static struct rtattr *next_attr(struct req *req, struct rtattr *rta)
{
	char *end = (char *)&req->n + req->n.nlmsg_len;
	char *p = rta ? (char *)rta + RTA_ALIGN(rta->rta_len) :
			(char *)&req->n + REQ_HDR_LEN;

	return p < end ? (struct rtattr *)p : NULL;
}

/* "NAME=value ..." for the attributes after the request header. */
static void decode(struct req *req, char *out, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	struct rtattr *rta;
	unsigned int pl;
	int n = 0;
	__u32 v;

	*out = '\0';
	for (rta = next_attr(req, NULL); rta; rta = next_attr(req, rta)) {
		pl = RTA_PAYLOAD(rta);
		if (rta->rta_type > IFLA_IPT_MAX) {
			n += snprintf(out + n, len - n, "%s?%u", n ? " " : "",
				      rta->rta_type);
			continue;
		}
		n += snprintf(out + n, len - n, "%s%s=", n ? " " : "",
			      attrs[rta->rta_type].name);
		if (!attrs[rta->rta_type].size && (pl == 4 || pl == 16)) {
			inet_ntop(pl == 4 ? AF_INET : AF_INET6, RTA_DATA(rta),
				  addr, sizeof(addr));
			n += snprintf(out + n, len - n, "%s", addr);
		} else if (pl == (unsigned int)attrs[rta->rta_type].size) {
			v = 0;
			memcpy(&v, RTA_DATA(rta), pl);
			n += snprintf(out + n, len - n, "%u", v);
		} else {
			n += snprintf(out + n, len - n, "badlen%u", pl);
		}
	}
}

static int split(char *s, char **argv)
{
	int argc = 0;
	char *tok;

	for (tok = strtok(s, " "); tok; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	return argc;
}

/* parse_opt() on ARGS; its stderr goes to ERR. */
static int parse(const char *kind, __u16 flags, const char *args,
		 struct req *req, char *err, size_t errlen)
{
	struct link_util *lu = util(kind);
	char *argv[64], *copy = strdup(args);
	int argc = split(copy, argv);
	FILE *errf = tmpfile();
	int saved, rc;
	size_t n;

	memset(req, 0, sizeof(*req));
	req->n.nlmsg_len = REQ_HDR_LEN;
	req->n.nlmsg_type = RTM_NEWLINK;
	req->n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;

	fflush(stderr);
	saved = dup(2);
	dup2(fileno(errf), 2);
	rc = lu->parse_opt(lu, argc, argv, &req->n);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	rewind(errf);
	n = fread(err, 1, errlen - 1, errf);
	err[n] = '\0';
	if (n && err[n - 1] == '\n')
		err[n - 1] = '\0';
	fclose(errf);
	free(copy);
	return rc;
}

#define ADD (NLM_F_CREATE | NLM_F_EXCL)

struct parse_case {
	const char *kind;
	__u16 flags;
	const char *args;
	bool refused;
	const char *expect;	/* what is sent, or how stderr starts */
};

#define SENDS(kind, flags, args, attrs) { kind, flags, args, false, attrs }
#define REFUSES(kind, flags, args, err) { kind, flags, args, true, err }

static const struct parse_case parse_cases[] = {
	/* what each option sends */
	SENDS("ipt_ipip", ADD, "remote 203.0.113.2", "REMOTE=203.0.113.2"),
	SENDS("ipt_ipip", ADD, "remote-address 203.0.113.2 local-address 198.51.100.1",
	      "REMOTE=203.0.113.2 LOCAL=198.51.100.1"),
	SENDS("ipt_ipip", ADD, "local any remote 203.0.113.2",
	      "LOCAL=0.0.0.0 REMOTE=203.0.113.2"),
	SENDS("ipt_ipip", ADD, "remote 203.0.113.2 local 0.0.0.0",
	      "REMOTE=203.0.113.2 LOCAL=0.0.0.0"),
	SENDS("ipt_ipip", 0, "dev lo", "LINK=1"),
	SENDS("ipt_ipip", 0, "ttl 1", "TTL=1"),
	SENDS("ipt_ipip", 0, "ttl 255", "TTL=255"),
	SENDS("ipt_ipip", 0, "ttl inherit", "TTL=0"),
	SENDS("ipt_ipip", 0, "dscp 0", "DSCP=0"),
	SENDS("ipt_ipip", 0, "dscp 63", "DSCP=63"),
	SENDS("ipt_ipip", 0, "dscp inherit", "DSCP=255"),
	SENDS("ipt_ipip", 0, "dont-fragment inherit", "DF=0"),
	SENDS("ipt_ipip", 0, "dont-fragment no", "DF=1"),
	SENDS("ipt_ipip", 0, "dont-fragment yes", "DF=2"),
	SENDS("ipt_ipip", 0, "clamp-tcp-mss yes", "CLAMP=1"),
	SENDS("ipt_ipip", 0, "clamp-tcp-mss no", "CLAMP=0"),
	SENDS("ipt_ipip", 0, "fast-path no", "FAST_PATH=0"),
	SENDS("ipt_6in4", 0, "fast-path yes", "FAST_PATH=1"),
	SENDS("ipt_4in6", 0, "allow-fast-path no", "FAST_PATH=0"),
	SENDS("ipt_ipip", 0, "keepalive 10", "KA_INTERVAL=10 KA_RETRIES=10"),
	SENDS("ipt_ipip", 0, "keepalive 10,3", "KA_INTERVAL=10 KA_RETRIES=3"),
	SENDS("ipt_ipip", 0, "keepalive 10s,3", "KA_INTERVAL=10 KA_RETRIES=3"),
	SENDS("ipt_ipip", 0, "keepalive 10s", "KA_INTERVAL=10 KA_RETRIES=10"),
	SENDS("ipt_ipip", 0, "keepalive 4294967295,4294967295",
	      "KA_INTERVAL=4294967295 KA_RETRIES=4294967295"),
	SENDS("ipt_ipip", 0, "keepalive off", "KA_INTERVAL=0"),
	SENDS("ipt_ipip", 0, "", ""),
	SENDS("ipt_6in4", ADD, "", ""),
	SENDS("ipt_6in4", ADD, "ttl 9", "TTL=9"),
	SENDS("ipt_6in4", ADD, "remote any", "REMOTE=0.0.0.0"),
	SENDS("ipt_6in4", ADD, "remote 192.0.2.1 local 192.0.2.2 dont-fragment yes",
	      "REMOTE=192.0.2.1 LOCAL=192.0.2.2 DF=2"),
	SENDS("ipt_4in6", ADD, "remote 2001:db8::2 local 2001:db8::1",
	      "REMOTE=2001:db8::2 LOCAL=2001:db8::1"),
	SENDS("ipt_4in6", 0, "local any", "LOCAL=::"),
	SENDS("ipt_4in6", 0, "hoplimit 9", "TTL=9"),
	SENDS("ipt_4in6", 0, "ttl inherit", "TTL=0"),
	SENDS("ipt_4in6", 0, "dont-fragment inherit", "DF=0"),
	SENDS("ipt_4in6", 0, "encaplimit 0", "ENCAP_LIMIT=0"),
	SENDS("ipt_4in6", 0, "encaplimit 255", "ENCAP_LIMIT=255"),
	SENDS("ipt_4in6", 0, "encaplimit none", "ENCAP_LIMIT=65535"),
	SENDS("ipt_4in6", 0, "flowlabel 0", "FLOWLABEL=0"),
	SENDS("ipt_4in6", 0, "flowlabel 0xfffff", "FLOWLABEL=1048575"),
	SENDS("ipt_4in6", 0, "flowlabel 1048575", "FLOWLABEL=1048575"),
	SENDS("ipt_4in6", 0, "flowlabel auto", "FLOWLABEL=4294967295"),
	SENDS("ipt_4in6", 0,
	      "dscp 46 dev lo clamp-tcp-mss no keepalive 5,2 dont-fragment yes",
		"DSCP=46 LINK=1 CLAMP=0 KA_INTERVAL=5 KA_RETRIES=2 DF=2"),

	/* what is refused, and how it is said */
	REFUSES("ipt_ipip", 0, "ttl 0",
		"ipt_ipip: invalid ttl \"0\", expected 1-255 or inherit"),
	REFUSES("ipt_ipip", 0, "ttl 256", "ipt_ipip: invalid ttl \"256\""),
	REFUSES("ipt_ipip", 0, "ttl abc", "ipt_ipip: invalid ttl \"abc\""),
	REFUSES("ipt_ipip", 0, "ttl -1", "ipt_ipip: invalid ttl \"-1\""),
	REFUSES("ipt_ipip", 0, "ttl 6x", "ipt_ipip: invalid ttl \"6x\""),
	REFUSES("ipt_ipip", 0, "ttl 0x10", "ipt_ipip: invalid ttl \"0x10\""),
	REFUSES("ipt_ipip", 0, "ttl 99999999999999999999",
		"ipt_ipip: invalid ttl"),
	REFUSES("ipt_ipip", 0, "dscp 64",
		"ipt_ipip: invalid dscp \"64\", expected 0-63 or inherit"),
	REFUSES("ipt_ipip", 0, "dont-fragment maybe",
		"ipt_ipip: invalid dont-fragment \"maybe\", expected inherit, yes or no"),
	REFUSES("ipt_ipip", 0, "clamp-tcp-mss 1",
		"ipt_ipip: invalid clamp-tcp-mss \"1\", expected yes or no"),
	REFUSES("ipt_4in6", 0, "fast-path on",
		"ipt_4in6: invalid fast-path \"on\", expected yes or no"),
	REFUSES("ipt_ipip", 0, "keepalive 0",
		"ipt_ipip: invalid keepalive \"0\", expected SECONDS[,RETRIES] (both at least 1) or off"),
	REFUSES("ipt_ipip", 0, "keepalive -1", "ipt_ipip: invalid keepalive"),
	REFUSES("ipt_ipip", 0, "keepalive 10x", "ipt_ipip: invalid keepalive"),
	REFUSES("ipt_ipip", 0, "keepalive 10ss", "ipt_ipip: invalid keepalive"),
	REFUSES("ipt_ipip", 0, "keepalive 10,", "ipt_ipip: invalid keepalive"),
	REFUSES("ipt_ipip", 0, "keepalive 10,0", "ipt_ipip: invalid keepalive"),
	REFUSES("ipt_ipip", 0, "keepalive 10,3s", "ipt_ipip: invalid keepalive"),
	REFUSES("ipt_ipip", 0, "keepalive ,3", "ipt_ipip: invalid keepalive"),
	REFUSES("ipt_ipip", 0, "keepalive off,3", "ipt_ipip: invalid keepalive"),
	REFUSES("ipt_ipip", 0, "keepalive 4294967296",
		"ipt_ipip: invalid keepalive"),
	REFUSES("ipt_ipip", 0, "remote 1.2.3",
		"ipt_ipip: invalid remote \"1.2.3\", expected the IPv4 address of the peer"),
	REFUSES("ipt_ipip", 0, "local host",
		"ipt_ipip: invalid local \"host\", expected an IPv4 address or any"),
	REFUSES("ipt_ipip", 0, "remote 2001:db8::1",
		"ipt_ipip: remote 2001:db8::1 is an IPv6 address, ipt_ipip takes the IPv4 address of the peer"),
	REFUSES("ipt_6in4", 0, "local 2001:db8::1",
		"ipt_6in4: local 2001:db8::1 is an IPv6 address, ipt_6in4 takes an IPv4 address or any"),
	REFUSES("ipt_4in6", 0, "remote 192.0.2.1",
		"ipt_4in6: remote 192.0.2.1 is an IPv4 address, ipt_4in6 takes the IPv6 address of the peer"),
	REFUSES("ipt_ipip", 0, "remote any",
		"ipt_ipip: remote must be the IPv4 address of the peer; only ipt_6in4 takes any (automatic 6to4)"),
	REFUSES("ipt_ipip", 0, "remote 0.0.0.0",
		"ipt_ipip: remote must be the IPv4 address"),
	REFUSES("ipt_4in6", 0, "remote ::",
		"ipt_4in6: remote must be the IPv6 address"),
	REFUSES("ipt_ipip", ADD, "ttl 9",
		"ipt_ipip: remote is required: the IPv4 address of the peer"),
	REFUSES("ipt_4in6", ADD, "local 2001:db8::1",
		"ipt_4in6: remote is required: the IPv6 address of the peer"),
	REFUSES("ipt_ipip", 0, "hoplimit 9",
		"ipt_ipip: unknown option \"hoplimit\", try \"ip link help ipt_ipip\""),
	REFUSES("ipt_6in4", 0, "encaplimit 4",
		"ipt_6in4: unknown option \"encaplimit\""),
	REFUSES("ipt_ipip", 0, "flowlabel 1",
		"ipt_ipip: unknown option \"flowlabel\""),
	REFUSES("ipt_ipip", 0, "tos 4", "ipt_ipip: unknown option \"tos\""),
	REFUSES("ipt_ipip", 0, "df yes", "ipt_ipip: unknown option \"df\""),
	REFUSES("ipt_4in6", 0, "encaplimit 256",
		"ipt_4in6: invalid encaplimit \"256\", expected 0-255 or none"),
	REFUSES("ipt_4in6", 0, "flowlabel 0x100000",
		"ipt_4in6: invalid flowlabel \"0x100000\", expected 0-0xfffff or auto"),
	REFUSES("ipt_ipip", 0, "ttl",
		"ipt_ipip: ttl needs a value: 1-255 or inherit"),
	REFUSES("ipt_ipip", 0, "ttl 9 ttl", "ipt_ipip: ttl needs a value"),
	REFUSES("ipt_ipip", 0, "remote",
		"ipt_ipip: remote needs a value: the IPv4 address of the peer"),
	REFUSES("ipt_ipip", 0, "dscp 1 dscp 2", "ipt_ipip: dscp given twice"),
	REFUSES("ipt_ipip", 0, "remote 192.0.2.1 remote-address 192.0.2.2",
		"ipt_ipip: remote and remote-address set the same option"),
	REFUSES("ipt_4in6", 0, "hoplimit 9 ttl 9",
		"ipt_4in6: hoplimit and ttl set the same option"),
	REFUSES("ipt_ipip", 0, "keepalive 5 keepalive off",
		"ipt_ipip: keepalive given twice"),
	REFUSES("ipt_ipip", 0, "dev ipt-no-such-dev",
		"ipt_ipip: dev \"ipt-no-such-dev\": no such device"),
	REFUSES("ipt_ipip", ADD, "help",
		"Usage: ip link { add | set } NAME type ipt_ipip\n"),
	REFUSES("ipt_4in6", 0, "remote 2001:db8::2 help",
		"Usage: ip link { add | set } NAME type ipt_4in6\n"),
};

static void test_parse(void)
{
	char got[1024], err[4096];
	unsigned int i;
	struct req req;

	for (i = 0; i < ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		int rc = parse(c->kind, c->flags, c->args, &req, err,
			       sizeof(err));

		decode(&req, got, sizeof(got));
		if (c->refused)
			result(rc == -1 &&
			       !strncmp(err, c->expect, strlen(c->expect)),
			       "refuse", c->kind, c->args, rc ? err : got,
			       c->expect);
		else
			result(!rc && !*err && !strcmp(got, c->expect),
			       c->flags ? "parse add" : "parse set", c->kind,
			       c->args, rc ? err : got, c->expect);
	}
}

/* Run print_opt() on the attributes of REQ, in plain text or JSON. */
static void print(const char *kind, struct req *req, bool no_data,
		  bool json, char **out)
{
	struct link_util *lu = util(kind);
	struct rtattr *tb[IFLA_IPT_MAX + 1] = { NULL };
	char *plain, *js;
	struct rtattr *rta;
	size_t len;
	FILE *f;

	for (rta = next_attr(req, NULL); rta; rta = next_attr(req, rta))
		if (rta->rta_type <= IFLA_IPT_MAX)
			tb[rta->rta_type] = rta;

	f = open_memstream(&plain, &len);
	writer = (struct json_writer){ .out = open_memstream(&js, &len) };
	json_mode = json;
	if (json)
		jsonw_start_object(&writer);
	lu->print_opt(lu, f, no_data ? NULL : tb);
	if (json)
		jsonw_end_object(&writer);
	json_mode = false;
	fclose(writer.out);
	fclose(f);

	/* Each mode must write to its own stream only. */
	if (json) {
		*out = js;
		if (*plain)
			*out = strdup("(plain text in JSON mode)");
	} else {
		*out = plain;
		if (*js)
			*out = strdup("(JSON in plain mode)");
	}
	free(json ? plain : js);
}

struct print_case {
	const char *kind;
	const char *args;	/* parsed to make the attributes */
	const char *plain;
	const char *json;
};

static const struct print_case print_cases[] = {
	{ "ipt_ipip",
	  "keepalive off clamp-tcp-mss yes dont-fragment inherit dscp inherit ttl 64 dev lo local 198.51.100.1 remote 203.0.113.2",
	  "remote 203.0.113.2 local 198.51.100.1 dev lo ttl 64 dscp inherit dont-fragment inherit clamp-tcp-mss yes keepalive off ",
	  "{\"remote\":\"203.0.113.2\",\"local\":\"198.51.100.1\",\"link\":\"lo\",\"ttl\":64,\"dscp\":\"inherit\",\"dont_fragment\":\"inherit\",\"clamp_tcp_mss\":true,\"keepalive\":null}" },
	{ "ipt_ipip",
	  "remote 192.0.2.1 local any ttl inherit dscp 46 dont-fragment no clamp-tcp-mss no keepalive 10,3",
	  "remote 192.0.2.1 local any ttl inherit dscp 46 dont-fragment no clamp-tcp-mss no keepalive 10,3 ",
	  "{\"remote\":\"192.0.2.1\",\"local\":\"any\",\"ttl\":\"inherit\",\"dscp\":46,\"dont_fragment\":\"no\",\"clamp_tcp_mss\":false,\"keepalive\":{\"interval\":10,\"retries\":3}}" },
	{ "ipt_6in4", "local 198.51.100.1 ttl 255 dont-fragment yes keepalive 7s",
	  "remote any local 198.51.100.1 ttl 255 dont-fragment yes keepalive 7,10 ",
	  "{\"remote\":\"any\",\"local\":\"198.51.100.1\",\"ttl\":255,\"dont_fragment\":\"yes\",\"keepalive\":{\"interval\":7,\"retries\":10}}" },
	{ "ipt_6in4", "remote any", "remote any ", "{\"remote\":\"any\"}" },
	{ "ipt_6in4", "remote any fast-path no", "remote any fast-path no ",
	  "{\"remote\":\"any\",\"fast_path\":false}" },
	{ "ipt_ipip", "clamp-tcp-mss no keepalive 5 fast-path yes",
	  "clamp-tcp-mss no keepalive 5,10 fast-path yes ",
	  "{\"clamp_tcp_mss\":false,\"keepalive\":{\"interval\":5,\"retries\":10},\"fast_path\":true}" },
	{ "ipt_6in4", "remote 192.0.2.9", "remote 192.0.2.9 ",
	  "{\"remote\":\"192.0.2.9\"}" },
	{ "ipt_6in4", "", "remote any ", "{\"remote\":\"any\"}" },
	{ "ipt_ipip", "", "", "{}" },
	{ "ipt_4in6",
	  "remote 2001:db8::2 local 2001:db8::1 hoplimit 9 dscp 0 dont-fragment no encaplimit 4 flowlabel 0x12345 clamp-tcp-mss yes keepalive 30s",
	  "remote 2001:db8::2 local 2001:db8::1 hoplimit 9 dscp 0 dont-fragment no encaplimit 4 flowlabel 0x12345 clamp-tcp-mss yes keepalive 30,10 ",
	  "{\"remote\":\"2001:db8::2\",\"local\":\"2001:db8::1\",\"ttl\":9,\"dscp\":0,\"dont_fragment\":\"no\",\"encap_limit\":4,\"flowlabel\":74565,\"clamp_tcp_mss\":true,\"keepalive\":{\"interval\":30,\"retries\":10}}" },
	{ "ipt_4in6",
	  "remote 2001:db8::2 local any ttl inherit dont-fragment inherit encaplimit none flowlabel auto",
	  "remote 2001:db8::2 local any hoplimit inherit dont-fragment inherit encaplimit none flowlabel auto ",
	  "{\"remote\":\"2001:db8::2\",\"local\":\"any\",\"ttl\":\"inherit\",\"dont_fragment\":\"inherit\",\"encap_limit\":\"none\",\"flowlabel\":\"auto\"}" },
	{ "ipt_4in6", "encaplimit 0 flowlabel 0", "encaplimit 0 flowlabel 0x00000 ",
	  "{\"encap_limit\":0,\"flowlabel\":0}" },
};

static void test_print(void)
{
	char err[4096], got[1024];
	unsigned int i;
	struct req req, req2;
	char *out, *plain;

	for (i = 0; i < ARRAY_SIZE(print_cases); i++) {
		const struct print_case *c = &print_cases[i];

		if (parse(c->kind, 0, c->args, &req, err, sizeof(err))) {
			result(false, "print", c->kind, c->args, err, "parsed");
			continue;
		}
		print(c->kind, &req, false, false, &plain);
		result(!strcmp(plain, c->plain), "print", c->kind, c->args,
		       plain, c->plain);
		print(c->kind, &req, false, true, &out);
		result(!strcmp(out, c->json), "print json", c->kind, c->args,
		       out, c->json);
		free(out);

		/* What is printed parses back to what was printed from. */
		decode(&req, got, sizeof(got));
		if (parse(c->kind, 0, plain, &req2, err, sizeof(err))) {
			result(false, "reparse", c->kind, plain, err, got);
		} else {
			print(c->kind, &req2, false, false, &out);
			result(!strcmp(out, plain), "reparse", c->kind, plain,
			       out, plain);
			free(out);
		}
		free(plain);
	}
}

static void add(struct req *req, int type, const void *data, int len)
{
	struct rtattr *rta = (struct rtattr *)((char *)&req->n +
					       NLMSG_ALIGN(req->n.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	req->n.nlmsg_len = NLMSG_ALIGN(req->n.nlmsg_len) + RTA_SPACE(len);
}

/* What a kernel may send that the parser never makes. */
static void test_print_kernel(void)
{
	__u32 interval = 5, ifindex = 0, big_ttl = 64, unknown = 0x7fffff00;
	__u8 df = 7, short_addr[3] = { 1, 2, 3 };
	struct req req = { .n.nlmsg_len = REQ_HDR_LEN };
	char *out;

	add(&req, IFLA_IPT_KEEPALIVE_INTERVAL, &interval, 4);
	add(&req, IFLA_IPT_DF, &df, 1);
	add(&req, IFLA_IPT_LINK, &ifindex, 4);
	add(&req, IFLA_IPT_TTL, &big_ttl, 4);
	add(&req, IFLA_IPT_LOCAL, short_addr, 3);
	print("ipt_ipip", &req, false, false, &out);
	result(!strcmp(out, "dont-fragment 7 keepalive 5 "), "print",
	       "ipt_ipip", "(odd attributes)", out,
	       "dont-fragment 7 keepalive 5 ");
	free(out);
	print("ipt_ipip", &req, false, true, &out);
	result(!strcmp(out, "{\"dont_fragment\":7,\"keepalive\":{\"interval\":5}}"),
	       "print json", "ipt_ipip", "(odd attributes)", out,
	       "{\"dont_fragment\":7,\"keepalive\":{\"interval\":5}}");
	free(out);

	req.n.nlmsg_len = REQ_HDR_LEN;
	add(&req, IFLA_IPT_LINK, &unknown, 4);
	print("ipt_4in6", &req, false, false, &out);
	result(!strcmp(out, "dev if2147483392 "), "print", "ipt_4in6",
	       "(unknown ifindex)", out, "dev if2147483392 ");
	free(out);

	print("ipt_6in4", &req, true, false, &out);
	result(!*out, "print", "ipt_6in4", "(no IFLA_INFO_DATA)", out, "");
	free(out);
	print("ipt_6in4", &req, true, true, &out);
	result(!strcmp(out, "{}"), "print json", "ipt_6in4",
	       "(no IFLA_INFO_DATA)", out, "{}");
	free(out);
}

/* A kernel's answer: interval 0 (off) still comes with the retries. */
static void test_print_keepalive(void)
{
	static const struct {
		__u32 interval, retries;
		const char *plain, *json;
	} cases[] = {
		{ 0, 10, "keepalive off ", "{\"keepalive\":null}" },
		{ 0, 3, "keepalive off ", "{\"keepalive\":null}" },
		{ 1, 3, "keepalive 1,3 ",
		  "{\"keepalive\":{\"interval\":1,\"retries\":3}}" },
		{ 3600, 255, "keepalive 3600,255 ",
		  "{\"keepalive\":{\"interval\":3600,\"retries\":255}}" },
	};
	unsigned int i;
	char what[64], *out;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct req req = { .n.nlmsg_len = REQ_HDR_LEN };

		add(&req, IFLA_IPT_KEEPALIVE_INTERVAL, &cases[i].interval, 4);
		add(&req, IFLA_IPT_KEEPALIVE_RETRIES, &cases[i].retries, 4);
		snprintf(what, sizeof(what), "(interval %u retries %u)",
			 cases[i].interval, cases[i].retries);
		print("ipt_ipip", &req, false, false, &out);
		result(!strcmp(out, cases[i].plain), "print", "ipt_ipip", what,
		       out, cases[i].plain);
		free(out);
		print("ipt_ipip", &req, false, true, &out);
		result(!strcmp(out, cases[i].json), "print json", "ipt_ipip",
		       what, out, cases[i].json);
		free(out);
	}
}

/* An IFLA_INFO_XSTATS nest, built as ipt_fill_xstats() does. */
struct xstats {
	__u64 buf[64];
	struct rtattr *nest;
};

static void xstats_init(struct xstats *x)
{
	memset(x->buf, 0, sizeof(x->buf));
	x->nest = (struct rtattr *)x->buf;
	x->nest->rta_type = IFLA_INFO_XSTATS | NLA_F_NESTED;
	x->nest->rta_len = RTA_LENGTH(0);
}

static void xstats_add(struct xstats *x, int type, const void *data, int len)
{
	char *end = (char *)x->nest + RTA_ALIGN(x->nest->rta_len);
	struct rtattr *rta = (struct rtattr *)end;

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	x->nest->rta_len = RTA_ALIGN(x->nest->rta_len) + RTA_SPACE(len);
}

static void xstats_add_u64(struct xstats *x, int type, __u64 v)
{
	xstats_add(x, type, &v, sizeof(v));
}

/* print_xstats() of KIND on X, in plain text or JSON (inside the object
 * that ip opens for it).
 */
static char *print_xstats(const char *kind, struct xstats *x, bool json)
{
	struct link_util *lu = util(kind);
	char *plain, *js;
	size_t len;
	FILE *f;

	f = open_memstream(&plain, &len);
	writer = (struct json_writer){ .out = open_memstream(&js, &len) };
	json_mode = json;
	if (json)
		jsonw_start_object(&writer);
	lu->print_xstats(lu, f, x->nest);
	if (json)
		jsonw_end_object(&writer);
	json_mode = false;
	fclose(writer.out);
	fclose(f);

	if (json ? *plain : *js) {
		free(plain);
		free(js);
		return strdup(json ? "(plain text in JSON mode)" :
				     "(JSON in plain mode)");
	}
	free(json ? plain : js);
	return json ? js : plain;
}

static void check_xstats(const char *kind, const char *what,
			 struct xstats *x, const char *plain, const char *json)
{
	char *out;

	out = print_xstats(kind, x, false);
	result(!strcmp(out, plain), "xstats", kind, what, out, plain);
	free(out);
	out = print_xstats(kind, x, true);
	result(!strcmp(out, json), "xstats json", kind, what, out, json);
	free(out);
}

static void test_xstats(void)
{
	static const char * const all_plain =
		"\n    tunnel: keepalive-tx keepalive-rx carrier-changes mss-clamped pmtu-updates"
		"\n                      12           10               2  4294967296            5"
		"\n    drops:  header ecn loop 6to4 too-big no-route"
		"\n                 1   2    3    4       6        7"
		"\n    netns:             no-tunnel"
		"\n            18446744073709551615"
		"\n    ";
	static const char * const all_json =
		"{\"keepalive_tx\":12,\"keepalive_rx\":10,\"carrier_changes\":2,"
		"\"mss_clamped\":4294967296,\"pmtu_updates\":5,\"drop_header\":1,"
		"\"drop_ecn\":2,\"drop_loop\":3,\"drop_6to4\":4,\"drop_too_big\":6,"
		"\"drop_no_route\":7,\"no_tunnel\":18446744073709551615}";
	static const char * const zero_plain =
		"\n    tunnel: keepalive-tx keepalive-rx carrier-changes mss-clamped pmtu-updates"
		"\n                       0            0               0           0            0"
		"\n    drops:  header ecn loop 6to4 too-big no-route"
		"\n                 0   0    0    0       0        0"
		"\n    netns:  no-tunnel"
		"\n                    0"
		"\n    ";
	static const char * const zero_json =
		"{\"keepalive_tx\":0,\"keepalive_rx\":0,\"carrier_changes\":0,"
		"\"mss_clamped\":0,\"pmtu_updates\":0,\"drop_header\":0,"
		"\"drop_ecn\":0,\"drop_loop\":0,\"drop_6to4\":0,\"drop_too_big\":0,"
		"\"drop_no_route\":0,\"no_tunnel\":0}";
	const __u64 all[] = {
		[IPT_XSTATS_KEEPALIVE_TX] = 12,
		[IPT_XSTATS_KEEPALIVE_RX] = 10,
		[IPT_XSTATS_CARRIER_CHANGES] = 2,
		[IPT_XSTATS_MSS_CLAMPED] = 1ULL << 32,
		[IPT_XSTATS_PMTU_UPDATES] = 5,
		[IPT_XSTATS_DROP_HEADER] = 1,
		[IPT_XSTATS_DROP_ECN] = 2,
		[IPT_XSTATS_DROP_LOOP] = 3,
		[IPT_XSTATS_DROP_6TO4] = 4,
		[IPT_XSTATS_DROP_TOO_BIG] = 6,
		[IPT_XSTATS_DROP_NO_ROUTE] = 7,
		[IPT_XSTATS_NO_TUNNEL] = ~0ULL,
	};
	__u32 short_val = 99;
	struct xstats x;
	unsigned int i;
	int t;

	/* every counter, as the kernel sends them, for each kind */
	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		xstats_init(&x);
		for (t = IPT_XSTATS_PAD + 1; t <= IPT_XSTATS_MAX; t++)
			xstats_add_u64(&x, t, all[t]);
		check_xstats(kinds[i], "(all counters)", &x, all_plain,
			     all_json);
	}

	xstats_init(&x);
	for (t = IPT_XSTATS_PAD + 1; t <= IPT_XSTATS_MAX; t++)
		xstats_add_u64(&x, t, 0);
	check_xstats("ipt_ipip", "(all zero)", &x, zero_plain, zero_json);

	/* nla_put_u64_64bit() pads with empty IPT_XSTATS_PAD attributes
	 * where the architecture needs it; a newer kernel may send counters
	 * we do not know, and a counter of the wrong size is not read.
	 */
	xstats_init(&x);
	xstats_add(&x, IPT_XSTATS_PAD, NULL, 0);
	xstats_add_u64(&x, IPT_XSTATS_KEEPALIVE_TX, 7);
	xstats_add(&x, IPT_XSTATS_PAD, NULL, 0);
	xstats_add_u64(&x, IPT_XSTATS_MAX + 1, 1234);
	xstats_add(&x, IPT_XSTATS_KEEPALIVE_RX, &short_val, 4);
	xstats_add_u64(&x, IPT_XSTATS_DROP_LOOP, 8);
	check_xstats("ipt_4in6", "(padding, unknown, short)", &x,
		     "\n    tunnel: keepalive-tx"
		     "\n                       7"
		     "\n    drops:  loop"
		     "\n               8"
		     "\n    ",
		     "{\"keepalive_tx\":7,\"drop_loop\":8}");

	xstats_init(&x);
	xstats_add_u64(&x, IPT_XSTATS_NO_TUNNEL, 3);
	check_xstats("ipt_6in4", "(no_tunnel only)", &x,
		     "\n    netns:  no-tunnel\n                    3\n    ",
		     "{\"no_tunnel\":3}");

	xstats_init(&x);
	check_xstats("ipt_6in4", "(empty)", &x, "", "{}");
	xstats_add_u64(&x, IPT_XSTATS_MAX + 1, 1);
	check_xstats("ipt_6in4", "(only unknown counters)", &x, "", "{}");
}

static void test_help(void)
{
	static const struct {
		const char *kind, *has, *lacks;
	} cases[] = {
		{ "ipt_ipip", "[ remote ADDR ]", "encaplimit" },
		{ "ipt_ipip", "[ ttl { 1-255 | inherit } ]", "hoplimit" },
		{ "ipt_6in4", "[ remote { ADDR | any } ]", "flowlabel" },
		{ "ipt_6in4", "automatic 6to4", "required" },
		{ "ipt_4in6", "[ hoplimit { 1-255 | inherit } ]", "6to4" },
		{ "ipt_4in6", "[ flowlabel { 0-0xfffff | auto } ]", "IPv4" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct link_util *lu = util(cases[i].kind);
		char head[128], *out;
		size_t len;
		FILE *f = open_memstream(&out, &len);

		lu->print_help(lu, 0, NULL, f);
		fclose(f);
		snprintf(head, sizeof(head),
			 "Usage: ip link { add | set } NAME type %s\n",
			 cases[i].kind);
		result(!strncmp(out, head, strlen(head)) &&
		       strstr(out, cases[i].has) &&
		       !strstr(out, cases[i].lacks),
		       "help", cases[i].kind, cases[i].has, out, head);
		free(out);
	}
}

/* Each .so holds the three link_util, as ip expects them. */
static int load(const char *dir)
{
	unsigned int i, j;
	char path[4096], sym[64];

	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		void *dl;

		snprintf(path, sizeof(path), "%s/link_%s.so", dir, kinds[i]);
		dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!dl) {
			printf("Bail out! %s\n", dlerror());
			return -1;
		}
		for (j = 0; j < ARRAY_SIZE(kinds); j++) {
			struct link_util *lu;

			snprintf(sym, sizeof(sym), "%s_link_util", kinds[j]);
			lu = dlsym(dl, sym);
			result(lu && !strcmp(lu->id, kinds[j]) &&
			       lu->maxattr == IFLA_IPT_MAX && lu->parse_opt &&
			       lu->print_opt && lu->print_help &&
			       lu->print_xstats && !lu->parse_ifla_xstats &&
			       !lu->print_ifla_xstats,
			       "link_util", path, sym, lu ? lu->id : "none",
			       kinds[j]);
			if (i == j)
				utils[i] = lu;
		}
		if (!utils[i])
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	if (load(argv[1]))
		return 1;
	test_parse();
	test_print();
	test_print_kernel();
	test_print_keepalive();
	test_xstats();
	test_help();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
