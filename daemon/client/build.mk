# enbd-client: the channel daemon (daemon/client/).
CLIENT_OBJS := $(BUILD)/daemon/client/channel.o $(BUILD)/daemon/client/xmit.o \
	$(BUILD)/daemon/client/handshake.o $(BUILD)/daemon/client/kdev.o

$(BUILD)/enbd-client: $(BUILD)/daemon/client/main.o $(CLIENT_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

PROGRAMS += $(BUILD)/enbd-client
