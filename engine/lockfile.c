#include "lockfile.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sl_lockfile_holder(const siglog_io *io, int fd, char pid[LOCKFILE_PID_MAX])
{
    ssize_t r = sl_io_read_full(io, fd, pid, LOCKFILE_PID_MAX - 1, 0);
    pid[r > 0 ? r : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    char *end;
    long n = strtol(pid, &end, 10);
    if (end == pid || n <= 0)
        return 0;
    return kill((pid_t)n, 0) == 0 || errno == EPERM;
}

void sl_lockfile_claim(const siglog_io *io, int fd)
{
    /* Advice only (see lockfile.h): no sync needed. */
    char pid[LOCKFILE_PID_MAX];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    io->ftruncate(io, fd, 0);
    sl_io_write_all(io, fd, pid, (size_t)n, 0);
}

void sl_lockfile_release(const siglog_io *io, int fd)
{
    io->ftruncate(io, fd, 0);
    io->close_file(io, fd);
}
