/*
 * power_loss — simulated power cuts anywhere in a durable workload.
 *
 * What is proven (DESIGN.md, "Crash safety"): with SIGLOG_SYNC_ALWAYS,
 * after a power cut at any mutating call and a reopen,
 *   - every acknowledged event (its siglog_append returned 0) is present at
 *     its offset, byte-identical (key, value, timestamp, headers, schema
 *     version, flags);
 *   - each partition's offsets are dense from 0;
 *   - nothing else is garbage: an event beyond the acknowledged ones is the
 *     one the workload appended at that offset, byte-identical;
 *   - seeks by offset are exact and the store takes appends again.
 *
 * How: a deterministic workload (3 streams, 2-4 partitions, 64 KiB
 * segments, the smallest journal of 1 MiB, so segment rolls, checkpoints
 * and journal resets happen) first runs to completion over io_crash: that
 * reference run tells where every event lands and how many mutating calls
 * the run makes. A trial runs the same workload with io_crash_die_after(n),
 * closes the store (which fails harmlessly), cuts the power in one of the
 * four modes and reopens with POSIX I/O.
 *
 * A thin tracing layer over io_crash records what each mutating call was
 * (kind, path, offset, length), so the targeted tests can die exactly
 * between a journal sync and the segment write, inside a segment roll, or
 * inside a checkpoint.
 *
 * Environment: SIGLOG_CRASH_POINTS (default 200) random crash points,
 * SIGLOG_CRASH_SEED (default fixed) the seed. Every failure message names
 * the seed, the trial, the crash point and the power-cut mode;
 * SIGLOG_CRASH_TRIAL=k replays only random trial k, and
 * SIGLOG_CRASH_VERBOSE prints what recovery reports.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_floor.h"
#include "io_crash.h"
#include "options_io.h"
#include "siglog.h"
#include "support.h"

/* ---- the workload ------------------------------------------------------ */

#define PL_STREAMS 3
#define PL_PARTS_MAX 4
#define PL_JOURNAL_BYTES (1u << 20)
#define PL_SEGMENT_BYTES (64u << 10)
#define PL_TARGET_BYTES (1300u << 10) /* more than the journal holds */
#define PL_CALL_EVENTS_MAX 6
#define PL_DEFAULT_SEED 0x51a106c0ffeeull

static const struct {
    const char *name;
    uint32_t partitions;
    uint32_t compression;
} pl_streams[PL_STREAMS] = {
    {"clicks", 3, SIGLOG_COMPRESSION_LZ4},
    {"outcomes", 2, SIGLOG_COMPRESSION_NONE},
    {"telemetry", 4, SIGLOG_COMPRESSION_LZ4},
};

static const int pl_modes[4] = {IO_CRASH_DROP_ALL, IO_CRASH_RANDOM, IO_CRASH_GARBLE, IO_CRASH_KEEP_ALL};
static const char *const pl_mode_names[4] = {"KEEP_ALL", "DROP_ALL", "RANDOM", "GARBLE"};

/* One event with the bytes it points to. */
typedef struct pl_event {
    siglog_event ev;
    siglog_header hdr[3];
    char hkey[3][8];
    char hval[3][24];
    uint8_t *key;
    uint8_t *value;
    uint32_t stream;
    int compressible;
} pl_event;

/* One siglog_append call: events first..first+n-1 to one stream. */
typedef struct pl_call {
    uint32_t stream;
    uint32_t partition; /* or SIGLOG_PARTITION_BY_KEY */
    uint32_t first, n;
} pl_call;

typedef struct pl_workload {
    pl_event *events;
    size_t event_count;
    pl_call *calls;
    size_t call_count;
    /* From the reference run: where each event landed, and per partition
     * the event at each offset. */
    uint32_t *part;
    uint64_t *off;
    uint32_t *by_offset[PL_STREAMS][PL_PARTS_MAX];
    uint64_t len[PL_STREAMS][PL_PARTS_MAX];
    uint64_t ops;            /* mutating calls of the reference run */
    uint64_t workload_start; /* ops done when the first append began */
    uint64_t workload_end;   /* ops done when siglog_close began */
} pl_workload;

/* What the failing trial was: set before each trial, printed by every
 * assertion. */
static char pl_ctx[320];

static void pl_fill_random(uint8_t *p, size_t n, uint64_t *rng)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t x = test_rand(rng);
        memcpy(p + i, &x, n - i < 8 ? n - i : 8);
    }
}

/* Keys: named users, binary keys, or none (round-robin); values: empty,
 * small, larger than an index interval, compressible JSON or random bytes;
 * timestamps not quite in order; 0..3 headers; a few tombstones. */
static void pl_event_make(pl_event *e, uint64_t id, uint64_t *rng)
{
    memset(e, 0, sizeof *e);
    uint64_t x = test_rand(rng), y = test_rand(rng), z = test_rand(rng);
    if (x % 10 < 6) {
        e->key = malloc(16);
        e->ev.key_len = (size_t)snprintf((char *)e->key, 16, "user-%u", (unsigned)((x >> 8) % 97));
    } else if (x % 10 == 6) {
        e->ev.key_len = 1 + (x >> 16) % 32;
        e->key = malloc(e->ev.key_len);
        pl_fill_random(e->key, e->ev.key_len, rng);
    }
    e->ev.key = e->key;
    size_t vlen = y % 16 == 0 ? 4000 + (y >> 8) % 5000 : y % 50 == 1 ? 0 : 20 + (y >> 8) % 1500;
    e->value = malloc(vlen ? vlen : 1);
    e->compressible = (y >> 40) & 1;
    if (e->compressible) {
        static const char unit[] = "{\"action\":\"click\",\"score\":0.5,\"model\":\"m-3\"}";
        for (size_t i = 0; i < vlen; i++)
            e->value[i] = (uint8_t)unit[(i + id) % (sizeof unit - 1)];
    } else {
        pl_fill_random(e->value, vlen, rng);
    }
    e->ev.value = e->value;
    e->ev.value_len = vlen;
    e->ev.timestamp_us = 1700000000000000LL + (int64_t)id * 1000 + (int64_t)(z % 2000) - 1000;
    e->ev.schema_version = (uint32_t)(z >> 12) % 4;
    e->ev.flags = (z >> 16) % 25 == 0 ? SIGLOG_EVENT_TOMBSTONE : 0;
    e->ev.header_count = (uint32_t)(z >> 24) % 4;
    for (uint32_t h = 0; h < e->ev.header_count; h++) {
        snprintf(e->hkey[h], sizeof e->hkey[h], "h%u", h % 10); /* h < 4 */
        size_t hl = (z >> (32 + 4 * h)) % 21;
        for (size_t i = 0; i < hl; i++)
            e->hval[h][i] = (char)('a' + test_rand(rng) % 26);
        e->hdr[h] = (siglog_header){e->hkey[h], (uint32_t)strlen(e->hkey[h]), e->hval[h], (uint32_t)hl};
    }
    e->ev.headers = e->ev.header_count ? e->hdr : NULL;
}

static void pl_workload_make(pl_workload *w, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    uint64_t rng = seed;
    size_t cap_events = 1024, cap_calls = 256;
    w->events = malloc(cap_events * sizeof *w->events);
    w->calls = malloc(cap_calls * sizeof *w->calls);
    uint64_t bytes = 0;
    while (bytes < PL_TARGET_BYTES) {
        uint64_t x = test_rand(&rng);
        pl_call c = {.stream = (uint32_t)(x % PL_STREAMS), .first = (uint32_t)w->event_count,
                     .n = 1 + (uint32_t)((x >> 24) % PL_CALL_EVENTS_MAX)};
        c.partition = (x >> 8) & 1 ? SIGLOG_PARTITION_BY_KEY
                                   : (uint32_t)((x >> 16) % pl_streams[c.stream].partitions);
        if (w->call_count == cap_calls)
            w->calls = realloc(w->calls, (cap_calls *= 2) * sizeof *w->calls);
        if (w->event_count + c.n > cap_events)
            w->events = realloc(w->events, (cap_events *= 2) * sizeof *w->events);
        cr_assert(w->calls && w->events);
        for (uint32_t i = 0; i < c.n; i++) {
            pl_event *e = &w->events[w->event_count];
            pl_event_make(e, w->event_count, &rng);
            e->stream = c.stream;
            /* What the journal will hold: LZ4 shrinks the JSON values. */
            int shrinks = e->compressible && pl_streams[c.stream].compression == SIGLOG_COMPRESSION_LZ4;
            bytes += (shrinks ? e->ev.value_len / 8 : e->ev.value_len) + e->ev.key_len + 16;
            w->event_count++;
        }
        w->calls[w->call_count++] = c;
    }
    /* Header pointers point into the events: fix them after the reallocs. */
    for (size_t i = 0; i < w->event_count; i++) {
        pl_event *e = &w->events[i];
        for (uint32_t h = 0; h < e->ev.header_count; h++) {
            e->hdr[h].key = e->hkey[h];
            e->hdr[h].value = e->hval[h];
        }
        e->ev.headers = e->ev.header_count ? e->hdr : NULL;
    }
    w->part = calloc(w->event_count, sizeof *w->part);
    w->off = calloc(w->event_count, sizeof *w->off);
    cr_assert(w->part && w->off);
}

static void pl_workload_free(pl_workload *w)
{
    for (size_t i = 0; i < w->event_count; i++) {
        free(w->events[i].key);
        free(w->events[i].value);
    }
    free(w->events);
    free(w->calls);
    free(w->part);
    free(w->off);
    for (int s = 0; s < PL_STREAMS; s++)
        for (int p = 0; p < PL_PARTS_MAX; p++)
            free(w->by_offset[s][p]);
}

/* The first field in which a read record differs from the event, or NULL. */
static const char *pl_record_diff(const siglog_record *r, const siglog_event *e)
{
    if (r->key_len != e->key_len || (e->key_len && memcmp(r->key, e->key, e->key_len) != 0))
        return "key";
    if (r->value_len != e->value_len || (e->value_len && memcmp(r->value, e->value, e->value_len) != 0))
        return "value";
    if (r->timestamp_us != e->timestamp_us)
        return "timestamp";
    if (r->schema_version != e->schema_version)
        return "schema version";
    if (r->flags != e->flags)
        return "flags";
    if (r->header_count != e->header_count)
        return "header count";
    for (uint32_t h = 0; h < e->header_count; h++) {
        const siglog_header *a = &r->headers[h], *b = &e->headers[h];
        if (a->key_len != b->key_len || memcmp(a->key, b->key, b->key_len) != 0 || a->value_len != b->value_len ||
            (b->value_len && memcmp(a->value, b->value, b->value_len) != 0))
            return "header";
    }
    return NULL;
}

/* ---- a tracing layer over io_crash -------------------------------------- */

enum pl_op_kind { OP_OPEN, OP_WRITE, OP_SYNC, OP_MSYNC, OP_TRUNCATE, OP_RENAME, OP_UNLINK, OP_MKDIR, OP_RMDIR, OP_SYNC_DIR };

typedef struct pl_op {
    int kind;
    char path[256];
    uint64_t off, len;
} pl_op;

#define PL_TRACE_FDS 4096

/* ops[k - 1] is mutating call number k as io_crash counts them; `death`
 * is the call io_crash_die_after killed. One mutex serialises the calls,
 * so every call's effect on the count is its own. */
typedef struct pl_tracer {
    siglog_io io;
    io_crash *crash;
    const siglog_io *base;
    pthread_mutex_t mu;
    char *fd_path[PL_TRACE_FDS];
    pl_op *ops;
    size_t count, cap;
    int died;
    pl_op death;
} pl_tracer;

typedef struct pl_mark {
    uint64_t ops;
    int dead;
} pl_mark;

static pl_tracer *pl_tr(const siglog_io *io)
{
    return io->ctx;
}

static pl_mark pl_begin(pl_tracer *t)
{
    pthread_mutex_lock(&t->mu);
    return (pl_mark){io_crash_ops(t->crash), io_crash_dead(t->crash)};
}

static void pl_end(pl_tracer *t, pl_mark m, int kind, const char *path, uint64_t off, uint64_t len)
{
    pl_op op = {.kind = kind, .off = off, .len = len};
    snprintf(op.path, sizeof op.path, "%s", path ? path : "(mapping)");
    if (io_crash_ops(t->crash) > m.ops) {
        if (t->count == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 4096;
            t->ops = realloc(t->ops, t->cap * sizeof *t->ops);
            cr_assert_not_null(t->ops);
        }
        t->ops[t->count++] = op;
    } else if (!m.dead && io_crash_dead(t->crash) && !t->died) {
        t->died = 1;
        t->death = op;
    }
    pthread_mutex_unlock(&t->mu);
}

static const char *pl_fd_path(pl_tracer *t, int fd)
{
    return fd >= 0 && fd < PL_TRACE_FDS ? t->fd_path[fd] : NULL;
}

static int tr_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    pl_tracer *t = pl_tr(io);
    pl_mark m = pl_begin(t);
    int fd = t->base->open_file(t->base, path, flags, mode);
    if (fd >= 0 && fd < PL_TRACE_FDS) {
        free(t->fd_path[fd]);
        t->fd_path[fd] = strdup(path);
    }
    pl_end(t, m, OP_OPEN, path, flags, 0);
    return fd;
}

static int tr_close(const siglog_io *io, int fd)
{
    pl_tracer *t = pl_tr(io);
    pthread_mutex_lock(&t->mu);
    if (fd >= 0 && fd < PL_TRACE_FDS) {
        free(t->fd_path[fd]);
        t->fd_path[fd] = NULL;
    }
    pthread_mutex_unlock(&t->mu);
    return t->base->close_file(t->base, fd);
}

static ssize_t tr_pread(const siglog_io *io, int fd, void *buf, size_t len, uint64_t off)
{
    return pl_tr(io)->base->pread(pl_tr(io)->base, fd, buf, len, off);
}

static ssize_t tr_pwrite(const siglog_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
    pl_tracer *t = pl_tr(io);
    pl_mark m = pl_begin(t);
    ssize_t r = t->base->pwrite(t->base, fd, buf, len, off);
    pl_end(t, m, OP_WRITE, pl_fd_path(t, fd), off, len);
    return r;
}

static ssize_t tr_pwritev(const siglog_io *io, int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
    pl_tracer *t = pl_tr(io);
    uint64_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    pl_mark m = pl_begin(t);
    ssize_t r = t->base->pwritev(t->base, fd, iov, iovcnt, off);
    pl_end(t, m, OP_WRITE, pl_fd_path(t, fd), off, len);
    return r;
}

/* fdatasync and fsync trace alike: both are an OP_SYNC of the file. */
static int tr_sync(const siglog_io *io, int fd, int (*call)(const siglog_io *, int))
{
    pl_tracer *t = pl_tr(io);
    pl_mark m = pl_begin(t);
    int r = call(t->base, fd);
    pl_end(t, m, OP_SYNC, pl_fd_path(t, fd), 0, 0);
    return r;
}

static int tr_fdatasync(const siglog_io *io, int fd)
{
    return tr_sync(io, fd, pl_tr(io)->base->fdatasync);
}

static int tr_fsync(const siglog_io *io, int fd)
{
    return tr_sync(io, fd, pl_tr(io)->base->fsync);
}

static int tr_ftruncate(const siglog_io *io, int fd, uint64_t size)
{
    pl_tracer *t = pl_tr(io);
    pl_mark m = pl_begin(t);
    int r = t->base->ftruncate(t->base, fd, size);
    pl_end(t, m, OP_TRUNCATE, pl_fd_path(t, fd), size, 0);
    return r;
}

static int tr_file_size(const siglog_io *io, int fd, uint64_t *size)
{
    return pl_tr(io)->base->file_size(pl_tr(io)->base, fd, size);
}

static int tr_mmap(const siglog_io *io, int fd, size_t len, int prot_write, void **addr)
{
    return pl_tr(io)->base->mmap_file(pl_tr(io)->base, fd, len, prot_write, addr);
}

static int tr_munmap(const siglog_io *io, void *addr, size_t len)
{
    return pl_tr(io)->base->munmap_file(pl_tr(io)->base, addr, len);
}

static int tr_msync(const siglog_io *io, void *addr, size_t len)
{
    pl_tracer *t = pl_tr(io);
    pl_mark m = pl_begin(t);
    int r = t->base->msync_file(t->base, addr, len);
    pl_end(t, m, OP_MSYNC, NULL, 0, len);
    return r;
}

static int tr_rename(const siglog_io *io, const char *from, const char *to)
{
    pl_tracer *t = pl_tr(io);
    pl_mark m = pl_begin(t);
    int r = t->base->rename(t->base, from, to);
    pl_end(t, m, OP_RENAME, from, 0, 0);
    return r;
}

/* A traced call that takes one path: unlink, rmdir, sync_dir. */
static int tr_path_op(const siglog_io *io, int kind, const char *path, int (*call)(const siglog_io *, const char *))
{
    pl_tracer *t = pl_tr(io);
    pl_mark m = pl_begin(t);
    int r = call(t->base, path);
    pl_end(t, m, kind, path, 0, 0);
    return r;
}

static int tr_unlink(const siglog_io *io, const char *path)
{
    return tr_path_op(io, OP_UNLINK, path, pl_tr(io)->base->unlink);
}

static int tr_mkdir(const siglog_io *io, const char *path, uint32_t mode)
{
    pl_tracer *t = pl_tr(io);
    pl_mark m = pl_begin(t);
    int r = t->base->mkdir(t->base, path, mode);
    pl_end(t, m, OP_MKDIR, path, 0, 0);
    return r;
}

static int tr_rmdir(const siglog_io *io, const char *path)
{
    return tr_path_op(io, OP_RMDIR, path, pl_tr(io)->base->rmdir);
}

static int tr_sync_dir(const siglog_io *io, const char *path)
{
    return tr_path_op(io, OP_SYNC_DIR, path, pl_tr(io)->base->sync_dir);
}

static int tr_list_dir(const siglog_io *io, const char *path, io_dirent_list *out)
{
    return pl_tr(io)->base->list_dir(pl_tr(io)->base, path, out);
}

static int tr_stat_path(const siglog_io *io, const char *path, int *is_dir, uint64_t *size)
{
    return pl_tr(io)->base->stat_path(pl_tr(io)->base, path, is_dir, size);
}

static int tr_path_owner(const siglog_io *io, const char *path, uint32_t *uid, uint32_t *gid)
{
    return pl_tr(io)->base->path_owner(pl_tr(io)->base, path, uid, gid);
}

static int tr_lock_file(const siglog_io *io, int fd, int shared)
{
    return pl_tr(io)->base->lock_file(pl_tr(io)->base, fd, shared);
}

static int64_t tr_now_us(const siglog_io *io)
{
    return pl_tr(io)->base->now_us(pl_tr(io)->base);
}

static int64_t tr_monotonic_us(const siglog_io *io)
{
    return pl_tr(io)->base->monotonic_us(pl_tr(io)->base);
}

static pl_tracer *pl_tracer_new(io_crash *crash)
{
    pl_tracer *t = calloc(1, sizeof *t);
    cr_assert_not_null(t);
    t->crash = crash;
    t->base = io_crash_io(crash);
    pthread_mutex_init(&t->mu, NULL);
    t->io = (siglog_io){
        .open_file = tr_open, .close_file = tr_close, .pread = tr_pread, .pwrite = tr_pwrite,
        .pwritev = tr_pwritev, .fdatasync = tr_fdatasync, .fsync = tr_fsync, .ftruncate = tr_ftruncate,
        .file_size = tr_file_size, .mmap_file = tr_mmap, .munmap_file = tr_munmap, .msync_file = tr_msync,
        .rename = tr_rename, .unlink = tr_unlink, .mkdir = tr_mkdir, .rmdir = tr_rmdir,
        .sync_dir = tr_sync_dir, .list_dir = tr_list_dir, .stat_path = tr_stat_path, .path_owner = tr_path_owner,
        .lock_file = tr_lock_file, .now_us = tr_now_us, .monotonic_us = tr_monotonic_us, .ctx = t,
    };
    return t;
}

static void pl_tracer_free(pl_tracer *t)
{
    if (!t)
        return;
    for (int i = 0; i < PL_TRACE_FDS; i++)
        free(t->fd_path[i]);
    free(t->ops);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static int pl_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Mutating call number k of a trace (1-based, as io_crash_die_after). */
static const pl_op *pl_op_at(const pl_tracer *t, uint64_t k)
{
    cr_assert(k >= 1 && k <= t->count, "op %" PRIu64 " is outside the trace of %zu", k, t->count);
    return &t->ops[k - 1];
}

static int pl_is_journal_slot_write(const pl_op *op)
{
    return op->kind == OP_WRITE && pl_ends_with(op->path, "/journal") && op->len == 32 && op->off < 8192;
}

/* "STORE/streams/NAME/PPPPP/..." -> stream index and partition. */
static void pl_locate(const char *path, uint32_t *stream, uint32_t *partition)
{
    const char *p = strstr(path, "/streams/");
    cr_assert_not_null(p, "%s: %s is not a partition file", pl_ctx, path);
    p += strlen("/streams/");
    for (uint32_t s = 0; s < PL_STREAMS; s++) {
        size_t n = strlen(pl_streams[s].name);
        if (strncmp(p, pl_streams[s].name, n) == 0 && p[n] == '/') {
            *stream = s;
            *partition = (uint32_t)strtoul(p + n + 1, NULL, 10);
            return;
        }
    }
    cr_assert_fail("%s: %s names no stream of the workload", pl_ctx, path);
}

/* ---- store set-up, runs and checks ------------------------------------- */

/* With SIGLOG_CRASH_VERBOSE set, what recovery reports goes to stderr. */
static void pl_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "[siglog %d] %s\n", level, msg);
}

static void pl_options(siglog_options *o, const siglog_io *io)
{
    siglog_options_default(o);
    o->journal_bytes = PL_JOURNAL_BYTES;
    sl_options_set_io(o, io);
    if (getenv("SIGLOG_CRASH_VERBOSE"))
        o->log_fn = pl_log;
}

/* A fresh store with the workload's streams, made with POSIX I/O. */
static void pl_create_store(const char *dir)
{
    siglog_options o;
    pl_options(&o, NULL);
    o.create = 1;
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    cr_assert_eq(rc, 0, "create %s: %s", dir, siglog_errdetail());
    for (int i = 0; i < PL_STREAMS; i++) {
        siglog_stream_config c;
        siglog_stream_config_default(&c);
        c.partitions = pl_streams[i].partitions;
        c.compression = pl_streams[i].compression;
        c.sync_policy = SIGLOG_SYNC_ALWAYS;
        c.segment_bytes_max = PL_SEGMENT_BYTES;
        c.segment_age_max_us = 0; /* rolls by size only: deterministic */
        c.record_bytes_max = 64 << 10; /* a batch must fit a quarter of the journal */
        rc = siglog_stream_create(s, pl_streams[i].name, &c);
        cr_assert_eq(rc, 0, "stream %s: %s", pl_streams[i].name, siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0, "close: %s", siglog_errdetail());
}

/* Run the workload on the store in dir through io. The reference run
 * records where each event landed and asserts that everything succeeds; a
 * crash run marks acked[id] for each event whose append returned 0 and
 * checks it landed where the reference says. *first_failed: the first call
 * that did not return 0 (call_count if none; 0 if the open failed). */
static void pl_run(pl_workload *w, const char *dir, const siglog_io *io, io_crash *crash, int reference,
                   uint8_t *acked, size_t *first_failed)
{
    siglog_options o;
    pl_options(&o, io);
    siglog *s = NULL;
    *first_failed = 0;
    int rc = siglog_open(&s, dir, &o);
    if (reference)
        cr_assert_eq(rc, 0, "reference open: %s", siglog_errdetail());
    if (rc)
        return;
    *first_failed = w->call_count;
    if (reference)
        w->workload_start = io_crash_ops(crash);
    siglog_stream *st[PL_STREAMS];
    for (int i = 0; i < PL_STREAMS; i++)
        cr_assert_eq(siglog_stream_get(s, pl_streams[i].name, &st[i]), 0, "%s: stream_get", pl_ctx);
    for (size_t ci = 0; ci < w->call_count; ci++) {
        const pl_call *c = &w->calls[ci];
        siglog_event evs[PL_CALL_EVENTS_MAX];
        uint32_t parts[PL_CALL_EVENTS_MAX];
        uint64_t offs[PL_CALL_EVENTS_MAX];
        for (uint32_t j = 0; j < c->n; j++)
            evs[j] = w->events[c->first + j].ev;
        rc = siglog_append(st[c->stream], c->partition, evs, c->n, parts, offs);
        if (reference)
            cr_assert_eq(rc, 0, "reference append %zu: %s: %s", ci, siglog_strerror(rc), siglog_errdetail());
        if (rc != 0) {
            if (*first_failed == w->call_count)
                *first_failed = ci;
            continue;
        }
        for (uint32_t j = 0; j < c->n; j++) {
            uint32_t id = c->first + j;
            if (reference) {
                w->part[id] = parts[j];
                w->off[id] = offs[j];
                continue;
            }
            cr_assert(parts[j] == w->part[id] && offs[j] == w->off[id],
                      "%s: event %u was acknowledged at %u/%" PRIu64 ", the reference run put it at %u/%" PRIu64,
                      pl_ctx, id, parts[j], offs[j], w->part[id], w->off[id]);
            acked[id] = 1;
        }
    }
    if (reference)
        w->workload_end = io_crash_ops(crash);
    rc = siglog_close(s);
    if (reference)
        cr_assert_eq(rc, 0, "reference close: %s", siglog_errdetail());
}

/* Index the reference placement by offset; offsets must be dense. */
static void pl_index_reference(pl_workload *w)
{
    for (size_t id = 0; id < w->event_count; id++) {
        uint32_t s = w->events[id].stream, p = w->part[id];
        if (w->off[id] + 1 > w->len[s][p])
            w->len[s][p] = w->off[id] + 1;
    }
    for (int s = 0; s < PL_STREAMS; s++)
        for (uint32_t p = 0; p < pl_streams[s].partitions; p++) {
            w->by_offset[s][p] = malloc((w->len[s][p] + 1) * sizeof(uint32_t));
            memset(w->by_offset[s][p], 0xff, (w->len[s][p] + 1) * sizeof(uint32_t));
        }
    for (size_t id = 0; id < w->event_count; id++)
        w->by_offset[w->events[id].stream][w->part[id]][w->off[id]] = (uint32_t)id;
    for (int s = 0; s < PL_STREAMS; s++)
        for (uint32_t p = 0; p < pl_streams[s].partitions; p++)
            for (uint64_t o = 0; o < w->len[s][p]; o++)
                cr_assert_neq(w->by_offset[s][p][o], UINT32_MAX, "reference: %s/%u has no event at offset %" PRIu64,
                              pl_streams[s].name, p, o);
}

typedef uint64_t pl_counts[PL_STREAMS][PL_PARTS_MAX];

/* Seek by offset to `o` and check the record found is the one there. */
static void pl_check_seek(const pl_workload *w, siglog_stream *st, uint32_t s, uint32_t p, uint64_t o)
{
    siglog_cursor *c = NULL;
    int rc = siglog_cursor_open(&c, st, p, SIGLOG_SEEK_OFFSET, (int64_t)o, 0);
    cr_assert_eq(rc, 0, "%s: seek %s/%u to %" PRIu64 ": %s", pl_ctx, pl_streams[s].name, p, o, siglog_errdetail());
    const siglog_record *r;
    rc = siglog_cursor_next(c, &r);
    cr_assert_eq(rc, 1, "%s: seek %s/%u to %" PRIu64 " found nothing: %s", pl_ctx, pl_streams[s].name, p, o,
                 siglog_errdetail());
    cr_assert_eq(r->offset, o, "%s: seek %s/%u to %" PRIu64 " landed on %" PRIu64, pl_ctx, pl_streams[s].name, p, o,
                 r->offset);
    cr_assert_null(pl_record_diff(r, &w->events[w->by_offset[s][p][o]].ev), "%s: seek %s/%u to %" PRIu64, pl_ctx,
                   pl_streams[s].name, p, o);
    siglog_cursor_close(c);
}

/* The store still takes appends: one event per partition lands at the
 * next offset and reads back. */
static void pl_check_appendable(siglog_stream *st, uint32_t s, uint32_t p, uint64_t next)
{
    const char v[] = "{\"after\":\"recovery\"}";
    siglog_event e = {.value = v, .value_len = sizeof v - 1, .timestamp_us = 42, .schema_version = 1};
    uint32_t part;
    uint64_t off;
    int rc = siglog_append(st, p, &e, 1, &part, &off);
    cr_assert_eq(rc, 0, "%s: append to %s/%u after recovery: %s", pl_ctx, pl_streams[s].name, p, siglog_errdetail());
    cr_assert_eq(off, next, "%s: append after recovery got offset %" PRIu64 ", expected %" PRIu64, pl_ctx, off, next);
    siglog_cursor *c = NULL;
    cr_assert_eq(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_OFFSET, (int64_t)next, 0), 0);
    const siglog_record *r;
    cr_assert_eq(siglog_cursor_next(c, &r), 1, "%s: %s", pl_ctx, siglog_errdetail());
    cr_assert_null(pl_record_diff(r, &e), "%s: event appended after recovery reads back different", pl_ctx);
    siglog_cursor_close(c);
}

/* Reopen with POSIX I/O (recovery) and check the guarantees; counts[s][p]
 * gets the number of events each partition holds. With `more`, also
 * check exact seeks and that appends work again (this changes the store). */
static void pl_verify(const pl_workload *w, const char *dir, const uint8_t *acked, pl_counts counts, int more)
{
    siglog_options o;
    pl_options(&o, NULL);
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    cr_assert_eq(rc, 0, "%s: reopen after the power cut: %s: %s", pl_ctx, siglog_strerror(rc), siglog_errdetail());
    siglog_stream *sts[PL_STREAMS];
    for (uint32_t si = 0; si < PL_STREAMS; si++) {
        const char *name = pl_streams[si].name;
        rc = siglog_stream_get(s, name, &sts[si]);
        cr_assert_eq(rc, 0, "%s: stream %s: %s", pl_ctx, name, siglog_errdetail());
        for (uint32_t p = 0; p < pl_streams[si].partitions; p++) {
            siglog_cursor *c = NULL;
            rc = siglog_cursor_open(&c, sts[si], p, SIGLOG_SEEK_START, 0, 0);
            cr_assert_eq(rc, 0, "%s: cursor on %s/%u: %s", pl_ctx, name, p, siglog_errdetail());
            const siglog_record *r;
            uint64_t i = 0;
            while ((rc = siglog_cursor_next(c, &r)) == 1) {
                cr_assert_eq(r->offset, i, "%s: %s/%u: offset %" PRIu64 " where %" PRIu64 " was due (not dense)",
                             pl_ctx, name, p, r->offset, i);
                cr_assert(i < w->len[si][p],
                          "%s: %s/%u: offset %" PRIu64 " exists, but the workload appended only %" PRIu64, pl_ctx,
                          name, p, i, w->len[si][p]);
                uint32_t id = w->by_offset[si][p][i];
                const char *diff = pl_record_diff(r, &w->events[id].ev);
                cr_assert_null(diff, "%s: %s/%u offset %" PRIu64 ": %s differs from what was appended (%s)", pl_ctx,
                               name, p, i, diff, acked[id] ? "acknowledged" : "not acknowledged");
                i++;
            }
            cr_assert_eq(rc, 0, "%s: reading %s/%u after offset %" PRIu64 ": %s: %s", pl_ctx, name, p, i,
                         siglog_strerror(rc), siglog_errdetail());
            siglog_cursor_close(c);
            counts[si][p] = i;
            siglog_partition_info info;
            cr_assert_eq(siglog_partition_info_get(sts[si], p, &info), 0, "%s: %s", pl_ctx, siglog_errdetail());
            cr_assert_eq(info.next_offset, i, "%s: %s/%u: next_offset %" PRIu64 " but %" PRIu64 " readable", pl_ctx,
                         name, p, info.next_offset, i);
            cr_assert_eq(info.log_start_offset, 0, "%s: %s/%u lost its start", pl_ctx, name, p);
            test_check_schema_usage(sts[si], p, pl_ctx);
        }
    }
    for (size_t id = 0; id < w->event_count; id++) {
        uint32_t si = w->events[id].stream, p = w->part[id];
        cr_assert(!acked[id] || w->off[id] < counts[si][p],
                  "%s: acknowledged event %zu (%s/%u offset %" PRIu64 ") is lost: the partition ends at %" PRIu64,
                  pl_ctx, id, pl_streams[si].name, p, w->off[id], counts[si][p]);
    }
    if (more)
        for (uint32_t si = 0; si < PL_STREAMS; si++)
            for (uint32_t p = 0; p < pl_streams[si].partitions; p++) {
                uint64_t n = counts[si][p];
                if (n) {
                    pl_check_seek(w, sts[si], si, p, 0);
                    pl_check_seek(w, sts[si], si, p, n / 2);
                    pl_check_seek(w, sts[si], si, p, n - 1);
                }
                pl_check_appendable(sts[si], si, p, n);
            }
    rc = siglog_close(s);
    cr_assert_eq(rc, 0, "%s: close after recovery: %s", pl_ctx, siglog_errdetail());
}

/* ---- fixture ----------------------------------------------------------- */

static uint64_t pl_env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : dflt;
}

typedef struct pl_fixture {
    uint64_t seed;
    char *root;
    char *template_dir;
    pl_workload w;
    pl_tracer *ref_trace; /* the reference run's mutating calls */
    uint8_t *acked;
    int trial;
} pl_fixture;

/* Make the workload and a template store, run the reference. */
static void pl_setup(pl_fixture *f)
{
    memset(f, 0, sizeof *f);
    f->seed = pl_env_u64("SIGLOG_CRASH_SEED", PL_DEFAULT_SEED);
    f->root = test_tmpdir_fast("power_loss");
    f->template_dir = test_path(f->root, "template");
    pl_create_store(f->template_dir);
    pl_workload_make(&f->w, f->seed);
    f->acked = calloc(f->w.event_count, 1);

    char *ref = test_path(f->root, "reference");
    test_copy_tree(f->template_dir, ref);
    io_crash *crash = io_crash_new(f->seed);
    f->ref_trace = pl_tracer_new(crash);
    size_t first_failed;
    snprintf(pl_ctx, sizeof pl_ctx, "seed %" PRIu64 ": reference run", f->seed);
    pl_run(&f->w, ref, &f->ref_trace->io, crash, 1, NULL, &first_failed);
    f->w.ops = io_crash_ops(crash);
    cr_assert_eq(f->w.ops, f->ref_trace->count, "the trace missed mutating calls");
    io_crash_free(crash);
    f->ref_trace->crash = NULL;
    pl_index_reference(&f->w);
    test_rmtree_fast(ref);
    free(ref);
}

static void pl_teardown(pl_fixture *f)
{
    test_rmtree_fast(f->root);
    free(f->template_dir);
    free(f->root);
    free(f->acked);
    pl_tracer_free(f->ref_trace);
    pl_workload_free(&f->w);
}

/* A fresh copy of the template for one trial (caller frees). */
static char *pl_trial_dir(pl_fixture *f, const char *tag)
{
    char name[64];
    snprintf(name, sizeof name, "%s-%d", tag, f->trial);
    char *dir = test_path(f->root, name);
    test_copy_tree(f->template_dir, dir);
    return dir;
}

/* Run the workload in dir dying at mutating call n, cut the power with
 * mode. Fills f->acked; returns the first failed call; *death (optional)
 * gets the call that was killed. */
static size_t pl_crash(pl_fixture *f, const char *dir, uint64_t n, int mode, uint64_t cut_seed, pl_op *death)
{
    memset(f->acked, 0, f->w.event_count);
    io_crash *crash = io_crash_new(cut_seed);
    pl_tracer *t = pl_tracer_new(crash);
    io_crash_die_after(crash, n);
    size_t first_failed;
    pl_run(&f->w, dir, &t->io, crash, 0, f->acked, &first_failed);
    int rc = io_crash_power_cut(crash, mode);
    cr_assert_eq(rc, 0, "%s: power cut failed: %d", pl_ctx, rc);
    if (death) {
        cr_assert(t->died, "%s: the crash point was never reached", pl_ctx);
        *death = t->death;
    }
    io_crash_free(crash);
    pl_tracer_free(t);
    return first_failed;
}

/* Die at mutating call n with mode, recover, verify everything. */
static void pl_trial(pl_fixture *f, const char *what, uint64_t n, int mode, uint64_t cut_seed)
{
    f->trial++;
    snprintf(pl_ctx, sizeof pl_ctx,
             "seed %" PRIu64 " trial %d (%s): died at mutating call %" PRIu64 " of %" PRIu64 ", power cut %s",
             f->seed, f->trial, what, n, f->w.ops, pl_mode_names[mode]);
    char *dir = pl_trial_dir(f, "trial");
    pl_crash(f, dir, n, mode, cut_seed, NULL);
    pl_counts counts;
    pl_verify(&f->w, dir, f->acked, counts, 1);
    test_rmtree_fast(dir);
    free(dir);
}

/* ---- the tests ---------------------------------------------------------- */

Test(power_loss, workload_rolls_segments_and_resets_the_journal)
{
    pl_fixture f;
    pl_setup(&f);
    const pl_tracer *t = f.ref_trace;
    size_t rolls = 0, resets = 0;
    for (uint64_t k = f.w.workload_start + 1; k <= f.w.workload_end; k++) {
        const pl_op *op = pl_op_at(t, k);
        rolls += op->kind == OP_RENAME && pl_ends_with(op->path, ".sum.tmp");
        resets += pl_is_journal_slot_write(op);
    }
    /* Without these the random crash points would miss the hard parts. */
    cr_assert_geq(rolls, 9, "only %zu segment rolls in the workload", rolls);
    cr_assert_geq(resets, 1, "no checkpoint with journal reset in the middle of the workload");
    pl_teardown(&f);
}

Test(power_loss, acknowledged_events_survive_random_power_cuts, .timeout = 3600)
{
    pl_fixture f;
    pl_setup(&f);
    uint64_t points = pl_env_u64("SIGLOG_CRASH_POINTS", 200);
    /* SIGLOG_CRASH_TRIAL=k replays only trial k of a failing run. */
    uint64_t only = pl_env_u64("SIGLOG_CRASH_TRIAL", 0);
    uint64_t rng = f.seed ^ 0x70077007ull;
    for (uint64_t i = 0; i < points; i++) {
        uint64_t n = 1 + test_rand(&rng) % f.w.ops, cut_seed = test_rand(&rng);
        if (only && i + 1 != only) {
            f.trial++;
            continue;
        }
        pl_trial(&f, "random", n, pl_modes[i % 4], cut_seed);
    }
    pl_teardown(&f);
}

Test(power_loss, crash_during_recovery_recovers_like_a_direct_recovery, .timeout = 3600)
{
    pl_fixture f;
    pl_setup(&f);
    uint64_t points = pl_env_u64("SIGLOG_CRASH_POINTS", 200) / 8;
    if (points < 8)
        points = 8;
    uint64_t rng = f.seed ^ 0x4ec04e4ull;
    for (uint64_t i = 0; i < points; i++) {
        f.trial++;
        uint64_t n = 1 + test_rand(&rng) % f.w.ops;
        int mode1 = pl_modes[i % 4], mode2 = pl_modes[(i / 4 + i + 1) % 4];
        snprintf(pl_ctx, sizeof pl_ctx,
                 "seed %" PRIu64 " trial %d: died at mutating call %" PRIu64 " of %" PRIu64 ", power cut %s",
                 f.seed, f.trial, n, f.w.ops, pl_mode_names[mode1]);
        char *crashed = pl_trial_dir(&f, "crashed");
        pl_crash(&f, crashed, n, mode1, test_rand(&rng), NULL);

        /* Direct recovery of a copy, counting its mutating calls. */
        char name[64];
        snprintf(name, sizeof name, "direct-%d", f.trial);
        char *direct = test_path(f.root, name);
        test_copy_tree(crashed, direct);
        io_crash *crash = io_crash_new(1);
        siglog_options o;
        pl_options(&o, io_crash_io(crash));
        siglog *s = NULL;
        int rc = siglog_open(&s, direct, &o);
        cr_assert_eq(rc, 0, "%s: direct recovery: %s", pl_ctx, siglog_errdetail());
        uint64_t recovery_ops = io_crash_ops(crash);
        cr_assert_eq(siglog_close(s), 0, "%s: %s", pl_ctx, siglog_errdetail());
        io_crash_free(crash);
        pl_counts direct_counts;
        pl_verify(&f.w, direct, f.acked, direct_counts, 0);

        /* Recovery of the original, killed at a random point of it. */
        uint64_t m = 1 + test_rand(&rng) % recovery_ops;
        size_t len = strlen(pl_ctx);
        snprintf(pl_ctx + len, sizeof pl_ctx - len, "; recovery died at call %" PRIu64 " of %" PRIu64 ", power cut %s",
                 m, recovery_ops, pl_mode_names[mode2]);
        crash = io_crash_new(test_rand(&rng));
        io_crash_die_after(crash, m);
        pl_options(&o, io_crash_io(crash));
        s = NULL;
        if (siglog_open(&s, crashed, &o) == 0)
            siglog_close(s);
        cr_assert_eq(io_crash_power_cut(crash, mode2), 0, "%s: power cut", pl_ctx);
        io_crash_free(crash);
        pl_counts counts;
        pl_verify(&f.w, crashed, f.acked, counts, 1);
        for (int si = 0; si < PL_STREAMS; si++)
            for (uint32_t p = 0; p < pl_streams[si].partitions; p++)
                cr_assert_eq(counts[si][p], direct_counts[si][p],
                             "%s: %s/%u holds %" PRIu64 " events, a direct recovery %" PRIu64, pl_ctx,
                             pl_streams[si].name, p, counts[si][p], direct_counts[si][p]);
        test_rmtree_fast(direct);
        test_rmtree_fast(crashed);
        free(direct);
        free(crashed);
    }
    pl_teardown(&f);
}

Test(power_loss, journal_synced_but_segment_unwritten_comes_back_from_the_journal, .timeout = 600)
{
    pl_fixture f;
    pl_setup(&f);
    const pl_tracer *t = f.ref_trace;
    /* Calls k where k-1 synced the journal and k writes a segment. */
    uint64_t cand[4096];
    size_t nc = 0;
    for (uint64_t k = f.w.workload_start + 2; k <= f.w.workload_end && nc < 4096; k++) {
        const pl_op *prev = pl_op_at(t, k - 1), *op = pl_op_at(t, k);
        if (prev->kind == OP_SYNC && pl_ends_with(prev->path, "/journal") && op->kind == OP_WRITE &&
            pl_ends_with(op->path, ".seg"))
            cand[nc++] = k;
    }
    cr_assert_geq(nc, 8, "only %zu journal-sync-then-segment-write points", nc);
    uint64_t rng = f.seed ^ 0x10c4ull;
    for (size_t i = 0; i < 8; i++) {
        uint64_t k = cand[i * (nc - 1) / 7];
        for (int mi = 0; mi < 4; mi++) {
            f.trial++;
            int mode = pl_modes[mi];
            snprintf(pl_ctx, sizeof pl_ctx,
                     "seed %" PRIu64 " trial %d: died at segment write (call %" PRIu64 ") after the journal sync, "
                     "power cut %s",
                     f.seed, f.trial, k, pl_mode_names[mode]);
            char *dir = pl_trial_dir(&f, "jsync");
            pl_op death;
            size_t inflight = pl_crash(&f, dir, k, mode, test_rand(&rng), &death);
            cr_assert(death.kind == OP_WRITE && pl_ends_with(death.path, ".seg"),
                      "%s: the killed call was not a segment write but %s", pl_ctx, death.path);
            cr_assert_lt(inflight, f.w.call_count, "%s: no append failed", pl_ctx);
            pl_counts counts;
            pl_verify(&f.w, dir, f.acked, counts, 1);
            /* The in-flight call was not acknowledged, but its batch for
             * this partition was durable in the journal: it must be back. */
            uint32_t ds, dp;
            pl_locate(death.path, &ds, &dp);
            const pl_call *c = &f.w.calls[inflight];
            size_t checked = 0;
            for (uint32_t j = 0; j < c->n; j++) {
                uint32_t id = c->first + j;
                if (c->stream != ds || f.w.part[id] != dp)
                    continue;
                checked++;
                cr_assert_lt(f.w.off[id], counts[ds][dp],
                             "%s: event %u (%s/%u offset %" PRIu64 ") was durable in the journal but is lost",
                             pl_ctx, id, pl_streams[ds].name, dp, f.w.off[id]);
            }
            cr_assert_gt(checked, 0, "%s: the in-flight call %zu has no event in %s", pl_ctx, inflight, death.path);
            test_rmtree_fast(dir);
            free(dir);
        }
    }
    pl_teardown(&f);
}

/* Die at every mutating call in [from, to], in every mode. */
static void pl_window(pl_fixture *f, const char *what, uint64_t from, uint64_t to, uint64_t *rng)
{
    for (uint64_t k = from; k <= to; k++)
        for (int mi = 0; mi < 4; mi++)
            pl_trial(f, what, k, pl_modes[mi], test_rand(rng));
}

Test(power_loss, crash_during_segment_roll, .timeout = 600)
{
    pl_fixture f;
    pl_setup(&f);
    const pl_tracer *t = f.ref_trace;
    /* A roll: seal (sync segment and indexes, write the .sum sidecar by
     * temp + rename + directory sync), create the next segment and its
     * indexes, sync the directory, then write the partition checkpoint
     * (catalog.ckpt: temp + rename + directory sync). Take the first two
     * rolls. A crash anywhere in it must leave a checkpoint consistent
     * with the segments: the reopened stream is used and read in full. */
    uint64_t rng = f.seed ^ 0x5011ull;
    int rolls = 0;
    for (uint64_t k = f.w.workload_start + 1; k <= f.w.workload_end && rolls < 2; k++) {
        const pl_op *op = pl_op_at(t, k);
        if (!(op->kind == OP_OPEN && pl_ends_with(op->path, ".sum.tmp")))
            continue;
        /* Up to the directory sync that makes the same partition's new
         * checkpoint durable. */
        size_t dir_len = (size_t)(strrchr(op->path, '/') - op->path) + 1;
        uint64_t from = k > 7 ? k - 7 : 1, to = k, checkpoint = 0;
        while (to < f.w.workload_end && !checkpoint) {
            const pl_op *next = pl_op_at(t, ++to);
            if (next->kind == OP_OPEN && strncmp(next->path, op->path, dir_len) == 0 &&
                strcmp(next->path + dir_len, "catalog.ckpt.tmp") == 0)
                checkpoint = to;
        }
        cr_assert(checkpoint, "roll at call %" PRIu64 ": the partition checkpoint was not written", k);
        while (to < f.w.workload_end && pl_op_at(t, to)->kind != OP_SYNC_DIR)
            to++;
        cr_assert_eq(pl_op_at(t, to)->kind, OP_SYNC_DIR, "roll at call %" PRIu64 ": checkpoint not made durable", k);
        pl_window(&f, "segment roll", from, to + 1, &rng);
        rolls++;
        k = to;
    }
    cr_assert_eq(rolls, 2, "the workload rolled fewer than two segments");
    pl_teardown(&f);
}

Test(power_loss, crash_while_a_clean_close_writes_partition_checkpoints, .timeout = 600)
{
    pl_fixture f;
    pl_setup(&f);
    const pl_tracer *t = f.ref_trace;
    /* A clean close ends by recording each partition's end in its
     * catalog.ckpt (temp + rename + directory sync). Cut at every call of
     * the first one written: the old checkpoint or the new must agree
     * with the segments, so the reopened streams work in full. */
    uint64_t rng = f.seed ^ 0xc105eull, from = 0, to;
    for (uint64_t k = f.w.workload_end + 1; k <= f.w.ops && !from; k++)
        if (strstr(pl_op_at(t, k)->path, "/catalog.ckpt"))
            from = k;
    cr_assert(from, "the close wrote no partition checkpoint");
    /* Through the directory sync that makes it durable (or a few calls). */
    for (to = from; to < f.w.ops && to < from + 8 && pl_op_at(t, to)->kind != OP_SYNC_DIR; to++)
        ;
    pl_window(&f, "partition checkpoint at close", from > 1 ? from - 1 : from, to + 1 <= f.w.ops ? to + 1 : to,
              &rng);
    pl_teardown(&f);
}

/* A call a journal checkpoint makes before its journal reset: a segment
 * sync, or a step of a catalog.ckpt write (the lock, the temporary file,
 * the rename, the partition directory's sync) or of the floor file's
 * beside the directory (catalog_floor.h: the stream directory's sync). */
/* A checkpoint's own calls; at a close, each partition's close checkpoint
 * (its segment's summary and schema usage with the catalog) comes before
 * the journal reset too. */
static int pl_is_checkpoint_op(const pl_op *op)
{
    return (op->kind == OP_SYNC && pl_ends_with(op->path, ".seg")) || strstr(op->path, "/catalog.") ||
           strstr(op->path, CATALOG_FLOOR_SUFFIX) || strstr(op->path, ".sum") || strstr(op->path, "/schemas.usage") ||
           (op->kind == OP_SYNC_DIR && !pl_ends_with(op->path, "/streams"));
}

Test(power_loss, crash_during_checkpoint_and_journal_reset, .timeout = 600)
{
    pl_fixture f;
    pl_setup(&f);
    const pl_tracer *t = f.ref_trace;
    /* A checkpoint syncs every dirty segment and raises each partition's
     * next-offset floor in its catalog.ckpt (atomic replace under
     * catalog.lock), then writes the journal's other header slot and
     * syncs the journal. Take the first one in the middle of the workload
     * and the one of the final close. */
    uint64_t rng = f.seed ^ 0xc4ec4ull;
    uint64_t mid = 0, last = 0;
    for (uint64_t k = f.w.workload_start + 1; k <= f.w.ops; k++)
        if (pl_is_journal_slot_write(pl_op_at(t, k))) {
            if (!mid && k <= f.w.workload_end)
                mid = k;
            if (k > f.w.workload_end)
                last = k;
        }
    cr_assert(mid && last, "no checkpoint in the middle (%" PRIu64 ") or at close (%" PRIu64 ")", mid, last);
    uint64_t slots[2] = {mid, last};
    for (int i = 0; i < 2; i++) {
        uint64_t from = slots[i];
        int segment_syncs = 0;
        while (from > 1 && pl_is_checkpoint_op(pl_op_at(t, from - 1))) {
            from--;
            segment_syncs += pl_op_at(t, from)->kind == OP_SYNC && pl_ends_with(pl_op_at(t, from)->path, ".seg");
        }
        cr_assert_gt(segment_syncs, 0, "no segment sync before the journal reset at call %" PRIu64, slots[i]);
        uint64_t to = slots[i] + 2 <= f.w.ops ? slots[i] + 2 : f.w.ops;
        pl_window(&f, i == 0 ? "checkpoint" : "checkpoint at close", from > 1 ? from - 1 : from, to, &rng);
    }
    pl_teardown(&f);
}
