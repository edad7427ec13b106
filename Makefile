# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of ipt.ko plus the iproute2 plugins and the guest test
# harness.  KVER/KDIR follow the usual idiom; when the running kernel has no
# build tree (a container, or a host without module support) the newest
# installed /lib/modules/*/build is used instead, and we say so.

KVER ?= $(shell uname -r)
ifeq ($(origin KDIR),undefined)
  ifeq ($(wildcard /lib/modules/$(KVER)/build),)
    KVER := $(shell ls -1d /lib/modules/*/build 2>/dev/null | sort -V | tail -n 1 | cut -d/ -f4)
    ifneq ($(KVER),)
      $(info ipt: no build tree for the running kernel, using $(KVER))
    endif
  endif
  KDIR := /lib/modules/$(KVER)/build
endif
export KVER KDIR

all: module plugins

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

plugins:
	$(MAKE) -C iproute2

# W=1 and sparse, as the netdev CI runs them.
lint:
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 C=2 modules

# User-space tests, no guest: the MSS clamp's option walk (unit test and
# a bounded fuzz run) and the iproute2 plugins.  After plugins: both
# build in iproute2/.
unit: plugins
	$(MAKE) -C selftests/mss check
	$(MAKE) -C iproute2 check

.PHONY: unit

check: all unit
	selftests/vm/check.sh $(T)

# The guest suite on a debug kernel (KASAN, kmemleak, lockdep, UBSAN, ...)
# built from Debian's linux-source-6.1, cached outside the tree, with its
# own build of ipt.ko: see selftests/vm/debug-kernel.sh and the README.
check-debug: plugins
	selftests/vm/debug-kernel.sh $(T)

demo: all
	selftests/vm/run.sh --demo

# ipt against the in-tree tunnels in a deterministic guest (-icount)
perf: all
	selftests/vm/run.sh --perf perf

# The benchmark: ipt against the in-tree tunnel of each kind, case by case
# (TCP, TCP without offloads, UDP pps, latency, receive with 0/1000/10000
# extra tunnels, control plane, memory), interleaved in one deterministic
# guest; about 20 minutes on a quiet host.  IPT_BENCH_* knobs:
# selftests/bench/bench.sh.
# Results: bench/results.json (JSON lines) and bench/results.txt (table);
# see BENCHMARKS.md.
bench: all
	selftests/vm/run.sh --bench

# The receive case up to 100000 extra tunnels per side: 200000 devices at
# ~45 KB each want a bigger guest, and creating them takes a while.
bench-scale: all
	IPT_VM_MEM=$${IPT_VM_MEM:-12G} IPT_VM_TIMEOUT=$${IPT_VM_TIMEOUT:-14400} \
	IPT_BENCH_CASES="$${IPT_BENCH_CASES:-rx}" \
	IPT_BENCH_EXTRA="$${IPT_BENCH_EXTRA:-0 1000 10000 100000}" \
	IPT_BENCH_OUT="$${IPT_BENCH_OUT:-bench/results-scale.json}" \
	selftests/vm/run.sh --bench

# Installation: "make install" as root, or staged into DESTDIR for a
# package or an image.  KVER (see above) picks the kernel.
#   module    /lib/modules/$(KVER)/$(INSTALL_MOD_DIR)/ipt.ko through
#             kbuild's modules_install (it strips with INSTALL_MOD_STRIP=1,
#             signs and compresses as the kernel is configured to), then
#             depmod; DEPMOD=true skips depmod
#   plugins   $(IPLIBDIR)/link_ipt_{ipip,6in4,4in6}.so: ip's plugin folder
#             (Debian: /usr/lib/<multiarch>/ip, Fedora: /usr/lib64/ip)
#   man page  $(MANDIR)/man8/ip-link-ipt.8
# depmod only runs on a complete module tree: the live one, or one under
# DESTDIR (an image root, depmod -b).  A package's staging tree has none
# and gets no modules.dep: the package runs depmod when it is installed.
INSTALL_MOD_DIR ?= updates
IPT_MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
IPLIBDIR ?= /usr/lib$(if $(IPT_MULTIARCH),/$(IPT_MULTIARCH))/ip
MANDIR ?= /usr/share/man
DEPMOD ?= depmod
IPT_DESTDIR := $(if $(DESTDIR),$(abspath $(DESTDIR)))
IPT_MODDIR = $(IPT_DESTDIR)/lib/modules/$(KVER)
IPT_PLUGINS := link_ipt_ipip.so link_ipt_6in4.so link_ipt_4in6.so

# kbuild signs the modules it installs when the kernel signs all of its
# own, but a distribution's headers come without the key and signing
# fails noisily: then install ipt.ko unsigned.  (DKMS signs with its own
# key, to be enrolled as a MOK for Secure Boot.)
IPT_SIG_KEY = $(patsubst "%",%,$(shell grep -s '^CONFIG_MODULE_SIG_KEY=' $(KDIR)/.config | cut -d= -f2-))
IPT_SIG_KEY_FILE = $(if $(filter /%,$(IPT_SIG_KEY)),,$(KDIR)/)$(IPT_SIG_KEY)
IPT_NO_SIGN = $(if $(IPT_SIG_KEY),$(if $(filter pkcs11:%,$(IPT_SIG_KEY))$(wildcard $(IPT_SIG_KEY_FILE)),,CONFIG_MODULE_SIG_ALL=))

define ipt_depmod
	@PATH="$$PATH:/sbin:/usr/sbin"; \
	if [ -z "$(KVER)" ]; then \
		echo "ipt: no KVER, not running depmod"; \
	elif ! command -v "$(DEPMOD)" >/dev/null; then \
		echo "ipt: $(DEPMOD) not found, not running depmod"; \
	elif [ ! -e "$(IPT_MODDIR)/modules.builtin" ] && \
	     [ ! -e "$(IPT_MODDIR)/modules.order" ]; then \
		echo "ipt: $(IPT_MODDIR) is no complete module tree, not running depmod"; \
	else \
		echo "  DEPMOD  $(KVER)$(if $(IPT_DESTDIR), in $(IPT_DESTDIR))"; \
		"$(DEPMOD)" -a $(if $(IPT_DESTDIR),-b "$(IPT_DESTDIR)") "$(KVER)"; \
	fi
endef

install: install-module install-plugins install-man

install-module: module
	$(if $(IPT_NO_SIGN),@echo "ipt: no $(IPT_SIG_KEY_FILE): installing ipt.ko unsigned")
	$(MAKE) -C $(KDIR) M=$(CURDIR) KERNELRELEASE=$(KVER) \
		INSTALL_MOD_PATH=$(IPT_DESTDIR) INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) \
		DEPMOD=true $(IPT_NO_SIGN) modules_install
	$(ipt_depmod)

install-plugins:
	$(MAKE) -C iproute2 install DESTDIR=$(IPT_DESTDIR) IPLIBDIR=$(IPLIBDIR)

install-man:
	install -d $(IPT_DESTDIR)$(MANDIR)/man8
	install -m 0644 man/ip-link-ipt.8 $(IPT_DESTDIR)$(MANDIR)/man8/

# Also the compressed forms modules_install or a packager may have made,
# and the folders install made if they are left empty.
uninstall:
	rm -f $(foreach s,.ko .ko.gz .ko.xz .ko.zst,$(IPT_MODDIR)/$(INSTALL_MOD_DIR)/ipt$(s))
	$(ipt_depmod)
	rm -f $(addprefix $(IPT_DESTDIR)$(IPLIBDIR)/,$(IPT_PLUGINS))
	rm -f $(IPT_DESTDIR)$(MANDIR)/man8/ip-link-ipt.8 $(IPT_DESTDIR)$(MANDIR)/man8/ip-link-ipt.8.gz
	@rmdir $(IPT_MODDIR)/$(INSTALL_MOD_DIR) $(IPT_DESTDIR)$(IPLIBDIR) 2>/dev/null || true

.PHONY: install install-module install-plugins install-man uninstall

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C iproute2 clean

.PHONY: all module plugins lint check check-debug demo perf bench bench-scale clean
