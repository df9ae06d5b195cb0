/* SPDX-License-Identifier: MIT */
/*
 * top.h - httpcap --top (top.c): a live view fed by the engine's sink.
 */
#ifndef HTTPCAP_TOP_H
#define HTTPCAP_TOP_H

#include <stdbool.h>
#include <stdint.h>

#include "capture.h"
#include "htc_engine.h"

struct top;

/* What the header line shows besides the engine's output. */
struct top_status {
	uint64_t events;	/* events captured so far */
	uint64_t lost;		/* events dropped so far, every reason */
};

/*
 * A view for o (--interval, the filters to show) whose callbacks and ctx
 * are set in sink (OUT: the caller's engine sink).  On a terminal it takes
 * the alternate screen and stdin's keys at once; top_free gives them back.
 * NULL with errno set.
 */
struct top *top_new(const struct cap_opts *o, struct htc_engine_sink *sink);
/* Redraw when an interval has passed since the last one (always when
 * final).  0, or -EPIPE when stdout went away. */
int top_draw(struct top *t, const struct top_status *st, bool final);
/* Whether q was typed (terminal only; never blocks). */
bool top_quit_key(struct top *t);
bool top_on_tty(const struct top *t);
/* Restore the terminal and free; NULL is fine. */
void top_free(struct top *t);

#endif /* HTTPCAP_TOP_H */
