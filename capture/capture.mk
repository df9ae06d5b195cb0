# capture/: httpcap, the capture tool (issue 3).
#
#   make build/httpcap        the tool (needs $(BPF_SKEL), libhtc, the engine)
#   make test-capture-core    cmocka tests of the CLI, event decoding, process
#                             metadata parsing and redaction bookkeeping,
#                             and test_rings: the per-CPU ring reader
#                             (plain and ASan+UBSan); bench_pipeline on the
#                             demo capture and on bad files and flags
#   make test-capture-smoke   root: load + attach, capture one curl request
#                             to python3 http.server, read it back with -r
#   make bench-capture        root: 10,000 curl requests (must all be there,
#                             zero drops) and wrk against nginx: events/s
#   build/bench/bench_pipeline FILE.htc
#                             httpcap's user-space work per event (redaction,
#                             encoding, zstd) replayed from a capture: CPU ns
#                             per event, exact instructions under callgrind
#                             (bench/run.sh runs it on its overhead capture)
#
# redact.c and print.c belong to the end-to-end tests' owner (tests/capture.mk);
# they are linked in here.

CAPTURE_CORE_SRCS := capture/cli.c capture/cgroup.c capture/convert.c capture/conntab.c \
		     capture/procmeta.c capture/output.c capture/redact.c capture/export_pkt.c \
		     capture/gopclntab.c capture/rings.c capture/sched.c
CAPTURE_SRCS := capture/main.c capture/bpfload.c capture/tls.c capture/print.c capture/export.c \
		capture/top.c $(CAPTURE_CORE_SRCS)
CAPTURE_LIBS := -lbpf -lelf -lcapstone -lz $(LIBS_SYS) -lm

# bpfload.c and tls.c include the generated skeleton
$(BUILD)/obj/capture/bpfload.o $(BUILD)/obj/capture/tls.o $(BUILD)/san/capture/tls.o: $(BPF_SKEL)
$(BUILD)/obj/capture/bpfload.o: $(BPF_COMPAT_SKEL)

$(BUILD)/httpcap: $(call objs,obj,$(CAPTURE_SRCS)) $(ENGINE_LIB) $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $(call objs,obj,$(CAPTURE_SRCS)) $(ENGINE_LIB) $(HTC_LIB) \
		$(CAPTURE_LIBS)

# ---- tests ----
CAPTURE_TEST_DIR := $(BUILD)/tests/capture-core

$(CAPTURE_TEST_DIR)/test_core: $(BUILD)/obj/capture/test_core.o \
		$(call objs,obj,$(CAPTURE_CORE_SRCS)) $(ENGINE_LIB) $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS_SYS) -lm

$(CAPTURE_TEST_DIR)/test_core-san: $(BUILD)/san/capture/test_core.o \
		$(call objs,san,$(CAPTURE_CORE_SRCS)) $(ENGINE_SAN_LIB) $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS_SYS) -lm

# rings.c alone: its tests lay the kernel's ring memory out themselves
$(CAPTURE_TEST_DIR)/test_rings: $(BUILD)/obj/capture/test_rings.o $(BUILD)/obj/capture/rings.o
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(CMOCKA_LIBS)

$(CAPTURE_TEST_DIR)/test_rings-san: $(BUILD)/san/capture/test_rings.o $(BUILD)/san/capture/rings.o
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(CMOCKA_LIBS)

$(BUILD)/bench/bench_pipeline: $(BUILD)/obj/capture/bench_pipeline.o \
		$(call objs,obj,$(CAPTURE_CORE_SRCS)) $(ENGINE_LIB) $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS_SYS) -lm

.PHONY: test-capture-core test-capture-smoke bench-capture install-httpcap
CAPTURE_CORE_TESTS := $(CAPTURE_TEST_DIR)/test_core $(CAPTURE_TEST_DIR)/test_core-san \
		      $(CAPTURE_TEST_DIR)/test_rings $(CAPTURE_TEST_DIR)/test_rings-san
test-capture-core: $(CAPTURE_CORE_TESTS) $(BUILD)/bench/bench_pipeline $(BUILD)/bench/htcstat
	@for t in $(CAPTURE_CORE_TESTS); do \
	  echo "  TEST     $$t"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $$t >$$t.log 2>&1 || { cat $$t.log; echo "FAIL: $$t"; exit 1; }; \
	done
	@echo "  TEST     capture/check_bench_pipeline.sh"
	@BUILD=$(BUILD) bash capture/check_bench_pipeline.sh

test-capture-smoke: $(BUILD)/httpcap
	$(call msg,TEST,capture/smoke.sh)
	$(Q)BUILD=$(BUILD) sh capture/smoke.sh

bench-capture: $(BUILD)/httpcap
	$(call msg,BENCH,capture/loadtest.sh)
	$(Q)BUILD=$(BUILD) sh capture/loadtest.sh

# one INSTALL line per file installed, as every tool's install rule
install-httpcap: $(BUILD)/httpcap
	$(call msg,INSTALL,$(DESTDIR)$(SBINDIR)/httpcap)
	$(Q)install -D -m 0755 $(BUILD)/httpcap $(DESTDIR)$(SBINDIR)/httpcap
	$(call msg,INSTALL,$(DESTDIR)$(MANDIR)/man8/httpcap.8)
	$(Q)install -D -m 0644 docs/httpcap.8 $(DESTDIR)$(MANDIR)/man8/httpcap.8

# The tool links the engine and the printer: until both have landed keep
# `make` and `make test` green without it.
ifneq ($(wildcard engine/engine.mk capture/print.c),)
ifeq ($(words $(wildcard engine/engine.mk capture/print.c)),2)
BINS += $(BUILD)/httpcap
INSTALL_TARGETS += install-httpcap
TESTS += test-capture-smoke
BENCHES += bench-capture
endif
endif
ifneq ($(wildcard format/htc_writer.c),)
TESTS += test-capture-core
endif
