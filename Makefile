# httpcap - the one build entry.
#
#   make            build everything into build/
#   make test       build and run every test (installs missing packages as root)
#   make demo       run the bundled demo end to end (root)
#   make bench      run the benchmarks (root), results in bench/RESULTS.md
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean
#
# Quiet by default; V=1 shows the commands.  Each folder adds its own rules
# in <folder>/<folder>.mk, included below; this file holds what they share.

.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := all

VERSION := 0.1.0
BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
SBINDIR := $(PREFIX)/sbin
MANDIR := $(PREFIX)/share/man

CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
AR ?= ar
ifeq ($(origin CC),default)
CC := cc
endif

CFLAGS ?= -O2 -g
WFLAGS := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes \
	  -Wmissing-prototypes -Wformat=2
CPPFLAGS += -Iinclude -I$(BUILD) -D_GNU_SOURCE -DHTC_TOOL_VERSION='"$(VERSION)"'
BASE_CFLAGS = -std=gnu11 $(WFLAGS) -fPIC -MMD -MP
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	     -fno-omit-frame-pointer -O1 -g

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' '$(1)' '$(2)';
endif

# ---- dependencies -------------------------------------------------------
# Debian packages, each made for its job.  Checked once per build folder; as
# root on Debian/Ubuntu the missing ones are installed, otherwise make stops
# and prints the exact command.
BUILD_PKGS := gcc make pkg-config clang llvm bpftool libbpf-dev libelf-dev \
	      zlib1g-dev libzstd-dev libsqlite3-dev libpcap-dev libcmocka-dev \
	      libcurl4-openssl-dev libnghttp2-dev libcapstone-dev
TEST_PKGS := libclang-rt-14-dev libfuzzer-14-dev zstd sqlite3 curl python3 \
	     python3-flask python3-redis nginx redis-server redis-tools tcpdump tshark wrk \
	     apache2-utils iproute2 procps openssl postgresql postgresql-contrib chromium \
	     protobuf-compiler python3-protobuf nghttp2-client python3-grpcio python3-h2 nodejs \
	     gnutls-bin golang-go clickhouse-server clickhouse-client
DEMO_PKGS := python3 python3-flask python3-redis redis-server redis-tools curl apache2-utils
BENCH_PKGS := $(TEST_PKGS) hyperfine valgrind time linux-perf

# $(call need_pkgs,list) - shell snippet that installs or asks for packages.
define need_pkgs
	@missing=""; \
	for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' \
	    || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "  DEPS     installing:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null; } \
	      || { echo "error: apt-get install failed for:$$missing" >&2; exit 1; }; \
	  else \
	    echo "error: missing Debian packages:$$missing" >&2; \
	    echo "  run as root:  apt-get install -y$$missing" >&2; \
	    exit 1; \
	  fi; \
	fi
endef

$(BUILD)/.deps-build:
	$(call need_pkgs,$(BUILD_PKGS))
	@mkdir -p $(@D) && touch $@
$(BUILD)/.deps-test:
	$(call need_pkgs,$(TEST_PKGS))
	@mkdir -p $(@D) && touch $@
$(BUILD)/.deps-demo:
	$(call need_pkgs,$(DEMO_PKGS))
	@mkdir -p $(@D) && touch $@
$(BUILD)/.deps-bench:
	$(call need_pkgs,$(BENCH_PKGS))
	@mkdir -p $(@D) && touch $@

DEPS := $(BUILD)/.deps-build

# ---- shared compile rules ------------------------------------------------
# build/obj: the normal build.  build/san: the same sources under ASan+UBSan
# for the tests.  Libraries and programs are declared by the fragments.

$(BUILD)/obj/%.o: %.c | $(DEPS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(BASE_CFLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.c | $(DEPS)
	$(call msg,CC-SAN,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(SAN_FLAGS) $(BASE_CFLAGS) -c $< -o $@

# $(call objs,variant,sources)
objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

# Names shared between fragments (defined here because fragments are
# included in alphabetical order and prerequisites expand when read).
# format/ builds libhtc, engine/ the engine, bpf/ the skeleton for capture/.
HTC_LIB := $(BUILD)/libhtc.a
HTC_SAN_LIB := $(BUILD)/san/libhtc.a
ENGINE_LIB := $(BUILD)/libhtcengine.a
ENGINE_SAN_LIB := $(BUILD)/san/libhtcengine.a
BPF_SKEL := $(BUILD)/httpcap.skel.h
CMOCKA_LIBS := -lcmocka
# Fuzz targets: tests/fuzz/*.c define LLVMFuzzerTestOneInput; built with
# clang+libFuzzer for `make fuzz`, and with tests/fuzz/replay_main.c under
# ASan+UBSan to replay their corpus as an ordinary test in `make test`.
FUZZ_CC := clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer

BINS :=
TESTS :=
INSTALL_TARGETS :=
# libnghttp2: the engine's HPACK decoder (engine/http2.c); libpcap: tcpdump
# captures as a record source (engine/pcap.c)
LIBS_SYS := $(shell pkg-config --libs libzstd 2>/dev/null || echo -lzstd) \
	$(shell pkg-config --libs libnghttp2 2>/dev/null || echo -lnghttp2) \
	$(shell pkg-config --libs libpcap 2>/dev/null || echo -lpcap)

# Fragments: format, bpf, capture, engine, analyze, replay, tests, bench, samples.
include $(sort $(wildcard */*.mk))

.PHONY: all test demo bench install clean deps
all: $(BINS)

deps: $(DEPS)

# One line per test; a test's own output goes to $(BUILD)/test-logs/NAME.log
# and is shown (its last 60 lines) only when it fails; TEST_VERBOSE=1 shows
# everything as it runs.
test: all $(BUILD)/.deps-test
	@mkdir -p $(BUILD)/test-logs; pass=0; failed=""; \
	for t in $(TESTS); do \
	  start=$$(date +%s); \
	  if [ -n "$(TEST_VERBOSE)" ]; then \
	    $(MAKE) --no-print-directory $$t; rc=$$?; \
	  else \
	    $(MAKE) --no-print-directory $$t >$(BUILD)/test-logs/$$t.log 2>&1; rc=$$?; \
	  fi; \
	  secs=$$(( $$(date +%s) - start )); \
	  if [ $$rc = 0 ]; then \
	    pass=$$((pass + 1)); printf '  PASS     %s (%ss)\n' $$t $$secs; \
	  else \
	    failed="$$failed $$t"; printf '  FAIL     %s (%ss)\n' $$t $$secs; \
	    [ -n "$(TEST_VERBOSE)" ] || tail -60 $(BUILD)/test-logs/$$t.log | sed 's/^/           | /'; \
	  fi; \
	done; \
	nfail=$$(echo $$failed | wc -w); \
	echo "$$pass passed, $$nfail failed$${failed:+:$$failed}"; \
	[ -z "$$failed" ]

install: all $(INSTALL_TARGETS)

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/san -name '*.d' 2>/dev/null)
