/*
 * cli — what the subcommands of the siglog tool share: the command table
 * entry, the cmd_<verb> entry points, and the one-line diagnostics.
 *
 * Exit status convention of every command: 0 success, 1 failure (one line
 * on stderr saying what failed, where and why), 2 usage error.
 */
#ifndef SIGLOG_CLI_H
#define SIGLOG_CLI_H

#include "siglog.h"

#include <stdarg.h>

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

enum { CLI_OK = 0, CLI_FAILURE = 1, CLI_USAGE = 2 };

/* One subcommand. fn gets argv[0] == name. */
typedef struct cli_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} cli_command;

int cmd_init(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_append(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_consumer(int argc, char **argv);
int cmd_segments(int argc, char **argv);
int cmd_ship(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_manifest(int argc, char **argv);
int cmd_archive(int argc, char **argv);
int cmd_retain(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_forget(int argc, char **argv);

/* "siglog <cmd>: <message>" on stderr without the newline, for callers
 * that add to the line. Every diagnostic goes through it: control bytes
 * in the message are escaped (\n, \t, \xNN), so it stays one line. */
void cli_vdiag(const char *cmd, const char *fmt, va_list ap);
/* "siglog <cmd>: <message>" on stderr ("siglog: <message>" when cmd is
 * NULL); returns CLI_FAILURE. */
int cli_fail(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);
/* "siglog <cmd>: <message>: <siglog_strerror(code)> (<siglog_errdetail()>)"
 * on stderr; the detail is left out when the library gave none. Returns
 * CLI_FAILURE. Call it right after the failing siglog call: the detail is
 * per thread and overwritten by the next call. */
int cli_fail_lib(const char *cmd, int code, const char *fmt, ...) CLI_PRINTF(3, 4);
/* "siglog <cmd>: warning: <message>" on stderr. */
void cli_warn(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* "siglog <cmd>: <message>" on stderr: news that is not a failure (a
 * connection lost or back). Safe from any thread: the line is whole. */
void cli_note(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* cli_open flags. */
#define CLI_OPEN_READ_ONLY 1u
#define CLI_OPEN_FORCE_OWNER 2u /* siglog_options.force_owner (--force-owner) */
#define CLI_OPEN_CONSUMER 4u    /* a reader that may commit consumer offsets */

/* Open the store at path (flags above, never creating it) and, when
 * stream is non-NULL, look the stream up. On failure prints the reason,
 * closes what it opened and returns CLI_FAILURE. */
int cli_open(const char *cmd, const char *path, unsigned flags, const char *stream_name,
             siglog **s_out, siglog_stream **st_out);

#endif
