/*
 * compact_keys — key compaction's verdicts in bounded memory; see
 * compact_keys.h.
 *
 * Memory accounting (the budget covers all of it): a map of cap slots
 * costs 1.5 * cap * sizeof(key_entry), the half covering the old slots
 * while the map grows and, later, the sorted offsets a spill pass
 * collects from it (at most 8 bytes per used slot, at most 3/4 of the
 * slots are used), plus its key arena counted at twice its length (a
 * growing buffer may hold that much). While runs are merged only their
 * buffers and heap are held.
 */
#include "compact_keys.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "error.h"
#include "names.h"

/* The smallest map: a budget below one of these cannot hold any key. */
#define MAP_SLOTS_MIN 16
/* Each run's read buffer holds at most this many offsets. */
#define RUN_BUF_MAX 8192
/* What merging holds per run besides its buffer. */
#define RUN_OVERHEAD (sizeof(run) + sizeof(size_t))

typedef struct key_entry {
    uint64_t hash;      /* 0: free slot (a real hash of 0 is stored as 1) */
    uint64_t key_pos;   /* in the arena */
    uint32_t key_len;
    uint8_t tombstone;  /* the newest record of the key is one */
    uint64_t offset;    /* of the newest record */
    int64_t timestamp_us;
} key_entry;

typedef struct key_map {
    key_entry *slots;
    size_t cap, used;
    bytebuf arena;
} key_map;

/* One sorted run of kept offsets in the spill file, read through buf. */
typedef struct run {
    uint64_t pos, end;  /* byte range of the run not yet read */
    uint64_t *buf;
    size_t at, len;     /* buf[at..len) read, not consumed */
} run;

struct key_verdicts {
    const compact_keys_params *kp;
    bytebuf scratch;
    uint64_t peak;
    uint32_t passes;     /* classes the keys were split into */
    uint32_t cls;        /* the class being mapped (spill passes) */
    size_t sealed;       /* the segments mapped from this index on are
                          * the writer's, still growing */
    key_map map;         /* every key (passes == 1) or one class's */
    /* spill */
    int fd;
    uint64_t file_len;
    run *runs;
    size_t *heap;        /* run indexes, a min-heap on their next offset */
    size_t heap_n;
};

static void note_peak(key_verdicts *v, uint64_t bytes)
{
    if (bytes > v->peak)
        v->peak = bytes;
}

static uint64_t map_cost(size_t cap, size_t arena_len)
{
    size_t arena = 2 * arena_len < 4096 ? 4096 : 2 * arena_len;
    return (uint64_t)cap * sizeof(key_entry) * 3 / 2 + (arena_len ? arena : 0);
}

static uint64_t slot_hash(const void *key, size_t len)
{
    uint64_t h = XXH3_64bits(key, len);
    return h ? h : 1;
}

/* The class of a key: its hash's high half (the slot takes the low). */
static uint32_t class_of(uint64_t h, uint32_t classes)
{
    return (uint32_t)((h >> 32) % classes);
}

static key_entry *map_find(const key_map *m, uint64_t h, const void *key, size_t len)
{
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        key_entry *e = &m->slots[i];
        if (e->hash == 0 || (e->hash == h && e->key_len == len && memcmp(m->arena.data + e->key_pos, key, len) == 0))
            return e;
    }
}

static void map_free(key_map *m)
{
    free(m->slots);
    sl_bytebuf_free(&m->arena);
    memset(m, 0, sizeof *m);
}

/* Returned by the mapping when the budget is passed: the caller splits
 * the keys further (no error detail is set). */
#define OVER_BUDGET 1

/* OVER_BUDGET, or an error when the map holds no key: then no split
 * helps. */
static int over_budget(const key_verdicts *v)
{
    if (v->map.used)
        return OVER_BUDGET;
    return sl_err_set(SIGLOG_ENOMEM, "key compaction: a memory budget of %" PRIu64 " bytes cannot hold a single key",
                      v->kp->memory_bytes);
}

static int map_grow(key_verdicts *v)
{
    key_map *m = &v->map;
    size_t cap = m->cap ? 2 * m->cap : MAP_SLOTS_MIN;
    if (map_cost(cap, m->arena.len) > v->kp->memory_bytes)
        return over_budget(v);
    key_entry *old = m->slots;
    size_t old_cap = m->cap;
    if (!(m->slots = calloc(cap, sizeof *m->slots))) {
        m->slots = old;
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    m->cap = cap;
    note_peak(v, (uint64_t)(cap + old_cap) * sizeof(key_entry) + m->arena.cap);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].hash) {
            size_t j = old[i].hash & (cap - 1);
            while (m->slots[j].hash)
                j = (j + 1) & (cap - 1);
            m->slots[j] = old[i];
        }
    free(old);
    return 0;
}

/* Record r as the newest of its key seen so far (records come in offset
 * order), when its key is of the class being mapped. */
static int map_note(key_verdicts *v, const siglog_record *r)
{
    key_map *m = &v->map;
    uint64_t h = slot_hash(r->key, r->key_len);
    if (v->passes > 1 && class_of(h, v->passes) != v->cls)
        return 0;
    if ((m->used + 1) * 4 > m->cap * 3) {
        int rc = map_grow(v);
        if (rc)
            return rc;
    }
    key_entry *e = map_find(m, h, r->key, r->key_len);
    if (!e->hash) {
        if (map_cost(m->cap, m->arena.len + r->key_len) > v->kp->memory_bytes)
            return over_budget(v);
        if (sl_bytebuf_reserve(&m->arena, r->key_len) != 0)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        memcpy(m->arena.data + m->arena.len, r->key, r->key_len);
        *e = (key_entry){.hash = h, .key_pos = m->arena.len, .key_len = r->key_len};
        m->arena.len += r->key_len;
        m->used++;
        note_peak(v, (uint64_t)m->cap * sizeof(key_entry) + m->arena.cap);
    }
    e->offset = r->offset;
    e->timestamp_us = r->timestamp_us;
    e->tombstone = (r->flags & SIGLOG_EVENT_TOMBSTONE) != 0;
    return 0;
}

/* Whether the newest record of a key, e, stays. */
static int entry_stays(const key_verdicts *v, const key_entry *e)
{
    /* A tombstone stays while readers may still need to see the delete,
     * and while an older event of its key may lie before the inputs. */
    return !e->tombstone || v->kp->older_may_exist ||
           e->timestamp_us >= v->kp->now_us - (int64_t)v->kp->tombstone_retention_us;
}

static int note_batch(void *arg, segment *s, const batch_header *h, const uint8_t *body)
{
    key_verdicts *v = arg;
    batch_iter it;
    siglog_record r;
    int rc = sl_batch_iter_init(&it, h, body, &v->scratch);
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1)
        rc = r.key_len ? map_note(v, &r) : 0;
    if (rc < 0)
        return sl_err_set(rc, "%s: %s", sl_segment_file_path(s), siglog_errdetail());
    return rc;
}

/* Map the keys of the class being mapped: 0, OVER_BUDGET or an error. */
static int map_class(key_verdicts *v, segment *const *segs, size_t n)
{
    map_free(&v->map);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = sl_compact_each_batch(segs[i], i >= v->sealed, note_batch, v);
    return rc;
}

/* ---- the spill file ---- */

static int spill_open(key_verdicts *v)
{
    const siglog_io *io = v->kp->io;
    char *path = sl_path_join(v->kp->spill_dir, COMPACT_SPILL_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int fd = sl_io_create_temp(io, path, IO_WRITE | IO_CREATE | IO_EXCL, 0600);
    int rc = fd < 0 ? sl_err_errno(fd, "creating the key map's spill file %s", path) : 0;
    if (!rc) {
        int u = io->unlink(io, path);
        v->fd = fd;
        if (u < 0)
            rc = sl_err_errno(u, "unlink of the key map's spill file %s", path);
    }
    free(path);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The offsets the mapped class keeps, sorted, as a new run of the file. */
static int spill_class(key_verdicts *v, run *out)
{
    key_map *m = &v->map;
    uint64_t *kept = malloc((m->used ? m->used : 1) * sizeof *kept);
    if (!kept)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    note_peak(v, (uint64_t)m->cap * sizeof(key_entry) + m->arena.cap + m->used * sizeof *kept);
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].hash && entry_stays(v, &m->slots[i]))
            kept[n++] = m->slots[i].offset;
    qsort(kept, n, sizeof *kept, cmp_u64);
    int rc = sl_io_write_all(v->kp->io, v->fd, kept, n * sizeof *kept, v->file_len);
    free(kept);
    if (rc < 0)
        return sl_err_errno(rc, "writing the key map's spill file in %s", v->kp->spill_dir);
    *out = (run){.pos = v->file_len, .end = v->file_len + n * sizeof *kept};
    v->file_len = out->end;
    return 0;
}

/* ---- merging the runs ---- */

/* The next offset of run r into *off; 0 at its end. */
static int run_peek(key_verdicts *v, run *r, size_t buf_len, uint64_t *off)
{
    if (r->at == r->len) {
        if (r->pos == r->end)
            return 0;
        uint64_t want = (r->end - r->pos) / sizeof(uint64_t);
        size_t n = want < buf_len ? (size_t)want : buf_len;
        ssize_t got = sl_io_read_full(v->kp->io, v->fd, r->buf, n * sizeof(uint64_t), r->pos);
        if (got != (ssize_t)(n * sizeof(uint64_t)))
            return sl_err_errno(got < 0 ? (int)got : -EIO, "reading the key map's spill file in %s",
                                v->kp->spill_dir);
        r->pos += n * sizeof(uint64_t);
        r->at = 0;
        r->len = n;
    }
    *off = r->buf[r->at];
    return 1;
}

/* Offsets in each run's buffer: the run's share of the budget (at least
 * one, which sl_key_verdicts_build makes sure fits). */
static size_t run_buf_len(const key_verdicts *v)
{
    uint64_t share = v->kp->memory_bytes / v->passes;
    uint64_t len = share > RUN_OVERHEAD ? (share - RUN_OVERHEAD) / sizeof(uint64_t) : 0;
    return len < 1 ? 1 : len > RUN_BUF_MAX ? RUN_BUF_MAX : (size_t)len;
}

static uint64_t head_of(const key_verdicts *v, size_t i)
{
    const run *r = &v->runs[v->heap[i]];
    return r->buf[r->at];
}

static void heap_down(key_verdicts *v, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, least = i;
        if (l < v->heap_n && head_of(v, l) < head_of(v, least))
            least = l;
        if (l + 1 < v->heap_n && head_of(v, l + 1) < head_of(v, least))
            least = l + 1;
        if (least == i)
            return;
        size_t t = v->heap[i];
        v->heap[i] = v->heap[least];
        v->heap[least] = t;
        i = least;
    }
}

/* The heap of every non-empty run, each with its first offset read. */
static int merge_start(key_verdicts *v)
{
    size_t len = run_buf_len(v);
    if (!(v->heap = calloc(v->passes, sizeof *v->heap)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    note_peak(v, (uint64_t)v->passes * (len * sizeof(uint64_t) + RUN_OVERHEAD));
    for (uint32_t i = 0; i < v->passes; i++) {
        if (!(v->runs[i].buf = malloc(len * sizeof(uint64_t))))
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        uint64_t off;
        int rc = run_peek(v, &v->runs[i], len, &off);
        if (rc < 0)
            return rc;
        if (rc)
            v->heap[v->heap_n++] = i;
    }
    for (size_t i = v->heap_n / 2; i-- > 0;)
        heap_down(v, i);
    return 0;
}

/* Drop every kept offset below `offset` from the heads of the runs. */
static int merge_skip_below(key_verdicts *v, uint64_t offset)
{
    size_t len = run_buf_len(v);
    while (v->heap_n && head_of(v, 0) < offset) {
        run *r = &v->runs[v->heap[0]];
        r->at++;
        uint64_t next;
        int rc = run_peek(v, r, len, &next);
        if (rc < 0)
            return rc;
        if (!rc)
            v->heap[0] = v->heap[--v->heap_n];
        heap_down(v, 0);
    }
    return 0;
}

/* ---- building ---- */

/* Map every class of v->passes in turn, spilling each: 0, OVER_BUDGET
 * (then v->passes is too few) or an error. */
static int spill_classes(key_verdicts *v, segment *const *segs, size_t n)
{
    free(v->runs);
    if (!(v->runs = calloc(v->passes, sizeof *v->runs)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    v->file_len = 0;
    int rc = 0;
    for (v->cls = 0; v->cls < v->passes && !rc; v->cls++)
        if ((rc = map_class(v, segs, n)) == 0)
            rc = spill_class(v, &v->runs[v->cls]);
    map_free(&v->map);
    return rc;
}

int sl_key_verdicts_build(segment *const *segs, size_t n, size_t sealed, const compact_keys_params *kp,
                          key_verdicts **out)
{
    key_verdicts *v = calloc(1, sizeof *v);
    if (!v)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    v->kp = kp;
    v->sealed = sealed;
    v->fd = -1;
    v->passes = 1;
    int rc = map_class(v, segs, n);
    if (rc == OVER_BUDGET) {
        if (!kp->io || !kp->spill_dir)
            rc = sl_err_set(SIGLOG_ENOMEM, "key compaction: the keys need more than the memory budget of %" PRIu64
                                           " bytes and no directory to spill to was given",
                            kp->memory_bytes);
        else
            rc = spill_open(v);
    }
    while (rc == 0 && v->fd >= 0) {
        /* Twice the classes each time: a class holds about half the keys
         * of one of the classes before. */
        if (v->passes > UINT32_MAX / 2 || kp->memory_bytes / (2 * v->passes) < RUN_OVERHEAD + sizeof(uint64_t)) {
            rc = sl_err_set(SIGLOG_ENOMEM,
                            "key compaction: the keys do not fit a memory budget of %" PRIu64
                            " bytes: more than %" PRIu32 " passes would need more for merging their results",
                            kp->memory_bytes, v->passes);
            break;
        }
        v->passes *= 2;
        rc = spill_classes(v, segs, n);
        if (rc == OVER_BUDGET) {
            rc = 0;
            continue;
        }
        if (!rc)
            rc = merge_start(v);
        break;
    }
    if (rc) {
        sl_key_verdicts_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int sl_key_verdicts_keep(key_verdicts *v, const siglog_record *r)
{
    if (v->fd < 0) {
        const key_entry *e = map_find(&v->map, slot_hash(r->key, r->key_len), r->key, r->key_len);
        return e->offset == r->offset && entry_stays(v, e);
    }
    int rc = merge_skip_below(v, r->offset);
    if (rc)
        return rc;
    return v->heap_n && head_of(v, 0) == r->offset;
}

uint64_t sl_key_verdicts_peak_bytes(const key_verdicts *v)
{
    return v->peak;
}

uint32_t sl_key_verdicts_passes(const key_verdicts *v)
{
    return v->fd < 0 ? 1 : v->passes;
}

void sl_key_verdicts_free(key_verdicts *v)
{
    if (!v)
        return;
    map_free(&v->map);
    sl_bytebuf_free(&v->scratch);
    if (v->runs)
        for (uint32_t i = 0; i < v->passes; i++)
            free(v->runs[i].buf);
    free(v->runs);
    free(v->heap);
    if (v->fd >= 0)
        v->kp->io->close_file(v->kp->io, v->fd);
    free(v);
}
