#ifndef SIGLOG_UTF8_H
#define SIGLOG_UTF8_H

#include <stddef.h>

/* 1 when p[0..n) is well-formed UTF-8, else 0. */
int utf8_valid(const void *p, size_t n);

#endif
