# analyze/httpanalyze.mk: httpanalyze, the offline SQLite analyzer (issue 4),
# its tests (tests/analyze/), golden files and loader benchmark
# (bench/analyze/).  The engine it links is built by engine/engine.mk.
#
#   make build/httpanalyze      the tool
#   make test-analyze           unit tests (escaping, parsers, percentiles)
#   make test-analyze-golden    golden output of every subcommand and format
#   make test-analyze-clickhouse  load into a private clickhouse-server, every
#                               report equal to SQLite's (tests/analyze/clickhouse.sh)
#   make golden-analyze         regenerate tests/analyze/golden/ (review the diff!)
#   make bench-analyze          loader events/s and summary time, median of 5

ANALYZE_SRCS := analyze/httpanalyze.c analyze/clickhouse.c analyze/schema.c analyze/rowq.c analyze/load.c analyze/stats.c analyze/batchq.c analyze/events_vtab.c analyze/report.c analyze/show.c \
	analyze/output.c analyze/html.c analyze/otlp.c
ANALYZE_LIBS := -lsqlite3 $(LIBS_SYS) -lm -lpthread $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
FIXTURE_LIB ?= $(BUILD)/libfixture.a

$(BUILD)/httpanalyze: $(call objs,obj,$(ANALYZE_SRCS)) $(ENGINE_LIB) $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $(call objs,obj,$(ANALYZE_SRCS)) $(ENGINE_LIB) $(HTC_LIB) \
		$(ANALYZE_LIBS)

# Until the engine's fragment lands, the tool cannot link: keep `make` and
# `make test` green without it.
ifneq ($(wildcard engine/engine.mk),)
BINS += $(BUILD)/httpanalyze
INSTALL_TARGETS += install-httpanalyze
BENCHES += bench-analyze
TESTS += test-analyze test-analyze-golden test-analyze-report
TESTS += test-analyze-clickhouse
endif

.PHONY: install-httpanalyze
install-httpanalyze: $(BUILD)/httpanalyze
	$(call msg,INSTALL,$(DESTDIR)$(BINDIR)/httpanalyze)
	$(Q)install -D -m 0755 $(BUILD)/httpanalyze $(DESTDIR)$(BINDIR)/httpanalyze
	$(call msg,INSTALL,$(DESTDIR)$(MANDIR)/man1/httpanalyze.1)
	$(Q)install -D -m 0644 docs/httpanalyze.1 $(DESTDIR)$(MANDIR)/man1/httpanalyze.1

# ---- tests ----
# Unit tests of output.c / schema.c and load.c helpers / report.c parsers, under ASan+UBSan.
ANALYZE_UNIT_SRCS := analyze/schema.c analyze/rowq.c analyze/load.c analyze/stats.c analyze/batchq.c analyze/events_vtab.c analyze/report.c analyze/show.c \
	analyze/output.c analyze/html.c analyze/otlp.c
$(BUILD)/san/test_analyze: $(BUILD)/san/tests/analyze/test_analyze.o \
		$(call objs,san,$(ANALYZE_UNIT_SRCS)) $(ENGINE_SAN_LIB) $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(ANALYZE_LIBS) $(CMOCKA_LIBS)

# Fixture writer: the capture files the golden tests analyse (tests/lib).
$(BUILD)/tests/analyze/mkfixtures: $(BUILD)/obj/tests/analyze/mkfixtures.o $(FIXTURE_LIB) $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS_SYS)

.PHONY: test-analyze test-analyze-golden golden-analyze test-analyze-report screenshot-analyze
.PHONY: test-analyze-clickhouse
test-analyze: $(BUILD)/san/test_analyze
	$(call msg,TEST,$<)
	$(Q)$<

test-analyze-golden: $(BUILD)/httpanalyze $(BUILD)/tests/analyze/mkfixtures
	$(call msg,TEST,tests/analyze/golden.sh)
	$(Q)BUILD=$(BUILD) sh tests/analyze/golden.sh

golden-analyze: $(BUILD)/httpanalyze $(BUILD)/tests/analyze/mkfixtures
	$(Q)BUILD=$(BUILD) sh tests/analyze/golden.sh --update

# The HTML report in headless Chromium, the OTLP export checked against the
# spec and sent to local receivers (needs chromium, python3: TEST_PKGS).
test-analyze-report: $(BUILD)/httpanalyze $(BUILD)/tests/analyze/mkfixtures $(BUILD)/.deps-test
	$(call msg,TEST,tests/analyze/report.sh)
	$(Q)BUILD=$(BUILD) sh tests/analyze/report.sh

# ClickHouse (issue 19): a clickhouse-server of its own on ports
# 19410-19412, every report equal to SQLite's, loads idempotent, a server
# killed mid-load (needs clickhouse-server: TEST_PKGS; no root).
test-analyze-clickhouse: $(BUILD)/httpanalyze $(BUILD)/tests/analyze/mkfixtures $(BUILD)/bench/analyze/gen $(BUILD)/.deps-test
	$(call msg,TEST,tests/analyze/clickhouse.sh)
	$(Q)BUILD=$(BUILD) sh tests/analyze/clickhouse.sh

# docs/report-demo.png, the README's picture: the same test's screenshot.
screenshot-analyze: $(BUILD)/httpanalyze $(BUILD)/tests/analyze/mkfixtures $(BUILD)/.deps-test
	$(Q)BUILD=$(BUILD) sh tests/analyze/report.sh --screenshot docs/report-demo.png


# ---- benchmark ----
$(BUILD)/bench/analyze/gen: $(BUILD)/obj/bench/analyze/gen.o $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS_SYS)

.PHONY: bench-analyze
bench-analyze: $(BUILD)/httpanalyze $(BUILD)/bench/analyze/gen
	$(Q)BUILD=$(BUILD) sh bench/analyze/bench.sh

$(BUILD)/obj/tests/analyze/%.o $(BUILD)/san/tests/analyze/%.o: CPPFLAGS += -Ianalyze -Itests/lib

# ClickHouse against SQLite on disk: load events/s, summary seconds
# (bench/analyze/clickhouse.sh; ANALYZE_BENCH_REQUESTS, default 1000000).
.PHONY: bench-analyze-clickhouse
bench-analyze-clickhouse: $(BUILD)/httpanalyze $(BUILD)/bench/analyze/gen
	$(Q)BUILD=$(BUILD) sh bench/analyze/clickhouse.sh
