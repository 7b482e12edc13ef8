/*
 * settings — the table of stream settings is complete and every layer
 * reads it: defaults, range checks, stream.meta, the man page.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"
#include "stream.h"

/* A valid value of r other than its default: its bound farthest from
 * the default, pulled in where the bound is absurd (UINT64_MAX). */
static uint64_t other_value(const settings_row *r)
{
    uint64_t max = r->pub.max == UINT64_MAX ? 1000000007ull : r->pub.max;
    return r->pub.default_value - r->pub.min > max - r->pub.default_value ? r->pub.min : max;
}

Test(settings, defaults_come_from_the_table_and_are_valid)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    for (size_t i = 0; i < settings_count(); i++) {
        const settings_row *r = settings_row_at(i);
        cr_assert_eq(settings_get(&c, r), r->pub.default_value, "%s", r->pub.name);
        cr_assert_eq(settings_check(r, r->pub.default_value), 0, "%s", r->pub.name);
    }
    cr_assert_eq(stream_config_normalize(&c, UINT64_MAX), 0, "%s", siglog_errdetail());
}

/* A field added to siglog_stream_config without a row would be neither
 * defaulted nor checked nor stored: the rows tile the struct up to
 * reserved[]. */
Test(settings, rows_cover_every_config_field_once)
{
    unsigned char covered[offsetof(siglog_stream_config, reserved)] = { 0 };
    for (size_t i = 0; i < settings_count(); i++) {
        const settings_row *r = settings_row_at(i);
        cr_assert(r->width == 4 || r->width == 8, "%s", r->pub.name);
        cr_assert_leq(r->offset + r->width, sizeof covered, "%s", r->pub.name);
        for (size_t b = r->offset; b < r->offset + r->width; b++) {
            cr_assert_eq(covered[b], 0, "%s overlaps another setting", r->pub.name);
            covered[b] = 1;
        }
        cr_assert_leq(r->pub.max, r->width == 4 ? UINT32_MAX : UINT64_MAX, "%s", r->pub.name);
    }
    for (size_t b = 0; b < sizeof covered; b++)
        cr_assert(covered[b], "byte %zu of siglog_stream_config belongs to no setting", b);
}

Test(settings, names_and_tags_are_unique_and_found)
{
    for (size_t i = 0; i < settings_count(); i++) {
        const settings_row *r = settings_row_at(i);
        cr_assert_eq(siglog_setting_find(r->pub.name), &r->pub);
        cr_assert_eq(siglog_setting_at(i), &r->pub);
        cr_assert_eq(settings_by_tag(r->tag), r, "%s", r->pub.name);
        cr_assert_neq(r->tag & ~SETTINGS_TAG_MUST_UNDERSTAND, 0, "%s", r->pub.name);
        if (r->pub.type == SIGLOG_SETTING_ENUM)
            for (uint64_t v = 0; v <= r->pub.max; v++)
                cr_assert_not_null(r->pub.choices[v], "%s", r->pub.name);
    }
    cr_assert_eq(siglog_setting_at(settings_count()), NULL);
    cr_assert_eq(siglog_setting_count(), settings_count());
    cr_assert_null(siglog_setting_find("no_such_setting"));
}

Test(settings, set_checks_the_range_and_names_the_setting)
{
    for (size_t i = 0; i < settings_count(); i++) {
        const siglog_setting *set = siglog_setting_at(i);
        siglog_stream_config c, before;
        siglog_stream_config_default(&c);
        before = c;
        if (set->min > 0) {
            cr_assert_eq(siglog_setting_set(&c, set, set->min - 1), SIGLOG_EINVAL, "%s", set->name);
            cr_assert(strstr(siglog_errdetail(), set->name), "%s", siglog_errdetail());
        }
        if (set->max < UINT64_MAX)
            cr_assert_eq(siglog_setting_set(&c, set, set->max + 1), SIGLOG_EINVAL, "%s", set->name);
        cr_assert_eq(memcmp(&c, &before, sizeof c), 0, "%s: a refused value changed the config", set->name);
        uint64_t v = other_value(settings_row_at(i));
        cr_assert_eq(siglog_setting_set(&c, set, v), 0, "%s: %s", set->name, siglog_errdetail());
        cr_assert_eq(siglog_setting_get(&c, set), v, "%s", set->name);
    }
}

/* Each setting on its own at a value other than its default, so a
 * setting the codec drops or mixes up with another is seen. */
Test(settings, every_setting_round_trips_through_stream_meta)
{
    for (size_t i = 0; i < settings_count(); i++) {
        const settings_row *r = settings_row_at(i);
        siglog_stream_config c, back;
        siglog_stream_config_default(&c);
        settings_put(&c, r, other_value(r));
        uint8_t buf[STREAM_META_BYTES_MAX];
        size_t len = stream_meta_encode(buf, "s", 7, &c);
        char name[SIGLOG_NAME_MAX + 1];
        uint32_t id;
        cr_assert_eq(stream_meta_decode(buf, len, name, &id, &back), 0, "%s: %s", r->pub.name,
                     siglog_errdetail());
        cr_assert_eq(memcmp(&c, &back, sizeof c), 0, "%s did not round-trip", r->pub.name);
        cr_assert_eq(id, 7);
        cr_assert_str_eq(name, "s");
    }
}

/* The man page documents every setting under STREAM SETTINGS as
 * ".TP\n.B name\n", and says "(fixed at creation)" exactly for the
 * immutable ones. */
Test(settings, man_page_lists_every_setting)
{
    const char *path = getenv("SIGLOG_MAN_PAGE");
    cr_assert_not_null(path, "SIGLOG_MAN_PAGE is not set");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    static char page[1 << 18];
    size_t n = fread(page, 1, sizeof page - 1, f);
    fclose(f);
    page[n] = '\0';
    const char *section = strstr(page, "\n.SH STREAM SETTINGS\n");
    cr_assert_not_null(section, "the man page has no STREAM SETTINGS section");
    const char *end = strstr(section + 1, "\n.SH ");
    for (size_t i = 0; i < settings_count(); i++) {
        const settings_row *r = settings_row_at(i);
        char entry[96];
        snprintf(entry, sizeof entry, "\n.TP\n.B %s\n", r->pub.name);
        const char *at = strstr(section, entry);
        cr_assert(at && (!end || at < end), "STREAM SETTINGS in %s misses %s", path, r->pub.name);
        const char *body = at + strlen(entry);
        const char *next = strstr(body, "\n.TP\n");
        if (!next || (end && next > end))
            next = end ? end : body + strlen(body);
        const char *fixed = strstr(body, "(fixed at creation)");
        int says_fixed = fixed && fixed < next;
        cr_assert_eq(says_fixed, !r->pub.is_mutable, "the man page says %s is %s", r->pub.name,
                     says_fixed ? "fixed at creation" : "mutable");
    }
}
