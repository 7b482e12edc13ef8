/*
 * cmd_audit — `siglog audit STORE [--stream S] [--since T] [--json]
 * [--verify]`: print the store's audit trail, or check its hash chain.
 * Opens the store read-only; verifying reads the store's secret, so only
 * its owner can.
 */
#include "args.h"
#include "cli.h"
#include "output.h"
#include "streaminfo.h"
#include "timeparse.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const args_cmd cmd = {
    "audit",
    "siglog audit STORE [--stream S] [--since T] [--verify] [--json]",
    "Print the audit trail of STORE: one line per recorded action (tier moves,\n"
    "purges, archives, restores, consumer commits with a hold, setting changes),\n"
    "oldest first: sequence number, time, action, cause (policy or command),\n"
    "stream/partition, offsets [start, end), event times, events, bytes, who\n"
    "(host, pid, uid) and the policy or command that caused it. Each record was\n"
    "written before its action began: a crash between the two leaves a record\n"
    "of an action not done, never an action unrecorded.\n"
    "\n"
    "  --stream S   only records of stream S\n"
    "  --since T    only records written at or after T (RFC 3339)\n"
    "  --verify     check the hash chain instead of printing records: every\n"
    "               record's keyed BLAKE2b, its sequence number and its link to\n"
    "               the one before. Exit 1 naming the first bad record (removed,\n"
    "               edited or reordered records) and its byte. On success, prints\n"
    "               the count and the last record's mac: kept elsewhere, it shows\n"
    "               later whether records were cut from the end. Needs the store's\n"
    "               secret (store.secret, readable by the store's owner only).\n"
    "  --json       one JSON document: {\"store\", \"records\": [{seq, time_us,\n"
    "               action, cause, stream, partition, offset_start, offset_end,\n"
    "               time_min_us, time_max_us, events, bytes, host, pid, uid,\n"
    "               detail}], \"torn_at\"}; with --verify {\"store\", \"records\"\n"
    "               (the count), \"verified\": true, \"head_mac\", \"torn_at\"}\n"
    "\n"
    "A last record a crash interrupted (its action never began) is reported as a\n"
    "torn tail on stderr; the next record appended cuts it. Nothing is written.\n",
};

enum { OPT_JSON = 256, OPT_STREAM, OPT_SINCE, OPT_VERIFY };

typedef struct audit_ctx {
    const char *stream; /* filter, or NULL */
    int64_t since_us;
    json_t *records;    /* NULL for text output */
    int status;
} audit_ctx;

static json_t *record_json(const siglog_audit_record *r)
{
    json_t *j = json_pack("{s:I, s:I, s:s, s:s, s:s}", "seq", (json_int_t)r->seq, "time_us", (json_int_t)r->time_us,
                          "action", r->action, "cause", r->cause, "stream", r->stream);
    json_t *partition = r->partition == SIGLOG_AUDIT_NO_PARTITION ? json_null() : json_integer(r->partition);
    if (!j || json_object_set_new(j, "partition", partition) != 0)
        goto fail;
    if (json_object_set_new(j, "offset_start", json_integer((json_int_t)r->offset_start)) != 0 ||
        json_object_set_new(j, "offset_end", json_integer((json_int_t)r->offset_end)) != 0 ||
        json_object_set_new(j, "time_min_us", json_integer(r->time_min_us)) != 0 ||
        json_object_set_new(j, "time_max_us", json_integer(r->time_max_us)) != 0 ||
        json_object_set_new(j, "events", json_integer((json_int_t)r->events)) != 0 ||
        json_object_set_new(j, "bytes", json_integer((json_int_t)r->bytes)) != 0 ||
        json_object_set_new(j, "host", streaminfo_text_json(r->host)) != 0 ||
        json_object_set_new(j, "pid", json_integer(r->pid)) != 0 ||
        json_object_set_new(j, "uid", json_integer(r->uid)) != 0 ||
        json_object_set_new(j, "detail", streaminfo_text_json(r->detail)) != 0)
        goto fail;
    return j;
fail:
    json_decref(j);
    return NULL;
}

static void record_text(const siglog_audit_record *r)
{
    char when[TIMEPARSE_RFC3339_MAX], where[SIGLOG_NAME_MAX + 16] = "-", offsets[64] = "-", times[160] = "-";
    timeparse_format(r->time_us, when);
    if (r->stream[0] && r->partition != SIGLOG_AUDIT_NO_PARTITION)
        snprintf(where, sizeof where, "%s/%" PRIu32, r->stream, r->partition);
    else if (r->stream[0])
        snprintf(where, sizeof where, "%s", r->stream);
    if (r->offset_end > r->offset_start)
        snprintf(offsets, sizeof offsets, "[%" PRIu64 ",%" PRIu64 ")", r->offset_start, r->offset_end);
    if (r->time_min_us <= r->time_max_us) {
        char a[TIMEPARSE_RFC3339_MAX], b[TIMEPARSE_RFC3339_MAX];
        timeparse_format(r->time_min_us, a);
        timeparse_format(r->time_max_us, b);
        snprintf(times, sizeof times, "%s..%s", a, b);
    }
    char line[1024];
    snprintf(line, sizeof line,
             "%" PRIu64 " %s %s %s %s offsets=%s times=%s events=%" PRIu64 " bytes=%" PRIu64
             " by=%s pid=%" PRIu32 " uid=%" PRIu32 " detail=",
             r->seq, when, r->action, r->cause, where, offsets, times, r->events, r->bytes, r->host, r->pid, r->uid);
    out_puts(line);
    /* Free text from the store: escaped, so each record stays one line. */
    for (const char *p = r->detail; *p; p++) {
        char esc[8];
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == '\\')
            out_write(esc, out_escape_byte(c, "x", esc));
        else
            out_write(p, 1);
    }
    out_puts("\n");
}

static int each_record(void *ctx, const siglog_audit_record *r)
{
    audit_ctx *ac = ctx;
    if ((ac->stream && strcmp(ac->stream, r->stream) != 0) || r->time_us < ac->since_us)
        return 0;
    if (!ac->records) {
        record_text(r);
        return out_failed() ? -1 : 0;
    }
    if (json_array_append_new(ac->records, record_json(r)) != 0) {
        ac->status = cli_fail(cmd.name, "out of memory");
        return -1;
    }
    return 0;
}

static json_t *torn_json(const siglog_audit_summary *sum)
{
    return sum->torn_at == UINT64_MAX ? json_null() : json_integer((json_int_t)sum->torn_at);
}

int cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, OPT_JSON },
        { "stream", required_argument, NULL, OPT_STREAM },
        { "since", required_argument, NULL, OPT_SINCE },
        { "verify", no_argument, NULL, OPT_VERIFY },
        { NULL, 0, NULL, 0 },
    };
    int json = 0, verify = 0;
    audit_ctx ac = { .since_us = INT64_MIN, .status = CLI_OK };
    args_begin();
    for (int ch; (ch = args_next(&cmd, argc, argv, opts)) != -1;) {
        if (ch == OPT_JSON)
            json = 1;
        else if (ch == OPT_VERIFY)
            verify = 1;
        else if (ch == OPT_STREAM)
            ac.stream = optarg;
        else if (ch == OPT_SINCE && timeparse_time_arg(optarg, 0, &ac.since_us) != 0)
            return args_usage(&cmd, "--since: '%s' is not an RFC 3339 time", optarg);
        else if (ch != OPT_SINCE)
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
    }
    char **ops;
    if (args_operands(&cmd, argc, argv, 1, "STORE", &ops))
        return CLI_USAGE;
    if (verify && (ac.stream || ac.since_us != INT64_MIN))
        return args_usage(&cmd, "--verify checks the whole trail: --stream and --since do not apply");
    const char *path = ops[0];

    siglog *s;
    if (cli_open(cmd.name, path, CLI_OPEN_READ_ONLY, NULL, &s, NULL) != CLI_OK)
        return CLI_FAILURE;
    if (json && !verify && !(ac.records = json_array())) {
        siglog_close(s);
        return cli_fail(cmd.name, "out of memory");
    }
    siglog_audit_summary sum;
    int rc = siglog_audit_read(s, verify, verify ? NULL : each_record, &ac, &sum);
    if (rc < 0 && ac.status == CLI_OK && !out_failed())
        ac.status = cli_fail_lib(cmd.name, rc, "audit trail of %s", path);
    if (ac.status == CLI_OK && !out_failed() && sum.torn_at != UINT64_MAX)
        cli_warn(cmd.name, "the last record, at byte %" PRIu64 " of %s/audit.log, is torn (a crash interrupted its "
                 "write, so its action never began); the next record appended cuts it", sum.torn_at, path);
    json_t *doc = NULL;
    if (ac.status == CLI_OK && json) {
        doc = verify ? json_pack("{s:s, s:I, s:b, s:s, s:o}", "store", path, "records", (json_int_t)sum.records,
                                 "verified", 1, "head_mac", sum.head_mac, "torn_at", torn_json(&sum))
                     : json_pack("{s:s, s:O, s:o}", "store", path, "records", ac.records, "torn_at", torn_json(&sum));
        if (!doc || (out_json_doc(doc) != 0 && !out_failed()))
            ac.status = cli_fail(cmd.name, "out of memory");
    } else if (ac.status == CLI_OK && verify) {
        char line[256];
        snprintf(line, sizeof line, "%s: %" PRIu64 " audit records verified; head mac %s\n", path, sum.records,
                 sum.records ? sum.head_mac : "(none: empty trail)");
        out_puts(line);
    }
    if (ac.status == CLI_OK)
        ac.status = out_finish(cmd.name);
    json_decref(ac.records);
    siglog_close(s);
    return ac.status;
}
