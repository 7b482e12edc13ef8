/*
 * cmd_verify — `siglog verify STORE [--repair [--quarantine] [--accept-loss]] [--json]`: check every
 * checksum, record, offset, index entry and metadata file of a store
 * (siglog_verify) and say what is wrong, where.
 *
 * Output on stdout, one line per finding so that grep and diff work on it:
 *   problem: FILE at byte POS: WHAT     (or "problem: FILE: WHAT" for a
 *                                        whole file)
 *   repaired: FILE: WHAT                (with --repair)
 * and one summary line at the end, always in the same shape:
 *   verify: F files, B batches, R records, P problems[, N repairs, M remain]
 * With --json the same facts form one JSON document instead.
 *
 * Exit status 0 when no problem remains (after --repair: when the repair
 * mended all of them), 1 when some do or the check could not run.
 */
#include "archive_file.h"
#include "args.h"
#include "cli.h"
#include "output.h"
#include "progress.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const args_cmd cmd = {
    "verify",
    "siglog verify STORE [--repair [--quarantine] [--accept-loss] [--force-owner]] [--json]\n"
    "       siglog verify ARCHIVE [--json]",
    "Check the whole store: the store file, both journal header slots and every\n"
    "live journal entry (damage followed by valid entries is told from a torn\n"
    "end), every stream's metadata, every segment batch by batch (header and\n"
    "body checksums, every record decoded, offsets dense within and across\n"
    "segments; a gap the partition's catalog records as an accepted loss is\n"
    "none when the audit trail has a loss, purge, compact or forget record\n"
    "of the partition covering it, and is reported otherwise), every offset and time index entry against the batch it names,\n"
    "each partition's catalog against its segments (missing segments, the\n"
    "figures of sealed ones, segment files it does not name). Commits only the journal holds (a writer crashed before they\n"
    "reached their segments) are reported too: a writer's open, or --repair,\n"
    "puts them into the segments. Each problem is printed with its file and\n"
    "byte position, then one summary line:\n"
    "  verify: F files, B batches, R records, P problems\n"
    "\n"
    "  --repair   mend what recovery may mend, and print what was done: cut a torn\n"
    "             tail (an incomplete or invalid last batch of a partition's last\n"
    "             segment that no summary or checkpoint vouches for) and rebuild\n"
    "             bad indexes from their segments. Damage inside the log or in\n"
    "             vouched bytes is reported, never cut. Takes the writer lock\n"
    "             when there is something to repair (and then fails while a\n"
    "             writer has the store open). The summary then ends with\n"
    "             \", N repairs, M remain\".\n"
    "  --quarantine  with --repair: move each segment holding damage that may\n"
    "             not be cut (its .seg, .sum, .oix and .tix) whole into\n"
    "             STORE/quarantine/<its path in the store>.<unix seconds>, by\n"
    "             renames inside the store, and print each move. Its offsets are\n"
    "             then missing: readers, writers and this re-check report them,\n"
    "             so the status stays 1; nothing continues past them silently.\n"
    "             Without it nothing is ever moved.\n"
    "  --accept-loss  with --repair: accept that segments whose files are gone\n"
    "             (deleted, or quarantined by this run) are lost for good. Each\n"
    "             partition's catalog.ckpt records the loss (at the start: the\n"
    "             log starts after it; elsewhere: a recorded gap, and a lost\n"
    "             active segment is followed by a new one past every offset\n"
    "             handed out), and the audit trail gets a `loss' record per\n"
    "             lost range first. Acknowledged events the commit journal\n"
    "             still holds are not lost: they go into the log at their\n"
    "             offsets (until then the journal keeps them: a writer never\n"
    "             empties it of them). The partition then opens again; a reader\n"
    "             reaching the loss is told once (replay warns on stderr,\n"
    "             naming it) and goes on after it. Offsets are never handed\n"
    "             out again. A partition directory removed whole is made again\n"
    "             and goes on past the offsets its PPPPP.floor file (beside it)\n"
    "             says it handed out; without that file it cannot be accepted:\n"
    "             restore it.\n"
    "  --force-owner  with --repair: mend even though this user does not own the\n"
    "             store; new files get the owner's uid and gid (needs root)\n"
    "  --json     print one JSON document instead: {\"store\", \"files\", \"batches\",\n"
    "             \"records\", \"bytes\", \"problems\": [{file, position, what}],\n"
    "             \"repairs\": [{file, what}], \"remaining\", \"ok\"}; position is\n"
    "             null when a problem concerns a whole file.\n"
    "\n"
    "Without --repair the store is only read and no lock is taken; beside a\n"
    "running writer the active segments' tails may be reported as torn.\n"
    "A progress bar is drawn on stderr when it is a terminal.\n"
    "\n"
    "Given an archive file (siglog archive) instead of a store, check it alone:\n"
    "its whole-file checksum, header, schema summary, segment table, every batch\n"
    "and record, and its index; print one line describing it, or the problem\n"
    "with its byte. --json: {\"archive\", \"ok\", \"store_id\", \"stream\",\n"
    "\"partition\", \"segments\", \"first_offset\", \"next_offset\", \"records\",\n"
    "\"batches\", \"min_timestamp_us\", \"max_timestamp_us\", \"bytes\", \"schemas\":\n"
    "[{version, records}]}, or {\"archive\", \"ok\": false, \"problem\"}.\n"
    "Exit status 0 when no problem remains, 1 otherwise.\n",
};

enum { OPT_REPAIR = 256, OPT_JSON, OPT_FORCE_OWNER, OPT_QUARANTINE, OPT_ACCEPT_LOSS };

typedef struct verify_out {
    json_t *problems, *repairs; /* NULL for text output */
    int oom;                    /* an allocation failed */
    progress bar;
} verify_out;

/* The bar shares the terminal with stdout: erase it before a line and let
 * the next update redraw it. */
static void line_begin(verify_out *o)
{
    progress_end(&o->bar);
}

static void line_end(verify_out *o)
{
    if (o->bar.active)
        out_flush();
}

static void on_problem(void *ctx, const char *file, uint64_t position, const char *what)
{
    verify_out *o = ctx;
    if (o->problems) {
        json_t *pos = position == UINT64_MAX ? json_null() : json_integer((json_int_t)position);
        json_t *p = json_pack("{s:s, s:o, s:s}", "file", file, "position", pos, "what", what);
        o->oom |= json_array_append_new(o->problems, p) != 0;
        return;
    }
    line_begin(o);
    out_puts("problem: ");
    out_puts(file);
    if (position != UINT64_MAX) {
        out_puts(" at byte ");
        out_u64(position);
    }
    out_puts(": ");
    out_puts(what);
    out_puts("\n");
    line_end(o);
}

static void on_repaired(void *ctx, const char *file, const char *what)
{
    verify_out *o = ctx;
    if (o->repairs) {
        json_t *r = json_pack("{s:s, s:s}", "file", file, "what", what);
        o->oom |= json_array_append_new(o->repairs, r) != 0;
        return;
    }
    line_begin(o);
    out_puts("repaired: ");
    /* Recovery's own messages name their file themselves. */
    if (file[0]) {
        out_puts(file);
        out_puts(": ");
    }
    out_puts(what);
    out_puts("\n");
    line_end(o);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    verify_out *o = ctx;
    o->bar.total = total;
    progress_update(&o->bar, done);
}

static void count_problem(void *ctx, const char *file, uint64_t position, const char *what)
{
    (void)file, (void)position, (void)what;
    (*(uint64_t *)ctx)++;
}

static void print_summary(const siglog_verify_stats *st, int repair, uint64_t remain)
{
    char line[256];
    int n = snprintf(line, sizeof line,
                     "verify: %" PRIu64 " files, %" PRIu64 " batches, %" PRIu64 " records, %" PRIu64 " problems",
                     st->files, st->batches, st->records, st->problems);
    if (repair)
        snprintf(line + n, sizeof line - (size_t)n, ", %" PRIu64 " repairs, %" PRIu64 " remain", st->repairs,
                 remain);
    out_puts(line);
    out_puts("\n");
}

static int print_json(verify_out *o, const char *path, const siglog_verify_stats *st, uint64_t remain)
{
    json_t *doc = json_pack("{s:s, s:I, s:I, s:I, s:I, s:O, s:O, s:I, s:b}", "store", path, "files",
                            (json_int_t)st->files, "batches", (json_int_t)st->batches, "records",
                            (json_int_t)st->records, "bytes", (json_int_t)st->bytes, "problems", o->problems,
                            "repairs", o->repairs, "remaining", (json_int_t)remain, "ok", remain == 0);
    if (out_json_doc(doc) != 0 && !out_failed())
        return cli_fail(cmd.name, "out of memory");
    return CLI_OK;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        { "repair", no_argument, NULL, OPT_REPAIR },
        { "force-owner", no_argument, NULL, OPT_FORCE_OWNER },
        { "quarantine", no_argument, NULL, OPT_QUARANTINE },
        { "accept-loss", no_argument, NULL, OPT_ACCEPT_LOSS },
        { "json", no_argument, NULL, OPT_JSON },
        { NULL, 0, NULL, 0 },
    };
    int repair = 0, json = 0;
    args_begin();
    for (int ch; (ch = args_next(&cmd, argc, argv, opts)) != -1;) {
        if (ch == OPT_REPAIR)
            repair |= 1;
        else if (ch == OPT_FORCE_OWNER)
            repair |= SIGLOG_VERIFY_FORCE_OWNER;
        else if (ch == OPT_QUARANTINE)
            repair |= SIGLOG_VERIFY_QUARANTINE;
        else if (ch == OPT_ACCEPT_LOSS)
            repair |= SIGLOG_VERIFY_ACCEPT_LOSS;
        else if (ch == OPT_JSON)
            json = 1;
        else
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
    }
    if (repair && !(repair & 1))
        return args_usage(&cmd, repair & SIGLOG_VERIFY_QUARANTINE    ? "--quarantine goes with --repair"
                                : repair & SIGLOG_VERIFY_ACCEPT_LOSS ? "--accept-loss goes with --repair"
                                                                     : "--force-owner goes with --repair");
    char **ops;
    if (args_operands(&cmd, argc, argv, 1, "STORE", &ops))
        return CLI_USAGE;
    const char *path = ops[0];
    if (archive_file_is(path)) {
        if (repair)
            return args_usage(&cmd, "%s is an archive: nothing in it may be repaired", path);
        return archive_file_verify(cmd.name, path, json);
    }

    verify_out o = { 0 };
    int status = CLI_OK;
    if (json) {
        o.problems = json_array();
        o.repairs = json_array();
        if (!o.problems || !o.repairs) {
            status = cli_fail(cmd.name, "out of memory");
            goto out;
        }
    }
    progress_start(&o.bar, "verify", 0);
    siglog_verify_callbacks cb = { on_problem, on_repaired, on_progress, &o };
    siglog_verify_stats st = { 0 };
    int rc = siglog_verify(path, repair, &cb, &st);
    progress_end(&o.bar);
    if (rc != 0 && rc != SIGLOG_ECORRUPT) {
        /* The check itself could not run (or the repair could not start):
         * what was found so far is printed, the reason goes to stderr. */
        status = cli_fail_lib(cmd.name, rc, repair && st.problems ? "cannot repair store %s" : "cannot verify store %s",
                              path);
        out_finish(cmd.name);
        goto out;
    }
    /* After a repair, the engine re-checked silently; count what it still
     * finds (those problems were printed above, before the repair). */
    uint64_t remain = rc == 0 ? 0 : st.problems;
    if (rc != 0 && repair) {
        uint64_t left = 0;
        siglog_verify_callbacks count = { count_problem, NULL, NULL, &left };
        int again = siglog_verify(path, 0, &count, NULL);
        if (again != 0 && again != SIGLOG_ECORRUPT) {
            status = cli_fail_lib(cmd.name, again, "cannot re-check store %s after repair", path);
            goto out;
        }
        remain = left;
    }
    if (o.oom) {
        status = cli_fail(cmd.name, "out of memory");
        goto out;
    }
    if (json)
        status = print_json(&o, path, &st, remain);
    else
        print_summary(&st, repair, remain);
    if (status == CLI_OK)
        status = out_finish(cmd.name);
    if (status == CLI_OK && remain)
        status = cli_fail(cmd.name, "%" PRIu64 " problem%s in store %s%s", remain, remain == 1 ? "" : "s", path,
                          repair ? " after repair" : "");
out:
    json_decref(o.problems);
    json_decref(o.repairs);
    return status;
}
