# Programs for the host tests.

# enbd-server and enbd-client-selftest whose record layer sends its own
# KeyUpdate after 32 records rather than 2^24 (lib/tls-record.c,
# TLS_RECORD_KEY_USES), so that server-tls-own-key-update and
# client-tls-own-key-update see several in a few MiB.  Never installed.
$(BUILD)/tests/host/tls-record-key-uses-32.o: lib/tls-record.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DTLS_RECORD_KEY_USES=32 -MMD -MP -c -o $@ $<

$(BUILD)/enbd-server-key-uses-32: $(SERVER_OBJS) $(LIB_OBJS) $(BUILD)/lib/tls.o \
		$(BUILD)/tests/host/tls-record-key-uses-32.o
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread $(TLS_LIBS)

$(BUILD)/enbd-client-selftest-key-uses-32: $(BUILD)/daemon/client/selftest.o $(CLIENT_OBJS) \
		$(LIB_OBJS) $(BUILD)/lib/tls.o $(BUILD)/tests/host/tls-record-key-uses-32.o
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread $(TLS_LIBS)

PROGRAMS += $(BUILD)/enbd-server-key-uses-32 $(BUILD)/enbd-client-selftest-key-uses-32

# A server that cuts its session tickets across records, for the client's
# hand-over (tls-handover-ticket-across-records.sh).  Never installed.
$(BUILD)/tls-ticket-across-records: $(BUILD)/tests/host/tls-ticket-across-records.o \
		$(LIB_OBJS) $(TLS_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread $(TLS_LIBS)

PROGRAMS += $(BUILD)/tls-ticket-across-records
