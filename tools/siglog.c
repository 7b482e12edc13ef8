/*
 * siglog — the command-line tool: git-style subcommands over the public
 * API of libsiglog (siglog.h only).
 *
 * This file is the dispatch table and nothing else; each subcommand lives
 * in cmd_<verb>.c. Exit status: 0 success, 1 failure, 2 usage error.
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const cli_command commands[] = {
    { "init", cmd_init, "create a store" },
    { "stream", cmd_stream, "create, list or configure streams" },
    { "schema", cmd_schema, "register, check, list or show schema versions" },
    { "append", cmd_append, "append JSON Lines events to a stream" },
    { "replay", cmd_replay, "read events back, filtered and in order" },
    { "stat", cmd_stat, "show streams, partitions, offsets and sizes" },
    { "verify", cmd_verify, "check every checksum, index and metadata file" },
    { "dump", cmd_dump, "print the batches (and records) of segment files" },
    { "audit", cmd_audit, "print or verify the store's audit trail" },
    { "consumer", cmd_consumer, "commit, list or delete a stream's consumer offsets" },
    { "segments", cmd_segments, "list a partition's segments as its catalog names them" },
    { "ship", cmd_ship, "publish a stream to NATS JetStream, each event once" },
    { "pull", cmd_pull, "append the messages of a JetStream stream to a stream" },
    { "manifest", cmd_manifest, "check that the data behind a replay manifest is intact" },
    { "archive", cmd_archive, "copy sealed segments out as self-describing archive files" },
    { "retain", cmd_retain, "apply the streams' retention policy (purge), or print its plan" },
    { "restore", cmd_restore, "bring archive files back into their partitions" },
    { "compact", cmd_compact, "merge small sealed segments or keep the newest event per key" },
    { "forget", cmd_forget, "remove every event of some keys from a stream, audited" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: siglog COMMAND [options] STORE ...\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'siglog COMMAND --help' describes a command; 'man siglog' all of them.\n"
               "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    /* Write errors on a closed pipe come back as EPIPE (see output.h). */
    signal(SIGPIPE, SIG_IGN);

    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(verb, "--version") == 0) {
        unsigned v = siglog_version_number();
        printf("siglog %u.%u.%u\n", v / 10000, v / 100 % 100, v % 100);
        return CLI_OK;
    }
    if (strcmp(verb, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return CLI_OK;
        }
        const cli_command *c = find_command(argv[2]);
        if (!c) {
            cli_fail(NULL, "unknown command '%s'", argv[2]);
            return CLI_USAGE;
        }
        char *help_argv[] = { argv[2], "--help", NULL };
        return c->fn(2, help_argv);
    }
    const cli_command *c = find_command(verb);
    if (!c) {
        cli_fail(NULL, "unknown command '%s'", verb);
        usage(stderr);
        return CLI_USAGE;
    }
    return c->fn(argc - 1, argv + 1);
}
