# format/: libhtc, the .htc writer and reader (issue 2), its tests, fuzz
# target and benchmark.

FORMAT_SRCS := format/htc_codec.c format/htc_names.c format/htc_writer.c \
	       format/htc_reader.c

$(HTC_LIB): $(call objs,obj,$(FORMAT_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(HTC_SAN_LIB): $(call objs,san,$(FORMAT_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# ---- tests: the same cmocka tests against both builds of the library ----
FORMAT_TEST := $(BUILD)/tests/format/test_format
FORMAT_TEST_SAN := $(BUILD)/san/tests/format/test_format

$(FORMAT_TEST): $(BUILD)/obj/tests/format/test_format.o $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS_SYS)

$(FORMAT_TEST_SAN): $(BUILD)/san/tests/format/test_format.o $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS_SYS)

.PHONY: test-format test-format-san
test-format: $(FORMAT_TEST)
	$(call msg,TEST,$<)
	$(Q)$<

test-format-san: $(FORMAT_TEST_SAN)
	$(call msg,TEST,$<)
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $<

TESTS += test-format test-format-san
