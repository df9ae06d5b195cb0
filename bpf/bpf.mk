# bpf/: the kernel side of httpcap.
#
# clang -target bpf -> bpftool gen object -> bpftool gen skeleton, into
# $(BUILD)/bpf, giving $(BPF_SKEL) for capture/.  The CO-RE type header is
# regenerated from the running kernel's BTF when it has one; otherwise the
# committed bpf/vmlinux.h (x86_64, generated the same way) is used, so a
# machine without BTF or kernel headers still builds.  CO-RE relocations make
# the object load on other kernels either way.

BPF_DIR := $(BUILD)/bpf
BPF_VMLINUX := $(BPF_DIR)/vmlinux.h
BTF_VMLINUX ?= /sys/kernel/btf/vmlinux
BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	      -e 's/ppc64le/powerpc/' -e 's/riscv64/riscv/' -e 's/s390x/s390/')
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -I$(BPF_DIR) -Iinclude \
	      -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
BPF_OBJ := $(BPF_DIR)/httpcap.bpf.o

$(BPF_VMLINUX): bpf/vmlinux.h $(wildcard $(BTF_VMLINUX)) | $(DEPS)
	$(Q)mkdir -p $(@D)
	$(Q)if [ -r "$(BTF_VMLINUX)" ] && $(BPFTOOL) btf dump file $(BTF_VMLINUX) format c > $@.tmp 2>/dev/null; then \
	  printf '  %-8s %s\n' GEN-BTF '$@'; mv $@.tmp $@; \
	else \
	  rm -f $@.tmp; printf '  %-8s %s\n' CP '$@ (no $(BTF_VMLINUX): committed bpf/vmlinux.h)'; \
	  cp bpf/vmlinux.h $@; \
	fi

$(BPF_DIR)/httpcap.tmp.bpf.o: bpf/httpcap.bpf.c include/httpcap_bpf.h $(wildcard bpf/*.bpf.h) $(BPF_VMLINUX) | $(DEPS)
	$(call msg,BPF,$<)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BPF_OBJ): $(BPF_DIR)/httpcap.tmp.bpf.o
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(BPF_SKEL): $(BPF_OBJ)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name httpcap > $@

.PHONY: bpf
bpf: $(BPF_SKEL)
