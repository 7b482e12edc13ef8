/*
 * envelope — see envelope.h. Most lines take one path: the source's head
 * cached, a plain key (jsoncheck_plain), no headers and a value the
 * check embeds as stored; that line is built in place in the output
 * buffer, its length bounded before the first byte is written. Every
 * other line is written piece by piece, and both paths write the same
 * bytes for the lines both could write (envelope_agrees).
 */
#include "envelope.h"

#include "headers.h"
#include "jsoncheck.h"
#include "utf8.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Append the literal lit (a string constant) at p. */
#define PUT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) += sizeof(lit) - 1)

/* The value when jsoncheck did not embed it: as stored when jansson's
 * plain parse (the envelope's "Valid JSON") takes it and it has no raw
 * line break, compactly re-encoded when it has some (legal JSON
 * whitespace that would split the line), base64 otherwise. jsoncheck
 * declines whatever it cannot decide exactly as jansson does
 * (jsoncheck.h), raw line breaks included; the vectors' `edge` values, on
 * each side of every limit, hold the two to the same answers
 * (format_cli_agrees). */
static void write_value_declined(const siglog_record *r)
{
    int breaks = memchr(r->value, '\n', r->value_len) || memchr(r->value, '\r', r->value_len);
    json_t *v = json_loadb(r->value, r->value_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!v) {
        out_json_base64(r->value, r->value_len);
        out_puts(",\"value_encoding\":\"base64\"");
        return;
    }
    if (!breaks) {
        out_write(r->value, r->value_len);
    } else {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text) {
            out_puts(text);
            free(text);
        } else {
            out_json_base64(r->value, r->value_len);
            out_puts(",\"value_encoding\":\"base64\"");
        }
    }
    json_decref(v);
}

/* h's bytes for the stream and partition: escaping the name and writing
 * the partition per event was a twentieth of the jsonl replay's
 * instructions. */
static void build_head(envelope_head *h, const char *stream, uint32_t partition)
{
    size_t n = strlen(stream);
    if (n > SIGLOG_NAME_MAX || !jsoncheck_plain(stream, n)) {
        h->len = -1;
        return;
    }
    char *p = h->bytes;
    PUT(p, "{\"stream\":\"");
    memcpy(p, stream, n);
    p += n;
    PUT(p, "\",\"partition\":");
    p = out_put_u64(p, partition);
    PUT(p, ",\"offset\":");
    h->len = (int)(p - h->bytes);
}

/* r's offset at p in the common line, from h's digits of the last one
 * when r's is one more (a source read in order): one is added to them,
 * in their last digit alone nine times in ten, where out_put_u64 made
 * every digit again. An offset of nines only gains a digit: made anew. */
static char *put_offset(envelope_head *h, char *p, uint64_t offset)
{
    size_t i = 0;
    if (h->offset_len && offset == h->offset + 1) {
        i = h->offset_len;
        while (i > 0 && h->offset_digits[i - 1] == '9')
            h->offset_digits[--i] = '0';
        if (i > 0)
            h->offset_digits[i - 1]++;
    }
    if (i == 0)
        h->offset_len = (unsigned)(out_put_u64(h->offset_digits, offset) - h->offset_digits);
    h->offset = offset;
    memcpy(p, h->offset_digits, ENVELOPE_COPY_BYTES);
    return p + h->offset_len;
}

/* r's time at p in the common line: the digits above its last eight
 * from h when they are the last time's (a time in microseconds has 16,
 * and its top eight change once in 100 seconds), the last eight made
 * at once. Times before 100 seconds, negative ones among them, are
 * written whole. */
static char *put_time(envelope_head *h, char *p, int64_t ts)
{
    if (ts < 100000000)
        return out_put_i64(p, ts);
    uint64_t hi = (uint64_t)ts / 100000000;
    if (!h->ts_hi_len || hi != h->ts_hi) {
        h->ts_hi = hi;
        h->ts_hi_len = (unsigned)(out_put_u64(h->ts_hi_digits, hi) - h->ts_hi_digits);
    }
    memcpy(p, h->ts_hi_digits, ENVELOPE_COPY_BYTES);
    return out_put_8digits(p + h->ts_hi_len, (uint32_t)((uint64_t)ts - hi * 100000000));
}

/* The literals the common line holds besides its head, key and value. */
#define LINE_LITERALS                                                                                          \
    (sizeof ",\"ts\":" + sizeof ",\"key\":\"\"" + sizeof ",\"schema\":" + sizeof ",\"tombstone\":true" +          \
     sizeof ",\"late\":true" + sizeof ",\"value\":" + sizeof "}\n")

/* A head of up to this many bytes is copied this many at once (a copy
 * of its length alone is a call); the line's reservation covers it. */
#define HEAD_COPY_BYTES 64
_Static_assert(sizeof((envelope_head *)0)->bytes >= HEAD_COPY_BYTES, "a head's copy reads within its bytes");

/* The common line (see the top), in place: 1, or 0 when it is not written
 * (the buffer cannot hold it whole, the key is not plain or the check
 * does not embed the value) and the caller writes the line piece by
 * piece, nothing written. What the line learnt of the key and the value
 * on its way is left in *plain_key and *embedded, which the caller set
 * to -1 (not asked). The key and the value are copied into the line by
 * their checks as they read them. */
static int write_common(envelope_head *h, const siglog_record *r, int late, int *plain_key, int *embedded)
{
    /* Room for the copies of whole digit buffers, beyond the digits. */
    size_t need = (size_t)h->len + 3 * (OUT_DECIMAL_MAX + 1) + r->key_len + r->value_len + LINE_LITERALS +
                  ENVELOPE_COPY_BYTES;
    char *p = out_reserve(need);
    if (!p)
        return 0;
    memcpy(p, h->bytes, h->len <= HEAD_COPY_BYTES ? HEAD_COPY_BYTES : (size_t)h->len);
    p += h->len;
    p = put_offset(h, p, r->offset);
    PUT(p, ",\"ts\":");
    p = put_time(h, p, r->timestamp_us);
    PUT(p, ",\"key\":\"");
    if (!(*plain_key = jsoncheck_plain_copy(r->key, r->key_len, p)))
        return 0;
    p += r->key_len;
    PUT(p, "\",\"schema\":");
    p = out_put_u64(p, r->schema_version);
    if (r->flags & SIGLOG_EVENT_TOMBSTONE)
        PUT(p, ",\"tombstone\":true");
    if (late)
        PUT(p, ",\"late\":true");
    PUT(p, ",\"value\":");
    if (!(*embedded = jsoncheck_embeddable_copy(r->value, r->value_len, p)))
        return 0;
    p += r->value_len;
    PUT(p, "}\n");
    out_commit(p);
    return 1;
}

void envelope_write(envelope_head *h, const char *stream, uint32_t partition, const siglog_record *r, int late)
{
    if (h->len == 0)
        build_head(h, stream, partition);
    int plain_key = -1, embedded = -1; /* not asked yet */
    if (r->key_len != 0 && h->len > 0 && r->partition == partition && r->header_count == 0 &&
        write_common(h, r, late, &plain_key, &embedded))
        return;
    if (plain_key < 0)
        plain_key = r->key_len != 0 && jsoncheck_plain(r->key, r->key_len);
    if (embedded < 0)
        embedded = jsoncheck_embeddable(r->value, r->value_len);
    /* The numbers between the stream and the key are built in one buffer
     * and written at once: a write per field was a tenth of the replay's
     * instructions. */
    char head[64 + 3 * (OUT_DECIMAL_MAX + 1)], *p = head;
    if (h->len > 0 && r->partition == partition) {
        out_write(h->bytes, (size_t)h->len);
    } else {
        out_puts("{\"stream\":");
        out_json_string(stream, strlen(stream));
        PUT(p, ",\"partition\":");
        p = out_put_u64(p, r->partition);
        PUT(p, ",\"offset\":");
    }
    p = out_put_u64(p, r->offset);
    PUT(p, ",\"ts\":");
    p = out_put_i64(p, r->timestamp_us);
    PUT(p, ",\"key\":");
    out_write(head, (size_t)(p - head));
    if (r->key_len == 0) {
        out_puts("null");
    } else if (plain_key) {
        /* ASCII is UTF-8, and a plain string is its own JSON string. */
        out_write("\"", 1);
        out_write(r->key, r->key_len);
        out_write("\"", 1);
    } else if (utf8_valid(r->key, r->key_len)) {
        out_json_string(r->key, r->key_len);
    } else {
        out_json_base64(r->key, r->key_len);
        out_puts(",\"key_encoding\":\"base64\"");
    }
    p = head;
    PUT(p, ",\"schema\":");
    p = out_put_u64(p, r->schema_version);
    out_write(head, (size_t)(p - head));
    headers_write_json(r);
    if (r->flags & SIGLOG_EVENT_TOMBSTONE)
        out_puts(",\"tombstone\":true");
    if (late)
        out_puts(",\"late\":true");
    out_puts(",\"value\":");
    if (embedded)
        out_write(r->value, r->value_len);
    else
        write_value_declined(r);
    out_puts("}\n");
}
