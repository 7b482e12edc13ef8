/*
 * manifest_check — a replay run again from its manifest and compared.
 * See manifest_check.h.
 */
#include "manifest_check.h"

#include "cli.h"
#include "output.h"
#include "timeparse.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many differences are named; the rest are counted. */
#define MAX_NAMED 3

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            char *grown = realloc(buf, cap = cap ? 2 * cap : 4096);
            if (!grown) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    *len = n;
    return buf;
}

/* mr->o: the manifest's options, as the replay command would set them. */
static void set_options(manifest_replay *mr)
{
    const manifest_options *m = &mr->spec.o;
    replay_opts *o = &mr->o;
    memset(o, 0, sizeof *o);
    o->store = mr->store;
    o->streams = mr->spec.streams;
    o->nstreams = mr->spec.nstreams;
    o->parts = m->parts;
    o->nparts = m->nparts;
    /* Bounded by where each partition's reading ended: events appended
     * since are not the manifest's, even when it followed the stream. */
    o->reads = mr->spec.ends;
    o->nreads = mr->spec.nends;
    o->from_offset = m->from_offset;
    o->have_from_offset = m->have_from_offset;
    o->to_offset = m->to_offset;
    o->have_to_offset = m->have_to_offset;
    o->from_time = m->from_time;
    o->have_from_time = m->have_from_time;
    o->to_time = m->to_time;
    o->have_to_time = m->have_to_time;
    o->key = m->key;
    o->have_key = m->key != NULL;
    o->schema_version = m->schema_version;
    o->have_schema = m->have_schema;
    memcpy(o->headers, m->headers, sizeof o->headers);
    o->nheaders = m->nheaders;
    o->order = m->order;
    o->allow_gaps = m->allow_gaps;
    o->limit = m->limit;
    o->have_limit = m->have_limit;
    o->format = m->format;
    o->redact = m->redact;
    o->redact_mode = m->redact_mode;
}

int manifest_replay_open(const char *who, const char *file, const char *store_arg, manifest_replay *mr)
{
    memset(mr, 0, sizeof *mr);
    mr->file = file;
    size_t len;
    char *text = slurp(file, &len), err[256];
    if (!text)
        return cli_fail(who, "cannot read the manifest %s: %s", file, strerror(errno));
    int rc = manifest_load(text, len, &mr->spec, err, sizeof err);
    free(text);
    if (rc != 0)
        return cli_fail(who, "%s is not a replay manifest: %s", file, err);
    mr->store = store_arg ? store_arg : mr->spec.store;
    if (cli_open(who, mr->store, CLI_OPEN_READ_ONLY, NULL, &mr->s, NULL) != CLI_OK)
        goto fail;
    if (siglog_store_id(mr->s) != mr->spec.store_id) {
        cli_fail(who, "the manifest %s is of store %016" PRIx64 ", and %s is store %016" PRIx64, file,
                 mr->spec.store_id, mr->store, siglog_store_id(mr->s));
        goto fail;
    }
    if (!(mr->st = calloc(mr->spec.nstreams, sizeof *mr->st))) {
        cli_fail(who, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < mr->spec.nstreams; i++)
        if ((rc = siglog_stream_get(mr->s, mr->spec.streams[i], &mr->st[i])) != 0) {
            cli_fail_lib(who, rc, "cannot use stream %s of store %s", mr->spec.streams[i], mr->store);
            goto fail;
        }
    set_options(mr);
    return CLI_OK;
fail:
    manifest_replay_close(mr);
    return CLI_FAILURE;
}

void manifest_replay_close(manifest_replay *mr)
{
    siglog_close(mr->s);
    free(mr->st);
    manifest_spec_free(&mr->spec);
    memset(mr, 0, sizeof *mr);
}

/* ---- naming the difference ---- */

typedef struct difference {
    FILE *text; /* the message being built */
    size_t named, more;
} difference;

static int differ(difference *d, const char *fmt, ...) CLI_PRINTF(2, 3);
static int differ(difference *d, const char *fmt, ...)
{
    if (d->named == MAX_NAMED) {
        d->more++;
        return 0;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs(d->named++ ? "; " : "", d->text);
    vfprintf(d->text, fmt, ap);
    va_end(ap);
    return 0;
}

static const manifest_range *find_range(const manifest_range *r, size_t n, uint32_t stream, uint32_t partition)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].stream == stream && r[i].partition == partition)
            return &r[i];
    return NULL;
}

static void describe_range(FILE *f, const manifest_range *r)
{
    if (!r)
        fputs("none", f);
    else
        fprintf(f, "%" PRIu64 " at offsets %" PRIu64 "..%" PRIu64, r->events, r->first_offset, r->last_offset);
}

typedef struct audit_search {
    const manifest_replay *mr;
    difference *d;
} audit_search;

/* Whether audit record a concerns an offset some manifest range covers. */
static int audit_touches(const manifest_replay *mr, const siglog_audit_record *a)
{
    for (size_t i = 0; i < mr->spec.nranges; i++) {
        const manifest_range *r = &mr->spec.ranges[i];
        if (strcmp(a->stream, mr->spec.streams[r->stream]) == 0 &&
            (a->partition == SIGLOG_AUDIT_NO_PARTITION || a->partition == r->partition) &&
            (a->offset_start == a->offset_end ||
             (a->offset_start <= r->last_offset && a->offset_end > r->first_offset)))
            return 1;
    }
    return 0;
}

static int on_audit(void *ctx, const siglog_audit_record *a)
{
    audit_search *as = ctx;
    if (strcmp(a->action, "hold") == 0 || strcmp(a->action, "config") == 0 || !audit_touches(as->mr, a))
        return 0;
    char when[TIMEPARSE_RFC3339_MAX];
    timeparse_format(a->time_us, when);
    if (a->offset_start == a->offset_end)
        return differ(as->d, "audit record %" PRIu64 ": %s by %s of stream %s at %s", a->seq, a->action, a->cause,
                      a->stream, when);
    return differ(as->d, "audit record %" PRIu64 ": %s by %s of %s/%u offsets [%" PRIu64 ",%" PRIu64 ") at %s",
                  a->seq, a->action, a->cause, a->stream, a->partition, a->offset_start, a->offset_end, when);
}

/* Each partition whose delivered range differs, what left the log, and
 * the audit trail's actions over the manifest's offsets. */
static void name_differences(const manifest_replay *mr, const manifest *now, difference *d)
{
    const manifest_spec *then = &mr->spec;
    for (size_t i = 0; i < then->nranges; i++) {
        const manifest_range *t = &then->ranges[i];
        const manifest_range *n = find_range(now->ranges, now->nranges, t->stream, t->partition);
        if (n && n->first_offset == t->first_offset && n->last_offset == t->last_offset && n->events == t->events)
            continue;
        char *what = NULL;
        size_t len;
        FILE *f = open_memstream(&what, &len);
        if (!f)
            continue;
        describe_range(f, t);
        fputs(" then, ", f);
        describe_range(f, n);
        siglog_partition_info pi;
        if (siglog_partition_info_get(mr->st[t->stream], t->partition, &pi) == 0 &&
            pi.log_start_offset > t->first_offset)
            fprintf(f, " (the log starts at offset %" PRIu64 " now)", pi.log_start_offset);
        fclose(f);
        differ(d, "stream %s partition %u: %s now", then->streams[t->stream], t->partition, what);
        free(what);
    }
    for (size_t i = 0; i < now->nranges; i++) {
        const manifest_range *n = &now->ranges[i];
        if (!find_range(then->ranges, then->nranges, n->stream, n->partition))
            differ(d, "stream %s partition %u: none then, %" PRIu64 " events now", then->streams[n->stream],
                   n->partition, n->events);
    }
    if (d->named == 0)
        differ(d, "the same offsets hold other events or another order (rewritten or compacted)");
    audit_search as = { mr, d };
    siglog_audit_read(mr->s, 0, on_audit, &as, NULL);
}

int manifest_replay_check(const char *who, manifest_replay *mr, int quiet)
{
    manifest now;
    manifest_begin(&now, mr->spec.streams, mr->spec.nstreams);
    int status = replay_execute(who, mr->st, &mr->o, &now, quiet);
    if (status == CLI_OK && now.failed)
        status = cli_fail(who, "out of memory");
    if (status == CLI_OK) {
        manifest_finish(&now);
        if (now.events != mr->spec.events || strcmp(now.hex, mr->spec.digest) != 0) {
            difference d = { 0 };
            char *text = NULL;
            size_t len;
            if ((d.text = open_memstream(&text, &len)) != NULL) {
                name_differences(mr, &now, &d);
                if (d.more)
                    fprintf(d.text, "; and %zu more", d.more);
                fclose(d.text);
            }
            status = cli_fail(who, "store %s no longer delivers what the manifest %s records (%" PRIu64
                                   " events then, %" PRIu64 " now): %s",
                              mr->store, mr->file, mr->spec.events, now.events, text ? text : "out of memory");
            free(text);
        }
    }
    manifest_free(&now);
    return status;
}
