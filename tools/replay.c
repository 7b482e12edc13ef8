/*
 * replay — read streams back, partition by partition or merged in time
 * order or sorted by event time, filtered by offset and time ranges, key,
 * schema version and headers, optionally following new events like
 * tail -f. See replay.h; the options are cmd_replay.c's.
 *
 * Ranges are half-open: --from-offset/--from-time are inclusive,
 * --to-offset/--to-time exclusive, so [from, to) ranges tile a log without
 * overlap. Event times within a partition need not grow with the offset,
 * so time bounds filter every record; the --from-time seek only skips
 * what the time index proves is earlier.
 *
 * Without --follow every cursor is opened before anything is read, so the
 * replay ends at the high-water marks seen at start.
 */
#include "replay.h"

#include "cli.h"
#include "envelope.h"
#include "manifest_load.h"
#include "output.h"
#include "progress.h"
#include "resume.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct replay_src {
    siglog_cursor *cursor;
    uint32_t stream; /* index into the replay's streams */
    uint32_t partition;
    uint64_t end; /* read only offsets below this (UINT64_MAX: no bound) */
    /* Where reading started, and one past the last event read below
     * --to-offset and end (selected or not): where the reading ended, as
     * a manifest records it and a consumer commits it. */
    uint64_t start, next;
    int done; /* reached --to-offset or end */
    envelope_head head; /* the jsonl lines' start */
} replay_src;

typedef struct replay_run {
    const char *who;
    const replay_opts *o;
    siglog_stream *const *st;
    replay_src *src;
    size_t nsrc, ndone;
    uint64_t written, read;
    manifest *delivered; /* with a manifest: what was delivered so far */
    int quiet;           /* write nothing: only account for the events */
    uint64_t *committed; /* --consumer: its next offsets at the start, by partition */
    siglog_redactor **redactors; /* --redact: one per stream; NULL: none */
    int failed;                  /* an event could not be delivered (reported) */
    progress bar;
} replay_run;

static volatile sig_atomic_t replay_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    replay_stop = 1;
}

static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: waits return early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static const char *stream_name(const replay_run *rr, const replay_src *src)
{
    return rr->o->streams[src->stream];
}
/* ---- output formats ---- */

/* --redact: *r becomes a copy of r whose value is redacted (it points
 * into the stream's redactor until its next event). Returns 0, or -1
 * after the failure was reported: an event that cannot be redacted is
 * never delivered as stored. */
static int redact_record(replay_run *rr, const replay_src *src, siglog_record *r)
{
    const void *value;
    size_t len;
    int rc = siglog_redact(rr->redactors[src->stream], r, &value, &len);
    if (rc != 0) {
        cli_fail_lib(rr->who, rc, "redacting stream %s partition %u offset %" PRIu64, stream_name(rr, src),
                     src->partition, r->offset);
        rr->failed = 1;
        return -1;
    }
    r->value = value;
    r->value_len = len;
    return 0;
}

/* Deliver one selected record: redacted when asked, accounted for in the
 * manifest as delivered (so its digest is of what was written), written. */
static void write_record(replay_run *rr, replay_src *src, const siglog_record *stored, int late)
{
    siglog_record copy = *stored;
    const siglog_record *r = stored;
    /* A tombstone has no value to redact. */
    if (rr->redactors && !(stored->flags & SIGLOG_EVENT_TOMBSTONE)) {
        if (redact_record(rr, src, &copy) != 0)
            return;
        r = &copy;
    }
    rr->written++;
    if (rr->delivered)
        manifest_add(rr->delivered, src->stream, r);
    if (rr->quiet)
        return;
    switch (rr->o->format) {
    case FORMAT_VALUE:
        out_write(r->value, r->value_len);
        out_write("\n", 1);
        break;
    case FORMAT_BINARY: {
        uint32_t n = (uint32_t)r->value_len;
        unsigned char le[4] = { (unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                                (unsigned char)(n >> 24) };
        out_write(le, 4);
        out_write(r->value, r->value_len);
        break;
    }
    default:
        envelope_write(&src->head, stream_name(rr, src), src->partition, r, late);
    }
}

/* ---- reading ---- */

/* Whether r passes the filters other than --to-offset, --key and
 * --schema-version (the cursor hands out only the key's and the version's
 * records, passing over the segments that hold none of them). */
static int selected(const replay_opts *o, const siglog_record *r)
{
    return !((o->have_from_time && r->timestamp_us < o->from_time) ||
             (o->have_to_time && r->timestamp_us >= o->to_time) ||
             !headers_match(r, o->headers, o->nheaders));
}

/* Filter and write one record. Returns 1 when the replay is complete
 * (--limit reached or stdout gone), else 0. */
static int take_record(replay_run *rr, replay_src *src, const siglog_record *r)
{
    const replay_opts *o = rr->o;
    rr->read++;
    if ((o->have_to_offset && r->offset >= o->to_offset) || r->offset >= src->end) {
        if (!src->done) {
            src->done = 1;
            rr->ndone++;
        }
        return 0;
    }
    src->next = r->offset + 1;
    if (!selected(o, r))
        return 0;
    write_record(rr, src, r, 0);
    return rr->failed || (o->have_limit && rr->written >= o->limit) || out_failed();
}

/* The source's cursor has nothing more below its bounds: everything up
 * to where it stands was read, the records it passed over itself (the
 * segments a key filter excludes) included. */
static void passed_to_end(const replay_run *rr, replay_src *src)
{
    uint64_t at = siglog_cursor_position(src->cursor);
    if (rr->o->have_to_offset && rr->o->to_offset < at)
        at = rr->o->to_offset;
    if (src->end < at)
        at = src->end;
    if (at > src->next)
        src->next = at;
}

/* Every reason to stop that does not depend on the next record. */
static int replay_finished(const replay_run *rr)
{
    return replay_stop || rr->failed || out_failed() || (rr->o->have_limit && rr->written >= rr->o->limit) ||
           (rr->nsrc > 0 && rr->ndone == rr->nsrc);
}

/* A cursor's error: EGAP is a warning (retention removed offsets under us,
 * or they were lost and the loss accepted: the detail says which; the
 * cursor moved on), anything else ends the replay. */
static int read_failed(const replay_run *rr, int rc, const replay_src *src)
{
    if (rc == SIGLOG_EGAP) {
        if (src)
            cli_warn(rr->who, "stream %s partition %u: events are gone (%s); continuing at offset %" PRIu64,
                     stream_name(rr, src), src->partition, siglog_errdetail(), siglog_cursor_position(src->cursor));
        else
            cli_warn(rr->who, "events are gone (%s); continuing", siglog_errdetail());
        return 0;
    }
    if (src)
        return cli_fail_lib(rr->who, rc, "reading stream %s partition %u at offset %" PRIu64, stream_name(rr, src),
                            src->partition, siglog_cursor_position(src->cursor));
    return cli_fail_lib(rr->who, rc, "reading %s", rr->o->nstreams > 1 ? "the streams" : rr->o->streams[0]);
}

/* Read up to `budget` records of one source. Returns the number read, or
 * -1 after a failure was reported; *finished set when the replay is done. */
static int64_t drain(replay_run *rr, replay_src *src, uint64_t budget, int *finished)
{
    int64_t n = 0;
    while (!src->done && (uint64_t)n < budget && !replay_finished(rr)) {
        const siglog_record *r;
        int rc = siglog_cursor_next(src->cursor, &r);
        if (rc == 0) {
            passed_to_end(rr, src);
            break;
        }
        if (rc < 0) {
            if (read_failed(rr, rc, src) != 0)
                return -1;
            continue;
        }
        n++;
        if (take_record(rr, src, r)) {
            *finished = 1;
            break;
        }
        if ((n & 1023) == 0)
            progress_update(&rr->bar, rr->read);
    }
    return n;
}

/* Sleep until some cursor may have news, a signal, or a short timeout.
 * Rotating over the cursors bounds the latency for every partition. */
static void wait_for_news(replay_run *rr, size_t *turn)
{
    out_flush();
    if (replay_stop || rr->nsrc == 0)
        return;
    size_t i = (*turn)++ % rr->nsrc;
    siglog_cursor_wait(rr->src[i].cursor, rr->nsrc == 1 ? 200 : 50);
}

static int replay_sequential(replay_run *rr)
{
    int finished = 0;
    size_t turn = 0;
    if (!rr->o->follow) {
        for (size_t i = 0; i < rr->nsrc && !finished; i++)
            if (drain(rr, &rr->src[i], UINT64_MAX, &finished) < 0)
                return CLI_FAILURE;
        return CLI_OK;
    }
    while (!finished && !replay_finished(rr)) {
        int64_t got = 0;
        for (size_t i = 0; i < rr->nsrc && !finished; i++) {
            int64_t n = drain(rr, &rr->src[i], 1024, &finished);
            if (n < 0)
                return CLI_FAILURE;
            got += n;
        }
        if (got == 0)
            wait_for_news(rr, &turn);
    }
    return CLI_OK;
}

/* The sources' cursors as one array (the caller frees it), NULL after
 * reporting a failure. */
static siglog_cursor **source_cursors(const replay_run *rr)
{
    siglog_cursor **cursors = malloc((rr->nsrc ? rr->nsrc : 1) * sizeof *cursors);
    if (!cursors) {
        cli_fail(rr->who, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < rr->nsrc; i++)
        cursors[i] = rr->src[i].cursor;
    return cursors;
}

static int replay_merged(replay_run *rr)
{
    siglog_cursor **cursors = source_cursors(rr);
    if (!cursors)
        return CLI_FAILURE;
    siglog_merge *m = NULL;
    int rc = siglog_merge_open(&m, cursors, rr->nsrc);
    int status = CLI_OK;
    size_t turn = 0;
    if (rc != 0) {
        status = cli_fail_lib(rr->who, rc, "merging the partitions");
        goto out;
    }
    while (!replay_finished(rr)) {
        const siglog_record *r;
        size_t idx;
        rc = siglog_merge_next(m, &r, &idx);
        if (rc < 0) {
            if ((status = read_failed(rr, rc, NULL)) != CLI_OK)
                break;
            continue;
        }
        if (rc == 0) {
            for (size_t i = 0; i < rr->nsrc; i++)
                passed_to_end(rr, &rr->src[i]);
            if (!rr->o->follow)
                break;
            wait_for_news(rr, &turn);
            continue;
        }
        if (take_record(rr, &rr->src[idx], r))
            break;
        if ((rr->read & 1023) == 0)
            progress_update(&rr->bar, rr->read);
    }
out:
    siglog_merge_close(m);
    free(cursors);
    return status;
}

/* What the sort keeps: every filter, --to-offset included (its cursor
 * reads on past it, since the sort reads each to its end). A source's
 * end (a replay from a manifest) is applied to the sorted output, which
 * says which cursor each record came from. */
static int sort_keeps(void *ctx, const siglog_record *r)
{
    const replay_opts *o = ctx;
    return (!o->have_to_offset || r->offset < o->to_offset) && selected(o, r);
}

/* --order event-time: sort the selection, then write it. */
static int replay_event_time(replay_run *rr)
{
    siglog_cursor **cursors = source_cursors(rr);
    if (!cursors)
        return CLI_FAILURE;
    siglog_sort_options so;
    siglog_sort_options_default(&so);
    if (rr->o->sort_memory)
        so.memory_bytes = rr->o->sort_memory;
    so.spill_dir = rr->o->spill_dir;
    so.keep = sort_keeps;
    so.keep_ctx = (void *)rr->o;
    siglog_sort *s = NULL;
    int status = CLI_OK;
    int rc = siglog_sort_open(&s, cursors, rr->nsrc, &so);
    if (rc != 0)
        status = cli_fail_lib(rr->who, rc, "sorting by event time");
    /* The sort read every cursor to its end and delivers what it kept. */
    for (size_t i = 0; status == CLI_OK && i < rr->nsrc; i++)
        passed_to_end(rr, &rr->src[i]);
    while (status == CLI_OK && !replay_finished(rr)) {
        const siglog_record *r;
        size_t idx;
        if ((rc = siglog_sort_next(s, &r, &idx)) <= 0) {
            if (rc < 0)
                status = cli_fail_lib(rr->who, rc, "sorting by event time");
            break;
        }
        rr->read++;
        if (r->offset >= rr->src[idx].end)
            continue;
        write_record(rr, &rr->src[idx], r, 0);
    }
    siglog_sort_close(s);
    free(cursors);
    return status;
}

/* Deliver a record the reorder handed out. Within a partition records
 * come out of offset order: the reading ended past the greatest. */
static void deliver_reordered(replay_run *rr, replay_src *src, const siglog_record *r, int late)
{
    rr->read++;
    if (r->offset >= src->next)
        src->next = r->offset + 1;
    write_record(rr, src, r, late);
}

/* --max-lateness: event-time order as events arrive. At the end (of the
 * input without --follow, or on a stop signal) every record the reorder
 * holds is handed out, so each record it read is delivered; reading ends
 * are moved to the cursors' positions only when the merge under it holds
 * nothing (it returned 0), never past a record the merge read ahead. */
static int replay_reordered(replay_run *rr)
{
    const replay_opts *o = rr->o;
    siglog_cursor **cursors = source_cursors(rr);
    if (!cursors)
        return CLI_FAILURE;
    siglog_reorder_options ro;
    siglog_reorder_options_default(&ro);
    ro.max_lateness_us = o->max_lateness_us;
    if (o->sort_memory)
        ro.memory_bytes = o->sort_memory;
    ro.keep = sort_keeps;
    ro.keep_ctx = (void *)o;
    siglog_reorder *re = NULL;
    int status = CLI_OK, finishing = 0;
    size_t turn = 0;
    int rc = siglog_reorder_open(&re, cursors, rr->nsrc, &ro);
    if (rc != 0)
        status = cli_fail_lib(rr->who, rc, "ordering by event time");
    while (status == CLI_OK && !rr->failed && !out_failed() && !(o->have_limit && rr->written >= o->limit)) {
        if (replay_stop && !finishing) {
            siglog_reorder_finish(re);
            finishing = 1;
        }
        const siglog_record *r;
        size_t idx;
        int late;
        rc = siglog_reorder_next(re, &r, &idx, &late);
        if (rc < 0) {
            status = read_failed(rr, rc, NULL);
            continue;
        }
        if (rc == 0 && finishing)
            break;
        if (rc == 0) {
            for (size_t i = 0; i < rr->nsrc; i++)
                passed_to_end(rr, &rr->src[i]);
            if (o->follow) {
                wait_for_news(rr, &turn);
            } else {
                siglog_reorder_finish(re);
                finishing = 1;
            }
            continue;
        }
        deliver_reordered(rr, &rr->src[idx], r, late);
        if ((rr->read & 1023) == 0)
            progress_update(&rr->bar, rr->read);
    }
    if (status == CLI_OK && !rr->failed && !rr->quiet)
        cli_note(rr->who, "%" PRIu64 " events, %" PRIu64 " late (behind the watermark: the greatest time read "
                          "minus --max-lateness)", rr->written, siglog_reorder_late_count(re));
    siglog_reorder_close(re);
    free(cursors);
    return status;
}

/* ---- setup ---- */

/* The partitions to read: o->reads, else every requested partition (or
 * all) of every stream, each refused when its stream has no such one. */
static int list_sources(replay_run *rr)
{
    const replay_opts *o = rr->o;
    size_t cap = o->reads ? o->nreads : 0;
    for (size_t s = 0; !o->reads && s < o->nstreams; s++) {
        siglog_stream_config cfg;
        siglog_stream_config_get(rr->st[s], &cfg);
        cap += o->parts ? o->nparts : cfg.partitions;
    }
    if (!(rr->src = calloc(cap ? cap : 1, sizeof *rr->src)))
        return cli_fail(rr->who, "out of memory");
    for (size_t s = 0; s < o->nstreams; s++) {
        siglog_stream_config cfg;
        siglog_stream_config_get(rr->st[s], &cfg);
        size_t n = o->reads ? o->nreads : o->parts ? o->nparts : cfg.partitions;
        for (size_t i = 0; i < n; i++) {
            if (o->reads && o->reads[i].stream != s)
                continue;
            replay_src *src = &rr->src[rr->nsrc++];
            src->stream = (uint32_t)s;
            src->partition = o->reads ? o->reads[i].partition : o->parts ? o->parts[i] : (uint32_t)i;
            src->start = o->reads ? o->reads[i].start_offset : 0;
            src->end = o->reads ? o->reads[i].end_offset : UINT64_MAX;
            if (src->partition >= cfg.partitions)
                return cli_fail(rr->who, "stream %s has %u partitions: no partition %u", o->streams[s],
                                cfg.partitions, src->partition);
        }
    }
    return CLI_OK;
}

/* One cursor per selected partition, all opened before reading starts. */
static int open_sources(replay_run *rr)
{
    const replay_opts *o = rr->o;
    int rc = list_sources(rr), found = 0;
    if (rc != CLI_OK)
        return rc;
    if (o->consumer) {
        siglog_stream_config cfg;
        siglog_stream_config_get(rr->st[0], &cfg);
        if (!(rr->committed = calloc(cfg.partitions ? cfg.partitions : 1, sizeof *rr->committed)))
            return cli_fail(rr->who, "out of memory");
        if ((rc = resume_load(rr->st[0], o->consumer, cfg.partitions, rr->committed, &found)) != 0)
            return cli_fail_lib(rr->who, rc, "reading consumer %s of stream %s", o->consumer, o->streams[0]);
    }
    int seek = SIGLOG_SEEK_START;
    int64_t arg = 0;
    if (o->have_from_offset) {
        seek = SIGLOG_SEEK_OFFSET;
        arg = o->from_offset > INT64_MAX ? INT64_MAX : (int64_t)o->from_offset;
    } else if (o->have_from_time) {
        seek = SIGLOG_SEEK_TIME;
        arg = o->from_time;
    }
    uint64_t total = 0;
    int want_total = progress_wanted(); /* partition stats read every segment */
    for (size_t i = 0; i < rr->nsrc; i++) {
        replay_src *src = &rr->src[i];
        siglog_stream *st = rr->st[src->stream];
        uint64_t at = o->reads ? src->start : o->consumer ? rr->committed[src->partition] : UINT64_MAX;
        if (at != UINT64_MAX) {
            seek = SIGLOG_SEEK_OFFSET;
            arg = at > INT64_MAX ? INT64_MAX : (int64_t)at;
        }
        rc = siglog_cursor_open(&src->cursor, st, src->partition, seek, arg,
                                (o->follow ? SIGLOG_CURSOR_FOLLOW : 0u) |
                                    (o->allow_gaps ? SIGLOG_CURSOR_ALLOW_GAPS : 0u));
        if (rc == 0 && o->have_key)
            rc = siglog_cursor_set_key(src->cursor, o->key, strlen(o->key));
        if (rc == 0 && o->have_schema)
            rc = siglog_cursor_filter_schema(src->cursor, o->schema_version);
        if (rc != 0)
            return cli_fail_lib(rr->who, rc, "opening stream %s partition %u", stream_name(rr, src),
                                src->partition);
        src->start = src->next = siglog_cursor_position(src->cursor);
        /* A seek below the log's start starts at it: say what the
         * consumer never read because retention purged it first. */
        if (found && rr->committed[src->partition] < src->start)
            cli_warn(rr->who, "consumer %s: stream %s partition %u offsets [%" PRIu64 ", %" PRIu64 ") were purged "
                              "by retention before it read them; reading on from %" PRIu64,
                     o->consumer, stream_name(rr, src), src->partition, rr->committed[src->partition], src->start,
                     src->start);
        siglog_partition_info pi;
        if (want_total && siglog_partition_info_get(st, src->partition, &pi) == 0)
            total += pi.next_offset - pi.log_start_offset;
        /* An empty range needs no reading at all. */
        if ((o->have_to_offset && o->to_offset <= src->next) || src->end <= src->next) {
            src->done = 1;
            rr->ndone++;
        }
    }
    progress_start(&rr->bar, "replay", o->follow ? 0 : total);
    if (o->follow)
        rr->bar.active = 0;
    return CLI_OK;
}

/* --consumer: commit each partition that moved, after a clean end only,
 * so what is committed reached standard output whole. The consumer's
 * hold, if any, stays (flags 0 keep it). */
static int commit_consumer(const replay_run *rr)
{
    if (out_failed())
        return CLI_OK; /* the reader went away: nothing is known processed */
    for (size_t i = 0; i < rr->nsrc; i++) {
        const replay_src *src = &rr->src[i];
        if (src->next == src->start)
            continue; /* nothing read: nothing to say */
        int rc = siglog_consumer_commit(rr->st[src->stream], rr->o->consumer, src->partition, src->next, 0);
        if (rc != 0)
            return cli_fail_lib(rr->who, rc, "committing consumer %s of stream %s partition %u at offset %" PRIu64,
                                rr->o->consumer, stream_name(rr, src), src->partition, src->next);
    }
    return CLI_OK;
}

/* --redact: a redactor for each stream (its own registry says which
 * fields are at the level), opened before anything is read. */
static int open_redactors(replay_run *rr)
{
    const replay_opts *o = rr->o;
    if (o->redact == SIGLOG_SENSITIVITY_PUBLIC)
        return CLI_OK;
    if (!(rr->redactors = calloc(o->nstreams, sizeof *rr->redactors)))
        return cli_fail(rr->who, "out of memory");
    for (size_t i = 0; i < o->nstreams; i++) {
        int rc = siglog_redactor_open(&rr->redactors[i], rr->st[i], o->redact, o->redact_mode);
        if (rc != 0)
            return cli_fail_lib(rr->who, rc, "redacting stream %s", o->streams[i]);
    }
    return CLI_OK;
}

static void close_redactors(replay_run *rr)
{
    for (size_t i = 0; rr->redactors && i < rr->o->nstreams; i++)
        siglog_redactor_close(rr->redactors[i]);
    free(rr->redactors);
}

int replay_execute(const char *who, siglog_stream *const *st, const replay_opts *o, manifest *delivered, int quiet)
{
    replay_run rr = { .who = who, .o = o, .st = st, .delivered = delivered, .quiet = quiet };
    if (o->follow)
        install_stop_handlers();
    int status = open_redactors(&rr);
    if (status == CLI_OK)
        status = open_sources(&rr);
    if (status == CLI_OK)
        status = o->order == ORDER_EVENT_TIME && o->have_lateness ? replay_reordered(&rr)
                 : o->order == ORDER_EVENT_TIME                   ? replay_event_time(&rr)
                 : o->order == ORDER_MERGE                        ? replay_merged(&rr)
                                                                  : replay_sequential(&rr);
    if (rr.failed)
        status = CLI_FAILURE;
    progress_end(&rr.bar);
    if (status == CLI_OK && !quiet)
        status = out_finish(who);
    if (status == CLI_OK && o->consumer)
        status = commit_consumer(&rr);
    else if (status != CLI_OK && !quiet)
        out_flush(); /* every record read before the failure, whole */
    for (size_t i = 0; delivered && status == CLI_OK && i < rr.nsrc; i++)
        manifest_note_end(delivered, rr.src[i].stream, rr.src[i].partition, rr.src[i].start, rr.src[i].next);
    for (size_t i = 0; i < rr.nsrc; i++)
        siglog_cursor_close(rr.src[i].cursor);
    close_redactors(&rr);
    free(rr.src);
    free(rr.committed);
    return status;
}

/* Whether r's key is --key's (a cursor filters by key itself; an
 * archive's records come unfiltered). */
static int key_matches(const replay_opts *o, const siglog_record *r)
{
    return !o->have_key || (r->key_len == strlen(o->key) && memcmp(r->key, o->key, r->key_len) == 0);
}

int replay_archive(const char *who, const char *path, replay_opts *o)
{
    siglog_archive *a;
    int rc = siglog_archive_open(&a, path);
    if (rc)
        return cli_fail_lib(who, rc, "archive %s", path);
    const char *streams[1] = { siglog_archive_info_get(a)->stream };
    o->streams = streams;
    o->nstreams = 1;
    replay_src src = { .partition = siglog_archive_info_get(a)->partition, .end = UINT64_MAX };
    replay_run rr = { .who = who, .o = o, .src = &src, .nsrc = 1 };
    int status = CLI_OK;
    while (!replay_finished(&rr)) {
        const siglog_record *r;
        if ((rc = siglog_archive_next(a, &r)) <= 0) {
            if (rc < 0)
                status = cli_fail_lib(who, rc, "archive %s", path);
            break;
        }
        if ((o->have_from_offset && r->offset < o->from_offset) || !key_matches(o, r))
            continue;
        if (take_record(&rr, &src, r))
            break;
    }
    if (status == CLI_OK)
        status = out_finish(who);
    siglog_archive_close(a);
    o->streams = NULL;
    o->nstreams = 0;
    return status;
}

json_t *replay_options_json(const replay_opts *o)
{
    static const char *const orders[] = { "partition", "merge", "event-time" };
    static const char *const formats[] = { "jsonl", "value", "binary" };
    json_t *parts = json_null(), *headers = json_array();
    if (o->parts) {
        json_decref(parts);
        parts = json_array();
        for (size_t i = 0; i < o->nparts; i++)
            json_array_append_new(parts, json_integer(o->parts[i]));
    }
    for (size_t i = 0; i < o->nheaders; i++)
        json_array_append_new(headers, json_pack("[s#s]", o->headers[i].name, o->headers[i].name_len,
                                                 o->headers[i].value));
    json_t *redact = o->redact == SIGLOG_SENSITIVITY_PUBLIC
                         ? json_null()
                         : json_pack("{s:s,s:s}", "level", manifest_redact_levels[o->redact], "mode",
                                     manifest_redact_modes[o->redact_mode]);
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:b,s:b,s:o,s:s,s:o,s:o}", "partitions", parts,
                     "from_offset", o->have_from_offset ? json_integer((json_int_t)o->from_offset) : json_null(),
                     "to_offset", o->have_to_offset ? json_integer((json_int_t)o->to_offset) : json_null(),
                     "from_time_us", o->have_from_time ? json_integer(o->from_time) : json_null(), "to_time_us",
                     o->have_to_time ? json_integer(o->to_time) : json_null(), "key",
                     o->have_key ? json_string(o->key) : json_null(), "schema_version",
                     o->have_schema ? json_integer(o->schema_version) : json_null(), "headers", headers, "order",
                     orders[o->order], "follow", o->follow, "allow_gaps", o->allow_gaps, "limit",
                     o->have_limit ? json_integer((json_int_t)o->limit) : json_null(), "format", formats[o->format],
                     "consumer", o->consumer ? json_string(o->consumer) : json_null(), "redact", redact);
}
