#include "names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static int name_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

int sl_name_validate_stream(const char *name)
{
    if (!name || !*name)
        return sl_err_set(SIGLOG_EINVAL, "stream name is empty");
    size_t n = strnlen(name, SIGLOG_NAME_MAX + 1);
    if (n > SIGLOG_NAME_MAX)
        return sl_err_set(SIGLOG_EINVAL, "stream name is longer than %d bytes", SIGLOG_NAME_MAX);
    if (name[0] == '.')
        return sl_err_set(SIGLOG_EINVAL, "stream name '%s' starts with '.'", name);
    for (size_t i = 0; i < n; i++)
        if (!name_char_ok((unsigned char)name[i]))
            return sl_err_set(SIGLOG_EINVAL, "stream name has byte 0x%02x at %zu; allowed: A-Z a-z 0-9 . _ -",
                           (unsigned char)name[i], i);
    return 0;
}

char *sl_path_join(const char *a, const char *b)
{
    char *p = NULL;
    return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

char *sl_path_partition_dir(const char *stream_dir, uint32_t partition)
{
    char *p = NULL;
    return asprintf(&p, "%s/%0*u", stream_dir, PARTITION_DIR_DIGITS, partition) < 0 ? NULL : p;
}
