# samples/: the demo application and `make demo` (placeholder until the demo lands).
.PHONY: demo
demo: all
	@echo "make demo: the demo application is not built yet (see issue 5)."
	@echo "Built so far: $(BINS)"
