/*
 * crash_reader — `crash_writer read STORE SEENLOG`: a read-only process
 * tailing every partition with SIGLOG_CURSOR_FOLLOW while writers come and
 * go (killed mid-append, recovering). It logs every record it is handed
 * (S lines, one write() per drained pass) for `check --seen` to prove
 * later, and fails at once on what it can judge alone: a record that is not
 * exactly one of the suites' events, an offset out of order, a read error.
 * SIGTERM ends it cleanly (exit 0 when nothing was wrong); dying of a
 * signal (SIGBUS from a truncated mapping, say) is the failure the driver
 * looks for.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crash_event.h"
#include "crash_proc.h"

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
}

#define SEEN_BUF_BYTES (64 * 1024)

typedef struct tail {
    siglog_cursor *cur;
    unsigned stream;
    uint32_t part;
    uint64_t next; /* offset the next record must have */
} tail;

/* Drain one cursor; returns records read, or -1 on a failure (reported). */
static int64_t tail_drain(tail *t, int fd, char *buf, size_t *len)
{
    int64_t got = 0;
    const siglog_record *r;
    int rc;
    while ((rc = siglog_cursor_next(t->cur, &r)) == 1) {
        crash_id id;
        char why[200];
        if (r->offset != t->next) {
            fprintf(stderr, "reader: %s/%u: got offset %" PRIu64 ", expected %" PRIu64 "\n",
                    crash_stream_names[t->stream], t->part, r->offset, t->next);
            return -1;
        }
        if (crash_event_check(r, t->stream, &id, why, sizeof why) != 0) {
            fprintf(stderr, "reader: %s/%u@%" PRIu64 ": garbage record: %s\n", crash_stream_names[t->stream],
                    t->part, r->offset, why);
            return -1;
        }
        if (*len + 128 > SEEN_BUF_BYTES) {
            if (crash_write_all(fd, buf, *len) != 0)
                return -1;
            *len = 0;
        }
        *len += (size_t)crash_line_format(buf + *len, SEEN_BUF_BYTES - *len, 'S', t->stream, t->part, r->offset,
                                          id);
        t->next++;
        got++;
    }
    if (rc < 0) {
        fprintf(stderr, "reader: %s/%u: read at %" PRIu64 ": %s: %s\n", crash_stream_names[t->stream], t->part,
                t->next, siglog_errname(rc), siglog_errdetail());
        return -1;
    }
    return got;
}

int crash_read_main(const crash_config *cfg, int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: crash_writer read STORE SEENLOG\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(argv[2]);
        return 1;
    }
    siglog *s;
    if (crash_open(&s, argv[1], cfg, 1, NULL) != 0)
        return 1;
    siglog_stream *streams[CRASH_STREAMS];
    if (crash_streams_get(s, streams) != 0)
        return 1;
    tail tails[CRASH_STREAMS * CRASH_PARTITIONS];
    size_t nt = 0;
    for (unsigned i = 0; i < CRASH_STREAMS; i++)
        for (uint32_t p = 0; p < CRASH_PARTITIONS; p++, nt++) {
            tails[nt] = (tail){.stream = i, .part = p};
            int rc = siglog_cursor_open(&tails[nt].cur, streams[i], p, SIGLOG_SEEK_START, 0, SIGLOG_CURSOR_FOLLOW);
            if (rc != 0) {
                fprintf(stderr, "reader: cursor %s/%u: %s: %s\n", crash_stream_names[i], p, siglog_errname(rc),
                        siglog_errdetail());
                return 1;
            }
            tails[nt].next = siglog_cursor_position(tails[nt].cur);
        }

    /* Tell the driver the cursors are open (and any recovery this
     * read-only open ran is over), so writers may start. */
    char ready[32];
    int rl = snprintf(ready, sizeof ready, "R %d\n", (int)getpid());
    if (crash_write_all(fd, ready, (size_t)rl) != 0)
        return 1;

    static char buf[SEEN_BUF_BYTES];
    size_t len = 0;
    uint64_t total = 0;
    int failed = 0;
    while (!stop_requested && !failed) {
        int64_t pass = 0;
        for (size_t i = 0; i < nt && !failed; i++) {
            int64_t n = tail_drain(&tails[i], fd, buf, &len);
            if (n < 0)
                failed = 1;
            else
                pass += n;
        }
        if (crash_write_all(fd, buf, len) != 0)
            failed = 1;
        len = 0;
        total += (uint64_t)pass;
        if (pass == 0)
            nanosleep(&(struct timespec){0, 2 * 1000 * 1000}, NULL);
    }
    for (size_t i = 0; i < nt; i++)
        siglog_cursor_close(tails[i].cur);
    siglog_close(s);
    close(fd);
    fprintf(stderr, "reader %d: %" PRIu64 " records seen%s\n", (int)getpid(), total, failed ? ", FAILED" : "");
    return failed ? 1 : 0;
}
