/*
 * record_copy — see record_copy.h. Layout of one copy: its siglog_header
 * array (aligned for it), then the key, the value and each header's key
 * and value bytes. A record without headers is not aligned: copies of
 * such records follow one another with nothing between them (key, value,
 * key, value, ...), so a reader of a batch (the Python module) can cut
 * it by lengths alone.
 */
#include "record_copy.h"

#include <stdalign.h>
#include <string.h>

/* Where the copy of r starts when `used` bytes are in use: aligned for
 * its header array, when it has one. */
static size_t copy_start(const siglog_record *r, size_t used)
{
    size_t a = r->header_count ? alignof(siglog_header) : 1;
    return (used + a - 1) / a * a;
}

size_t sl_record_copy_bytes(const siglog_record *r, size_t used)
{
    size_t n = copy_start(r, used) - used + (size_t)r->header_count * sizeof(siglog_header) + r->key_len + r->value_len;
    for (uint32_t i = 0; i < r->header_count; i++)
        n += (size_t)r->headers[i].key_len + r->headers[i].value_len;
    return n;
}

static const void *copy_bytes(uint8_t *buf, size_t *used, const void *p, size_t n)
{
    if (!n)
        return NULL;
    uint8_t *to = buf + *used;
    memcpy(to, p, n);
    *used += n;
    return to;
}

void sl_record_copy(const siglog_record *r, siglog_record *out, uint8_t *buf, size_t *used)
{
    *out = *r;
    *used = copy_start(r, *used);
    siglog_header *h = (siglog_header *)(void *)(buf + *used);
    *used += (size_t)r->header_count * sizeof(siglog_header);
    out->headers = r->header_count ? h : NULL;
    out->key = copy_bytes(buf, used, r->key, r->key_len);
    out->value = copy_bytes(buf, used, r->value, r->value_len);
    if (r->value_len == 0)
        out->value = buf + *used; /* an empty value is still a value */
    for (uint32_t i = 0; i < r->header_count; i++) {
        h[i] = r->headers[i];
        h[i].key = copy_bytes(buf, used, r->headers[i].key, r->headers[i].key_len);
        h[i].value = copy_bytes(buf, used, r->headers[i].value, r->headers[i].value_len);
    }
}
