// SPDX-License-Identifier: MIT
/*
 * cgroup.c - --cgroup PATH: the cgroup v2 id and depth of a directory, for
 * the kernel side's filter (bpf_get_current_ancestor_cgroup_id(depth) ==
 * id: the task is in that cgroup or below it).
 *
 * The id is what name_to_handle_at() returns for a cgroup2 directory (the
 * kernfs node id, the same number bpf_get_current_cgroup_id() gives).  The
 * depth counts the directories between the hierarchy's root and the
 * cgroup; a cgroup2 mount inside a cgroup namespace starts below that root,
 * and its mountinfo "root" field says where, so it is added.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "capture.h"

#define CGROUP2_MAGIC 0x63677270

/* mountinfo escapes blanks and backslashes as \ooo: undo it in place. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/* Path components of p: "/a/b" is 2, "/" and "" are 0. */
static unsigned depth(const char *p)
{
	unsigned n = 0;
	char prev = '/';

	for (; *p; prev = *p++)
		if (*p != '/' && prev == '/')
			n++;
	return n;
}

/* Whether dir is mnt or below it: the length of mnt to skip, or -1. */
static long under(const char *dir, const char *mnt)
{
	size_t n = strlen(mnt);

	if (n == 1 && mnt[0] == '/')
		return 0;
	if (strncmp(dir, mnt, n) || (dir[n] && dir[n] != '/'))
		return -1;
	return (long)n;
}

struct cg_mount {
	char root[PATH_MAX];
	char point[PATH_MAX];
};

/* The cgroup2 mounts of mountinfo (at most max), their count or -errno. */
static int cg_mounts(const char *mountinfo, struct cg_mount *m, int max)
{
	FILE *f = fopen(mountinfo, "re");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	if (!f)
		return -errno;
	while (n < max && getline(&line, &cap, f) > 0) {
		char root[PATH_MAX], point[PATH_MAX], *sep;

		/* "36 35 0:30 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw" */
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*u %*u %*s %4095s %4095s", root, point) != 2)
			continue;
		unescape(root);
		unescape(point);
		snprintf(m[n].root, sizeof(m[n].root), "%s", root);
		snprintf(m[n].point, sizeof(m[n].point), "%s", point);
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

int cap_cgroup_resolve(struct cap_opts *o, const char *mountinfo, char *msg, size_t msglen)
{
	struct cg_mount mounts[8];
	char real[PATH_MAX], tried[2 * PATH_MAX + 2];
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	struct statfs sfs;
	struct stat st;
	int n, mount_id, best = -1;
	long skip = -1;

	n = cg_mounts(mountinfo, mounts, 8);
	if (n < 0) {
		snprintf(msg, msglen, "httpcap: --cgroup: reading '%s': %s", mountinfo, cap_strerror(n));
		return n;
	}
	if (!n) {
		snprintf(msg, msglen, "httpcap: --cgroup '%s': no cgroup v2 hierarchy is mounted "
			 "(mount -t cgroup2 none /sys/fs/cgroup)", o->cgroup);
		return -ENOENT;
	}
	/* as given; else, for "/system.slice/x.service", inside the hierarchy */
	if (!realpath(o->cgroup, real) || statfs(real, &sfs) || sfs.f_type != CGROUP2_MAGIC) {
		bool exists = !access(o->cgroup, F_OK);

		snprintf(tried, sizeof(tried), "%s%s", mounts[0].point, o->cgroup);
		if (o->cgroup[0] != '/' || !realpath(tried, real)) {
			if (exists)
				snprintf(msg, msglen, "httpcap: --cgroup '%s': not a cgroup v2 directory "
					 "(cgroup2 is mounted on '%s')", o->cgroup, mounts[0].point);
			else
				snprintf(msg, msglen, "httpcap: --cgroup '%s': no such cgroup (neither "
					 "that path nor '%s' exists)", o->cgroup, tried);
			return exists ? -ENOTDIR : -ENOENT;
		}
	}
	if (stat(real, &st) || !S_ISDIR(st.st_mode) || statfs(real, &sfs) ||
	    sfs.f_type != CGROUP2_MAGIC) {
		snprintf(msg, msglen, "httpcap: --cgroup '%s': '%s' is not a cgroup v2 directory "
			 "(cgroup2 is mounted on '%s')", o->cgroup, real, mounts[0].point);
		return -ENOTDIR;
	}
	for (int i = 0; i < n; i++) {
		long k = under(real, mounts[i].point);

		if (k > skip) {
			skip = k;
			best = i;
		}
	}
	if (best < 0) {
		snprintf(msg, msglen, "httpcap: --cgroup '%s': '%s' is under no cgroup2 mount point",
			 o->cgroup, real);
		return -ENOENT;
	}
	if (name_to_handle_at(AT_FDCWD, real, &h.fh, &mount_id, 0) || h.fh.handle_bytes != 8) {
		int err = errno ? -errno : -EINVAL;

		snprintf(msg, msglen, "httpcap: --cgroup '%s': reading its cgroup id: %s", o->cgroup,
			 cap_strerror(err));
		return err;
	}
	memcpy(&o->cgroup_id, h.fh.f_handle, sizeof(o->cgroup_id));
	o->cgroup_level = depth(mounts[best].root) + depth(real + skip);
	return 0;
}
