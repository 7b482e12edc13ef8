/*
 * diag — the tool's diagnostics: every failure becomes exactly one line on
 * stderr, "siglog <command>: <what/where>: <why>", so a script or an
 * operator reading a cron mail sees the cause without a second look.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>

/* Exactly one line, whatever a diagnostic quotes: a control byte in a
 * name, a path or an event (a newline in a stream name, say) is written
 * escaped, as \n, \t or \xNN. */
static void put_escaped(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n')
            fputs("\\n", stderr);
        else if (c == '\t')
            fputs("\\t", stderr);
        else if (c < 0x20 || c == 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
}

static void diag_vline(const char *cmd, const char *prefix, const char *fmt, va_list ap)
{
    char msg[8192]; /* longer messages are cut: two paths fit */
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (cmd)
        fprintf(stderr, "siglog %s: %s", cmd, prefix);
    else
        fprintf(stderr, "siglog: %s", prefix);
    put_escaped(msg);
}

void cli_vdiag(const char *cmd, const char *fmt, va_list ap)
{
    diag_vline(cmd, "", fmt, ap);
}

/* A whole diagnostic line. */
static void diag_line(const char *cmd, const char *prefix, const char *fmt, va_list ap)
{
    diag_vline(cmd, prefix, fmt, ap);
    fputc('\n', stderr);
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_line(cmd, "", fmt, ap);
    va_end(ap);
    return CLI_FAILURE;
}

int cli_fail_lib(const char *cmd, int code, const char *fmt, ...)
{
    /* Read the detail before any other call can replace it. */
    const char *detail = siglog_errdetail();
    va_list ap;
    va_start(ap, fmt);
    diag_vline(cmd, "", fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s", siglog_strerror(code));
    if (detail[0]) {
        fputs(" (", stderr);
        put_escaped(detail);
        fputc(')', stderr);
    }
    fputc('\n', stderr);
    return CLI_FAILURE;
}

void cli_warn(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_line(cmd, "warning: ", fmt, ap);
    va_end(ap);
}

void cli_note(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr); /* whole lines from several threads */
    diag_line(cmd, "", fmt, ap);
    funlockfile(stderr);
    va_end(ap);
}

int cli_open(const char *cmd, const char *path, unsigned flags, const char *stream_name,
             siglog **s_out, siglog_stream **st_out)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = flags & CLI_OPEN_CONSUMER ? SIGLOG_READ_ONLY_CONSUMER : (flags & CLI_OPEN_READ_ONLY) != 0;
    o.force_owner = (flags & CLI_OPEN_FORCE_OWNER) != 0;
    siglog *s = NULL;
    int rc = siglog_open(&s, path, &o);
    if (rc != 0)
        return cli_fail_lib(cmd, rc, "cannot open store %s", path);
    if (stream_name) {
        rc = siglog_stream_get(s, stream_name, st_out);
        if (rc != 0) {
            cli_fail_lib(cmd, rc, "cannot use stream %s of store %s", stream_name, path);
            siglog_close(s);
            return CLI_FAILURE;
        }
    }
    *s_out = s;
    return CLI_OK;
}
