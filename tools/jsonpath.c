/*
 * jsonpath — dot-path lookup and field conversions; see jsonpath.h.
 */
#include "jsonpath.h"

#include "timeparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jsonpath_compile(jsonpath *p, const char *text)
{
    memset(p, 0, sizeof *p);
    p->text = text;
    const char *s = text;
    for (;;) {
        size_t len = strcspn(s, ".");
        if (len == 0 || p->depth == JSONPATH_DEPTH_MAX) {
            jsonpath_free(p);
            return -1;
        }
        p->names[p->depth] = strndup(s, len);
        if (!p->names[p->depth]) {
            jsonpath_free(p);
            return -1;
        }
        p->depth++;
        if (s[len] == '\0')
            return 0;
        s += len + 1;
    }
}

void jsonpath_free(jsonpath *p)
{
    for (size_t i = 0; i < p->depth; i++)
        free(p->names[i]);
    p->depth = 0;
}

json_t *jsonpath_get(json_t *root, const jsonpath *p)
{
    json_t *v = root;
    for (size_t i = 0; i < p->depth && v; i++)
        v = json_is_object(v) ? json_object_get(v, p->names[i]) : NULL;
    return v;
}

int jsonpath_key(json_t *v, char buf[JSONPATH_KEY_MAX], const char **key, size_t *len)
{
    if (json_is_string(v)) {
        *key = json_string_value(v);
        *len = json_string_length(v);
        return 0;
    }
    int n;
    if (json_is_integer(v)) {
        n = snprintf(buf, JSONPATH_KEY_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        /* The fewest significant digits that round-trip: the same number
         * always gives the same key, however the producer spelled it. */
        double d = json_real_value(v);
        n = 0;
        for (int prec = 1; prec <= 17; prec++) {
            n = snprintf(buf, JSONPATH_KEY_MAX, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
    } else {
        return -1;
    }
    if (n <= 0 || n >= JSONPATH_KEY_MAX)
        return -1;
    *key = buf;
    *len = (size_t)n;
    return 0;
}

int jsonpath_time_us(json_t *v, const jsonpath_time *how, int64_t *us_out)
{
    int64_t unit_us = how->unit_us;
    if (json_is_string(v) && how->pattern && how->local_to_utc && !how->pattern_has_zone) {
        int64_t local;
        if (timeparse_pattern(how->pattern, json_string_value(v), json_string_length(v), 0, &local) != 0)
            return -1;
        return how->local_to_utc(local, us_out) == 0 ? 0 : JSONPATH_TIME_NOT_LOCAL;
    }
    if (json_is_string(v) && how->pattern)
        return timeparse_pattern(how->pattern, json_string_value(v), json_string_length(v), how->zone_s, us_out);
    if (json_is_string(v))
        return timeparse_rfc3339(json_string_value(v), json_string_length(v), us_out);
    if (json_is_integer(v)) {
        int64_t t;
        if (__builtin_mul_overflow((int64_t)json_integer_value(v), unit_us, &t))
            return -1;
        *us_out = t;
        return 0;
    }
    if (json_is_real(v)) {
        double t = json_real_value(v) * (double)unit_us;
        /* 2^63 is exactly representable; anything at or beyond it (or NaN)
         * does not fit. */
        if (!(t > -9223372036854775808.0 && t < 9223372036854775808.0))
            return -1;
        *us_out = (int64_t)llround(t);
        return 0;
    }
    return -1;
}
