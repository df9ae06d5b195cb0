# tests/capture.mk: httpcap's tests (issue 3).
#
#   make test-capture-unit   cmocka tests of capture/redact.c and capture/print.c,
#                            plain and under ASan+UBSan
#   make test-capture-e2e    end-to-end captures of real servers and clients on
#                            loopback (root; prints SKIP otherwise).
#                            CASES="nginx filters" runs only those cases.
#   make test-capture-doc    docs/httpcap.8 matches `httpcap --help`
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

CAPTEST_UNIT := $(CAPTEST_DIR)/test_redact $(CAPTEST_DIR)/test_redact-san \
		$(CAPTEST_DIR)/test_print $(CAPTEST_DIR)/test_print-san

.PHONY: test-capture-unit
test-capture-unit: $(CAPTEST_UNIT)
	@for t in $^; do \
	  echo "  TEST     $$t"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $$t >$$t.log 2>&1 || { cat $$t.log; echo "FAIL: $$t"; exit 1; }; \
	  grep -h 'PASSED' $$t.log | sed 's/^/           /'; \
	done

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

test-capture-e2e: $(BUILD)/httpcap $(CAPTEST_DIR)/peer
	@BUILD=$(BUILD) bash tests/capture/run.sh $(CASES)

TESTS += test-capture-unit test-capture-doc test-capture-e2e
