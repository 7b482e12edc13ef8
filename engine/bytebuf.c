#include "bytebuf.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

int bytebuf_reserve(bytebuf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t need = b->len + extra;
    if (need < b->len)
        return err_set(SIGLOG_ENOMEM, "buffer size overflow");
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return err_set(SIGLOG_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return 0;
}

int bytebuf_append(bytebuf *b, const void *p, size_t n)
{
    int rc = bytebuf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void bytebuf_free(bytebuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
