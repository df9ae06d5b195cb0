// SPDX-License-Identifier: MIT
/*
 * peer.c - a small HTTP/1.1 client and server for httpcap's end-to-end
 * tests, moving their bytes with one chosen syscall family, so each family
 * httpcap hooks is exercised by a known peer:
 *
 *   rw    read / write
 *   vec   readv / writev (two iovecs)
 *   msg   recvmsg / sendmsg (three iovecs: the BPF side copies up to two
 *         without a loop, so vec and msg take both of its paths)
 *   mmsg  recvmmsg / sendmmsg (the request in two messages)
 *
 * usage: peer server MODE ADDR PORT CONNS    serve CONNS connections, then exit
 *        peer client MODE ADDR PORT COUNT [WAITFILE]
 *              COUNT keep-alive requests on one connection; with WAITFILE,
 *              connect, print "connected" and wait (at most 60 s) for
 *              WAITFILE to exist before the first request (a connection
 *              opened before httpcap started)
 *
 * On exit each prints one JSON line with what it moved, for the test to
 * compare with the capture:
 *   {"role": "client", "mode": "rw", "requests": 3, "sent": 150,
 *    "received": 300, "local_port": 40000, "pid": 123, "sends": 3, "recvs": 3}
 * "sends"/"recvs" count the data syscalls that moved bytes.  Every blocking
 * call is bounded by a 20 s socket timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum mode { M_RW, M_VEC, M_MSG, M_MMSG };

static const char *const mode_names[] = { "rw", "vec", "msg", "mmsg" };

static enum mode g_mode;
static unsigned long g_sent, g_received, g_sends, g_recvs;

static void die(const char *what)
{
	fprintf(stderr, "peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Send all of buf, split in two pieces for the vectored families. */
static void send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		size_t half = len / 2;
		ssize_t n;

		switch (g_mode) {
		case M_RW:
			n = write(fd, buf, len);
			break;
		case M_VEC: {
			struct iovec iov[2] = { { (void *)buf, half }, { (void *)(buf + half), len - half } };

			n = writev(fd, iov, 2);
			break;
		}
		case M_MSG: {
			size_t third = len / 3;
			struct iovec iov[3] = { { (void *)buf, third }, { (void *)(buf + third), third },
						{ (void *)(buf + 2 * third), len - 2 * third } };
			struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };

			n = sendmsg(fd, &mh, MSG_NOSIGNAL);
			break;
		}
		default: {
			struct iovec iov[2] = { { (void *)buf, half }, { (void *)(buf + half), len - half } };
			struct mmsghdr mm[2];

			memset(mm, 0, sizeof(mm));
			mm[0].msg_hdr.msg_iov = &iov[0];
			mm[0].msg_hdr.msg_iovlen = 1;
			mm[1].msg_hdr.msg_iov = &iov[1];
			mm[1].msg_hdr.msg_iovlen = 1;
			int k = sendmmsg(fd, half ? mm : mm + 1, half ? 2 : 1, MSG_NOSIGNAL);

			if (k < 0) {
				n = -1;
				break;
			}
			n = 0;
			for (int i = 0; i < k; i++)
				n += (half ? mm[i] : mm[1]).msg_len;
			break;
		}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("send");
		}
		g_sent += (unsigned long)n;
		g_sends++;
		buf += n;
		len -= (size_t)n;
	}
}

/* One receive into buf (at most cap bytes); 0 at EOF. */
static size_t recv_some(int fd, char *buf, size_t cap)
{
	size_t half = cap > 32 ? 16 : cap / 2;
	ssize_t n;

	for (;;) {
		/* Wait in poll(), as event-loop servers do, not inside the data
		 * syscall: a read already blocked when httpcap attaches cannot
		 * be captured (its sys_enter was missed), and the pre-existing
		 * connection test wants every request of its peers. */
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 20000) == 0) {
			errno = ETIMEDOUT;
			die("poll");
		}
		switch (g_mode) {
		case M_RW:
			n = read(fd, buf, cap);
			break;
		case M_VEC: {
			struct iovec iov[2] = { { buf, half }, { buf + half, cap - half } };

			n = readv(fd, iov, 2);
			break;
		}
		case M_MSG: {
			size_t third = half / 2;
			struct iovec iov[3] = { { buf, third }, { buf + third, half - third },
						{ buf + half, cap - half } };
			struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };

			n = recvmsg(fd, &mh, 0);
			break;
		}
		default: {
			struct iovec iov = { buf, cap };
			struct mmsghdr mm;

			memset(&mm, 0, sizeof(mm));
			mm.msg_hdr.msg_iov = &iov;
			mm.msg_hdr.msg_iovlen = 1;
			int k = recvmmsg(fd, &mm, 1, 0, NULL);

			n = k < 0 ? -1 : k == 0 ? 0 : (ssize_t)mm.msg_len;
			break;
		}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("receive");
		if (n > 0) {
			g_received += (unsigned long)n;
			g_recvs++;
		}
		return (size_t)n;
	}
}

/* Read one HTTP message head (and a Content-Length body) from fd into buf;
 * returns its total length, 0 at a clean EOF before any byte. */
static size_t recv_message(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	char *end;

	for (;;) {
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")))
			break;
		if (len + 1 >= cap) {
			fprintf(stderr, "peer: message head longer than %zu bytes\n", cap);
			exit(1);
		}
		size_t n = recv_some(fd, buf + len, cap - 1 - len);

		if (n == 0) {
			if (len == 0)
				return 0;
			fprintf(stderr, "peer: connection closed inside a message head\n");
			exit(1);
		}
		len += n;
	}
	size_t head = (size_t)(end - buf) + 4;
	const char *cl = strcasestr(buf, "\r\nContent-Length:");
	size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;

	if (head + body >= cap) {
		fprintf(stderr, "peer: message of %zu bytes too big\n", head + body);
		exit(1);
	}
	while (len < head + body) {
		size_t n = recv_some(fd, buf + len, head + body - len);

		if (n == 0) {
			fprintf(stderr, "peer: connection closed inside a body\n");
			exit(1);
		}
		len += n;
	}
	if (len != head + body) {
		fprintf(stderr, "peer: %zu bytes after the message (pipelining is not expected)\n",
			len - head - body);
		exit(1);
	}
	return len;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 20 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		die("setsockopt");
}

static socklen_t make_addr(const char *addr, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			goto bad;
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
		goto bad;
	return sizeof(*s4);
bad:
	fprintf(stderr, "peer: bad address '%s'\n", addr);
	exit(2);
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		die("getsockname");
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void report(const char *role, unsigned long requests, int lport)
{
	printf("{\"role\": \"%s\", \"mode\": \"%s\", \"requests\": %lu, \"sent\": %lu, "
	       "\"received\": %lu, \"local_port\": %d, \"pid\": %d, \"sends\": %lu, \"recvs\": %lu}\n",
	       role, mode_names[g_mode], requests, g_sent, g_received, lport, (int)getpid(),
	       g_sends, g_recvs);
	fflush(stdout);
}

static int server(const char *addr, int port, long conns)
{
	struct sockaddr_storage ss;
	socklen_t sl = make_addr(addr, port, &ss);
	int one = 1, ls = socket(ss.ss_family, SOCK_STREAM, 0);
	unsigned long requests = 0;
	static char buf[65536];

	if (ls < 0)
		die("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&ss, sl) < 0)
		die("bind");
	if (listen(ls, 16) < 0)
		die("listen");
	/* the accept timeout bounds a test whose client never came */
	set_timeouts(ls);
	fprintf(stderr, "peer: listening on %s port %d\n", addr, port);
	for (long c = 0; c < conns; c++) {
		int fd = accept(ls, NULL, NULL);

		if (fd < 0)
			die("accept");
		set_timeouts(fd);
		for (;;) {
			size_t n = recv_message(fd, buf, sizeof(buf));

			if (n == 0)
				break;
			/* the body names the request, so each response differs */
			char body[256], resp[512];
			char *sp = strchr(buf, ' '), *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
			int bl = snprintf(body, sizeof(body), "peer %s served %.*s\n",
					  mode_names[g_mode], sp && sp2 ? (int)(sp2 - sp - 1) : 1,
					  sp && sp2 ? sp + 1 : "?");
			int rl = snprintf(resp, sizeof(resp),
					  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
					  "Content-Length: %d\r\n\r\n%s", bl, body);

			send_all(fd, resp, (size_t)rl);
			requests++;
		}
		close(fd);
	}
	close(ls);
	report("server", requests, port);
	return 0;
}

static int client(const char *addr, int port, long count, const char *waitfile)
{
	struct sockaddr_storage ss;
	socklen_t sl = make_addr(addr, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	static char buf[65536];
	struct stat st;

	if (fd < 0)
		die("socket");
	set_timeouts(fd);
	/* the server may still be starting: retry for up to 10 s */
	for (int tries = 0; connect(fd, (struct sockaddr *)&ss, sl) < 0; tries++) {
		if (errno != ECONNREFUSED || tries >= 100)
			die("connect");
		struct timespec ts = { 0, 100 * 1000000L };

		nanosleep(&ts, NULL);
	}
	if (waitfile) {
		printf("connected %d\n", local_port(fd));
		fflush(stdout);
		for (int i = 0; stat(waitfile, &st) < 0; i++) {
			struct timespec ts = { 0, 100 * 1000000L };

			if (i >= 600) {
				fprintf(stderr, "peer: '%s' did not appear within 60 s\n", waitfile);
				return 1;
			}
			nanosleep(&ts, NULL);
		}
	}
	for (long i = 0; i < count; i++) {
		char req[256];
		int rl = snprintf(req, sizeof(req),
				  "GET /peer/%s/%ld HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: peer\r\n\r\n",
				  mode_names[g_mode], i, addr, port);

		send_all(fd, req, (size_t)rl);
		if (recv_message(fd, buf, sizeof(buf)) == 0) {
			fprintf(stderr, "peer: server closed the connection\n");
			return 1;
		}
		if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0) {
			fprintf(stderr, "peer: unexpected response\n");
			return 1;
		}
	}
	int lport = local_port(fd);

	close(fd);
	report("client", (unsigned long)count, lport);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: peer server MODE ADDR PORT CONNS\n"
				"       peer client MODE ADDR PORT COUNT [WAITFILE]\n");
		return 2;
	}
	int m;

	for (m = 0; m < 4 && strcmp(argv[2], mode_names[m]) != 0; m++)
		;
	if (m == 4) {
		fprintf(stderr, "peer: unknown mode '%s' (rw, vec, msg, mmsg)\n", argv[2]);
		return 2;
	}
	g_mode = (enum mode)m;
	int port = atoi(argv[4]);
	long n = atol(argv[5]);

	if (port <= 0 || port > 65535 || n <= 0) {
		fprintf(stderr, "peer: bad port '%s' or count '%s'\n", argv[4], argv[5]);
		return 2;
	}
	if (strcmp(argv[1], "server") == 0)
		return server(argv[3], port, n);
	if (strcmp(argv[1], "client") == 0)
		return client(argv[3], port, n, argc > 6 ? argv[6] : NULL);
	fprintf(stderr, "peer: unknown role '%s'\n", argv[1]);
	return 2;
}
