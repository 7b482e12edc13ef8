/*
 * progress — a one-line progress bar on stderr for long commands, drawn
 * only when stderr is a terminal (scripts and logs see nothing) and at most
 * ten times a second whatever the update rate.
 */
#ifndef SIGLOG_PROGRESS_H
#define SIGLOG_PROGRESS_H

#include <stdint.h>

typedef struct progress {
    int active;         /* stderr is a terminal */
    const char *label;
    uint64_t total;     /* 0: unknown, show the count only */
    uint64_t last_draw_ms;
    int drawn;
} progress;

void progress_start(progress *p, const char *label, uint64_t total);
/* Whether a bar would be drawn: lets a command skip computing its total. */
int progress_wanted(void);
/* done: units of work finished so far. Cheap when nothing is drawn. */
void progress_update(progress *p, uint64_t done);
/* Erase the bar. */
void progress_end(progress *p);
/* A library call's progress callback over partitions (siglog_compact,
 * siglog_forget): ctx is the progress, whose total becomes `total`. */
void progress_partitions(void *ctx, uint32_t done, uint32_t total);

#endif
