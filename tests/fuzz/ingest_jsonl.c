/*
 * ingest_jsonl: feed arbitrary bytes to `siglog append`'s input path — the
 * line reader (tools/lines.c, over a memory file, batching as append does)
 * and the per-line parser (tools/ingest.c with --key-field user.id
 * --time-field ts --time-unit ms --header src=fuzz --header tag=@ts: the time field
 * again, so the corpus's good lines stay good; --tombstone-field del).
 * Oracles: the lines handed out are the
 * input split at '\n', nothing lost or added; the event bytes of a line
 * are the line less one trailing '\r' and, on the first line only, a UTF-8
 * byte order mark, and it is blank (skipped) exactly when those bytes are
 * JSON whitespace only, so no JSON value is ever skipped; a line is
 * accepted exactly when it is one JSON value whose user.id is a string or
 * number and whose ts is an in-range number or RFC 3339 string other than
 * the epoch; an accepted key is the field's exact string bytes, or for a
 * number the text that reads back as the same number (integers in plain
 * decimal), and the time is the field's value in microseconds; the tag
 * header is made from its field as the key is; a line is a tombstone
 * exactly when del is true, and refused when del is there but neither a
 * boolean nor null; an event is refused
 * for size exactly when value, key and headers together exceed the
 * record limit. Numbers
 * beyond jansson's range (JSON has none) are checked as far as jansson can
 * tell: see check_refused_by_jansson.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ingest.h"
#include "lines.h"
#include "timeparse.h"

/* Small limits (append's are 16 MiB for a line and the stream's record
 * limit for an event) so that the fuzzer reaches both refusals. */
#define FUZZ_LINE_MAX 512
#define FUZZ_RECORD_MAX 256

static jsonpath key_path, time_path, tag_path, del_path;
/* Bytes the constant header adds: "src" and "fuzz"; the tag header adds
 * its name's 3 and its value. */
#define SRC_BYTES 7
#define TAG_NAME_BYTES 3
static int fd = -1;

static void fail(const char *what, const char *line, size_t len)
{
    fprintf(stderr, "ingest_jsonl: %s (line '%.*s')\n", what, (int)len, line);
    abort();
}

/* The field the key path names, looked up without jsonpath. */
static json_t *user_id(json_t *root)
{
    json_t *user = json_is_object(root) ? json_object_get(root, "user") : NULL;
    return json_is_object(user) ? json_object_get(user, "id") : NULL;
}

/* What ingest must make of a key field: 1 with the expected bytes, or 0
 * when it must refuse. */
static int expected_key(json_t *v, char *buf, size_t cap, const char **key, size_t *len)
{
    if (json_is_string(v)) {
        *key = json_string_value(v);
        *len = json_string_length(v);
        return 1;
    }
    if (json_is_integer(v)) {
        *len = (size_t)snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        *key = buf;
        return 1;
    }
    return json_is_real(v) ? 2 : 0; /* 2: a real, checked by value */
}

/* The time ingest must produce in *us, or 0 when it must refuse. */
static int expected_time(json_t *v, int64_t *us)
{
    if (json_is_string(v))
        return timeparse_rfc3339(json_string_value(v), json_string_length(v), us) == 0;
    if (json_is_integer(v))
        return !__builtin_mul_overflow((int64_t)json_integer_value(v), (int64_t)1000, us);
    if (json_is_real(v)) {
        double t = json_real_value(v) * 1000.0;
        if (!(fabs(t) < 9223372036854775808.0))
            return 0;
        *us = (int64_t)llround(t);
        return 1;
    }
    return 0;
}

/* line with every number made small enough for jansson, keeping it valid
 * or invalid JSON: runs of more than 20 digits cut to 20 (the first one
 * kept, so a leading zero stays), and an exponent beyond 200 (after 'e' or
 * 'E' and an optional '+') made 200. Strings may change too, but not their
 * validity: a \u escape has at most three digits after an 'e', and
 * stays hex. Returns the length written to out (room for len bytes). */
static size_t shrink_numbers(const char *line, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t run = 0;
        while (i + run < len && line[i + run] >= '0' && line[i + run] <= '9')
            run++;
        if (run == 0) {
            out[o++] = line[i++];
            continue;
        }
        size_t sign = i >= 1 && line[i - 1] == '+';
        int exponent = i >= 1 + sign && (line[i - 1 - sign] == 'e' || line[i - 1 - sign] == 'E');
        unsigned long long v = 0;
        for (size_t j = 0; j < run && v <= 200; j++)
            v = v * 10 + (unsigned)(line[i + j] - '0');
        if (exponent && v > 200) {
            memcpy(out + o, "200", 3);
            o += 3;
        } else {
            size_t keep = run > 20 ? 20 : run;
            memcpy(out + o, line + i, keep);
            o += keep;
        }
        i += run;
    }
    return o;
}

/* A line that json_loadb refuses. Ingest refuses it just as jansson does
 * (same column, same words) unless jansson's only objection is a number
 * too large for it: then the line is valid JSON exactly when it parses with
 * its numbers made small (shrink_numbers), and ingest must accept it or
 * refuse it for a field, never as invalid JSON. */
static void check_refused_by_jansson(const char *line, size_t len, int ok, const char *why, const json_error_t *jerr)
{
    int overflow = json_error_code(jerr) == json_error_numeric_overflow;
    char want[256];
    snprintf(want, sizeof want, "invalid JSON at column %d: %s", jerr->column, jerr->text);
    if (!overflow && (ok || strcmp(why, want) != 0))
        fail(ok ? "accepted a line jansson finds invalid" : "refused in other words than jansson's", line, len);
    if (!overflow)
        return;
    char small[FUZZ_RECORD_MAX];
    size_t small_len = shrink_numbers(line, len, small);
    json_t *shrunk = json_loadb(small, small_len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
    int invalid = !ok && strncmp(why, "invalid JSON", 12) == 0;
    if (invalid && strcmp(why, want) != 0)
        fail("refused in other words than jansson's", line, len);
    if (invalid == (shrunk != NULL))
        fail(invalid ? "a valid line with large numbers was refused as invalid"
                     : "a line invalid beside its large numbers was taken as JSON",
             line, len);
    json_decref(shrunk);
}

/* A field made into text (key or header) as expected_key said: kind 1
 * the exact bytes, kind 2 (a real) text that reads back as the number. */
static void check_field_text(int kind, const char *got, size_t got_len, const char *want, size_t want_len, json_t *v,
                             const char *line, size_t len)
{
    if (kind == 1 && (got_len != want_len || memcmp(got, want, want_len) != 0))
        fail("a key or header differs from its field's text", line, len);
    if (kind == 2) {
        char text[JSONPATH_KEY_MAX + 1];
        if (got_len == 0 || got_len > JSONPATH_KEY_MAX)
            fail("real key or header of impossible length", line, len);
        memcpy(text, got, got_len);
        text[got_len] = '\0';
        char *end;
        double d = strtod(text, &end);
        if (*end || d != json_real_value(v))
            fail("a real key or header does not read back as its number", line, len);
    }
}

/* A line whose fields are all good was refused: only for its size, which
 * must exceed the limit and, where the field texts are known, be their sum. */
static void check_refused_for_size(const char *why, size_t known, int exact, const char *line, size_t len)
{
    size_t n;
    if (sscanf(why, "event of %zu bytes", &n) != 1)
        fail(why, line, len);
    if (n <= FUZZ_RECORD_MAX || (exact ? n != known : n < known))
        fail("refused for a size it does not have", line, len);
}

static void check_line(const char *line, size_t len)
{
    static const ingest_header headers[] = {
        { .name = "src", .name_len = 3, .value = "fuzz" },
        { .name = "tag", .name_len = TAG_NAME_BYTES, .field = &tag_path },
    };
    static const ingest_spec spec = {
        .key = &key_path, .time = &time_path, .time_how = { .unit_us = 1000 }, .record_bytes_max = FUZZ_RECORD_MAX,
        .headers = headers, .header_count = 2, .tombstone = &del_path,
    };
    ingest_line got;
    char why[256];
    int ok = ingest_parse(&spec, line, len, &got, why, sizeof why) == 0;
    if (len <= FUZZ_RECORD_MAX && memchr(line, '\0', len)) {
        /* No JSON text holds a raw NUL (jansson may take one as the end). */
        if (ok || !strstr(why, ": a NUL byte"))
            fail("a line with a raw NUL byte was not refused for it", line, len);
        return;
    }

    json_error_t jerr;
    json_t *root = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root && len <= FUZZ_RECORD_MAX) {
        check_refused_by_jansson(line, len, ok, why, &jerr);
        if (ok)
            ingest_release(&got);
        return;
    }
    json_t *k = root ? user_id(root) : NULL;
    json_t *t = root && json_is_object(root) ? json_object_get(root, "ts") : NULL;
    json_t *g = t;
    json_t *del = root && json_is_object(root) ? json_object_get(root, "del") : NULL;
    int del_ok = !del || json_is_boolean(del) || json_is_null(del);
    char kbuf[64], tbuf[64];
    const char *want_key = NULL, *want_tag = NULL;
    size_t want_len = 0, want_tag_len = 0;
    int64_t want_us = 0;
    int key_kind = k ? expected_key(k, kbuf, sizeof kbuf, &want_key, &want_len) : 0;
    int tag_kind = g ? expected_key(g, tbuf, sizeof tbuf, &want_tag, &want_tag_len) : 0;
    /* A time of 0 would be taken for the append time: refused. */
    int fields_ok = len <= FUZZ_RECORD_MAX && key_kind && tag_kind && t && expected_time(t, &want_us) && want_us != 0 &&
                    del_ok;
    /* The event's size as far as known (a real's text has at least 1 byte). */
    size_t size = len + SRC_BYTES + TAG_NAME_BYTES + (key_kind == 1 ? want_len : 1) +
                  (tag_kind == 1 ? want_tag_len : 1);
    int size_known = key_kind == 1 && tag_kind == 1;

    if (ok && !fields_ok)
        fail("accepted a line it must refuse", line, len);
    if (!ok && fields_ok)
        check_refused_for_size(why, size, size_known, line, len);
    if (!ok && !fields_ok && len <= FUZZ_RECORD_MAX && strncmp(why, "event of", 8) == 0)
        fail("refused for size a line with a bad field", line, len);
    if (ok) {
        if (got.timestamp_us != want_us)
            fail("time differs from the field's value", line, len);
        if (got.tombstone != json_is_true(del))
            fail("a tombstone is not exactly a line whose del is true", line, len);
        check_field_text(key_kind, got.key, got.key_len, want_key, want_len, k, line, len);
        check_field_text(tag_kind, got.header_values[1].p, got.header_values[1].len, want_tag, want_tag_len, g, line,
                         len);
        if (got.header_values[0].len != 4 || memcmp(got.header_values[0].p, "fuzz", 4) != 0)
            fail("the constant header differs", line, len);
        if (len + got.key_len + SRC_BYTES + TAG_NAME_BYTES + got.header_values[1].len > FUZZ_RECORD_MAX)
            fail("accepted an event larger than the record limit", line, len);
        ingest_release(&got);
    }
    json_decref(root);
}

/* The event bytes of a line (ingest_content), checked against what they
 * must be; then the parse of a line that is not blank. */
static void check_content(const char *line, size_t len, int first_line)
{
    const char *got = line;
    size_t got_len = len;
    int has_value = ingest_content(&got, &got_len, first_line);

    size_t skip = first_line && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    size_t want_len = len - skip - (len > skip && line[len - 1] == '\r');
    if (got != line + skip || got_len != want_len)
        fail("event bytes are not the line less BOM and CR", line, len);
    size_t white = 0;
    while (white < got_len && got[white] && strchr(" \t\r", got[white]))
        white++;
    if (has_value != (white < got_len))
        fail(has_value ? "a blank line was taken as a value" : "a line with content was taken as blank", line, len);
    if (!has_value) {
        json_t *none = json_loadb(got, got_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (none)
            fail("a line skipped as blank holds a JSON value", line, len);
        return;
    }
    check_line(got, got_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("ingest_jsonl", 0);
        if (fd < 0 || jsonpath_compile(&key_path, "user.id") != 0 || jsonpath_compile(&time_path, "ts") != 0 ||
            jsonpath_compile(&tag_path, "ts") != 0 || jsonpath_compile(&del_path, "del") != 0)
            abort();
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
        abort();

    lines r;
    if (lines_init(&r, fd, FUZZ_LINE_MAX) != 0)
        abort();
    const char *text = (const char *)data;
    size_t pos = 0;
    for (;;) {
        /* As append: block only when nothing is buffered. */
        const char *line;
        size_t len;
        int rc = lines_next(&r, 0, &line, &len);
        if (rc == LINES_PENDING)
            rc = lines_next(&r, LINES_MAY_BLOCK, &line, &len);
        if (rc == LINES_EOF) {
            if (pos != size || r.bytes_consumed != size)
                fail("input left over at the end", "", 0);
            break;
        }
        if (rc == LINES_ERR_LONG) {
            const char *nl = memchr(text + pos, '\n', size - pos);
            if ((size_t)((nl ? nl : text + size) - (text + pos)) <= FUZZ_LINE_MAX)
                fail("a line within the limit was refused as too long", text + pos, size - pos);
            break;
        }
        if (rc != LINES_LINE)
            fail("read error on a memory file", "", 0);
        /* The line is the next piece of input, ending at '\n' or the end. */
        if (len > size - pos || memcmp(line, text + pos, len) != 0 || memchr(line, '\n', len))
            fail("line is not the next piece of the input", line, len);
        int first_line = pos == 0;
        pos += len;
        if (pos < size) {
            if (text[pos] != '\n')
                fail("line does not end at a newline", line, len);
            pos++;
        }
        if (r.bytes_consumed != pos)
            fail("bytes_consumed is off", line, len);
        check_content(line, len, first_line);
    }
    lines_free(&r);
    return 0;
}
