/*
 * run — drive the real siglog binary from the CLI tests: run it to
 * completion with standard input from a file and both outputs captured, or
 * start it with standard output on a pipe for tests that interact with a
 * running command (--follow, a reader that goes away).
 *
 * The binary's path comes from $SIGLOG_BIN, set by meson.
 */
#ifndef SIGLOG_TEST_CLI_RUN_H
#define SIGLOG_TEST_CLI_RUN_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct run_result {
    int status; /* exit status, or 128 + signal number */
    char *out;  /* NUL-terminated; out_len excludes the NUL */
    size_t out_len;
    char *err;
    size_t err_len;
} run_result;

/* Run `siglog args...` (args NULL-terminated) with stdin from stdin_path
 * (NULL: /dev/null) and wait for it. */
run_result run_siglog(const char *stdin_path, const char *const *args);
#define RUN(stdin_path, ...) run_siglog((stdin_path), (const char *const[]){ __VA_ARGS__, NULL })
/* The same with stdout going to stdout_path (out stays empty). */
run_result run_siglog_to(const char *stdin_path, const char *stdout_path, const char *const *args);
void run_free(run_result *r);
/* Run `siglog args...` (stdin /dev/null), cr_asserting exit 0 with its
 * standard error as the message; for the steps whose output is not
 * looked at (a store's set-up). */
void run_ok(const char *const *args);
#define RUN_OK(...) run_ok((const char *const[]){ __VA_ARGS__, NULL })
/* Run `siglog args...` (stdin /dev/null), cr_asserting exit 0 and that it
 * printed one JSON document, which it returns (json_decref it). */
json_t *run_json(const char *const *args);
#define RUN_JSON(...) run_json((const char *const[]){ __VA_ARGS__, NULL })
/* The integer member `name` of doc, cr_asserting it is one. */
json_int_t run_json_int(json_t *doc, const char *name);

/* Start `siglog args...` with stdout on a pipe (*stdout_fd, the read end)
 * and stderr into err_path. */
pid_t run_start(const char *stdin_path, const char *err_path, int *stdout_fd, const char *const *args);
/* Wait for pid; exit status as in run_result. */
int run_wait(pid_t pid);

/* Read from fd until `lines` newlines have arrived (or EOF); gives up after
 * a generous deadline so a broken build fails instead of hanging. Returns
 * the text (malloc'd, NUL-terminated) and sets *got to the lines seen. */
char *run_read_lines(int fd, size_t lines, size_t *got);

/* Whole file into memory (NUL-terminated). */
char *run_slurp(const char *path, size_t *len);
/* Write len bytes to path (created or truncated). */
void run_write_file(const char *path, const void *data, size_t len);

#endif
