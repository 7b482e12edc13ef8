/*
 * cmd_init — `siglog init STORE`: create an empty store, refusing to touch
 * a directory that already holds one.
 */
#include "args.h"
#include "cli.h"

static const args_cmd cmd = {
    "init",
    "siglog init STORE",
    "Create an empty store in directory STORE (created if missing).\n"
    "Fails if STORE already holds a store.\n",
};

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = { { 0 } };
    args_begin();
    int ch = args_next(&cmd, argc, argv, opts);
    if (ch != -1) /* no options besides --help */
        return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
    char **ops;
    if (args_operands(&cmd, argc, argv, 1, "STORE", &ops))
        return CLI_USAGE;
    const char *path = ops[0];

    /* Probe first: siglog_open with create=1 would silently open an
     * existing store. A writer lock held by someone also proves a store. */
    siglog_options o;
    siglog_options_default(&o);
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
