# analyze/engine.mk: the engine library (HTTP parsing, stitching,
# correlation, multi-file merge), the shared fixture builder (tests/lib),
# the engine's tests, fuzz target and bench.

ENGINE_SRCS := analyze/engine.c analyze/http.c analyze/proto.c analyze/source.c

$(ENGINE_LIB): $(call objs,obj,$(ENGINE_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

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
ENGINE_TEST_NAMES := test_http test_engine
ENGINE_TEST_BINS := $(patsubst %,$(BUILD)/san/tests/engine/%,$(ENGINE_TEST_NAMES))

$(BUILD)/san/tests/engine/%.o: tests/engine/%.c | $(DEPS)
	$(call msg,CC-SAN,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(FIXTURE_CPPFLAGS) -Ianalyze $(SAN_FLAGS) $(BASE_CFLAGS) -c $< -o $@

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
