#!/bin/sh
# check_symbols.sh NM LIBSIGLOG.a LIBSIGLOG.so — one prefix for everything
# global: siglog_ (the API) and sl_ (internal) in the static library; the
# shared library exports the API alone. Lists the offenders and fails.
# AddressSanitizer adds one global __odr_asan.NAME per instrumented global
# (its one-definition-rule check); those are the compiler's, not ours.
set -eu
nm=$1
static=$2
shared=$3
bad_static=$("$nm" -g --defined-only "$static" |
             awk 'NF == 3 && $2 ~ /^[A-Z]$/ { print $3 }' | grep -v -E '^(siglog_|sl_|__odr_asan[.])' || true)
bad_shared=$("$nm" -D --defined-only "$shared" | awk '{ print $NF }' |
             grep -v -E '^(siglog_|_init$|_fini$|__bss_start$|_edata$|_end$)' || true)
status=0
if [ -n "$bad_static" ]; then
    echo "global symbols of $static outside siglog_* and sl_*:"
    echo "$bad_static"
    status=1
fi
if [ -n "$bad_shared" ]; then
    echo "symbols exported by $shared outside siglog_*:"
    echo "$bad_shared"
    status=1
fi
exit $status
