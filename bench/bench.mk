# bench/: benchmarks, `make bench`.  Fragments add their benches to BENCHES.
BENCHES ?=
.PHONY: bench
bench: all $(BUILD)/.deps-bench
	@for b in $(BENCHES); do $(MAKE) --no-print-directory $$b || exit 1; done
