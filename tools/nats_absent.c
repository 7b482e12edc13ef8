/*
 * nats_absent — `siglog ship` and `siglog pull` in a tool built without
 * libnats (meson option nats): they exist, so `siglog help` lists them,
 * and say why they cannot run.
 */
#include "cli.h"

static int absent(const char *cmd)
{
    return cli_fail(cmd, "this siglog was built without NATS support (libnats): rebuild with libnats-dev installed");
}

int cmd_ship(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return absent("ship");
}

int cmd_pull(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return absent("pull");
}
