#include "error.h"

#include "io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_detail[SL_ERR_DETAIL_MAX];

SIGLOG_API const char *siglog_strerror(int code)
{
    switch (code) {
#define SIGLOG_ERROR_MSG_(name, value, msg) \
    case value:                              \
        return msg;
        SIGLOG_ERRORS(SIGLOG_ERROR_MSG_)
#undef SIGLOG_ERROR_MSG_
    case 0:
        return "success";
    default:
        return "unknown error";
    }
}

SIGLOG_API const char *siglog_errname(int code)
{
    switch (code) {
#define SIGLOG_ERROR_NAME_(name, value, msg) \
    case value:                               \
        return #name;
        SIGLOG_ERRORS(SIGLOG_ERROR_NAME_)
#undef SIGLOG_ERROR_NAME_
    case 0:
        return "OK";
    default:
        return "UNKNOWN";
    }
}

SIGLOG_API const char *siglog_errdetail(void)
{
    return err_detail;
}

void sl_err_clear(void)
{
    err_detail[0] = '\0';
}

/* Format into a scratch buffer first: callers often wrap the current
 * detail ("%s: %s", path, siglog_errdetail()), which must not be the
 * buffer being written. */
int sl_err_set(int code, const char *fmt, ...)
{
    char tmp[sizeof err_detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(err_detail, tmp, sizeof err_detail);
    return code;
}

void sl_err_put_off(sl_err_later *l, int code)
{
    l->code = code;
    snprintf(l->detail, sizeof l->detail, "%s", err_detail);
}

int sl_err_take_later(sl_err_later *l)
{
    int code = l->code;
    l->code = 0;
    return code ? sl_err_set(code, "%s", l->detail) : 0;
}

static int code_for_errno(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return SIGLOG_ENOSPC;
    case ENOENT:
        return SIGLOG_ENOENT;
    case EACCES:
    case EPERM:
    case EROFS:
        return SIGLOG_EPERM;
    case ENOMEM:
        return SIGLOG_ENOMEM;
    case EEXIST:
        return SIGLOG_EEXIST;
    case IO_EJAIL:
        return SIGLOG_ECORRUPT; /* something planted in the store */
    default:
        return SIGLOG_EIO;
    }
}

int sl_err_errno(int neg_errno, const char *fmt, ...)
{
    int e = neg_errno < 0 ? -neg_errno : neg_errno;
    char tmp[sizeof err_detail];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof tmp)
        snprintf(tmp + n, sizeof tmp - (size_t)n, ": %s", e == IO_EJAIL ? sl_io_jail_detail() : strerror(e));
    memcpy(err_detail, tmp, sizeof err_detail);
    return code_for_errno(e);
}
