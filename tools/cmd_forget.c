/*
 * cmd_forget — `siglog forget`: remove every event of some keys from a
 * stream's segments through a maintenance handle (siglog_forget), beside
 * a live writer and readers.
 */
#include "args.h"
#include "cli.h"
#include "maint_args.h"
#include "output.h"
#include "progress.h"
#include "timeparse.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const args_cmd forget_cmd = {
    "forget",
    "siglog forget STORE STREAM (--key K ... | --key-file FILE)\n"
    "       [--archives DIR ...] [--wait SECONDS] [--dry-run] [--force-owner]\n"
    "       [--json]\n"
    "       siglog forget STORE --status [--json]\n"
    "       siglog forget STORE --finish [--archives DIR ...] [--wait SECONDS]\n"
    "       [--force-owner] [--json]",
    "Remove every event whose key is one of the keys given from the stream's\n"
    "segments (hot, warm and cold) and from the archives exported with\n"
    "siglog archive into the directories given, each segment rewritten\n"
    "without them through the catalog's rewrite primitive: a crash leaves it\n"
    "old or new, and a writer and readers go on beside it. Every other event\n"
    "keeps its offset, time and bytes; segments whose key filter excludes\n"
    "every key are not read.\n"
    "\n"
    "  --key K         a key to forget (repeatable)\n"
    "  --key-file FILE the keys to forget, one per line (an empty line is no\n"
    "                  key: refused)\n"
    "  --archives DIR  a directory of archives exported with siglog archive\n"
    "                  (repeatable): each one there whose header names this\n"
    "                  store and stream (the name proves nothing) and holds\n"
    "                  a key is rewritten without it, or removed when nothing\n"
    "                  stays; other files are not touched\n"
    "  --wait SECONDS  how long to wait for a writer that has the store to\n"
    "                  answer the forget's roll request (1 to 86400; default\n"
    "                  10): past it the forget changes nothing and exits 1\n"
    "  --dry-run       say what would go and write nothing; where the forget\n"
    "                  would fail before changing anything (keys filling\n"
    "                  every sealed segment after the cold tier: \"would keep\n"
    "                  no event\"), say \"would fail:\" with its error and\n"
    "                  exit 1 as it would\n"
    "  --status        list the forgets a crash left unfinished (stream, keys,\n"
    "                  started); reads only. --json: {\"store\", \"pending\":\n"
    "                  [{\"stream\", \"keys\", \"started\"}]}\n"
    "  --finish        finish them and nothing else (every forget does so\n"
    "                  first), asking a live writer to scrub its journal as a\n"
    "                  forget does; --json as a forget's, without\n"
    "                  \"stream\"/\"keys\"\n"
    "  --force-owner   run as another user than the store's owner, giving new\n"
    "                  files to the owner\n"
    "  --json          one JSON document: {\"store\", \"stream\", \"dry_run\",\n"
    "                  \"keys\", \"partitions\", \"partitions_changed\",\n"
    "                  \"segments_skipped\", \"segments_read\",\n"
    "                  \"segments_rewritten\", \"events_removed\",\n"
    "                  \"bytes_before\", \"bytes_after\", \"journal_scrubbed\",\n"
    "                  \"intents_finished\", \"segments_rolled\",\n"
    "                  \"archives_read\", \"archives_skipped\",\n"
    "                  \"archives_rewritten\",\n"
    "                  \"archives_unvisited\": [PATH ...]}\n"
    "\n"
    "Before a partition changes, one audit record (action forget) is written\n"
    "for it with the keyed BLAKE2b-256 (the store's secret) of each key it\n"
    "held events of, never the key, and the events, bytes and offsets\n"
    "removed. An active segment holding an event of a key is rolled first,\n"
    "by the forget as the store's writer when no writer has the store, and\n"
    "the commit journal's old bytes are zeroed at the end. A live writer in\n"
    "another process owns both: the forget asks it, before changing anything,\n"
    "with STORE/streams/STREAM/roll.request, which the writer answers within\n"
    "a fraction of a second by rolling those segments, checkpointing and\n"
    "zeroing its journal's old bytes, keeping every acknowledged event. A\n"
    "writer that does not answer within --wait (stopped, or failed) gets the\n"
    "request withdrawn: the forget changes nothing and exits 1 naming what it\n"
    "waited for. Cold segments are covered too: each archive in cold_dir\n"
    "holding an event of a key is replaced by one without it (a new name,\n"
    "written, synced and read back before the catalog names it; the old one\n"
    "removed after). Archives exported with siglog archive live outside the\n"
    "store: only those in the --archives directories are rewritten (a new\n"
    "file written, synced and read back, then renamed over the old one). Each\n"
    "export the audit trail records into another directory is reported as not\n"
    "visited (\"not visited: PATH\"; exit status 0): forget again with its\n"
    "directory, or remove it.\n"
    "\n"
    "Never half: before its first change a forget writes its intent,\n"
    "STORE/streams/STREAM/forget.intent, with the keyed hashes of the keys it\n"
    "found (never the keys), and removes it after its last rewrite. After a\n"
    "crash the next forget (or forget --finish) finishes it, matching events\n"
    "by the keyed hash of their key.\n",
};

enum { OPT_KEY = MAINT_OPT_END, OPT_KEY_FILE, OPT_STATUS, OPT_FINISH, OPT_ARCHIVES, OPT_WAIT };

/* The --archives directories (argv's strings), and the exported archives
 * the forget reports it could not visit. */
typedef struct dir_list {
    const char **v;
    size_t n;
    json_t *unvisited; /* --json: the paths; else printed as told */
    int json, failed;
} dir_list;

static int dir_add(dir_list *l, const char *dir)
{
    const char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v)
        return -1;
    v[l->n++] = dir;
    l->v = v;
    return 0;
}

static void on_unvisited(void *ctx, const char *path)
{
    dir_list *l = ctx;
    if (l->json) {
        l->failed |= json_array_append_new(l->unvisited, json_string(path)) != 0;
        return;
    }
    fprintf(stderr, "siglog forget: not visited: %s (an archive exported from the stream outside the --archives "
                    "directories)\n", path);
}

/* The keys given, their bytes owned here. */
typedef struct key_list {
    siglog_key *v;
    size_t n, cap;
} key_list;

static int key_add(key_list *l, const char *data, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        siglog_key *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, data, len);
    l->v[l->n++] = (siglog_key){copy, len};
    return 0;
}

static void key_list_free(key_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((void *)l->v[i].data);
    free(l->v);
}

/* Every line of path as a key: CLI_OK, or a usage error for an empty
 * file or line, CLI_FAIL when it cannot be read. */
static int read_key_file(const char *path, key_list *l)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail(forget_cmd.name, "cannot read key file %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, before = l->n;
    ssize_t len;
    uint64_t lineno = 0;
    int status = CLI_OK;
    while (status == CLI_OK && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (len == 0)
            status = args_usage(&forget_cmd, "key file %s: line %" PRIu64 " is empty (no key)", path, lineno);
        else if (key_add(l, line, (size_t)len) != 0)
            status = cli_fail(forget_cmd.name, "out of memory");
    }
    if (status == CLI_OK && ferror(f))
        status = cli_fail(forget_cmd.name, "cannot read key file %s: %s", path, strerror(errno));
    if (status == CLI_OK && l->n == before)
        status = args_usage(&forget_cmd, "key file %s holds no key", path);
    free(line);
    fclose(f);
    return status;
}

/* stream NULL: a --finish. */
static int report(const char *store, const char *stream, size_t keys, int dry_run, const siglog_forget_result *r,
                  dir_list *dirs)
{
    int json = dirs->json;
    if (json) {
        json_t *doc = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I}", "store", store,
                                "dry_run", dry_run, "partitions",
                                (json_int_t)r->partitions, "partitions_changed", (json_int_t)r->partitions_changed,
                                "segments_skipped", (json_int_t)r->segments_skipped, "segments_read",
                                (json_int_t)r->segments_read, "segments_rewritten",
                                (json_int_t)r->segments_rewritten, "events_removed", (json_int_t)r->events_removed,
                                "bytes_before", (json_int_t)r->bytes_before, "bytes_after",
                                (json_int_t)r->bytes_after, "journal_scrubbed", (int)r->journal_scrubbed,
                                "intents_finished", (json_int_t)r->intents_finished, "segments_rolled",
                                (json_int_t)r->segments_rolled);
        if (doc && (dirs->failed ||
                    json_object_set_new(doc, "archives_read", json_integer((json_int_t)r->archives_read)) ||
                    json_object_set_new(doc, "archives_skipped", json_integer((json_int_t)r->archives_skipped)) ||
                    json_object_set_new(doc, "archives_rewritten", json_integer((json_int_t)r->archives_rewritten)) ||
                    json_object_set(doc, "archives_unvisited", dirs->unvisited)))
            doc = (json_decref(doc), NULL);
        if (doc && stream &&
            (json_object_set_new(doc, "stream", json_string(stream)) || json_object_set_new(doc, "keys",
                                                                                         json_integer((json_int_t)keys))))
            doc = (json_decref(doc), NULL);
        if (!doc || (out_json_doc(doc) != 0 && !out_failed()))
            return cli_fail(forget_cmd.name, "out of memory");
        return out_finish(forget_cmd.name);
    }
    char line[512];
    if (r->intents_finished) {
        snprintf(line, sizeof line,
                 "finished %" PRIu32 " interrupted forget%s first (their keys known only by keyed hash)\n",
                 r->intents_finished, r->intents_finished == 1 ? "" : "s");
        out_puts(line);
    }
    if (!stream) {
        snprintf(line, sizeof line, "removed %" PRIu64 " events in %" PRIu64 " segments; bytes %" PRIu64
                 " before, %" PRIu64 " after\n", r->events_removed, r->segments_rewritten, r->bytes_before,
                 r->bytes_after);
        out_puts(r->intents_finished ? line : "no forget to finish\n");
    } else {
        snprintf(line, sizeof line,
             "%s %zu keys of stream %s: %" PRIu64 " events in %" PRIu64 " segments of %" PRIu32 " of %" PRIu32
             " partitions (%" PRIu64 " segments read, %" PRIu64 " passed over by their key filters); bytes %" PRIu64
             " before, %" PRIu64 " after\n",
             dry_run ? "would forget:" : "forgot:", keys, stream, r->events_removed, r->segments_rewritten,
             r->partitions_changed, r->partitions, r->segments_read, r->segments_skipped, r->bytes_before,
             r->bytes_after);
        out_puts(line);
        if (r->archives_read || r->archives_rewritten || r->archives_skipped) {
            snprintf(line, sizeof line, "exported archives: %" PRIu64 " of the stream read, %" PRIu64 " passed over by "
                     "their key filters, %" PRIu64 " %s\n", r->archives_read, r->archives_skipped,
                     r->archives_rewritten, dry_run ? "would be rewritten" : "rewritten");
            out_puts(line);
        }
        if (r->segments_rolled) {
            snprintf(line, sizeof line, "%s %" PRIu64 " active segment%s holding events of the keys first\n",
                     dry_run ? "would roll" : "rolled", r->segments_rolled, r->segments_rolled == 1 ? "" : "s");
            out_puts(line);
        }
    }
    if (!dry_run && !r->journal_scrubbed)
        out_puts("the commit journal may still hold bytes of the forgotten events until they are overwritten: it "
                 "holds entries the next writer's open must replay, or (--finish with nothing to finish) a live "
                 "writer was not asked: run forget again then\n");
    return out_finish(forget_cmd.name);
}

/* --status: the pending intents, through a read-only handle. */
static int status_run(const char *store, int json)
{
    siglog *s;
    if (cli_open(forget_cmd.name, store, CLI_OPEN_READ_ONLY, NULL, &s, NULL))
        return CLI_FAILURE;
    siglog_forget_intent *list;
    size_t n;
    int rc = siglog_forget_pending(s, &list, &n);
    if (rc)
        rc = cli_fail_lib(forget_cmd.name, rc, "listing the forget intents of %s", store);
    siglog_close(s); /* after the error is told: closing clears its detail */
    if (rc)
        return rc;
    json_t *pending = json ? json_array() : NULL;
    int failed = json && !pending;
    if (!json && n == 0)
        out_puts("no forget to finish\n");
    for (size_t i = 0; i < n && !failed; i++) {
        char started[TIMEPARSE_RFC3339_MAX], line[SIGLOG_NAME_MAX + 128];
        timeparse_format(list[i].started_us, started);
        if (json) {
            failed = json_array_append_new(pending, json_pack("{s:s, s:I, s:s}", "stream", list[i].stream, "keys",
                                                              (json_int_t)list[i].keys, "started", started)) != 0;
        } else {
            snprintf(line, sizeof line, "stream %s: a forget of %" PRIu32 " keys started %s is not finished\n",
                     list[i].stream, list[i].keys, started);
            out_puts(line);
        }
    }
    siglog_forget_pending_free(list);
    if (json) {
        json_t *doc = failed ? NULL : json_pack("{s:s, s:o}", "store", store, "pending", pending);
        if (failed)
            json_decref(pending);
        if (!doc || (out_json_doc(doc) != 0 && !out_failed()))
            return cli_fail(forget_cmd.name, "out of memory");
    }
    return out_finish(forget_cmd.name);
}

/* A forget of keys (stream non-NULL), or a --finish. */
static int run(const char *store, const char *stream, const key_list *keys, const maint_args *ma, dir_list *dirs,
               uint32_t wait_s)
{
    siglog_maintenance *m;
    if (maint_args_open(&forget_cmd, ma, store, &m))
        return CLI_FAILURE;
    progress bar;
    progress_start(&bar, "forget", 0);
    dirs->json = ma->json;
    if (ma->json && !(dirs->unvisited = json_array())) {
        siglog_maintenance_close(m);
        return cli_fail(forget_cmd.name, "out of memory");
    }
    siglog_forget_options o = {.dry_run = (uint32_t)ma->dry_run, .wait_ms = wait_s * 1000, .progress = progress_partitions, .progress_ctx = &bar,
                               .archive_dirs = dirs->v, .archive_dir_count = dirs->n, .unvisited = on_unvisited,
                               .unvisited_ctx = dirs};
    siglog_forget_result r;
    int rc = stream ? siglog_forget(m, stream, keys->v, keys->n, &o, &r) : siglog_forget_finish(m, &o, &r);
    progress_end(&bar);
    /* A dry run meets what the forget would meet (it plans the same,
     * and asks what the cold tier's edge would refuse): it would fail. */
    int status = !rc ? report(store, stream, keys->n, ma->dry_run, &r, dirs)
                 : stream && ma->dry_run
                     ? cli_fail_lib(forget_cmd.name, rc, "would fail: forgetting keys of stream %s", stream)
                 : stream ? cli_fail_lib(forget_cmd.name, rc, "forgetting keys of stream %s", stream)
                          : cli_fail_lib(forget_cmd.name, rc, "finishing the interrupted forgets of %s", store);
    siglog_maintenance_close(m);
    json_decref(dirs->unvisited);
    return status;
}

int cmd_forget(int argc, char **argv)
{
    static const struct option opts[] = {
        MAINT_OPTION_JSON,
        { "key", required_argument, NULL, OPT_KEY },
        { "key-file", required_argument, NULL, OPT_KEY_FILE },
        { "status", no_argument, NULL, OPT_STATUS },
        { "finish", no_argument, NULL, OPT_FINISH },
        { "archives", required_argument, NULL, OPT_ARCHIVES },
        { "wait", required_argument, NULL, OPT_WAIT },
        MAINT_OPTION_DRY_RUN,
        MAINT_OPTION_FORCE_OWNER,
        { NULL, 0, NULL, 0 },
    };
    maint_args ma = { 0 };
    int status = CLI_OK;
    const char *key_file = NULL;
    int status_only = 0, finish = 0;
    key_list keys = {0};
    dir_list dirs = {0};
    uint32_t wait_s = SIGLOG_FORGET_WAIT_DEFAULT_MS / 1000;
    args_begin();
    for (int ch; status == CLI_OK && (ch = maint_args_next(&forget_cmd, argc, argv, opts, &ma)) != -1;) {
        if (ch == OPT_KEY) {
            if (!*optarg)
                status = args_usage(&forget_cmd, "--key wants a key, not an empty string");
            else if (key_add(&keys, optarg, strlen(optarg)) != 0)
                status = cli_fail(forget_cmd.name, "out of memory");
        } else if (ch == OPT_KEY_FILE) {
            key_file = optarg;
        } else if (ch == OPT_STATUS) {
            status_only = 1;
        } else if (ch == OPT_FINISH) {
            finish = 1;
        } else if (ch == OPT_WAIT) {
            if (args_u32(&forget_cmd, "--wait", optarg, 1, 86400, &wait_s))
                status = CLI_USAGE;
        } else if (ch == OPT_ARCHIVES) {
            if (!*optarg)
                status = args_usage(&forget_cmd, "--archives wants a directory, not an empty string");
            else if (dir_add(&dirs, optarg) != 0)
                status = cli_fail(forget_cmd.name, "out of memory");
        } else {
            key_list_free(&keys);
            free(dirs.v);
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
        }
    }
    char **ops;
    int store_only = status_only || finish;
    if (status == CLI_OK && status_only && finish)
        status = args_usage(&forget_cmd, "--status and --finish exclude each other");
    if (status == CLI_OK && store_only &&
        (keys.n || key_file || ma.dry_run || (status_only && (ma.force_owner || dirs.n))))
        status = args_usage(&forget_cmd, "--%s takes the store alone: no keys, --dry-run%s", status_only ? "status"
                            : "finish", status_only ? ", --archives or --force-owner" : "");
    if (status == CLI_OK &&
        args_operands(&forget_cmd, argc, argv, store_only ? 1 : 2, store_only ? "STORE" : "STORE STREAM", &ops))
        status = CLI_USAGE;
    if (status == CLI_OK && store_only) {
        status = status_only ? status_run(ops[0], ma.json) : run(ops[0], NULL, &keys, &ma, &dirs, wait_s);
        key_list_free(&keys);
        free(dirs.v);
        return status;
    }
    if (status == CLI_OK && key_file && keys.n)
        status = args_usage(&forget_cmd, "--key and --key-file exclude each other");
    if (status == CLI_OK && key_file)
        status = read_key_file(key_file, &keys);
    if (status == CLI_OK && !keys.n)
        status = args_usage(&forget_cmd, "one of --key K or --key-file FILE is required");
    if (status == CLI_OK)
        status = run(ops[0], ops[1], &keys, &ma, &dirs, wait_s);
    key_list_free(&keys);
    free(dirs.v);
    return status;
}
