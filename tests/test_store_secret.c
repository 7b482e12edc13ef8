/*
 * store_secret — the store's key: made at creation with mode 0600 whatever
 * the store's modes, bound to its store, given to a store from before the
 * file at the writer's next open (never by a reader), never replaced, and
 * never made anew once an audit trail exists.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "codec.h"
#include "io.h"
#include "names.h"
#include "store.h"
#include "store_secret.h"
#include "support.h"

static char *dir;

static void setup(void)
{
    dir = test_tmpdir("store_secret");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(store_secret, .init = setup, .fini = teardown);

static char *sub(const char *name)
{
    return test_path(dir, name);
}

static void secret_of(siglog *s, uint8_t out[STORE_SECRET_BYTES])
{
    int rc = sl_store_secret_get(s, out);
    cr_assert_eq(rc, 0, "%s: %s", siglog_errname(rc), siglog_errdetail());
}

static siglog *open_read_only(const char *path)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *s = NULL;
    int rc = siglog_open(&s, path, &o);
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    return s;
}

Test(store_secret, made_at_creation_0600_even_when_the_store_shares_its_files)
{
    char *path = sub("store");
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.file_mode = 0640;
    o.dir_mode = 0750;
    o.journal_bytes = 1u << 20;
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, path, &o), 0, "%s", siglog_errdetail());
    char *secret = test_path(path, STORE_SECRET_FILE);
    struct stat st;
    cr_assert_eq(stat(secret, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600, "store.secret is %04o", (unsigned)(st.st_mode & 07777));
    cr_assert_eq(st.st_size, STORE_SECRET_FILE_BYTES);
    uint8_t a[STORE_SECRET_BYTES], b[STORE_SECRET_BYTES], zero[STORE_SECRET_BYTES] = {0};
    secret_of(s, a);
    cr_assert_neq(memcmp(a, zero, sizeof a), 0, "the secret is random, not zeros");
    cr_assert_eq(siglog_close(s), 0);
    /* The same key for a later writer and for a reader. */
    s = test_store_open(path, NULL);
    secret_of(s, b);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_eq(siglog_close(s), 0);
    s = open_read_only(path);
    secret_of(s, b);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_eq(siglog_close(s), 0);
    free(secret);
    free(path);
}

Test(store_secret, two_stores_get_different_keys)
{
    char *p1 = sub("one"), *p2 = sub("two");
    siglog *s1 = test_store_open(p1, NULL), *s2 = test_store_open(p2, NULL);
    uint8_t a[STORE_SECRET_BYTES], b[STORE_SECRET_BYTES];
    secret_of(s1, a);
    secret_of(s2, b);
    cr_assert_neq(memcmp(a, b, sizeof a), 0);
    siglog_close(s1);
    siglog_close(s2);
    free(p1);
    free(p2);
}

Test(store_secret, a_store_without_one_gets_it_at_the_writers_open_not_a_readers)
{
    char *path = sub("store");
    siglog *s = test_store_open(path, NULL);
    cr_assert_eq(siglog_close(s), 0);
    char *secret = test_path(path, STORE_SECRET_FILE);
    cr_assert_eq(unlink(secret), 0); /* as a store from before the file */

    s = open_read_only(path);
    uint8_t out[STORE_SECRET_BYTES];
    cr_assert_eq(sl_store_secret_get(s, out), SIGLOG_ENOENT);
    cr_assert_not_null(strstr(siglog_errdetail(), STORE_SECRET_FILE), "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(access(secret, F_OK), -1, "a reader wrote the secret");

    s = test_store_open(path, NULL);
    secret_of(s, out);
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(access(secret, F_OK), 0);
    free(secret);
    free(path);
}

Test(store_secret, with_an_audit_trail_a_lost_key_is_not_replaced)
{
    char *path = sub("store");
    siglog *s = test_store_open(path, NULL);
    cr_assert_eq(siglog_close(s), 0);
    char *secret = test_path(path, STORE_SECRET_FILE);
    char *audit = test_path(path, STORE_AUDIT_FILE);
    cr_assert_eq(unlink(secret), 0);
    FILE *f = fopen(audit, "w");
    cr_assert_not_null(f);
    fclose(f);

    /* The writer opens (appends need no key); what needs the key fails
     * naming what is missing. */
    s = test_store_open(path, NULL);
    uint8_t out[STORE_SECRET_BYTES];
    cr_assert_eq(sl_store_secret_get(s, out), SIGLOG_ENOENT);
    cr_assert_not_null(strstr(siglog_errdetail(), "audit trail"), "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(access(secret, F_OK), -1, "a new key was made over an audit trail");
    free(audit);
    free(secret);
    free(path);
}

Test(store_secret, never_replaced)
{
    char *path = sub("store");
    siglog *s = test_store_open(path, NULL);
    uint8_t before[STORE_SECRET_BYTES], after[STORE_SECRET_BYTES];
    secret_of(s, before);
    cr_assert_eq(sl_store_secret_create(sl_io_posix(), path, s->store_id, 0), SIGLOG_EEXIST);
    cr_assert_eq(sl_store_secret_load(sl_io_posix(), path, s->store_id, after), 0);
    cr_assert_eq(memcmp(before, after, sizeof before), 0);
    cr_assert_eq(siglog_close(s), 0);
    free(path);
}

Test(store_secret, a_key_from_another_store_or_damaged_is_refused)
{
    char *p1 = sub("one"), *p2 = sub("two");
    siglog *s1 = test_store_open(p1, NULL), *s2 = test_store_open(p2, NULL);
    uint64_t id1 = s1->store_id;
    cr_assert_eq(siglog_close(s1), 0);
    cr_assert_eq(siglog_close(s2), 0);
    char *k1 = test_path(p1, STORE_SECRET_FILE), *k2 = test_path(p2, STORE_SECRET_FILE);
    cr_assert_eq(rename(k2, k1), 0);
    uint8_t out[STORE_SECRET_BYTES];
    cr_assert_eq(sl_store_secret_load(sl_io_posix(), p1, id1, out), SIGLOG_ECORRUPT);
    cr_assert_not_null(strstr(siglog_errdetail(), "belongs to store"), "%s", siglog_errdetail());

    /* A writer still opens, without a key, saying why. */
    s1 = test_store_open(p1, NULL);
    cr_assert_eq(sl_store_secret_get(s1, out), SIGLOG_ENOENT);
    cr_assert_not_null(strstr(siglog_errdetail(), k1), "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s1), 0);

    test_flip_byte(k1, 20, 0x01);
    cr_assert_eq(sl_store_secret_load(sl_io_posix(), p1, id1, out), SIGLOG_ECORRUPT);
    cr_assert_not_null(strstr(siglog_errdetail(), "checksum"), "%s", siglog_errdetail());
    free(k1);
    free(k2);
    free(p1);
    free(p2);
}

Test(store_secret, codec_round_trip_and_field_checks)
{
    uint8_t key[STORE_SECRET_BYTES], buf[STORE_SECRET_FILE_BYTES], out[STORE_SECRET_BYTES];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    sl_store_secret_encode(buf, 0x1122334455667788ull, key);
    cr_assert_eq(sl_store_secret_decode(buf, sizeof buf, 0x1122334455667788ull, out), 0);
    cr_assert_eq(memcmp(key, out, sizeof key), 0);
    cr_assert_eq(sl_store_secret_decode(buf, sizeof buf - 1, 0x1122334455667788ull, out), SIGLOG_ECORRUPT);
    /* Version 2 with a valid checksum: unsupported, not damage. */
    buf[4] = 2;
    put_le64(buf + 48, XXH3_64bits(buf, 48));
    cr_assert_eq(sl_store_secret_decode(buf, sizeof buf, 0x1122334455667788ull, out), SIGLOG_EVERSION);
    buf[4] = 1;
    buf[7] = 1;
    put_le64(buf + 48, XXH3_64bits(buf, 48));
    cr_assert_eq(sl_store_secret_decode(buf, sizeof buf, 0x1122334455667788ull, out), SIGLOG_ECORRUPT);
    cr_assert_not_null(strstr(siglog_errdetail(), "reserved"));
}
