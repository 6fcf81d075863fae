# enbd: top-level build.
#   make            module + daemons + test programs
#   make check      the whole test suite (host tests, again under ASan+UBSan,
#                   then the VM suite)
#   make demo       boot a VM and tell enbd's story (tests/vm/demo.sh)
#   make demo-quick boot a VM where /dev/nd0 is served and used
#   make install    daemons, man pages, units, module source for DKMS
#                   (DESTDIR, PREFIX); make uninstall; make deb (packages)
#   make check-debug [TESTS="a b"]  the VM suite (or those tests) on a debug
#                   kernel (lockdep, KASAN, kmemleak; tools/build-debug-kernel,
#                   cached in /var/cache/enbd); too slow for check and CI
#   make bench      /dev/nd0 against the kernel's nbd in a VM (build/bench/)
#   make bench-failover  stalls under faults with the default settings (build/bench-failover/)
#   make SAN=1 ...  userspace built with -fsanitize=address,undefined
# Each part adds its own rules in a build.mk next to its sources.

KVER ?= $(shell tools/kernel-version 2>/dev/null)
KDIR ?= /lib/modules/$(KVER)/build

ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
else
BUILD ?= build
SANFLAGS :=
endif

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Ilib $(SANFLAGS)
LDFLAGS += $(SANFLAGS)

LIB_OBJS := $(BUILD)/lib/nbd-proto.o $(BUILD)/lib/log.o $(BUILD)/lib/sock.o $(BUILD)/lib/sig.o
# lib/tls.c, for the programs that speak TLS: link these too
TLS_OBJS := $(BUILD)/lib/tls.o $(BUILD)/lib/tls-record.o
# the same as sources, for the fuzz targets that compile everything at once
TLS_SRCS := lib/tls.c lib/tls-record.c
TLS_LIBS := -lssl -lcrypto
PROGRAMS :=

.PHONY: all module userspace check check-host check-vm check-debug demo clean deps
all: module userspace

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

include $(wildcard daemon/*/build.mk tests/*/build.mk tools/build.mk)

userspace: $(PROGRAMS)

deps:
	@tools/install-deps

module:
	@test -n "$(KVER)" || { echo "no kernel headers: run tools/install-deps" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

check: deps
	$(MAKE) all
	$(MAKE) SAN=1 userspace
	tests/run-suite

check-debug: deps
	$(MAKE) all
	tests/vm/run-debug $(TESTS)

demo: deps
	$(MAKE) all
	tests/vm/demo

# One channel from nbdkit with ext4 on /dev/nd0: the story in short.
.PHONY: demo-quick
demo-quick: deps
	$(MAKE) all
	tests/vm/demo quick

# make install / uninstall / deb
include dist/build.mk

# A benchmark, not a test (README.md, Performance): make bench [QUICK=1] [ROUNDS=N]
# [PROFILE=1] [PROFILE_WORKLOAD=NAME]
.PHONY: bench
bench: deps
	$(MAKE) all
	tools/bench-vm $(if $(filter 1,$(QUICK)),--quick) $(if $(ROUNDS),--rounds $(ROUNDS)) \
		$(if $(RUNTIME),--runtime $(RUNTIME)) $(if $(filter 1,$(PROFILE)),--profile) \
		$(if $(PROFILE_WORKLOAD),--profile-workload $(PROFILE_WORKLOAD))

# How long the application stalls under each fault, with the module's defaults
# (README.md, Failover): make bench-failover [ROUNDS=N] [FAULTS="link-dead kill9"]
.PHONY: bench-failover
bench-failover: deps
	$(MAKE) all
	tools/bench-failover $(if $(ROUNDS),--rounds $(ROUNDS)) $(if $(FAULTS),--faults "$(FAULTS)")

clean:
	rm -rf build build-san
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || true

-include $(shell find $(BUILD) -type f -name '*.d' 2>/dev/null)
