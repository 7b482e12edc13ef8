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

struct out_state out_state;

#define out_buf out_state.buf
#define out_len out_state.len
#define out_errno out_state.err

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

int out_write_slow(const void *p, size_t n)
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

static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                            "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                            "8081828384858687888990919293949596979899";

/* v < 100 000 000 as exactly eight digits ending at end; returns where
 * they start. On a little-endian machine the eight are made in one word,
 * a lane per digit: the two halves of four digits in 32-bit lanes, each
 * split by 100 into 16-bit lanes, each of those by 10 into bytes; the
 * divisions are multiplications whose products stay within their lanes
 * (9999 * 10486 < 2^32, 99 * 103 < 2^16), exact for those ranges. */
static char *eight_digits(uint32_t v, char *end)
{
    end -= 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t x = v / 10000 | (uint64_t)(v % 10000) << 32;
    uint64_t hundreds = (x * 10486 >> 20) & UINT64_C(0x0000007f0000007f);
    x = (x - hundreds * 100) << 16 | hundreds;
    uint64_t tens = (x * 103 >> 10) & UINT64_C(0x000f000f000f000f);
    x = (x - tens * 10) << 8 | tens;
    x |= UINT64_C(0x3030303030303030);
    memcpy(end, &x, 8);
#else
    for (int i = 3; i >= 0; i--) {
        memcpy(end + 2 * i, pairs + 2 * (v % 100), 2);
        v /= 100;
    }
#endif
    return end;
}

char *out_reserve_slow(size_t n)
{
    if (out_errno || n > OUT_BUF_BYTES || (out_len + n > OUT_BUF_BYTES && out_flush() != 0))
        return NULL;
    return out_buf + out_len;
}

/* v in decimal, written backwards from end; returns where it starts.
 * Two digits a step from a table: jsonl replay writes three or four
 * numbers per event, and snprintf's format parsing was a tenth of its CPU
 * time, a digit a step another twentieth. Eight digits at a time in 32
 * bits below the top ones: the microsecond time has sixteen, and 64-bit
 * steps of two were most of its cost (callgrind). */
static char *decimal(uint64_t v, char *end)
{
    while (v >= 100000000) {
        end = eight_digits((uint32_t)(v % 100000000), end);
        v /= 100000000;
    }
    uint32_t w = (uint32_t)v;
    if (w >= 10000000)
        return eight_digits(w, end);
    while (w >= 100) {
        end -= 2;
        memcpy(end, pairs + 2 * (w % 100), 2);
        w /= 100;
    }
    if (w >= 10) {
        end -= 2;
        memcpy(end, pairs + 2 * w, 2);
    } else {
        *--end = (char)('0' + w);
    }
    return end;
}

/* How many decimal digits v has: its bit length times log10(2) (about
 * 1233 / 4096), corrected by one compare. */
static unsigned decimal_digits(uint64_t v)
{
    static const uint64_t pow10[20] = {
        UINT64_C(1), UINT64_C(10), UINT64_C(100), UINT64_C(1000), UINT64_C(10000), UINT64_C(100000),
        UINT64_C(1000000), UINT64_C(10000000), UINT64_C(100000000), UINT64_C(1000000000),
        UINT64_C(10000000000), UINT64_C(100000000000), UINT64_C(1000000000000), UINT64_C(10000000000000),
        UINT64_C(100000000000000), UINT64_C(1000000000000000), UINT64_C(10000000000000000),
        UINT64_C(100000000000000000), UINT64_C(1000000000000000000), UINT64_C(10000000000000000000),
    };
    uint64_t w = v | 1; /* as many digits as v, and 0 has one */
    unsigned t = ((unsigned)(64 - __builtin_clzll(w)) * 1233) >> 12; /* floor(log10(w)) or one more */
    return t + 1 - (w < pow10[t]);
}

char *out_put_u64(char *dst, uint64_t v)
{
    if (v < 10) { /* a partition, a schema version */
        *dst = (char)('0' + v);
        return dst + 1;
    }
    /* Written in place from its last digit: a copy from a scratch buffer
     * of the digits' own length was a call per number. */
    char *end = dst + decimal_digits(v);
    decimal(v, end);
    return end;
}

char *out_put_8digits(char *dst, uint32_t v)
{
    return eight_digits(v, dst + 8) + 8;
}

char *out_put_i64(char *dst, int64_t v)
{
    if (v < 0)
        *dst++ = '-';
    /* The magnitude as unsigned: -INT64_MIN does not fit int64_t. */
    return out_put_u64(dst, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

int out_u64(uint64_t v)
{
    char b[OUT_DECIMAL_MAX];
    return out_write(b, (size_t)(out_put_u64(b, v) - b));
}

int out_i64(int64_t v)
{
    char b[OUT_DECIMAL_MAX + 1];
    return out_write(b, (size_t)(out_put_i64(b, v) - b));
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
