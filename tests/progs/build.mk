# Test programs run inside the VM.
PROGRAMS += $(BUILD)/ioctl-hostile

$(BUILD)/ioctl-hostile: $(BUILD)/tests/progs/ioctl-hostile.o
	$(CC) $(LDFLAGS) -o $@ $^
