// SPDX-License-Identifier: MIT
/*
 * test_core.c - cmocka tests of httpcap's pieces that need no kernel: the
 * command line (good and bad flags, table-driven), decoding of ring-buffer
 * samples (including lying sizes), the container id parser, the
 * connection table's bounds and its redaction bookkeeping, and rotation
 * names.  Run plain and under ASan+UBSan by `make test-capture-core`.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture.h"

uint64_t cap_mono_ns(void)
{
	static uint64_t t = 1000;

	return t += 1000;
}

static int parse(const char *line, struct cap_opts *o, char *err, size_t errlen)
{
	char buf[512], *argv[32];
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *tok = strtok(buf, " "); tok && argc < 31; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	err[0] = '\0';
	return cap_parse_args(argc, argv, o, err, errlen);
}

static void test_cli_good(void **state)
{
	static const struct {
		const char *line;
		const char *why;
	} good[] = {
		{ "httpcap", "no flags: print everything" },
		{ "httpcap -w x.htc -c 10 -s 0", "snaplen 0: no payloads" },
		{ "httpcap -w x.htc -s 65536", "largest snaplen" },
		{ "httpcap -p 1 -p 2 --port 80 --port 443 --comm nginx", "repeatable filters" },
		{ "httpcap -w x.htc -C 0.5 -W 3", "ring of files" },
		{ "httpcap -w x-%H.htc -G 60 -W 2", "time rotation, stop after 2" },
		{ "httpcap -w - -U -q", "stdout, unbuffered" },
		{ "httpcap -r x.htc --text -c 3", "read back" },
		{ "httpcap -r x.htc -w y.pcapng --port 80 --comm nginx", "export to pcapng" },
		{ "httpcap -r x.htc -w Y.PCAP -p 7", "export to pcap" },
		{ "httpcap -r x.htc -w - --since +1s --until 2026-01-02T03:04:05Z", "pcapng to stdout, a window" },
		{ "httpcap --duration 1.5 -vv --no-redact -B 1024", "duration and switches" },
		{ "httpcap --redact ssn --redact X-Internal-Sig -w f", "more secret names" },
		{ "httpcap --host 10.0.0.0/8 --host ::1 --host fd00::/8 --host 1.2.3.4/0", "host prefixes" },
		{ "httpcap --snapshot-length 100 --packet-buffered -w x --file-size 1 --file-count 2",
		  "tcpdump's long names" },
		{ "httpcap -n --top --interval 0.5 -w x.htc", "--top with a file, -n accepted" },
	};
	struct cap_opts o;
	char err[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = parse(good[i].line, &o, err, sizeof(err));

		if (rc)
			fail_msg("'%s' (%s) rejected: %s", good[i].line, good[i].why, err);
	}
	parse("httpcap -p 7 -p 9 --port 8080 -C 2 -w f -v -v", &o, err, sizeof(err));
	assert_int_equal(o.npids, 2);
	assert_int_equal(o.pids[1], 9);
	assert_int_equal(o.ports[0], 8080);
	assert_int_equal(o.rotate_bytes, 2000000);
	assert_int_equal(o.verbose, 2);
	assert_int_equal(o.snaplen, HCB_DEFAULT_SNAPLEN);

	/* prefixes: the host bits are cleared, IPv4 is kept as ::ffff:a.b.c.d */
	assert_int_equal(parse("httpcap --host 10.1.2.3/8 --host 2001:db8::1/32", &o, err, sizeof(err)), 0);
	assert_int_equal(o.nhosts, 2);
	assert_int_equal(o.hosts[0].bits, 104);
	assert_int_equal(o.hosts[0].addr[12], 10);
	assert_int_equal(o.hosts[0].addr[13], 0);
	assert_int_equal(o.hosts[1].bits, 32);
	assert_true(cap_host_match(&o, HTC_AF_INET, (const uint8_t[4]){ 10, 9, 9, 9 }));
	assert_false(cap_host_match(&o, HTC_AF_INET, (const uint8_t[4]){ 11, 0, 0, 1 }));
	assert_true(cap_host_match(&o, HTC_AF_INET6, (const uint8_t[16]){ 0x20, 0x01, 0x0d, 0xb8, 9 }));
	assert_false(cap_host_match(&o, HTC_AF_INET6, (const uint8_t[16]){ 0x20, 0x01, 0x0d, 0xb9 }));
	cap_filters_text(&o, err, sizeof(err));
	assert_string_equal(err, "--host 10.0.0.0/8, --host 2001:db8::/32");
	assert_int_equal(parse("httpcap --host 127.0.0.2/31", &o, err, sizeof(err)), 0);
	assert_true(cap_host_match(&o, HTC_AF_INET, (const uint8_t[4]){ 127, 0, 0, 3 }));
	assert_false(cap_host_match(&o, HTC_AF_INET, (const uint8_t[4]){ 127, 0, 0, 1 }));
}

static void test_cli_bad(void **state)
{
	static const struct {
		const char *line;
		const char *msg;	/* must appear in the error */
	} bad[] = {
		{ "httpcap -c 0", "invalid count '0'" },
		{ "httpcap --redact -_", "invalid name '-_' for --redact" },
		{ "httpcap --redact ssn --no-redact", "does not combine with --no-redact" },
		{ "httpcap -r f.htc --redact ssn", "--redact applies while capturing" },
		{ "httpcap -c -5", "invalid count" },
		{ "httpcap -c 12x", "invalid count '12x'" },
		{ "httpcap -s 70000", "invalid snaplen '70000'" },
		{ "httpcap -p abc", "invalid pid 'abc'" },
		{ "httpcap --port 0", "invalid port '0'" },
		{ "httpcap --port 65536", "invalid port '65536'" },
		{ "httpcap --comm averyveryverylongname", "invalid --comm" },
		{ "httpcap -C 5", "need -w FILE" },
		{ "httpcap -w - -C 5", "need -w FILE" },
		{ "httpcap -w x -W 3", "-W needs -C or -G" },
		{ "httpcap -w x -C -1", "invalid size" },
		{ "httpcap -w x -G 0", "invalid interval" },
		{ "httpcap -r x -w y", "must end in .pcapng or .pcap" },
		{ "httpcap -r x -w y.htc", "must end in .pcapng or .pcap" },
		{ "httpcap -r x -w y.pcapng --text", "does not combine" },
		{ "httpcap -r x -G 5", "does not combine" },
		{ "httpcap --since +1s", "need -r" },
		{ "httpcap -r x --until yesterday", "invalid time 'yesterday'" },
		{ "httpcap --duration -1", "invalid duration" },
		{ "httpcap -B 1", "invalid buffer size" },
		{ "httpcap -x", "unknown option '-x'" },
		{ "httpcap --frobnicate", "unknown option '--frobnicate'" },
		{ "httpcap -w", "needs an argument" },
		{ "httpcap port 80", "unexpected argument 'port'" },
		/* every numeric flag: negative, zero where invalid, overflow,
		 * trailing junk, empty, a blank in front */
		{ "httpcap -c 99999999999999999999", "invalid count '99999999999999999999'" },
		{ "httpcap -c  ", "needs an argument" },
		{ "httpcap --count=", "invalid count ''" },
		{ "httpcap -s -1", "invalid snaplen '-1'" },
		{ "httpcap -s 10x", "invalid snaplen '10x'" },
		{ "httpcap -s 99999999999999999999", "invalid snaplen" },
		{ "httpcap --snaplen=", "invalid snaplen ''" },
		{ "httpcap -p 0", "invalid pid '0'" },
		{ "httpcap -p -1", "invalid pid '-1'" },
		{ "httpcap -p 2147483648", "invalid pid '2147483648'" },
		{ "httpcap -p 10x", "invalid pid '10x'" },
		{ "httpcap --pid=", "invalid pid ''" },
		{ "httpcap --port -1", "invalid port '-1'" },
		{ "httpcap --port 80x", "invalid port '80x'" },
		{ "httpcap --port=", "invalid port ''" },
		{ "httpcap --port 99999999999999999999", "invalid port" },
		{ "httpcap --comm=", "invalid --comm ''" },
		{ "httpcap -w x -C 0", "invalid size '0'" },
		{ "httpcap -w x -C 10x", "invalid size '10x'" },
		{ "httpcap -w x -C 1e3", "invalid size '1e3'" },
		{ "httpcap -w x -C 0x10", "invalid size '0x10'" },
		{ "httpcap -w x -C 99999999999999999999", "invalid size" },
		{ "httpcap -w x --file-size=", "invalid size ''" },
		{ "httpcap -w x -G -1", "invalid interval '-1'" },
		{ "httpcap -w x -G 10x", "invalid interval '10x'" },
		{ "httpcap -w x -G 99999999999999999999", "invalid interval" },
		{ "httpcap -w x -C 1 -W 0", "invalid file count '0'" },
		{ "httpcap -w x -C 1 -W 10x", "invalid file count '10x'" },
		{ "httpcap -w x -C 1 -W 99999999999999999999", "invalid file count" },
		{ "httpcap -B 0", "invalid buffer size '0'" },
		{ "httpcap -B -64", "invalid buffer size '-64'" },
		{ "httpcap -B 64x", "invalid buffer size '64x'" },
		{ "httpcap -B 99999999999999999999", "invalid buffer size" },
		{ "httpcap --duration 0", "invalid duration '0'" },
		{ "httpcap --duration 10x", "invalid duration '10x'" },
		{ "httpcap --duration inf", "invalid duration 'inf'" },
		{ "httpcap --duration=", "invalid duration ''" },
		{ "httpcap --duration 99999999999999999999", "invalid duration" },
		{ "httpcap --write=", "-w needs a file name" },
		{ "httpcap --relinquish-privileges=", "-Z needs a user name" },
		{ "httpcap --host 10.0.0.1/33", "invalid --host '10.0.0.1/33'" },
		{ "httpcap --host ::1/129", "invalid --host '::1/129'" },
		{ "httpcap --host 10.0.0.0/8x", "invalid --host '10.0.0.0/8x'" },
		{ "httpcap --host 10.0.0.0/-8", "invalid --host" },
		{ "httpcap --host example.com", "invalid --host 'example.com'" },
		{ "httpcap --host=", "invalid --host ''" },
		{ "httpcap --host 10.0.0.1/", "invalid --host '10.0.0.1/'" },
		{ "httpcap --cgroup=", "--cgroup needs a cgroup directory" },
		{ "httpcap --cgroup /a --cgroup /b", "--cgroup given twice" },
		{ "httpcap --top --interval 0", "invalid interval '0' for --interval" },
		{ "httpcap --top --interval 0.01", "invalid interval '0.01'" },
		{ "httpcap --top --interval 5x", "invalid interval '5x'" },
		{ "httpcap --top --interval=", "invalid interval ''" },
		{ "httpcap --interval 2", "--interval is the refresh of --top" },
		{ "httpcap --top --text", "--top and --text" },
		{ "httpcap --top -w -", "needs a file, not '-'" },
		{ "httpcap -r x --top", "does not combine" },
		{ "httpcap -r x --cgroup /a", "does not combine" },
		{ "httpcap -i eth0", "-i 'eth0': httpcap captures sockets" },
	};
	struct cap_opts o;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i].line, &o, err, sizeof(err));

		if (rc != -EINVAL || !strstr(err, bad[i].msg))
			fail_msg("'%s': rc %d, message '%s', want '%s'", bad[i].line, rc, err,
				 bad[i].msg);
		assert_true(!strncmp(err, "httpcap: ", 9));
	}
}

static void test_cli_many_pids(void **state)
{
	char *argv[2 + 2 * 65];
	struct cap_opts o;
	char err[256];
	int argc = 0;

	argv[argc++] = "httpcap";
	for (int i = 0; i < 65; i++) {
		argv[argc++] = "-p";
		argv[argc++] = "42";
	}
	argv[argc] = NULL;
	assert_int_equal(cap_parse_args(argc, argv, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too many -p"));
}

/* --cgroup's resolution fails with a message naming what is missing */
static void test_cgroup_resolve_errors(void **state)
{
	char path[] = "/tmp/httpcap-test-mountinfo-XXXXXX", msg[512];
	struct cap_opts o = { .cgroup = "/system.slice/x.service" };
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	/* a host with cgroup v1 only */
	assert_true(write(fd, "30 25 0:26 / /sys/fs/cgroup/cpu rw shared:9 - cgroup cgroup rw,cpu\n", 67) == 67);
	close(fd);
	assert_int_equal(cap_cgroup_resolve(&o, path, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "no cgroup v2 hierarchy is mounted"));
	assert_int_equal(cap_cgroup_resolve(&o, "/nonexistent/mountinfo", msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "reading '/nonexistent/mountinfo'"));
	/* a cgroup2 mount, but no such cgroup under it or as given */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_true(write(fd, "36 25 0:30 / /nonexistent/cg2 rw - cgroup2 cgroup2 rw\n", 54) == 54);
	close(fd);
	assert_int_equal(cap_cgroup_resolve(&o, path, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "'/system.slice/x.service': no such cgroup"));
	unlink(path);
}

static void test_container_id(void **state)
{
	static const char id64[] =
		"3f4e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
	static const struct {
		const char *cgroup;
		const char *want;
		const char *why;
	} cases[] = {
		{ "/system.slice/docker-3f4e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f.scope",
		  id64, "docker with systemd" },
		{ "/docker/3f4e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f", id64,
		  "docker cgroupfs" },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234abcd_5678_90ef_1234_567890abcdef.slice/"
		  "cri-containerd-3f4e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f.scope",
		  id64, "kubernetes containerd; pod uuid is not an id" },
		{ "/machine.slice/libpod-3f4e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f.scope/container",
		  id64, "podman" },
		{ "/user.slice/user-0.slice/session-3.scope", "", "no container" },
		{ "/", "", "root cgroup" },
		{ "", "", "empty" },
		{ "/x/abcdef", "", "short hex is not an id" },
		{ "/x/3f4e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2fZ", "",
		  "hex glued to letters is not an id" },
	};
	char out[80];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cap_container_id(cases[i].cgroup, strlen(cases[i].cgroup), out, sizeof(out));

		if (n != strlen(cases[i].want) || (n && strcmp(out, cases[i].want)))
			fail_msg("%s: got '%.*s'", cases[i].why, (int)n, n ? out : "");
	}
	/* a tiny output buffer truncates, never overflows */
	assert_int_equal(cap_container_id(cases[0].cgroup, strlen(cases[0].cgroup), out, 8), 7);
	assert_int_equal(cap_container_id(cases[0].cgroup, strlen(cases[0].cgroup), out, 0), 0);
}

static void *make_sample(uint8_t type, uint32_t cap_len, size_t extra, size_t *size)
{
	struct hcb_event *e;

	*size = sizeof(*e) + extra;
	e = calloc(1, *size);
	e->type = type;
	e->syscall = HCB_SYS_SENDTO;
	e->pid = 10;
	e->tid = 11;
	e->fd = 5;
	e->conn_id = 7;
	e->ret = cap_len;
	e->cap_len = cap_len;
	e->family = HCB_AF_INET;
	e->lport = 80;
	memcpy(e->comm, "curlcurlcurlcurl", 16);	/* not terminated */
	for (size_t i = 0; i < extra; i++)
		e->payload[i] = 'a' + i % 26;
	return e;
}

static void test_decode(void **state)
{
	struct htc_record rec;
	uint32_t pid = 0;
	size_t size;
	void *s;

	s = make_sample(HCB_EV_WRITE, 10, 10, &size);
	assert_int_equal(cap_decode_event(s, size, &rec, &pid), 1);
	assert_int_equal(rec.type, HTC_REC_DATA);
	assert_int_equal(rec.ev.cap_len, 10);
	assert_memory_equal(rec.ev.payload, "abcdefghij", 10);
	assert_int_equal(rec.ev.comm[15], '\0');
	assert_int_equal(rec.ev.ep.lport, 80);
	/* cap_len larger than the sample: rejected, not trusted */
	assert_int_equal(cap_decode_event(s, size - 1, &rec, &pid), -EINVAL);
	free(s);

	s = make_sample(HCB_EV_CONNECT, 0, 0, &size);
	assert_int_equal(cap_decode_event(s, size, &rec, &pid), 1);
	assert_int_equal(rec.type, HTC_REC_CONN);
	assert_null(rec.ev.payload);
	assert_int_equal(cap_decode_event(s, size - 1, &rec, &pid), -EINVAL);
	assert_int_equal(cap_decode_event(s, 0, &rec, &pid), -EINVAL);
	((struct hcb_event *)s)->type = 42;
	assert_int_equal(cap_decode_event(s, size, &rec, &pid), -EINVAL);
	((struct hcb_event *)s)->type = HCB_EV_PROC_EXIT;
	assert_int_equal(cap_decode_event(s, size, &rec, &pid), 0);
	assert_int_equal(pid, 10);
	((struct hcb_event *)s)->type = HCB_EV_EXEC;
	pid = 0;
	assert_int_equal(cap_decode_event(s, size, &rec, &pid), 2);
	assert_int_equal(pid, 10);
	free(s);

	/* TLS plaintext: a library call's, data only; the flag and the
	 * syscall must agree */
	s = make_sample(HCB_EV_READ, 10, 10, &size);
	((struct hcb_event *)s)->flags = HCB_EVF_TLS;
	((struct hcb_event *)s)->syscall = HCB_SYS_SSL_READ;
	assert_int_equal(cap_decode_event(s, size, &rec, &pid), 1);
	assert_int_equal(rec.ev.flags, HTC_EVF_TLS);
	assert_int_equal(rec.ev.syscall, HTC_SYS_SSL_READ);
	((struct hcb_event *)s)->syscall = HCB_SYS_READ;
	assert_int_equal(cap_decode_event(s, size, &rec, &pid), -EINVAL);
	((struct hcb_event *)s)->flags = HCB_EVF_TLS_CIPHER;
	assert_int_equal(cap_decode_event(s, size, &rec, &pid), 1);
	assert_int_equal(rec.ev.flags, HTC_EVF_TLS_CIPHER);
	((struct hcb_event *)s)->syscall = HCB_SYS_GO_TLS_WRITE;
	assert_int_equal(cap_decode_event(s, size, &rec, &pid), -EINVAL);
	((struct hcb_event *)s)->syscall = HCB_SYS_GO_TLS_WRITE + 1;
	((struct hcb_event *)s)->flags = HCB_EVF_TLS;
	assert_int_equal(cap_decode_event(s, size, &rec, &pid), -EINVAL);
	free(s);
}

/* A pclntab of Go 1.18+ with functions at 0x401000 + 0x10, 0x40 and the
 * text's end at 0x90, named main.main and crypto/tls.(*Conn).Read. */
static size_t mk_pclntab(uint8_t *b, uint32_t magic)
{
	static const char names[] = "main.main\0crypto/tls.(*Conn).Read";
	const size_t functab = 72, funcs = functab + 3 * 8, fnames = funcs + 2 * 8;
	const uint32_t entry[3] = { 0x10, 0x40, 0x90 };

	memset(b, 0, 256);
	memcpy(b, &magic, 4);
	b[6] = 1;
	b[7] = 8;
	b[8] = 2;				/* nfunc */
	b[25] = 0x10, b[26] = 0x40;		/* textStart 0x401000 */
	b[32] = (uint8_t)fnames;
	b[64] = (uint8_t)functab;
	for (int i = 0; i < 3; i++) {
		uint32_t foff = (uint32_t)(funcs - functab + 8 * i);

		memcpy(b + functab + 8 * i, &entry[i], 4);
		memcpy(b + functab + 8 * i + 4, &foff, 4);
	}
	for (int i = 0; i < 2; i++) {
		uint32_t noff = i ? 10 : 0;

		memcpy(b + funcs + 8 * i, &entry[i], 4);
		memcpy(b + funcs + 8 * i + 4, &noff, 4);
	}
	memcpy(b + fnames, names, sizeof(names));
	return fnames + sizeof(names);
}

/* The Go function table parser: found, absent, older Go, and every
 * truncation of the table (the bytes are any executable's). */
static void test_go_pclntab(void **state)
{
	uint8_t b[256];
	uint64_t entry = 0, end = 0;
	size_t len = mk_pclntab(b, 0xfffffff0);

	assert_int_equal(cap_go_find_func(b, len, "crypto/tls.(*Conn).Read", &entry, &end), 0);
	assert_int_equal(entry, 0x401040);
	assert_int_equal(end, 0x401090);
	assert_int_equal(cap_go_find_func(b, len, "main.main", &entry, &end), 0);
	assert_int_equal(entry, 0x401010);
	assert_int_equal(cap_go_find_func(b, len, "crypto/tls.(*Conn).Write", &entry, &end), -ENOENT);
	/* a prefix of a name is not the name */
	assert_int_equal(cap_go_find_func(b, len, "crypto/tls.(*Conn).Rea", &entry, &end), -ENOENT);
	for (size_t n = 0; n < len; n++) {
		uint8_t *c = malloc(n ? n : 1);
		int err;

		memcpy(c, b, n);
		err = cap_go_find_func(c, n, "crypto/tls.(*Conn).Read", &entry, &end);
		assert_true(err == -ENOENT);
		free(c);
	}
	len = mk_pclntab(b, 0xfffffff1);
	assert_int_equal(cap_go_find_func(b, len, "crypto/tls.(*Conn).Read", &entry, &end), 0);
	len = mk_pclntab(b, 0xfffffffa);
	assert_int_equal(cap_go_find_func(b, len, "crypto/tls.(*Conn).Read", &entry, &end), -ENOTSUP);
	len = mk_pclntab(b, 0x12345678);
	assert_int_equal(cap_go_find_func(b, len, "crypto/tls.(*Conn).Read", &entry, &end), -ENOENT);
	/* a function count far beyond the table */
	len = mk_pclntab(b, 0xfffffff0);
	b[15] = 0x7f;
	assert_int_equal(cap_go_find_func(b, len, "main.main", &entry, &end), -ENOENT);
}

static struct htc_event data_ev(uint64_t conn, uint8_t type, uint64_t off, int64_t ret,
				uint32_t cap)
{
	struct htc_event ev = { .type = type, .conn_id = conn, .stream_off = off, .ret = ret,
				.cap_len = cap };
	return ev;
}

static void test_conntab_redacts_across_payloads(void **state)
{
	struct conntab *t = conntab_new(4);
	char a[] = "GET / HTTP/1.1\r\nAuthorization: Bea";
	char b[] = "rer topsecret\r\nHost: x\r\n\r\n";
	struct htc_event ev;

	assert_non_null(t);
	ev = data_ev(1, HTC_EV_READ, 0, strlen(a), strlen(a));
	conntab_redact(t, &ev, (uint8_t *)a);
	ev = data_ev(1, HTC_EV_READ, strlen(a), strlen(b), strlen(b));
	assert_true(conntab_redact(t, &ev, (uint8_t *)b) > 0);
	assert_null(strstr(b, "topsecret"));
	assert_non_null(strstr(b, "Host: x"));
	assert_int_equal(conntab_count(t), 1);
	ev = data_ev(1, HTC_EV_CLOSE, 0, 0, 0);
	conntab_redact(t, &ev, NULL);
	assert_int_equal(conntab_count(t), 0);
	conntab_free(t);
}

/* One payload p through conntab_redact_event, as the drain passes it, on
 * connection conn's direction type at stream offset off, with cut bytes
 * past it not captured; checked against the redactor alone on ref (given
 * the same cut): the same bytes out, REDACTED set as it overwrote any.
 * Returns what the redactor overwrote; *ev is the event as it was left. */
static size_t memo_step(struct conntab *t, struct redact_state *ref, uint64_t conn,
			uint8_t type, uint64_t off, const char *p, uint32_t cut, uint8_t *buf,
			struct htc_event *ev)
{
	size_t len = strlen(p), n;
	uint8_t want[256];

	assert_true(len <= sizeof(want));
	memcpy(want, p, len);
	n = redact_payload(ref, want, len);
	if (cut)
		redact_skip(ref, cut);
	*ev = data_ev(conn, type, off, (int64_t)(len + cut), (uint32_t)len);
	ev->payload = (const uint8_t *)p;
	assert_int_equal(conntab_redact_event(t, ev, buf), n > 0);
	assert_int_equal(!!(ev->flags & HTC_EVF_REDACTED), n > 0);
	assert_memory_equal(ev->payload, want, len);
	return n;
}

/*
 * A direction's last payload that redaction left alone is remembered
 * (conntab.c): whatever the memo does, each payload must come out as the
 * redactor alone, run on its own state, makes it.  Repeats are taken over
 * (left in place, unchanged), the same bytes met in another state are
 * redacted, payloads with secrets are redacted every time, and every
 * step goes through conntab_redact_event as httpcap's drain calls it.
 */
static void test_conntab_memo(void **state)
{
	static const char *const seq[] = {
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nX-Note: ",
		"Cookie: abc\r\n",		/* X-Note's value */
		"Cookie: abc\r\n",		/* the same bytes, now a header */
		"\r\n",
		"GET /a HTTP/1.1\r\nCookie: s=1\r\n\r\n",
		"GET /a HTTP/1.1\r\nCookie: s=1\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	struct conntab *t = conntab_new(4);
	struct redact_state ref = { 0 };
	uint8_t buf[HCB_MAX_SNAPLEN];
	size_t i, len, ns[sizeof(seq) / sizeof(seq[0])];
	uint64_t off = 0;

	assert_non_null(t);
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		struct htc_event ev;

		memset(buf, 0, sizeof(buf));
		ns[i] = memo_step(t, &ref, 7, HTC_EV_WRITE, off, seq[i], 0, buf, &ev);
		/* repeats from the state their predecessor left stay where
		 * they were (the first one came from a fresh state) */
		if (i == 2 || i == 10)
			assert_ptr_equal(ev.payload, (const uint8_t *)seq[i]);
		off += strlen(seq[i]);
	}
	/* what the redactor did, not only that the two agreed: the value
	 * left alone, the header and the cookies redacted */
	assert_int_equal(ns[4], 0);
	assert_true(ns[5] > 0 && ns[7] > 0 && ns[8] > 0);
	conntab_free(t);

	/* the header case alone, from a new table: redacted, so the event
	 * points at buf, the stars in it, not at the bytes it came with */
	t = conntab_new(4);
	assert_non_null(t);
	off = 0;
	for (i = 3; i <= 5; i++) {
		struct htc_event ev;

		len = strlen(seq[i]);
		ev = data_ev(9, HTC_EV_READ, off, (int64_t)len, (uint32_t)len);
		ev.payload = (const uint8_t *)seq[i];
		conntab_redact_event(t, &ev, buf);
		if (i == 5) {
			assert_ptr_equal(ev.payload, buf);
			assert_memory_equal(buf, "Cookie: ***\r\n", len);
		}
		off += len;
	}
	conntab_free(t);
}

/* The memo against the redactor alone on random streams: fragments of
 * heads, secrets, bodies and line pieces, each often repeated, on three
 * connections' two directions interleaved, now and then after bytes that
 * were not captured (a gap before the event, or the event's bytes past
 * snaplen); every payload must come out byte for byte as the redactor
 * makes it from its own state. */
static void test_conntab_memo_random(void **state)
{
	static const char *const frag[] = {
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nSet-Cookie: id=42\r\nContent-Length: 0\r\n\r\n",
		"POST /l HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
		"Content-Length: 20\r\n\r\n",
		"user=a&password=b&x=",
		"Authorization: Bearer t0k3n\r\n",
		"Cookie: a=1",
		"; b=2\r\n",
		"\r\n",
		"X-Api-Key: k",
		"GET /?token=abc HTTP/1.1\r\n",
		"hello",
		"{\"password\": \"x\"}",
	};
	enum { NF = sizeof(frag) / sizeof(frag[0]), NS = 6 };
	struct conntab *t = conntab_new(8);
	struct redact_state ref[NS];
	uint64_t off[NS] = { 0 };
	unsigned last[NS] = { 0 }, seed = 12345;
	uint8_t buf[HCB_MAX_SNAPLEN];

	assert_non_null(t);
	memset(ref, 0, sizeof(ref));
	for (int step = 0; step < 20000; step++) {
		unsigned sn, f, gap, cut;
		struct htc_event ev;

		seed = seed * 1103515245u + 12345u;
		sn = (seed >> 16) % NS;
		seed = seed * 1103515245u + 12345u;
		/* half the time the stream's previous fragment again */
		f = (seed >> 16) & 1 ? last[sn] : (seed >> 17) % NF;
		last[sn] = f;
		seed = seed * 1103515245u + 12345u;
		gap = (seed >> 16) % 16 == 0 ? 1 + (seed >> 20) % 40 : 0;
		cut = (seed >> 16) % 16 == 1 ? 1 + (seed >> 20) % 40 : 0;
		if (gap)
			redact_skip(&ref[sn], gap);
		off[sn] += gap;
		memo_step(t, &ref[sn], 1 + sn / 2, sn & 1 ? HTC_EV_WRITE : HTC_EV_READ, off[sn],
			  frag[f], cut, buf, &ev);
		off[sn] += strlen(frag[f]) + cut;
	}
	conntab_free(t);
}

static void test_conntab_bounded(void **state)
{
	struct conntab *t = conntab_new(8);
	uint8_t buf[4] = "abc";

	for (uint64_t c = 1; c <= 1000; c++) {
		struct htc_event ev = data_ev(c, HTC_EV_WRITE, 0, 3, 3);

		conntab_redact(t, &ev, buf);
		assert_true(conntab_count(t) <= 8);
	}
	/* closing unknown and evicted connections is harmless */
	for (uint64_t c = 1; c <= 1000; c++) {
		struct htc_event ev = data_ev(c, HTC_EV_CLOSE, 0, 0, 0);

		conntab_redact(t, &ev, NULL);
	}
	assert_int_equal(conntab_count(t), 0);
	conntab_free(t);
	conntab_free(NULL);
}

static void test_proctab(void **state)
{
	char dir[] = "/tmp/httpcap-proc-XXXXXX", path[256];
	struct proctab *t;
	struct htc_record rec;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/77", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/77/status", dir);
	f = fopen(path, "w");
	fputs("Name:\tsrv\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/77/cmdline", dir);
	f = fopen(path, "w");
	fwrite("srv\0-HCookie: abc\0", 1, 18, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/77/cgroup", dir);
	f = fopen(path, "w");
	fputs("0::/docker/3f4e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f\n", f);
	fclose(f);

	t = proctab_new(dir, true);
	assert_int_equal(proctab_need(t, 77, "srv", 5, &rec), 1);
	assert_int_equal(rec.type, HTC_REC_PROC);
	assert_int_equal(rec.proc.ppid, 1);
	assert_int_equal(rec.proc.uid, 1000);
	assert_int_equal(rec.proc.gid, 100);
	assert_int_equal(rec.proc.cmdline_len, 17);
	assert_null(memmem(rec.proc.cmdline, rec.proc.cmdline_len, "abc", 3));
	assert_int_equal(rec.proc.container_len, 64);
	assert_int_equal(rec.proc.exe_len, 0);
	assert_int_equal(proctab_need(t, 77, "srv", 6, &rec), 0);
	proctab_new_file(t);
	assert_int_equal(proctab_need(t, 77, "srv", 7, &rec), 1);
	/* a process that is gone: still one record, with the event's comm */
	assert_int_equal(proctab_need(t, 99, "gone", 8, &rec), 1);
	assert_string_equal(rec.proc.comm, "gone");
	assert_int_equal(proctab_count(t), 2);
	proctab_forget(t, 99);
	proctab_forget(t, 12345);
	assert_int_equal(proctab_count(t), 1);
	proctab_free(t);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* -C with -W: a ring of files named FILE0..FILE2, each 0600, each a
 * complete capture file that starts with the caller's OPTIONS record. */
static void test_output_ring(void **state)
{
	char dir[] = "/tmp/httpcap-out-XXXXXX", path[512];
	struct htc_header hdr = { .version_major = HTC_VERSION_MAJOR };
	struct htc_writer_stats ws;
	struct cap_opts o = {};
	struct output *out;
	uint8_t payload[1000];
	unsigned nfiles = 0, rotations = 0;
	struct stat st;
	int err = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ring.htc", dir);
	o.wfile = path;
	o.rotate_bytes = 8192;
	o.nfiles = 3;
	out = output_open(&o, &hdr, -1, -1, &err);
	assert_non_null(out);
	uint64_t x = 88172645463325252ULL;

	for (int i = 0; i < 300; i++) {
		struct htc_record rec = { .type = HTC_REC_DATA };
		bool rotated = false;

		/* xorshift bytes: incompressible, so the files fill up */
		for (size_t k = 0; k < sizeof(payload); k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			payload[k] = (uint8_t)x;
		}
		rec.ev.type = HTC_EV_WRITE;
		rec.ev.conn_id = 1;
		rec.ev.ret = sizeof(payload);
		rec.ev.cap_len = sizeof(payload);
		rec.ev.payload = payload;
		rec.ev.ts_ns = 1000 + i;
		assert_int_equal(output_tick(out, 1000 + i, &rotated), 0);
		rotations += rotated;
		assert_int_equal(output_append(out, &rec), 0);
	}
	assert_true(rotations >= 3);
	assert_int_equal(output_close(out, 0, &ws, &nfiles), 0);
	assert_int_equal(nfiles, rotations + 1);
	assert_int_equal(ws.records, 300);
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/ring.htc%d", dir, i);
		if (i < 3) {
			struct htc_reader *r;

			assert_int_equal(stat(path, &st), 0);
			assert_int_equal(st.st_mode & 0777, 0600);
			r = htc_reader_open(path, &err);
			assert_non_null(r);
			htc_reader_close(r);
		} else {
			assert_int_equal(stat(path, &st), -1);	/* a ring of 3 */
		}
	}
	snprintf(path, sizeof(path), "%s/ring.htc", dir);
	assert_int_equal(stat(path, &st), -1);

	/* a directory that does not exist: a clean error, no crash */
	o.wfile = "/nonexistent-dir/x.htc";
	o.rotate_bytes = 0;
	o.nfiles = 0;
	assert_null(output_open(&o, &hdr, -1, -1, &err));
	assert_int_equal(err, -ENOENT);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* When the drain loop is raised and lowered (sched.c): the guard raises on
 * a quarter-full ring or two starved ticks, whatever it was; the drain
 * lowers itself only from SCHED_BATCH and only once the rings are nearly
 * empty (the hold time is the caller's); it naps between chunks only
 * while it keeps up. */
static void test_sched_decisions(void **state)
{
	(void)state;
	/* guard */
	assert_int_equal(cap_sched_next(CAP_SCHED_IDLE, 0, 0, false), CAP_SCHED_IDLE);
	assert_int_equal(cap_sched_next(CAP_SCHED_IDLE, 249, 1, false), CAP_SCHED_IDLE);
	assert_int_equal(cap_sched_next(CAP_SCHED_IDLE, 250, 0, false), CAP_SCHED_BATCH);
	assert_int_equal(cap_sched_next(CAP_SCHED_IDLE, 0, 2, false), CAP_SCHED_BATCH);
	assert_int_equal(cap_sched_next(CAP_SCHED_BATCH, 1000, 0, false), CAP_SCHED_BATCH);
	assert_int_equal(cap_sched_next(CAP_SCHED_BATCH, 0, 0, false), CAP_SCHED_BATCH);
	/* drain, after a pass */
	assert_int_equal(cap_sched_next(CAP_SCHED_BATCH, 30, 0, true), CAP_SCHED_IDLE);
	assert_int_equal(cap_sched_next(CAP_SCHED_BATCH, 31, 0, true), CAP_SCHED_BATCH);
	assert_int_equal(cap_sched_next(CAP_SCHED_IDLE, 1000, 5, true), CAP_SCHED_IDLE);
	assert_int_equal(cap_sched_next(CAP_SCHED_IDLE, 0, 0, true), CAP_SCHED_IDLE);
	/* the hold after a raise: 0.5 s after a quiet spell (lowered 1 s or
	 * more), doubling up to 10 s while it starves again soon after */
	assert_int_equal(cap_sched_hold(500000000ull, 1000000000ull), 500000000ull);
	assert_int_equal(cap_sched_hold(10000000000ull, 5000000000ull), 500000000ull);
	assert_int_equal(cap_sched_hold(500000000ull, 40000000ull), 1000000000ull);
	assert_int_equal(cap_sched_hold(1000000000ull, 999999999ull), 2000000000ull);
	assert_int_equal(cap_sched_hold(8000000000ull, 0), 10000000000ull);
	assert_int_equal(cap_sched_hold(10000000000ull, 0), 10000000000ull);
	assert_int_equal(cap_sched_hold(0, 0), 500000000ull);
	/* lowered only where idle CPU is twice what the drain used */
	assert_true(cap_sched_room(650000000ull, 110000000ull));
	assert_true(cap_sched_room(220000000ull, 110000000ull));
	assert_false(cap_sched_room(219999999ull, 110000000ull));
	assert_false(cap_sched_room(60000000ull, 110000000ull));
	assert_true(cap_sched_room(0, 0));
	/* naps between chunks only while keeping up: the rings at most 10%
	 * full (so also just past the wakeup threshold, 31) and not raised
	 * by the guard */
	assert_true(cap_sched_naps(0, false));
	assert_true(cap_sched_naps(32, false));
	assert_true(cap_sched_naps(100, false));
	assert_false(cap_sched_naps(101, false));
	assert_false(cap_sched_naps(0, true));
	assert_false(cap_sched_naps(1000, true));
}

static int no_sample(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

/* The guard thread at work (root, or CAP_SYS_NICE): this thread starts
 * SCHED_IDLE and is raised to SCHED_BATCH within a few ticks once a ring
 * is half full, held there, lowered by a pass after the hold; stopping
 * leaves it SCHED_BATCH. */
static void test_sched_guard_raises(void **state)
{
	static uint64_t cons, prod;
	static uint8_t data[4096];
	struct cap_ring_mem mem = { .cons = &cons, .prod = &prod, .data = data,
				    .size = sizeof(data) };
	struct cap_rings *rs = cap_rings_attach(&mem, 1, no_sample, NULL);
	struct cap_sched *sc;
	uint64_t t;
	int err, i;

	(void)state;
	assert_non_null(rs);
	cons = prod = 0;
	sc = cap_sched_start(rs, &err);
	assert_non_null(sc);
	if (err) {
		/* not root: SCHED_BATCH throughout, as -Z does */
		print_message("guard not started (%s): checked as root in CI\n", strerror(-err));
		assert_int_equal(sched_getscheduler(0), SCHED_BATCH);
		assert_int_equal(cap_sched_stop(sc), 0);
		cap_rings_free(rs);
		return;
	}
	assert_int_equal(sched_getscheduler(0), SCHED_IDLE);
	/* nearly empty: left alone for a few ticks */
	nanosleep(&(struct timespec){ 0, 60 * 1000000L }, NULL);
	assert_int_equal(sched_getscheduler(0), SCHED_IDLE);
	__atomic_store_n(&prod, sizeof(data) / 2, __ATOMIC_RELEASE);
	for (i = 0; i < 100 && sched_getscheduler(0) != SCHED_BATCH; i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
	assert_int_equal(sched_getscheduler(0), SCHED_BATCH);
	/* a pass right after a raise keeps it (held), even once caught up */
	__atomic_store_n(&cons, prod, __ATOMIC_RELEASE);
	cap_sched_pass(sc, cap_mono_ns());
	assert_int_equal(sched_getscheduler(0), SCHED_BATCH);
	/* once the hold (0.5 s after the first raise) is over, a pass looks
	 * at the host's idle CPU, and a pass 0.25 s later, the host idle
	 * (this thread sleeps), lowers it: the clock is the caller's */
	t = cap_mono_ns();
	cap_sched_pass(sc, t + 600 * 1000000ull);
	assert_int_equal(sched_getscheduler(0), SCHED_BATCH);
	nanosleep(&(struct timespec){ 0, 100 * 1000000L }, NULL);
	cap_sched_pass(sc, t + 900 * 1000000ull);
	assert_int_equal(sched_getscheduler(0), SCHED_IDLE);
	assert_int_equal(cap_sched_stop(sc), 1);
	assert_int_equal(sched_getscheduler(0), SCHED_BATCH);
	cap_rings_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_good),
		cmocka_unit_test(test_cli_bad),
		cmocka_unit_test(test_cli_many_pids),
		cmocka_unit_test(test_cgroup_resolve_errors),
		cmocka_unit_test(test_container_id),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_go_pclntab),
		cmocka_unit_test(test_conntab_redacts_across_payloads),
		cmocka_unit_test(test_conntab_memo),
		cmocka_unit_test(test_conntab_memo_random),
		cmocka_unit_test(test_conntab_bounded),
		cmocka_unit_test(test_proctab),
		cmocka_unit_test(test_output_ring),
		cmocka_unit_test(test_sched_decisions),
		cmocka_unit_test(test_sched_guard_raises),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
