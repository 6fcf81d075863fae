# enbd-client: the channel daemon (daemon/client/).
CLIENT_OBJS := $(BUILD)/daemon/client/channel.o $(BUILD)/daemon/client/xmit.o \
	$(BUILD)/daemon/client/xmit-kernel.o $(BUILD)/daemon/client/xmit-tx.o \
	$(BUILD)/daemon/client/xmit-rx.o $(BUILD)/daemon/client/xmit-keepalive.o \
	$(BUILD)/daemon/client/xmit-window.o \
	$(BUILD)/daemon/client/handshake.o $(BUILD)/daemon/client/kdev.o

$(BUILD)/enbd-client: $(BUILD)/daemon/client/main.o $(BUILD)/daemon/client/supervise.o \
		$(CLIENT_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

PROGRAMS += $(BUILD)/enbd-client

# The same channel against a simulated device: tests the NBD side without the module.
$(BUILD)/enbd-client-selftest: $(BUILD)/daemon/client/selftest.o $(CLIENT_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

PROGRAMS += $(BUILD)/enbd-client-selftest
