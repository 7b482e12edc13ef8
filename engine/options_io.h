/*
 * options_io — the I/O implementation a store handle uses, set through
 * siglog_options' `internal` pointer. Not part of the public API: a
 * siglog_io can only be built with the engine's internal headers (io.h),
 * so only the library itself and its tests (fault and crash backends,
 * counting wrappers in benchmarks) set one. NULL means POSIX. The same
 * goes for siglog_verify, which takes no options: sl_verify_io.
 */
#ifndef SIGLOG_OPTIONS_IO_H
#define SIGLOG_OPTIONS_IO_H

#include "io.h"
#include "siglog.h"

static inline void sl_options_set_io(siglog_options *o, const siglog_io *io)
{
    o->internal = io;
}

static inline const siglog_io *sl_options_io(const siglog_options *o)
{
    return (const siglog_io *)o->internal;
}

/* siglog_verify through io instead of POSIX, its repair's writer too
 * (verify.c). */
int sl_verify_io(const siglog_io *io, const char *path, int do_repair, const siglog_verify_callbacks *cb,
                 siglog_verify_stats *stats);

#endif
