/*
 * zonename — IANA zones through the C library's TZ; see zonename.h.
 */
#include "zonename.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int zonename_select(const char *name)
{
    const char *dir = getenv("TZDIR");
    char path[PATH_MAX];
    struct stat st;
    if (!*name || name[0] == '/' || strstr(name, "..") ||
        snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    /* ':' names a zone file, never a POSIX rule string. */
    char tz[PATH_MAX + 1];
    snprintf(tz, sizeof tz, ":%s", name);
    if (setenv("TZ", tz, 1) != 0)
        return -1;
    tzset();
    return 0;
}

/* The UTC time whose local time is *want in the zone, when the zone's rule
 * for DST-or-not `isdst` gives one: mktime normalises a time that does
 * not exist, so the result is kept only if it reads back as *want. */
static int local_guess(const struct tm *want, int isdst, time_t *out)
{
    struct tm t = *want, back;
    t.tm_isdst = isdst;
    time_t u = mktime(&t);
    if (!localtime_r(&u, &back) || back.tm_year != want->tm_year || back.tm_mon != want->tm_mon ||
        back.tm_mday != want->tm_mday || back.tm_hour != want->tm_hour || back.tm_min != want->tm_min ||
        back.tm_sec != want->tm_sec)
        return -1;
    *out = u;
    return 0;
}

int zonename_to_utc(int64_t local_us, int64_t *utc_us)
{
    int64_t frac = local_us % 1000000;
    time_t secs = (time_t)(local_us / 1000000 - (frac < 0));
    frac += frac < 0 ? 1000000 : 0;
    struct tm want;
    if (!gmtime_r(&secs, &want) || want.tm_year < -1900 || want.tm_year > 9999 - 1900)
        return -1;
    time_t standard, daylight;
    int have_standard = local_guess(&want, 0, &standard) == 0;
    int have_daylight = local_guess(&want, 1, &daylight) == 0;
    if (have_standard && have_daylight && standard != daylight)
        return -1; /* shown twice: clocks went back over it */
    if (!have_standard && !have_daylight)
        return -1; /* skipped: clocks went forward over it */
    *utc_us = (int64_t)(have_standard ? standard : daylight) * 1000000 + frac;
    return 0;
}
