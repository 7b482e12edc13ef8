#include "journal_verdict.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "error.h"

struct journal_verdict {
    char *path;
    journal_item *items;
    size_t item_count, item_cap;
    journal_damage *damages;
    size_t damage_count, damage_cap;
};

static int grow(void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 64;
    void *a = realloc(*array, n * size);
    if (!a)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    *array = a;
    *cap = n;
    return 0;
}

static int on_item(void *ctx, uint64_t pos, uint32_t stream_id, uint32_t partition, const uint8_t *batches,
                   size_t len)
{
    journal_verdict *v = ctx;
    (void)len;
    batch_header h;
    if (sl_batch_header_decode(batches, &h) != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: entry at byte %" PRIu64 " holds no batch", v->path, pos);
    int rc = grow((void **)&v->items, &v->item_cap, v->item_count, sizeof *v->items);
    if (!rc)
        v->items[v->item_count++] = (journal_item){pos, stream_id, partition, h.base_offset};
    return rc;
}

static int on_damage(void *ctx, const char *path, uint64_t pos, uint64_t next, int known, uint32_t stream_id,
                     uint32_t partition)
{
    journal_verdict *v = ctx;
    if (!v->path && !(v->path = strdup(path)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = grow((void **)&v->damages, &v->damage_cap, v->damage_count, sizeof *v->damages);
    if (!rc)
        v->damages[v->damage_count++] = (journal_damage){pos, next, known, stream_id, partition, 0};
    return rc;
}

/* An entry of the sequence that names a partition, for finding repeats. */
typedef struct named {
    uint64_t pos;
    uint32_t stream_id, partition;
} named;

static int named_cmp(const void *a, const void *b)
{
    const named *x = a, *y = b;
    if (x->stream_id != y->stream_id)
        return x->stream_id < y->stream_id ? -1 : 1;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* A damage is acknowledged when some partition is named twice at or after
 * it: the latest position where a partition's second naming begins
 * (`repeat_from`, the largest pos of a named entry that has an earlier
 * naming of its partition at or after the damage) decides. We compute for
 * each named entry the position of its partition's previous naming; a
 * damage at p is acknowledged iff some entry has previous >= p. */
static int judge(journal_verdict *v)
{
    size_t n = v->item_count;
    for (size_t i = 0; i < v->damage_count; i++)
        n += v->damages[i].known;
    named *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < v->item_count; i++)
        all[k++] = (named){v->items[i].pos, v->items[i].stream_id, v->items[i].partition};
    for (size_t i = 0; i < v->damage_count; i++)
        if (v->damages[i].known)
            all[k++] = (named){v->damages[i].pos, v->damages[i].stream_id, v->damages[i].partition};
    qsort(all, n, sizeof *all, named_cmp);
    /* The largest "previous naming" position over all second namings. */
    uint64_t latest_previous = 0;
    int any = 0;
    for (size_t i = 1; i < n; i++)
        if (all[i].stream_id == all[i - 1].stream_id && all[i].partition == all[i - 1].partition &&
            (!any || all[i - 1].pos > latest_previous)) {
            latest_previous = all[i - 1].pos;
            any = 1;
        }
    free(all);
    for (size_t i = 0; i < v->damage_count; i++)
        v->damages[i].acknowledged = any && latest_previous >= v->damages[i].pos;
    return 0;
}

int sl_journal_verdict_build(journal *j, journal_verdict **out)
{
    *out = NULL;
    journal_verdict *v = calloc(1, sizeof *v);
    if (!v)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = sl_journal_replay(j, on_item, on_damage, v);
    if (!rc && v->damage_count)
        rc = judge(v);
    if (rc) {
        sl_journal_verdict_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void sl_journal_verdict_free(journal_verdict *v)
{
    if (!v)
        return;
    free(v->path);
    free(v->items);
    free(v->damages);
    free(v);
}

size_t sl_journal_verdict_items(const journal_verdict *v, const journal_item **items)
{
    *items = v->items;
    return v->item_count;
}

size_t sl_journal_verdict_damages(const journal_verdict *v, const journal_damage **damages)
{
    *damages = v->damages;
    return v->damage_count;
}

const char *sl_journal_verdict_path(const journal_verdict *v)
{
    return v->path ? v->path : "journal";
}

void sl_journal_verdict_describe(const journal_verdict *v, const journal_damage *d, char *buf, size_t n)
{
    (void)v;
    char whose[96];
    if (d->known)
        snprintf(whose, sizeof whose, "a commit of stream id %" PRIu32 " partition %" PRIu32, d->stream_id,
                 d->partition);
    else
        snprintf(whose, sizeof whose, "a commit of a partition its damaged header does not name");
    if (d->acknowledged)
        snprintf(buf, n,
                 "damaged entry at byte %" PRIu64 " holds %s that later commits prove acknowledged (valid "
                 "entries follow from byte %" PRIu64 "); nothing was dropped, the journal is kept",
                 d->pos, whose, d->next);
    else
        snprintf(buf, n,
                 "damaged entry at byte %" PRIu64 " holds %s; valid entries of what may be the same commit "
                 "follow from byte %" PRIu64 ": taken as a commit a crash tore (never acknowledged)",
                 d->pos, whose, d->next);
}

int sl_journal_verdict_fatal(const journal_verdict *v)
{
    for (size_t i = 0; i < v->damage_count; i++) {
        const journal_damage *d = &v->damages[i];
        if (d->acknowledged && !d->known) {
            char what[512];
            sl_journal_verdict_describe(v, d, what, sizeof what);
            return sl_err_set(SIGLOG_ECORRUPT, "%s: %s; cannot tell which partition lost it (see siglog verify)",
                           sl_journal_verdict_path(v), what);
        }
    }
    return 0;
}

const journal_damage *sl_journal_verdict_failing(const journal_verdict *v, uint32_t stream_id, uint32_t partition)
{
    for (size_t i = 0; i < v->damage_count; i++) {
        const journal_damage *d = &v->damages[i];
        if (d->acknowledged && d->known && d->stream_id == stream_id && d->partition == partition)
            return d;
    }
    return NULL;
}

int sl_journal_verdict_applies(const journal_verdict *v, const journal_item *item)
{
    const journal_damage *d = sl_journal_verdict_failing(v, item->stream_id, item->partition);
    return !d || item->pos < d->pos;
}
