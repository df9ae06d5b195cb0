// SPDX-License-Identifier: MIT
/*
 * tls.c - where the TLS plaintext probes of bpf/tls.bpf.h go: every
 * OpenSSL (SSL_read, SSL_read_ex, SSL_write, SSL_write_ex), GnuTLS
 * (gnutls_record_recv, gnutls_record_send) and Go crypto/tls ((*Conn).Read,
 * (*Conn).Write) on the host, found as shared libraries in the usual
 * folders and in the maps of every process, as executables of every
 * process (OpenSSL linked in, found by its symbols; Go programs, found
 * through their pclntab, so stripped ones too), and in the executable of
 * each process started during the capture (the BPF side reports execs).
 *
 * A uprobe is attached to a file (its inode), not to a process, so one
 * attachment covers every process that maps the file, now and later; files
 * are examined once each, by device and inode.  Go functions get an entry
 * probe and a probe on each of their return instructions, found by
 * disassembling them with capstone (a uretprobe would rewrite the return
 * address on a goroutine stack, which Go may move: that crashes Go).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <capstone/capstone.h>

#include "capture.h"
#include "httpcap.skel.h"

/* Go function bodies disassembled at most (crypto/tls's Read and Write
 * are a few hundred bytes). */
#define GO_FN_MAX (64u << 10)
#define GO_MAX_RETS 64

struct seen {
	dev_t dev;
	ino_t ino;
};

struct cap_tls {
	struct httpcap *skel;
	int verbose;
	struct bpf_link **links;
	size_t nlinks, linkcap;
	struct seen *seen;
	size_t nseen, seencap;
	unsigned nfiles;	/* files probed */
	int broken;		/* attaching failed once: no more tries */
};

/* What a file has to probe. */
enum {
	HAS_SSL_READ = 1 << 0,
	HAS_SSL_READ_EX = 1 << 1,
	HAS_SSL_WRITE = 1 << 2,
	HAS_SSL_WRITE_EX = 1 << 3,
	HAS_GNUTLS_RECV = 1 << 4,
	HAS_GNUTLS_SEND = 1 << 5,
	HAS_GO = 1 << 6,
};

static const struct {
	const char *name;
	unsigned bit;
} tls_syms[] = {
	{ "SSL_read", HAS_SSL_READ },
	{ "SSL_read_ex", HAS_SSL_READ_EX },
	{ "SSL_write", HAS_SSL_WRITE },
	{ "SSL_write_ex", HAS_SSL_WRITE_EX },
	{ "gnutls_record_recv", HAS_GNUTLS_RECV },
	{ "gnutls_record_send", HAS_GNUTLS_SEND },
};

static int seen_add(struct cap_tls *t, const struct stat *st)
{
	for (size_t i = 0; i < t->nseen; i++)
		if (t->seen[i].dev == st->st_dev && t->seen[i].ino == st->st_ino)
			return 0;
	if (t->nseen == t->seencap) {
		size_t n = t->seencap ? 2 * t->seencap : 64;
		struct seen *s = realloc(t->seen, n * sizeof(*s));

		if (!s)
			return -ENOMEM;
		t->seen = s;
		t->seencap = n;
	}
	t->seen[t->nseen].dev = st->st_dev;
	t->seen[t->nseen].ino = st->st_ino;
	t->nseen++;
	return 1;
}

/* The TLS functions defined (not imported) in the symbol tables of e. */
static unsigned elf_tls_syms(Elf *e)
{
	Elf_Scn *scn = NULL;
	unsigned has = 0;

	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t n;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
		    !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			name = elf_strptr(e, sh.sh_link, sym.st_name);
			if (!name || (name[0] != 'S' && name[0] != 'g'))
				continue;
			for (size_t k = 0; k < sizeof(tls_syms) / sizeof(tls_syms[0]); k++)
				if (!strcmp(name, tls_syms[k].name))
					has |= tls_syms[k].bit;
		}
	}
	return has;
}

static Elf_Scn *elf_section(Elf *e, const char *want, GElf_Shdr *out)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(e, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(e, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, out))
			continue;
		name = elf_strptr(e, shstrndx, out->sh_name);
		if (name && !strcmp(name, want))
			return scn;
	}
	return NULL;
}

/* File offset of virtual address va, from the program headers; -1 none. */
static long long elf_va_off(Elf *e, uint64_t va)
{
	size_t n;

	if (elf_getphdrnum(e, &n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && va >= ph.p_vaddr &&
		    va < ph.p_vaddr + ph.p_filesz)
			return (long long)(va - ph.p_vaddr + ph.p_offset);
	}
	return -1;
}

static int add_link(struct cap_tls *t, struct bpf_link *l)
{
	if (t->nlinks == t->linkcap) {
		size_t n = t->linkcap ? 2 * t->linkcap : 32;
		struct bpf_link **v = realloc(t->links, n * sizeof(*v));

		if (!v) {
			bpf_link__destroy(l);
			return -ENOMEM;
		}
		t->links = v;
		t->linkcap = n;
	}
	t->links[t->nlinks++] = l;
	return 0;
}

/* One uprobe: at function fn of path (or file offset off when fn is NULL). */
static int attach(struct cap_tls *t, struct bpf_program *prog, const char *path, const char *fn,
		  size_t off, bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = fn, .retprobe = ret);
	struct bpf_link *l;
	int err;

	l = bpf_program__attach_uprobe_opts(prog, -1, path, off, &uo);
	if (!l) {
		err = -errno;
		if (!t->broken)
			fprintf(stderr, "httpcap: TLS plaintext will not be captured from %s: attaching "
				"a uprobe to %s failed: %s%s\n", path, fn ? fn : "a Go function",
				cap_strerror(err), err == -EPERM || err == -EACCES ?
				" (needs root)" : " (a kernel with uprobes: CONFIG_UPROBE_EVENTS)");
		if (err == -EPERM || err == -EACCES || err == -EOPNOTSUPP || err == -ENOSYS)
			t->broken = 1;	/* no use trying every file */
		return err;
	}
	return add_link(t, l);
}

#if defined(__x86_64__)
/* Go's (*Conn).Read or Write at [entry, end): probes at entry and at each
 * return instruction.  Returns probes attached, or -errno. */
static int attach_go_fn(struct cap_tls *t, Elf *e, int fd, const char *path, uint64_t entry,
			uint64_t end, struct bpf_program *enter)
{
	long long off = elf_va_off(e, entry);
	uint64_t size = end - entry;
	uint64_t rets[GO_MAX_RETS];
	size_t nrets = 0, count;
	uint8_t *code;
	cs_insn *insn;
	csh cs;
	int err;

	if (off < 0 || size > GO_FN_MAX)
		return -ENOENT;
	code = malloc(size);
	if (!code)
		return -ENOMEM;
	if (pread(fd, code, size, off) != (ssize_t)size) {
		free(code);
		return -EIO;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		free(code);
		return -ENOTSUP;
	}
	count = cs_disasm(cs, code, size, entry, 0, &insn);
	for (size_t i = 0; i < count && nrets < GO_MAX_RETS; i++)
		if (insn[i].id == X86_INS_RET)
			rets[nrets++] = insn[i].address - entry;
	if (count)
		cs_free(insn, count);
	cs_close(&cs);
	free(code);
	if (!nrets)
		return -ENOENT;
	err = attach(t, enter, path, NULL, (size_t)off, false);
	for (size_t i = 0; !err && i < nrets; i++)
		err = attach(t, t->skel->progs.go_tls_ret, path, NULL, (size_t)off + rets[i], false);
	return err ? err : (int)nrets + 1;
}

static int attach_go(struct cap_tls *t, Elf *e, int fd, const char *path)
{
	static const char *const fns[2] = { "crypto/tls.(*Conn).Read", "crypto/tls.(*Conn).Write" };
	struct bpf_program *progs[2] = { t->skel->progs.go_tls_read_enter,
					 t->skel->progs.go_tls_write_enter };
	GElf_Shdr sh;
	Elf_Scn *scn = elf_section(e, ".gopclntab", &sh);
	Elf_Data *d;
	int n = 0;

	if (!scn || sh.sh_type == SHT_NOBITS || !(d = elf_getdata(scn, NULL)) || !d->d_buf)
		return -ENOENT;
	for (int i = 0; i < 2; i++) {
		uint64_t entry, end;
		int err = cap_go_find_func(d->d_buf, d->d_size, fns[i], &entry, &end);

		if (err == -ENOTSUP) {
			if (t->verbose)
				fprintf(stderr, "httpcap: TLS: %s: a Go older than 1.18, not probed\n", path);
			return err;
		}
		if (err)
			return n ? n : err;	/* no crypto/tls in this program */
		err = attach_go_fn(t, e, fd, path, entry, end, progs[i]);
		if (err < 0)
			return err;
		n += err;
	}
	return n;
}
#else
/* The Go probes read amd64's registers (bpf/tls.bpf.h): elsewhere Go
 * programs stay encrypted. */
static int attach_go(struct cap_tls *t, Elf *e, int fd, const char *path)
{
	if (t->verbose)
		fprintf(stderr, "httpcap: TLS: %s: Go programs are probed on x86-64 only\n", path);
	return -ENOTSUP;
}
#endif

/*
 * Examine one file (path to attach by, name to show) and probe what it
 * has.  Each file once, by device and inode.
 */
static void examine(struct cap_tls *t, const char *path, const char *show)
{
	struct stat st;
	unsigned has;
	int fd, n = 0;
	Elf *e;

	if (t->broken || stat(path, &st) || !S_ISREG(st.st_mode) || seen_add(t, &st) != 1)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		elf_end(e);
		close(fd);
		return;
	}
	has = elf_tls_syms(e);
	if (elf_section(e, ".gopclntab", &(GElf_Shdr){ 0 }))
		has |= HAS_GO;
	if (has & (HAS_SSL_READ | HAS_SSL_WRITE)) {
		struct httpcap *s = t->skel;
		int err = 0;

		if (has & HAS_SSL_READ)
			err = err ?: attach(t, s->progs.ssl_read_enter, path, "SSL_read", 0, false) ?:
				     attach(t, s->progs.tls_ret, path, "SSL_read", 0, true);
		if (has & HAS_SSL_READ_EX)
			err = err ?: attach(t, s->progs.ssl_read_ex_enter, path, "SSL_read_ex", 0, false) ?:
				     attach(t, s->progs.tls_ret, path, "SSL_read_ex", 0, true);
		if (has & HAS_SSL_WRITE)
			err = err ?: attach(t, s->progs.ssl_write_enter, path, "SSL_write", 0, false) ?:
				     attach(t, s->progs.tls_ret, path, "SSL_write", 0, true);
		if (has & HAS_SSL_WRITE_EX)
			err = err ?: attach(t, s->progs.ssl_write_ex_enter, path, "SSL_write_ex", 0, false) ?:
				     attach(t, s->progs.tls_ret, path, "SSL_write_ex", 0, true);
		if (!err) {
			n++;
			if (t->verbose)
				fprintf(stderr, "httpcap: TLS: probing %s (openssl:%s%s%s%s)\n", show,
					has & HAS_SSL_READ ? " SSL_read" : "",
					has & HAS_SSL_READ_EX ? " SSL_read_ex" : "",
					has & HAS_SSL_WRITE ? " SSL_write" : "",
					has & HAS_SSL_WRITE_EX ? " SSL_write_ex" : "");
		}
	}
	if ((has & (HAS_GNUTLS_RECV | HAS_GNUTLS_SEND)) == (HAS_GNUTLS_RECV | HAS_GNUTLS_SEND)) {
		struct httpcap *s = t->skel;
		int err = attach(t, s->progs.gnutls_recv_enter, path, "gnutls_record_recv", 0, false) ?:
			  attach(t, s->progs.tls_ret, path, "gnutls_record_recv", 0, true) ?:
			  attach(t, s->progs.gnutls_send_enter, path, "gnutls_record_send", 0, false) ?:
			  attach(t, s->progs.tls_ret, path, "gnutls_record_send", 0, true);

		if (!err) {
			n++;
			if (t->verbose)
				fprintf(stderr, "httpcap: TLS: probing %s (gnutls: gnutls_record_recv "
					"gnutls_record_send)\n", show);
		}
	}
	if (has & HAS_GO) {
		int probes = attach_go(t, e, fd, path);

		if (probes > 0) {
			n++;
			if (t->verbose)
				fprintf(stderr, "httpcap: TLS: probing %s (go: crypto/tls.(*Conn).Read "
					"and Write, %d probes)\n", show, probes);
		}
	}
	if (n)
		t->nfiles++;
	elf_end(e);
	close(fd);
}

static bool tls_lib_name(const char *base)
{
	return !strncmp(base, "libssl.so", 9) || !strncmp(base, "libgnutls.so", 12);
}

/* The TLS libraries in the usual folders: probed even when no process
 * maps them yet, so processes started later are covered from their start. */
static void scan_lib_dirs(struct cap_tls *t)
{
	static const char *const dirs[] = {
		"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/x86_64-linux-gnu",
		"/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/usr/local/lib",
		"/usr/local/lib64",
	};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d))) {
			char path[4096];

			if (!tls_lib_name(de->d_name) || !strstr(de->d_name, ".so."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
			examine(t, path, path);
		}
		closedir(d);
	}
}

/* Process pid: its executable, and the TLS libraries it maps. */
static void scan_pid(struct cap_tls *t, uint32_t pid, bool maps)
{
	char link[64], exe[4096], line[4096 + 256];
	ssize_t n;
	FILE *f;

	if (pid == (uint32_t)getpid())
		return;
	snprintf(link, sizeof(link), "/proc/%u/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		/* through /proc: the file itself, whatever mount namespace */
		examine(t, link, exe);
	}
	if (!maps)
		return;
	snprintf(link, sizeof(link), "/proc/%u/maps", pid);
	f = fopen(link, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/'), *base, root[4096 + 64];
		struct stat st;

		if (!path)
			continue;
		path[strcspn(path, "\n")] = 0;
		base = strrchr(path, '/') + 1;
		if (!tls_lib_name(base))
			continue;
		/* the path as the process sees it, from the host: its root */
		snprintf(root, sizeof(root), "/proc/%u/root%s", pid, path);
		examine(t, stat(root, &st) ? path : root, path);
	}
	fclose(f);
}

struct cap_tls *cap_tls_open(struct cap_bpf *b, int verbose)
{
	struct cap_tls *t = calloc(1, sizeof(*t));
	DIR *d;
	struct dirent *de;

	if (!t)
		return NULL;
	t->skel = cap_bpf_skel(b);
	t->verbose = verbose;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		fprintf(stderr, "httpcap: TLS plaintext will not be captured: libelf: %s\n",
			elf_errmsg(-1));
		t->broken = 1;
		return t;
	}
	scan_lib_dirs(t);
	d = opendir("/proc");
	while (d && (de = readdir(d)) && !t->broken) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid)
			continue;
		scan_pid(t, (uint32_t)pid, true);
	}
	if (d)
		closedir(d);
	if (verbose)
		fprintf(stderr, "httpcap: TLS: %u files probed (%zu uprobes)%s\n", t->nfiles,
			t->nlinks, t->broken ? ", probing failed" : "");
	return t;
}

void cap_tls_exec(struct cap_tls *t, uint32_t pid)
{
	/* the libraries are not mapped yet at exec; the usual ones are
	 * probed already, and the executable is what may be new */
	if (t && !t->broken)
		scan_pid(t, pid, false);
}

unsigned cap_tls_files(const struct cap_tls *t)
{
	return t ? t->nfiles : 0;
}

void cap_tls_close(struct cap_tls *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nlinks; i++)
		bpf_link__destroy(t->links[i]);
	free(t->links);
	free(t->seen);
	free(t);
}
