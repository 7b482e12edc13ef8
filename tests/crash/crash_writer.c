/*
 * crash_writer — one real siglog process for the crash suites, in the mode
 * its first argument names (see crash_proc.h). Its `write` mode is what the
 * suites kill and cut: every acknowledged event is logged, with one write()
 * on an O_APPEND file outside the store right after siglog_append returned,
 * so a cut of the store's file system a moment later cannot lose the log
 * line of an acknowledged event (the log lives on another file system and
 * the page cache survives the process). A SIGKILL can cut that write()
 * between two pages; the drivers drop the cut line (crashlib's
 * drop_torn_line), so its events go unproven rather than misread.
 *
 * Environment: SIGLOG_CRASH_JOURNAL_BYTES (default 1 MiB, the minimum, so
 * journal checkpoints and recycling happen within a second of appending),
 * SIGLOG_CRASH_SEGMENT_BYTES (default 256 KiB, so segments roll often).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crash_event.h"
#include "crash_proc.h"

int crash_open(siglog **s, const char *dir, const crash_config *cfg, int read_only,
               void (*log_fn)(void *, int, const char *))
{
    siglog_options o;
    siglog_options_default(&o);
    o.create = !read_only;
    o.read_only = read_only;
    o.journal_bytes = cfg->journal_bytes;
    o.log_fn = log_fn;
    int rc = siglog_open(s, dir, &o);
    if (rc != 0)
        fprintf(stderr, "open %s%s: %s: %s\n", dir, read_only ? " (read-only)" : "", siglog_errname(rc),
                siglog_errdetail());
    return rc;
}

int crash_streams_get(siglog *s, siglog_stream **st)
{
    for (unsigned i = 0; i < CRASH_STREAMS; i++) {
        int rc = siglog_stream_get(s, crash_stream_names[i], &st[i]);
        if (rc != 0) {
            fprintf(stderr, "stream %s: %s: %s\n", crash_stream_names[i], siglog_errname(rc),
                    siglog_errdetail());
            return rc;
        }
    }
    return 0;
}

/* ---- init ---- */

int crash_init_main(const crash_config *cfg, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: crash_writer init STORE\n");
        return 2;
    }
    siglog *s;
    if (crash_open(&s, argv[1], cfg, 0, NULL) != 0)
        return 1;
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = CRASH_PARTITIONS;
    c.sync_policy = SIGLOG_SYNC_ALWAYS;
    c.segment_bytes_max = cfg->segment_bytes;
    /* Small batches too, so one segment holds many of them. */
    c.batch_bytes_max = 4096;
    /* The events are under 1 KiB; a small record limit keeps a batch well
     * under a quarter of the 1 MiB journal, as the engine requires. */
    c.record_bytes_max = 16384;
    return crash_streams_create_and_close(s, &c);
}

/* ---- write ---- */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct writer_thread {
    pthread_t tid;
    siglog_stream **streams;
    int ack_fd;
    uint32_t run;
    uint32_t thread;
    uint64_t seed;
    uint64_t events; /* stop after this many; 0 = until killed or failed */
    int failed;
} writer_thread;

#define WRITE_BATCH_MAX 4

static void *writer_thread_main(void *arg)
{
    writer_thread *w = arg;
    uint64_t rng = w->seed ^ ((uint64_t)w->thread << 48);
    uint64_t seq = 0;
    crash_event evs[WRITE_BATCH_MAX];
    siglog_event batch[WRITE_BATCH_MAX];
    uint64_t offsets[WRITE_BATCH_MAX];
    char lines[WRITE_BATCH_MAX * 96];
    while (w->events == 0 || seq < w->events) {
        unsigned stream = (unsigned)(rng_next(&rng) % CRASH_STREAMS);
        uint32_t part = (uint32_t)(rng_next(&rng) % CRASH_PARTITIONS);
        size_t n = 1 + rng_next(&rng) % WRITE_BATCH_MAX;
        for (size_t i = 0; i < n; i++) {
            crash_event_make(&evs[i], stream, (crash_id){w->run, w->thread, seq + i});
            batch[i] = evs[i].ev;
        }
        int rc = siglog_append(w->streams[stream], part, batch, n, NULL, offsets);
        if (rc != 0) {
            /* Expected once the file system is shut down under us: stop,
             * acknowledging nothing of this call. */
            fprintf(stderr, "writer run %" PRIu32 " thread %" PRIu32 ": append: %s: %s\n", w->run, w->thread,
                    siglog_errname(rc), siglog_errdetail());
            w->failed = 1;
            return NULL;
        }
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
            len += (size_t)crash_line_format(lines + len, sizeof lines - len, 'A', stream, part, offsets[i],
                                             (crash_id){w->run, w->thread, seq + i});
        if (crash_write_all(w->ack_fd, lines, len) != 0) {
            perror("writer: ack log write");
            w->failed = 1;
            return NULL;
        }
        seq += n;
    }
    return NULL;
}

/* --die-in-recovery: the first thing recovery reports kills the process,
 * so the next open recovers from a crash in the middle of recovery. */
static void die_in_recovery(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    fprintf(stderr, "killed in recovery after: %s\n", msg);
    kill(getpid(), SIGKILL);
}

int crash_write_main(const crash_config *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"run", required_argument, NULL, 'r'},     {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'}, {"events", required_argument, NULL, 'n'},
        {"die-in-recovery", no_argument, NULL, 'd'}, {NULL, 0, NULL, 0},
    };
    int64_t t0 = now_us();
    uint32_t run = 0, threads = 2;
    uint64_t seed = 1, events = 0;
    int die = 0, ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'r': run = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 't': threads = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'n': events = strtoull(optarg, NULL, 10); break;
        case 'd': die = 1; break;
        default: return 2;
        }
    }
    if (argc - optind != 2 || threads < 1 || threads > 16) {
        fprintf(stderr, "usage: crash_writer write STORE ACKLOG --run R [--seed S] [--threads T] [--events N] "
                        "[--die-in-recovery]\n");
        return 2;
    }
    const char *dir = argv[optind], *acks = argv[optind + 1];
    int ack_fd = open(acks, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (ack_fd < 0) {
        perror(acks);
        return 1;
    }
    siglog *s;
    if (crash_open(&s, dir, cfg, 0, die ? die_in_recovery : NULL) != 0)
        return 1;
    siglog_stream *streams[CRASH_STREAMS];
    if (crash_streams_get(s, streams) != 0)
        return 1;
    for (unsigned i = 0; i < CRASH_STREAMS; i++) {
        siglog_stream_config c;
        siglog_stream_config_get(streams[i], &c);
        if (c.sync_policy != SIGLOG_SYNC_ALWAYS) {
            fprintf(stderr, "stream %s is not sync=always\n", crash_stream_names[i]);
            return 1;
        }
    }
    char line[64];
    int len = snprintf(line, sizeof line, "O %" PRIu32 " %" PRId64 "\n", run, now_us() - t0);
    if (crash_write_all(ack_fd, line, (size_t)len) != 0)
        return 1;

    writer_thread w[16];
    for (uint32_t i = 0; i < threads; i++) {
        w[i] = (writer_thread){.streams = streams, .ack_fd = ack_fd, .run = run, .thread = i, .seed = seed,
                               .events = events};
        if (pthread_create(&w[i].tid, NULL, writer_thread_main, &w[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    int failed = 0;
    for (uint32_t i = 0; i < threads; i++) {
        pthread_join(w[i].tid, NULL);
        failed |= w[i].failed;
    }
    int rc = siglog_close(s);
    if (rc != 0)
        fprintf(stderr, "close: %s: %s\n", siglog_errname(rc), siglog_errdetail());
    close(ack_fd);
    return failed || rc != 0 ? 1 : 0;
}

/* ---- dispatch ---- */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : dflt;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const crash_config *, int, char **);
    } modes[] = {
        {"init", crash_init_main},
        {"write", crash_write_main},
        {"read", crash_read_main},
        {"check", crash_check_main},
    };
    crash_config cfg = {
        .journal_bytes = env_u64("SIGLOG_CRASH_JOURNAL_BYTES", 1u << 20),
        .segment_bytes = env_u64("SIGLOG_CRASH_SEGMENT_BYTES", 256u << 10),
    };
    setvbuf(stderr, NULL, _IOLBF, 0);
    for (size_t i = 0; argc >= 2 && i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(argv[1], modes[i].name) == 0)
            return modes[i].fn(&cfg, argc - 1, argv + 1);
    fprintf(stderr, "usage: crash_writer init|write|read|check STORE ...\n");
    return 2;
}
