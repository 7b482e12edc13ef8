/*
 * headers — see headers.h.
 */
#include "headers.h"

#include "output.h"
#include "utf8.h"

#include <string.h>

int header_arg_parse(const char *arg, int fields, header_arg *out)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return -1;
    *out = (header_arg){ .name = arg, .name_len = (size_t)(eq - arg), .value = eq + 1 };
    if (fields && out->value[0] == '@') {
        out->value++;
        out->is_field = out->value[0] != '@';
    }
    return 0;
}

static int bytes_eq(const void *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

int headers_match(const siglog_record *r, const header_arg *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (uint32_t h = 0; h < r->header_count && !found; h++)
            found = bytes_eq(r->headers[h].key, r->headers[h].key_len, want[i].name, want[i].name_len) &&
                    bytes_eq(r->headers[h].value, r->headers[h].value_len, want[i].value, strlen(want[i].value));
        if (!found)
            return 0;
    }
    return 1;
}

/* A header's name or value: a JSON string when it is UTF-8, otherwise
 * {"base64":"..."}. */
static void write_text_or_base64(const void *p, size_t n)
{
    if (utf8_valid(p, n)) {
        out_json_string(p, n);
        return;
    }
    out_puts("{\"base64\":");
    out_json_base64(p, n);
    out_puts("}");
}

void headers_write_json(const siglog_record *r)
{
    if (r->header_count == 0)
        return;
    out_puts(",\"headers\":[");
    for (uint32_t h = 0; h < r->header_count; h++) {
        out_puts(h ? ",[" : "[");
        write_text_or_base64(r->headers[h].key, r->headers[h].key_len);
        out_puts(",");
        write_text_or_base64(r->headers[h].value, r->headers[h].value_len);
        out_puts("]");
    }
    out_puts("]");
}
