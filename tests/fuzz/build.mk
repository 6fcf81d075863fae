# libFuzzer target for lib/tls-record.c's receiving side (what an
# authenticated TLS 1.3 peer sends after the handshake): needs clang, so it
# is not part of 'all'; tools/run-fuzz tls-record builds and runs it.
# FUZZ_CC and FUZZ_FLAGS come from daemon/server/build.mk.  A low
# TLS_RECORD_KEY_USES lets the harness see the sender's own KeyUpdates.
.PHONY: tls-record-fuzz
tls-record-fuzz: $(BUILD)/enbd-tls-record-fuzz
$(BUILD)/enbd-tls-record-fuzz: tests/fuzz/fuzz-tls-record.c lib/tls-record.c lib/tls-record.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Ilib \
		-DTLS_RECORD_KEY_USES=4 -o $@ tests/fuzz/fuzz-tls-record.c -lcrypto
