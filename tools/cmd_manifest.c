/*
 * cmd_manifest — `siglog manifest verify`: whether the data behind a
 * replay manifest (written by replay --manifest) is still intact, by
 * running its replay again without printing it.
 */
#include "args.h"
#include "cli.h"
#include "manifest_check.h"
#include "output.h"

#include <stdio.h>
#include <string.h>

static const args_cmd manifest_cmd = {
    "manifest",
    "siglog manifest verify FILE [STORE]",
    "Check replay manifests (written by siglog replay --manifest FILE).\n"
    "See siglog manifest verify --help.\n",
};

static const args_cmd verify_cmd = {
    "manifest verify",
    "siglog manifest verify FILE [STORE] [--json]",
    "Say whether STORE (default: the store the manifest names) still delivers\n"
    "exactly what the manifest FILE records: it runs the recorded replay again,\n"
    "bounded where each partition's reading ended then, and compares the event\n"
    "count and the content digest. Nothing is printed but the verdict.\n"
    "\n"
    "  --json   on success one JSON document: {\"manifest\", \"store\",\n"
    "           \"intact\": true, \"events\", \"digest\"}\n"
    "\n"
    "Exit 0: intact. Exit 1: the store is another one, or it delivers other\n"
    "events now; the one-line error names what changed (each partition's\n"
    "delivered range then and now, where the log starts now, the audit\n"
    "trail's purges, forgets and compactions over the manifest's offsets).\n"
    "Opens the store read-only and writes nothing.\n",
};

static int manifest_verify(int argc, char **argv)
{
    int json, exit_code = args_flag_only(&verify_cmd, argc, argv, "json", &json);
    if (exit_code >= 0)
        return exit_code;
    int first = args_operand_index(), n = argc - first;
    if (n < 1)
        return args_usage(&verify_cmd, "missing FILE");
    if (n > 2)
        return args_usage(&verify_cmd, "too many operands");
    manifest_replay mr;
    int status = manifest_replay_open(verify_cmd.name, argv[first], n == 2 ? argv[first + 1] : NULL, &mr);
    if (status != CLI_OK)
        return status;
    if ((status = manifest_replay_check(verify_cmd.name, &mr, 1)) == CLI_OK) {
        if (json) {
            out_json_doc(json_pack("{s:s,s:s,s:b,s:I,s:s}", "manifest", mr.file, "store", mr.store, "intact", 1,
                                   "events", (json_int_t)mr.spec.events, "digest", mr.spec.digest));
        } else {
            char line[256];
            snprintf(line, sizeof line, "intact: %llu events, digest %s\n", (unsigned long long)mr.spec.events,
                     mr.spec.digest);
            out_puts(line);
        }
        status = out_finish(verify_cmd.name);
    }
    manifest_replay_close(&mr);
    return status;
}

int cmd_manifest(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return manifest_verify(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: %s\n\n%s", manifest_cmd.synopsis, manifest_cmd.help);
        return CLI_OK;
    }
    if (argc < 2)
        return args_usage(&manifest_cmd, "missing subcommand (verify)");
    return args_usage(&manifest_cmd, "unknown subcommand '%s'", argv[1]);
}
