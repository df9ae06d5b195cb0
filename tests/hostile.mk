# tests/hostile.mk: make test-hostile (issue 21) - every tool over hostile
# captures (tests/hostile/mkhostile.c's crafted files and the fuzz corpora)
# under ASan+UBSan with a timeout, and the normal build under a memory
# limit with its peak RSS measured.  See tests/hostile/run.sh.

$(BUILD)/tests/hostile/mkhostile: $(BUILD)/obj/tests/hostile/mkhostile.o $(FIXTURE_LIB) $(HTC_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS_SYS)

$(BUILD)/obj/tests/hostile/%.o: CPPFLAGS += -Itests/lib

# The sanitizer builds of the two tools that have none elsewhere.
$(BUILD)/san/httpanalyze: $(call objs,san,$(ANALYZE_SRCS)) $(ENGINE_SAN_LIB) $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $(call objs,san,$(ANALYZE_SRCS)) $(ENGINE_SAN_LIB) \
		$(HTC_SAN_LIB) $(ANALYZE_LIBS)

$(BUILD)/san/capture/bpfload.o: $(BPF_SKEL) $(BPF_COMPAT_SKEL)
$(BUILD)/san/httpcap: $(call objs,san,$(CAPTURE_SRCS)) $(ENGINE_SAN_LIB) $(HTC_SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $(call objs,san,$(CAPTURE_SRCS)) $(ENGINE_SAN_LIB) \
		$(HTC_SAN_LIB) $(CAPTURE_LIBS)

.PHONY: test-hostile
test-hostile: $(BUILD)/tests/hostile/mkhostile $(BUILD)/httpanalyze $(BUILD)/httpreplay \
		$(BUILD)/httpcap $(BUILD)/san/httpanalyze $(BUILD)/san/httpreplay $(BUILD)/san/httpcap
	$(call msg,TEST,tests/hostile/run.sh)
	$(Q)BUILD=$(BUILD) MKHOSTILE=$(BUILD)/tests/hostile/mkhostile sh tests/hostile/run.sh

TESTS += test-hostile
