/*
 * cmd_schema — `siglog schema add|check|list|show`: a stream's schema
 * versions (siglog.h, "Schema contracts").
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "output.h"
#include "schemausage.h"
#include "streaminfo.h"

#define DEFINITION_BYTES_MAX (256u * 1024u)

static const args_cmd schema_cmd = {
    "schema",
    "siglog schema add|check|list|show STORE STREAM ...",
    "  siglog schema add STORE STREAM --version V --file DEF.json [--name N] [--compat MODE]\n"
    "  siglog schema check STORE STREAM --version V --file DEF.json [--compat MODE]\n"
    "  siglog schema list STORE STREAM [--json]\n"
    "  siglog schema show STORE STREAM --version V\n"
    "\n"
    "A definition is a JSON Schema subset: type (string, integer, number, boolean,\n"
    "object, array, null, or a list of them), properties, required, items, enum,\n"
    "additionalProperties, and x-sensitivity: public|internal|personal|secret.\n"
    "MODE: none, backward (default), forward, full, backward_transitive,\n"
    "forward_transitive, full_transitive, as Confluent Schema Registry means them.\n"
    "add and check exit 1 with every reason a version is refused (JSON path, old\n"
    "type, new type, what breaks). Appends check versions per the stream setting\n"
    "contract (siglog stream config STORE STREAM --set contract=enforce).\n"
    "\n"
    "list prints, per version: version, fingerprint, compat, registered_at (us),\n"
    "name; then per partition holding events of it a line with its first and last\n"
    "offset, events, nonconforming events (counted under contract=warn) and the\n"
    "earliest and latest event time; then per JSON path its nonconforming events.\n"
    "--json: [{version, name, fingerprint, compat, registered_at_us, partitions:\n"
    "[{partition, version, first_offset, last_offset, first_time_us, last_time_us,\n"
    "events, nonconforming}], nonconforming, nonconforming_paths: {PATH: N}}].\n",
};

enum { OPT_VERSION = 1000, OPT_FILE, OPT_NAME, OPT_COMPAT, OPT_JSON };

typedef struct schema_args {
    const char *verb;
    uint32_t version;
    int has_version;
    const char *file;
    const char *name;
    int compat;
    int json;
    char **ops;
} schema_args;

static int parse(int argc, char **argv, schema_args *a)
{
    static const struct option opts[] = {
        { "version", required_argument, NULL, OPT_VERSION },
        { "file", required_argument, NULL, OPT_FILE },
        { "name", required_argument, NULL, OPT_NAME },
        { "compat", required_argument, NULL, OPT_COMPAT },
        { "json", no_argument, NULL, OPT_JSON },
        { NULL, 0, NULL, 0 },
    };
    a->compat = SIGLOG_COMPAT_BACKWARD;
    args_begin();
    for (int ch; (ch = args_next(&schema_cmd, argc, argv, opts)) != -1;) {
        if (ch == OPT_VERSION) {
            if (args_u32(&schema_cmd, "--version", optarg, 1, UINT32_MAX, &a->version))
                return CLI_USAGE;
            a->has_version = 1;
        } else if (ch == OPT_FILE) {
            a->file = optarg;
        } else if (ch == OPT_NAME) {
            a->name = optarg;
        } else if (ch == OPT_COMPAT) {
            if ((a->compat = siglog_compat_parse(optarg)) < 0)
                return args_usage(&schema_cmd, "--compat takes none, backward, forward, full or a *_transitive "
                                               "form, not '%s'", optarg);
        } else if (ch == OPT_JSON) {
            a->json = 1;
        } else {
            return ch == ARGS_HELP ? ARGS_HELP : CLI_USAGE;
        }
    }
    if (args_operands(&schema_cmd, argc, argv, 3, "VERB STORE STREAM", &a->ops))
        return CLI_USAGE;
    a->verb = a->ops[0];
    int wants_def = strcmp(a->verb, "add") == 0 || strcmp(a->verb, "check") == 0;
    if (!wants_def && strcmp(a->verb, "list") != 0 && strcmp(a->verb, "show") != 0)
        return args_usage(&schema_cmd, "unknown verb '%s' (add, check, list or show)", a->verb);
    if ((wants_def || strcmp(a->verb, "show") == 0) && !a->has_version)
        return args_usage(&schema_cmd, "%s needs --version V", a->verb);
    if (wants_def && !a->file)
        return args_usage(&schema_cmd, "%s needs --file DEF.json", a->verb);
    return 0;
}

/* The whole definition file into a malloc'd buffer. */
static char *read_definition(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        cli_fail("schema", "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(DEFINITION_BYTES_MAX + 1);
    size_t n = buf ? fread(buf, 1, DEFINITION_BYTES_MAX + 1, f) : 0;
    int bad = !buf || ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad || n > DEFINITION_BYTES_MAX) {
        cli_fail("schema", "%s: %s", path, bad ? "cannot read it" : "larger than 256 KiB");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* printf to the checked standard output (output.h). */
static int outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int outf(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return out_puts(buf);
}

/* One reason per line: to standard output for check (it is the answer),
 * to standard error for add (it explains the failure). */
static void print_reason(void *ctx, const siglog_schema_reason *r)
{
    const char *fmt = "  against version %u: %s: %s -> %s: %s\n";
    if (ctx)
        outf(fmt, r->against, r->path, r->old_type, r->new_type, r->what);
    else
        fprintf(stderr, fmt, r->against, r->path, r->old_type, r->new_type, r->what);
}

static int add_or_check(siglog_stream *st, const schema_args *a)
{
    size_t len;
    char *def = read_definition(a->file, &len);
    if (!def)
        return CLI_FAILURE;
    int check = strcmp(a->verb, "check") == 0;
    int rc = check ? siglog_schema_check(st, a->version, def, len, a->compat, print_reason, "stdout")
                   : siglog_schema_add(st, a->version, a->name, def, len, a->compat, print_reason, NULL);
    free(def);
    if (rc == SIGLOG_ESCHEMA && check) {
        outf("incompatible: %s\n", siglog_errdetail());
        out_finish("schema");
        return CLI_FAILURE;
    }
    /* The file is named: a reason gives a line and column or a JSON path
     * in it, not which of an operator's files it is about. */
    if (rc)
        return cli_fail_lib("schema", rc, "%s version %u of %s from %s", a->verb, a->version, a->ops[2], a->file);
    siglog_schema_info info;
    if (check)
        outf("compatible: version %u may be registered under %s\n", a->version, siglog_compat_name(a->compat));
    else if (siglog_schema_get(st, a->version, &info) == 0)
        outf("version %u of %s: fingerprint %016" PRIx64 ", %s\n", a->version, a->ops[2], info.fingerprint,
             siglog_compat_name((int)info.compat));
    return out_finish("schema");
}

typedef struct list_ctx {
    siglog_stream *st;
    json_t *arr;      /* NULL for text */
    json_t *paths;    /* the version being listed: its paths (JSON) */
} list_ctx;

static void path_one(void *ctx, const char *path, uint64_t count)
{
    list_ctx *l = ctx;
    if (!l->arr) {
        outf("  nonconforming at %s: %" PRIu64 "\n", path, count);
        return;
    }
    json_t *n = json_integer((json_int_t)count);
    if (l->paths && json_object_set_new(l->paths, path, n) != 0) {
        json_decref(l->paths);
        l->paths = NULL; /* out of memory: noticed by the caller */
    }
}

/* Where a version's events are and how many broke it. */
static int list_usage(list_ctx *l, const siglog_schema_info *i, json_t *obj)
{
    schemausage u;
    int rc = schemausage_collect(l->st, UINT32_MAX, i->version, &u);
    if (rc)
        return rc;
    json_t *parts = obj ? json_array() : NULL;
    int nomem = obj && !parts;
    for (size_t k = 0; k < u.n && !nomem; k++)
        if (obj)
            nomem = json_array_append_new(parts, schemausage_json(&u.v[k])) != 0;
        else
            schemausage_text(&u.v[k], "  ", 1);
    schemausage_free(&u);
    uint64_t total = 0;
    l->paths = obj ? json_object() : NULL;
    rc = nomem ? SIGLOG_ENOMEM : siglog_schema_violations(l->st, i->version, &total, path_one, l);
    if (!rc && obj &&
        (!l->paths || json_object_set_new(obj, "partitions", json_incref(parts)) != 0 ||
         json_object_set_new(obj, "nonconforming", json_integer((json_int_t)total)) != 0 ||
         json_object_set_new(obj, "nonconforming_paths", json_incref(l->paths)) != 0))
        rc = SIGLOG_ENOMEM;
    json_decref(parts);
    json_decref(l->paths);
    l->paths = NULL;
    return rc;
}

static int list_one(void *ctx, const siglog_schema_info *i)
{
    list_ctx *l = ctx;
    char fp[17];
    snprintf(fp, sizeof fp, "%016" PRIx64, i->fingerprint);
    json_t *obj = NULL;
    if (l->arr) {
        obj = json_pack("{s:I, s:s, s:s, s:s, s:I}", "version", (json_int_t)i->version, "name", i->name,
                        "fingerprint", fp, "compat", siglog_compat_name((int)i->compat), "registered_at_us",
                        (json_int_t)i->registered_at_us);
        if (!obj || json_array_append_new(l->arr, obj) != 0)
            return SIGLOG_ENOMEM;
    } else {
        outf("%u\t%s\t%s\t%" PRId64 "\t%s\n", i->version, fp, siglog_compat_name((int)i->compat),
             i->registered_at_us, i->name);
    }
    return list_usage(l, i, obj);
}

int cmd_schema(int argc, char **argv)
{
    schema_args a = { 0 };
    int rc = parse(argc, argv, &a);
    if (rc)
        return rc == ARGS_HELP ? CLI_OK : rc;
    int writes = strcmp(a.verb, "add") == 0;
    siglog *s;
    siglog_stream *st;
    if (cli_open(schema_cmd.name, a.ops[1], writes ? 0 : CLI_OPEN_READ_ONLY, a.ops[2], &s, &st) != CLI_OK)
        return CLI_FAILURE;
    if (writes || strcmp(a.verb, "check") == 0) {
        rc = add_or_check(st, &a);
    } else if (strcmp(a.verb, "show") == 0) {
        siglog_schema_info info;
        int r = siglog_schema_get(st, a.version, &info);
        rc = r ? cli_fail_lib("schema", r, "show version %u of %s", a.version, a.ops[2])
               : (out_write(info.definition, info.definition_len), out_puts("\n"), out_finish("schema"));
    } else {
        json_t *arr = a.json ? json_array() : NULL;
        list_ctx l = { st, arr, NULL };
        int r = siglog_schema_foreach(st, list_one, &l);
        if (r) {
            rc = cli_fail_lib("schema", r, "list the versions of %s", a.ops[2]);
            json_decref(arr);
        } else if (arr && out_json_doc(arr) != 0 && !out_failed()) { /* it takes arr */
            rc = cli_fail("schema", "out of memory");
        }
        if (!rc)
            rc = out_finish("schema");
    }
    siglog_close(s);
    return rc;
}
