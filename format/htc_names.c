// SPDX-License-Identifier: MIT
/*
 * htc_names.c - the strings of libhtc: error descriptions and the names of
 * event types, syscalls and loss reasons that every output (JSON, SQLite,
 * reports) prints, so they are spelled once.
 */
#include <string.h>

#include "htc.h"

const char *htc_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case HTC_ERR_MAGIC:
		return "not an .htc capture file (bad magic)";
	case HTC_ERR_VERSION:
		return "capture file format version is newer than this reader";
	case HTC_ERR_TRUNCATED:
		return "capture file is truncated";
	case HTC_ERR_CHECKSUM:
		return "frame content checksum mismatch";
	case HTC_ERR_CORRUPT:
		return "capture file is corrupt";
	case HTC_ERR_TOOBIG:
		return "length beyond the format's limits";
	case HTC_ERR_STATE:
		return "invalid call sequence (writer already failed or closed)";
	}
	if (err < 0 && err > -HTC_ERR_BASE)
		return strerror(-err);
	return "unknown error";
}

#define NAME(tab, i) ((i) < sizeof(tab) / sizeof(tab[0]) && tab[i] ? tab[i] : "unknown")

const char *htc_event_type_name(unsigned type)
{
	static const char *const names[] = {
		[HTC_EV_ACCEPT] = "accept",
		[HTC_EV_READ] = "read",
		[HTC_EV_CONNECT] = "connect",
		[HTC_EV_WRITE] = "write",
		[HTC_EV_CLOSE] = "close",
	};

	return NAME(names, type);
}

const char *htc_syscall_name(unsigned sys)
{
	static const char *const names[] = {
		[HTC_SYS_UNKNOWN] = "unknown",
		[HTC_SYS_READ] = "read",
		[HTC_SYS_READV] = "readv",
		[HTC_SYS_RECVFROM] = "recvfrom",
		[HTC_SYS_RECVMSG] = "recvmsg",
		[HTC_SYS_RECVMMSG] = "recvmmsg",
		[HTC_SYS_WRITE] = "write",
		[HTC_SYS_WRITEV] = "writev",
		[HTC_SYS_SENDTO] = "sendto",
		[HTC_SYS_SENDMSG] = "sendmsg",
		[HTC_SYS_SENDMMSG] = "sendmmsg",
		[HTC_SYS_SENDFILE] = "sendfile",
		[HTC_SYS_ACCEPT] = "accept",
		[HTC_SYS_ACCEPT4] = "accept4",
		[HTC_SYS_CONNECT] = "connect",
		[HTC_SYS_CLOSE] = "close",
		[HTC_SYS_EXIT] = "exit",
		[HTC_SYS_SSL_READ] = "ssl_read",
		[HTC_SYS_SSL_WRITE] = "ssl_write",
		[HTC_SYS_GNUTLS_RECV] = "gnutls_record_recv",
		[HTC_SYS_GNUTLS_SEND] = "gnutls_record_send",
		[HTC_SYS_GO_TLS_READ] = "go_tls_read",
		[HTC_SYS_GO_TLS_WRITE] = "go_tls_write",
	};

	return NAME(names, sys);
}

const char *htc_tls_lib_name(unsigned sys)
{
	switch (sys) {
	case HTC_SYS_SSL_READ:
	case HTC_SYS_SSL_WRITE:
		return "openssl";
	case HTC_SYS_GNUTLS_RECV:
	case HTC_SYS_GNUTLS_SEND:
		return "gnutls";
	case HTC_SYS_GO_TLS_READ:
	case HTC_SYS_GO_TLS_WRITE:
		return "go";
	}
	return NULL;
}

const char *htc_loss_reason_name(unsigned reason)
{
	static const char *const names[] = {
		[HTC_LOSS_RINGBUF_FULL] = "ringbuf_full",
		[HTC_LOSS_MAP_FULL] = "map_full",
		[HTC_LOSS_PAYLOAD_READ] = "payload_read",
		[HTC_LOSS_NO_ENTRY] = "no_entry",
		[HTC_LOSS_USER] = "user",
	};

	return NAME(names, reason);
}

const char *htc_rec_type_name(unsigned type)
{
	static const char *const names[] = {
		[HTC_REC_DATA] = "data",
		[HTC_REC_CONN] = "conn",
		[HTC_REC_PROC] = "proc",
		[HTC_REC_LOSS] = "loss",
		[HTC_REC_OPTIONS] = "options",
	};

	return NAME(names, type);
}
