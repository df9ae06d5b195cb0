// SPDX-License-Identifier: MIT
/*
 * convert.c - turn one ring-buffer sample of the BPF program (struct
 * hcb_event followed by its payload) into a libhtc record.  The sample is
 * checked like any other input: a size that does not match the header's
 * cap_len is rejected rather than trusted.
 */
#include <errno.h>
#include <string.h>

#include "capture.h"

#define SAME(a, b) ((int)(a) == (int)(b))

/* The BPF side uses its own copies of htc.h's numbers (it cannot include a
 * libc header); these keep the two from drifting apart. */
_Static_assert(SAME(HCB_EV_ACCEPT, HTC_EV_ACCEPT) && SAME(HCB_EV_READ, HTC_EV_READ) &&
	       SAME(HCB_EV_CONNECT, HTC_EV_CONNECT) && SAME(HCB_EV_WRITE, HTC_EV_WRITE) &&
	       SAME(HCB_EV_CLOSE, HTC_EV_CLOSE), "event types");
_Static_assert(SAME(HCB_SYS_READ, HTC_SYS_READ) && SAME(HCB_SYS_READV, HTC_SYS_READV) &&
	       SAME(HCB_SYS_RECVFROM, HTC_SYS_RECVFROM) && SAME(HCB_SYS_RECVMSG, HTC_SYS_RECVMSG) &&
	       SAME(HCB_SYS_RECVMMSG, HTC_SYS_RECVMMSG) && SAME(HCB_SYS_WRITE, HTC_SYS_WRITE) &&
	       SAME(HCB_SYS_WRITEV, HTC_SYS_WRITEV) && SAME(HCB_SYS_SENDTO, HTC_SYS_SENDTO) &&
	       SAME(HCB_SYS_SENDMSG, HTC_SYS_SENDMSG) && SAME(HCB_SYS_SENDMMSG, HTC_SYS_SENDMMSG) &&
	       SAME(HCB_SYS_SENDFILE, HTC_SYS_SENDFILE) && SAME(HCB_SYS_ACCEPT, HTC_SYS_ACCEPT) &&
	       SAME(HCB_SYS_ACCEPT4, HTC_SYS_ACCEPT4) && SAME(HCB_SYS_CONNECT, HTC_SYS_CONNECT) &&
	       SAME(HCB_SYS_CLOSE, HTC_SYS_CLOSE) && SAME(HCB_SYS_EXIT, HTC_SYS_EXIT) &&
	       SAME(HCB_SYS_SSL_READ, HTC_SYS_SSL_READ) && SAME(HCB_SYS_SSL_WRITE, HTC_SYS_SSL_WRITE) &&
	       SAME(HCB_SYS_GNUTLS_RECV, HTC_SYS_GNUTLS_RECV) &&
	       SAME(HCB_SYS_GNUTLS_SEND, HTC_SYS_GNUTLS_SEND) &&
	       SAME(HCB_SYS_GO_TLS_READ, HTC_SYS_GO_TLS_READ) &&
	       SAME(HCB_SYS_GO_TLS_WRITE, HTC_SYS_GO_TLS_WRITE), "syscalls");
_Static_assert(SAME(HCB_ROLE_UNKNOWN, HTC_ROLE_UNKNOWN) && SAME(HCB_ROLE_SERVER, HTC_ROLE_SERVER) &&
	       SAME(HCB_ROLE_CLIENT, HTC_ROLE_CLIENT), "roles");
_Static_assert(SAME(HCB_AF_INET, HTC_AF_INET) && SAME(HCB_AF_INET6, HTC_AF_INET6), "families");
_Static_assert(SAME(HCB_EVF_PREEXISTING, HTC_EVF_PREEXISTING) && SAME(HCB_EVF_PARTIAL, HTC_EVF_PARTIAL) &&
	       SAME(HCB_EVF_SEQ, HTC_EVF_SEQ) &&
	       SAME(HCB_EVF_TLS, HTC_EVF_TLS) && SAME(HCB_EVF_TLS_CIPHER, HTC_EVF_TLS_CIPHER),
	       "flags");
_Static_assert(SAME(HCB_CNT_RINGBUF_FULL, HTC_LOSS_RINGBUF_FULL) &&
	       SAME(HCB_CNT_MAP_FULL, HTC_LOSS_MAP_FULL) &&
	       SAME(HCB_CNT_PAYLOAD_READ, HTC_LOSS_PAYLOAD_READ) &&
	       SAME(HCB_CNT_NO_ENTRY, HTC_LOSS_NO_ENTRY) && SAME(HCB_CNT_LOSS_END, HTC_LOSS_USER),
	       "loss reasons");
_Static_assert(sizeof(struct hcb_event) == 128, "ring buffer event header layout");

int cap_decode_event(const void *data, size_t size, struct htc_record *rec, uint32_t *exit_pid)
{
	const struct hcb_event *e = data;
	struct htc_event *ev = &rec->ev;

	if (size < sizeof(*e))
		return -EINVAL;
	if (e->type == HCB_EV_PROC_EXIT) {
		*exit_pid = e->pid;
		return 0;
	}
	if (e->type == HCB_EV_EXEC) {
		*exit_pid = e->pid;
		return 2;
	}
	if (e->type > HCB_EV_CLOSE || e->syscall > HCB_SYS_GO_TLS_WRITE ||
	    e->cap_len > size - sizeof(*e) || e->cap_len > HCB_MAX_SNAPLEN)
		return -EINVAL;
	/* plaintext comes from the library calls only, and only as data */
	if (!!(e->flags & HCB_EVF_TLS) != (e->syscall >= HCB_SYS_SSL_READ) ||
	    ((e->flags & HCB_EVF_TLS) && e->type != HCB_EV_READ && e->type != HCB_EV_WRITE))
		return -EINVAL;
	/* every field of the event set once (struct htc_event has no other),
	 * no memset of the record first: its rep stos was 40% of this
	 * function's time under load (perf annotate) */
	rec->type = (e->type == HCB_EV_READ || e->type == HCB_EV_WRITE) ? HTC_REC_DATA
									 : HTC_REC_CONN;
	ev->type = e->type;
	ev->syscall = e->syscall;
	ev->flags = e->flags & (HTC_EVF_PREEXISTING | HTC_EVF_PARTIAL | HTC_EVF_TLS |
				HTC_EVF_TLS_CIPHER);
	ev->pid = e->pid;
	ev->tid = e->tid;
	ev->fd = e->fd;
	ev->ts_ns = e->ts_ns;
	ev->dur_ns = e->dur_ns;
	ev->conn_id = e->conn_id;
	ev->ep.family = e->family;
	ev->ep.role = e->role;
	ev->ep.lport = e->lport;
	ev->ep.rport = e->rport;
	ev->ret = e->ret;
	ev->stream_off = e->stream_off;
	ev->stream_off2 = e->stream_off2;
	ev->cap_len = e->cap_len;
	ev->tcp_seq = 0;
	ev->payload = e->cap_len ? e->payload : NULL;
	/* the kernel gives the sequence number past the bytes; the file
	 * keeps the first byte's */
	if ((e->flags & HCB_EVF_SEQ) && rec->type == HTC_REC_DATA && e->ret > 0) {
		ev->flags |= HTC_EVF_SEQ;
		ev->tcp_seq = e->seq_end - (uint32_t)e->ret;
	}
	memcpy(ev->comm, e->comm, sizeof(ev->comm));
	ev->comm[sizeof(ev->comm) - 1] = '\0';
	memcpy(ev->ep.laddr, e->laddr, sizeof(ev->ep.laddr));
	memcpy(ev->ep.raddr, e->raddr, sizeof(ev->ep.raddr));
	return 1;
}
