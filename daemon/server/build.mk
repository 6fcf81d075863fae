# enbd-server: the NBD server daemon (daemon/server/README.md).

SERVER_CORE_OBJS := $(addprefix $(BUILD)/daemon/server/, \
	backend.o backend-file.o backend-memory.o backend-raid.o \
	export.o acl.o conn.o handshake.o transmission.o buffer.o request.o reply.o command.o migrate.o)
SERVER_OBJS := $(SERVER_CORE_OBJS) $(addprefix $(BUILD)/daemon/server/, \
	main.o clients.o control.o mirror.o nbd-peer.o oneshot.o)

PROGRAMS += $(BUILD)/enbd-server

$(BUILD)/enbd-server: $(SERVER_OBJS) $(LIB_OBJS) $(TLS_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread $(TLS_LIBS)

# libFuzzer target for the handshake and request parsing: needs clang, so it
# is not part of 'all'.  tools/run-fuzz server builds and runs it.
FUZZ_CC ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
SERVER_FUZZ_SRCS := $(patsubst $(BUILD)/%.o,%.c,$(SERVER_CORE_OBJS)) \
	lib/nbd-proto.c lib/log.c lib/sock.c $(TLS_SRCS) daemon/server/fuzz/fuzz-server.c

.PHONY: server-fuzz
server-fuzz: $(BUILD)/enbd-server-fuzz
$(BUILD)/enbd-server-fuzz: $(SERVER_FUZZ_SRCS) $(wildcard daemon/server/*.h lib/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Ilib \
		-Idaemon/server -o $@ $(SERVER_FUZZ_SRCS) -lpthread $(TLS_LIBS)
