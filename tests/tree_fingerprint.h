/*
 * tree_fingerprint — one line per file and directory below a directory,
 * sorted: its path relative to it, type and mode, size, mtime (ns) and a
 * hash of its contents. Two equal fingerprints: nothing was created,
 * removed, renamed or changed, not even touched. Shared by the Criterion
 * suites (support.h) and the fuzz targets, so it depends on neither.
 */
#ifndef SIGLOG_TEST_TREE_FINGERPRINT_H
#define SIGLOG_TEST_TREE_FINGERPRINT_H

/* The fingerprint of dir (malloc'd), or NULL with errno when the tree
 * cannot be read. */
char *tree_fingerprint(const char *dir);

#endif
