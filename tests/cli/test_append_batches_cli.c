/*
 * `siglog append`'s batches: from a file, one thread parses a batch while
 * another appends the one before; from a pipe, the reading thread appends
 * each batch itself. Both must store the same events, whatever the batch
 * boundaries (1000 lines, or 4 MiB of lines, whichever comes first), and a
 * bad line must still keep everything before it and nothing after.
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir, *store;

static void setup(void)
{
    dir = test_tmpdir("append_batches");
    store = test_path(dir, "store");
    run_result r = RUN(NULL, "init", store);
    cr_assert_eq(r.status, 0, "init: %s", r.err);
    run_free(&r);
    r = RUN(NULL, "stream", "create", store, "s", "--partitions", "3");
    cr_assert_eq(r.status, 0, "stream create: %s", r.err);
    run_free(&r);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(store);
    free(dir);
}

TestSuite(append_batches, .init = setup, .fini = teardown, .timeout = 240);

/* n lines {"k":"k<i%7>","i":<i>,"pad":"..."} of about width bytes each,
 * the line numbered bad (1-based; 0: none) cut short; written to a file
 * in the test directory. Returns its path; *text the lines. */
static char *long_lines(size_t n, size_t width, size_t bad, char **text, size_t *len)
{
    size_t cap = n * (width + 64) + 1, at = 0;
    char *buf = malloc(cap);
    char *pad = malloc(width + 1);
    cr_assert(buf && pad);
    for (size_t i = 0; i < width; i++)
        pad[i] = (char)('a' + i % 26);
    pad[width] = '\0';
    for (size_t i = 1; i <= n; i++) {
        int w = i == bad ? snprintf(buf + at, cap - at, "{\"k\":\"k%zu\",\"i\":%zu,\"pad\":\"%s\n", i % 7, i, pad)
                         : snprintf(buf + at, cap - at, "{\"k\":\"k%zu\",\"i\":%zu,\"pad\":\"%s\"}\n", i % 7, i, pad);
        cr_assert(w > 0 && (size_t)w < cap - at);
        at += (size_t)w;
    }
    free(pad);
    char *path = test_path(dir, "in.jsonl");
    run_write_file(path, buf, at);
    *text = buf;
    *len = at;
    return path;
}

/* The stream's values in input order (a single key order per partition
 * would not give it: the events carry their line number, 1 to n). */
static char *replayed_values(size_t *len)
{
    run_result r = RUN(NULL, "replay", store, "s", "--format", "value");
    cr_assert_eq(r.status, 0, "replay: %s", r.err);
    size_t n = 0;
    for (size_t i = 0; i < r.out_len; i++)
        n += r.out[i] == '\n';
    /* Each line's start and length, at the index of its number. Only
     * bounded searches: the output is one string of many megabytes. */
    const char **line = calloc(n + 1, sizeof *line);
    size_t *line_len = calloc(n + 1, sizeof *line_len);
    cr_assert(line && line_len);
    for (size_t at = 0; at < r.out_len;) {
        const char *start = r.out + at;
        const char *nl = memchr(start, '\n', r.out_len - at);
        cr_assert_not_null(nl);
        const char *field = memmem(start, (size_t)(nl - start), "\"i\":", 4);
        cr_assert_not_null(field, "a replayed line without its number");
        size_t num = strtoull(field + 4, NULL, 10);
        cr_assert(num >= 1 && num <= n && !line[num], "event %zu out of place or replayed twice", num);
        line[num] = start;
        line_len[num] = (size_t)(nl - start) + 1;
        at += line_len[num];
    }
    char *sorted = malloc(r.out_len + 1);
    size_t out = 0;
    for (size_t i = 1; i <= n; i++) {
        memcpy(sorted + out, line[i], line_len[i]);
        out += line_len[i];
    }
    sorted[out] = '\0';
    *len = out;
    free(line);
    free(line_len);
    run_free(&r);
    return sorted;
}

/* Run `siglog append STORE s` with its standard input a pipe fed text by
 * a child process; whole: the command must have read all of it (one that
 * stops at a bad line closes the pipe on the feeder). */
static run_result append_through_pipe(const char *text, size_t len, int whole)
{
    char *fifo = test_path(dir, "in.fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    pid_t feeder = fork();
    cr_assert(feeder >= 0);
    if (feeder == 0) {
        signal(SIGPIPE, SIG_IGN);
        FILE *f = fopen(fifo, "w");
        size_t put = f ? fwrite(text, 1, len, f) : 0;
        _exit(f && put == len && fclose(f) == 0 ? 0 : 1);
    }
    run_result r = RUN(fifo, "append", store, "s", "--key-field", "k");
    int st;
    cr_assert_eq(waitpid(feeder, &st, 0), feeder);
    cr_assert(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || !whole), "the feeder failed");
    free(fifo);
    return r;
}

/* 700 lines of 20 KiB: batches end at 4 MiB of lines (~200 lines), not at
 * 1000, so the input goes through the pipe in several batches. */
static void long_lines_are_stored_whole_in_order(int through_pipe)
{
    char *text;
    size_t len;
    char *in = long_lines(700, 20000, 0, &text, &len);
    run_result r = through_pipe ? append_through_pipe(text, len, 1)
                                : RUN(NULL, "append", store, "s", "--key-field", "k", in);
    cr_assert_eq(r.status, 0, "append: %s", r.err);
    cr_assert(strstr(r.err, "700 events"), "%s", r.err);
    run_free(&r);
    size_t got_len;
    char *got = replayed_values(&got_len);
    cr_assert_eq(got_len, len);
    cr_assert(memcmp(got, text, len) == 0, "the replay differs from the input");
    free(got);
    free(text);
    free(in);
}

Test(append_batches, long_lines_from_a_file_are_stored_whole_in_order)
{
    long_lines_are_stored_whole_in_order(0);
}

Test(append_batches, long_lines_through_a_pipe_are_stored_whole_in_order)
{
    long_lines_are_stored_whole_in_order(1);
}

/* A bad line in the third batch: the batches before it and its own lines
 * before it are stored, nothing after it, from a file and from a pipe. */
static void bad_line_keeps_what_came_before(int through_pipe)
{
    char *text;
    size_t len;
    char *in = long_lines(700, 20000, 450, &text, &len);
    run_result r = through_pipe ? append_through_pipe(text, len, 0)
                                : RUN(NULL, "append", store, "s", "--key-field", "k", in);
    cr_assert_eq(r.status, 1, "append of a file with a bad line: %s", r.err);
    cr_assert(strstr(r.err, "line 450"), "%s", r.err);
    cr_assert(strstr(r.err, "449 events"), "the summary says how many were appended: %s", r.err);
    run_free(&r);
    size_t got_len;
    char *got = replayed_values(&got_len);
    size_t before = 0;
    for (size_t lines = 0; lines < 449; before++)
        lines += text[before] == '\n';
    cr_assert_eq(got_len, before);
    cr_assert(memcmp(got, text, before) == 0, "the replay differs from the lines before the bad one");
    free(got);
    free(text);
    free(in);
}

Test(append_batches, a_bad_line_in_a_file_keeps_every_line_before_it)
{
    bad_line_keeps_what_came_before(0);
}

Test(append_batches, a_bad_line_through_a_pipe_keeps_every_line_before_it)
{
    bad_line_keeps_what_came_before(1);
}
