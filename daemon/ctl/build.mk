# enbdctl: status, tuning and eject of enbd devices (daemon/ctl/, enbdctl(8)).
CTL_OBJS := $(addprefix $(BUILD)/daemon/ctl/, main.o status.o tune.o nbdinfo.o holders.o)

$(BUILD)/enbdctl: $(CTL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

PROGRAMS += $(BUILD)/enbdctl
