// SPDX-License-Identifier: MIT
/*
 * htc_codec.c - encode and decode the bodies of data-frame records, one
 * function per record type, dispatched through a table.  The layouts are
 * the tables of docs/FORMAT.md "Record bodies"; every offset below is one
 * row there.  Decoders never read past the body length they are given.
 */
#include <errno.h>

#include "htc_internal.h"

/* ---- event (HTC_REC_DATA, HTC_REC_CONN) ---- */

static int64_t ev_size(const struct htc_record *rec)
{
	return htc_ev_size(&rec->ev);
}

static uint64_t ev_encode(const struct htc_record *rec, uint8_t *b)
{
	const struct htc_event *e = &rec->ev;

	b[0] = e->type;
	b[1] = e->syscall;
	put_le16(b + 2, e->flags);
	put_le32(b + 4, e->pid);
	put_le32(b + 8, e->tid);
	put_le32(b + 12, (uint32_t)e->fd);
	put_le64(b + 16, e->ts_ns);
	put_le64(b + 24, e->dur_ns);
	put_le64(b + 32, e->conn_id);
	put_le64(b + 40, (uint64_t)e->ret);
	put_le64(b + 48, e->stream_off);
	put_le64(b + 56, e->stream_off2);
	b[64] = e->ep.family;
	b[65] = e->ep.role;
	put_le16(b + 66, e->ep.lport);
	put_le16(b + 68, e->ep.rport);
	put_le16(b + 70, 0);
	memcpy(b + 72, e->ep.laddr, 16);
	memcpy(b + 88, e->ep.raddr, 16);
	/* comm is written NUL-padded to its 16 bytes, whatever follows the
	 * caller's NUL, so files do not leak stale memory */
	memset(b + 104, 0, HTC_COMM_LEN);
	memcpy(b + 104, e->comm, strnlen(e->comm, HTC_COMM_LEN - 1));
	put_le32(b + 120, e->cap_len);
	put_le32(b + 124, e->flags & HTC_EVF_SEQ ? e->tcp_seq : 0);
	if (e->cap_len)
		memcpy(b + HTC_EV_FIXED, e->payload, e->cap_len);
	return e->ts_ns;
}

static int ev_decode(const uint8_t *b, uint32_t len, struct htc_record *rec,
		     const char **why)
{
	struct htc_event *e = &rec->ev;

	if (len < HTC_EV_FIXED) {
		*why = "event body shorter than its 128 fixed bytes";
		return HTC_ERR_CORRUPT;
	}
	e->type = b[0];
	e->syscall = b[1];
	/* TLS plaintext comes in TLS_C records only (htc_compact.c) */
	e->flags = get_le16(b + 2) & ~HTC_EVF_TLS;
	e->pid = get_le32(b + 4);
	e->tid = get_le32(b + 8);
	e->fd = (int32_t)get_le32(b + 12);
	e->ts_ns = get_le64(b + 16);
	e->dur_ns = get_le64(b + 24);
	e->conn_id = get_le64(b + 32);
	e->ret = (int64_t)get_le64(b + 40);
	e->stream_off = get_le64(b + 48);
	e->stream_off2 = get_le64(b + 56);
	e->ep.family = b[64];
	e->ep.role = b[65];
	e->ep.lport = get_le16(b + 66);
	e->ep.rport = get_le16(b + 68);
	memcpy(e->ep.laddr, b + 72, 16);
	memcpy(e->ep.raddr, b + 88, 16);
	memcpy(e->comm, b + 104, HTC_COMM_LEN);
	e->comm[HTC_COMM_LEN - 1] = '\0';
	e->cap_len = get_le32(b + 120);
	e->tcp_seq = e->flags & HTC_EVF_SEQ ? get_le32(b + 124) : 0;
	if (e->cap_len > len - HTC_EV_FIXED) {
		*why = "event payload runs past the record";
		return HTC_ERR_CORRUPT;
	}
	e->payload = b + HTC_EV_FIXED;
	return 0;
}

/* ---- process metadata ---- */

static int64_t proc_size(const struct htc_record *rec)
{
	const struct htc_proc *p = &rec->proc;

	if ((p->exe_len && !p->exe) || (p->cmdline_len && !p->cmdline) ||
	    (p->cgroup_len && !p->cgroup) || (p->container_len && !p->container))
		return -EINVAL;
	return (int64_t)HTC_PROC_FIXED + p->exe_len + p->cmdline_len +
	       p->cgroup_len + p->container_len;
}

static uint64_t proc_encode(const struct htc_record *rec, uint8_t *b)
{
	const struct htc_proc *p = &rec->proc;
	uint8_t *v = b + HTC_PROC_FIXED;

	put_le64(b, p->ts_ns);
	put_le32(b + 8, p->pid);
	put_le32(b + 12, p->ppid);
	put_le32(b + 16, p->uid);
	put_le32(b + 20, p->gid);
	memset(b + 24, 0, HTC_COMM_LEN);
	memcpy(b + 24, p->comm, strnlen(p->comm, HTC_COMM_LEN - 1));
	put_le32(b + 40, p->exe_len);
	put_le32(b + 44, p->cmdline_len);
	put_le32(b + 48, p->cgroup_len);
	put_le32(b + 52, p->container_len);
	if (p->exe_len)
		memcpy(v, p->exe, p->exe_len);
	v += p->exe_len;
	if (p->cmdline_len)
		memcpy(v, p->cmdline, p->cmdline_len);
	v += p->cmdline_len;
	if (p->cgroup_len)
		memcpy(v, p->cgroup, p->cgroup_len);
	v += p->cgroup_len;
	if (p->container_len)
		memcpy(v, p->container, p->container_len);
	return p->ts_ns;
}

static int proc_decode(const uint8_t *b, uint32_t len, struct htc_record *rec,
		       const char **why)
{
	struct htc_proc *p = &rec->proc;
	uint64_t need;
	const char *v;

	if (len < HTC_PROC_FIXED) {
		*why = "process body shorter than its 56 fixed bytes";
		return HTC_ERR_CORRUPT;
	}
	p->ts_ns = get_le64(b);
	p->pid = get_le32(b + 8);
	p->ppid = get_le32(b + 12);
	p->uid = get_le32(b + 16);
	p->gid = get_le32(b + 20);
	memcpy(p->comm, b + 24, HTC_COMM_LEN);
	p->comm[HTC_COMM_LEN - 1] = '\0';
	p->exe_len = get_le32(b + 40);
	p->cmdline_len = get_le32(b + 44);
	p->cgroup_len = get_le32(b + 48);
	p->container_len = get_le32(b + 52);
	/* summed in 64 bits: four u32 lengths cannot wrap */
	need = (uint64_t)p->exe_len + p->cmdline_len + p->cgroup_len + p->container_len;
	if (need > len - HTC_PROC_FIXED) {
		*why = "process strings run past the record";
		return HTC_ERR_CORRUPT;
	}
	v = (const char *)b + HTC_PROC_FIXED;
	p->exe = v;
	v += p->exe_len;
	p->cmdline = v;
	v += p->cmdline_len;
	p->cgroup = v;
	v += p->cgroup_len;
	p->container = v;
	return 0;
}

/* ---- loss report ---- */

static int64_t loss_size(const struct htc_record *rec)
{
	return HTC_LOSS_FIXED;
}

static uint64_t loss_encode(const struct htc_record *rec, uint8_t *b)
{
	put_le64(b, rec->loss.ts_ns);
	put_le32(b + 8, rec->loss.reason);
	put_le32(b + 12, 0);
	put_le64(b + 16, rec->loss.count);
	return rec->loss.ts_ns;
}

static int loss_decode(const uint8_t *b, uint32_t len, struct htc_record *rec,
		       const char **why)
{
	if (len < HTC_LOSS_FIXED) {
		*why = "loss body shorter than its 24 fixed bytes";
		return HTC_ERR_CORRUPT;
	}
	rec->loss.ts_ns = get_le64(b);
	rec->loss.reason = get_le32(b + 8);
	rec->loss.count = get_le64(b + 16);
	return 0;
}

/* ---- capture options ---- */

static int64_t opt_size(const struct htc_record *rec)
{
	if (rec->opt.text_len && !rec->opt.text)
		return -EINVAL;
	return (int64_t)HTC_OPT_FIXED + rec->opt.text_len;
}

static uint64_t opt_encode(const struct htc_record *rec, uint8_t *b)
{
	const struct htc_options *o = &rec->opt;

	put_le64(b, o->ts_ns);
	put_le32(b + 8, o->snaplen);
	put_le32(b + 12, o->flags);
	put_le32(b + 16, o->text_len);
	put_le32(b + 20, 0);
	if (o->text_len)
		memcpy(b + HTC_OPT_FIXED, o->text, o->text_len);
	return o->ts_ns;
}

static int opt_decode(const uint8_t *b, uint32_t len, struct htc_record *rec,
		      const char **why)
{
	struct htc_options *o = &rec->opt;

	if (len < HTC_OPT_FIXED) {
		*why = "options body shorter than its 24 fixed bytes";
		return HTC_ERR_CORRUPT;
	}
	o->ts_ns = get_le64(b);
	o->snaplen = get_le32(b + 8);
	o->flags = get_le32(b + 12);
	o->text_len = get_le32(b + 16);
	if (o->text_len > len - HTC_OPT_FIXED) {
		*why = "options text runs past the record";
		return HTC_ERR_CORRUPT;
	}
	o->text = (const char *)b + HTC_OPT_FIXED;
	return 0;
}

/* ---- dispatch ---- */

struct rec_codec {
	int64_t (*size)(const struct htc_record *rec);
	uint64_t (*encode)(const struct htc_record *rec, uint8_t *out);
	int (*decode)(const uint8_t *b, uint32_t len, struct htc_record *rec,
		      const char **why);
};

static const struct rec_codec codecs[] = {
	[HTC_REC_DATA] = { ev_size, ev_encode, ev_decode },
	[HTC_REC_CONN] = { ev_size, ev_encode, ev_decode },
	[HTC_REC_PROC] = { proc_size, proc_encode, proc_decode },
	[HTC_REC_LOSS] = { loss_size, loss_encode, loss_decode },
	[HTC_REC_OPTIONS] = { opt_size, opt_encode, opt_decode },
};

int htc_rec_known(uint16_t type)
{
	return type < sizeof(codecs) / sizeof(codecs[0]) && codecs[type].size;
}

int64_t htc_rec_size(const struct htc_record *rec)
{
	int64_t n;

	if (!rec || !htc_rec_known(rec->type))
		return -EINVAL;
	n = codecs[rec->type].size(rec);
	if (n < 0)
		return n;
	if (n > HTC_MAX_RECORD)
		return HTC_ERR_TOOBIG;
	return n + HTC_REC_HDR_LEN;
}

uint64_t htc_rec_encode(const struct htc_record *rec, uint8_t *out)
{
	int64_t n = codecs[rec->type].size(rec);

	put_le16(out, rec->type);
	put_le16(out + 2, 0);
	put_le32(out + 4, (uint32_t)n);
	return codecs[rec->type].encode(rec, out + HTC_REC_HDR_LEN);
}

int htc_rec_decode(uint16_t type, const uint8_t *body, uint32_t len,
		   struct htc_record *rec, const char **why)
{
	rec->type = type;
	return codecs[type].decode(body, len, rec, why);
}
