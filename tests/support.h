/*
 * support — helpers shared by the tests: scratch directories and file
 * surgery (flip a byte, truncate), so each test states only what it proves.
 */
#ifndef SIGLOG_TEST_SUPPORT_H
#define SIGLOG_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* A fresh empty directory under $SIGLOG_TEST_TMP (or /tmp), unique per
 * call; returned string is static per call site until the next call.
 * Aborts the test (cr_assert) on failure. */
char *test_tmpdir(const char *tag);
/* rm -rf path (only under the test tmp root). */
void test_rmtree(const char *path);
/* File surgery: size, truncate, xor a byte, read whole file. */
uint64_t test_file_size(const char *path);
void test_truncate(const char *path, uint64_t size);
void test_flip_byte(const char *path, uint64_t pos, uint8_t mask);
/* Join: "<a>/<b>" into a malloc'd string (caller frees). */
char *test_path(const char *a, const char *b);
/* Deterministic pseudo-random numbers (splitmix64). */
uint64_t test_rand(uint64_t *state);

#endif
