/*
 * run — process plumbing for the CLI tests; see run.h.
 */
#include "run.h"

#include "support.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *siglog_bin(void)
{
    const char *bin = getenv("SIGLOG_BIN");
    cr_assert(bin && *bin, "SIGLOG_BIN is not set (run the tests through meson)");
    return bin;
}

static pid_t spawn(const char *stdin_path, int out_fd, int err_fd, const char *const *args)
{
    const char *bin = siglog_bin();
    size_t n = 0;
    while (args[n])
        n++;
    const char **argv = calloc(n + 2, sizeof *argv);
    cr_assert_not_null(argv);
    argv[0] = bin;
    memcpy(argv + 1, args, n * sizeof *argv);

    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
            _exit(126);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    free(argv);
    return pid;
}

int run_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *run_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s", path);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (;;) {
        if (cap - n < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

void run_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "create %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

run_result run_siglog(const char *stdin_path, const char *const *args)
{
    return run_siglog_to(stdin_path, NULL, args);
}

run_result run_siglog_to(const char *stdin_path, const char *stdout_path, const char *const *args)
{
    char *dir = test_tmpdir("run");
    char *out_path = test_path(dir, "stdout"), *err_path = test_path(dir, "stderr");
    int out_fd = open(stdout_path ? stdout_path : out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(out_fd >= 0 && err_fd >= 0);
    pid_t pid = spawn(stdin_path, out_fd, err_fd, args);
    close(out_fd);
    close(err_fd);
    run_result r = { .status = run_wait(pid) };
    if (stdout_path) {
        r.out = calloc(1, 1);
        cr_assert_not_null(r.out);
    } else {
        r.out = run_slurp(out_path, &r.out_len);
    }
    r.err = run_slurp(err_path, &r.err_len);
    test_rmtree(dir);
    free(out_path);
    free(err_path);
    free(dir);
    return r;
}

void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

void run_ok(const char *const *args)
{
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
}

json_t *run_json(const char *const *args)
{
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_error_t e;
    json_t *doc = json_loads(r.out, 0, &e);
    cr_assert(doc, "not JSON: %s", r.out);
    run_free(&r);
    return doc;
}

json_int_t run_json_int(json_t *doc, const char *name)
{
    json_t *v = json_object_get(doc, name);
    cr_assert(json_is_integer(v), "%s is not a number", name);
    return json_integer_value(v);
}

pid_t run_start(const char *stdin_path, const char *err_path, int *stdout_fd, const char *const *args)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert(err_fd >= 0);
    pid_t pid = spawn(stdin_path, p[1], err_fd, args);
    close(p[1]);
    close(err_fd);
    *stdout_fd = p[0];
    return pid;
}

char *run_read_lines(int fd, size_t lines, size_t *got)
{
    /* A deadline only so that a hang fails the test; no test asserts on
     * how long anything took. */
    time_t give_up = time(NULL) + 60;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    *got = 0;
    while (*got < lines && time(NULL) < give_up) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 1000) <= 0)
            continue;
        if (cap - n < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            *got += buf[n + (size_t)i] == '\n';
        n += (size_t)r;
    }
    buf[n] = '\0';
    return buf;
}
