#include "bytebuf.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

int sl_bytebuf_reserve(bytebuf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t need = b->len + extra;
    if (need < b->len)
        return sl_err_set(SIGLOG_ENOMEM, "buffer size overflow");
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return 0;
}

int sl_bytebuf_append(bytebuf *b, const void *p, size_t n)
{
    int rc = sl_bytebuf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void sl_bytebuf_free(bytebuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
