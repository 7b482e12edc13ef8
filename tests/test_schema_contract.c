/*
 * schema_contract — the stream setting `contract` on library appends:
 * off accepts anything; warn refuses unregistered versions and counts
 * nonconforming events per version and per JSON path; enforce refuses
 * them with path and reason. A refused call appends nothing (the
 * partitions' next offsets do not move) and counts nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "siglog.h"
#include "support.h"

#define V1                                                                                                       \
    "{\"type\":\"object\",\"required\":[\"user\"],\"properties\":{\"user\":{\"type\":\"string\"},"               \
    "\"n\":{\"type\":\"integer\"}}}"

static siglog *store;
static char *dir;

static void setup(void)
{
    dir = test_tmpdir("schema_contract");
    store = test_store_open(dir, NULL);
}

static void teardown(void)
{
    siglog_close(store);
    test_rmtree(dir);
}

TestSuite(schema_contract, .init = setup, .fini = teardown);

static siglog_stream *stream_with(const char *name, uint32_t contract, uint32_t partitions)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = partitions;
    c.contract = contract;
    c.sync_policy = SIGLOG_SYNC_ALWAYS;
    cr_assert_eq(siglog_stream_create(store, name, &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(store, name, &st), 0);
    cr_assert_eq(siglog_schema_add(st, 1, "v1", V1, strlen(V1), SIGLOG_COMPAT_NONE, NULL, NULL), 0);
    return st;
}

static siglog_event ev(const char *key, const char *value, uint32_t version)
{
    return (siglog_event){ .key = key, .key_len = key ? strlen(key) : 0, .value = value,
                           .value_len = strlen(value), .schema_version = version };
}

static uint64_t next_offsets(siglog_stream *st)
{
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    uint64_t sum = 0;
    for (uint32_t p = 0; p < c.partitions; p++) {
        siglog_partition_info info;
        cr_assert_eq(siglog_partition_info_get(st, p, &info), 0);
        sum += info.next_offset;
    }
    return sum;
}

Test(schema_contract, off_accepts_every_event)
{
    siglog_stream *st = stream_with("off", SIGLOG_CONTRACT_OFF, 1);
    siglog_event e[] = { ev(NULL, "{\"user\":1}", 1), ev(NULL, "not json", 7), ev(NULL, "{}", 0) };
    cr_assert_eq(siglog_append(st, 0, e, 3, NULL, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(next_offsets(st), 3);
}

Test(schema_contract, enforce_refuses_a_nonconforming_event_and_appends_nothing_of_its_call)
{
    siglog_stream *st = stream_with("enforced", SIGLOG_CONTRACT_ENFORCE, 3);
    siglog_event ok = ev("a", "{\"user\":\"u1\",\"n\":2}", 1);
    cr_assert_eq(siglog_append(st, SIGLOG_PARTITION_BY_KEY, &ok, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    /* Events for several partitions; the third breaks the contract. */
    siglog_event call[] = { ev("a", "{\"user\":\"u2\"}", 1), ev("b", "{\"user\":\"u3\"}", 1),
                            ev("c", "{\"n\":1.5}", 1) };
    cr_assert_eq(siglog_append(st, SIGLOG_PARTITION_BY_KEY, call, 3, NULL, NULL), SIGLOG_ESCHEMA);
    cr_assert_str_eq(siglog_errdetail(),
                     "event 2 does not conform to schema version 1 of stream 'enforced': $.n is number, expected "
                     "integer; $.user is required but missing; nothing of this call was appended");
    cr_assert_eq(next_offsets(st), 1);
    /* An unregistered version, and version 0 (no schema), are refused too. */
    siglog_event unknown[] = { ev("a", "{\"user\":\"u\"}", 1), ev("a", "{\"user\":\"u\"}", 2) };
    cr_assert_eq(siglog_append(st, SIGLOG_PARTITION_BY_KEY, unknown, 2, NULL, NULL), SIGLOG_ESCHEMA);
    cr_assert(strstr(siglog_errdetail(), "event 1 has schema version 2, which stream 'enforced' has not registered"),
              "%s", siglog_errdetail());
    siglog_event none = ev("a", "{\"user\":\"u\"}", 0);
    cr_assert_eq(siglog_append(st, SIGLOG_PARTITION_BY_KEY, &none, 1, NULL, NULL), SIGLOG_ESCHEMA);
    cr_assert_eq(next_offsets(st), 1);
    cr_assert_eq(siglog_append(st, SIGLOG_PARTITION_BY_KEY, call, 2, NULL, NULL), 0);
    cr_assert_eq(next_offsets(st), 3);
}

/* The check keeps the version it found last while a call's events name
 * it: each event is still judged by its own version when they alternate,
 * so an event valid only under the version of the one before it is
 * refused, and one of a version not registered after one that is. */
Test(schema_contract, enforce_judges_each_event_by_its_own_version_when_a_call_mixes_them)
{
    static const char v2[] = "{\"type\":\"object\",\"required\":[\"n\"],\"additionalProperties\":false,"
                             "\"properties\":{\"n\":{\"type\":\"integer\"}}}";
    siglog_stream *st = stream_with("mixed", SIGLOG_CONTRACT_ENFORCE, 1);
    cr_assert_eq(siglog_schema_add(st, 2, "v2", v2, strlen(v2), SIGLOG_COMPAT_NONE, NULL, NULL), 0, "%s",
                 siglog_errdetail());
    siglog_event good[] = { ev(NULL, "{\"user\":\"u\"}", 1), ev(NULL, "{\"n\":1}", 2), ev(NULL, "{\"n\":2}", 2),
                            ev(NULL, "{\"user\":\"v\",\"n\":3}", 1) };
    cr_assert_eq(siglog_append(st, 0, good, 4, NULL, NULL), 0, "%s", siglog_errdetail());
    /* Valid under version 1 (user given, n an integer), not under 2. */
    siglog_event bad[] = { ev(NULL, "{\"user\":\"u\",\"n\":4}", 1), ev(NULL, "{\"user\":\"u\",\"n\":5}", 2) };
    cr_assert_eq(siglog_append(st, 0, bad, 2, NULL, NULL), SIGLOG_ESCHEMA);
    cr_assert_str_eq(siglog_errdetail(),
                     "event 1 does not conform to schema version 2 of stream 'mixed': $.user is not allowed: "
                     "additionalProperties is false; nothing of this call was appended");
    siglog_event unknown[] = { ev(NULL, "{\"n\":6}", 2), ev(NULL, "{\"n\":7}", 3) };
    cr_assert_eq(siglog_append(st, 0, unknown, 2, NULL, NULL), SIGLOG_ESCHEMA);
    cr_assert(strstr(siglog_errdetail(), "event 1 has schema version 3, which stream 'mixed' has not registered"),
              "%s", siglog_errdetail());
    cr_assert_eq(next_offsets(st), 4);
}

Test(schema_contract, warn_stores_and_counts_per_version_and_path)
{
    siglog_stream *st = stream_with("warned", SIGLOG_CONTRACT_WARN, 1);
    siglog_event e[] = { ev(NULL, "{\"user\":\"u\"}", 1), ev(NULL, "{\"n\":\"x\"}", 1), ev(NULL, "{\"user\":5}", 1),
                         ev(NULL, "not json", 1) };
    cr_assert_eq(siglog_append(st, 0, e, 4, NULL, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(next_offsets(st), 4);
    test_check_violations(st, 1, 3, "$.n=1 $.user=2 $=1");
    /* A refused call (an unregistered version in it) counts nothing. */
    siglog_event refused[] = { ev(NULL, "{\"n\":\"y\"}", 1), ev(NULL, "{}", 3) };
    cr_assert_eq(siglog_append(st, 0, refused, 2, NULL, NULL), SIGLOG_ESCHEMA);
    cr_assert_eq(next_offsets(st), 4);
    test_check_violations(st, 1, 3, "$.n=1 $.user=2 $=1");
    cr_assert_eq(siglog_schema_violations(st, 5, NULL, NULL, NULL), SIGLOG_ENOENT);
}

Test(schema_contract, the_setting_persists_and_refuses_a_bad_value)
{
    stream_with("kept", SIGLOG_CONTRACT_ENFORCE, 1);
    siglog_close(store);
    store = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(store, "kept", &st), 0);
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    cr_assert_eq(c.contract, SIGLOG_CONTRACT_ENFORCE);
    siglog_event bad = ev(NULL, "{}", 1);
    cr_assert_eq(siglog_append(st, 0, &bad, 1, NULL, NULL), SIGLOG_ESCHEMA);

    siglog_stream_config_default(&c);
    c.contract = 3;
    cr_assert_eq(siglog_stream_create(store, "bad", &c), SIGLOG_EINVAL);
    cr_assert(strstr(siglog_errdetail(), "contract is 3, must be 0..2"), "%s", siglog_errdetail());
    const siglog_setting *set = siglog_setting_find("contract");
    cr_assert_not_null(set);
    cr_assert(set->is_mutable);
    cr_assert_str_eq(set->choices[SIGLOG_CONTRACT_WARN], "warn");
}
