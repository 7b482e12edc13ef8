/*
 * error — SIGLOG_E* codes with a precise, per-thread detail message.
 *
 * Every failure path in the engine returns through sl_err_set() or sl_err_errno()
 * exactly once, at the place that knows the path/offset involved, so the
 * detail a caller reads with siglog_errdetail() names the real cause.
 * Callers that merely propagate a code must not overwrite the detail.
 */
#ifndef SIGLOG_ERROR_H
#define SIGLOG_ERROR_H

#include "siglog.h"

#if defined(__GNUC__)
#define ERR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ERR_PRINTF(a, b)
#endif

/* The longest detail kept, with its NUL: two paths of an operator's
 * choosing (a store deep in a mount tree, a file in it) and the
 * explanation that ends with what to do, the part a cut would lose. Every
 * copy of a detail (a failed partition's, a put-off error's) has this
 * size, so copying one never cuts it again. */
#define SL_ERR_DETAIL_MAX 2048

/* Record `code` with a formatted detail for this thread; returns code. */
int sl_err_set(int code, const char *fmt, ...) ERR_PRINTF(2, 3);

/* Translate a -errno from the io layer into a SIGLOG code (ENOSPC/EDQUOT ->
 * SIGLOG_ENOSPC, ENOENT -> SIGLOG_ENOENT, EACCES/EPERM -> SIGLOG_EPERM,
 * ENOMEM -> SIGLOG_ENOMEM, IO_EJAIL -> SIGLOG_ECORRUPT, else SIGLOG_EIO)
 * and record the detail "<what>: <strerror>" (for IO_EJAIL: what was found
 * where, sl_io_jail_detail). Returns the SIGLOG code. */
int sl_err_errno(int neg_errno, const char *fmt, ...) ERR_PRINTF(2, 3);

/* Clear this thread's detail (at the start of public calls). */
void sl_err_clear(void);

/* An error put off: a batch call that meets it after it has records to
 * hand out returns those, and the error must reach the caller with its
 * detail at the next call, never be lost (the reader may have moved on
 * past its cause, as a cursor past an EGAP). */
typedef struct sl_err_later {
    int code; /* 0: nothing put off */
    char detail[SL_ERR_DETAIL_MAX];
} sl_err_later;

/* Put off `code` with this thread's current detail. */
void sl_err_put_off(sl_err_later *l, int code);

/* 0 when nothing is put off; else the code put off, its detail made this
 * thread's again, and nothing put off any more. */
int sl_err_take_later(sl_err_later *l);

#endif
