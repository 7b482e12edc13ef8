/*
 * schema_usage_api — a stream's schema usage per partition: reading the
 * log back where the figures are behind (the writer's open, and every
 * read-only handle past the file's `covered`), siglog_schema_usage_foreach
 * and siglog_schema_violations. See schema_usage.h.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "partition.h"
#include "schema_contract.h"
#include "schema_usage_tally.h"
#include "store.h"

typedef int (*record_fn)(void *ctx, const siglog_record *r);

/* Hand every record of partition part from offset `from` to the end of
 * what this handle sees to fn; *end: the offset reached. */
static int read_back(siglog_stream *st, uint32_t part, uint64_t from, record_fn fn, void *ctx, uint64_t *end)
{
    siglog_cursor *c;
    int rc = siglog_cursor_open(&c, st, part, SIGLOG_SEEK_OFFSET, (int64_t)from, SIGLOG_CURSOR_ALLOW_GAPS);
    if (rc)
        return rc;
    const siglog_record *r;
    while ((rc = siglog_cursor_next(c, &r)) == 1)
        if ((rc = fn(ctx, r)) != 0)
            break;
    *end = siglog_cursor_position(c);
    siglog_cursor_close(c);
    return rc;
}

static int writer_record(void *ctx, const siglog_record *r)
{
    return sl_partition_usage_record(ctx, r);
}

void sl_stream_usage_catch_up(siglog_stream *st)
{
    for (uint32_t i = 0; i < st->cfg.partitions; i++) {
        partition *p = st->parts[i];
        if (sl_partition_damaged(p))
            continue;
        uint64_t end;
        int rc = read_back(st, i, sl_partition_usage_covered(p), writer_record, p, &end);
        if (!rc)
            sl_partition_usage_caught_up(p, end);
        else /* left behind: the figures say how far they go, and the next open tries again */
            sl_store_log(st->store, SIGLOG_LOG_WARN, "%s: schema usage not rebuilt from the log: %s",
                         sl_partition_path(p), siglog_errdetail());
    }
}

typedef struct reader_usage {
    schema_usage *u;
    schema_registry *r;
    int contract;
} reader_usage;

static int reader_record(void *ctx, const siglog_record *rec)
{
    reader_usage *ru = ctx;
    return rec->offset < ru->u->covered ? 0 : sl_schema_usage_account(ru->u, ru->r, ru->contract, rec);
}

/* The partition's log start and first segment as its catalog file says
 * now: maintenance (a retention purge, a restore) may have moved them
 * beside this handle. *first_end is *first_base when it holds no record. */
typedef struct log_front {
    uint64_t start, first_base, first_end;
    catalog_snapshot *cs; /* the catalog it was read from (to release) */
} log_front;

static int current_front(partition *p, log_front *f)
{
    catalog_snapshot *cs;
    int rc = sl_partition_catalog_snapshot(p, &cs);
    if (rc)
        return rc;
    f->cs = cs;
    f->start = f->first_base = f->first_end = sl_catalog_snapshot_bounds(cs)->log_start_offset;
    if (sl_catalog_snapshot_count(cs)) {
        const catalog_segment *e = sl_catalog_snapshot_segment(cs, 0);
        f->first_base = f->first_end = e->base_offset;
        if (e->record_count)
            f->first_end = e->end_offset;
    }
    return 0;
}

static int stale(const schema_usage *u, const log_front *f)
{
    return sl_schema_usage_stale(u, f->start, f->first_base, f->first_end) ||
           sl_schema_usage_tally_changed(u, f->cs);
}

/* The figures of partition part as this handle sees them, into *u: the
 * writer's own, else the saved file's caught up with the log. Figures
 * that are stale (a prefix removal took counted events away, a restore
 * put events back below them: the writer recounts at its next open) are
 * recounted here from the log's start. */
static int usage_from(siglog_stream *st, uint32_t part, schema_usage *u, const log_front *f)
{
    partition *p = st->parts[part];
    int found, rc;
    if (!st->store->read_only) {
        if ((rc = sl_partition_usage_get(p, u)) != 0 || !stale(u, f))
            return rc;
    } else if ((rc = sl_schema_usage_load(st->store->io, sl_partition_path(p), u, &found)) == SIGLOG_ECORRUPT ||
               rc == SIGLOG_EVERSION) {
        sl_schema_usage_init(u, 0); /* what a writer's open would do: from the log */
    } else if (rc) {
        return rc;
    }
    if (stale(u, f)) {
        sl_schema_usage_free(u);
        sl_schema_usage_init(u, f->start);
    }
    reader_usage ru = { u, st->schemas, (int)STREAM_SETTING(st, contract) };
    uint64_t end;
    rc = read_back(st, part, u->covered, reader_record, &ru, &end);
    if (rc)
        sl_schema_usage_free(u);
    return rc;
}

static int usage_of(siglog_stream *st, uint32_t part, schema_usage *u)
{
    log_front front;
    int rc = current_front(st->parts[part], &front);
    if (rc)
        return rc;
    rc = usage_from(st, part, u, &front);
    sl_catalog_snapshot_release(front.cs);
    return rc;
}

static int check_partition(siglog_stream *st, uint32_t part)
{
    return st ? sl_stream_partition_usable(st, part)
              : sl_err_set(SIGLOG_EINVAL, "siglog_schema_usage_foreach: stream is required");
}

SIGLOG_API int siglog_schema_usage_foreach(siglog_stream *st, uint32_t partition,
                                           int (*fn)(void *ctx, const siglog_schema_usage *u), void *ctx)
{
    sl_err_clear();
    int rc = check_partition(st, partition);
    schema_usage u;
    if (rc || (rc = usage_of(st, partition, &u)) != 0)
        return rc;
    for (size_t i = 0; i < u.count && !rc; i++) {
        const schema_usage_entry *e = &u.v[i];
        siglog_schema_usage x = { .partition = partition,
                                  .version = e->version,
                                  .first_offset = e->first_offset,
                                  .last_offset = e->last_offset,
                                  .min_timestamp_us = e->min_timestamp_us,
                                  .max_timestamp_us = e->max_timestamp_us,
                                  .count = e->count,
                                  .nonconforming = e->nonconforming };
        rc = fn(ctx, &x);
    }
    sl_schema_usage_free(&u);
    return rc;
}

/* The per-path counts of one version over every partition, in order of
 * first sight (partition by partition). */
typedef struct path_sum {
    schema_usage_path *v;
    size_t n;
    uint64_t total;
} path_sum;

static int sum_paths(path_sum *s, const schema_usage_entry *e)
{
    s->total += e->nonconforming;
    for (size_t k = 0; k < e->path_count; k++) {
        size_t j = 0;
        while (j < s->n && strcmp(s->v[j].path, e->paths[k].path) != 0)
            j++;
        if (j == s->n) {
            schema_usage_path *v = realloc(s->v, (s->n + 1) * sizeof *v);
            if (!v)
                return sl_err_set(SIGLOG_ENOMEM, "out of memory");
            s->v = v;
            v[s->n++] = (schema_usage_path){ e->paths[k].path, 0 }; /* borrowed while e lives */
        }
        s->v[j].count += e->paths[k].count;
    }
    return 0;
}

SIGLOG_API int siglog_schema_violations(siglog_stream *st, uint32_t version, uint64_t *total,
                                        void (*fn)(void *ctx, const char *path, uint64_t count), void *ctx)
{
    siglog_schema_info info;
    int rc = siglog_schema_get(st, version, &info);
    if (rc)
        return rc;
    schema_usage *us = calloc(st->cfg.partitions ? st->cfg.partitions : 1, sizeof *us);
    path_sum s = { 0 };
    if (!us)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    uint32_t got = 0;
    for (; !rc && got < st->cfg.partitions; got++) {
        if ((rc = usage_of(st, got, &us[got])) != 0)
            break;
        const schema_usage_entry *e = sl_schema_usage_find(&us[got], version);
        if (e)
            rc = sum_paths(&s, e);
    }
    if (!rc) {
        if (total)
            *total = s.total;
        for (size_t j = 0; fn && j < s.n; j++)
            fn(ctx, s.v[j].path, s.v[j].count);
    }
    for (uint32_t i = 0; i < got && i < st->cfg.partitions; i++)
        sl_schema_usage_free(&us[i]);
    free(us);
    free(s.v);
    return rc;
}
