/*
 * cmd_init — `siglog init STORE [--mode MODE] [--journal-bytes N]`: create
 * an empty store, refusing to touch a directory that already holds one.
 */
#include <string.h>

#include "args.h"
#include "cli.h"

static const args_cmd cmd = {
    "init",
    "siglog init STORE [--mode MODE] [--journal-bytes N]",
    "Create an empty store in directory STORE (created if missing), whole or\n"
    "not at all. Fails if STORE already holds a store.\n"
    "\n"
    "  --mode MODE         octal mode of every file of the store, recorded in it:\n"
    "                      every later writer creates files with it and\n"
    "                      directories with it plus x wherever r is set (0640:\n"
    "                      files 0640, directories 0750), whatever its umask.\n"
    "                      At least 0600; at most 0777. Default 0600.\n"
    "  --journal-bytes N   size of the preallocated commit journal, at least\n"
    "                      1048576; default 67108864 (64 MiB).\n",
};

enum { OPT_MODE = 1000, OPT_JOURNAL_BYTES };

/* An octal file mode the owner can read and write, without special bits. */
static int parse_mode(const char *s, uint32_t *file_mode, uint32_t *dir_mode)
{
    uint32_t m = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 4 || strspn(s, "01234567") != n)
        return args_usage(&cmd, "--mode takes an octal mode such as 0640, not '%s'", s);
    for (size_t i = 0; i < n; i++)
        m = m * 8 + (uint32_t)(s[i] - '0');
    if (m > 0777 || (m & 0600) != 0600)
        return args_usage(&cmd, "--mode %s: the owner needs read and write (0600), and no bits above 0777", s);
    *file_mode = m;
    *dir_mode = m | (m & 0444) >> 2; /* search wherever read is allowed */
    return 0;
}

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        { "mode", required_argument, NULL, OPT_MODE },
        { "journal-bytes", required_argument, NULL, OPT_JOURNAL_BYTES },
        { NULL, 0, NULL, 0 },
    };
    siglog_options o;
    siglog_options_default(&o);
    args_begin();
    for (int ch; (ch = args_next(&cmd, argc, argv, opts)) != -1;) {
        int bad = 0;
        if (ch == OPT_MODE)
            bad = parse_mode(optarg, &o.file_mode, &o.dir_mode);
        else if (ch == OPT_JOURNAL_BYTES)
            bad = args_u64(&cmd, "--journal-bytes", optarg, 1u << 20, UINT64_MAX / 2, &o.journal_bytes);
        else
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
        if (bad)
            return CLI_USAGE;
    }
    char **ops;
    if (args_operands(&cmd, argc, argv, 1, "STORE", &ops))
        return CLI_USAGE;
    const char *path = ops[0];

    /* Probe first: siglog_open with create=1 would silently open an
     * existing store. A writer lock held by someone also proves a store. */
    siglog *s = NULL;
    int rc = siglog_open(&s, path, &o);
    if (rc == 0) {
        siglog_close(s);
        return cli_fail(cmd.name, "cannot create store %s: a store already exists there", path);
    }
    if (rc == SIGLOG_ELOCKED)
        return cli_fail_lib(cmd.name, rc, "cannot create store %s: a store already exists there", path);
    if (rc != SIGLOG_ENOENT)
        return cli_fail_lib(cmd.name, rc, "cannot create store %s", path);

    o.create = 1;
    rc = siglog_open(&s, path, &o);
    if (rc != 0)
        return cli_fail_lib(cmd.name, rc, "cannot create store %s", path);
    rc = siglog_close(s);
    if (rc != 0)
        return cli_fail_lib(cmd.name, rc, "cannot create store %s", path);
    return CLI_OK;
}
