/*
 * fork_release — lock files are let go in a forked child (fork_release.h
 * says why).
 */
#include "fork_release.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One bit a descriptor number, grown as higher ones are noted. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *noted;
static size_t noted_words;
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;
static int handlers_failed;

static int is_noted(int fd)
{
    size_t w = (size_t)fd / 64;
    return w < noted_words && (noted[w] >> (fd % 64) & 1);
}

static void before_fork(void)
{
    pthread_mutex_lock(&registry_mu);
}

static void in_parent(void)
{
    pthread_mutex_unlock(&registry_mu);
}

/* The child's one thread: close each noted descriptor (its flock stays
 * with the parent's copy) and start with none noted. */
static void in_child(void)
{
    for (size_t w = 0; w < noted_words; w++)
        for (int b = 0; noted[w] && b < 64; b++)
            if (noted[w] >> b & 1) {
                close((int)(w * 64 + (size_t)b));
                noted[w] &= ~(UINT64_C(1) << b);
            }
    pthread_mutex_unlock(&registry_mu);
}

static void register_handlers(void)
{
    handlers_failed = pthread_atfork(before_fork, in_parent, in_child) != 0;
}

/* Note fd (the mutex held): 0, or -ENOMEM. */
static int note(int fd)
{
    size_t w = (size_t)fd / 64;
    if (w >= noted_words) {
        size_t words = w + 1 > noted_words * 2 ? w + 1 : noted_words * 2;
        uint64_t *grown = realloc(noted, words * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        memset(grown + noted_words, 0, (words - noted_words) * sizeof *grown);
        noted = grown;
        noted_words = words;
    }
    noted[w] |= UINT64_C(1) << (fd % 64);
    return 0;
}

int sl_fork_release_open(int (*open_fn)(void *ctx), void *ctx)
{
    pthread_once(&handlers_once, register_handlers);
    if (handlers_failed)
        return -ENOMEM; /* pthread_atfork fails only for want of memory */
    pthread_mutex_lock(&registry_mu);
    int fd = open_fn(ctx);
    if (fd >= 0) {
        int rc = note(fd);
        if (rc < 0) {
            close(fd);
            fd = rc;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    return fd;
}

int sl_fork_release_close(int fd)
{
    /* Its bit is read under the mutex (another thread may be growing the
     * table). Only a noted descriptor is closed under it: no fork needs
     * the others, and a close may take a while. */
    pthread_mutex_lock(&registry_mu);
    int was_noted = fd >= 0 && is_noted(fd);
    int rc = 0;
    if (was_noted) {
        noted[(size_t)fd / 64] &= ~(UINT64_C(1) << (fd % 64));
        rc = close(fd) == 0 ? 0 : -errno;
    }
    pthread_mutex_unlock(&registry_mu);
    if (!was_noted)
        rc = close(fd) == 0 ? 0 : -errno;
    return rc;
}
