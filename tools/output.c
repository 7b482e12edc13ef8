/*
 * output — error-checked, buffered standard output; see output.h for the
 * EPIPE/exit-status policy.
 */
#include "output.h"

#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_BUF_BYTES (64 * 1024)

static char out_buf[OUT_BUF_BYTES];
static size_t out_len;
static int out_errno; /* first write error, 0 while all is well */

static int out_send(const char *p, size_t n)
{
    while (n > 0 && !out_errno) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            out_errno = errno;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    return out_errno ? -1 : 0;
}

int out_flush(void)
{
    int rc = out_send(out_buf, out_len);
    out_len = 0;
    return rc;
}

int out_write(const void *p, size_t n)
{
    if (out_errno)
        return -1;
    if (out_len + n > OUT_BUF_BYTES) {
        if (out_flush() != 0)
            return -1;
        if (n > OUT_BUF_BYTES)
            return out_send(p, n);
    }
    memcpy(out_buf + out_len, p, n);
    out_len += n;
    return 0;
}

/* v in decimal, written backwards from end; returns where it starts.
 * jsonl replay writes three or four numbers per event: snprintf's
 * format parsing was a tenth of its CPU time. */
static char *decimal(uint64_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

int out_u64(uint64_t v)
{
    char b[24];
    char *p = decimal(v, b + sizeof b);
    return out_write(p, (size_t)(b + sizeof b - p));
}

int out_i64(int64_t v)
{
    char b[24];
    /* The magnitude as unsigned: -INT64_MIN does not fit int64_t. */
    char *p = decimal(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, b + sizeof b);
    if (v < 0)
        *--p = '-';
    return out_write(p, (size_t)(b + sizeof b - p));
}

int out_failed(void)
{
    return out_errno != 0;
}

int out_finish(const char *cmd)
{
    out_flush();
    if (out_errno == 0 || out_errno == EPIPE)
        return CLI_OK;
    return cli_fail(cmd, "writing standard output: %s", strerror(out_errno));
}

size_t out_escape_byte(unsigned char c, const char *long_prefix, char *esc)
{
    static const char hex[] = "0123456789abcdef";
    esc[0] = '\\';
    switch (c) {
    case '"': esc[1] = '"'; return 2;
    case '\\': esc[1] = '\\'; return 2;
    case '\n': esc[1] = 'n'; return 2;
    case '\r': esc[1] = 'r'; return 2;
    case '\t': esc[1] = 't'; return 2;
    default: {
        size_t len = strlen(long_prefix);
        memcpy(esc + 1, long_prefix, len);
        esc[1 + len] = hex[c >> 4];
        esc[2 + len] = hex[c & 15];
        return 3 + len;
    }
    }
}

int out_json_string(const void *s, size_t n)
{
    const unsigned char *p = s, *end = p + n, *run = p;
    out_write("\"", 1);
    for (; p < end; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out_write(run, (size_t)(p - run));
        run = p + 1;
        char esc[6];
        out_write(esc, out_escape_byte(c, "u00", esc));
    }
    out_write(run, (size_t)(p - run));
    return out_write("\"", 1);
}

int out_json_base64(const void *data, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char quad[4];
    out_write("\"", 1);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        quad[0] = alphabet[v >> 18];
        quad[1] = alphabet[(v >> 12) & 63];
        quad[2] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        quad[3] = i + 2 < n ? alphabet[v & 63] : '=';
        out_write(quad, 4);
    }
    return out_write("\"", 1);
}


int out_json_doc(json_t *doc)
{
    if (!doc) {
        errno = ENOMEM;
        return -1;
    }
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (!text) {
        errno = ENOMEM;
        return -1;
    }
    int rc = out_puts(text);
    free(text);
    return rc == 0 ? out_write("\n", 1) : rc;
}
