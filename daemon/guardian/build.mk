# enbd-guardian: starts and watches the channel daemons (daemon/guardian/README.md).
GUARDIAN_OBJS := $(addprefix $(BUILD)/daemon/guardian/, main.o config.o fields.o module.o server.o token.o children.o)

$(BUILD)/enbd-guardian: $(GUARDIAN_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

PROGRAMS += $(BUILD)/enbd-guardian
