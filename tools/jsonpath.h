/*
 * jsonpath — dot paths into JSON objects ("user.id") and the conversions
 * `siglog append` applies to the fields they name: a key from a string or
 * number, an event time from a number in a unit or an RFC 3339 string.
 *
 * A path is a sequence of object member names separated by '.'; a name
 * cannot itself contain '.', and array elements cannot be addressed.
 */
#ifndef SIGLOG_JSONPATH_H
#define SIGLOG_JSONPATH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define JSONPATH_DEPTH_MAX 16

typedef struct jsonpath {
    const char *text; /* as given, for messages */
    size_t depth;
    char *names[JSONPATH_DEPTH_MAX];
} jsonpath;

/* Split text into member names. -1 on an empty name ("a..b", ".a") or
 * more than JSONPATH_DEPTH_MAX of them. Free with jsonpath_free. */
int jsonpath_compile(jsonpath *p, const char *text);
void jsonpath_free(jsonpath *p);

/* The value the path names in root, or NULL when a member is missing or a
 * step is not an object. Borrowed from root. */
json_t *jsonpath_get(json_t *root, const jsonpath *p);

/* Key bytes of a field: a string's characters, or a number's JSON text
 * (integers in decimal; reals in the shortest form that reads back as the
 * same double, so 1.50 and 1.5 give the key "1.5"). *key may point into v
 * or into buf (JSONPATH_KEY_MAX bytes). -1 for other JSON types. */
#define JSONPATH_KEY_MAX 32
int jsonpath_key(json_t *v, char buf[JSONPATH_KEY_MAX], const char **key, size_t *len);

/* How a time field is read. */
typedef struct jsonpath_time {
    int64_t unit_us;     /* of numbers: 1, 1000 or 1000000 */
    const char *pattern; /* of strings: NULL for RFC 3339, else a checked
                          * timeparse_pattern pattern */
    int pattern_has_zone; /* it has %z */
    /* For patterns without %z: the zone is zone_s seconds east of UTC, or
     * when local_to_utc is set, it converts the wall-clock time (counted as
     * if UTC) and may refuse it (-1). */
    int64_t zone_s;
    int (*local_to_utc)(int64_t local_us, int64_t *utc_us);
} jsonpath_time;

/* jsonpath_time_us's refusal of a time string that matches the pattern
 * but that its zone skips or shows twice (daylight saving time). */
#define JSONPATH_TIME_NOT_LOCAL (-2)

/* Event time of a field in microseconds: a number in `unit_us`
 * microseconds per unit, fractions rounded to the nearest microsecond, or
 * a string in the pattern (RFC 3339 without one). -1 for other types, for
 * non-finite or out-of-range numbers and for malformed strings. */
int jsonpath_time_us(json_t *v, const jsonpath_time *how, int64_t *us_out);

#endif
