# Test programs run inside the VM.
TESTLIB_OBJS := $(BUILD)/tests/progs/testlib.o
PROGRAMS += $(BUILD)/ioctl-hostile $(BUILD)/journal-policy $(BUILD)/journal-edges

$(BUILD)/ioctl-hostile: $(BUILD)/tests/progs/ioctl-hostile.o $(TESTLIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/journal-policy: $(BUILD)/tests/progs/journal-policy.o $(TESTLIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/journal-edges: $(BUILD)/tests/progs/journal-edges.o $(TESTLIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

PROGRAMS += $(BUILD)/read-only
$(BUILD)/read-only: $(BUILD)/tests/progs/read-only.o $(TESTLIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

PROGRAMS += $(BUILD)/ioctl-random
$(BUILD)/ioctl-random: $(BUILD)/tests/progs/ioctl-random.o $(TESTLIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

PROGRAMS += $(BUILD)/failover-detector
$(BUILD)/failover-detector: $(BUILD)/tests/progs/failover-detector.o $(TESTLIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^
