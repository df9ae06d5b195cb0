/* SPDX-License-Identifier: MIT */
/*
 * http2.c - HTTP/2 (RFC 9113) on one connection, both roles, and gRPC on
 * top of it.  Each direction of the byte stream is cut into frames (the
 * client's preface, then 9-byte frame headers and their payloads); every
 * stream the client opens is an exchange (a request on the server side, a
 * call on the client side) from its first HEADERS frame to the END_STREAM
 * of the response, or its RST_STREAM (an error).  Header blocks (HEADERS
 * or PUSH_PROMISE, then CONTINUATION) are decoded with libnghttp2's HPACK
 * inflater, one per direction, fed one representation at a time so that
 * a block can still be read when the dynamic table is not known whole.
 *
 * Joined mid-way (a connection opened before the capture, or bytes lost
 * in a gap), the dynamic table's older entries are unknown.  What can be
 * decoded still is: static-table entries, literals, and dynamic entries
 * inserted since the join.  A representation that points past the entries
 * known is not fed to the inflater; it becomes an unresolved field (its
 * value kept when it is a literal: the entry it inserts gets a name no
 * header can have, so the table keeps its numbering).  As every insertion
 * since the join is mirrored in order, entry k counted from the newest is
 * the same on both ends whenever both still hold it: a name is either the
 * right one or marked unresolved, never another.  Frames are found again
 * after a gap by a chain of plausible frame headers.
 *
 * gRPC (content-type application/grpc): service/method from :path,
 * grpc-status and grpc-message from the trailers, and the length-prefixed
 * messages of the DATA frames counted each way.
 *
 * Over 1,000 lines: framing, the HPACK feeding above and the streams are
 * one state machine per direction (a header block's end decides a
 * stream's state, a gap in either changes the other); the next protocol
 * on top of it (gRPC) is the natural piece to move out when it grows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "engine_int.h"

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define H2_DEFAULT_FRAME 16384
#define H2_KEEP_FRAME (64 * 1024)	/* payload kept of a frame other than DATA */
#define H2_KEEP_BLOCK (256 * 1024)	/* header block bytes kept */
#define H2_TABLE_MAX 65536		/* largest dynamic table size update accepted */
#define H2_MAX_FIELDS 256		/* fields kept of one block (more are counted) */
/* The name given to a field whose name could not be resolved: a header
 * name cannot hold a control byte, so it is never a real one. */
#define H2_UNRESOLVED "\x01?"
#define H2_UNRESOLVED_LEN 2

enum {
	FT_DATA = 0, FT_HEADERS = 1, FT_PRIORITY = 2, FT_RST = 3, FT_SETTINGS = 4,
	FT_PUSH = 5, FT_PING = 6, FT_GOAWAY = 7, FT_WINDOW = 8, FT_CONT = 9,
};

#define FL_END_STREAM 0x01
#define FL_ACK 0x01
#define FL_END_HEADERS 0x04
#define FL_PADDED 0x08
#define FL_PRIORITY 0x20

enum { S_PREFACE, S_HDR, S_PAYLOAD, S_LOST };

/* One direction of the connection. */
struct h2dir {
	int state;
	uint32_t pre;			/* preface bytes matched */
	uint8_t hdr[9];
	uint32_t hlen;			/* frame header bytes collected */
	/* the frame in progress */
	uint8_t type, flags, cut;	/* cut: some of its payload was not captured */
	uint32_t sid, flen, got;
	int pad;			/* DATA: padding length, -1 until read */
	uint8_t *buf;			/* payload of a frame other than DATA */
	size_t blen, bcap;
	/* the header block in progress */
	int in_block, kcut;
	uint8_t ktype, kflags;
	uint32_t ksid;
	uint8_t *blk;
	size_t klen, kcap;
	nghttp2_hd_inflater *inf;	/* NULL: none yet (a fresh, empty table) */
	uint32_t max_frame;		/* the receiver's SETTINGS_MAX_FRAME_SIZE */
};

struct h2field {
	size_t noff, nlen, voff, vlen;
	int unresolved;
};

struct h2conn {
	struct h2dir dir[2];
	uint32_t max_sid;		/* highest stream the client opened */
	/* the fields of the block being decoded: offsets into fb */
	struct h2field *f;
	size_t nf, fcap;
	uint32_t nfields, nunres;	/* counted (beyond H2_MAX_FIELDS too) */
	char *fb;
	size_t fblen, fbcap;
	uint8_t *rw;			/* a representation rewritten */
	size_t rwcap;
};

static int req_dir(const struct conn *c)
{
	return c->role == HTC_ROLE_SERVER ? DIR_IN : DIR_OUT;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct exch *find_stream(struct conn *c, uint32_t sid)
{
	for (uint32_t i = c->qn; i-- > 0;)
		if (c->q[i]->stream_id == sid)
			return c->q[i];
	return NULL;
}

/* ---- frame headers: checks, and finding them again ---- */

/*
 * Is (type, flags, sid, len) a frame header a peer could send?  strict:
 * also no unknown type or flag (used to find frames in bytes of unknown
 * alignment).
 */
static int frame_ok(uint8_t type, uint8_t flags, uint32_t sid, uint32_t len, uint32_t max_frame,
		    int strict)
{
	static const uint8_t flags_of[10] = {
		[FT_DATA] = FL_END_STREAM | FL_PADDED,
		[FT_HEADERS] = FL_END_STREAM | FL_END_HEADERS | FL_PADDED | FL_PRIORITY,
		[FT_SETTINGS] = FL_ACK,
		[FT_PUSH] = FL_END_HEADERS | FL_PADDED,
		[FT_PING] = FL_ACK,
		[FT_CONT] = FL_END_HEADERS,
	};

	if (len > (max_frame > H2_DEFAULT_FRAME ? max_frame : H2_DEFAULT_FRAME))
		return 0;
	if (type > FT_CONT)
		return !strict;
	if (strict && (flags & ~flags_of[type]))
		return 0;
	switch (type) {
	case FT_DATA:
	case FT_HEADERS:
	case FT_CONT:
		return sid != 0;
	case FT_PRIORITY:
		return sid != 0 && len == 5;
	case FT_RST:
		return sid != 0 && len == 4;
	case FT_SETTINGS:
		return sid == 0 && len % 6 == 0 && (!(flags & FL_ACK) || len == 0);
	case FT_PUSH:
		return sid != 0 && len >= 4;
	case FT_PING:
		return sid == 0 && len == 8;
	case FT_GOAWAY:
		return sid == 0 && len >= 8;
	case FT_WINDOW:
		return len == 4;
	}
	return 0;
}

static int frame_ok_at(const uint8_t *p, uint32_t max_frame, uint32_t *len)
{
	*len = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	if (p[5] & 0x80)
		return 0;	/* the reserved bit is never sent set */
	return frame_ok(p[3], p[4], be32(p + 5) & 0x7fffffff, *len, max_frame, 1);
}

/* Frames chained from p[0]: how many headers were checked (0: the first
 * is not plausible; -1: one further on is not); OUT *exact: the last frame
 * ends with the bytes. */
static int chain(const uint8_t *p, size_t len, uint32_t max_frame, int *exact)
{
	size_t o = 0;
	int n = 0;

	*exact = 0;
	while (o + 9 <= len) {
		uint32_t fl;

		if (!frame_ok_at(p + o, max_frame, &fl))
			return n ? -1 : 0;
		n++;
		o += 9 + (size_t)fl;
		if (n >= 32)
			break;
	}
	*exact = o == len;
	return n;
}

/* Where frames start again in p (len if nowhere): at p itself (a
 * syscall's first byte) one plausible header will do, further on two in
 * a chain, or one that ends exactly with the bytes. */
static size_t resync(const uint8_t *p, size_t len, uint32_t max_frame)
{
	for (size_t o = 0; o + 9 <= len; o++) {
		int exact, n = chain(p + o, len - o, max_frame, &exact);

		if (n > 0 && (o == 0 || n >= 2 || exact))
			return o;
	}
	return len;
}

/* Does a header block starting at b look like a request's (1), a
 * response's (0), or neither (-1)?  By the static-table index of its
 * first field: 1-7 are :authority, :method, :path, :scheme; 8-14 :status. */
static int block_kind(const uint8_t *b, size_t len)
{
	unsigned idx;

	if (!len)
		return -1;
	if (b[0] & 0x80)
		idx = b[0] & 0x7f;
	else if ((b[0] & 0xc0) == 0x40)
		idx = b[0] & 0x3f;
	else if ((b[0] & 0xe0) == 0)
		idx = b[0] & 0x0f;
	else
		return -1;
	if (idx >= 1 && idx <= 7)
		return 1;
	if (idx >= 8 && idx <= 14)
		return 0;
	return -1;
}

int eng_h2_sniff(const uint8_t *p, size_t len, int *is_req)
{
	int exact, n = chain(p, len, H2_DEFAULT_FRAME, &exact);
	size_t o = 0;

	*is_req = -1;
	if (n <= 0 || !(n >= 2 || exact))
		return 0;
	/* the first HEADERS frame's block tells which end wrote it */
	while (o + 9 <= len) {
		uint32_t fl = (uint32_t)p[o] << 16 | (uint32_t)p[o + 1] << 8 | p[o + 2];
		size_t b = o + 9, end = o + 9 + fl;

		if (p[o + 3] == FT_HEADERS) {
			if (p[o + 4] & FL_PADDED)
				b++;
			if (p[o + 4] & FL_PRIORITY)
				b += 5;
			if (end > len)
				end = len;
			if (b < end)
				*is_req = block_kind(p + b, end - b);
			break;
		}
		o = end;
	}
	return 1;
}

/* ---- HPACK: one representation at a time ---- */

static void hpack_reset(struct h2dir *h)
{
	if (h->inf)
		nghttp2_hd_inflate_del(h->inf);
	h->inf = NULL;
}

/* An HPACK integer with an n-bit prefix at b[*i]: 0, or -1 (cut or too big). */
static int hp_int(const uint8_t *b, size_t len, size_t *i, int n, uint32_t *out)
{
	uint32_t max = (1u << n) - 1, v;
	int shift = 0;

	if (*i >= len)
		return -1;
	v = b[(*i)++] & max;
	if (v < max) {
		*out = v;
		return 0;
	}
	for (;;) {
		uint8_t c;

		if (*i >= len || shift > 28)
			return -1;
		c = b[(*i)++];
		if (shift == 28 && (c & 0x70))
			return -1;
		v += (uint32_t)(c & 0x7f) << shift;
		if (v < max)
			return -1;	/* wrapped */
		shift += 7;
		if (!(c & 0x80))
			break;
	}
	*out = v;
	return 0;
}

/* Skip a string literal at b[*i]: 0, or -1 when cut. */
static int hp_skip_str(const uint8_t *b, size_t len, size_t *i)
{
	uint32_t n;

	if (hp_int(b, len, i, 7, &n) || n > len - *i)
		return -1;
	*i += n;
	return 0;
}

static int add_bytes_fb(struct h2conn *hc, const uint8_t *p, size_t n, size_t *off)
{
	if (eng_grow(&hc->fb, &hc->fbcap, hc->fblen + n + 1, 1))
		return -ENOMEM;
	memcpy(hc->fb + hc->fblen, p, n);
	*off = hc->fblen;
	hc->fblen += n;
	hc->fb[hc->fblen++] = 0;
	return 0;
}

/* A decoded field (name NULL: unresolved, value unknown too). */
static int add_field(struct h2conn *hc, const uint8_t *n, size_t nl, const uint8_t *v, size_t vl,
		     int unresolved)
{
	struct h2field *f;

	hc->nfields++;
	if (unresolved)
		hc->nunres++;
	if (hc->nf >= H2_MAX_FIELDS)
		return 0;
	if (eng_grow(&hc->f, &hc->fcap, hc->nf + 1, sizeof(*hc->f)))
		return -ENOMEM;
	f = &hc->f[hc->nf++];
	memset(f, 0, sizeof(*f));
	f->unresolved = unresolved;
	if (add_bytes_fb(hc, n ? n : (const uint8_t *)"", n ? nl : 0, &f->noff) ||
	    add_bytes_fb(hc, v ? v : (const uint8_t *)"", v ? vl : 0, &f->voff))
		return -ENOMEM;
	f->nlen = n ? nl : 0;
	f->vlen = v ? vl : 0;
	return 0;
}

/* Feed in[0..len) to the inflater; fields out to hc.  0, -1 (the
 * inflater failed: its state is lost), -ENOMEM. */
static int inflate(struct h2conn *hc, nghttp2_hd_inflater *inf, const uint8_t *in, size_t len,
		   int final)
{
	for (;;) {
		nghttp2_nv nv;
		int fl = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, len, final);

		if (rv < 0)
			return -1;
		in += rv;
		len -= (size_t)rv;
		if (fl & NGHTTP2_HD_INFLATE_EMIT) {
			int unres = nv.namelen == H2_UNRESOLVED_LEN &&
				    !memcmp(nv.name, H2_UNRESOLVED, H2_UNRESOLVED_LEN);

			if (add_field(hc, unres ? NULL : nv.name, nv.namelen, nv.value, nv.valuelen, unres))
				return -ENOMEM;
		}
		if (fl & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(inf);
			return 0;
		}
		if (len == 0 && !(fl & NGHTTP2_HD_INFLATE_EMIT) && !final)
			return 0;
	}
}

/*
 * Decode header block b[0..len) of direction h into hc->f.  Returns 0 or
 * -ENOMEM; fields that could not be decoded are counted unresolved.
 */
static int decode_block(struct h2conn *hc, struct h2dir *h, const uint8_t *b, size_t len)
{
	size_t i = 0;
	int rc;

	hc->nf = 0;
	hc->fblen = 0;
	hc->nfields = hc->nunres = 0;
	if (!h->inf) {
		if (nghttp2_hd_inflate_new(&h->inf))
			return -ENOMEM;
		/* accept whatever size update the encoder sends (up to a
		 * cap): the size it was told before the join is unknown */
		nghttp2_hd_inflate_change_table_size(h->inf, H2_TABLE_MAX);
	}
	while (i < len) {
		size_t start = i;
		uint32_t idx;
		uint8_t c = b[i];
		size_t known = nghttp2_hd_inflate_get_num_table_entries(h->inf);

		if (c & 0x80) {
			/* indexed field */
			if (hp_int(b, len, &i, 7, &idx) || idx == 0)
				goto bad;
			if (idx > known) {
				if ((rc = add_field(hc, NULL, 0, NULL, 0, 1)))
					return rc;
				continue;
			}
		} else if ((c & 0xe0) == 0x20) {
			/* dynamic table size update */
			if (hp_int(b, len, &i, 5, &idx))
				goto bad;
		} else {
			int prefix = (c & 0x40) ? 6 : 4;
			size_t vstart;

			if (hp_int(b, len, &i, prefix, &idx))
				goto bad;
			if (idx == 0 && hp_skip_str(b, len, &i))
				goto bad;
			vstart = i;
			if (hp_skip_str(b, len, &i))
				goto bad;
			if (idx > known) {
				/* name unknown: the same literal with a name
				 * of ours, so an insertion still takes its
				 * place in the table */
				size_t n = 1 + 1 + H2_UNRESOLVED_LEN + (i - vstart);

				if (eng_grow(&hc->rw, &hc->rwcap, n, 1))
					return -ENOMEM;
				hc->rw[0] = (uint8_t)((c & 0x40) ? 0x40 : (c & 0x10));
				hc->rw[1] = H2_UNRESOLVED_LEN;
				memcpy(hc->rw + 2, H2_UNRESOLVED, H2_UNRESOLVED_LEN);
				memcpy(hc->rw + 2 + H2_UNRESOLVED_LEN, b + vstart, i - vstart);
				rc = inflate(hc, h->inf, hc->rw, n, 0);
				if (rc == -ENOMEM)
					return rc;
				if (rc)
					goto bad;
				continue;
			}
		}
		rc = inflate(hc, h->inf, b + start, i - start, 0);
		if (rc == -ENOMEM)
			return rc;
		if (rc)
			goto bad;
	}
	rc = inflate(hc, h->inf, NULL, 0, 1);
	if (rc == -ENOMEM)
		return rc;
	if (rc == 0)
		return 0;
bad:
	/* what is left is not decodable, and the table's state is lost */
	hpack_reset(h);
	return add_field(hc, NULL, 0, NULL, 0, 1);
}

/* ---- streams ---- */

static int name_is(const struct h2conn *hc, const struct h2field *f, const char *name)
{
	size_t n = strlen(name);

	return !f->unresolved && f->nlen == n && !memcmp(hc->fb + f->noff, name, n);
}

static const struct h2field *field(const struct h2conn *hc, const char *name)
{
	for (size_t i = 0; i < hc->nf; i++)
		if (name_is(hc, &hc->f[i], name))
			return &hc->f[i];
	return NULL;
}

static int is_grpc_type(const struct h2conn *hc, const struct h2field *f)
{
	return f && f->vlen >= 16 && !memcmp(hc->fb + f->voff, "application/grpc", 16) &&
	       (f->vlen == 16 || hc->fb[f->voff + 16] == '+' || hc->fb[f->voff + 16] == ';');
}

/* The request's head, rebuilt for replay: "M P HTTP/2", the regular
 * fields (:authority as host), a blank line. */
static int build_head(struct h2conn *hc, struct exch *x, const char *m, size_t ml, const char *p,
		      size_t pl, const struct h2field *auth)
{
	size_t need = ml + pl + 16, o, nh = 0;
	int has_host = field(hc, "host") != NULL;

	for (size_t i = 0; i < hc->nf; i++)
		need += hc->f[i].nlen + hc->f[i].vlen + 4;
	if (auth)
		need += auth->vlen + 8;
	if (eng_grow(&x->head, &x->head_cap, need, 1) ||
	    eng_grow(&x->hdrs, &x->hdrs_cap, hc->nf + 1, sizeof(*x->hdrs)))
		return -ENOMEM;
	o = 0;
	memcpy(x->head + o, m, ml);
	o += ml;
	x->head[o++] = ' ';
	memcpy(x->head + o, p, pl);
	o += pl;
	memcpy(x->head + o, " HTTP/2\r\n", 9);
	o += 9;
	for (size_t i = 0; i <= hc->nf; i++) {
		const char *n, *v;
		size_t nl, vl;

		if (i == hc->nf) {
			if (!auth || has_host)
				break;
			n = "host";
			nl = 4;
			v = hc->fb + auth->voff;
			vl = auth->vlen;
		} else {
			const struct h2field *f = &hc->f[i];

			if (f->unresolved || (f->nlen && hc->fb[f->noff] == ':'))
				continue;
			n = hc->fb + f->noff;
			nl = f->nlen;
			v = hc->fb + f->voff;
			vl = f->vlen;
		}
		x->hdrs[nh].name = (const char *)x->head + o;
		x->hdrs[nh].name_len = nl;
		memcpy(x->head + o, n, nl);
		o += nl;
		x->head[o++] = ':';
		x->head[o++] = ' ';
		x->hdrs[nh].value = (const char *)x->head + o;
		x->hdrs[nh].value_len = vl;
		memcpy(x->head + o, v, vl);
		o += vl;
		x->head[o++] = '\r';
		x->head[o++] = '\n';
		nh++;
	}
	x->head[o++] = '\r';
	x->head[o++] = '\n';
	x->head_len = o;
	x->nhdrs = nh;
	return 0;
}

/* A call's summary: "GET /p", or for gRPC "package.Service/Method" (or
 * "?" when its :path was not resolved). */
static void call_summary(struct exch *x)
{
	const char *m = x->has_str ? x->str : "?", *p = x->has_str ? x->str + x->off_path : "?";
	char *s = x->summary;
	size_t o;

	if (x->proto == HTC_PROTO_GRPC) {
		if (p[0] == '/' && p[1])
			p++;
		proto_escape(s, sizeof(x->summary), (const uint8_t *)p, strlen(p));
		return;
	}
	o = proto_escape(s, sizeof(x->summary), (const uint8_t *)m, strlen(m));
	if (o + 2 < sizeof(x->summary)) {
		s[o++] = ' ';
		proto_escape(s + o, sizeof(x->summary) - o, (const uint8_t *)p, strlen(p));
	}
}

/* A stream whose request header block was not captured (or not whole):
 * its method and path read "?". */
static int unknown_request(struct conn *c, struct exch *x)
{
	if (x->has_str)
		return 0;
	if (eng_exch_set_strs(x, "?", 1, "?", 1, "HTTP/2", "", 0))
		return -ENOMEM;
	if (c->role == HTC_ROLE_CLIENT)
		call_summary(x);
	return 0;
}

/* The request fields of stream x were decoded (hc->f). */
static int request_fields(struct htc_engine *e, struct conn *c, struct exch *x)
{
	struct h2conn *hc = c->ps;
	const struct h2field *fm = field(hc, ":method"), *fp = field(hc, ":path");
	const struct h2field *fa = field(hc, ":authority"), *fh = field(hc, "host");
	const struct h2field *ct = field(hc, "content-type");
	/* a pseudo-header missing from a block with unresolved fields may be
	 * one of them: "?" says so */
	const char *m = fm ? hc->fb + fm->voff : "?", *p = fp ? hc->fb + fp->voff : "?";
	size_t ml = fm ? fm->vlen : 1, pl = fp ? fp->vlen : 1;
	const struct h2field *host = fa ? fa : fh;

	if (is_grpc_type(hc, ct)) {
		x->proto = HTC_PROTO_GRPC;
		c->info.proto = HTC_PROTO_GRPC;
	}
	if (eng_exch_set_strs(x, m, ml, p, pl, "HTTP/2", host ? hc->fb + host->voff : "",
			      host ? host->vlen : 0))
		return -ENOMEM;
	if (c->role == HTC_ROLE_SERVER) {
		if (build_head(hc, x, m, ml, p, pl, fa))
			return -ENOMEM;
	} else {
		call_summary(x);
	}
	eng_ann_touch(e, x, 1);
	return 0;
}

static int parse_uint(const char *s, size_t n, int *out)
{
	int v = 0;

	if (n == 0 || n > 9)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Response fields (a head, or trailers) of stream x. */
static void response_fields(struct conn *c, struct exch *x)
{
	struct h2conn *hc = c->ps;
	const struct h2field *st = field(hc, ":status"), *gs = field(hc, "grpc-status");
	const struct h2field *gm = field(hc, "grpc-message"), *ct = field(hc, "content-type");
	int v;

	if (st && parse_uint(hc->fb + st->voff, st->vlen, &v) == 0) {
		if (v >= 200 || v < 100 || v == 101) {
			x->status = v;
			x->h2_resp_hdrs = 1;
		}
	}
	if (is_grpc_type(hc, ct) && x->proto != HTC_PROTO_GRPC) {
		/* the request's content-type was not resolved: the
		 * response's tells */
		x->proto = HTC_PROTO_GRPC;
		c->info.proto = HTC_PROTO_GRPC;
		if (c->role == HTC_ROLE_CLIENT)
			call_summary(x);
	}
	if (gs && parse_uint(hc->fb + gs->voff, gs->vlen, &v) == 0) {
		x->grpc_status = v;
		x->has_grpc_status = 1;
	}
	if (gm)
		proto_escape(x->grpc_message, sizeof(x->grpc_message), (const uint8_t *)hc->fb + gm->voff,
			     gm->vlen);
}

/* One side of stream x ended (END_STREAM). */
static void stream_end(struct htc_engine *e, struct conn *c, struct exch *x, int is_req, uint64_t ts)
{
	if (!x)
		return;
	if (is_req) {
		x->req_done = 1;
		x->h2_req_end = 1;
		return;
	}
	x->resp_done = 1;
	x->resp_started = 1;
	x->end_ns = ts;
	eng_exch_done(e, x);
}

/* Message framing of gRPC DATA: 1 byte compressed flag, 4 bytes length. */
static void grpc_data(struct exch *x, int side, const uint8_t *p, size_t n)
{
	struct grpc_msgs *g = &x->gm[side];

	while (n > 0 && !g->lost) {
		if (g->rem) {
			size_t k = n < g->rem ? n : (size_t)g->rem;

			g->rem -= k;
			p += k;
			n -= k;
			continue;
		}
		g->pfx[g->plen++] = *p++;
		n--;
		if (g->plen == 5) {
			g->plen = 0;
			g->rem = be32(g->pfx + 1);
			x->msgs[side]++;
			x->msg_bytes[side] += g->rem;
		}
	}
}

static void grpc_gap(struct exch *x, int side, uint64_t n)
{
	struct grpc_msgs *g = &x->gm[side];

	if (g->plen == 0 && g->rem >= n)
		g->rem -= n;
	else
		g->lost = 1;
}

/* Bytes of the DATA of stream x, in direction is_req. */
static void stream_data(struct conn *c, struct exch *x, int is_req, const uint8_t *p, size_t n)
{
	if (!x || !n)
		return;
	if (x->proto == HTC_PROTO_GRPC)
		grpc_data(x, !is_req, p, n);
	if (!is_req) {
		x->body_hash = fnv1a64(x->body_hash, p, n);
		x->resp_body_len += n;
		return;
	}
	/* a server keeps its requests' bodies for replay, up to a cap */
	if ((x->flags & HTC_ENGF_BODY_PARTIAL) || c->role != HTC_ROLE_SERVER)
		return;
	if (x->body_len + n > ENG_BODY_CAP || eng_grow(&x->body, &x->body_cap, x->body_len + n, 1)) {
		x->flags |= HTC_ENGF_BODY_PARTIAL;
		return;
	}
	memcpy(x->body + x->body_len, p, n);
	x->body_len += n;
}

/* n bytes of stream x's frames went by at ts. */
static void stream_bytes(struct exch *x, int is_req, uint64_t n, uint64_t ts)
{
	if (!x)
		return;
	if (is_req) {
		x->req_bytes += n;
	} else {
		x->resp_bytes += n;
		x->last_resp_ns = ts;
	}
}

/* ---- frames ---- */

/* Framing of direction d is lost: find frames again, forget the table. */
static void lose(struct htc_engine *e, struct conn *c, int d)
{
	struct h2conn *hc = c->ps;
	struct h2dir *h = &hc->dir[d];

	if (h->in_block) {
		struct exch *x = find_stream(c, h->ksid);

		if (x) {
			x->unresolved++;
			if (d == req_dir(c))
				unknown_request(c, x);	/* out of memory: left without */
		}
		h->in_block = 0;
	}
	h->state = S_LOST;
	h->hlen = 0;
	hpack_reset(h);
}

/* The header block of direction d is complete (or lost: kcut). */
static int block_end(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	struct h2conn *hc = c->ps;
	struct h2dir *h = &hc->dir[d];
	int is_req = d == req_dir(c);
	struct exch *x = h->ktype == FT_PUSH ? NULL : find_stream(c, h->ksid);
	int rc;

	h->in_block = 0;
	if (h->kcut) {
		/* bytes of the block were not captured: its fields, and
		 * whatever it inserted in the table, are unknown */
		hpack_reset(h);
		hc->nf = 0;
		hc->nfields = hc->nunres = 1;
	} else {
		rc = decode_block(hc, h, h->blk, h->klen);
		if (rc)
			return rc;
	}
	e->st.h2_fields += hc->nfields;
	e->st.h2_unresolved += hc->nunres;
	if (!x)
		return 0;	/* a stream not followed: the table is kept all the same */
	x->unresolved += hc->nunres;
	if (is_req) {
		if (!x->has_str && (rc = request_fields(e, c, x)))
			return rc;
	} else {
		response_fields(c, x);
		x->resp_started = 1;
	}
	if (h->kflags & FL_END_STREAM)
		stream_end(e, c, x, is_req, k->ts);
	return 0;
}

static int keep(uint8_t **buf, size_t *len, size_t *cap, size_t max, const uint8_t *p, size_t n)
{
	if (*len + n > max)
		return 1;
	if (eng_grow(buf, cap, *len + n, 1))
		return -ENOMEM;
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

/* The payload of the frame of direction d is complete. */
static int frame_end(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	struct h2conn *hc = c->ps;
	struct h2dir *h = &hc->dir[d];
	int is_req = d == req_dir(c);
	const uint8_t *b = h->buf;
	size_t n = h->blen;

	h->state = S_HDR;
	h->hlen = 0;
	switch (h->type) {
	case FT_DATA:
		if (h->flags & FL_END_STREAM)
			stream_end(e, c, find_stream(c, h->sid), is_req, k->ts);
		return 0;
	case FT_HEADERS:
	case FT_PUSH: {
		size_t off = 0, pad = 0;
		int rc;

		h->in_block = 1;
		h->ktype = h->type;
		h->kflags = h->flags;
		h->ksid = h->sid;
		h->klen = 0;
		h->kcut = h->cut;
		if (!h->cut) {
			if (h->flags & FL_PADDED)
				pad = n ? b[off++] : 0;
			if (h->type == FT_HEADERS && (h->flags & FL_PRIORITY))
				off += 5;
			if (h->type == FT_PUSH)
				off += 4;
			if (off + pad > n) {
				e->st.parse_errors++;
				h->kcut = 1;
			} else {
				rc = keep(&h->blk, &h->klen, &h->kcap, H2_KEEP_BLOCK, b + off, n - off - pad);
				if (rc < 0)
					return rc;
				h->kcut = rc;
			}
		}
		if (h->flags & FL_END_HEADERS)
			return block_end(e, c, d, k);
		return 0;
	}
	case FT_CONT: {
		int rc;

		if (!h->in_block || h->sid != h->ksid) {
			e->st.parse_errors++;
			lose(e, c, d);
			return 0;
		}
		if (h->cut) {
			h->kcut = 1;
		} else if (!h->kcut) {
			rc = keep(&h->blk, &h->klen, &h->kcap, H2_KEEP_BLOCK, b, n);
			if (rc < 0)
				return rc;
			h->kcut = rc;
		}
		if (h->flags & FL_END_HEADERS)
			return block_end(e, c, d, k);
		return 0;
	}
	case FT_RST: {
		struct exch *x = find_stream(c, h->sid);

		if (x && !x->resp_done) {
			/* the stream ends in error: whichever end reset it */
			x->flags |= HTC_ENGF_STREAM_RESET | HTC_ENGF_ERROR;
			x->resp_done = 1;
			x->answered = 1;
			x->end_ns = k->ts;
			eng_exch_done(e, x);
		}
		return 0;
	}
	case FT_SETTINGS:
		if (h->cut || (h->flags & FL_ACK))
			return 0;
		for (size_t i = 0; i + 6 <= n; i += 6) {
			uint32_t id = (uint32_t)b[i] << 8 | b[i + 1], v = be32(b + i + 2);

			/* the sender's limit is on what it receives: the
			 * other direction */
			if (id == 5 && v >= H2_DEFAULT_FRAME && v < (1u << 24))
				hc->dir[!d].max_frame = v;
		}
		return 0;
	default:
		return 0;
	}
}

/* A frame header of direction d was read (h->hdr). */
static void frame_begin(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	struct h2conn *hc = c->ps;
	struct h2dir *h = &hc->dir[d];
	int is_req = d == req_dir(c);
	struct exch *x = NULL;
	int start = 0;

	h->state = S_PAYLOAD;
	h->got = 0;
	h->pad = -1;
	h->cut = 0;
	h->blen = 0;
	if (!h->sid)
		return;
	x = find_stream(c, h->sid);
	if (!x && (h->sid & 1) && h->sid > hc->max_sid &&
	    ((is_req && h->type == FT_HEADERS) ||
	     (hc->max_sid && (h->type == FT_HEADERS || h->type == FT_DATA || h->type == FT_RST)))) {
		/* the client opens a stream; or it opened one in bytes not
		 * captured (a gap after streams were seen opening: a later
		 * stream's frames show it) */
		int lost_open = !(is_req && h->type == FT_HEADERS);

		hc->max_sid = h->sid;
		x = eng_exch_start_seq(e, c, k->ev, k->ts, HTC_PROTO_HTTP2, (h->sid - 1) / 2);
		if (!x)
			return;	/* out of memory: the stream is not followed */
		x->stream_id = h->sid;
		start = 1;
		if (lost_open) {
			/* its start is some time before this frame */
			x->flags |= HTC_ENGF_GAP | HTC_ENGF_REQ_GAP;
			x->unresolved++;
			unknown_request(c, x);
		}
	}
	if (!x)
		return;
	if (!is_req && (h->type == FT_HEADERS || h->type == FT_DATA) && !x->resp_started) {
		x->resp_started = 1;
		x->resp_start_ns = k->ts;
	}
	stream_bytes(x, is_req, 9, k->ts);
	eng_ann_touch(e, x, start);
}

/* Payload bytes p[0..n) of the frame of direction d. */
static int frame_bytes(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k,
		       const uint8_t *p, size_t n)
{
	struct h2conn *hc = c->ps;
	struct h2dir *h = &hc->dir[d];
	int is_req = d == req_dir(c);
	struct exch *x = h->sid ? find_stream(c, h->sid) : NULL;

	stream_bytes(x, is_req, n, k->ts);
	if (x && e->ann_serial != x->serial)
		eng_ann_touch(e, x, 0);
	if (h->type == FT_DATA) {
		size_t pos = h->got, i = 0, first, end;

		if ((h->flags & FL_PADDED) && h->pad < 0 && n) {
			h->pad = p[0];
			i = 1;
			pos++;
		}
		if (h->pad < 0)
			h->pad = 0;
		/* data bytes: [first, end) of the payload */
		first = (h->flags & FL_PADDED) ? 1 : 0;
		end = (size_t)h->pad + first <= h->flen ? h->flen - (size_t)h->pad : first;
		if (pos < first)
			pos = first;
		if (pos < end && i < n) {
			size_t m = n - i;

			if (m > end - pos)
				m = end - pos;
			stream_data(c, x, is_req, p + i, m);
		}
		return 0;
	}
	if (!h->cut) {
		int rc = keep(&h->buf, &h->blen, &h->bcap, H2_KEEP_FRAME, p, n);

		if (rc < 0)
			return rc;
		if (rc)
			h->cut = 1;
	}
	return 0;
}

/* Captured bytes of direction d. */
static int h2_feed(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k,
		   const uint8_t *p, size_t len)
{
	struct h2conn *hc = c->ps;
	struct h2dir *h = &hc->dir[d];
	int rc;

	while (len > 0) {
		switch (h->state) {
		case S_PREFACE: {
			size_t n = H2_PREFACE_LEN - h->pre;

			if (n > len)
				n = len;
			if (memcmp(p, H2_PREFACE + h->pre, n)) {
				e->st.parse_errors++;
				lose(e, c, d);
				break;
			}
			h->pre += (uint32_t)n;
			p += n;
			len -= n;
			if (h->pre == H2_PREFACE_LEN)
				h->state = S_HDR;
			break;
		}
		case S_HDR: {
			size_t n = 9 - h->hlen;
			uint32_t fl;

			if (n > len)
				n = len;
			memcpy(h->hdr + h->hlen, p, n);
			h->hlen += (uint32_t)n;
			p += n;
			len -= n;
			if (h->hlen < 9)
				break;
			fl = (uint32_t)h->hdr[0] << 16 | (uint32_t)h->hdr[1] << 8 | h->hdr[2];
			h->type = h->hdr[3];
			h->flags = h->hdr[4];
			h->sid = be32(h->hdr + 5) & 0x7fffffff;
			h->flen = fl;
			if (!frame_ok(h->type, h->flags, h->sid, fl, h->max_frame, 0) ||
			    (h->in_block && h->type != FT_CONT)) {
				e->st.parse_errors++;
				lose(e, c, d);
				break;
			}
			frame_begin(e, c, d, k);
			if (h->flen == 0 && (rc = frame_end(e, c, d, k)))
				return rc;
			break;
		}
		case S_PAYLOAD: {
			size_t n = h->flen - h->got;

			if (n > len)
				n = len;
			if ((rc = frame_bytes(e, c, d, k, p, n)))
				return rc;
			h->got += (uint32_t)n;
			p += n;
			len -= n;
			if (h->got == h->flen && (rc = frame_end(e, c, d, k)))
				return rc;
			break;
		}
		case S_LOST: {
			size_t o = resync(p, len, h->max_frame);

			if (o == len)
				return 0;
			p += o;
			len -= o;
			h->state = S_HDR;
			h->hlen = 0;
			break;
		}
		}
	}
	return 0;
}

/* n bytes of direction d were counted but not captured. */
static int h2_gap(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k, uint64_t n)
{
	struct h2conn *hc = c->ps;
	struct h2dir *h = &hc->dir[d];
	int is_req = d == req_dir(c);

	while (n > 0) {
		struct exch *x;
		uint64_t take;
		int rc;

		if (h->state != S_PAYLOAD) {
			/* a frame header, or the preface: framing is lost */
			if (h->state != S_LOST)
				lose(e, c, d);
			return 0;
		}
		take = h->flen - h->got;
		if (take > n)
			take = n;
		x = h->sid ? find_stream(c, h->sid) : NULL;
		stream_bytes(x, is_req, take, k->ts);
		if (h->type == FT_DATA) {
			if (x) {
				x->flags |= HTC_ENGF_GAP |
					    (is_req ? HTC_ENGF_BODY_PARTIAL | HTC_ENGF_REQ_GAP
						    : HTC_ENGF_RESP_BODY_PARTIAL);
				grpc_gap(x, !is_req, take);
			}
			if (h->pad < 0)
				h->pad = 0;
		} else {
			h->cut = 1;
		}
		h->got += (uint32_t)take;
		n -= take;
		if (h->got == h->flen && (rc = frame_end(e, c, d, k)))
			return rc;
	}
	return 0;
}

/* ---- the protocol's operations ---- */

static int h2_detect(const uint8_t *p, size_t len)
{
	size_t n = len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN;

	return n >= 4 && !memcmp(p, H2_PREFACE, n);
}

static int h2_open(struct htc_engine *e, struct conn *c, int d, const uint8_t *p, size_t len)
{
	struct h2conn *hc = calloc(1, sizeof(*hc));

	if (!hc)
		return -ENOMEM;
	c->ps = hc;
	/* upgraded from HTTP/1 (h2c): its request is stream 1 */
	for (uint32_t i = 0; i < c->qn; i++)
		if (c->q[i]->stream_id > hc->max_sid)
			hc->max_sid = c->q[i]->stream_id;
	for (int i = 0; i < 2; i++) {
		struct h2dir *h = &hc->dir[i];

		h->max_frame = H2_DEFAULT_FRAME;
		if (c->preexisting)
			h->state = S_LOST;	/* joined mid-way: find frames */
		else if (hc->max_sid)		/* upgraded: the client's preface is next */
			h->state = i == req_dir(c) ? S_PREFACE : S_HDR;
		else if (i != d && c->in[i].started)
			h->state = S_LOST;	/* bytes went by before the protocol was known */
		else if (i == req_dir(c) && i == d && h2_detect(p, len))
			h->state = S_PREFACE;
		else if (i == req_dir(c) && i != d)
			h->state = S_PREFACE;
		else if (i == d && len && !h2_detect(p, len))
			h->state = S_LOST;
		else
			h->state = S_HDR;
	}
	return 0;
}

static int h2_data(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	int rc;

	if (!c->ps)
		return 0;	/* its state could not be allocated (an h2c upgrade) */
	if (k->lost && (rc = h2_gap(e, c, d, k, k->lost)))
		return rc;
	if ((rc = h2_feed(e, c, d, k, k->p, k->len)))
		return rc;
	if (k->tail && (rc = h2_gap(e, c, d, k, k->tail)))
		return rc;
	/* frames of no stream: the client side still belongs to the thread's request */
	if (c->role == HTC_ROLE_CLIENT)
		eng_ann_thread(e, c, k->ev);
	return 0;
}

/* Streams cut by the end of the connection. */
static void h2_close(struct htc_engine *e, struct conn *c, int closing)
{
	for (uint32_t i = 0; c->ps && i < c->qn; i++) {
		struct exch *x = c->q[i];

		if (!x->has_str) {
			/* its header block was cut by the end */
			x->unresolved++;
			unknown_request(c, x);
		}
		if (closing && !x->resp_done && (x->resp_started || !x->h2_req_end))
			x->flags |= HTC_ENGF_RESET;
	}
}

static void h2_free(struct conn *c)
{
	struct h2conn *hc = c->ps;

	if (!hc)
		return;
	for (int i = 0; i < 2; i++) {
		hpack_reset(&hc->dir[i]);
		free(hc->dir[i].buf);
		free(hc->dir[i].blk);
	}
	free(hc->f);
	free(hc->fb);
	free(hc->rw);
	free(hc);
	c->ps = NULL;
}

const struct eng_proto eng_http2 = {
	.id = HTC_PROTO_HTTP2,
	.name = "http2",
	.detect = h2_detect,
	.open = h2_open,
	.data = h2_data,
	.close = h2_close,
	.free = h2_free,
	.max_pending = ENG_MAX_STREAMS,
};

/* gRPC's connections are HTTP/2's (the name a connection gets once one of
 * its streams carries gRPC); never detected by itself. */
const struct eng_proto eng_grpc = {
	.id = HTC_PROTO_GRPC,
	.name = "grpc",
	.open = h2_open,
	.data = h2_data,
	.close = h2_close,
	.free = h2_free,
	.max_pending = ENG_MAX_STREAMS,
};
