# format/: libhtc, the .htc writer and reader (issue 2), its tests, fuzz
# target and benchmark.

FORMAT_SRCS := format/htc_codec.c format/htc_names.c format/htc_writer.c \
	       format/htc_reader.c

$(HTC_LIB): $(call objs,obj,$(FORMAT_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(HTC_SAN_LIB): $(call objs,san,$(FORMAT_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
