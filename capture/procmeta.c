// SPDX-License-Identifier: MIT
/*
 * procmeta.c - process metadata for HTC_REC_PROC: read once from /proc
 * when a process's first event arrives, cached (bounded) so that it can be
 * written again at the start of each rotated file even after the process
 * has gone, and forgotten when the BPF side reports that it exited (pids
 * are reused).  A process that exited before it could be read gets a record
 * with what the event knew (pid, comm).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"

#define PROCTAB_MAX 8192
#define PROCTAB_BUCKETS 4096
#define CMDLINE_MAX 4096
#define CGROUP_MAX 1024
#define CONTAINER_MAX 80

struct pentry {
	struct pentry *next;
	uint32_t pid, ppid, uid, gid;
	uint64_t ts_ns;
	unsigned file_gen;		/* output file it was last written to */
	char comm[HTC_COMM_LEN];
	char *exe, *cmdline, *cgroup;
	uint32_t exe_len, cmdline_len, cgroup_len, container_len;
	char container[CONTAINER_MAX];
};

struct proctab {
	char root[PATH_MAX];
	bool redact;
	struct pentry *buckets[PROCTAB_BUCKETS];
	size_t count;
	unsigned file_gen;
};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

size_t cap_container_id(const char *cg, size_t len, char *out, size_t outlen)
{
	size_t i = 0, best = 0, best_len = 0;

	/* the last run of >= 32 lowercase hex digits: docker-<64>.scope,
	 * /docker/<64>, cri-containerd-<64>.scope, crio-<64>.scope,
	 * libpod-<64>.scope, /kubepods/.../<64>; pod UUIDs (with dashes) and
	 * slice names never have such a run */
	while (i < len) {
		size_t j = i;

		while (j < len && is_hex(cg[j]))
			j++;
		if (j - i >= 32 && (i == 0 || !isalnum((unsigned char)cg[i - 1])) &&
		    (j == len || !isalnum((unsigned char)cg[j]))) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	if (!best_len || !outlen)
		return 0;
	if (best_len > outlen - 1)
		best_len = outlen - 1;
	memcpy(out, cg + best, best_len);
	out[best_len] = '\0';
	return best_len;
}

struct proctab *proctab_new(const char *proc_root, bool redact)
{
	struct proctab *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->redact = redact;
	snprintf(t->root, sizeof(t->root), "%s", proc_root ? proc_root : "/proc");
	return t;
}

static void entry_free(struct pentry *p)
{
	free(p->exe);
	free(p->cmdline);
	free(p->cgroup);
	free(p);
}

static void clear_all(struct proctab *t)
{
	for (size_t b = 0; b < PROCTAB_BUCKETS; b++) {
		while (t->buckets[b]) {
			struct pentry *p = t->buckets[b];

			t->buckets[b] = p->next;
			entry_free(p);
		}
	}
	t->count = 0;
}

void proctab_free(struct proctab *t)
{
	if (!t)
		return;
	clear_all(t);
	free(t);
}

size_t proctab_count(const struct proctab *t)
{
	return t->count;
}

/* Read up to max bytes of a /proc file; returns a malloc'd buffer (NUL
 * added) and its length in *len, or NULL. */
static char *read_file(const char *path, size_t max, uint32_t *len)
{
	char *buf = malloc(max + 1);
	size_t got = 0;
	ssize_t n;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while (got < max && (n = read(fd, buf + got, max - got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
}

static void parse_status(const char *s, struct pentry *p)
{
	const char *l;

	if ((l = strstr(s, "\nPPid:")))
		p->ppid = strtoul(l + 6, NULL, 10);
	if ((l = strstr(s, "\nUid:")))
		p->uid = strtoul(l + 5, NULL, 10);
	if ((l = strstr(s, "\nGid:")))
		p->gid = strtoul(l + 5, NULL, 10);
}

static void read_proc(struct proctab *t, struct pentry *p)
{
	char path[PATH_MAX + 64], link[PATH_MAX];
	uint32_t len = 0;
	ssize_t n;
	char *s;

	snprintf(path, sizeof(path), "%s/%u/status", t->root, p->pid);
	if ((s = read_file(path, 4096, &len))) {
		parse_status(s, p);
		free(s);
	}
	snprintf(path, sizeof(path), "%s/%u/comm", t->root, p->pid);
	if ((s = read_file(path, HTC_COMM_LEN, &len))) {
		if (len && s[len - 1] == '\n')
			s[--len] = '\0';
		if (len) {
			memset(p->comm, 0, sizeof(p->comm));
			memcpy(p->comm, s, len < HTC_COMM_LEN - 1 ? len : HTC_COMM_LEN - 1);
		}
		free(s);
	}
	snprintf(path, sizeof(path), "%s/%u/exe", t->root, p->pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0 && (p->exe = malloc(n + 1))) {
		memcpy(p->exe, link, n);
		p->exe[n] = '\0';
		p->exe_len = n;
	}
	snprintf(path, sizeof(path), "%s/%u/cmdline", t->root, p->pid);
	p->cmdline = read_file(path, CMDLINE_MAX, &p->cmdline_len);
	/* argv ends with a NUL; the record joins arguments by NULs */
	if (p->cmdline && p->cmdline_len && !p->cmdline[p->cmdline_len - 1])
		p->cmdline_len--;
	/* curl -H 'Authorization: ...' must not leak through the metadata */
	if (p->cmdline && t->redact)
		redact_text((uint8_t *)p->cmdline, p->cmdline_len);
	snprintf(path, sizeof(path), "%s/%u/cgroup", t->root, p->pid);
	if ((s = read_file(path, CGROUP_MAX, &len))) {
		/* cgroup v2 "0::/path"; on v1 hosts the first hierarchy's path */
		char *line = strstr(s, "0::");
		char *start, *end;

		if (line && (line == s || line[-1] == '\n'))
			start = line + 3;
		else if ((start = strchr(s, ':')) && (start = strchr(start + 1, ':')))
			start++;
		else
			start = s + len;
		end = strchr(start, '\n');
		if (!end)
			end = s + len;
		memmove(s, start, end - start);
		p->cgroup_len = end - start;
		s[p->cgroup_len] = '\0';
		p->cgroup = s;
		p->container_len = cap_container_id(s, p->cgroup_len, p->container,
						    sizeof(p->container));
	}
}

static struct pentry **slot(struct proctab *t, uint32_t pid)
{
	struct pentry **pp = &t->buckets[pid % PROCTAB_BUCKETS];

	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

int proctab_need(struct proctab *t, uint32_t pid, const char *comm, uint64_t ts_ns,
		 struct htc_record *rec)
{
	struct pentry **pp = slot(t, pid), *p = *pp;
	struct htc_proc *pr = &rec->proc;

	if (!p) {
		if (t->count >= PROCTAB_MAX) {
			/* bounded: start over; processes get written again */
			clear_all(t);
			pp = slot(t, pid);
		}
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->pid = pid;
		p->ts_ns = ts_ns;
		p->file_gen = t->file_gen - 1;
		snprintf(p->comm, sizeof(p->comm), "%s", comm ? comm : "");
		read_proc(t, p);
		*pp = p;
		t->count++;
	}
	if (p->file_gen == t->file_gen)
		return 0;
	p->file_gen = t->file_gen;
	memset(rec, 0, sizeof(*rec));
	rec->type = HTC_REC_PROC;
	pr->ts_ns = ts_ns;
	pr->pid = p->pid;
	pr->ppid = p->ppid;
	pr->uid = p->uid;
	pr->gid = p->gid;
	memcpy(pr->comm, p->comm, sizeof(pr->comm));
	pr->exe = p->exe ? p->exe : "";
	pr->exe_len = p->exe_len;
	pr->cmdline = p->cmdline ? p->cmdline : "";
	pr->cmdline_len = p->cmdline_len;
	pr->cgroup = p->cgroup ? p->cgroup : "";
	pr->cgroup_len = p->cgroup_len;
	pr->container = p->container;
	pr->container_len = p->container_len;
	return 1;
}

void proctab_new_file(struct proctab *t)
{
	t->file_gen++;
}

void proctab_forget(struct proctab *t, uint32_t pid)
{
	struct pentry **pp = slot(t, pid), *p = *pp;

	if (!p)
		return;
	*pp = p->next;
	entry_free(p);
	t->count--;
}
