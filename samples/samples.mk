# samples/: the demo application, `make demo`, `make samples`, and the
# tests that keep them honest (tests/demo/).
#
# The demo's Flask front service talks to redis-server through the Python
# redis client, Debian's python3-redis.  It is in DEMO_PKGS and TEST_PKGS
# now; this stamp checks it again for build folders whose .deps-demo stamp
# is older than that (the demo and the tests of tests/demo/ need it).

SAMPLES_PKGS := $(sort $(DEMO_PKGS) python3-redis)
SAMPLES_ENV := BUILD=$(abspath $(BUILD))

$(BUILD)/.deps-samples:
	$(call need_pkgs,$(SAMPLES_PKGS))
	@mkdir -p $(@D) && touch $@

.PHONY: demo samples test-demo-fidelity test-samples test-demo-script
TESTS += test-samples test-demo-script test-demo-fidelity

# Needs root (eBPF); demo.sh says so clearly otherwise, before starting anything.
demo: all $(BUILD)/.deps-demo
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory $(BUILD)/.deps-samples; fi
	@$(SAMPLES_ENV) samples/demo.sh

# Regenerate the shipped sample capture from a small demo run (root).
samples: all $(BUILD)/.deps-demo
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory $(BUILD)/.deps-samples; fi
	@$(SAMPLES_ENV) samples/demo.sh --sample samples/demo.htc

# Root only (prints SKIP otherwise); installs python3-redis as root.
test-demo-fidelity: $(BUILD)/httpcap $(BUILD)/httpanalyze
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory $(BUILD)/.deps-samples; fi
	@$(SAMPLES_ENV) tests/demo/fidelity.sh

# No root: the shipped captures open with the current reader.
test-samples: $(BUILD)/httpanalyze
	@$(SAMPLES_ENV) tests/demo/samples.sh

# Wrong flags and no root give clear errors; as root, Ctrl-C leaves nothing running.
test-demo-script: $(BUILD)/httpcap $(BUILD)/httpanalyze
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory $(BUILD)/.deps-samples; fi
	@$(SAMPLES_ENV) tests/demo/demo_script.sh
