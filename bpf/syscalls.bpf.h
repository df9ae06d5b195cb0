/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * syscalls.bpf.h - what the raw_syscalls programs need per architecture:
 * the numbers of the syscalls httpcap traces, where the syscall number and
 * the arguments are in the user pt_regs at sys_exit, and how to tell a
 * compat (32-bit) syscall, whose numbers are another table.
 *
 * At sys_exit the saved user registers still hold the arguments (the
 * kernel only writes the return value register), except on arm64 where x0
 * holds the return value and the first argument is kept in orig_x0.  So
 * the exit program reads everything it needs from pt_regs and no entry
 * program is needed for data syscalls.
 */
#ifndef HTTPCAP_SYSCALLS_BPF_H
#define HTTPCAP_SYSCALLS_BPF_H

#if defined(__TARGET_ARCH_x86)

#define HNR_READ	0
#define HNR_WRITE	1
#define HNR_CLOSE	3
#define HNR_READV	19
#define HNR_WRITEV	20
#define HNR_SENDFILE	40
#define HNR_CONNECT	42
#define HNR_ACCEPT	43
#define HNR_SENDTO	44
#define HNR_RECVFROM	45
#define HNR_SENDMSG	46
#define HNR_RECVMSG	47
#define HNR_ACCEPT4	288
#define HNR_RECVMMSG	299
#define HNR_SENDMMSG	307

/* The user registers as saved at syscall entry (fixed by the ABI). */
struct sys_regs {
	__u64 nr, a0, a1, a2, a3;
};

static __always_inline long sys_nr(struct pt_regs *regs)
{
	return regs->orig_ax;
}

static __always_inline void sys_args(struct pt_regs *regs, struct sys_regs *r)
{
	r->a0 = regs->di;
	r->a1 = regs->si;
	r->a2 = regs->dx;
	r->a3 = regs->r10;
}

#define TS_COMPAT 0x0002
/* An ia32 syscall of a 32-bit (or int 0x80) caller: other numbers. */
static __always_inline bool sys_compat(struct task_struct *task)
{
	return task->thread_info.status & TS_COMPAT;
}

#elif defined(__TARGET_ARCH_arm64)

/* asm-generic/unistd.h: no accept/sendfile numbers of their own there
 * other than these */
#define HNR_CLOSE	57
#define HNR_READ	63
#define HNR_WRITE	64
#define HNR_READV	65
#define HNR_WRITEV	66
#define HNR_SENDFILE	71
#define HNR_ACCEPT	202
#define HNR_CONNECT	203
#define HNR_SENDTO	206
#define HNR_RECVFROM	207
#define HNR_SENDMSG	211
#define HNR_RECVMSG	212
#define HNR_ACCEPT4	242
#define HNR_RECVMMSG	243
#define HNR_SENDMMSG	269

struct sys_regs {
	__u64 nr, a0, a1, a2, a3;
};

static __always_inline long sys_nr(struct pt_regs *regs)
{
	return regs->syscallno;
}

static __always_inline void sys_args(struct pt_regs *regs, struct sys_regs *r)
{
	r->a0 = regs->orig_x0;
	r->a1 = regs->regs[1];
	r->a2 = regs->regs[2];
	r->a3 = regs->regs[3];
}

/* compat (aarch32) tasks: not traced */
static __always_inline bool sys_compat(struct task_struct *task)
{
	return false;
}

#else
#error "httpcap: add this architecture's syscall numbers to bpf/syscalls.bpf.h"
#endif

#endif /* HTTPCAP_SYSCALLS_BPF_H */
