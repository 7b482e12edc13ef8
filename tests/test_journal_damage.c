/*
 * test_journal_damage — a damaged journal entry followed by valid ones is
 * damage, not a torn end (format-spec/FORMAT.md, "Recovery";
 * engine/journal_verdict.h): every commit of a partition the damage does
 * not touch is kept, by a writer's recovery and by a reader alike; the
 * damaged partition is failed with an error naming the journal and the
 * byte (or, when the damage may be a commit a crash tore, warned about);
 * siglog verify reports it.
 *
 * The store: 3 partitions of an always-synced stream, one commit per
 * append, partitions in turn, so each journal entry is one commit round.
 * Each live entry in turn gets a flipped byte, on a store whose writer
 * was killed (its segments hold everything) and on one whose writer lost
 * power (its segments hold nothing since the last checkpoint: only the
 * journal does).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "io_crash.h"
#include "siglog.h"
#include "support.h"

#define PARTITIONS 3
#define COMMITS_PER_PARTITION 6
#define EVENTS_PER_COMMIT 4
#define EVENTS (COMMITS_PER_PARTITION * EVENTS_PER_COMMIT)
#define SEED 91
#define JOURNAL_DATA 8192
#define ENTRY_HEADER 32

/* Live entries of the journal of dir: positions and lengths. */
typedef struct entries {
    size_t n;
    uint64_t pos[PARTITIONS * COMMITS_PER_PARTITION + 1];
    uint32_t len[PARTITIONS * COMMITS_PER_PARTITION + 1];
    uint32_t partition[PARTITIONS * COMMITS_PER_PARTITION + 1];
} entries;

static void list_entries(const char *dir, entries *e)
{
    char *path = test_path(dir, "journal");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    memset(e, 0, sizeof *e);
    uint64_t pos = JOURNAL_DATA;
    uint64_t generation = 0;
    for (;;) {
        uint8_t h[ENTRY_HEADER];
        cr_assert_eq(fseek(f, (long)pos, SEEK_SET), 0);
        if (fread(h, 1, sizeof h, f) != sizeof h || memcmp(h, "SGJE", 4) != 0 ||
            get_le64(h + 24) != XXH3_64bits(h, 24) || (generation && get_le64(h + 16) != generation))
            break;
        generation = get_le64(h + 16);
        cr_assert_lt(e->n, sizeof e->pos / sizeof *e->pos);
        e->pos[e->n] = pos;
        e->len[e->n] = get_le32(h + 12);
        e->partition[e->n] = get_le32(h + 8);
        e->n++;
        pos += ENTRY_HEADER + get_le32(h + 12);
    }
    fclose(f);
    free(path);
}

static void event_of(test_event *t, uint32_t p, uint64_t i)
{
    test_event_make(t, SEED + p, i);
}

/* The store; power_cut: the writer lost power (else it was killed). */
static char *make_store(int power_cut)
{
    char *dir = test_tmpdir("jdamage");
    io_crash *c = io_crash_new(SEED);
    siglog *s = test_store_open(dir, io_crash_io(c));
    siglog_stream *st = test_stream_create(s, "ev", PARTITIONS, SIGLOG_SYNC_ALWAYS, 0);
    for (uint64_t i = 0; i < EVENTS; i += EVENTS_PER_COMMIT)
        for (uint32_t p = 0; p < PARTITIONS; p++) {
            test_event te[EVENTS_PER_COMMIT];
            siglog_event ev[EVENTS_PER_COMMIT];
            for (int k = 0; k < EVENTS_PER_COMMIT; k++) {
                event_of(&te[k], p, i + (uint64_t)k);
                ev[k] = te[k].ev;
            }
            cr_assert_eq(siglog_append(st, p, ev, EVENTS_PER_COMMIT, NULL, NULL), 0, "%s", siglog_errdetail());
        }
    io_crash_die_after(c, io_crash_ops(c) + 1);
    siglog_close(s);
    cr_assert_eq(io_crash_power_cut(c, power_cut ? IO_CRASH_DROP_ALL : IO_CRASH_KEEP_ALL), 0);
    io_crash_free(c);
    return dir;
}

typedef struct logbook {
    char text[8192];
} logbook;

static void keep_log(void *ctx, int level, const char *msg)
{
    logbook *b = ctx;
    if (level >= SIGLOG_LOG_WARN) {
        strncat(b->text, msg, sizeof b->text - strlen(b->text) - 2);
        strcat(b->text, "\n");
    }
}

/* Read partition p whole: the number of events (each checked against what
 * was appended), or the error of the cursor. */
static int64_t read_partition(siglog_stream *st, uint32_t p)
{
    siglog_cursor *c;
    int rc = siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0);
    if (rc)
        return rc;
    const siglog_record *r;
    int64_t n = 0;
    while ((rc = siglog_cursor_next(c, &r)) == 1) {
        test_event te;
        event_of(&te, p, (uint64_t)n);
        test_assert_record_eq(r, &te.ev);
        n++;
    }
    siglog_cursor_close(c);
    return rc < 0 ? rc : n;
}

/* Whether any partition is named twice from entry k on: the entry is
 * then proven part of an acknowledged commit. */
static int proven_acknowledged(const entries *e, size_t k)
{
    for (size_t a = k; a < e->n; a++)
        for (size_t b = a + 1; b < e->n; b++)
            if (e->partition[a] == e->partition[b])
                return 1;
    return 0;
}

/* Open a copy of dir (read-only or as the writer) and check every
 * partition against the damaged entry k. */
static void check_open(const char *dir, const entries *e, size_t k, int read_only, const char *how)
{
    char *copy = NULL;
    cr_assert(asprintf(&copy, "%s-%s", dir, read_only ? "ro" : "rw") > 0);
    test_copy_tree(dir, copy);
    char *before = test_tree_fingerprint(copy);
    logbook book = {{0}};
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = read_only;
    o.log_fn = keep_log;
    o.log_ctx = &book;
    siglog *s;
    int rc = siglog_open(&s, copy, &o);
    cr_assert_eq(rc, 0, "%s: open: %s", how, siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    char byte[32];
    snprintf(byte, sizeof byte, "byte %" PRIu64, e->pos[k]);
    cr_assert(strstr(book.text, byte), "%s: the damage at %s is not reported: %s", how, byte, book.text);
    uint32_t damaged = e->partition[k];
    int acknowledged = proven_acknowledged(e, k);
    for (uint32_t p = 0; p < PARTITIONS; p++) {
        int64_t n = read_partition(st, p);
        if (p != damaged) {
            cr_assert_eq(n, EVENTS, "%s: partition %u, untouched by the damage, served %" PRId64 " of %d", how, p,
                         n, EVENTS);
        } else if (acknowledged) {
            cr_assert_eq(n, SIGLOG_ECORRUPT, "%s: damaged partition %u served %" PRId64 " events", how, p, n);
            cr_assert(strstr(siglog_errdetail(), "journal") && strstr(siglog_errdetail(), byte),
                      "%s: the error does not name the journal and %s: %s", how, byte, siglog_errdetail());
        } else {
            /* Maybe a torn last commit: what preceded it is served. */
            cr_assert_geq(n, 0, "%s: %s", how, siglog_errdetail());
        }
    }
    if (!read_only && acknowledged) {
        test_event te;
        event_of(&te, damaged, EVENTS);
        cr_assert_neq(siglog_append(st, damaged, &te.ev, 1, NULL, NULL), 0,
                      "%s: the failed partition takes appends", how);
    }
    siglog_close(s);
    if (read_only) {
        char *after = test_tree_fingerprint(copy);
        cr_assert_str_eq(after, before, "%s: the read-only open changed the store", how);
        free(after);
    }
    free(before);
    test_rmtree(copy);
    free(copy);
}

typedef struct found {
    int at_byte;
    uint64_t want;
} found;

static void on_problem(void *ctx, const char *file, uint64_t pos, const char *what)
{
    found *f = ctx;
    (void)what;
    if (strstr(file, "journal") && pos == f->want)
        f->at_byte = 1;
}

static void flip_each_entry(int power_cut)
{
    char *dir = make_store(power_cut);
    entries e;
    list_entries(dir, &e);
    cr_assert_eq(e.n, PARTITIONS * COMMITS_PER_PARTITION, "the journal holds %zu entries, not one per commit", e.n);
    char *journal = test_path(dir, "journal");
    for (size_t k = 0; k < e.n; k++) {
        char how[96];
        snprintf(how, sizeof how, "%s, entry %zu of %zu damaged", power_cut ? "power cut" : "kill", k, e.n);
        uint64_t at = e.pos[k] + ENTRY_HEADER + e.len[k] / 2;
        test_flip_byte(journal, at, 0x20);
        if (k + 1 < e.n) {
            check_open(dir, &e, k, 1, how);
            check_open(dir, &e, k, 0, how);
            found f = {0, e.pos[k]};
            siglog_verify_callbacks cb = {.problem = on_problem, .ctx = &f};
            siglog_verify_stats stats;
            cr_assert_eq(siglog_verify(dir, 0, &cb, &stats), SIGLOG_ECORRUPT, "%s: verify", how);
            cr_assert(f.at_byte, "%s: verify does not name the journal at byte %" PRIu64, how, e.pos[k]);
        }
        test_flip_byte(journal, at, 0x20);
    }
    free(journal);
    test_rmtree(dir);
    free(dir);
}

Test(journal_damage, flipped_byte_in_each_entry_after_a_kill, .timeout = 120)
{
    flip_each_entry(0);
}

Test(journal_damage, flipped_byte_in_each_entry_after_a_power_cut, .timeout = 120)
{
    flip_each_entry(1);
}

/* An acknowledged entry whose header is damaged could be any partition's:
 * both opens fail, naming the journal and the byte. */
Test(journal_damage, damaged_header_of_an_acknowledged_entry_fails_the_open)
{
    char *dir = make_store(1);
    entries e;
    list_entries(dir, &e);
    char *journal = test_path(dir, "journal");
    test_flip_byte(journal, e.pos[1] + 8, 0x01); /* its partition field */
    char byte[32];
    snprintf(byte, sizeof byte, "byte %" PRIu64, e.pos[1]);
    for (int ro = 0; ro < 2; ro++) {
        siglog_options o;
        siglog_options_default(&o);
        o.read_only = ro;
        siglog *s = NULL;
        cr_assert_eq(siglog_open(&s, dir, &o), SIGLOG_ECORRUPT, "%s open", ro ? "read-only" : "writer");
        cr_assert(strstr(siglog_errdetail(), byte), "%s", siglog_errdetail());
    }
    free(journal);
    test_rmtree(dir);
    free(dir);
}
