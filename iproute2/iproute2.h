/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the ipt plugins take from the ip binary, pinned to iproute2 6.1.0
 * (Debian 12).
 *
 * ip dlopen()s $IP_LIB_DIR/link_<kind>.so, dlsym()s "<kind>_link_util"
 * and calls through it, so struct link_util must match ip/ip_common.h
 * byte for byte (72 bytes on x86_64: parse_opt at 24, print_opt at 32,
 * print_help at 48, as in Debian's /usr/bin/ip).
 *
 * ip is linked with -Wl,-export-dynamic and so exports its helpers.  The
 * plugins use only its JSON writer: print_opt() runs inside the
 * "info_data" object that ip opened with its own writer, and writing the
 * members through that writer keeps its comma and nesting state, pretty
 * printing (-p) and string escaping right.  Prototypes from
 * include/json_print.h and include/json_writer.h, whose json_writer_t is
 * struct json_writer.
 */
#ifndef IPT_IPROUTE2_H
#define IPT_IPROUTE2_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* ip/ip_common.h */
struct link_util {
	struct link_util *next;
	const char *id;
	int maxattr;
	int (*parse_opt)(struct link_util *lu, int argc, char **argv,
			 struct nlmsghdr *n);
	void (*print_opt)(struct link_util *lu, FILE *f, struct rtattr *tb[]);
	void (*print_xstats)(struct link_util *lu, FILE *f,
			     struct rtattr *xstats);
	void (*print_help)(struct link_util *lu, int argc, char **argv,
			   FILE *f);
	int (*parse_ifla_xstats)(struct link_util *lu, int argc, char **argv);
	int (*print_ifla_xstats)(struct nlmsghdr *n, void *arg);
};

struct json_writer;

/* include/json_print.h */
bool is_json_context(void);
struct json_writer *get_json_writer(void);

/* include/json_writer.h */
void jsonw_name(struct json_writer *self, const char *name);
void jsonw_start_object(struct json_writer *self);
void jsonw_end_object(struct json_writer *self);
void jsonw_string_field(struct json_writer *self, const char *prop,
			const char *val);
void jsonw_uint_field(struct json_writer *self, const char *prop,
		      unsigned int num);
void jsonw_u64_field(struct json_writer *self, const char *prop, __u64 num);
void jsonw_bool_field(struct json_writer *self, const char *prop, bool value);
void jsonw_null_field(struct json_writer *self, const char *prop);

#endif /* IPT_IPROUTE2_H */
