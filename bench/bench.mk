# bench/: `make bench` (root): the system benchmarks of issue 6.
#
# bench/run.sh measures capture overhead, drops, file size, analyzer speed
# and memory, and also runs the library benches (bench-format,
# bench-analyze) so that every figure lands in one table in
# bench/RESULTS.md.  Other fragments add their bench targets to BENCHES;
# `make bench` runs those not already run by bench/run.sh, then run.sh.
# Settings are environment variables, listed at the head of bench/run.sh.
BENCHES ?=
# Run inside bench/run.sh, whose table quotes their figures.
BENCH_IN_RUN := bench-format bench-analyze

# The bench/format and bench/analyze folders are one level deeper than the
# top Makefile's */*.mk; their fragments are included from here.
include $(sort $(wildcard bench/*/*.mk))

HTCSTAT := $(BUILD)/bench/htcstat

$(HTCSTAT): $(call objs,obj,bench/htcstat.c) $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS_SYS)

.PHONY: bench bench-system
# One failing bench does not hide the others' figures: all run, failures
# are listed at the end (as `make test` does).
bench: all $(BUILD)/.deps-bench
	@failed=""; for b in $(filter-out $(BENCH_IN_RUN),$(BENCHES)) bench-system; do \
	  $(MAKE) --no-print-directory $$b || failed="$$failed $$b"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi

bench-system: $(HTCSTAT) $(BUILD)/bench/bench_pipeline $(BUILD)/.deps-bench
	@BUILD=$(BUILD) bash bench/run.sh
