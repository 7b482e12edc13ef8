/*
 * crash_check — `crash_writer check`: open the store as the writer (which
 * runs crash recovery) and prove, against the logs of the processes that
 * ran before:
 *   - every partition reads back from its log start with dense offsets up
 *     to its next offset, and every record is exactly one of the suites'
 *     events (nothing unacknowledged comes back as garbage), none twice;
 *   - every acknowledged event (A lines) is at its offset, byte-identical;
 *   - every event a reader saw (S lines of --seen files) is at the offset
 *     the reader saw it at: nothing a reader saw went away;
 *   - with --append-run R: appending goes on where the log ends — one more
 *     event per partition, acknowledged (logged as run R) and read back.
 * Prints one summary line; exit status 0 when all holds, 1 otherwise.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_event.h"
#include "crash_proc.h"

#define PROBLEMS_SHOWN 25

typedef struct part_log {
    uint64_t start;  /* log start offset */
    uint64_t count;  /* records read: offsets start .. start+count-1 */
    crash_id *ids;
} part_log;

typedef struct check_state {
    part_log parts[CRASH_STREAMS][CRASH_PARTITIONS];
    unsigned problems;
} check_state;

static void problem(check_state *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(check_state *c, const char *fmt, ...)
{
    if (c->problems++ < PROBLEMS_SHOWN) {
        va_list ap;
        va_start(ap, fmt);
        fputs("check: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

static int id_eq(crash_id a, crash_id b)
{
    return a.run == b.run && a.thread == b.thread && a.seq == b.seq;
}

/* Read one partition whole, checking density and every record. */
static int read_partition(check_state *c, siglog_stream *st, unsigned stream, uint32_t part)
{
    part_log *p = &c->parts[stream][part];
    siglog_partition_info info;
    int rc = siglog_partition_info_get(st, part, &info);
    if (rc != 0) {
        problem(c, "%s/%u: info: %s: %s", crash_stream_names[stream], part, siglog_errname(rc),
                siglog_errdetail());
        return rc;
    }
    p->start = info.log_start_offset;
    uint64_t cap = info.next_offset - info.log_start_offset + 1;
    p->ids = calloc(cap, sizeof *p->ids);
    siglog_cursor *cur;
    if (!p->ids || (rc = siglog_cursor_open(&cur, st, part, SIGLOG_SEEK_START, 0, 0)) != 0) {
        problem(c, "%s/%u: cursor open: %s", crash_stream_names[stream], part, siglog_errdetail());
        return -1;
    }
    const siglog_record *r;
    while ((rc = siglog_cursor_next(cur, &r)) == 1) {
        uint64_t want = p->start + p->count;
        if (r->offset != want || p->count >= cap) {
            problem(c, "%s/%u: offset %" PRIu64 " read where %" PRIu64 " was due (offsets not dense)",
                    crash_stream_names[stream], part, r->offset, want);
            rc = -1;
            break;
        }
        char why[200];
        if (crash_event_check(r, stream, &p->ids[p->count], why, sizeof why) != 0)
            problem(c, "%s/%u@%" PRIu64 ": garbage record: %s", crash_stream_names[stream], part, r->offset, why);
        p->count++;
    }
    if (rc < 0)
        problem(c, "%s/%u: read after offset %" PRIu64 ": %s: %s", crash_stream_names[stream], part,
                p->start + p->count, siglog_errname(rc), siglog_errdetail());
    else if (p->start + p->count != info.next_offset)
        problem(c, "%s/%u: read up to %" PRIu64 " but next offset is %" PRIu64, crash_stream_names[stream], part,
                p->start + p->count, info.next_offset);
    siglog_cursor_close(cur);
    return rc < 0 ? rc : 0;
}

typedef struct id_where {
    crash_id id;
    unsigned stream;
    uint32_t part;
    uint64_t offset;
} id_where;

static int id_where_cmp(const void *a, const void *b)
{
    const id_where *x = a, *y = b;
    if (x->stream != y->stream)
        return x->stream < y->stream ? -1 : 1;
    if (x->id.run != y->id.run)
        return x->id.run < y->id.run ? -1 : 1;
    if (x->id.thread != y->id.thread)
        return x->id.thread < y->id.thread ? -1 : 1;
    if (x->id.seq != y->id.seq)
        return x->id.seq < y->id.seq ? -1 : 1;
    return 0;
}

/* No event may be in the log twice: a replayed journal entry applied to a
 * segment that already held it would show up here. */
static void check_no_duplicates(check_state *c)
{
    size_t n = 0;
    for (unsigned s = 0; s < CRASH_STREAMS; s++)
        for (unsigned p = 0; p < CRASH_PARTITIONS; p++)
            n += c->parts[s][p].count;
    id_where *all = malloc((n + 1) * sizeof *all);
    if (!all) {
        problem(c, "out of memory");
        return;
    }
    size_t k = 0;
    for (unsigned s = 0; s < CRASH_STREAMS; s++)
        for (unsigned p = 0; p < CRASH_PARTITIONS; p++)
            for (uint64_t i = 0; i < c->parts[s][p].count; i++)
                all[k++] = (id_where){c->parts[s][p].ids[i], s, p, c->parts[s][p].start + i};
    qsort(all, n, sizeof *all, id_where_cmp);
    for (size_t i = 1; i < n; i++)
        if (id_where_cmp(&all[i - 1], &all[i]) == 0)
            problem(c, "event run %" PRIu32 " thread %" PRIu32 " seq %" PRIu64 " of %s is in the log twice: "
                       "partition %u offset %" PRIu64 " and partition %u offset %" PRIu64,
                    all[i].id.run, all[i].id.thread, all[i].id.seq, crash_stream_names[all[i].stream],
                    all[i - 1].part, all[i - 1].offset, all[i].part, all[i].offset);
    free(all);
}

/* Every A (or S) line of a log must name a record that is there. */
static void check_log(check_state *c, const char *path, char kind, uint64_t *proven)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        problem(c, "cannot read %s", path);
        return;
    }
    const char *what = kind == 'A' ? "acknowledged" : "seen by a reader";
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char k;
        unsigned stream;
        uint32_t part;
        uint64_t off;
        crash_id id;
        if (line[0] != kind)
            continue;
        if (sscanf(line, "%c %u %" SCNu32 " %" SCNu64 " %" SCNu32 " %" SCNu32 " %" SCNu64, &k, &stream, &part,
                   &off, &id.run, &id.thread, &id.seq) != 7 ||
            stream >= CRASH_STREAMS || part >= CRASH_PARTITIONS) {
            problem(c, "%s: bad line: %s", path, line);
            continue;
        }
        const part_log *p = &c->parts[stream][part];
        if (off < p->start || off >= p->start + p->count)
            problem(c, "LOST: event run %" PRIu32 " thread %" PRIu32 " seq %" PRIu64 " %s at %s/%" PRIu32
                       "@%" PRIu64 " is gone: the partition now ends at %" PRIu64,
                    id.run, id.thread, id.seq, what, crash_stream_names[stream], part, off, p->start + p->count);
        else if (!id_eq(p->ids[off - p->start], id)) {
            crash_id got = p->ids[off - p->start];
            problem(c, "LOST: event run %" PRIu32 " thread %" PRIu32 " seq %" PRIu64 " %s at %s/%" PRIu32
                       "@%" PRIu64 " was replaced by run %" PRIu32 " thread %" PRIu32 " seq %" PRIu64,
                    id.run, id.thread, id.seq, what, crash_stream_names[stream], part, off, got.run, got.thread,
                    got.seq);
        } else
            (*proven)++;
    }
    fclose(f);
}

/* Append one event per partition and read it back at the offset the log
 * ended at; log it like a writer would, so later checks hold it too. */
static void check_append(check_state *c, siglog_stream **streams, uint32_t run, const char *acks)
{
    FILE *f = fopen(acks, "a");
    if (!f) {
        problem(c, "cannot append to %s", acks);
        return;
    }
    uint64_t seq = 0;
    for (unsigned s = 0; s < CRASH_STREAMS; s++)
        for (uint32_t part = 0; part < CRASH_PARTITIONS; part++, seq++) {
            crash_id id = {run, 0, seq};
            crash_event e;
            crash_event_make(&e, s, id);
            uint64_t off;
            int rc = siglog_append(streams[s], part, &e.ev, 1, NULL, &off);
            const part_log *p = &c->parts[s][part];
            if (rc != 0) {
                problem(c, "%s/%u: append after recovery: %s: %s", crash_stream_names[s], part, siglog_errname(rc),
                        siglog_errdetail());
                continue;
            }
            char line[96];
            crash_line_format(line, sizeof line, 'A', s, part, off, id);
            fputs(line, f);
            if (off != p->start + p->count)
                problem(c, "%s/%u: append after recovery got offset %" PRIu64 ", the log ended at %" PRIu64,
                        crash_stream_names[s], part, off, p->start + p->count);
            siglog_cursor *cur;
            const siglog_record *r;
            crash_id got;
            char why[200] = "";
            if ((rc = siglog_cursor_open(&cur, streams[s], part, SIGLOG_SEEK_OFFSET, (int64_t)off, 0)) != 0) {
                problem(c, "%s/%u: cursor after append: %s", crash_stream_names[s], part, siglog_errdetail());
                continue;
            }
            rc = siglog_cursor_next(cur, &r);
            if (rc != 1 || r->offset != off || crash_event_check(r, s, &got, why, sizeof why) != 0 ||
                !id_eq(got, id))
                problem(c, "%s/%u: the event appended after recovery does not read back at %" PRIu64 " (%d %s)",
                        crash_stream_names[s], part, off, rc, why);
            siglog_cursor_close(cur);
        }
    if (fclose(f) != 0)
        problem(c, "writing %s failed", acks);
}

int crash_check_main(const crash_config *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seen", required_argument, NULL, 's'},
        {"append-run", required_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    const char *seen[64];
    size_t nseen = 0;
    int64_t append_run = -1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 's' && nseen < 64)
            seen[nseen++] = optarg;
        else if (ch == 'a')
            append_run = strtoll(optarg, NULL, 10);
        else
            return 2;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: crash_writer check STORE ACKLOG [--seen FILE]... [--append-run R]\n");
        return 2;
    }
    const char *dir = argv[optind], *acks = argv[optind + 1];
    siglog *s;
    if (crash_open(&s, dir, cfg, 0, NULL) != 0)
        return 1;
    siglog_stream *streams[CRASH_STREAMS];
    if (crash_streams_get(s, streams) != 0)
        return 1;

    check_state *c = calloc(1, sizeof *c);
    if (!c)
        return 1;
    uint64_t records = 0, acked = 0, seen_ok = 0;
    for (unsigned i = 0; i < CRASH_STREAMS; i++)
        for (uint32_t p = 0; p < CRASH_PARTITIONS; p++) {
            read_partition(c, streams[i], i, p);
            records += c->parts[i][p].count;
        }
    check_no_duplicates(c);
    check_log(c, acks, 'A', &acked);
    for (size_t i = 0; i < nseen; i++)
        check_log(c, seen[i], 'S', &seen_ok);
    if (append_run >= 0 && c->problems == 0)
        check_append(c, streams, (uint32_t)append_run, acks);

    int rc = siglog_close(s);
    if (rc != 0)
        problem(c, "close: %s: %s", siglog_errname(rc), siglog_errdetail());
    if (c->problems > PROBLEMS_SHOWN)
        fprintf(stderr, "check: ... %u problems in all\n", c->problems);
    printf("check: %" PRIu64 " records in %d partitions, %" PRIu64 " acknowledged and %" PRIu64
           " reader-seen events proven, %u problems\n",
           records, CRASH_STREAMS * CRASH_PARTITIONS, acked, seen_ok, c->problems);
    int ok = c->problems == 0;
    for (unsigned i = 0; i < CRASH_STREAMS; i++)
        for (uint32_t p = 0; p < CRASH_PARTITIONS; p++)
            free(c->parts[i][p].ids);
    free(c);
    return ok ? 0 : 1;
}
