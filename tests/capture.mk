# tests/capture.mk: httpcap's tests (issue 3).
#
#   make test-capture-unit   cmocka tests of capture/redact.c, capture/print.c and
#                            the pcap/pcapng export, plain and under ASan+UBSan
#   make test-capture-e2e    end-to-end captures of real servers and clients on
#                            loopback (root; prints SKIP otherwise).
#                            CASES="nginx filters" runs only those cases.
#   make test-capture-doc    docs/httpcap.8 matches `httpcap --help`
#   make test-cli            httpcap, httpanalyze, httpreplay: the long options of
#                            --help, the man pages and README.md agree; -V/-h;
#                            bad values refused with their name (no root)
#   make test-capture-fuzz   libFuzzer over the redactor and printer, FUZZ_SECONDS
#
# Everything is built under $(BUILD)/tests/capture.

CAPTEST_DIR := $(BUILD)/tests/capture

# ---- unit tests ----------------------------------------------------------

CAPTEST_REDACT_SRCS := tests/capture/test_redact.c capture/redact.c
CAPTEST_PRINT_SRCS := tests/capture/test_print.c capture/print.c

$(CAPTEST_DIR)/test_redact: $(call objs,obj,$(CAPTEST_REDACT_SRCS))
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(CMOCKA_LIBS)

$(CAPTEST_DIR)/test_redact-san: $(call objs,san,$(CAPTEST_REDACT_SRCS))
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(CMOCKA_LIBS)

$(CAPTEST_DIR)/test_print: $(call objs,obj,$(CAPTEST_PRINT_SRCS)) $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS_SYS)

$(CAPTEST_DIR)/test_print-san: $(call objs,san,$(CAPTEST_PRINT_SRCS)) $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS_SYS)

# the pcap/pcapng export: packet builder and whole exports read back with libpcap
CAPTEST_EXPORT_SRCS := tests/capture/test_export.c capture/export.c capture/export_pkt.c

$(CAPTEST_DIR)/test_export: $(call objs,obj,$(CAPTEST_EXPORT_SRCS)) $(ENGINE_LIB) $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS_SYS) -lm

$(CAPTEST_DIR)/test_export-san: $(call objs,san,$(CAPTEST_EXPORT_SRCS)) $(ENGINE_SAN_LIB) $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS_SYS) -lm

CAPTEST_UNIT := $(CAPTEST_DIR)/test_redact $(CAPTEST_DIR)/test_redact-san \
		$(CAPTEST_DIR)/test_print $(CAPTEST_DIR)/test_print-san \
		$(CAPTEST_DIR)/test_export $(CAPTEST_DIR)/test_export-san

.PHONY: test-capture-unit
test-capture-unit: $(CAPTEST_UNIT)
	@for t in $^; do \
	  echo "  TEST     $$t"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $$t >$$t.log 2>&1 || { cat $$t.log; echo "FAIL: $$t"; exit 1; }; \
	  grep -h 'PASSED' $$t.log | sed 's/^/           /'; \
	done

# libFuzzer target over the redactor and the printer (clang); `make
# test-capture-fuzz` runs it for FUZZ_SECONDS under ASan+UBSan, a bounded
# smoke run in `make test`; `make fuzz-capture` runs it until stopped.
FUZZ_SECONDS ?= 15
$(BUILD)/fuzz/fuzz_capture: tests/capture/fuzz_capture.c capture/redact.c capture/print.c format/htc_text.c \
		format/htc_names.c | $(DEPS) $(BUILD)/.deps-test
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ $^

.PHONY: test-capture-fuzz fuzz-capture
test-capture-fuzz: $(BUILD)/fuzz/fuzz_capture
	@mkdir -p $(CAPTEST_DIR)/fuzz-corpus
	@echo "  FUZZ     $< ($(FUZZ_SECONDS) s)"
	$(Q)$< -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=4096 -artifact_prefix=$(CAPTEST_DIR)/ \
		$(CAPTEST_DIR)/fuzz-corpus >$(CAPTEST_DIR)/fuzz.log 2>&1 \
		|| { tail -n 40 $(CAPTEST_DIR)/fuzz.log; echo "FAIL: $<"; exit 1; }
	@grep -h '^#[0-9]*.*DONE' $(CAPTEST_DIR)/fuzz.log | sed 's/^/           /'

fuzz-capture: $(BUILD)/fuzz/fuzz_capture
	@mkdir -p $(CAPTEST_DIR)/fuzz-corpus
	$< -max_len=4096 $(CAPTEST_DIR)/fuzz-corpus

# ---- end-to-end ----------------------------------------------------------

# peer: the small C client and server of the e2e tests (read/write,
# readv/writev, sendmsg/recvmsg, sendmmsg/recvmmsg).
$(CAPTEST_DIR)/peer: $(BUILD)/obj/tests/capture/peer.o
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^

.PHONY: test-capture-doc test-capture-e2e
# docs/httpcap.8 documents every option of `httpcap --help` (no root needed)
test-capture-doc: $(BUILD)/httpcap
	@BUILD=$(BUILD) bash tests/capture/check_manpage.sh

.PHONY: test-cli
test-cli: $(BUILD)/httpcap $(BUILD)/httpanalyze $(BUILD)/httpreplay
	@BUILD=$(BUILD) bash tests/capture/check_cli.sh

test-capture-e2e: $(BUILD)/httpcap $(CAPTEST_DIR)/peer
	@BUILD=$(BUILD) bash tests/capture/run.sh $(CASES)

TESTS += test-capture-unit test-capture-fuzz test-capture-doc test-cli test-capture-e2e
