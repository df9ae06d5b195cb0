#!/bin/bash
# The BPF object built for kernels without the bpf_rdonly_cast kfunc
# (bpf/httpcap.bpf.c with HCB_KCAST=0, loaded on kernels before 6.2), forced
# with HTTPCAP_BPF_COMPAT=1 on this one: it must load, say which object it
# is, and capture as the main one does.  Its reads are the ones the two
# objects do differently (the fd table's slot, the file's socket, the TCP
# sequence number): the peer in every syscall family checks 5-tuples, bytes
# and sequence-placed offsets, and preexisting the connections older than
# the capture.  HTTPCAP_BPF_COMPAT=fallback: the main object counts as
# refused, and httpcap must load the compat one instead.
# The hooks: the compat object (kernels before 6.2) always takes sys_exit;
# the main one the socket layer's tracepoints where the kernel has them
# (6.3 and later), sys_exit where it does not or HTTPCAP_BPF_HOOKS=syscalls
# says so, and the same cases pass with the main object on sys_exit, with
# threads (close racing new sockets on the same fd) too.  A kernel that
# refuses the socket-layer programs alone (HTTPCAP_BPF_HOOKS=refuse-sock)
# gets the main object on sys_exit.
. "$(dirname "$0")/lib.sh"
need_root
HERE=$(cd "$(dirname "$0")" && pwd)
export HTTPCAP_BPF_COMPAT=1

"$HTTPCAP" -v --duration 1 -w "$T/probe.htc" >/dev/null 2>"$T/probe.err" ||
	fail "httpcap with the compat object failed: $(tail -3 "$T/probe.err")"
grep -q "read with bpf_probe_read_kernel (the object for kernels without bpf_rdonly_cast)" \
	"$T/probe.err" || fail "httpcap -v does not say it loaded the compat object: $(cat "$T/probe.err")"
grep -q "BTF tracepoint sys_exit, for accept" "$T/probe.err" ||
	fail "the compat object did not take sys_exit: $(cat "$T/probe.err")"
# unforced, the main object where the kernel has the kfunc, else the compat one
unset HTTPCAP_BPF_COMPAT
want="kernel fields read through bpf_rdonly_cast"
grep -qw bpf_rdonly_cast /proc/kallsyms || want="the object for kernels without bpf_rdonly_cast"
"$HTTPCAP" -v --duration 1 -w "$T/probe2.htc" >/dev/null 2>"$T/probe2.err" ||
	fail "httpcap with the default object failed: $(tail -3 "$T/probe2.err")"
grep -q "$want" "$T/probe2.err" ||
	fail "httpcap -v does not say '$want': $(cat "$T/probe2.err")"
hooks="BTF tracepoint sys_exit, for accept"
if [ "$want" = "kernel fields read through bpf_rdonly_cast" ] &&
	grep -qw __traceiter_sock_send_length /proc/kallsyms; then
	hooks="BTF tracepoints sock_send_length and sock_recv_length for the data"
fi
grep -q "$hooks" "$T/probe2.err" || fail "httpcap -v does not say '$hooks': $(cat "$T/probe2.err")"
# a kernel that refuses the socket-layer programs alone keeps the main
# object, on sys_exit, with TLS, and says why
if [ "$hooks" != "BTF tracepoint sys_exit, for accept" ]; then
	HTTPCAP_BPF_HOOKS=refuse-sock "$HTTPCAP" -v --duration 1 -w "$T/probe5.htc" >/dev/null 2>"$T/probe5.err" ||
		fail "httpcap did not fall back to sys_exit: $(tail -3 "$T/probe5.err")"
	grep -q "the BPF programs on the socket layer's tracepoints were refused (.*): taking every syscall at sys_exit" \
		"$T/probe5.err" || fail "the fallback to sys_exit is not said: $(cat "$T/probe5.err")"
	grep -q "BTF tracepoint sys_exit, for accept" "$T/probe5.err" &&
		grep -q "kernel fields read through bpf_rdonly_cast" "$T/probe5.err" ||
		fail "not the main object on sys_exit: $(cat "$T/probe5.err")"
	! grep -q "TLS probes could not be loaded" "$T/probe5.err" ||
		fail "the fallback to sys_exit lost TLS: $(cat "$T/probe5.err")"
fi
HTTPCAP_BPF_HOOKS=syscalls "$HTTPCAP" -v --duration 1 -w "$T/probe4.htc" >/dev/null 2>"$T/probe4.err" ||
	fail "httpcap with HTTPCAP_BPF_HOOKS=syscalls failed: $(tail -3 "$T/probe4.err")"
grep -q "BTF tracepoint sys_exit, for accept" "$T/probe4.err" ||
	fail "HTTPCAP_BPF_HOOKS=syscalls did not take sys_exit: $(cat "$T/probe4.err")"

# a kernel that refuses the main object for a reason its BTF does not show
# gets the compat one, with TLS still on, and a line that says why (where
# the main object is the one tried first)
export HTTPCAP_BPF_COMPAT=fallback
"$HTTPCAP" -v --duration 1 -w "$T/probe3.htc" >/dev/null 2>"$T/probe3.err" ||
	fail "httpcap did not fall back to the compat object: $(tail -3 "$T/probe3.err")"
if grep -qw bpf_rdonly_cast /proc/kallsyms; then
	grep -q "the BPF object for Linux 6.2 and later was refused (.*): loaded the one for older kernels" \
		"$T/probe3.err" || fail "the fallback is not said: $(cat "$T/probe3.err")"
fi
grep -q "the object for kernels without bpf_rdonly_cast" "$T/probe3.err" ||
	fail "httpcap -v does not say it fell back to the compat object: $(cat "$T/probe3.err")"
! grep -q "TLS probes could not be loaded" "$T/probe3.err" ||
	fail "the fallback lost TLS: $(cat "$T/probe3.err")"

export HTTPCAP_BPF_COMPAT=1
for c in peer_modes preexisting; do
	bash "$HERE/e2e_$c.sh" >"$T/$c.log" 2>&1 || fail "$c with the compat object: $(tail -20 "$T/$c.log")"
	! grep -q '^SKIP' "$T/$c.log" || fail "$c skipped: $(cat "$T/$c.log")"
done
unset HTTPCAP_BPF_COMPAT
export HTTPCAP_BPF_HOOKS=syscalls
for c in peer_modes preexisting threads; do
	bash "$HERE/e2e_$c.sh" >"$T/$c-sys.log" 2>&1 ||
		fail "$c with the main object on sys_exit: $(tail -20 "$T/$c-sys.log")"
	! grep -q '^SKIP' "$T/$c-sys.log" || fail "$c skipped: $(cat "$T/$c-sys.log")"
done
echo "compat object: loads, is the fallback, and peer_modes and preexisting pass with it, and those and threads with the main object on sys_exit"
