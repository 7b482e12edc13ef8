/*
 * archive_file — what `siglog verify` and `siglog replay` do with an
 * archive file given in place of a store (cmd_archive.c).
 */
#ifndef SIGLOG_ARCHIVE_FILE_H
#define SIGLOG_ARCHIVE_FILE_H

/* 1 when path is a readable file that starts like an archive ("SGAV"). */
int archive_file_is(const char *path);

/* `siglog verify ARCHIVE [--json]`: open (which checks everything) and
 * describe it, or say what is wrong, naming the byte. CLI_OK or
 * CLI_FAILURE. */
int archive_file_verify(const char *cmd_name, const char *path, int json);

#endif
