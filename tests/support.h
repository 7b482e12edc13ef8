/*
 * support — helpers shared by the tests: scratch directories and file
 * surgery (flip a byte, truncate), so each test states only what it proves.
 */
#ifndef SIGLOG_TEST_SUPPORT_H
#define SIGLOG_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* A fresh empty directory under $SIGLOG_TEST_TMP (or /tmp), unique per
 * call; returned string is static per call site until the next call.
 * Aborts the test (cr_assert) on failure. */
char *test_tmpdir(const char *tag);
/* rm -rf path (only under the test tmp root). */
void test_rmtree(const char *path);
/* File surgery: size, truncate, xor a byte, read whole file. */
uint64_t test_file_size(const char *path);
void test_truncate(const char *path, uint64_t size);
void test_flip_byte(const char *path, uint64_t pos, uint8_t mask);
/* Entries of a directory, those starting with '.' left out (cr_asserts it
 * can be read). */
size_t test_count_entries(const char *dir);
/* The base offsets of the segments (<20 digits>.seg) in the partition
 * directory dir, ascending: the first max of them into bases; returns how
 * many there are (cr_asserts dir can be read). */
size_t test_segment_bases(const char *dir, uint64_t *bases, size_t max);
/* Remove every file (.seg, .oix, .tix, .sum) of dir's segment at base. */
void test_remove_segment(const char *dir, uint64_t base);
/* Join: "<a>/<b>" into a malloc'd string (caller frees). */
char *test_path(const char *a, const char *b);
/* The mode siglog gives the file at path in a store whose files get
 * store_mode: store_mode, except the store's secret, always 0600. */
unsigned test_store_file_mode(const char *path, unsigned store_mode);
/* Deterministic pseudo-random numbers (splitmix64). */
uint64_t test_rand(uint64_t *state);

#endif

/* ---- events and stores ---- */
#include "siglog.h"

struct siglog_io; /* engine/io.h */

/* A deterministic, realistic event number i of a workload `seed`:
 * key "user-N" (or no key when i % 11 == 0), a JSON value of 40..400 bytes,
 * timestamp 1.7e15 + i * 1000 us with some jitter, schema version i % 3,
 * a provenance header on every fifth event. */
typedef struct test_event {
    siglog_event ev;
    siglog_header hdr[2];
    char key[32];
    char value[512];
} test_event;

void test_event_make(test_event *t, uint64_t seed, uint64_t i);
/* cr_assert that a read record equals the event, field by field. */
void test_assert_record_eq(const siglog_record *r, const siglog_event *e);
/* Open (creating) a store in dir with default options and optional io. */
siglog *test_store_open(const char *dir, const struct siglog_io *io);
/* A read-only handle on the store at dir (asserts it opens). */
siglog *test_store_open_read_only(const char *dir);
/* A writer of a new store at "<a test_tmpdir of tag>/store", for the
 * suites whose temporary directory holds more than the store; *dir gets
 * that directory. test_store_close_rmtree undoes both. */
siglog *test_store_in_tmpdir(const char *tag, char **dir);
/* Close s (asserting it closes cleanly), then remove dir and free it. */
void test_store_close_rmtree(siglog *s, char *dir);
/* Edit a stream's config in a writer session of its own:
 * test_config_edit opens the store at dir and reads the config of
 * `stream` into *c; test_config_save sets *c as the caller changed it
 * and closes s (asserting both succeed). */
siglog *test_config_edit(const char *dir, const char *stream, siglog_stream_config *c);
void test_config_save(siglog *s, const char *stream, const siglog_stream_config *c);
/* Create a stream with `partitions`, `sync` policy, segment size. */
siglog_stream *test_stream_create(siglog *s, const char *name, uint32_t partitions, uint32_t sync,
                                  uint64_t segment_bytes);
/* Read a whole partition from the start into *n records; returns the
 * count and cr_asserts every call succeeds. Callback per record. */
uint64_t test_read_all(siglog_stream *st, uint32_t partition,
                       void (*fn)(void *ctx, const siglog_record *r), void *ctx);

/* cr_assert that siglog_schema_usage_foreach on the partition gives, per
 * version, exactly the first/last offset, earliest/latest time and count
 * that reading the partition whole gives (nonconforming not checked).
 * ctx prefixes the messages. */
void test_check_schema_usage(siglog_stream *st, uint32_t partition, const char *ctx);
/* cr_assert siglog_schema_violations of version: total nonconforming
 * events `total`, per path "PATH=N PATH=N" in the order given. */
void test_check_violations(siglog_stream *st, uint32_t version, uint64_t total, const char *paths);

/* ---- scratch space for crash suites ---- */
/* Like test_tmpdir, but on a memory file system ($SIGLOG_TEST_FAST_TMP, or
 * /dev/shm when present): for suites that fsync thousands of times while
 * the durability they check is simulated (io_crash), so a real disk would
 * only make them slow. Falls back to test_tmpdir's root. */
char *test_tmpdir_fast(const char *tag);
/* rm -rf path (only under the fast or the regular test tmp root). */
void test_rmtree_fast(const char *path);
/* Append events test_event_make(seed, 0..n-1) to partition 0 of st one
 * by one, each flushed (so that small segments roll often). */
void test_append_flushed(siglog *s, siglog_stream *st, uint64_t seed, uint64_t n);
/* Events from..from+n-1 to partition p of st, one a call: keys k0..k39
 * (every 11th event without a key, so a key compaction drops many and
 * keeps the keyless), schema versions in runs of 100 (1, 2, 3, 1, ...),
 * timestamps going back and forth, 400-byte values. */
void test_append_keyed_runs(siglog_stream *st, uint32_t p, uint32_t from, uint32_t n);
/* The keyed hash FORMAT.md documents for forget records and redaction,
 * recomputed as an auditor would, with libsodium directly: the secret is
 * bytes 16..47 of the store's store.secret, K = BLAKE2b-256 of `domain`
 * (e.g. "siglog-forget-v1") keyed with it, and the hash of bytes[0..len)
 * BLAKE2b-256 keyed with K, into hex (64 digits and a NUL). Asserts. */
void test_documented_keyed_hash(const char *store, const char *domain, const void *bytes, size_t len, char hex[65]);
/* K alone, for a test that hashes with it itself. */
void test_documented_hash_key(const char *store, const char *domain, uint8_t key[32]);
/* Leave in stream's directory of store the forget intent a forget of key
 * leaves when it dies before its first rewrite (FORMAT.md, "Forget
 * intent"): started at 1700000000000000 us, the key's hash as "Forget
 * records" derives it from store.secret. */
void test_write_interrupted_intent(const char *store, const char *stream, const char *key);

/* ---- crash trials: a change cut by a power loss at one of its calls ---- */
/* The four power-cut modes of io_crash.h (KEEP_ALL, DROP_ALL, RANDOM,
 * GARBLE) and their names, for trial loops and messages. */
#define TEST_CRASH_MODES 4
extern const int test_crash_modes[TEST_CRASH_MODES];
extern const char *const test_crash_mode_names[TEST_CRASH_MODES];

typedef struct io_crash io_crash;
/* One trial under way (test_crash_trial): the backend, the call of the
 * change that dies (0: none, the reference run) and where the change's
 * calls are counted from. */
typedef struct test_crash {
    io_crash *crash;
    const struct siglog_io *io; /* the backend the change must open with */
    uint64_t die;
    uint64_t start;
} test_crash;
/* The change's calls are counted, and the trial dies, from here: what
 * the change did before (opening a handle) never dies. A change that
 * never arms never dies. */
void test_crash_arm(test_crash *t);
/* Whether the trial's process has died (every call fails from there). */
int test_crash_dead(const test_crash *t);
/* A change: opens what it needs on t->io, arms (test_crash_arm), changes,
 * closes; on the reference run (t->die == 0) it asserts that everything
 * succeeded. */
typedef void (*test_crash_change)(void *arg, const char *store, test_crash *t);
/* One trial: `store` a fresh copy of `tmpl`, the change run through an
 * io_crash (seeded) that dies at its call `die` (0: never), then a power
 * cut in `mode`. Returns the calls the change made after arming (on the
 * reference run, all of them: the range of `die` to try). */
uint64_t test_crash_trial(const char *tmpl, const char *store, uint64_t die, uint64_t seed, int mode,
                          test_crash_change change, void *arg);
/* A maintenance handle on store through io (NULL: POSIX); asserts. */
struct siglog_maintenance *test_maintenance_on(const char *store, const struct siglog_io *io);
/* siglog_compact of every partition of `stream` in mode (a
 * SIGLOG_COMPACT_* mode) by a maintenance handle of its own on store,
 * asserted to succeed (ctx starts the failure's message); returns what
 * it did, for the caller's own assertions. */
siglog_compact_result test_compact_all(const char *store, const char *stream, uint32_t mode, const char *ctx);
/* A change for test_crash_trial: siglog_retain as of TEST_RETAIN_NOW
 * through t's backend, its calls counted from after the maintenance
 * open (arg unused). */
void test_crash_retain(void *arg, const char *store, test_crash *t);
/* Recover the store after a cut: by a writer's open and close, or by a
 * maintenance handle's first use of stream `stream`'s partition 0.
 * Asserts, ctx prefixing the messages. */
void test_crash_recover(const char *store, int by_writer, const char *stream, const char *ctx);

/* ---- crash sweeps: a change cut at every one of its calls ---- */
/* Which power-cut modes a sweep tries at call k. */
enum test_sweep_modes {
    TEST_SWEEP_ALL_MODES, /* all four at every call */
    TEST_SWEEP_ONE_MODE,  /* mode k % 4 at call k, all four when
                           * SIGLOG_CRASH_ALL_MODES is set (the slow suite) */
    TEST_SWEEP_TWO_MODES, /* modes k % 2 and k % 2 + 2 at call k */
};
/* One trial of a sweep, as its check gets it. */
typedef struct test_crash_point {
    uint64_t call, calls; /* the call cut, of how many */
    int mode;             /* index into test_crash_modes */
    int by_writer;        /* recovered by a writer's open, else by maintenance */
    const char *store;    /* the trial's store, recovered when the sweep asks */
    const char *ctx;      /* "[label: ]crash at call k of N, MODE[, recovered by W]" */
} test_crash_point;
typedef void (*test_crash_check)(void *arg, const test_crash_point *pt);
typedef struct test_crash_sweep {
    const char *tmpl, *root; /* each trial: a fresh copy of tmpl at root/trial */
    test_crash_change change;
    void *change_arg;
    uint64_t calls;             /* of the change's reference run */
    int modes;                  /* enum test_sweep_modes */
    const char *recover_stream; /* test_crash_recover on it, a writer and
                                 * maintenance in turn; NULL: the check
                                 * recovers (or not) itself */
    const char *label;          /* before ctx (NULL: none) */
    char *ctx;                  /* the suite's message buffer: each trial's */
    size_t ctx_size;
    test_crash_check check;     /* after each trial's recovery */
    void *check_arg;
} test_crash_sweep;
/* Run the trials of a sweep: for each call k of 1..calls (every
 * SIGLOG_CRASH_STRIDE-th one when that is set: tests/meson.build sets it
 * for a sanitizer build of the longest sweep) and each of its modes, a
 * test_crash_trial of the change dying at k (seed k * 4 + mode), the
 * recovery asked for, the check, and the trial's store removed. */
void test_crash_sweep_run(const test_crash_sweep *s);

/* cp -r of a directory of plain files and directories; `to` must not
 * exist. cr_asserts on failure. */
void test_copy_tree(const char *from, const char *to);
/* tree_fingerprint (tree_fingerprint.h) of dir, cr_asserting it can be
 * read. Caller frees. */
char *test_tree_fingerprint(const char *dir);
/* The same without maintenance.lock, which every open of the role makes
 * or claims (its pid), dry run or not. */
char *test_store_fingerprint(const char *dir);

/* ---- the seeded store of the crash and fault suites: stream "m", one
 * partition, event i (test_event_make(seed, i)) at offset i ---- */
/* Defaults but for: no compression, segments of segment_bytes with a few
 * 16 KiB batches each, records up to 64 KiB (a batch must fit a quarter
 * of the 1 MiB journal). */
void test_seeded_config(siglog_stream_config *c, uint64_t segment_bytes);
/* Event i of test_event_make is at TEST_T0 + i ms (and under 0.5 ms).
 * The seeded retention policy (test_seeded_retention): at TEST_RETAIN_NOW
 * it purges the segments whose events are all older than 700 ms (before
 * TEST_T0 + 400 ms) and moves the sealed ones older than 100 ms that stay
 * to the warm tier. */
#define TEST_T0 1700000000000000LL
#define TEST_RETAIN_NOW (TEST_T0 + 1100000)
void test_seeded_retention(siglog_stream_config *c);
/* Append events from..to-1 of seed (test_event_make) one at a time to
 * partition 0 of st, asserting each lands at the offset of its number. */
void test_seeded_append(siglog_stream *st, uint64_t seed, uint64_t from, uint64_t to);
/* Create a store at dir (1 MiB journal) with stream "m" of config c and
 * append events 0..n-1 of seed one at a time; closed. */
void test_seeded_store(const char *dir, const siglog_stream_config *c, uint64_t seed, uint64_t n);
/* test_seeded_store with 64 KiB segments whose cold_dir is `cold`
 * (made here): at TEST_RETAIN_NOW, siglog_retain moves the sealed
 * segments older than 300 ms (cold_after) into it; nothing else. */
void test_seeded_cold_store(const char *dir, const char *cold, uint64_t seed, uint64_t n);
/* A new test_tmpdir of tag, returned, holding the test_seeded_cold_store
 * of seed and n at "store" (*store) with its cold tier at "cold" (*cold);
 * the caller frees the three paths. */
char *test_seeded_cold_root(const char *tag, uint64_t seed, uint64_t n, char **store, char **cold);
/* Read the store's stream "m" read-only: every record from the log start
 * to the end is event (its offset) of seed, byte-identical, the offsets
 * dense. Returns the log start; *end gets where the log ends. ctx starts
 * every failure's message. */
uint64_t test_check_seeded_log(const char *store, uint64_t seed, uint64_t *end, const char *ctx);
/* The walk of test_check_seeded_log over partition 0 of st, whatever the
 * stream: from the start, every record is event (its offset) of seed,
 * byte-identical, the first at offset `from` (the log start) and the rest
 * dense. Returns the offset after the last. ctx starts every failure's
 * message. */
uint64_t test_check_seeded_records(siglog_stream *st, uint64_t seed, uint64_t from, const char *ctx);
/* Open the store read-only and get its stream "m" into *st; ctx starts
 * a failure's message. */
siglog *test_seeded_open_read_only(const char *store, siglog_stream **st, const char *ctx);

/* ---- sessions that may fail (the error is the result, not a test abort) */
/* Open dir as a writer with o; create stream "events" (ALWAYS, 64 KiB
 * segments, no compression) if it is missing; append n 1 KiB events to
 * partition 0, enough to roll segments; close. Returns the first error,
 * its detail copied into detail (kept: closing would clear it). */
int test_append_rolling(const char *dir, const siglog_options *o, uint32_t n, char *detail, size_t detail_len);
/* Open dir read-only (through io) and count the events of partition 0 of
 * "events": the count, or a negative code with its detail copied. */
long test_count_events(const char *dir, const struct siglog_io *io, char *detail, size_t detail_len);

/* Every regular file below some directories, read whole with its path,
 * so that a byte search of a store (and its tiers) reads each file once. */
typedef struct test_files {
    char **path;
    char **bytes;
    size_t *len;
    size_t n, cap;
} test_files;
/* Add every regular file below dir (recursively, no symlink followed; a
 * file gone between the listing and its read, a live writer's temporary,
 * is passed over). */
void test_files_load_below(test_files *f, const char *dir);
/* cr_assert that the files below dirs[0..n) are was's (loaded below the
 * same), each path with the same bytes, but for one new file whose path
 * ends with `extra` (NULL: none); ctx starts a failure's message. */
void test_files_assert_same(const test_files *was, const char *const *dirs, size_t n, const char *extra,
                            const char *ctx);
/* Whether file i holds needle. */
int test_files_holds(const test_files *f, size_t i, const char *needle);
void test_files_free(test_files *f);

/* ---- A one-partition stream of keyed events with random tokens: what
 * the forget and cold-tier tests append, then search the files for and
 * read back. */

/* Event i's value under seed, {"token":"<32 hex digits>"}: random, so
 * that no compression hides it and each token stands for one event. */
void test_token_value(uint64_t seed, uint64_t i, char value[80]);
/* One partition, segments of segment_bytes, no compression, batches
 * sealed at 2 KiB alone (no sync, a minute's linger) so that where the
 * segments roll does not depend on how fast the appends ran. */
void test_token_config(siglog_stream_config *c, uint64_t segment_bytes);
/* A writer of the store at dir (created when missing) holding a new
 * stream "t" of c, which *st gets. */
siglog *test_token_store(const char *dir, const siglog_stream_config *c, siglog_stream **st);

#define TEST_TOKEN_EVENTS_MAX 20000
/* What was appended at each offset of partition 0: its key (keys[key_at])
 * and its value (test_token_value of seed and the offset). */
typedef struct test_token_log {
    const char *const *keys;
    uint64_t seed;
    uint64_t appended;
    uint8_t key_at[TEST_TOKEN_EVENTS_MAX];
} test_token_log;
void test_token_append(test_token_log *l, siglog_stream *st, uint8_t k);
/* n events whose keys take 0..keys-1 in turn by offset. */
void test_token_append_mixed(test_token_log *l, siglog_stream *st, uint64_t n, uint8_t keys);
/* Events of key k until the partition has `more` entries more. */
void test_token_append_until_rolled(test_token_log *l, siglog_stream *st, uint8_t k, uint64_t more);
/* cr_assert that r's key and value are the ones appended at its offset. */
void test_token_check_event(const test_token_log *l, const siglog_record *r);

/* A read of a token log (test_read_all's fn is test_token_check_record):
 * each record is the next event not gone (gone NULL: none is), as
 * appended; read counts them. */
typedef struct test_token_walk {
    const test_token_log *log;
    int (*gone)(uint64_t offset);
    uint64_t next, read;
} test_token_walk;
void test_token_check_record(void *walk, const siglog_record *r);

/* cr_assert that verify finds no problem in the store at dir. */
void test_verify_clean(const char *dir, const char *ctx);
/* Run retention over the store at dir once, as if at the end of time. */
void test_retain_all(const char *dir);
/* Roll the active segment of every partition of `stream` as a writer
 * opening the store at dir does it for a forget (sl_partition_roll_idle),
 * so that every event appended before is in a sealed segment. */
void test_roll_idle(const char *dir, const char *stream);
/* Set cold_after of stream "t" of the store at dir. */
void test_set_cold_after(const char *dir, uint64_t cold_after);
/* Append n events of key k (or, with keys non-zero, of keys 0..keys-1 in
 * turn) to partition 0 of "t" of the store at dir in one writer session. */
void test_token_session(const char *dir, test_token_log *l, uint64_t n, uint8_t k, uint8_t keys);
/* names[0..n) "key-000", "key-001", ... (written into text), and
 * names[n] `last`. */
void test_token_key_names(const char **names, char (*text)[16], int n, const char *last);
/* The store at dir of stream "t" (test_token_config, 64 KiB segments,
 * cold tier in cold): 2500 events of l's keys 0..keys-1 in turn, all
 * moved cold; then 1500 events of key `edge` alone, all sealed (in two
 * segments or more); then `after` events of key 0 in the active segment.
 * A forget of `edge` empties every sealed segment after the cold tier. */
void test_cold_edge_store(const char *dir, const char *cold, test_token_log *l, uint8_t keys, uint8_t edge,
                          uint64_t after);

/* A writer of the store at dir in a child process that stops itself
 * (SIGSTOP) once it holds the store: it never answers a roll request.
 * Returns when it is stopped. test_writer_stopped_end lets it go on:
 * it closes the store and exits 0 (asserted). */
int test_writer_stopped(const char *dir);
void test_writer_stopped_end(int pid);
