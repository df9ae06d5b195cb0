# format/: libhtc, the .htc writer and reader (issue 2), its tests, fuzz
# target and benchmark.

FORMAT_SRCS := format/htc_codec.c format/htc_compact.c format/htc_names.c format/htc_writer.c \
	       format/htc_reader.c format/htc_spool.c format/htc_text.c

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

# ---- fuzzing: fuzz_reader (any bytes into the memory reader) and
# fuzz_roundtrip (records through writer and reader, compared) ----
# `make fuzz-reader` / `make fuzz-roundtrip` run libFuzzer for FUZZ_TIME
# seconds on a scratch copy of the corpus (new inputs and crashes land in
# build/fuzz/); `test-fuzz-reader` / `test-fuzz-roundtrip` replay the
# committed corpus under ASan+UBSan with tests/fuzz/replay_main.c, the
# driver other fuzz targets reuse (link $(BUILD)/san/tests/fuzz/replay_main.o
# with your target's objects).  `make fuzz-reader-corpus` regenerates the
# seeds after a format change.
FUZZ_TIME ?= 60
FORMAT_FUZZERS := reader roundtrip

$(FORMAT_FUZZERS:%=$(BUILD)/fuzz/fuzz_%): $(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FORMAT_SRCS) format/htc_internal.h include/htc.h | $(DEPS) $(BUILD)/.deps-test
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ $< $(FORMAT_SRCS) $(LIBS_SYS)

$(BUILD)/san/tests/fuzz/fuzz_reader-replay $(BUILD)/san/tests/fuzz/fuzz_roundtrip-replay: \
		$(BUILD)/san/tests/fuzz/%-replay: $(BUILD)/san/tests/fuzz/%.o \
		$(BUILD)/san/tests/fuzz/replay_main.o $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(LIBS_SYS)

$(BUILD)/tests/fuzz/gen_reader_corpus: $(BUILD)/obj/tests/fuzz/gen_reader_corpus.o $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS_SYS)

.PHONY: $(FORMAT_FUZZERS:%=fuzz-%) $(FORMAT_FUZZERS:%=test-fuzz-%) fuzz-reader-corpus
$(FORMAT_FUZZERS:%=fuzz-%): fuzz-%: $(BUILD)/fuzz/fuzz_%
	$(Q)mkdir -p $(BUILD)/fuzz/corpus-$*
	$(Q)cp -n tests/fuzz/corpus/$*/* $(BUILD)/fuzz/corpus-$*/ 2>/dev/null || true
	$(Q)$< -max_total_time=$(FUZZ_TIME) -max_len=65536 -rss_limit_mb=2048 \
		-artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus-$*

fuzz-reader-corpus: $(BUILD)/tests/fuzz/gen_reader_corpus
	$(call msg,GEN,tests/fuzz/corpus/reader tests/fuzz/corpus/roundtrip)
	$(Q)mkdir -p tests/fuzz/corpus/reader tests/fuzz/corpus/roundtrip
	$(Q)$< tests/fuzz/corpus/reader tests/fuzz/corpus/roundtrip

$(FORMAT_FUZZERS:%=test-fuzz-%): test-fuzz-%: $(BUILD)/san/tests/fuzz/fuzz_%-replay
	$(call msg,TEST,$<)
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$< tests/fuzz/corpus/$*

TESTS += test-fuzz-reader test-fuzz-roundtrip

# `make fuzz` runs every fuzzer in turn; other fragments add theirs as
# prerequisites (`fuzz: fuzz-engine`), a rule without a recipe.
.PHONY: fuzz
fuzz: $(FORMAT_FUZZERS:%=fuzz-%)

# ---- benchmark: writer and reader speed, bytes per event ----
BENCH_FORMAT := $(BUILD)/bench/format/bench_format

$(BENCH_FORMAT): $(BUILD)/obj/bench/format/bench_format.o $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS_SYS)

.PHONY: bench-format
bench-format: $(BENCH_FORMAT)
	$(Q)$< -n $(or $(BENCH_FORMAT_EVENTS),2000000) -o $(BUILD)/bench/format/bench.htc

BENCHES += bench-format
