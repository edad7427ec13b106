// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD shim for test_ip.sh: runs the plugins inside the real ip
 * with no ipt module in the kernel.
 *
 * IPT_SHIM_SAVE=FILE	the IFLA_LINKINFO attribute of the RTM_NEWLINK
 *			request ip sends is written to FILE; the request
 *			still goes to the kernel.
 * IPT_SHIM_LINKINFO=FILE	FILE (an IFLA_LINKINFO attribute) is appended
 *			to every lone RTM_NEWLINK ip receives, the answer
 *			to "ip link show dev NAME", as if NAME were an ipt
 *			device of that kind.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/rtnetlink.h>

static void append(struct rtattr *nest, int type, const void *data, int len)
{
	struct rtattr *rta = (void *)((char *)nest + RTA_ALIGN(nest->rta_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nest->rta_len = RTA_ALIGN(nest->rta_len) + RTA_ALIGN(rta->rta_len);
}

/*
 * Write IFLA_LINKINFO as a kernel answers it: ip sends IFLA_INFO_KIND
 * without the NUL that the kernel's nla_put_string() adds.
 */
static void save_linkinfo(struct nlmsghdr *n, const char *path)
{
	struct rtattr *rta = IFLA_RTA(NLMSG_DATA(n)), *info;
	int len = IFLA_PAYLOAD(n), ilen;
	static char buf[8192], kind[64];
	struct rtattr *nest = (void *)buf;
	FILE *f;

	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == IFLA_LINKINFO)
			break;
	if (!RTA_OK(rta, len) || rta->rta_len + 64u > sizeof(buf))
		return;
	nest->rta_type = IFLA_LINKINFO;
	nest->rta_len = RTA_LENGTH(0);
	ilen = RTA_PAYLOAD(rta);
	for (info = RTA_DATA(rta); RTA_OK(info, ilen);
	     info = RTA_NEXT(info, ilen)) {
		if (info->rta_type == IFLA_INFO_KIND &&
		    RTA_PAYLOAD(info) < sizeof(kind)) {
			memset(kind, 0, sizeof(kind));
			memcpy(kind, RTA_DATA(info), RTA_PAYLOAD(info));
			append(nest, IFLA_INFO_KIND, kind, strlen(kind) + 1);
		} else {
			append(nest, info->rta_type, RTA_DATA(info),
			       RTA_PAYLOAD(info));
		}
	}
	f = fopen(path, "w");
	if (!f || fwrite(buf, 1, nest->rta_len, f) != nest->rta_len ||
	    fclose(f)) {
		perror(path);
		exit(99);
	}
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t (*real)(int fd, const struct msghdr *msg, int flags) =
		dlsym(RTLD_NEXT, "sendmsg");
	const char *path = getenv("IPT_SHIM_SAVE");
	struct nlmsghdr *n = msg->msg_iov[0].iov_base;

	if (path && msg->msg_iovlen == 1 &&
	    msg->msg_iov[0].iov_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg)) &&
	    n->nlmsg_len == msg->msg_iov[0].iov_len &&
	    n->nlmsg_type == RTM_NEWLINK)
		save_linkinfo(n, path);
	return real(fd, msg, flags);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t (*real)(int fd, struct msghdr *msg, int flags) =
		dlsym(RTLD_NEXT, "recvmsg");
	const char *path = getenv("IPT_SHIM_LINKINFO");
	ssize_t len = real(fd, msg, flags);
	struct nlmsghdr *n = msg->msg_iov[0].iov_base;
	size_t room, add;
	FILE *f;

	if (!path || len <= 0 || (flags & MSG_PEEK) || msg->msg_iovlen != 1 ||
	    n->nlmsg_len != (size_t)len || n->nlmsg_type != RTM_NEWLINK ||
	    (n->nlmsg_flags & NLM_F_MULTI))
		return len;
	f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(99);
	}
	room = msg->msg_iov[0].iov_len - NLMSG_ALIGN(len);
	add = fread((char *)n + NLMSG_ALIGN(len), 1, room, f);
	fclose(f);
	n->nlmsg_len = NLMSG_ALIGN(len) + add;
	return n->nlmsg_len;
}
