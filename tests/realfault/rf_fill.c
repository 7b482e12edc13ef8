/*
 * rf_fill — the writer process of the real-fault suites: a real disk that
 * fills up (tmpfs), an fdatasync or pread that strace makes fail. It writes
 * the crash suites' events (crash_event.h) into the crash suites' streams,
 * so `crash_writer check` proves the store afterwards, and reports on
 * stdout, one `key: value` line each, what the engine told it:
 *
 *   rf_fill init STORE --policy none|always
 *       create the store (1 MiB journal: the default 64 MiB would not fit a
 *       small file system) and the streams, with that sync policy.
 *   rf_fill write STORE ACKLOG --run R [--events N] [--pause]
 *       append (one to four events a call, round-robin over streams and
 *       partitions) until a call fails or N calls were made. A call is
 *       acknowledged when siglog_append returned 0 and, for a stream that
 *       does not sync, the siglog_flush after it returned 0 too: only then
 *       are its events logged (A lines) to ACKLOG, which lives outside the
 *       store. After the first failure it prints
 *         error: OP CODE DETAIL     OP is append or flush
 *         failed: 0|1               the partition's failed flag
 *         after: OK|CODE DETAIL     one more call to the same partition
 *       With --pause it then prints `paused` and waits for a line on stdin
 *       (the driver frees space meanwhile), makes one more call to every
 *       partition on the same handle and prints
 *         resume: OK|CODE DETAIL
 *       Finally `acked: K` and `close: OK|CODE DETAIL`.
 *       Exit status 0 when a call failed, 3 when all N calls succeeded
 *       (the fault never showed), 1 when the run could not start.
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash_event.h"

#define FILL_BATCH_MAX 4
#define FILL_JOURNAL_BYTES (1u << 20)
#define FILL_SEGMENT_BYTES (256u << 10)

static int fill_open(siglog **s, const char *dir, int create)
{
    siglog_options o;
    siglog_options_default(&o);
    o.create = create;
    o.journal_bytes = FILL_JOURNAL_BYTES;
    int rc = siglog_open(s, dir, &o);
    if (rc != 0)
        fprintf(stderr, "open %s: %s: %s\n", dir, siglog_errname(rc), siglog_errdetail());
    return rc;
}

static int fill_init(int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[2], "--policy") != 0) {
        fprintf(stderr, "usage: rf_fill init STORE --policy none|always\n");
        return 2;
    }
    uint32_t policy;
    if (strcmp(argv[3], "none") == 0)
        policy = SIGLOG_SYNC_NONE;
    else if (strcmp(argv[3], "always") == 0)
        policy = SIGLOG_SYNC_ALWAYS;
    else {
        fprintf(stderr, "rf_fill: unknown policy %s\n", argv[3]);
        return 2;
    }
    siglog *s;
    if (fill_open(&s, argv[1], 1) != 0)
        return 1;
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = CRASH_PARTITIONS;
    c.sync_policy = policy;
    c.segment_bytes_max = FILL_SEGMENT_BYTES;
    c.batch_bytes_max = 4096;
    c.record_bytes_max = 16384; /* a batch stays far below the journal */
    return crash_streams_create_and_close(s, &c);
}

typedef struct filler {
    siglog *s;
    siglog_stream *streams[CRASH_STREAMS];
    int nosync[CRASH_STREAMS]; /* the stream's appends need a flush */
    int ack_fd;
    uint32_t run;
    uint64_t seq;
    uint64_t acked;
    const char *failed_op;     /* of the last call: "append" or "flush" */
} filler;

/* One call of n events to (stream, part); logs them when acknowledged.
 * Returns 0 or the failing code (f->failed_op says which step failed). */
static int fill_call(filler *f, unsigned stream, uint32_t part, size_t n)
{
    crash_event evs[FILL_BATCH_MAX];
    siglog_event batch[FILL_BATCH_MAX];
    uint64_t offsets[FILL_BATCH_MAX];
    for (size_t i = 0; i < n; i++) {
        crash_event_make(&evs[i], stream, (crash_id){f->run, 0, f->seq + i});
        batch[i] = evs[i].ev;
    }
    f->failed_op = "append";
    int rc = siglog_append(f->streams[stream], part, batch, n, NULL, offsets);
    if (rc == 0 && f->nosync[stream]) {
        f->failed_op = "flush";
        rc = siglog_flush(f->s);
    }
    if (rc != 0) {
        f->seq += n; /* never reuse the ids of a call that may be on disk */
        return rc;
    }
    char lines[FILL_BATCH_MAX * 96];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)crash_line_format(lines + len, sizeof lines - len, 'A', stream, part, offsets[i],
                                         (crash_id){f->run, 0, f->seq + i});
    if (crash_write_all(f->ack_fd, lines, len) != 0) {
        perror("rf_fill: ack log write");
        exit(1);
    }
    f->seq += n;
    f->acked += n;
    return 0;
}

static void report(const char *key, int rc)
{
    if (rc == 0)
        printf("%s: OK\n", key);
    else
        printf("%s: %s %s\n", key, siglog_errname(rc), siglog_errdetail());
}

static int fill_write(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"run", required_argument, NULL, 'r'},
        {"events", required_argument, NULL, 'n'},
        {"pause", no_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    filler f = {0};
    uint64_t calls_max = 1000000;
    int pause = 0, ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'r')
            f.run = (uint32_t)strtoul(optarg, NULL, 10);
        else if (ch == 'n')
            calls_max = strtoull(optarg, NULL, 10);
        else if (ch == 'p')
            pause = 1;
        else
            return 2;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: rf_fill write STORE ACKLOG --run R [--events N] [--pause]\n");
        return 2;
    }
    const char *dir = argv[optind], *acks = argv[optind + 1];
    f.ack_fd = open(acks, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (f.ack_fd < 0) {
        perror(acks);
        return 1;
    }
    if (fill_open(&f.s, dir, 0) != 0)
        return 1;
    for (unsigned i = 0; i < CRASH_STREAMS; i++) {
        int rc = siglog_stream_get(f.s, crash_stream_names[i], &f.streams[i]);
        if (rc != 0) {
            fprintf(stderr, "stream %s: %s: %s\n", crash_stream_names[i], siglog_errname(rc), siglog_errdetail());
            return 1;
        }
        siglog_stream_config c;
        siglog_stream_config_get(f.streams[i], &c);
        f.nosync[i] = c.sync_policy != SIGLOG_SYNC_ALWAYS;
    }

    int rc = 0;
    uint64_t call = 0;
    unsigned stream = 0;
    uint32_t part = 0;
    for (; call < calls_max; call++) {
        stream = (unsigned)(call % CRASH_STREAMS);
        part = (uint32_t)(call / CRASH_STREAMS % CRASH_PARTITIONS);
        rc = fill_call(&f, stream, part, 1 + call % FILL_BATCH_MAX);
        if (rc != 0)
            break;
    }
    if (rc == 0) {
        printf("acked: %" PRIu64 "\nerror: none after %" PRIu64 " calls\n", f.acked, call);
        report("close", siglog_close(f.s));
        return 3;
    }
    printf("error: %s %s %s\n", f.failed_op, siglog_errname(rc), siglog_errdetail());
    siglog_partition_info info;
    if (siglog_partition_info_get(f.streams[stream], part, &info) == 0)
        printf("failed: %d\n", info.failed);
    report("after", fill_call(&f, stream, part, 1));
    if (pause) {
        printf("paused\n");
        fflush(stdout);
        char line[64];
        if (!fgets(line, sizeof line, stdin))
            return 1;
        int rrc = 0;
        for (unsigned i = 0; i < CRASH_STREAMS && rrc == 0; i++)
            for (uint32_t p = 0; p < CRASH_PARTITIONS && rrc == 0; p++)
                rrc = fill_call(&f, i, p, 2);
        report("resume", rrc);
    }
    printf("acked: %" PRIu64 "\n", f.acked);
    report("close", siglog_close(f.s));
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "init") == 0)
        return fill_init(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "write") == 0)
        return fill_write(argc - 1, argv + 1);
    fprintf(stderr, "usage: rf_fill init|write STORE ...\n");
    return 2;
}
