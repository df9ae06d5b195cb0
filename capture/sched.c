// SPDX-License-Identifier: MIT
/*
 * sched.c - when the drain loop gets a CPU.
 *
 * Everything httpcap does in user space (redaction, encoding, zstd) takes
 * a CPU away from the traced programs while it runs.  A server and its
 * clients feed each other, so the program whose CPU the drain takes stalls
 * its peers too; at moderate load the drain's bursts show as latency: a
 * request that arrives while the drain holds the CPU waits for it.
 *
 * So the drain runs SCHED_IDLE while it keeps up: it gets a CPU only when
 * no other thread wants one, and a woken server preempts it at once.
 * When it cannot keep up the rings would fill and drop events, so a guard
 * thread of normal priority wakes every GUARD_MS and raises the drain to
 * SCHED_BATCH (a fair share, without preempting on wakeup) when a ring is
 * FILL_HIGH full, or when the drain has been runnable without running for
 * STARVED_TICKS ticks in a row (it got less than STARVED_RUN_NS of CPU
 * in each: CPUs kept busy by any work, traced or not:
 * events, a new process's /proc entry or a --top screen wait ~45 ms at
 * most).  Once a pass leaves the rings FILL_LOW full or less, and the hold
 * time after the last raise, the drain lowers itself again.  The hold
 * adapts (cap_sched_hold): HOLD_MIN_NS after a raise that came long after
 * the last lowering (a burst: a client opening its connections, a busy
 * moment of a host that mostly idles), twice the last one, up to
 * HOLD_MAX_NS, when the drain starved again within BUSY_NS of being
 * lowered (a host that keeps every CPU busy, where each round of starving
 * then catching up is a long burst of work on cold data).  The guard raises whenever the
 * drain is behind, asking the kernel for the drain's policy rather than
 * trusting what was last set, so a raise and a lowering that cross cannot
 * leave the drain starving.
 *
 * Measured (nginx return-200 under wrk on 2 CPUs, interleaved with the
 * SCHED_BATCH-only build): at ~95k requests/s (paced, half the untraced
 * maximum) the p99 latency 1.85 -> 1.61 ms and 1.93 -> 1.68 ms (untraced
 * 1.17-1.22); at the maximum rate -0.8% requests/s, within the noise, no
 * drops.  The guard's ticks are not free: every 5 ms they cost ~2% of
 * requests/s at the maximum rate, hence 15.  A fixed hold of 10 s kept
 * the drain SCHED_BATCH through whole runs at half load, since wrk's
 * connections opening starved it once at the start: the adaptive hold
 * is in bench/notes.md (Issue 12, 2026-12-05, second part).
 *
 * Raising a thread out of SCHED_IDLE needs CAP_SYS_NICE or an RLIMIT_NICE
 * of 20; without them (-Z dropped root) the drain stays SCHED_BATCH.
 *
 * SCHED_IDLE is not enough on its own: how long the drain keeps a CPU at
 * a time matters as much as how much CPU it takes.  On this project's
 * 2-CPU VM (nginx return-200 paced at half the maximum, 1 ms batches of
 * requests, p99 latency, medians of 8 rounds), a SCHED_IDLE busy loop
 * that takes 5% of a CPU cost 1.16x untraced in 50 us bursts every 1 ms,
 * and 1.92x in 2 ms bursts every 40 ms, p50 unchanged: a long burst
 * delays the requests that arrive during it (how, on this VM, was not
 * pinned down: interrupt counts hardly moved), so whole batches of
 * requests end late, and p99 is made of those.  So a pass of
 * the drain takes at most CAP_DRAIN_CHUNK records (~40 us of work),
 * and when more wait it naps NAP_NS before the next (cap_sched_nap),
 * while it keeps up: never once a ring is more than NAP_FILL_MAX full
 * or the guard has raised it.  Measured, the same build with and without
 * chunks (frames of 1 MiB), interleaved at half load: p99 1.45 -> 1.37
 * ms and 1.31 -> 1.21 ms in runs of 8 and 10 rounds (untraced 1.03 and
 * 0.88); with 256 KiB frames as well (output.c) 1.14 ms.  Chunks of 64
 * records with naps of 100 us were worse than none (2.01 ms against
 * 1.51): a wakeup per nap costs too.  bench/notes.md has the runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"

#define GUARD_MS 15
#define STARVED_TICKS 2
/*
 * A tick is starved when the drain, runnable at its end, ran less than 1%
 * of it.  SCHED_IDLE beside a busy task gets ~0.3% of its CPU (weight 3
 * against 1024), so a host without idle time is still seen within a few
 * ticks (tests/capture/e2e_starved.sh).  A tenth, the first threshold,
 * also took for starved a drain that keeps up in short idle spells: at
 * half load (nginx and wrk each ~70% busy in 1 ms bursts, the drain
 * needing ~7% of a CPU) it was caught runnable with under 1.5 ms of a
 * tick and raised 3-4 times per 5 s run, then held SCHED_BATCH for up to
 * seconds; with 1% it was raised 0-1 times.  p99 at a fixed 70k req/s,
 * interleaved, medians of 5, in two runs: 3.09 -> 1.79 ms and 2.57 ->
 * 2.55 ms (untraced 1.22 and 1.13): the host's noise is as large.
 */
#define STARVED_RUN_NS (GUARD_MS * 10000ull)
#define FILL_HIGH 250		/* per mille of a ring */
#define FILL_LOW 30
#define HOLD_MIN_NS 500000000ull	/* BATCH at least this long once raised */
#define HOLD_MAX_NS 10000000000ull
#define BUSY_NS 1000000000ull		/* starved again sooner: hold longer */
#define ROOM_NS 250000000ull		/* idle CPU weighed over at least this */
#define NAP_NS 200000ull		/* between two chunks of a drain */
/* no naps once a ring is this full (per mille): above the kernel side's
 * wakeup threshold (a 32nd of a ring, 31), so that a drain woken by it
 * naps between its chunks, and far below FILL_HIGH, where the guard
 * raises the drain */
#define NAP_FILL_MAX 100

struct cap_sched {
	struct cap_rings *rings;
	pid_t drain_tid;
	clockid_t drain_clock;	/* the drain thread's CPU time */
	int stat_fd;		/* /proc/self/task/TID/stat: R when runnable */
	pthread_t guard;
	bool guard_running;
	atomic_bool stop;
	atomic_int mode;	/* what the drain last set: a hint, see above */
	atomic_uint raises;
	atomic_uint_fast64_t raised_ns;	/* when the guard last raised it */
	atomic_uint_fast64_t hold_ns;	/* how long it stays raised, from then */
	atomic_uint_fast64_t lowered_ns;	/* when it last went SCHED_IDLE */
	/* the drain's own: idle CPU of the host (/proc/stat) and its own CPU
	 * time when it last looked, to judge whether SCHED_IDLE could keep
	 * up (room_ns 0: not looked yet since the last lowering) */
	int host_stat_fd;
	uint64_t room_ns, room_idle, room_cpu;
};

static int set_policy(pid_t tid, int mode)
{
	int policy = mode == CAP_SCHED_IDLE ? SCHED_IDLE : SCHED_BATCH;

	return sched_setscheduler(tid, policy, &(struct sched_param){ 0 }) ? -errno : 0;
}

int cap_sched_next(int mode, unsigned fill_pm, unsigned starved_ticks, bool drain_side)
{
	if (drain_side)
		return mode == CAP_SCHED_BATCH && fill_pm <= FILL_LOW ? CAP_SCHED_IDLE : mode;
	return fill_pm >= FILL_HIGH || starved_ticks >= STARVED_TICKS ? CAP_SCHED_BATCH : mode;
}

uint64_t cap_sched_hold(uint64_t hold_ns, uint64_t lowered_for_ns)
{
	if (lowered_for_ns >= BUSY_NS || hold_ns < HOLD_MIN_NS)
		return HOLD_MIN_NS;
	return hold_ns >= HOLD_MAX_NS / 2 ? HOLD_MAX_NS : 2 * hold_ns;
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	if (clock_gettime(c, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool cap_sched_room(uint64_t idle_ns, uint64_t drain_ns)
{
	return idle_ns >= 2 * drain_ns;
}

/* CPU time every CPU of the host has spent idle (idle and iowait on
 * /proc/stat's first line), in ns; 0 when it cannot be read. */
static uint64_t host_idle_ns(int fd)
{
	unsigned long long v[5];
	char buf[256];
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1, 0);
	long hz = sysconf(_SC_CLK_TCK);

	if (n <= 0 || hz <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "cpu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]) != 5)
		return 0;
	return (uint64_t)(v[3] + v[4]) * (1000000000ull / (uint64_t)hz);
}

/*
 * Whether SCHED_IDLE would keep up now: the host's CPUs were idle at least
 * twice as long as the drain ran since it last looked, ROOM_NS or more ago.
 * The first look after a lowering only takes the baseline.  A host whose
 * idle time cannot be read always has room (the guard still raises).
 */
static bool drain_has_room(struct cap_sched *s, uint64_t now)
{
	uint64_t idle, cpu;
	bool room;

	if (s->room_ns && now - s->room_ns < ROOM_NS)
		return false;
	idle = host_idle_ns(s->host_stat_fd);
	if (!idle)
		return true;
	cpu = clock_ns(s->drain_clock);
	room = s->room_ns && cap_sched_room(idle - s->room_idle, cpu - s->room_cpu);
	s->room_ns = now;
	s->room_idle = idle;
	s->room_cpu = cpu;
	return room;
}

/* Whether the drain thread is runnable (state R) rather than asleep. */
static bool drain_runnable(const struct cap_sched *s)
{
	char buf[256];
	ssize_t n = pread(s->stat_fd, buf, sizeof(buf) - 1, 0);
	const char *p;

	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the name may hold anything but ends there */
	return p && p[1] == ' ' && p[2] == 'R';
}

/* The hold of a raise from SCHED_IDLE at now (cap_sched_hold), from how
 * long the drain had been lowered: lowered_ns 0 is never; signed, so a
 * lowering after now was read counts as just now. */
static uint64_t raise_hold(struct cap_sched *s, uint64_t now)
{
	uint64_t low = atomic_load(&s->lowered_ns);
	int64_t since = low ? (int64_t)(now - low) : INT64_MAX;

	return cap_sched_hold(atomic_load(&s->hold_ns), since > 0 ? (uint64_t)since : 0);
}

/*
 * Every GUARD_MS: a tick in which the drain was runnable but ran for less
 * than STARVED_RUN_NS is a starved tick.  Behind (full rings, or starved
 * ticks in a row): raise it.
 */
static void *guard_main(void *arg)
{
	struct cap_sched *s = arg;
	struct timespec ts = { 0, GUARD_MS * 1000000L };
	uint64_t last_cpu = clock_ns(s->drain_clock);
	unsigned starved = 0;

	while (!atomic_load(&s->stop)) {
		uint64_t cpu;

		nanosleep(&ts, NULL);
		/* starving is only looked for while it is SCHED_IDLE (at a
		 * fair share it runs), asked of the kernel rather than mode,
		 * which a crossing raise and lowering can leave wrong; the
		 * rings' fill always */
		if (sched_getscheduler(s->drain_tid) == SCHED_IDLE) {
			cpu = clock_ns(s->drain_clock);
			if (cpu - last_cpu < STARVED_RUN_NS && drain_runnable(s))
				starved++;
			else
				starved = 0;
			last_cpu = cpu;
		} else {
			starved = 0;
			last_cpu = 0;
		}
		if (cap_sched_next(CAP_SCHED_IDLE, cap_rings_fill(s->rings), starved, false) ==
		    CAP_SCHED_BATCH) {
			uint64_t now = cap_mono_ns();

			if (atomic_exchange(&s->mode, CAP_SCHED_BATCH) == CAP_SCHED_IDLE) {
				atomic_fetch_add(&s->raises, 1);
				atomic_store(&s->hold_ns, raise_hold(s, now));
			}
			atomic_store(&s->raised_ns, now);
			/* whatever mode says: a lowering may have crossed this */
			set_policy(s->drain_tid, CAP_SCHED_BATCH);
			starved = 0;
		}
	}
	return NULL;
}

/* Whether this thread could leave SCHED_IDLE again once in it:
 * CAP_SYS_NICE (23) in its effective set, or an RLIMIT_NICE of 20. */
static bool can_raise(void)
{
	char line[256];
	struct rlimit rl;
	bool nice = false;
	FILE *f;

	if (!getrlimit(RLIMIT_NICE, &rl) && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 20))
		return true;
	f = fopen("/proc/self/status", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long caps;

		if (sscanf(line, "CapEff: %llx", &caps) == 1) {
			nice = caps >> 23 & 1;
			break;
		}
	}
	fclose(f);
	return nice;
}

struct cap_sched *cap_sched_start(struct cap_rings *rings, int *err)
{
	struct cap_sched *s = calloc(1, sizeof(*s));
	char path[64];
	sigset_t all, old;

	*err = -ENOMEM;
	if (!s)
		return NULL;
	s->rings = rings;
	s->stat_fd = -1;
	s->host_stat_fd = -1;
	s->drain_tid = (pid_t)syscall(SYS_gettid);
	atomic_store(&s->mode, CAP_SCHED_BATCH);
	/* SCHED_BATCH throughout (or the default) when any of this fails */
	*err = set_policy(0, CAP_SCHED_BATCH);
	if (*err)
		return s;
	*err = -EPERM;	/* could not leave SCHED_IDLE again */
	if (!can_raise())
		return s;
	*err = -pthread_getcpuclockid(pthread_self(), &s->drain_clock);
	if (*err)
		return s;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)s->drain_tid);
	s->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->stat_fd < 0) {
		*err = -errno;	/* no /proc: starving could not be seen */
		return s;
	}
	s->host_stat_fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
	/* signals stay with the drain thread, whose poll they interrupt */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	*err = -pthread_create(&s->guard, NULL, guard_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (*err)
		return s;
	s->guard_running = true;
	/* the first raise holds HOLD_MIN_NS (lowered_ns 0: never lowered) */
	atomic_store(&s->hold_ns, HOLD_MIN_NS);
	atomic_store(&s->mode, CAP_SCHED_IDLE);
	*err = set_policy(0, CAP_SCHED_IDLE);
	if (*err)
		atomic_store(&s->mode, CAP_SCHED_BATCH);
	return s;
}

void cap_sched_pass(struct cap_sched *s, uint64_t now)
{
	if (!s || !s->guard_running || atomic_load(&s->mode) != CAP_SCHED_BATCH ||
	    /* signed: a raise after now was read counts as just now */
	    (int64_t)(now - atomic_load(&s->raised_ns)) < (int64_t)atomic_load(&s->hold_ns) ||
	    cap_sched_next(CAP_SCHED_BATCH, cap_rings_fill(s->rings), 0, true) != CAP_SCHED_IDLE ||
	    !drain_has_room(s, now))
		return;
	s->room_ns = 0;
	atomic_store(&s->lowered_ns, now);
	atomic_store(&s->mode, CAP_SCHED_IDLE);
	if (set_policy(0, CAP_SCHED_IDLE))
		atomic_store(&s->mode, CAP_SCHED_BATCH);
}

bool cap_sched_naps(unsigned fill_pm, bool raised)
{
	return !raised && fill_pm <= NAP_FILL_MAX;
}

void cap_sched_nap(struct cap_sched *s)
{
	struct timespec ts = { 0, NAP_NS };

	/* raised: by the guard, as the drain was behind (a drain that is
	 * SCHED_BATCH throughout, without CAP_SYS_NICE, naps as well) */
	if (!s || !cap_sched_naps(cap_rings_fill(s->rings),
				  s->guard_running && atomic_load(&s->mode) == CAP_SCHED_BATCH))
		return;
	nanosleep(&ts, NULL);	/* a signal cuts it short: the loop looks */
}

unsigned cap_sched_stop(struct cap_sched *s)
{
	unsigned raises;

	if (!s)
		return 0;
	atomic_store(&s->stop, true);
	if (s->guard_running)
		pthread_join(s->guard, NULL);
	/* the last drain and the file's end at a fair share */
	set_policy(0, CAP_SCHED_BATCH);
	if (s->stat_fd >= 0)
		close(s->stat_fd);
	if (s->host_stat_fd >= 0)
		close(s->host_stat_fd);
	raises = atomic_load(&s->raises);
	free(s);
	return raises;
}
