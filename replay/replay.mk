# replay/: httpreplay (issue 7), its unit tests and its end-to-end tests
# against local servers (tests/replay/).

REPLAY_CORE_SRCS := replay/util.c replay/prepare.c replay/report.c
REPLAY_SRCS := $(REPLAY_CORE_SRCS) replay/load.c replay/send.c replay/main.c
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

$(BUILD)/httpreplay: $(call objs,obj,$(REPLAY_SRCS)) $(ENGINE_LIB) $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(ENGINE_LIB) $(HTC_LIB) \
		$(CURL_LIBS) $(LIBS_SYS) -lm

# The same program under ASan+UBSan, for the tests.
$(BUILD)/san/httpreplay: $(call objs,san,$(REPLAY_SRCS)) $(ENGINE_SAN_LIB) $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $(filter %.o,$^) $(ENGINE_SAN_LIB) $(HTC_SAN_LIB) \
		$(CURL_LIBS) $(LIBS_SYS) -lm

# httpreplay links the engine: until its fragment lands, keep `make` and
# `make test` green without it.
ifneq ($(wildcard engine/engine.mk),)
BINS += $(BUILD)/httpreplay
INSTALL_TARGETS += install-httpreplay
TESTS += test-replay test-replay-demo
endif

.PHONY: install-httpreplay
install-httpreplay: $(BUILD)/httpreplay
	$(call msg,INSTALL,$(DESTDIR)$(BINDIR)/httpreplay)
	$(Q)install -D -m 0755 $(BUILD)/httpreplay $(DESTDIR)$(BINDIR)/httpreplay
	$(call msg,INSTALL,$(DESTDIR)$(MANDIR)/man1/httpreplay.1)
	$(Q)install -D -m 0644 docs/httpreplay.1 $(DESTDIR)$(MANDIR)/man1/httpreplay.1

# ---- tests ----------------------------------------------------------------
# test-replay-unit: cmocka, table-driven, the pure parts (filters, rewriting,
# escaping, percentiles, report), under ASan+UBSan.
# test-replay: captures written by tests/replay/mkcaptures (the tests/lib
# fixture builder) replayed against tests/replay/server.py on 127.0.0.1
# ports 20700-20709.
# test-replay-demo: the shipped samples/demo.htc replayed against the demo
# app (ports 20720-20722), and as root a live httpcap capture of the demo
# app (ports 20730-20732) replayed against it: zero mismatches.

$(BUILD)/san/tests/replay/%.o $(BUILD)/obj/tests/replay/%.o: CPPFLAGS += -Ireplay -Itests/lib

# The engine library brings the selection filters (htc_select.h).
$(BUILD)/san/tests/replay/test_replay_unit: $(call objs,san,tests/replay/test_replay_unit.c $(REPLAY_CORE_SRCS)) \
		$(ENGINE_SAN_LIB) $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS_SYS) -lm

# The fixture builder is tests/lib's (FIXTURE_LIB, from engine/engine.mk).
$(BUILD)/tests/replay/mkcaptures: $(call objs,obj,tests/replay/mkcaptures.c) $(FIXTURE_LIB) $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(FIXTURE_LIB) $(HTC_LIB) $(LIBS_SYS)

.PHONY: test-replay-unit test-replay test-replay-demo
test-replay-unit: $(BUILD)/san/tests/replay/test_replay_unit
	$(call msg,TEST,$@)
	$(Q)$(BUILD)/san/tests/replay/test_replay_unit

test-replay: $(BUILD)/san/httpreplay $(BUILD)/tests/replay/mkcaptures
	$(call msg,TEST,$@)
	$(Q)HTTPREPLAY=$(BUILD)/san/httpreplay MKCAPTURES=$(BUILD)/tests/replay/mkcaptures \
		python3 tests/replay/run.py

TESTS += test-replay-unit

# The demo app needs python3-redis (samples/' stamp, installed as root).
test-replay-demo: $(BUILD)/httpreplay
	$(call msg,TEST,$@)
	$(Q)if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory $(BUILD)/.deps-samples; fi
	$(Q)if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory $(BUILD)/httpcap || true; fi
	$(Q)BUILD=$(abspath $(BUILD)) HTTPREPLAY=$(abspath $(BUILD))/httpreplay \
		bash tests/replay/e2e_demo.sh
