/*
 * crash_proc — the modes of the crash_writer program, which the crash
 * suites run as real processes (killed, cut off from their disk, tailing):
 *   init   create the store and its streams
 *   write  append from several threads, log every acknowledged event
 *   read   tail every partition read-only, log every record seen
 *   check  recover the store and prove the logs against it
 * Options shared by the modes, and the store opening they share.
 */
#ifndef CRASH_PROC_H
#define CRASH_PROC_H

#include <stdint.h>

#include "siglog.h"

typedef struct crash_config {
    uint64_t journal_bytes;  /* siglog_options.journal_bytes */
    uint64_t segment_bytes;  /* stream segment_bytes_max at init */
} crash_config;

/* Open the store at dir with the suites' options; prints why on failure. */
int crash_open(siglog **s, const char *dir, const crash_config *cfg, int read_only,
               void (*log_fn)(void *, int, const char *));
/* Look up every crash stream into st[]; prints why on failure. */
int crash_streams_get(siglog *s, siglog_stream **st);

int crash_init_main(const crash_config *cfg, int argc, char **argv);
int crash_write_main(const crash_config *cfg, int argc, char **argv);
int crash_read_main(const crash_config *cfg, int argc, char **argv);
int crash_check_main(const crash_config *cfg, int argc, char **argv);

#endif
