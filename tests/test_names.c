/*
 * names — a stream name can never leave its store directory.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "siglog.h"

Test(names, accepts_the_documented_alphabet)
{
    cr_assert_eq(sl_name_validate_stream("clicks"), 0);
    cr_assert_eq(sl_name_validate_stream("A-Z_a-z.0-9"), 0);
    cr_assert_eq(sl_name_validate_stream("x."), 0);
}

Test(names, refuses_everything_that_could_escape_or_hide)
{
    const char *bad[] = {"", ".", "..", ".x", "a/b", "/abs", "a\\b", "tab\t", "nl\n", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sl_name_validate_stream(bad[i]), SIGLOG_EINVAL, "accepted '%s'", bad[i]);
        cr_assert_neq(strlen(siglog_errdetail()), 0, "no detail for '%s'", bad[i]);
    }
    cr_assert_eq(sl_name_validate_stream(NULL), SIGLOG_EINVAL);
}

Test(names, bounds_the_length)
{
    char n[SIGLOG_NAME_MAX + 2];
    memset(n, 'a', sizeof n);
    n[SIGLOG_NAME_MAX] = '\0';
    cr_assert_eq(sl_name_validate_stream(n), 0);
    n[SIGLOG_NAME_MAX] = 'a';
    n[SIGLOG_NAME_MAX + 1] = '\0';
    cr_assert_eq(sl_name_validate_stream(n), SIGLOG_EINVAL);
}

Test(names, partition_dirs_sort_numerically)
{
    char *a = sl_path_partition_dir("s", 9), *b = sl_path_partition_dir("s", 10);
    cr_assert_lt(strcmp(a, b), 0);
    cr_assert_str_eq(a, "s/00009");
    free(a);
    free(b);
}
