/*
 * bench_jsonparse — how fast a parser alone reads JSON Lines: the ceiling
 * for `siglog append`, which validates every line before storing it.
 *
 *   --file=PATH   JSON Lines to parse
 *   --parser=jansson (default): each line with json_loadb and the flags
 *                 the CLI's jansson path uses, then freed
 *   --parser=jsonfast: each line validated by the CLI's fast path
 *                 (tools/jsonfast.cpp, simdjson), no field taken out; a
 *                 line it declines goes to jansson, as in the CLI
 *
 * Prints mb_per_s of input (newlines included), lines_per_s and, for
 * jsonfast, how many lines it declined (each paid both parsers).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "jsonfast.h"

int main(int argc, char **argv)
{
    const char *path = bench_opt(argc, argv, "file", NULL);
    if (!path)
        bench_die("--file=PATH is required");
    int fast = strcmp(bench_opt(argc, argv, "parser", "jansson"), "jsonfast") == 0;
    jsonfast *jf = fast ? jsonfast_new() : NULL;
    if (fast && !jf)
        bench_die("out of memory");
    size_t len;
    char *buf = bench_read_file(path, &len);
    uint64_t lines = 0, declined = 0;
    bench_span span;
    bench_span_start(&span);
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (end > pos) {
            json_error_t err;
            json_t *j = NULL;
            int decided = 0;
            if (fast) {
                int r = jsonfast_parse(jf, buf + pos, end - pos, NULL, 0, &j);
                if (r < 0)
                    bench_die("out of memory");
                decided = r == 1;
                declined += !decided;
            }
            if (!decided && !(j = json_loadb(buf + pos, end - pos, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err)))
                bench_die("line %llu: %s", (unsigned long long)lines + 1, err.text);
            json_decref(j);
            lines++;
        }
        pos = end + 1;
    }
    bench_span_stop(&span);
    /* MB/s here are of the whole input (the lines are the values). */
    printf("lines=%llu declined=%llu", (unsigned long long)lines, (unsigned long long)declined);
    bench_print_rates("", &span, lines, len);
    printf("\n");
    free(buf);
    jsonfast_free(jf);
    return 0;
}
