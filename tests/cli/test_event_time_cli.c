/*
 * replay --order event-time: every selected event in exact (timestamp,
 * partition, offset) order whatever order it arrived in, through spilled
 * runs under a small --memory, with the filters; the spill files exist
 * while it runs and none is left after SIGTERM or SIGKILL. Under the slow
 * setup (SIGLOG_SLOW), the same for 5M events in a 16 MiB budget.
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINES 12000

static char *dir, *store, *spill, *input;

/* A store with stream "ev" of 4 partitions holding `lines` events keyed
 * over 50 users, their times shuffled over `spread_ms` (many late, many
 * ties), each padded with `pad` bytes. */
static void make_store(const char *tag, int lines, uint64_t spread_ms, int pad)
{
    dir = test_tmpdir(tag);
    store = test_path(dir, "store");
    spill = test_path(dir, "spill");
    input = test_path(dir, "in.jsonl");
    cr_assert_eq(mkdir(spill, 0700), 0);
    RUN_OK("init", store);
    RUN_OK("stream", "create", store, "ev", "--partitions", "4");
    FILE *f = fopen(input, "w");
    uint64_t seed = 14;
    for (int i = 0; i < lines; i++)
        fprintf(f, "{\"u\":\"u%d\",\"ts\":%llu,\"i\":%d,\"pad\":\"%0*d\"}\n", i % 50,
                (unsigned long long)(1700000000000 + test_rand(&seed) % spread_ms), i, pad, 0);
    fclose(f);
    RUN_OK("append", store, "ev", "--key-field", "u", "--time-field", "ts", input);
}

/* LINES events of about 200 bytes each: 2.4 MB, several runs of 1 MiB. */
static void setup(void)
{
    make_store("event_time_cli", LINES, 5000, 150);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(input);
    free(spill);
    free(store);
    free(dir);
}

TestSuite(event_time_cli, .init = setup, .fini = teardown, .timeout = 240);

typedef struct ev {
    long long ts, partition, offset;
    char *line;
} ev;

static int ev_cmp(const void *pa, const void *pb)
{
    const ev *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->partition != b->partition)
        return a->partition < b->partition ? -1 : 1;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* The envelope lines of out, with their sort keys. */
static ev *parse(char *out, size_t *n)
{
    size_t cap = 1024;
    ev *v = malloc(cap * sizeof *v);
    *n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL);
        cr_assert(o, "not JSON: %s", line);
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[(*n)++] = (ev){ json_integer_value(json_object_get(o, "ts")), json_integer_value(json_object_get(o, "partition")),
                          json_integer_value(json_object_get(o, "offset")), line };
        json_decref(o);
    }
    return v;
}

/* replay with args (plain) and with --order event-time added must hold
 * the same lines, the second exactly in sorted order. */
static void check_against_sorted(const char *const *filters)
{
    const char *plain[24] = { "replay", store, "ev" }, *sorted[24] = { "replay", store, "ev", "--order", "event-time",
                                                                        "--memory", "1MiB", "--spill-dir", spill };
    size_t np = 3, ns = 9;
    for (; *filters; filters++)
        plain[np++] = sorted[ns++] = *filters;
    plain[np] = sorted[ns] = NULL;
    run_result a = run_siglog(NULL, plain), b = run_siglog(NULL, sorted);
    cr_assert_eq(a.status, 0, "%s", a.err);
    cr_assert_eq(b.status, 0, "%s", b.err);
    size_t na, nb;
    ev *want = parse(a.out, &na), *got = parse(b.out, &nb);
    cr_assert_gt(na, 0);
    cr_assert_eq(nb, na);
    qsort(want, na, sizeof *want, ev_cmp);
    for (size_t i = 0; i < na; i++)
        cr_assert_str_eq(got[i].line, want[i].line, "event %zu of %zu", i, na);
    free(want);
    free(got);
    run_free(&a);
    run_free(&b);
}

Test(event_time_cli, the_whole_stream_in_exact_order)
{
    check_against_sorted((const char *const[]){ NULL });
}

Test(event_time_cli, with_filters)
{
    check_against_sorted((const char *const[]){ "--key", "u7", NULL });
    check_against_sorted((const char *const[]){ "--from-time", "1700000001000", "--to-time", "1700000004000",
                                                "--time-unit", "ms", "--partition", "2", "--partition", "0", NULL });
    check_against_sorted((const char *const[]){ "--from-offset", "100", "--to-offset", "2000", NULL });
}

Test(event_time_cli, limit_stops_after_the_first_n_in_order)
{
    run_result all = RUN(NULL, "replay", store, "ev", "--order", "event-time", "--format", "value");
    run_result ten = RUN(NULL, "replay", store, "ev", "--order", "event-time", "--format", "value", "--limit", "10");
    cr_assert_eq(all.status, 0);
    cr_assert_eq(ten.status, 0);
    cr_assert_eq(strncmp(all.out, ten.out, ten.out_len), 0);
    size_t lines = 0;
    for (size_t i = 0; i < ten.out_len; i++)
        lines += ten.out[i] == '\n';
    cr_assert_eq(lines, 10);
    run_free(&all);
    run_free(&ten);
}

/* How many of pid's open files are in the spill directory. */
static int spill_fds(pid_t pid)
{
    char fddir[64], link[64 + 256], target[PATH_MAX];
    snprintf(fddir, sizeof fddir, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(fddir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        snprintf(link, sizeof link, "%s/%s", fddir, e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len > 0) {
            target[len] = '\0';
            n += strncmp(target, spill, strlen(spill)) == 0;
        }
    }
    closedir(d);
    return n;
}

/* Start a sorted replay whose output nobody reads (it blocks writing, its
 * runs open), see its spill files, kill it with sig: nothing is left. */
static void killed_replay_leaves_nothing(int sig, const char *memory)
{
    char *err = test_path(dir, "err.txt");
    int out;
    pid_t pid = run_start(NULL, err,  &out,
                          (const char *const[]){ "replay", store, "ev", "--order", "event-time", "--memory", memory,
                                                 "--spill-dir", spill, NULL });
    int seen = 0;
    for (int i = 0; i < 6000 && seen < 2; i++) {
        seen = spill_fds(pid);
        if (seen < 2)
            nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
    }
    cr_assert_geq(seen, 2, "the replay never had its runs open");
    cr_assert_eq(test_count_entries(spill), 0, "a spill file has a name");
    kill(pid, sig);
    close(out);
    run_wait(pid);
    cr_assert_eq(test_count_entries(spill), 0);
    free(err);
}

Test(event_time_cli, sigkill_leaves_no_spill_file)
{
    killed_replay_leaves_nothing(SIGKILL, "1MiB");
}

Test(event_time_cli, sigterm_leaves_no_spill_file)
{
    killed_replay_leaves_nothing(SIGTERM, "1MiB");
}

Test(event_time_cli, usage_errors)
{
    const char *const bad[][4] = {
        { "--order", "event-time", "--follow", NULL },
        { "--order", "event-time", "--memory", "1000" },
        { "--spill-dir", "/tmp", NULL, NULL },
        { "--order", "time", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *args[8] = { "replay", store, "ev" };
        size_t n = 3;
        for (size_t j = 0; j < 4 && bad[i][j]; j++)
            args[n++] = bad[i][j];
        args[n] = NULL;
        run_result r = run_siglog(NULL, args);
        cr_assert_eq(r.status, 2, "case %zu: %d %s", i, r.status, r.err);
        run_free(&r);
    }
}

/* ---- 5M events in 16 MiB (slow) ---- */

#define BIG_EVENTS 5000000

static void big_setup(void)
{
    if (getenv("SIGLOG_SLOW"))
        make_store("event_time_big", BIG_EVENTS, 10000000, 8);
}

static void big_teardown(void)
{
    if (getenv("SIGLOG_SLOW"))
        teardown();
}

TestSuite(event_time_big, .init = big_setup, .fini = big_teardown, .timeout = 3000);

Test(event_time_big, five_million_events_in_16MiB_spill_and_leave_nothing)
{
    if (!getenv("SIGLOG_SLOW"))
        cr_skip_test("5M events: meson test --setup slow event_time_big");
    char *err = test_path(dir, "err.txt");
    int out;
    pid_t pid = run_start(NULL, err, &out,
                          (const char *const[]){ "replay", store, "ev", "--order", "event-time", "--memory", "16MiB",
                                                 "--spill-dir", spill, NULL });
    FILE *f = fdopen(out, "r");
    char *line = NULL;
    size_t cap = 0, n = 0;
    long long prev_ts = LLONG_MIN;
    unsigned prev_part = 0;
    unsigned long long prev_off = 0;
    int runs_seen = 0;
    while (getline(&line, &cap, f) > 0) {
        if (n == 0) {
            /* The first event comes once every run is written: they are
             * open, and have no name in the directory. */
            runs_seen = spill_fds(pid);
            cr_assert_eq(test_count_entries(spill), 0, "a spill file has a name");
        }
        unsigned part;
        unsigned long long off;
        long long ts;
        cr_assert_eq(sscanf(line, "{\"stream\":\"ev\",\"partition\":%u,\"offset\":%llu,\"ts\":%lld", &part,
                            &off, &ts), 3, "line %zu: %s", n, line);
        cr_assert(ts > prev_ts || (ts == prev_ts && (part > prev_part || (part == prev_part && off > prev_off))),
                  "line %zu (ts %lld, partition %u, offset %llu) is out of order", n, ts, part, off);
        prev_ts = ts, prev_part = part, prev_off = off;
        n++;
    }
    free(line);
    fclose(f);
    cr_assert_eq(run_wait(pid), 0);
    cr_assert_eq(n, BIG_EVENTS, "%zu events of %d", n, BIG_EVENTS);
    cr_assert_geq(runs_seen, 2, "5M events in 16 MiB must spill: %d runs open", runs_seen);
    cr_assert_eq(test_count_entries(spill), 0);
    free(err);
    killed_replay_leaves_nothing(SIGTERM, "16MiB");
    killed_replay_leaves_nothing(SIGKILL, "16MiB");
}
