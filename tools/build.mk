# nbd-load: NBD load on one connection through enbd-client's handshake and
# TLS record path, without the kernel module (tools/bench-tls -c enbd).
$(BUILD)/tools/nbd-load.o: CFLAGS += -Idaemon/client

$(BUILD)/nbd-load: $(BUILD)/tools/nbd-load.o $(BUILD)/daemon/client/handshake.o $(LIB_OBJS) \
		$(TLS_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread $(TLS_LIBS)

PROGRAMS += $(BUILD)/nbd-load
