# engine/engine.mk: the engine library shared by the three tools
# (connections, exchanges, links, one file per protocol, the record
# sources and their merge, request selection), the shared fixture builder
# (tests/lib), the engine's tests, fuzz target and bench.

ENGINE_SRCS := engine/engine.c engine/exch.c engine/link.c engine/table.c engine/detect.c \
	engine/calls.c engine/http1.c engine/http1_parse.c engine/http2.c engine/redis.c engine/postgres.c engine/tls.c \
	engine/select.c engine/source.c engine/pcap.c

# The engine is one file per stage and per protocol; its hot path crosses
# them on every event (connection -> protocol -> exchange -> report), which
# cost 3-6% of bench-engine's records/s as plain calls between objects.
# With gcc, its objects carry LTO bytecode (fat: usable without LTO too) and
# the programs that link it inline across those files at link time
# (bench-engine: back to the single-file figures).
ENGINE_LTO :=
ifneq ($(shell $(CC) -v 2>&1 | grep -c '^gcc version'),0)
ENGINE_LTO := -flto=auto -fno-semantic-interposition
$(call objs,obj,$(ENGINE_SRCS)): private CFLAGS += $(ENGINE_LTO) -ffat-lto-objects
$(BUILD)/httpcap $(BUILD)/httpanalyze $(BUILD)/httpreplay $(BUILD)/bench/engine/bench_engine: \
	private CFLAGS += $(ENGINE_LTO)
ENGINE_AR := gcc-ar
else
ENGINE_AR := $(AR)
endif

$(ENGINE_LIB): $(call objs,obj,$(ENGINE_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(ENGINE_AR) rcs $@ $^

$(ENGINE_SAN_LIB): $(call objs,san,$(ENGINE_SRCS))
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D) && rm -f $@ && $(AR) rcs $@ $^

# ---- fixture builder shared by the test suites: link before $(HTC_LIB) ----
FIXTURE_LIB := $(BUILD)/libfixture.a
FIXTURE_SAN_LIB := $(BUILD)/san/libfixture.a
FIXTURE_CPPFLAGS := -Itests/lib

$(FIXTURE_LIB): $(BUILD)/obj/tests/lib/fixture.o
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FIXTURE_SAN_LIB): $(BUILD)/san/tests/lib/fixture.o
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D) && rm -f $@ && $(AR) rcs $@ $^

# ---- tests (cmocka, under ASan+UBSan) ----
ENGINE_TEST_NAMES := test_http test_engine test_select test_http2 test_pcap
ENGINE_TEST_BINS := $(patsubst %,$(BUILD)/san/tests/engine/%,$(ENGINE_TEST_NAMES))

$(BUILD)/san/tests/engine/%.o: tests/engine/%.c | $(DEPS)
	$(call msg,CC-SAN,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(FIXTURE_CPPFLAGS) -Iengine $(SAN_FLAGS) $(BASE_CFLAGS) -c $< -o $@

$(BUILD)/san/tests/engine/%: $(BUILD)/san/tests/engine/%.o $(ENGINE_SAN_LIB) $(FIXTURE_SAN_LIB) $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS_SYS)

.PHONY: test-engine
test-engine: $(ENGINE_TEST_BINS)
	$(Q)for t in $(ENGINE_TEST_BINS); do \
	  printf '  %-8s %s\n' TEST $$t; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $$t || exit 1; \
	done

TESTS += test-engine

# ---- fuzzing: fuzz_engine (synthetic event scripts, or 'H' + an .htc) ----
# `make fuzz-engine` runs libFuzzer for FUZZ_TIME seconds on a scratch copy
# of the corpus; `test-fuzz-engine` replays the committed corpus under
# ASan+UBSan with tests/fuzz/replay_main.c.
FUZZ_ENGINE := $(BUILD)/fuzz/fuzz_engine
FUZZ_ENGINE_REPLAY := $(BUILD)/san/tests/fuzz/fuzz_engine-replay
FUZZ_ENGINE_CORPUS := tests/fuzz/corpus/engine
FUZZ_TIME ?= 60

# libFuzzer needs clang for every object, so the sources are compiled here
# rather than taken from the gcc-built libraries.  (format.mk is read after
# this file, so its FORMAT_SRCS is only known in the recipe: the
# prerequisites name the files by wildcard.)
$(FUZZ_ENGINE): tests/fuzz/fuzz_engine.c $(ENGINE_SRCS) $(wildcard format/*.c format/*.h) | $(DEPS)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_engine.c $(ENGINE_SRCS) \
		$(FORMAT_SRCS) $(LIBS_SYS)

$(FUZZ_ENGINE_REPLAY): $(BUILD)/san/tests/fuzz/fuzz_engine.o $(BUILD)/san/tests/fuzz/replay_main.o \
		$(ENGINE_SAN_LIB) $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(LIBS_SYS)

$(BUILD)/tests/engine/gen_engine_corpus: tests/engine/gen_engine_corpus.c $(FIXTURE_LIB) $(HTC_LIB) | $(DEPS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(FIXTURE_CPPFLAGS) $(CFLAGS) $(BASE_CFLAGS) -o $@ $^ $(LIBS_SYS)

.PHONY: fuzz-engine fuzz-engine-corpus test-fuzz-engine
fuzz-engine: $(FUZZ_ENGINE)
	$(Q)mkdir -p $(BUILD)/fuzz/corpus-engine
	$(Q)cp -n $(FUZZ_ENGINE_CORPUS)/* $(BUILD)/fuzz/corpus-engine/ 2>/dev/null || true
	$(Q)$(FUZZ_ENGINE) -max_total_time=$(FUZZ_TIME) -max_len=16384 -rss_limit_mb=2048 -timeout=10 \
		-artifact_prefix=$(BUILD)/fuzz/engine- $(BUILD)/fuzz/corpus-engine

fuzz-engine-corpus: $(BUILD)/tests/engine/gen_engine_corpus
	$(call msg,GEN,$(FUZZ_ENGINE_CORPUS))
	$(Q)mkdir -p $(FUZZ_ENGINE_CORPUS)
	$(Q)$< $(FUZZ_ENGINE_CORPUS)

test-fuzz-engine: $(FUZZ_ENGINE_REPLAY)
	$(call msg,TEST,$<)
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$< $(FUZZ_ENGINE_CORPUS)

TESTS += test-fuzz-engine

# ---- bench: events/s through the engine (not a test: speed is measured,
# never asserted) ----
BENCH_ENGINE := $(BUILD)/bench/engine/bench_engine

$(BENCH_ENGINE): tests/engine/bench_engine.c $(ENGINE_LIB) $(FIXTURE_LIB) $(HTC_LIB) | $(DEPS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(FIXTURE_CPPFLAGS) $(CFLAGS) $(BASE_CFLAGS) -o $@ $^ $(LIBS_SYS)

.PHONY: bench-engine
bench-engine: $(BENCH_ENGINE)
	$(Q)$(BENCH_ENGINE)

BENCHES += bench-engine
