/*
 * settings — the table of stream settings is complete and every layer
 * reads it: defaults, range checks, stream.meta, the man page.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "settings.h"
#include "stream.h"
#include "support.h"

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
    for (size_t i = 0; i < sl_settings_count(); i++) {
        const settings_row *r = sl_settings_row_at(i);
        cr_assert_eq(sl_settings_get(&c, r), r->pub.default_value, "%s", r->pub.name);
        cr_assert_eq(sl_settings_check(r, r->pub.default_value), 0, "%s", r->pub.name);
    }
    cr_assert_eq(sl_stream_config_normalize(&c, UINT64_MAX), 0, "%s", siglog_errdetail());
}

/* A field added to siglog_stream_config without a row would be neither
 * defaulted nor checked nor stored: the rows tile the struct but for
 * reserved32 and reserved[]. */
Test(settings, rows_cover_every_config_field_once)
{
    unsigned char covered[sizeof(siglog_stream_config)] = { 0 };
    size_t reserved_end = offsetof(siglog_stream_config, reserved) + sizeof(((siglog_stream_config *)0)->reserved);
    memset(covered + offsetof(siglog_stream_config, reserved32), 1,
           reserved_end - offsetof(siglog_stream_config, reserved32));
    for (size_t i = 0; i < sl_settings_count(); i++) {
        const settings_row *r = sl_settings_row_at(i);
        if (sl_settings_is_text(r))
            cr_assert_eq(r->width, SIGLOG_SETTING_TEXT_MAX + 1, "%s", r->pub.name);
        else
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
    for (size_t i = 0; i < sl_settings_count(); i++) {
        const settings_row *r = sl_settings_row_at(i);
        cr_assert_eq(siglog_setting_find(r->pub.name), &r->pub);
        cr_assert_eq(siglog_setting_at(i), &r->pub);
        cr_assert_eq(sl_settings_by_tag(r->tag), r, "%s", r->pub.name);
        cr_assert_neq(r->tag & ~SETTINGS_TAG_MUST_UNDERSTAND, 0, "%s", r->pub.name);
        if (r->pub.type == SIGLOG_SETTING_ENUM)
            for (uint64_t v = 0; v <= r->pub.max; v++)
                cr_assert_not_null(r->pub.choices[v], "%s", r->pub.name);
    }
    cr_assert_eq(siglog_setting_at(sl_settings_count()), NULL);
    cr_assert_eq(siglog_setting_count(), sl_settings_count());
    cr_assert_null(siglog_setting_find("no_such_setting"));
}

Test(settings, set_checks_the_range_and_names_the_setting)
{
    for (size_t i = 0; i < sl_settings_count(); i++) {
        const siglog_setting *set = siglog_setting_at(i);
        siglog_stream_config c, before;
        siglog_stream_config_default(&c);
        before = c;
        if (set->type == SIGLOG_SETTING_TEXT) {
            cr_assert_eq(siglog_setting_set(&c, set, 1), SIGLOG_EINVAL, "%s takes no number", set->name);
            continue; /* its rules: text_settings_are_checked_and_stored */
        }
        if (set->min > 0) {
            cr_assert_eq(siglog_setting_set(&c, set, set->min - 1), SIGLOG_EINVAL, "%s", set->name);
            cr_assert(strstr(siglog_errdetail(), set->name), "%s", siglog_errdetail());
        }
        if (set->max < UINT64_MAX)
            cr_assert_eq(siglog_setting_set(&c, set, set->max + 1), SIGLOG_EINVAL, "%s", set->name);
        cr_assert_eq(memcmp(&c, &before, sizeof c), 0, "%s: a refused value changed the config", set->name);
        uint64_t v = other_value(sl_settings_row_at(i));
        cr_assert_eq(siglog_setting_set(&c, set, v), 0, "%s: %s", set->name, siglog_errdetail());
        cr_assert_eq(siglog_setting_get(&c, set), v, "%s", set->name);
    }
}

/* The setting called name, which must be there with that type. */
static const siglog_setting *setting_of_type(const char *name, int type)
{
    const siglog_setting *set = siglog_setting_find(name);
    cr_assert_not_null(set, "%s", name);
    cr_assert_eq(set->type, type, "%s", name);
    return set;
}

/* min_free is bytes or a percent (1..99) of the filesystem: the percent
 * bit takes its own range, and a percent survives stream.meta. */
Test(settings, space_is_bytes_or_a_percent)
{
    const siglog_setting *set = setting_of_type("min_free", SIGLOG_SETTING_SPACE);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    cr_assert_eq(siglog_setting_set(&c, set, SIGLOG_SPACE_PERCENT | 10), 0, "%s", siglog_errdetail());
    cr_assert_eq(c.min_free, SIGLOG_SPACE_PERCENT | 10);
    for (uint64_t bad = 0; bad < 3; bad++) {
        uint64_t pct = bad == 0 ? 0 : bad == 1 ? 100 : 1u << 20;
        cr_assert_eq(siglog_setting_set(&c, set, SIGLOG_SPACE_PERCENT | pct), SIGLOG_EINVAL, "%llu%%",
                     (unsigned long long)pct);
        cr_assert(strstr(siglog_errdetail(), "min_free"), "%s", siglog_errdetail());
    }
    cr_assert_eq(c.min_free, SIGLOG_SPACE_PERCENT | 10, "a refused value changed nothing");
    uint8_t buf[STREAM_META_BYTES_MAX];
    size_t len = sl_stream_meta_encode(buf, "s", 1, &c, NULL);
    siglog_stream_config back;
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    cr_assert_eq(sl_stream_meta_decode(buf, len, name, &id, &back, NULL, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(back.min_free, SIGLOG_SPACE_PERCENT | 10);
    char text[32];
    const settings_row *row = NULL;
    for (size_t i = 0; i < sl_settings_count(); i++)
        if (&sl_settings_row_at(i)->pub == set)
            row = sl_settings_row_at(i);
    cr_assert_str_eq(sl_settings_format(row, back.min_free, text, sizeof text), "10%");
}

/* cold_dir, the text setting: "" or an absolute plain path of at most
 * SIGLOG_SETTING_TEXT_MAX bytes; a refused value changes nothing; it
 * survives stream.meta, which holds no entry for "" (so a stream without
 * one reads as it did before the setting existed). */
Test(settings, text_settings_are_checked_and_stored)
{
    const siglog_setting *set = setting_of_type("cold_dir", SIGLOG_SETTING_TEXT);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    cr_assert_str_eq(siglog_setting_text(&c, set), "");
    cr_assert_null(siglog_setting_text(&c, siglog_setting_find("warm_after")));
    uint8_t buf[STREAM_META_BYTES_MAX];
    size_t plain = sl_stream_meta_encode(buf, "s", 1, &c, NULL);
    char long_path[SIGLOG_SETTING_TEXT_MAX + 2];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    const char *bad[] = { "relative/cold", "/mnt/../etc", "/mnt/./cold", "/mnt/co\nld", long_path };
    cr_assert_eq(siglog_setting_set_text(&c, set, "/mnt/cold"), 0, "%s", siglog_errdetail());
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(siglog_setting_set_text(&c, set, bad[i]), SIGLOG_EINVAL, "%s", bad[i]);
        cr_assert(strstr(siglog_errdetail(), "cold_dir"), "%s", siglog_errdetail());
        cr_assert_str_eq(c.cold_dir, "/mnt/cold", "a refused value changed nothing");
    }
    cr_assert_eq(siglog_setting_set_text(&c, siglog_setting_find("warm_after"), "/x"), SIGLOG_EINVAL);
    long_path[sizeof long_path - 2] = '\0';
    cr_assert_eq(siglog_setting_set_text(&c, set, long_path), 0, "%s", siglog_errdetail());
    size_t len = sl_stream_meta_encode(buf, "s", 1, &c, NULL);
    cr_assert_eq(len, plain + 4 + SIGLOG_SETTING_TEXT_MAX, "one entry of the text's bytes");
    siglog_stream_config back;
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    cr_assert_eq(sl_stream_meta_decode(buf, len, name, &id, &back, NULL, NULL), 0, "%s", siglog_errdetail());
    cr_assert_str_eq(back.cold_dir, long_path);
    /* A stream.meta whose text breaks the rule is damage: the path's
     * second byte made a NUL, the checksum made right again. */
    uint8_t *at = memmem(buf, len, long_path, strlen(long_path));
    cr_assert_not_null(at);
    at[1] = '\0';
    put_le64(buf + len - 8, XXH3_64bits(buf, len - 8));
    cr_assert_eq(sl_stream_meta_decode(buf, len, name, &id, &back, NULL, NULL), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "cold_dir"), "%s", siglog_errdetail());
}

/* warm_after <= cold_after <= delete_after where set: a config that
 * breaks the order is refused naming both settings, a stream.meta that
 * holds one is damage. */
Test(settings, tier_ages_come_in_order)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.warm_after = 7 * 86400000000ull;
    c.delete_after = 86400000000ull;
    cr_assert_eq(sl_stream_config_normalize(&c, UINT64_MAX), SIGLOG_EINVAL);
    cr_assert(strstr(siglog_errdetail(), "delete_after") && strstr(siglog_errdetail(), "warm_after"), "%s",
              siglog_errdetail());
    uint8_t buf[STREAM_META_BYTES_MAX];
    size_t len = sl_stream_meta_encode(buf, "s", 1, &c, NULL);
    siglog_stream_config back;
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    cr_assert_eq(sl_stream_meta_decode(buf, len, name, &id, &back, NULL, NULL), SIGLOG_ECORRUPT);
    c.delete_after = 0; /* never: fits anywhere */
    c.cold_after = c.warm_after; /* equal ages are in order */
    cr_assert_eq(sl_stream_config_normalize(&c, UINT64_MAX), 0, "%s", siglog_errdetail());
    c.cold_after = c.warm_after - 1;
    cr_assert_eq(sl_stream_config_normalize(&c, UINT64_MAX), SIGLOG_EINVAL);
}

/* Each setting on its own at a value other than its default, so a
 * setting the codec drops or mixes up with another is seen. */
Test(settings, every_setting_round_trips_through_stream_meta)
{
    for (size_t i = 0; i < sl_settings_count(); i++) {
        const settings_row *r = sl_settings_row_at(i);
        siglog_stream_config c, back;
        siglog_stream_config_default(&c);
        sl_settings_put(&c, r, other_value(r));
        uint8_t buf[STREAM_META_BYTES_MAX];
        size_t len = sl_stream_meta_encode(buf, "s", 7, &c, NULL);
        char name[SIGLOG_NAME_MAX + 1];
        uint32_t id;
        int version;
        cr_assert_eq(sl_stream_meta_decode(buf, len, name, &id, &back, NULL, &version), 0, "%s: %s", r->pub.name,
                     siglog_errdetail());
        cr_assert_eq(version, 2);
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
    for (size_t i = 0; i < sl_settings_count(); i++) {
        const settings_row *r = sl_settings_row_at(i);
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

/* ---- stream.meta v2: tags a reader does not know ---- */

/* extra holding one entry: tag, 3 value bytes. */
static stream_meta_extra one_entry(uint16_t tag)
{
    stream_meta_extra e = { .len = 7 };
    put_le16(e.bytes, tag);
    put_le16(e.bytes + 2, 3);
    memcpy(e.bytes + 4, "abc", 3);
    return e;
}

Test(settings, unknown_optional_tag_is_kept_in_place_on_rewrite)
{
    siglog_stream_config c, back;
    siglog_stream_config_default(&c);
    c.linger_us = 777;
    /* 0x0100 sorts between the writer's tags 0x000A and 0x8001. */
    stream_meta_extra in = one_entry(0x0100), out;
    uint8_t buf[STREAM_META_BYTES_MAX], again[STREAM_META_BYTES_MAX];
    size_t len = sl_stream_meta_encode(buf, "s", 3, &c, &in);
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    cr_assert_eq(sl_stream_meta_decode(buf, len, name, &id, &back, &out, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(back.linger_us, 777);
    cr_assert_eq(out.len, in.len);
    cr_assert_eq(memcmp(out.bytes, in.bytes, in.len), 0);
    cr_assert_eq(sl_stream_meta_encode(again, name, id, &back, &out), len);
    cr_assert_eq(memcmp(again, buf, len), 0, "a rewrite changed the file");
    /* The entry sits in tag order: right before partitions (0x8001). */
    const uint8_t *at = memmem(buf, len, in.bytes, in.len);
    cr_assert_not_null(at);
    cr_assert_eq(get_le16(at + in.len), sl_settings_by_tag(0x8001)->tag);
}

Test(settings, unknown_must_understand_tag_is_refused_naming_it)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    stream_meta_extra in = one_entry(0x8100);
    uint8_t buf[STREAM_META_BYTES_MAX];
    size_t len = sl_stream_meta_encode(buf, "s", 3, &c, &in);
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    cr_assert_eq(sl_stream_meta_decode(buf, len, name, &id, &c, NULL, NULL), SIGLOG_EVERSION);
    cr_assert(strstr(siglog_errdetail(), "tag 0x8100 must be understood"), "%s", siglog_errdetail());
    /* A known setting's tag with the bit flipped is damage, not news. */
    in = one_entry(0x8005);
    len = sl_stream_meta_encode(buf, "s", 3, &c, &in);
    cr_assert_eq(sl_stream_meta_decode(buf, len, name, &id, &c, NULL, NULL), SIGLOG_ECORRUPT);
}

/* A v2 file without a setting gives it its default: a newer setting is
 * absent from files older writers wrote. */
Test(settings, missing_setting_takes_its_default)
{
    siglog_stream_config c, back, def;
    siglog_stream_config_default(&def);
    c = def;
    c.linger_us = 777;
    c.batch_bytes_max = 2048;
    uint8_t buf[STREAM_META_BYTES_MAX];
    size_t len = sl_stream_meta_encode(buf, "s", 3, &c, NULL);
    /* Drop linger_us (tag 9): the entries are 12 bytes each, in tag order. */
    uint8_t *e = buf + STREAM_META_HEADER_BYTES + 1;
    while (get_le16(e) != 9)
        e += 12;
    memmove(e, e + 12, (size_t)(buf + len - (e + 12)));
    len -= 12;
    put_le32(buf + 12, get_le32(buf + 12) - 12);
    put_le64(buf + len - 8, XXH3_64bits(buf, len - 8));
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    cr_assert_eq(sl_stream_meta_decode(buf, len, name, &id, &back, NULL, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(back.linger_us, def.linger_us);
    cr_assert_eq(back.batch_bytes_max, 2048);
}

static void write_meta(const char *store, const char *stream, stream_meta_extra *extra)
{
    char rel[256];
    snprintf(rel, sizeof rel, "streams/%s/stream.meta", stream);
    char *path = test_path(store, rel);
    uint8_t buf[STREAM_META_BYTES_MAX];
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    siglog_stream_config c;
    cr_assert_eq(sl_stream_meta_decode(buf, len, name, &id, &c, NULL, NULL), 0, "%s", siglog_errdetail());
    len = sl_stream_meta_encode(buf, name, id, &c, extra);
    f = fopen(path, "wb");
    cr_assert(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0, "%s", path);
    free(path);
}

/* Through a store: the stream with a tag it must understand fails alone,
 * naming the tag; one with an optional unknown tag works. */
Test(settings, store_fails_only_the_stream_with_a_must_understand_tag)
{
    char *dir = test_tmpdir("settings_mu");
    siglog *s = test_store_open(dir, NULL);
    test_stream_create(s, "newer", 1, SIGLOG_SYNC_INTERVAL, 1 << 20);
    test_stream_create(s, "fine", 2, SIGLOG_SYNC_INTERVAL, 1 << 20);
    cr_assert_eq(siglog_close(s), 0);
    stream_meta_extra mu = one_entry(0x8123), opt = one_entry(0x0123);
    write_meta(dir, "newer", &mu);
    write_meta(dir, "fine", &opt);

    for (int writable = 1; writable >= 0; writable--) {
        siglog_options o;
        siglog_options_default(&o);
        o.read_only = !writable;
        cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
        siglog_stream *st;
        cr_assert_eq(siglog_stream_get(s, "newer", &st), SIGLOG_EVERSION);
        cr_assert(strstr(siglog_errdetail(), "0x8123"), "%s", siglog_errdetail());
        cr_assert_eq(siglog_stream_get(s, "fine", &st), 0, "%s", siglog_errdetail());
        siglog_stream_config c;
        siglog_stream_config_get(st, &c);
        cr_assert_eq(c.partitions, 2);
        cr_assert_eq(siglog_close(s), 0);
    }
    test_rmtree(dir);
    free(dir);
}

/* The committed version 1 vectors decode to the same streams as the
 * version 2 files of the same vectors. */
Test(settings, v1_and_v2_vectors_decode_alike)
{
    const char *v1 = getenv("SIGLOG_FORMAT_VECTORS_V1"), *v2 = getenv("SIGLOG_FORMAT_VECTORS");
    cr_assert(v1 && v2, "SIGLOG_FORMAT_VECTORS(_V1) not set");
    static const char *const metas[] = { "basic/store/streams/events/stream.meta",
                                         "segments/store/streams/telemetry/stream.meta",
                                         "lz4/store/streams/clicks/stream.meta" };
    for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++) {
        siglog_stream_config c[2];
        char name[2][SIGLOG_NAME_MAX + 1];
        uint32_t id[2];
        for (int v = 0; v < 2; v++) {
            char *path = test_path(v ? v2 : v1, metas[i]);
            uint8_t buf[STREAM_META_BYTES_MAX];
            FILE *f = fopen(path, "rb");
            cr_assert_not_null(f, "%s", path);
            size_t len = fread(buf, 1, sizeof buf, f);
            fclose(f);
            int version;
            cr_assert_eq(sl_stream_meta_decode(buf, len, name[v], &id[v], &c[v], NULL, &version), 0, "%s: %s", path,
                         siglog_errdetail());
            cr_assert_eq(version, v + 1, "%s", path);
            free(path);
        }
        cr_assert_str_eq(name[0], name[1]);
        cr_assert_eq(id[0], id[1]);
        cr_assert_eq(memcmp(&c[0], &c[1], sizeof c[0]), 0, "%s", metas[i]);
    }
}
