/*
 * bench_contract — what a schema contract costs an append: the lines of
 * a JSON Lines file appended through the library (1000 a call, sync
 * none), with the stream's contract off or enforce. Under enforce every
 * event is checked against version 1, a definition every line of the
 * corpus conforms to ({"type": "object"}), so the figure is the cost of
 * the check itself (the one-pass scan of schema_scan.h reading the whole
 * value, UTF-8 included), not of refusals.
 *
 *   --file=PATH          JSON Lines (each line one event value)
 *   --contract=off|enforce
 *   --dir=DIR            scratch store (removed before and after)
 *
 * Prints mb_per_s of values appended and events_per_s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define PER_CALL 1000

int main(int argc, char **argv)
{
    const char *path = bench_opt(argc, argv, "file", NULL);
    const char *mode = bench_opt(argc, argv, "contract", "off");
    const char *dir = bench_opt(argc, argv, "dir", "bench-contract");
    if (!path)
        bench_die("--file=PATH is required");
    int enforce = strcmp(mode, "enforce") == 0;
    if (!enforce && strcmp(mode, "off") != 0)
        bench_die("--contract takes off or enforce");
    size_t len;
    char *buf = bench_read_file(path, &len);
    size_t cap = 1024, n = 0;
    siglog_event *evs = malloc(cap * sizeof *evs);
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (end > pos) {
            if (n == cap)
                evs = realloc(evs, (cap *= 2) * sizeof *evs);
            if (!evs)
                bench_die("out of memory");
            evs[n++] = (siglog_event){ .value = buf + pos, .value_len = end - pos, .schema_version = 1 };
        }
        pos = end + 1;
    }

    bench_rm_rf(dir);
    siglog *s = bench_store_create(dir, "s0", 1, 1, SIGLOG_SYNC_NONE, 0);
    siglog_stream *st;
    bench_check(siglog_stream_get(s, "s0", &st), "stream get");
    const char *def = "{\"type\":\"object\"}";
    bench_check(siglog_schema_add(st, 1, "any object", def, strlen(def), SIGLOG_COMPAT_NONE, NULL, NULL),
                "schema add");
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    c.contract = enforce ? SIGLOG_CONTRACT_ENFORCE : SIGLOG_CONTRACT_OFF;
    bench_check(siglog_stream_config_set(s, "s0", &c), "stream config set");

    uint64_t bytes = 0;
    bench_span span;
    bench_span_start(&span);
    for (size_t i = 0; i < n; i += PER_CALL) {
        size_t k = n - i < PER_CALL ? n - i : PER_CALL;
        bench_check(siglog_append(st, 0, evs + i, k, NULL, NULL), "append");
    }
    bench_check(siglog_flush(s), "flush");
    bench_span_stop(&span);
    for (size_t i = 0; i < n; i++)
        bytes += evs[i].value_len;
    bench_print_rates("", &span, n, bytes);
    bench_check(siglog_close(s), "close");
    bench_rm_rf(dir);
    free(evs);
    free(buf);
    return 0;
}
