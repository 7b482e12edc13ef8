/*
 * fuzz_support — what the file-based fuzz targets share: one scratch
 * directory per process on a RAM file system (emptied between inputs),
 * whole-file writes, checksum repair so that mutations get past the
 * checksums to the parsers behind them, and the way a target reports a
 * broken oracle (message, then abort, which is what a fuzzer catches).
 */
#ifndef SIGLOG_FUZZ_SUPPORT_H
#define SIGLOG_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* The process's scratch directory, created on first use under /dev/shm
 * (or $TMPDIR, or /tmp, when /dev/shm is missing) and removed at exit. */
const char *fuzz_scratch(void);
/* "<dir>/<name>" into a malloc'd string; aborts when out of memory. */
char *fuzz_path(const char *dir, const char *name);
/* Make directory dir (and parents below the scratch root); aborts on error. */
void fuzz_mkdirs(const char *dir);
/* Create or replace a file with exactly these bytes; aborts on error. */
void fuzz_write_file(const char *path, const void *data, size_t len);
/* Read a whole file into a malloc'd buffer; NULL when missing. */
uint8_t *fuzz_read_file(const char *path, size_t *len);
/* Remove everything inside dir (recursively), keeping dir itself. */
void fuzz_empty_dir(const char *dir);
/* Copy the tree src to dst (dst must not exist). */
void fuzz_copy_tree(const char *src, const char *dst);

/* Walk p[0..len) as back-to-back batches and rewrite both checksums of
 * every batch whose magic is right and whose body fits, so that mutated
 * headers and bodies reach the checks behind the checksums. Stops at the
 * first position that does not hold a batch magic. Returns the bytes
 * walked. */
size_t fuzz_repair_batches(uint8_t *p, size_t len);

/* The .seg bytes of a segment target's input (a flags byte and a
 * parameter byte come first; NULL when the input is shorter), copied
 * (checksums repaired with `repair`) into a malloc'd buffer for the
 * caller to free; *len their count. */
uint8_t *fuzz_segment_bytes(const uint8_t *data, size_t size, int repair, size_t *len);
/* "<scratch>/part", created once, and the path of its segment at base 0. */
void fuzz_segment_paths(char **dir, char **seg_path);

/* The file of an input whose first byte holds the target's options:
 * *opts that byte, and the bytes after it copied into a malloc'd buffer
 * (never NULL, even for none) for the caller to free, *len their count.
 * NULL, with nothing set, when the input is empty. */
uint8_t *fuzz_options_and_file(const uint8_t *data, size_t size, unsigned *opts, size_t *len);
/* Rewrite the last 8 bytes of p[0..len) as the honest XXH3-64 of the
 * bytes before them, when len >= min_len (a file's smallest size, so that
 * a file too short to hold its checksum is left as the fuzzer made it). */
void fuzz_repair_trailer(uint8_t *p, size_t len, size_t min_len);
/* The file of a target whose format ends in the XXH3-64 of the bytes
 * before it: as fuzz_options_and_file gives it, its trailer made honest
 * (fuzz_repair_trailer from min_len) when bit 0 of the options byte is
 * set, so that mutations reach the field checks. NULL when the input is
 * empty. */
uint8_t *fuzz_file_opt_trailer(const uint8_t *data, size_t size, size_t min_len, size_t *len);
/* Run check on data, then (when size >= 8) on a copy whose last 8 bytes
 * are the honest XXH3-64 of the rest: for files that end in a checksum of
 * everything before it, so that mutations reach the checks behind it. */
void fuzz_with_honest_trailer(const uint8_t *data, size_t size, void (*check)(const uint8_t *data, size_t size));
/* A decoder's refusal (rc != 0) must be SIGLOG_ECORRUPT, SIGLOG_EVERSION
 * or SIGLOG_ENOMEM, with a detail: fuzz_fail naming target otherwise. */
void fuzz_check_refusal(const char *target, int rc);
/* A refusal (rc != 0) of the file called name must be SIGLOG_ECORRUPT or
 * SIGLOG_EVERSION with a detail naming that file: fuzz_fail naming target
 * otherwise. */
void fuzz_check_refusal_names(const char *target, int rc, const char *name);

/* Report a broken oracle and abort. */
void fuzz_fail(const char *target, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
