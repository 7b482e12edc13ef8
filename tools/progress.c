/*
 * progress — terminal-only progress bar; see progress.h.
 */
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_WIDTH 30

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void progress_start(progress *p, const char *label, uint64_t total)
{
    *p = (progress){ .active = progress_wanted(), .label = label, .total = total };
    p->last_draw_ms = p->active ? now_ms() : 0;
}

void progress_update(progress *p, uint64_t done)
{
    if (!p->active)
        return;
    uint64_t t = now_ms();
    if (t - p->last_draw_ms < 100)
        return;
    p->last_draw_ms = t;
    p->drawn = 1;
    if (p->total == 0) {
        fprintf(stderr, "\r%s %llu", p->label, (unsigned long long)done);
    } else {
        uint64_t pct = done >= p->total ? 100 : done * 100 / p->total;
        char bar[PROGRESS_WIDTH + 1];
        for (int i = 0; i < PROGRESS_WIDTH; i++)
            bar[i] = (uint64_t)i < pct * PROGRESS_WIDTH / 100 ? '#' : '.';
        bar[PROGRESS_WIDTH] = '\0';
        fprintf(stderr, "\r%s [%s] %3llu%%", p->label, bar, (unsigned long long)pct);
    }
    fflush(stderr);
}

void progress_end(progress *p)
{
    if (p->active && p->drawn)
        fprintf(stderr, "\r\033[K");
    p->drawn = 0;
}

void progress_partitions(void *ctx, uint32_t done, uint32_t total)
{
    progress *p = ctx;
    p->total = total;
    progress_update(p, done);
}

int progress_wanted(void)
{
    return isatty(STDERR_FILENO);
}
