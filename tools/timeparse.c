/*
 * timeparse — strict parsers for times, durations and sizes; see
 * timeparse.h for the accepted forms.
 *
 * Calendar arithmetic uses the proleptic Gregorian calendar with days
 * counted from 1970-01-01 via 400-year eras (146097 days each), so it needs
 * no tables and no libc time zone state (timegm/strptime depend on locale
 * and TZ, and accept more than RFC 3339 allows).
 */
#include "timeparse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define US_PER_S 1000000LL

int timeparse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return -1;
    }
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                  /* 0..399 */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* 0..365, from March */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* 0..146096 */
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : days[m - 1];
}

/* Exactly `width` digits at s[*pos]; advances *pos. */
static int fixed_digits(const char *s, size_t n, size_t *pos, int width, int *out)
{
    if (*pos + (size_t)width > n)
        return -1;
    int v = 0;
    for (int i = 0; i < width; i++) {
        char c = s[*pos + (size_t)i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *pos += (size_t)width;
    *out = v;
    return 0;
}

static int expect_char(const char *s, size_t n, size_t *pos, const char *allowed)
{
    if (*pos >= n || !s[*pos] || !strchr(allowed, s[*pos]))
        return -1;
    (*pos)++;
    return 0;
}

/* A broken-down time as read, before its range checks. */
typedef struct civil {
    int year, mon, day, hour, min, sec;
    int64_t frac_us;  /* 0..999999 */
    int64_t offset_s; /* east of UTC */
} civil;

/* ".digits" were read up to s[*pos]: any number of digits, at least one;
 * those beyond microseconds are dropped (rounding toward the past). */
static int fraction_digits(const char *s, size_t n, size_t *pos, int64_t *frac_us)
{
    size_t p = *pos, digits = 0;
    int64_t v = 0;
    for (; p < n && s[p] >= '0' && s[p] <= '9'; p++, digits++)
        if (digits < 6)
            v = v * 10 + (s[p] - '0');
    if (digits == 0)
        return -1;
    for (; digits < 6; digits++)
        v *= 10;
    *pos = p;
    *frac_us = v;
    return 0;
}

/* A zone: 'Z', 'z' or +HH:MM/-HH:MM, and +HHMM/-HHMM when `compact`. */
static int zone_offset(const char *s, size_t n, size_t *pos, int compact, int64_t *offset_s)
{
    size_t p = *pos;
    if (p < n && (s[p] == 'Z' || s[p] == 'z')) {
        *pos = p + 1;
        *offset_s = 0;
        return 0;
    }
    if (p >= n || (s[p] != '+' && s[p] != '-'))
        return -1;
    int sign = s[p++] == '-' ? -1 : 1, oh, om;
    if (fixed_digits(s, n, &p, 2, &oh))
        return -1;
    if (p < n && s[p] == ':')
        p++;
    else if (!compact)
        return -1;
    if (fixed_digits(s, n, &p, 2, &om) || oh > 23 || om > 59)
        return -1;
    *pos = p;
    *offset_s = sign * (oh * 3600 + om * 60);
    return 0;
}

/* Microseconds since the epoch of a civil time, or -1 when a field is out
 * of range. Years 0..9999 keep every intermediate far inside int64. */
static int civil_us(const civil *c, int64_t *us_out)
{
    if (c->year < 0 || c->year > 9999 || c->mon < 1 || c->mon > 12 || c->day < 1 ||
        c->day > days_in_month(c->year, c->mon) || c->hour > 23 || c->min > 59 || c->sec > 60)
        return -1;
    int64_t secs = days_from_civil(c->year, c->mon, c->day) * 86400 + c->hour * 3600 + c->min * 60 + c->sec -
                   c->offset_s;
    *us_out = secs * US_PER_S + c->frac_us;
    return 0;
}

int timeparse_rfc3339(const char *s, size_t n, int64_t *us_out)
{
    size_t p = 0;
    civil c = { 0 };
    if (fixed_digits(s, n, &p, 4, &c.year) || expect_char(s, n, &p, "-") || fixed_digits(s, n, &p, 2, &c.mon) ||
        expect_char(s, n, &p, "-") || fixed_digits(s, n, &p, 2, &c.day) || expect_char(s, n, &p, "Tt ") ||
        fixed_digits(s, n, &p, 2, &c.hour) || expect_char(s, n, &p, ":") || fixed_digits(s, n, &p, 2, &c.min) ||
        expect_char(s, n, &p, ":") || fixed_digits(s, n, &p, 2, &c.sec))
        return -1;
    if (p < n && s[p] == '.') {
        p++;
        if (fraction_digits(s, n, &p, &c.frac_us))
            return -1;
    }
    if (zone_offset(s, n, &p, 0, &c.offset_s) || p != n)
        return -1;
    return civil_us(&c, us_out);
}

/* The fields a pattern directive sets, as bits; 0 for an unknown one. */
enum {
    F_YEAR = 1, F_MON = 2, F_DAY = 4, F_HOUR = 8, F_MIN = 16, F_SEC = 32, F_FRAC = 64, F_ZONE = 128,
};

static unsigned directive_fields(char d)
{
    switch (d) {
    case 'Y': return F_YEAR;
    case 'm': case 'b': return F_MON;
    case 'd': return F_DAY;
    case 'H': return F_HOUR;
    case 'M': return F_MIN;
    case 'S': return F_SEC;
    case 'f': return F_FRAC;
    case 'z': return F_ZONE;
    case 'F': return F_YEAR | F_MON | F_DAY;
    case 'T': return F_HOUR | F_MIN | F_SEC;
    default: return 0;
    }
}

int timeparse_pattern_check(const char *pattern, int *has_zone)
{
    unsigned seen = 0;
    for (const char *p = pattern; *p; p++) {
        if (*p != '%')
            continue;
        p++;
        if (*p == '%')
            continue;
        unsigned f = directive_fields(*p);
        if (!f || (seen & f))
            return -1; /* unknown, at the end, or a field named twice */
        seen |= f;
    }
    if ((seen & (F_YEAR | F_MON | F_DAY)) != (F_YEAR | F_MON | F_DAY))
        return -1;
    *has_zone = (seen & F_ZONE) != 0;
    return 0;
}

/* English month abbreviation, any case. */
static int month_name(const char *s, size_t n, size_t *pos, int *mon)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    if (*pos + 3 > n)
        return -1;
    for (int m = 0; m < 12; m++)
        if (strncasecmp(s + *pos, names + 3 * m, 3) == 0) {
            *pos += 3;
            *mon = m + 1;
            return 0;
        }
    return -1;
}

/* Match s[*pos..n) against pattern (checked), filling c. */
static int pattern_match(const char *pattern, const char *s, size_t n, size_t *pos, civil *c)
{
    for (const char *q = pattern; *q; q++) {
        if (*q != '%' || q[1] == '%') {
            q += *q == '%';
            if (*pos >= n || s[*pos] != *q)
                return -1;
            (*pos)++;
            continue;
        }
        int rc;
        switch (*++q) {
        case 'Y': rc = fixed_digits(s, n, pos, 4, &c->year); break;
        case 'm': rc = fixed_digits(s, n, pos, 2, &c->mon); break;
        case 'b': rc = month_name(s, n, pos, &c->mon); break;
        case 'd': rc = fixed_digits(s, n, pos, 2, &c->day); break;
        case 'H': rc = fixed_digits(s, n, pos, 2, &c->hour); break;
        case 'M': rc = fixed_digits(s, n, pos, 2, &c->min); break;
        case 'S': rc = fixed_digits(s, n, pos, 2, &c->sec); break;
        case 'f': rc = fraction_digits(s, n, pos, &c->frac_us); break;
        case 'z': rc = zone_offset(s, n, pos, 1, &c->offset_s); break;
        case 'F': rc = pattern_match("%Y-%m-%d", s, n, pos, c); break;
        default: rc = pattern_match("%H:%M:%S", s, n, pos, c); break; /* 'T' */
        }
        if (rc)
            return -1;
    }
    return 0;
}

int timeparse_pattern(const char *pattern, const char *s, size_t n, int64_t zone_s, int64_t *us_out)
{
    civil c = { .offset_s = zone_s };
    size_t p = 0;
    if (pattern_match(pattern, s, n, &p, &c) || p != n)
        return -1;
    return civil_us(&c, us_out);
}

int timeparse_zone(const char *s, int64_t *zone_s)
{
    size_t p = 0, n = strlen(s);
    if (strcmp(s, "UTC") == 0) {
        *zone_s = 0;
        return 0;
    }
    return zone_offset(s, n, &p, 1, zone_s) || p != n ? -1 : 0;
}

int timeparse_is_integer(const char *s)
{
    s += s[0] == '-';
    return *s && strspn(s, "0123456789") == strlen(s);
}

int timeparse_time_arg(const char *s, int64_t unit_us, int64_t *us_out)
{
    if (!s || !*s)
        return -1;
    if (!timeparse_is_integer(s))
        return timeparse_rfc3339(s, strlen(s), us_out);
    uint64_t mag;
    int neg = s[0] == '-';
    if (timeparse_u64(s + neg, &mag) != 0)
        return -1;
    if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
        return -1;
    int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag, us;
    if (unit_us == 0 && v != 0)
        return -1;
    if (__builtin_mul_overflow(v, unit_us ? unit_us : 1, &us))
        return -1;
    *us_out = us;
    return 0;
}

/* A unit suffix and how much one of it is worth. */
typedef struct unit {
    const char *name;
    uint64_t mult;
} unit;

/* The worth of the unit named exactly s, or 0 when none is. */
static uint64_t unit_find(const unit *units, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, units[i].name) == 0)
            return units[i].mult;
    return 0;
}

int timeparse_duration_us(const char *s, uint64_t *us_out)
{
    static const unit units[] = {
        { "us", 1 }, { "ms", 1000 }, { "s", US_PER_S }, { "m", 60 * US_PER_S },
        { "h", 3600 * US_PER_S }, { "d", 86400 * US_PER_S },
    };
    if (!s || !*s)
        return -1;
    if (strcmp(s, "0") == 0) {
        *us_out = 0;
        return 0;
    }
    const char *p = s;
    uint64_t whole = 0, frac = 0, frac_scale = 1;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
        if (__builtin_mul_overflow(whole, 10, &whole) || __builtin_add_overflow(whole, (uint64_t)(*p - '0'), &whole))
            return -1;
    if (digits == 0) /* ".5h" is not a number */
        return -1;
    if (*p == '.') {
        p++;
        int fdigits = 0;
        for (; *p >= '0' && *p <= '9'; p++, fdigits++)
            if (fdigits < 9) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                frac_scale *= 10;
            }
        if (fdigits == 0)
            return -1;
    }
    uint64_t unit_us = unit_find(units, sizeof units / sizeof units[0], p), v;
    if (!unit_us)
        return -1;
    /* frac < frac_scale <= 1e9 and unit <= 8.64e10: the product fits in
     * 128 bits, the quotient in the unit. */
    uint64_t frac_us = (uint64_t)((unsigned __int128)frac * unit_us / frac_scale);
    if (__builtin_mul_overflow(whole, unit_us, &v) || __builtin_add_overflow(v, frac_us, &v))
        return -1;
    *us_out = v;
    return 0;
}

int timeparse_size_bytes(const char *s, uint64_t *out)
{
    static const unit suffixes[] = {
        { "", 1 },
        { "B", 1 },
        { "K", 1ull << 10 },
        { "KiB", 1ull << 10 },
        { "KB", 1000ull },
        { "M", 1ull << 20 },
        { "MiB", 1ull << 20 },
        { "MB", 1000000ull },
        { "G", 1ull << 30 },
        { "GiB", 1ull << 30 },
        { "GB", 1000000000ull },
        { "T", 1ull << 40 },
        { "TiB", 1ull << 40 },
        { "TB", 1000000000000ull },
    };
    if (!s)
        return -1;
    size_t ndig = strspn(s, "0123456789");
    if (ndig == 0 || ndig > 20)
        return -1;
    char num[21];
    memcpy(num, s, ndig);
    num[ndig] = '\0';
    uint64_t v;
    if (timeparse_u64(num, &v) != 0)
        return -1;
    uint64_t mult = unit_find(suffixes, sizeof suffixes / sizeof suffixes[0], s + ndig);
    if (!mult || __builtin_mul_overflow(v, mult, &v))
        return -1;
    *out = v;
    return 0;
}

void timeparse_format(int64_t us, char buf[TIMEPARSE_RFC3339_MAX])
{
    /* Floor division, so times before 1970 still get a fraction in 0..999999. */
    int64_t secs = us / US_PER_S, frac = us % US_PER_S;
    if (frac < 0) {
        secs--;
        frac += US_PER_S;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        days--;
        rem += 86400;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        snprintf(buf, TIMEPARSE_RFC3339_MAX, "%lld", (long long)us);
        return;
    }
    snprintf(buf, TIMEPARSE_RFC3339_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", (int)y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), (int)frac);
}
