/*
 * bench_jsonparse — how fast jansson alone parses JSON Lines: the ceiling
 * for `siglog append`, which parses every line before storing it.
 *
 *   --file=PATH   JSON Lines to parse (each line with json_loadb and the
 *                 flags the CLI uses, then freed)
 *
 * Prints mb_per_s of input (newlines included) and lines_per_s.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

int main(int argc, char **argv)
{
    const char *path = bench_opt(argc, argv, "file", NULL);
    if (!path)
        bench_die("--file=PATH is required");
    size_t len;
    char *buf = bench_read_file(path, &len);
    uint64_t lines = 0;
    bench_span span;
    bench_span_start(&span);
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (end > pos) {
            json_error_t err;
            json_t *j = json_loadb(buf + pos, end - pos, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
            if (!j)
                bench_die("line %llu: %s", (unsigned long long)lines + 1, err.text);
            json_decref(j);
            lines++;
        }
        pos = end + 1;
    }
    bench_span_stop(&span);
    /* MB/s here are of the whole input (the lines are the values). */
    printf("lines=%llu", (unsigned long long)lines);
    bench_print_rates("", &span, lines, len);
    printf("\n");
    free(buf);
    return 0;
}
