# enbd-client: the channel daemon (daemon/client/).
CLIENT_OBJS := $(BUILD)/daemon/client/channel.o $(BUILD)/daemon/client/xmit.o \
	$(BUILD)/daemon/client/xmit-kernel.o $(BUILD)/daemon/client/xmit-tx.o \
	$(BUILD)/daemon/client/xmit-rx.o $(BUILD)/daemon/client/xmit-keepalive.o \
	$(BUILD)/daemon/client/xmit-window.o \
	$(BUILD)/daemon/client/handshake.o $(BUILD)/daemon/client/kdev.o
CLIENT_OBJS += $(BUILD)/daemon/client/devconfig.o

$(BUILD)/enbd-client: $(BUILD)/daemon/client/main.o $(BUILD)/daemon/client/supervise.o \
		$(CLIENT_OBJS) $(LIB_OBJS) $(TLS_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread $(TLS_LIBS)

PROGRAMS += $(BUILD)/enbd-client

# The same channel against a simulated device: tests the NBD side without the module.
$(BUILD)/enbd-client-selftest: $(BUILD)/daemon/client/selftest.o $(CLIENT_OBJS) $(LIB_OBJS) \
		$(TLS_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread $(TLS_LIBS)

PROGRAMS += $(BUILD)/enbd-client-selftest

# libFuzzer target for the reply parsing (a hostile server): needs clang, so
# it is not part of 'all'.  tools/run-fuzz client-reply builds and runs it.  (FUZZ_CC and FUZZ_FLAGS: daemon/server/build.mk.)
CLIENT_FUZZ_REPLY_SRCS := daemon/client/xmit.c daemon/client/xmit-kernel.c \
	daemon/client/xmit-tx.c daemon/client/xmit-rx.c daemon/client/xmit-keepalive.c \
	daemon/client/xmit-window.c lib/nbd-proto.c lib/log.c lib/sock.c $(TLS_SRCS) \
	daemon/client/fuzz/fuzz-reply.c

.PHONY: client-fuzz-reply
client-fuzz-reply: $(BUILD)/enbd-client-fuzz-reply
$(BUILD)/enbd-client-fuzz-reply: $(CLIENT_FUZZ_REPLY_SRCS) $(wildcard daemon/client/*.h lib/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Ilib \
		-Idaemon/client -o $@ $(CLIENT_FUZZ_REPLY_SRCS) -lpthread $(TLS_LIBS)

# libFuzzer target for the handshake parsing (a hostile server): needs clang,
# so it is not part of 'all'; tools/run-fuzz client-handshake builds and
# runs it.  FUZZ_CC and FUZZ_FLAGS come from daemon/server/build.mk.
CLIENT_FUZZ_HANDSHAKE_SRCS := daemon/client/fuzz/fuzz-handshake.c daemon/client/handshake.c \
	lib/nbd-proto.c lib/log.c lib/sock.c $(TLS_SRCS)

.PHONY: client-fuzz-handshake
client-fuzz-handshake: $(BUILD)/enbd-client-fuzz-handshake
$(BUILD)/enbd-client-fuzz-handshake: $(CLIENT_FUZZ_HANDSHAKE_SRCS) $(wildcard daemon/client/*.h lib/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Ilib \
		-Idaemon/client -o $@ $(CLIENT_FUZZ_HANDSHAKE_SRCS) -lpthread $(TLS_LIBS)
