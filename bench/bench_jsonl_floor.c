/*
 * bench_jsonl_floor — the least work `siglog append FILE` of JSON Lines
 * into an LZ4 stream promises, done without siglog: the same-run floor of
 * bench/run's row "CLI append vs its own parser alone".
 *
 *   --file=PATH   JSON Lines to append
 *   --out=PATH    the file written (created or truncated)
 *
 * The command validates every line and stores it, compressed, durably by
 * the time it exits. So does this, the simplest way: the input is read
 * with read() into one buffer (followed by the parser's padding), each
 * line validated where it lies by the CLI's own fast path
 * (jsonfast_parse_padded, no field taken out; a declined line goes to
 * jansson as in the CLI), and each run of up to 1000 lines, contiguous in
 * the buffer, handed to a second thread that compresses it into one LZ4
 * block and write()s it with its length; the file is fdatasync'd before
 * the exit. No keys, offsets, index, journal, catalog or process of
 * opening a store. bench/run times it as a whole process, as it times
 * the command; the program also prints its own figures of the span from
 * reading the input to the sync.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <lz4.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "jsonfast.h"

#define FLOOR_BATCH_LINES 1000
#define FLOOR_SLOTS 4 /* runs handed over and not yet written */

/* A ring of FLOOR_SLOTS runs [start, end) of the input: the parsing
 * thread fills slot head % FLOOR_SLOTS while fewer than FLOOR_SLOTS are
 * pending, the writing thread takes slot tail % FLOOR_SLOTS; both counters
 * change under mu. */
typedef struct floor_ring {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t start[FLOOR_SLOTS], end[FLOOR_SLOTS];
    uint64_t head, tail;
    int done;
    const char *in;
    int out_fd;
    uint64_t out_bytes;
} floor_ring;

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            bench_die("write: %s", strerror(errno));
        c += w;
        n -= (size_t)w;
    }
}

static void *writer_main(void *arg)
{
    floor_ring *r = arg;
    char *block = NULL;
    size_t block_cap = 0;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->tail == r->head && !r->done)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->tail == r->head)
            break;
        size_t s = r->start[r->tail % FLOOR_SLOTS], e = r->end[r->tail % FLOOR_SLOTS];
        pthread_mutex_unlock(&r->mu);
        size_t bound = (size_t)LZ4_compressBound((int)(e - s));
        if (bound + 8 > block_cap) {
            free(block);
            block_cap = bound + 8;
            if (!(block = malloc(block_cap)))
                bench_die("out of memory");
        }
        int n = LZ4_compress_default(r->in + s, block + 8, (int)(e - s), (int)bound);
        if (n <= 0)
            bench_die("LZ4 compression failed");
        uint32_t raw = (uint32_t)(e - s), packed = (uint32_t)n;
        memcpy(block, &raw, 4);
        memcpy(block + 4, &packed, 4);
        write_all(r->out_fd, block, (size_t)n + 8);
        r->out_bytes += (uint64_t)n + 8;
        pthread_mutex_lock(&r->mu);
        r->tail++;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    free(block);
    return NULL;
}

static void hand_over(floor_ring *r, size_t s, size_t e)
{
    pthread_mutex_lock(&r->mu);
    while (r->head - r->tail == FLOOR_SLOTS)
        pthread_cond_wait(&r->cv, &r->mu);
    r->start[r->head % FLOOR_SLOTS] = s;
    r->end[r->head % FLOOR_SLOTS] = e;
    r->head++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* The whole input, read as the CLI reads it (read() from the page cache),
 * with JSONFAST_PADDING zeroed bytes after it. */
static char *read_input(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0)
        bench_die("%s: %s", path, strerror(errno));
    size_t size = (size_t)sb.st_size;
    char *buf = calloc(1, size + JSONFAST_PADDING);
    if (!buf)
        bench_die("out of memory");
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            bench_die("reading %s: %s", path, n < 0 ? strerror(errno) : "short file");
        got += (size_t)n;
    }
    close(fd);
    *len = size;
    return buf;
}

int main(int argc, char **argv)
{
    const char *path = bench_opt(argc, argv, "file", NULL), *out = bench_opt(argc, argv, "out", NULL);
    if (!path || !out)
        bench_die("--file=PATH and --out=PATH are required");
    jsonfast *jf = jsonfast_new();
    if (!jf)
        bench_die("out of memory");
    bench_span span;
    bench_span_start(&span);
    size_t len;
    char *buf = read_input(path, &len);
    floor_ring r = { .in = buf, .out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) };
    if (r.out_fd < 0)
        bench_die("%s: %s", out, strerror(errno));
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    pthread_t writer;
    if (pthread_create(&writer, NULL, writer_main, &r) != 0)
        bench_die("no thread");
    uint64_t lines = 0, declined = 0;
    size_t run_start = 0, run_lines = 0;
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (end > pos) {
            json_t *j = NULL;
            int rc = jsonfast_parse_padded(jf, buf + pos, end - pos, NULL, 0, &j);
            if (rc < 0)
                bench_die("out of memory");
            declined += rc != 1;
            json_error_t err;
            if (rc != 1 && !(j = json_loadb(buf + pos, end - pos, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err)))
                bench_die("line %llu: %s", (unsigned long long)lines + 1, err.text);
            json_decref(j);
            lines++;
            run_lines++;
        }
        pos = end + 1;
        if (run_lines == FLOOR_BATCH_LINES || pos >= len) {
            hand_over(&r, run_start, pos < len ? pos : len);
            run_start = pos;
            run_lines = 0;
        }
    }
    pthread_mutex_lock(&r.mu);
    r.done = 1;
    pthread_cond_broadcast(&r.cv);
    pthread_mutex_unlock(&r.mu);
    pthread_join(writer, NULL);
    if (fdatasync(r.out_fd) != 0 || close(r.out_fd) != 0)
        bench_die("sync of %s: %s", out, strerror(errno));
    bench_span_stop(&span);
    printf("lines=%llu declined=%llu out_bytes=%llu", (unsigned long long)lines, (unsigned long long)declined,
           (unsigned long long)r.out_bytes);
    bench_print_rates("", &span, lines, len);
    printf("\n");
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    free(buf);
    jsonfast_free(jf);
    return 0;
}
