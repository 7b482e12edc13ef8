/*
 * redact — the record filter siglog_redact (siglog.h): per the
 * event's own schema version, every value at or above the level is
 * replaced by its pseudonym or dropped, nested objects and array items
 * included; no byte of a redacted value is left; equal values give equal
 * pseudonyms, the same after a reopen; a version with nothing at the level
 * passes as stored; an unregistered version, or a value that is not an
 * object, is refused rather than passed through; the pseudonyms follow
 * FORMAT.md §25, recomputed here from store.secret with libsodium.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siglog.h"
#include "support.h"

#define V1                                                                                                       \
    "{\"type\":\"object\",\"properties\":{\"user\":{\"type\":\"string\",\"x-sensitivity\":\"personal\"},"        \
    "\"email\":{\"type\":\"string\",\"x-sensitivity\":\"secret\"},\"action\":{\"type\":\"string\"},"              \
    "\"device\":{\"type\":\"object\",\"properties\":{\"id\":{\"x-sensitivity\":\"personal\"}},"                   \
    "\"additionalProperties\":{\"type\":\"string\",\"x-sensitivity\":\"internal\"}},"                            \
    "\"tags\":{\"type\":\"array\",\"items\":{\"x-sensitivity\":\"personal\"}}}}"
#define V2 "{\"type\":\"object\",\"properties\":{\"action\":{\"type\":\"string\"}}}"

static char *dir;
static siglog *store;
static siglog_stream *st;

static const char *const values[] = {
    ("{\"user\":\"alice-7f3a\",\"email\":\"alice@example.org\",\"action\":\"click\","
     "\"device\":{\"id\":90210417,\"model\":\"fairphone-4\"},\"tags\":[\"tag-ruby\",{\"k\":\"tag-jade\"}]}"),
    "{\"user\":\"bob-22c1\",\"action\":\"view\",\"device\":{\"id\":{\"deep\":\"inner-secret\"}}}",
    "{\"user\":\"alice-7f3a\",\"action\":\"view\"}",
};
static const char *const hidden[] = { "alice-7f3a", "alice@example.org", "90210417", "tag-ruby", "tag-jade",
                                      "bob-22c1", "inner-secret" };

static void setup(void)
{
    dir = test_tmpdir("redact");
    store = test_store_open(dir, NULL);
    st = test_stream_create(store, "ev", 1, SIGLOG_SYNC_ALWAYS, 0);
    cr_assert_eq(siglog_schema_add(st, 1, "v1", V1, strlen(V1), SIGLOG_COMPAT_NONE, NULL, NULL), 0, "%s",
                 siglog_errdetail());
    cr_assert_eq(siglog_schema_add(st, 2, "v2", V2, strlen(V2), SIGLOG_COMPAT_NONE, NULL, NULL), 0);
    for (size_t i = 0; i < 3; i++) {
        siglog_event e = { .value = values[i], .value_len = strlen(values[i]), .schema_version = 1 };
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
}

static void teardown(void)
{
    siglog_close(store);
    test_rmtree(dir);
    free(dir);
}

TestSuite(redact, .init = setup, .fini = teardown);

/* The redacted values of the stream's records, joined by '\n' into out. */
static void redact_all(siglog_stream *s, int level, int mode, char *out, size_t cap)
{
    siglog_redactor *r;
    cr_assert_eq(siglog_redactor_open(&r, s, level, mode), 0, "%s", siglog_errdetail());
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, s, 0, SIGLOG_SEEK_START, 0, 0), 0);
    const siglog_record *rec;
    size_t n = 0;
    while (siglog_cursor_next(c, &rec) == 1) {
        const void *v;
        size_t len;
        cr_assert_eq(siglog_redact(r, rec, &v, &len), 0, "%s", siglog_errdetail());
        cr_assert_lt(n + len + 1, cap);
        memcpy(out + n, v, len);
        n += len;
        out[n++] = '\n';
    }
    out[n] = '\0';
    siglog_cursor_close(c);
    siglog_redactor_close(r);
}

/* The pseudonym standing for "user" in line `line` of out. */
static void user_of(const char *out, int line, char pseud[65])
{
    const char *p = out;
    for (int i = 0; i < line; i++)
        p = strchr(p, '\n') + 1;
    const char *u = strstr(p, "\"user\":\"");
    cr_assert_not_null(u);
    memcpy(pseud, u + 8, 64);
    pseud[64] = '\0';
    cr_assert_eq(u[8 + 64], '"', "a pseudonym is 64 hex digits");
}

Test(redact, personal_values_never_appear_and_pseudonyms_join)
{
    static char out[8192];
    redact_all(st, SIGLOG_SENSITIVITY_PERSONAL, SIGLOG_REDACT_HASH, out, sizeof out);
    for (size_t i = 0; i < sizeof hidden / sizeof *hidden; i++)
        cr_assert_null(strstr(out, hidden[i]), "%s appears in\n%s", hidden[i], out);
    cr_assert(strstr(out, "\"action\":\"click\""), "%s", out);
    cr_assert(strstr(out, "\"model\":\"fairphone-4\""), "internal stays at personal:\n%s", out);
    char a0[65], b1[65], a2[65];
    user_of(out, 0, a0);
    user_of(out, 1, b1);
    user_of(out, 2, a2);
    cr_assert_str_eq(a0, a2, "equal values, equal pseudonyms");
    cr_assert_str_neq(a0, b1);
    /* Stable across handles. */
    siglog_close(store);
    store = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(store, "ev", &st), 0);
    static char again[8192];
    redact_all(st, SIGLOG_SENSITIVITY_PERSONAL, SIGLOG_REDACT_HASH, again, sizeof again);
    cr_assert_str_eq(out, again);
}

Test(redact, levels_and_drop)
{
    static char out[8192];
    redact_all(st, SIGLOG_SENSITIVITY_SECRET, SIGLOG_REDACT_HASH, out, sizeof out);
    cr_assert(strstr(out, "\"user\":\"alice-7f3a\""), "personal stays at secret:\n%s", out);
    cr_assert_null(strstr(out, "alice@example.org"));
    redact_all(st, SIGLOG_SENSITIVITY_INTERNAL, SIGLOG_REDACT_DROP, out, sizeof out);
    cr_assert_str_eq(out, "{\"action\":\"click\",\"device\":{},\"tags\":[]}\n"
                          "{\"action\":\"view\",\"device\":{}}\n"
                          "{\"action\":\"view\"}\n");
}

Test(redact, refuses_what_it_cannot_redact_and_passes_what_needs_none)
{
    const char *plain = "{\"action\":\"view\",\"user\":\"carol\"}";
    siglog_event e[] = { { .value = plain, .value_len = strlen(plain), .schema_version = 2 },
                         { .value = plain, .value_len = strlen(plain), .schema_version = 9 },
                         { .value = "[1]", .value_len = 3, .schema_version = 1 } };
    uint64_t off[3];
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(siglog_append(st, 0, &e[i], 1, NULL, &off[i]), 0);
    siglog_redactor *r;
    cr_assert_eq(siglog_redactor_open(&r, st, SIGLOG_SENSITIVITY_PERSONAL, SIGLOG_REDACT_HASH), 0);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_OFFSET, (int64_t)off[0], 0), 0);
    const siglog_record *rec;
    const void *v;
    size_t len;
    cr_assert_eq(siglog_cursor_next(c, &rec), 1);
    cr_assert_eq(siglog_redact(r, rec, &v, &len), 0);
    cr_assert(v == rec->value && len == rec->value_len, "version 2 marks nothing: passed as stored");
    cr_assert_eq(siglog_cursor_next(c, &rec), 1);
    cr_assert_eq(siglog_redact(r, rec, &v, &len), SIGLOG_ESCHEMA);
    cr_assert(strstr(siglog_errdetail(), "schema version 9, which stream 'ev' has not registered"), "%s",
              siglog_errdetail());
    cr_assert_eq(siglog_cursor_next(c, &rec), 1);
    cr_assert_eq(siglog_redact(r, rec, &v, &len), SIGLOG_ESCHEMA);
    cr_assert(strstr(siglog_errdetail(), "is not a JSON object"), "%s", siglog_errdetail());
    siglog_cursor_close(c);
    siglog_redactor_close(r);
    cr_assert_eq(siglog_redactor_open(&r, st, 7, SIGLOG_REDACT_HASH), SIGLOG_EINVAL);
}

/* FORMAT.md §25, recomputed as an auditor would: the secret's bytes from
 * store.secret (16..47), K = BLAKE2b-256("siglog-redact-v1") keyed with
 * it, the pseudonym = hex of BLAKE2b-256 of the value's compact JSON keyed
 * with K. */
Test(redact, pseudonyms_follow_the_documented_formula)
{
    static char out[8192];
    redact_all(st, SIGLOG_SENSITIVITY_PERSONAL, SIGLOG_REDACT_HASH, out, sizeof out);
    const struct {
        const char *text; /* compact JSON */
        int line;
        const char *field;
    } want[] = { { "\"alice-7f3a\"", 0, "\"user\":\"" }, { "90210417", 0, "\"id\":\"" },
                 { "{\"k\":\"tag-jade\"}", 0, ",\"" }, { "{\"deep\":\"inner-secret\"}", 1, "\"id\":\"" } };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char hex[65];
        test_documented_keyed_hash(dir, "siglog-redact-v1", want[i].text, strlen(want[i].text), hex);
        cr_assert(strstr(out, hex), "the pseudonym of %s (%s) is not in\n%s", want[i].text, hex, out);
    }
    char hex[65];
    test_documented_keyed_hash(dir, "siglog-redact-v1", "\"alice@example.org\"", 19, hex);
    redact_all(st, SIGLOG_SENSITIVITY_SECRET, SIGLOG_REDACT_HASH, out, sizeof out);
    cr_assert(strstr(out, hex), "%s", out);
}
