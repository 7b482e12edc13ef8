/*
 * gen — deterministic signal events and the real-event corpus.
 *
 * Synthetic events look like what a feedback collector receives: an event
 * id, an event time, a tenant, a user key drawn Zipf-like over 100,000
 * users (a few heavy users, a long tail), a session, an action, a model
 * version, a latency, an outcome and consent flags, padded with a
 * free-text context so values spread over 150-400 bytes. The same seed
 * always gives the same bytes, so every run and every baseline sees the
 * same data.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define USERS 100000
#define ZIPF_S 1.05

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) / 9007199254740992.0;
}

/* Zipf-distributed rank in [0, USERS) by binary search of the CDF. */
static uint32_t zipf_user(const double *cdf, uint64_t *s)
{
    double u = unit(s);
    uint32_t lo = 0, hi = USERS - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const char *const TENANTS[] = {"acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne"};
static const char *const ACTIONS[] = {"impression", "click",   "thumbs_up", "thumbs_down", "copy",
                                      "regenerate", "dismiss", "purchase",  "tool_call",   "escalate"};
static const char *const OUTCOMES[] = {"accepted", "rejected", "ignored", "error", "timeout"};
static const char *const WORDS[] = {"search", "results", "ranking", "prompt", "answer", "summary", "agent",
                                    "retrieval", "draft",  "cart",    "query",  "filter", "locale",  "mobile",
                                    "desktop", "variant", "holdout", "cohort",  "session", "refund"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void pool_generate(bench_pool *p, size_t n, uint64_t seed)
{
    double *cdf = malloc(USERS * sizeof *cdf);
    if (!cdf)
        bench_die("out of memory");
    double sum = 0;
    for (uint32_t i = 0; i < USERS; i++)
        sum += 1.0 / pow(i + 1, ZIPF_S);
    double acc = 0;
    for (uint32_t i = 0; i < USERS; i++) {
        acc += 1.0 / pow(i + 1, ZIPF_S) / sum;
        cdf[i] = acc;
    }
    cdf[USERS - 1] = 1.0;

    enum { SLOT = 448 }; /* value <= 400, key <= 16 */
    p->arena = malloc(n * SLOT);
    p->ev = calloc(n, sizeof *p->ev);
    if (!p->arena || !p->ev)
        bench_die("out of memory for %zu events", n);
    p->n = n;
    p->value_bytes = p->key_bytes = 0;
    uint64_t s = seed;
    int64_t t = BENCH_T0_US;
    for (size_t i = 0; i < n; i++) {
        char *key = p->arena + i * SLOT, *val = key + 16;
        uint32_t user = zipf_user(cdf, &s);
        int klen = snprintf(key, 16, "u%06u", user);
        t += 50 + (int64_t)(splitmix(&s) % 100);
        uint64_t r = splitmix(&s);
        size_t target = 150 + (size_t)(splitmix(&s) % 251); /* 150..400 */
        int len = snprintf(val, SLOT - 16,
                           "{\"event_id\":\"%016llx\",\"ts\":%lld,\"tenant\":\"%s\",\"user\":\"u%06u\","
                           "\"session\":\"s%08x\",\"action\":\"%s\",\"model\":\"m-2026.%u.%u\","
                           "\"latency_ms\":%u,\"outcome\":\"%s\",\"consent\":{\"analytics\":%s,\"training\":%s},"
                           "\"ctx\":\"",
                           (unsigned long long)splitmix(&s), (long long)t, TENANTS[r % COUNT(TENANTS)], user,
                           (unsigned)(user * 2654435761u ^ (uint32_t)(t / 1800000000)),
                           ACTIONS[(r >> 8) % COUNT(ACTIONS)], (unsigned)((r >> 16) % 12 + 1),
                           (unsigned)((r >> 20) % 4), (unsigned)(20 + (r >> 24) % 2000),
                           OUTCOMES[(r >> 40) % COUNT(OUTCOMES)], (r >> 48) & 1 ? "true" : "false",
                           (r >> 49) & 3 ? "true" : "false");
        while ((size_t)len + 2 < target) {
            const char *w = WORDS[splitmix(&s) % COUNT(WORDS)];
            size_t wl = strlen(w);
            if ((size_t)len + wl + 3 > target)
                break;
            if (val[len - 1] != '"')
                val[len++] = ' ';
            memcpy(val + len, w, wl);
            len += (int)wl;
        }
        val[len++] = '"';
        val[len++] = '}';
        p->ev[i] = (siglog_event){.key = key, .key_len = (size_t)klen, .value = val, .value_len = (size_t)len};
        p->value_bytes += (uint64_t)len;
        p->key_bytes += (uint64_t)klen;
    }
    free(cdf);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int pool_corpus(bench_pool *p, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char *names[64];
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < 64) {
        size_t l = strlen(de->d_name);
        if (l > 6 && strcmp(de->d_name + l - 6, ".jsonl") == 0)
            names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    size_t cap = 0, len = 0;
    p->arena = NULL;
    for (size_t i = 0; i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t sz;
        char *file = bench_read_file(path, &sz);
        if (len + sz + 1 > cap) {
            cap = (len + sz + 1) * 2;
            p->arena = realloc(p->arena, cap);
            if (!p->arena)
                bench_die("out of memory");
        }
        memcpy(p->arena + len, file, sz);
        free(file);
        len += sz;
        if (len && p->arena[len - 1] != '\n')
            p->arena[len++] = '\n';
        free(names[i]);
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += p->arena[i] == '\n';
    p->ev = calloc(n ? n : 1, sizeof *p->ev);
    p->n = 0;
    p->value_bytes = p->key_bytes = 0;
    size_t start = 0;
    for (size_t i = 0; i < len; i++)
        if (p->arena[i] == '\n') {
            if (i > start) {
                p->ev[p->n++] = (siglog_event){.value = p->arena + start, .value_len = i - start};
                p->value_bytes += i - start;
            }
            start = i + 1;
        }
    return p->n ? 0 : -1;
}

void pool_free(bench_pool *p)
{
    free(p->arena);
    free(p->ev);
    p->arena = NULL;
    p->ev = NULL;
    p->n = 0;
}

void pool_from_options(bench_pool *p, int argc, char **argv, uint64_t events)
{
    if (strcmp(bench_opt(argc, argv, "data", "gen"), "corpus") == 0) {
        if (pool_corpus(p, bench_opt(argc, argv, "corpus", "../shared/corpus")) != 0)
            bench_die("corpus not found");
    } else {
        pool_generate(p, events < 100000 ? events : 100000, 42);
    }
}
