/*
 * merge — siglog_merge against a model: at every step the merge hands out
 * the head with the smallest (timestamp, stream name, partition, offset,
 * cursor index) among the cursors' next records, whatever order the
 * cursors are given in and whether or not their times are sorted. Times
 * are drawn from a handful of values, so nearly every choice is a tie
 * decided by the stream name, the partition, the offset or, for two
 * cursors on one partition, the cursor index. Also: a merge of following
 * cursors that caught up hands out the events appended after it.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define EVENTS 300 /* per partition and round */
#define INPUTS 7

static char *dir;
static siglog *store;

static void setup(void)
{
    store = test_store_in_tmpdir("merge", &dir);
}

static void teardown(void)
{
    test_store_close_rmtree(store, dir);
}

TestSuite(merge, .init = setup, .fini = teardown, .timeout = 120);

/* One cursor of the merge and the records the model expects of it. */
typedef struct input {
    const char *stream;
    uint32_t partition;
    int64_t ts[2 * EVENTS];
    uint64_t offset[2 * EVENTS];
    size_t n, next;
} input;

/* Append EVENTS events to one partition, their times drawn from four
 * values (so in no order), and give each input on that partition their
 * times and offsets. */
static void append_ties(siglog_stream *st, uint32_t p, uint64_t *seed, input *in, size_t nin)
{
    static test_event t[EVENTS];
    static siglog_event ev[EVENTS];
    uint64_t offsets[EVENTS];
    for (size_t i = 0; i < EVENTS; i++) {
        test_event_make(&t[i], *seed, i);
        t[i].ev.timestamp_us = 1000 * (1 + (int64_t)(test_rand(seed) % 4)); /* 0 is "append time" */
        ev[i] = t[i].ev;
    }
    cr_assert_eq(siglog_append(st, p, ev, EVENTS, NULL, offsets), 0, "%s", siglog_errdetail());
    for (size_t k = 0; k < nin; k++) {
        if (strcmp(in[k].stream, siglog_stream_name(st)) != 0 || in[k].partition != p)
            continue;
        for (size_t i = 0; i < EVENTS; i++) {
            in[k].ts[in[k].n] = ev[i].timestamp_us;
            in[k].offset[in[k].n++] = offsets[i];
        }
    }
}

/* The model's choice: the input whose next record comes first, or nin
 * when every input is through. */
static size_t model_next(const input *in, size_t nin)
{
    size_t best = nin;
    for (size_t k = 0; k < nin; k++) {
        if (in[k].next == in[k].n)
            continue;
        if (best == nin) {
            best = k;
            continue;
        }
        const input *a = &in[k], *b = &in[best];
        int64_t ta = a->ts[a->next], tb = b->ts[b->next];
        int by_name = strcmp(a->stream, b->stream);
        uint64_t oa = a->offset[a->next], ob = b->offset[b->next];
        if (ta != tb ? ta < tb
                     : by_name ? by_name < 0 : a->partition != b->partition ? a->partition < b->partition : oa < ob)
            best = k; /* equal keys keep the lower index */
    }
    return best;
}

/* Merge until the merge says nothing more for now; every record must be
 * the model's next. Returns how many were handed out. */
static size_t merge_against_model(siglog_merge *m, input *in, size_t nin)
{
    size_t got = 0, which;
    const siglog_record *r;
    int rc;
    while ((rc = siglog_merge_next(m, &r, &which)) == 1) {
        size_t want = model_next(in, nin);
        cr_assert_neq(want, nin, "record %zu handed out after the model's last", got);
        cr_assert(which == want && r->offset == in[want].offset[in[want].next] &&
                      r->timestamp_us == in[want].ts[in[want].next],
                  "record %zu: cursor %zu (%s/%u) offset %" PRIu64 " time %" PRId64 ", expected cursor %zu (%s/%u) "
                  "offset %" PRIu64 " time %" PRId64,
                  got, which, in[which].stream, r->partition, r->offset, r->timestamp_us, want, in[want].stream,
                  in[want].partition, in[want].offset[in[want].next], in[want].ts[in[want].next]);
        cr_assert_eq(r->partition, in[which].partition);
        in[want].next++;
        got++;
    }
    cr_assert_eq(rc, 0, "%s: %s", siglog_errname(rc), siglog_errdetail());
    cr_assert_eq(model_next(in, nin), nin, "the merge stopped after %zu records, before the model", got);
    return got;
}

/* The cursors, given in an order that is not the streams' names' order;
 * the last one reads alpha/0 a second time. */
static input *inputs(void)
{
    static input in[INPUTS];
    static const struct {
        const char *stream;
        uint32_t partition;
    } order[INPUTS] = { { "zeta", 1 }, { "alpha", 0 }, { "mid", 0 }, { "zeta", 0 },
                        { "alpha", 1 }, { "mid", 1 }, { "alpha", 0 } };
    for (size_t k = 0; k < INPUTS; k++)
        in[k] = (input){ .stream = order[k].stream, .partition = order[k].partition };
    return in;
}

static void open_all(siglog_stream **st, input *in, unsigned flags, siglog_cursor **cur)
{
    for (size_t k = 0; k < INPUTS; k++) {
        siglog_stream *s = NULL;
        for (size_t j = 0; j < 3; j++)
            if (strcmp(siglog_stream_name(st[j]), in[k].stream) == 0)
                s = st[j];
        cr_assert_eq(siglog_cursor_open(&cur[k], s, in[k].partition, SIGLOG_SEEK_START, 0, flags), 0);
    }
}

static void append_round(siglog_stream **st, uint64_t *seed, input *in)
{
    for (size_t j = 0; j < 3; j++)
        for (uint32_t p = 0; p < 2; p++)
            append_ties(st[j], p, seed, in, INPUTS);
    cr_assert_eq(siglog_sync(store), 0);
}

/* Create the three streams in the order given, append a round, merge it
 * against the model through cursors opened with `flags`, then append and
 * merge `rounds - 1` more rounds on the same merge. */
static void merge_rounds(const char *const names[3], uint64_t seed, unsigned flags, int rounds)
{
    siglog_stream *st[3];
    for (size_t j = 0; j < 3; j++)
        st[j] = test_stream_create(store, names[j], 2, SIGLOG_SYNC_NONE, 0);
    input *in = inputs();
    append_round(st, &seed, in);
    siglog_cursor *cur[INPUTS];
    open_all(st, in, flags, cur);
    siglog_merge *m;
    cr_assert_eq(siglog_merge_open(&m, cur, INPUTS), 0);
    for (int round = 0; round < rounds; round++) {
        if (round > 0)
            append_round(st, &seed, in);
        cr_assert_eq(merge_against_model(m, in, INPUTS), (size_t)(INPUTS * EVENTS), "round %d", round);
    }
    const siglog_record *r;
    cr_assert_eq(siglog_merge_next(m, &r, NULL), 0, "a merge at its end stays there");
    siglog_merge_close(m);
    for (size_t k = 0; k < INPUTS; k++)
        siglog_cursor_close(cur[k]);
}

Test(merge, time_ties_go_by_stream_name_partition_offset_then_cursor)
{
    merge_rounds((const char *const[]){ "mid", "zeta", "alpha" }, 11, 0, 1);
}

Test(merge, caught_up_following_cursors_hand_out_new_events)
{
    merge_rounds((const char *const[]){ "alpha", "mid", "zeta" }, 29, SIGLOG_CURSOR_FOLLOW, 2);
}
