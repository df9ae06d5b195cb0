/* SPDX-License-Identifier: MIT */
/*
 * httpcap_bpf.h - what bpf/httpcap.bpf.c and capture/ share: the event the
 * kernel side puts in the ring buffer, the loss counter slots and the
 * limits.  Fixed-width kernel types only and no libc, so that the BPF
 * program (which includes vmlinux.h first) and user space (which gets the
 * types from <linux/types.h>) see the same layout.
 *
 * The enum values below mirror include/htc.h (event types, syscalls, roles,
 * loss reasons, HTC_AF_*, HTC_EVF_*); capture/ checks that they stay equal
 * with static assertions, so the conversion is a field copy.
 */
#ifndef HTTPCAP_BPF_H
#define HTTPCAP_BPF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Largest snaplen the kernel side can copy.  A power of two: the BPF code
 * masks offsets and lengths with HCB_MAX_SNAPLEN - 1 to keep the verifier
 * convinced that every copy stays inside the scratch buffer. */
#define HCB_MAX_SNAPLEN		65536
#define HCB_DEFAULT_SNAPLEN	8192
/* iovecs read per readv/writev/sendmsg/recvmsg message: the loop stops at
 * the message's iovcnt or the snaplen, so a large bound costs nothing (16
 * lost the end of gRPC's first write, 25 iovecs; the kernel's UIO_MAXIOV,
 * 1024, makes the verifier refuse the program with E2BIG), and messages
 * per sendmmsg/recvmmsg call.  Bytes beyond them are
 * counted (ret) but not captured, and the event is flagged PARTIAL. */
#define HCB_MAX_IOV		512
#define HCB_MAX_MMSG		8
/* Map sizes: threads inside a traced syscall at once, open connections
 * tracked at once, processes with tracked connections, filter entries. */
#define HCB_MAX_INFLIGHT	16384
#define HCB_MAX_CONNS		65536
#define HCB_MAX_PROCS		16384
#define HCB_MAX_FILTER		64
#define HCB_COMM_LEN		16

/* A --host entry: the key of an LPM trie over 128-bit addresses.  IPv4
 * is stored as ::ffff:a.b.c.d (prefix + 96), so one trie answers for both
 * families; prefixlen counts the bits of addr that must match. */
struct hcb_host_key {
	__u32 prefixlen;
	__u8 addr[16];		/* network byte order */
};

/* Event types (= enum htc_event_type) plus one internal notification. */
enum hcb_event_type {
	HCB_EV_ACCEPT = 0,
	HCB_EV_READ = 1,
	HCB_EV_CONNECT = 2,
	HCB_EV_WRITE = 3,
	HCB_EV_CLOSE = 4,
	/* not an htc event: a process that had connections exited, so user
	 * space may forget its metadata (pids are reused) */
	HCB_EV_PROC_EXIT = 100,
	/* not an htc event: a process called exec (pid, comm): user space
	 * looks for TLS libraries to probe in it (capture/tls.c) */
	HCB_EV_EXEC = 101,
};

/* Syscalls (= enum htc_syscall). */
enum hcb_syscall {
	HCB_SYS_UNKNOWN = 0,
	HCB_SYS_READ = 1,
	HCB_SYS_READV = 2,
	HCB_SYS_RECVFROM = 3,
	HCB_SYS_RECVMSG = 4,
	HCB_SYS_RECVMMSG = 5,
	HCB_SYS_WRITE = 6,
	HCB_SYS_WRITEV = 7,
	HCB_SYS_SENDTO = 8,
	HCB_SYS_SENDMSG = 9,
	HCB_SYS_SENDMMSG = 10,
	HCB_SYS_SENDFILE = 11,
	HCB_SYS_ACCEPT = 12,
	HCB_SYS_ACCEPT4 = 13,
	HCB_SYS_CONNECT = 14,
	HCB_SYS_CLOSE = 15,
	HCB_SYS_EXIT = 16,
	/* TLS library calls (bpf/tls.bpf.h) */
	HCB_SYS_SSL_READ = 17,
	HCB_SYS_SSL_WRITE = 18,
	HCB_SYS_GNUTLS_RECV = 19,
	HCB_SYS_GNUTLS_SEND = 20,
	HCB_SYS_GO_TLS_READ = 21,
	HCB_SYS_GO_TLS_WRITE = 22,
};

/* Roles (= enum htc_role) and families (= HTC_AF_*). */
#define HCB_ROLE_UNKNOWN	0
#define HCB_ROLE_SERVER		1
#define HCB_ROLE_CLIENT		2
#define HCB_AF_INET		4
#define HCB_AF_INET6		6

/* Event flags (= HTC_EVF_*; 0x0001 REDACTED is set by user space). */
#define HCB_EVF_PREEXISTING	0x0002
#define HCB_EVF_PARTIAL		0x0004
#define HCB_EVF_TLS		0x0008	/* TLS plaintext (a library call) */
#define HCB_EVF_TLS_CIPHER	0x0010	/* ciphertext of a decrypted connection: no payload */
/* seq_end holds the TCP sequence number after the event's last byte
 * (= HTC_EVF_SEQ; htc_event.tcp_seq is the first byte's, ret before) */
#define HCB_EVF_SEQ		0x0020

/* Per-CPU counter slots.  The first ones are the loss reasons
 * (= enum htc_loss_reason); user space sums the CPUs and turns deltas into
 * HTC_REC_LOSS records. */
enum hcb_counter {
	HCB_CNT_RINGBUF_FULL = 0,	/* bpf_ringbuf_output/reserve failed */
	HCB_CNT_MAP_FULL = 1,		/* per-thread or per-connection state not stored */
	HCB_CNT_PAYLOAD_READ = 2,	/* bpf_probe_read_user of the payload failed */
	HCB_CNT_NO_ENTRY = 3,		/* connect exit without its entry */
	HCB_CNT_LOSS_END = 4,		/* loss slots end here (HTC_LOSS_USER is user space's) */
	/* 8, 9: free (events and payload bytes submitted were counted here,
	 * two updates per event for what user space counts as it reads) */
	HCB_CNT_CONNS = 10,		/* connections created */
	HCB_CNT_FILTERED = 11,		/* connections left out by --port, --host or --cgroup */
	HCB_CNT_TLS_EVENTS = 12,	/* TLS plaintext events (bpf/tls.bpf.h) */
	HCB_CNT_TLS_UNTIED = 13,	/* TLS plaintext with no tracked connection found */
	HCB_CNT__COUNT = 16,
};

/*
 * One ring-buffer record: an event (type ACCEPT..CLOSE) followed by
 * cap_len payload bytes (a TLS plaintext record can be longer: its size is
 * reserved before its bytes are copied; the rest is not data), or a
 * PROC_EXIT notification (pid only).
 * Field meanings are those of struct htc_event in include/htc.h.
 * fd is the connection's fd (for ACCEPT, the new fd, also in ret).
 */
struct hcb_event {
	__u64 ts_ns;		/* syscall exit (reads/writes: end of the socket's sendmsg/recvmsg), bpf_ktime_get_ns() */
	__u64 dur_ns;		/* CONNECT: entry to exit; 0 for the others (no entry program) */
	__u64 conn_id;		/* from a global counter: never reused */
	__u64 stream_off;	/* READ/WRITE: bytes before; CLOSE: total read */
	__u64 stream_off2;	/* CLOSE: total written */
	__s64 ret;
	__u32 pid;		/* tgid */
	__u32 tid;
	__s32 fd;
	__u32 cap_len;		/* payload bytes following this struct */
	__u16 flags;		/* HCB_EVF_* */
	__u8 type;		/* enum hcb_event_type */
	__u8 syscall;		/* enum hcb_syscall */
	__u8 family;		/* HCB_AF_* */
	__u8 role;		/* HCB_ROLE_* */
	__u16 lport;		/* host byte order */
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];		/* network byte order, IPv4 in the first 4 */
	__u8 raddr[16];
	char comm[HCB_COMM_LEN];
	/* READ: the socket's copied_seq after the call, WRITE: its write_seq
	 * after the call, i.e. the TCP sequence number just past the event's
	 * bytes, when flags has HCB_EVF_SEQ; 0 otherwise.  Also pads: the
	 * payload starts 8-byte aligned, at 128. */
	__u32 seq_end;
	__u8 payload[];
};

#endif /* HTTPCAP_BPF_H */
