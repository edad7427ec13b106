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

check: all
	selftests/vm/run.sh $(T)

demo: all
	selftests/vm/run.sh --demo

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C iproute2 clean

.PHONY: all module plugins lint check demo clean
