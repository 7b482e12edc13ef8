/*
 * cmd_stream — `siglog stream create|list|config`: define streams, show
 * them and change their settings.
 */
#include "args.h"
#include "cli.h"
#include "output.h"
#include "streaminfo.h"
#include "timeparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const args_cmd stream_cmd = {
    "stream",
    "siglog stream create|list|config STORE ...",
    "  siglog stream create STORE STREAM --partitions N [options]\n"
    "  siglog stream list STORE [--json]\n"
    "  siglog stream config STORE STREAM [--set NAME=VALUE ...] [--json]\n"
    "\n'siglog stream SUBCOMMAND --help' says more.\n",
};

static const args_cmd create_cmd = {
    "stream create",
    "siglog stream create STORE STREAM --partitions N [--set NAME=VALUE ...] [--segment-bytes B]\n"
    "       [--segment-age DUR] [--batch-bytes B] [--compression lz4|none]\n"
    "       [--contract off|warn|enforce] [--sync none|interval:MS|always] [--adopt] [--force-owner]",
    "Create stream STREAM in STORE.\n"
    "\n"
    "  --partitions N       number of partitions, 1..4096 (required)\n"
    "  --set NAME=VALUE     set a setting (below) by name; repeatable\n"
    "  --segment-bytes B    --set segment_bytes_max=B; sizes take suffixes K/M/G,\n"
    "                       KiB/MiB/GiB (1024-based), KB/MB/GB (1000-based)\n"
    "  --segment-age DUR    --set segment_age_max_us=DUR; durations take units us,\n"
    "                       ms, s, m, h, d, e.g. 90m, 1.5h\n"
    "  --batch-bytes B      --set batch_bytes_max=B. A seek decodes one whole batch:\n"
    "                       16KiB batches seek ~3x faster for ~10% more bytes on disk\n"
    "  --compression C      --set compression=C\n"
    "  --contract MODE      --set contract=MODE: off, warn or enforce (siglog schema)\n"
    "  --sync POLICY        none: the OS decides when data reaches the disk;\n"
    "                       interval:MS: a background sync every MS ms (default\n"
    "                       interval:100); always: each append waits for the disk\n"
    "  --adopt              take over the partitions an earlier stream STREAM left\n"
    "                       (its stream.meta lost or damaged), events and offsets\n"
    "                       included: only with the same --partitions and when each\n"
    "                       partition checks out; run siglog verify first\n"
    "  --force-owner        write even though this user does not own the store:\n"
    "                       new files get the owner's uid and gid (needs root)\n"
    "\n"
    "Stream names are 1..128 bytes of [A-Za-z0-9._-] not starting with '.'.\n"
    "The stream is built under a temporary name and renamed into place, so a\n"
    "failed create leaves nothing behind. A name whose directory still holds\n"
    "partitions or segments is refused (see --adopt).\n"
    "\n"
    "Settings:\n",
};

static const args_cmd list_cmd = {
    "stream list",
    "siglog stream list STORE [--json]",
    "List the streams of STORE, one per line: name, partitions, compression,\n"
    "sync policy; a stream that cannot be opened as its name, \"failed:\" and the\n"
    "reason. --json prints an array of objects instead:\n"
    "{\"name\",\"sync\",\"state\":\"ok\"} and every setting by its name (as\n"
    "'stream config --help' lists them; enums and percents as strings), or\n"
    "{\"name\",\"state\":\"failed\",\"error\"}.\n",
};

static const args_cmd config_cmd = {
    "stream config",
    "siglog stream config STORE STREAM [--set NAME=VALUE ...] [--json] [--force-owner]",
    "Show the settings of stream STREAM, one NAME=VALUE per line, or with --set\n"
    "change them and show the result.\n"
    "\n"
    "  --set NAME=VALUE     change a setting (below) by name; repeatable. All or\n"
    "                       nothing: every value is checked first (its range, a\n"
    "                       batch must fit the journal) and a setting fixed at\n"
    "                       creation is refused by name, with nothing changed\n"
    "  --json               print the settings as one object, as 'stream list\n"
    "                       --json' prints each stream\n"
    "  --force-owner        write even though this user does not own the store\n"
    "\n"
    "A change is recorded in the store's audit trail (siglog audit), then\n"
    "stream.meta is replaced atomically. It needs the store's writer lock: a\n"
    "collector that holds the store changes its streams through\n"
    "siglog_stream_config_set, and picks up a change made here at its next open.\n"
    "Changing sync_policy first makes everything appended so far durable.\n"
    "\n"
    "Settings:\n",
};

enum { OPT_PARTITIONS = 256, OPT_SET, OPT_SEGMENT_BYTES, OPT_SEGMENT_AGE, OPT_BATCH_BYTES, OPT_COMPRESSION,
       OPT_CONTRACT, OPT_SYNC, OPT_JSON, OPT_ADOPT, OPT_FORCE_OWNER };

/* The options that name one setting each, by their order in the enum
 * above from OPT_SEGMENT_BYTES: shorthands for --set NAME=VALUE. */
static const char *const option_setting[] = { "segment_bytes_max", "segment_age_max_us", "batch_bytes_max",
                                              "compression", "contract" };

/* Put the value text into the setting named name of c, or say why not
 * (exit status 2). Ranges are checked: a value outside one is a usage
 * error naming the setting. opt is how the user spelled the setting. */
static int set_value(const args_cmd *cmd, siglog_stream_config *c, const char *opt, const siglog_setting *set,
                     const char *text)
{
    uint64_t v;
    char hint[64];
    if (set->type == SIGLOG_SETTING_TEXT)
        return siglog_setting_set_text(c, set, text) != 0 ? args_usage(cmd, "%s: %s", opt, siglog_errdetail())
                                                          : CLI_OK;
    if (streaminfo_parse_value(set, text, &v) != 0)
        return args_usage(cmd, "%s wants %s, not '%s'", opt, streaminfo_value_hint(set, hint, sizeof hint), text);
    if (siglog_setting_set(c, set, v) != 0)
        return args_usage(cmd, "%s: %s", opt, siglog_errdetail());
    return CLI_OK;
}

/* --set NAME=VALUE into c (see set_value). */
static int set_assignment(const args_cmd *cmd, siglog_stream_config *c, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char name[64];
    const siglog_setting *set = NULL;
    if (eq && (size_t)(eq - arg) < sizeof name) {
        memcpy(name, arg, (size_t)(eq - arg));
        name[eq - arg] = '\0';
        set = siglog_setting_find(name);
    }
    if (!set)
        return args_usage(cmd, "--set wants NAME=VALUE with a setting's name ('siglog %s --help' lists them), not '%s'",
                          cmd->name, arg);
    return set_value(cmd, c, name, set, eq + 1);
}

static int stream_create(int argc, char **argv)
{
    static const struct option opts[] = {
        { "partitions", required_argument, NULL, OPT_PARTITIONS },
        { "set", required_argument, NULL, OPT_SET },
        { "segment-bytes", required_argument, NULL, OPT_SEGMENT_BYTES },
        { "segment-age", required_argument, NULL, OPT_SEGMENT_AGE },
        { "batch-bytes", required_argument, NULL, OPT_BATCH_BYTES },
        { "compression", required_argument, NULL, OPT_COMPRESSION },
        { "contract", required_argument, NULL, OPT_CONTRACT },
        { "sync", required_argument, NULL, OPT_SYNC },
        { "adopt", no_argument, NULL, OPT_ADOPT },
        { "force-owner", no_argument, NULL, OPT_FORCE_OWNER },
        { NULL, 0, NULL, 0 },
    };
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    int have_partitions = 0, adopt = 0;
    unsigned open_flags = 0;

    args_begin();
    for (int ch; (ch = args_next(&create_cmd, argc, argv, opts)) != -1;) {
        switch (ch) {
        case OPT_PARTITIONS:
            if (args_u32(&create_cmd, "--partitions", optarg, 1, SIGLOG_PARTITIONS_MAX, &c.partitions))
                return CLI_USAGE;
            have_partitions = 1;
            break;
        case OPT_SET:
            if (set_assignment(&create_cmd, &c, optarg) != CLI_OK)
                return CLI_USAGE;
            break;
        case OPT_SEGMENT_BYTES:
        case OPT_SEGMENT_AGE:
        case OPT_BATCH_BYTES:
        case OPT_COMPRESSION:
        case OPT_CONTRACT: {
            /* opts lists its entries in the order of the enum. */
            const struct option *o = &opts[ch - OPT_PARTITIONS];
            char spelled[32];
            snprintf(spelled, sizeof spelled, "--%s", o->name);
            if (set_value(&create_cmd, &c, spelled, siglog_setting_find(option_setting[ch - OPT_SEGMENT_BYTES]),
                          optarg) != CLI_OK)
                return CLI_USAGE;
            break;
        }
        case OPT_SYNC:
            if (streaminfo_parse_sync(optarg, &c) != 0)
                return args_usage(&create_cmd, "--sync wants none, always or interval:MS (1..60000), not '%s'",
                                  optarg);
            break;
        case OPT_ADOPT:
            adopt = 1;
            break;
        case OPT_FORCE_OWNER:
            open_flags = CLI_OPEN_FORCE_OWNER;
            break;
        case ARGS_HELP:
            streaminfo_print_settings(stdout);
            return fflush(stdout) == 0 ? CLI_OK : CLI_FAILURE;
        default:
            return CLI_USAGE;
        }
    }
    char **ops;
    if (args_operands(&create_cmd, argc, argv, 2, "STORE or STREAM", &ops))
        return CLI_USAGE;
    if (!have_partitions)
        return args_usage(&create_cmd, "--partitions is required");

    const char *path = ops[0], *name = ops[1];
    siglog *s;
    if (cli_open(create_cmd.name, path, open_flags, NULL, &s, NULL) != CLI_OK)
        return CLI_FAILURE;
    int rc = adopt ? siglog_stream_adopt(s, name, &c) : siglog_stream_create(s, name, &c);
    if (rc != 0) {
        cli_fail_lib(create_cmd.name, rc, "cannot %s stream %s in %s", adopt ? "adopt" : "create", name, path);
        siglog_close(s);
        return CLI_FAILURE;
    }
    rc = siglog_close(s);
    if (rc != 0)
        return cli_fail_lib(create_cmd.name, rc, "closing store %s", path);
    return CLI_OK;
}

typedef struct list_ctx {
    int json;
    json_t *array;
} list_ctx;

static int list_one(void *ctx, siglog_stream *st)
{
    list_ctx *l = ctx;
    if (l->json)
        return json_array_append_new(l->array, streaminfo_config_json(st)) == 0 ? 0 : -1;
    siglog_stream_config c;
    char sync[32];
    const char *why;
    siglog_stream_config_get(st, &c);
    char line[SIGLOG_NAME_MAX + 96];
    if (siglog_stream_state(st, &why) != 0) {
        snprintf(line, sizeof line, "%s\tfailed: ", siglog_stream_name(st));
        out_puts(line);
        out_puts(why);
        out_puts("\n");
        return 0;
    }
    snprintf(line, sizeof line, "%s\tpartitions=%u\tcompression=%s\tsync=%s\n", siglog_stream_name(st),
             c.partitions, streaminfo_compression_text(&c), streaminfo_sync_text(&c, sync, sizeof sync));
    out_puts(line);
    return 0;
}

static int stream_list(int argc, char **argv)
{
    list_ctx l = { 0 };
    int exit_code = args_flag_only(&list_cmd, argc, argv, "json", &l.json);
    if (exit_code >= 0)
        return exit_code;
    char **ops;
    if (args_operands(&list_cmd, argc, argv, 1, "STORE", &ops))
        return CLI_USAGE;
    const char *path = ops[0];

    siglog *s;
    if (cli_open(list_cmd.name, path, CLI_OPEN_READ_ONLY, NULL, &s, NULL) != CLI_OK)
        return CLI_FAILURE;
    int status = CLI_OK;
    if (l.json && !(l.array = json_array())) {
        status = cli_fail(list_cmd.name, "out of memory");
        goto out;
    }
    if (siglog_stream_foreach(s, list_one, &l) != 0) {
        status = cli_fail(list_cmd.name, "out of memory listing the streams of %s", path);
        goto out;
    }
    if (l.json) {
        json_t *doc = l.array;
        l.array = NULL;
        if (out_json_doc(doc) != 0 && !out_failed()) {
            status = cli_fail(list_cmd.name, "out of memory");
            goto out;
        }
    }
    status = out_finish(list_cmd.name);
out:
    json_decref(l.array);
    siglog_close(s);
    return status;
}

/* The settings of c, one NAME=VALUE per line (enums by name, texts as
 * they are). */
static void print_settings(const siglog_stream_config *c)
{
    for (size_t i = 0; i < siglog_setting_count(); i++) {
        const siglog_setting *set = siglog_setting_at(i);
        char text[32];
        out_puts(set->name);
        out_puts("=");
        out_puts(set->type == SIGLOG_SETTING_TEXT ? siglog_setting_text(c, set)
                                                  : streaminfo_value_text(set, siglog_setting_get(c, set), text,
                                                                          sizeof text));
        out_puts("\n");
    }
}

/* Apply every --set of sets[0..n) to c (see set_assignment). */
static int apply_sets(siglog_stream_config *c, char *const *sets, int n)
{
    for (int i = 0; i < n; i++)
        if (set_assignment(&config_cmd, c, sets[i]) != CLI_OK)
            return CLI_USAGE;
    return CLI_OK;
}

static int stream_config(int argc, char **argv)
{
    static const struct option opts[] = {
        { "set", required_argument, NULL, OPT_SET },
        { "json", no_argument, NULL, OPT_JSON },
        { "force-owner", no_argument, NULL, OPT_FORCE_OWNER },
        { NULL, 0, NULL, 0 },
    };
    int json = 0, nsets = 0;
    unsigned open_flags = CLI_OPEN_READ_ONLY;
    char **sets = calloc((size_t)argc, sizeof *sets); /* at most one per argument */
    if (!sets)
        return cli_fail(config_cmd.name, "out of memory");
    int status = CLI_USAGE;
    args_begin();
    for (int ch; (ch = args_next(&config_cmd, argc, argv, opts)) != -1;) {
        if (ch == OPT_SET) {
            sets[nsets++] = optarg;
            open_flags &= ~CLI_OPEN_READ_ONLY;
        } else if (ch == OPT_JSON) {
            json = 1;
        } else if (ch == OPT_FORCE_OWNER) {
            open_flags |= CLI_OPEN_FORCE_OWNER;
        } else {
            if (ch == ARGS_HELP) {
                streaminfo_print_settings(stdout);
                status = fflush(stdout) == 0 ? CLI_OK : CLI_FAILURE;
            }
            goto done;
        }
    }
    char **ops;
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    /* Names and values checked before the store is opened. */
    if (args_operands(&config_cmd, argc, argv, 2, "STORE or STREAM", &ops) || apply_sets(&c, sets, nsets))
        goto done;
    const char *path = ops[0], *name = ops[1];
    siglog *s;
    siglog_stream *st;
    status = CLI_FAILURE;
    if (cli_open(config_cmd.name, path, open_flags, name, &s, &st) != CLI_OK)
        goto done;
    siglog_stream_config_get(st, &c);
    int rc = nsets ? apply_sets(&c, sets, nsets) : CLI_OK; /* over the current settings now */
    if (!rc && nsets && (rc = siglog_stream_config_set(s, name, &c)) != 0)
        cli_fail_lib(config_cmd.name, rc, "cannot change the settings of stream %s in %s", name, path);
    json_t *doc = NULL;
    if (!rc && json && !(doc = streaminfo_config_json(st)))
        rc = cli_fail(config_cmd.name, "out of memory");
    if (!rc && json && out_json_doc(doc) != 0 && !out_failed())
        rc = cli_fail(config_cmd.name, "out of memory");
    if (!rc && !json) {
        siglog_stream_config now;
        siglog_stream_config_get(st, &now);
        print_settings(&now);
    }
    if (!rc)
        status = out_finish(config_cmd.name);
    int closed = siglog_close(s);
    if (closed != 0 && status == CLI_OK)
        status = cli_fail_lib(config_cmd.name, closed, "closing store %s", path);
done:
    free(sets);
    return status;
}

int cmd_stream(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "create") == 0)
        return stream_create(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return stream_list(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "config") == 0)
        return stream_config(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: %s\n\n%s", stream_cmd.synopsis, stream_cmd.help);
        return CLI_OK;
    }
    if (argc < 2)
        return args_usage(&stream_cmd, "missing subcommand (create, list or config)");
    return args_usage(&stream_cmd, "unknown subcommand '%s'", argv[1]);
}
