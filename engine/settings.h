/*
 * settings — the table of stream settings (siglog.h, "Stream settings").
 *
 * A stream setting is one row here and nowhere else: its name (the
 * siglog_stream_config field, spelled the same by `--set`, `stream list
 * --json` and the man page), its type and unit, its range and default,
 * whether `stream config` may change it after creation, its tag in
 * stream.meta v2 (format-spec/FORMAT.md §4) and where it lives in
 * siglog_stream_config. siglog_stream_config_default, the range checks of
 * sl_stream_config_normalize, the tool's option parsing and JSON and the man
 * page check (tests/test_settings.c) all loop over this table, so a new
 * setting is one new row (and its field in siglog_stream_config).
 */
#ifndef SIGLOG_SETTINGS_H
#define SIGLOG_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "siglog.h"

/* A stream.meta v2 tag with this bit set must be understood by a reader:
 * one that does not know it refuses the stream (its meaning changes how
 * the stream's bytes are read or routed). Without it, a reader that does
 * not know the tag ignores the entry and keeps it on rewrite. */
#define SETTINGS_TAG_MUST_UNDERSTAND 0x8000u

typedef struct settings_row {
    siglog_setting pub;  /* first: siglog_setting_at hands out &row->pub */
    uint16_t tag;        /* stream.meta v2 tag, SETTINGS_TAG_MUST_UNDERSTAND included */
    uint16_t width;      /* bytes of the field in siglog_stream_config: 4 or 8,
                          * or (SIGLOG_SETTING_TEXT) SIGLOG_SETTING_TEXT_MAX + 1 */
    size_t offset;       /* of the field in siglog_stream_config */
} settings_row;

/* Text settings (SIGLOG_SETTING_TEXT) are not numbers: the calls on
 * numbers below see them as 0 and leave them alone (sl_settings_put
 * empties one), and these handle them. Every other call works on both. */
static inline int sl_settings_is_text(const settings_row *r)
{
    return r->pub.type == SIGLOG_SETTING_TEXT;
}
/* The text in c (inside c). */
const char *sl_settings_text(const siglog_stream_config *c, const settings_row *r);
/* SIGLOG_EINVAL naming the setting and the rule its value v breaks; else
 * 0 (see siglog_setting_set_text). */
int sl_settings_check_text(const settings_row *r, const char *v);
/* No check: callers check with sl_settings_check_text. v fits. */
void sl_settings_put_text(siglog_stream_config *c, const settings_row *r, const char *v);
/* Whether a and b hold the same value of r. */
int sl_settings_equal(const siglog_stream_config *a, const siglog_stream_config *b, const settings_row *r);
/* The value of r in c as sl_settings_format writes it, a text as it is
 * ("" when off), for messages and the audit trail. */
const char *sl_settings_describe(const siglog_stream_config *c, const settings_row *r, char *buf, size_t cap);
/* Every setting of c in range (numbers) or by its rule (texts). */
int sl_settings_check_all(const siglog_stream_config *c);

size_t sl_settings_count(void);
const settings_row *sl_settings_row_at(size_t i);
const settings_row *sl_settings_by_tag(uint16_t tag);
uint64_t sl_settings_get(const siglog_stream_config *c, const settings_row *r);
/* No range check: callers check with sl_settings_check. */
void sl_settings_put(siglog_stream_config *c, const settings_row *r, uint64_t v);
/* The same, atomically: a live stream's settings may change under its
 * readers (sl_stream_config_load, siglog_stream_config_set). */
uint64_t sl_settings_load(const siglog_stream_config *c, const settings_row *r);
void sl_settings_store(siglog_stream_config *c, const settings_row *r, uint64_t v);
/* SIGLOG_EINVAL naming the setting, its value and its range when v is
 * outside it; else 0. */
int sl_settings_check(const settings_row *r, uint64_t v);
/* v as stream.meta holds it, for messages and the audit trail: the
 * number, or "10%" for a percent of SIGLOG_SETTING_SPACE; buf of 32. */
const char *sl_settings_format(const settings_row *r, uint64_t v, char *buf, size_t cap);

#endif
