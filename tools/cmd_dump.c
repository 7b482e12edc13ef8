/*
 * cmd_dump — `siglog dump PATH [--records]`: the batches of a segment file,
 * or of every segment of a partition directory in name order (which is
 * offset order: names are zero-padded base offsets), as siglog_dump_segment
 * reads them. Needs no store and takes no lock.
 *
 * One `key: value` line per batch, keys always in the same order, so a
 * script can split on spaces:
 *   position: 0 base_offset: 0 last_offset: 99 count: 100 first_ts: T
 *   max_ts: T stored_bytes: N raw_bytes: N codec: lz4 checksum: 0x... valid: true
 * (one line). An invalid batch prints "position: P valid: false problem:
 * WHY", the same on stderr, and the command exits 1 once every file was
 * dumped. With --records each batch is followed by one indented line per
 * record; key and value preview are quoted with C-style escapes (\" \\ \n
 * \r \t \xHH), so a line never holds a raw control byte or newline.
 */
#include "args.h"
#include "cli.h"
#include "output.h"
#include "timeparse.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Bytes of a value shown by --records. */
#define DUMP_PREVIEW_BYTES 40

static const args_cmd cmd = {
    "dump",
    "siglog dump PATH [--records]",
    "Print the batches of the segment file PATH (a .seg file), or of every\n"
    "segment of the partition directory PATH in name order, one line per batch:\n"
    "  position: P base_offset: O last_offset: O count: N first_ts: T max_ts: T\n"
    "  stored_bytes: N raw_bytes: N codec: none|lz4 checksum: 0xH valid: true\n"
    "(on one line). position is the batch's byte position in its file; it covers\n"
    "offsets base_offset..last_offset and holds count records (fewer when a rewrite\n"
    "dropped records, leaving gaps); stored_bytes its size there, raw_bytes its body uncompressed, checksum the body checksum;\n"
    "times are RFC 3339 in UTC. Every file starts with a line \"segment: FILE\".\n"
    "\n"
    "  --records  after each batch, one line per record:\n"
    "               offset: O ts: T key: \"K\"|null schema: V headers: N flags: F\n"
    "               value_bytes: N value: \"PREVIEW\"\n"
    "             with at most 40 bytes of the value, escaped (\\\" \\\\ \\n \\r \\t\n"
    "             \\xHH); \"...\" follows a cut preview.\n"
    "\n"
    "The first invalid batch of a file ends that file with\n"
    "  position: P valid: false problem: WHY\n"
    "and the same problem on stderr; the command then exits 1.\n",
};

typedef struct dump_run {
    const char *file; /* being dumped */
    int invalid;      /* an invalid batch was reported in this file */
} dump_run;

/* p quoted, with everything but printable ASCII escaped. */
static void out_escaped(const void *p, size_t n)
{
    const unsigned char *s = p;
    out_write("\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out_write(&c, 1);
        } else {
            char esc[4];
            out_write(esc, out_escape_byte(c, "x", esc));
        }
    }
    out_write("\"", 1);
}

static int dump_batch(void *ctx, const siglog_batch_info *b)
{
    dump_run *d = ctx;
    char line[512];
    if (!b->valid) {
        d->invalid = 1;
        snprintf(line, sizeof line, "position: %" PRIu64 " valid: false problem: ", b->position);
        out_puts(line);
        out_puts(b->problem);
        out_puts("\n");
        cli_fail(cmd.name, "%s: invalid batch at byte %" PRIu64 ": %s", d->file, b->position, b->problem);
        return out_failed();
    }
    char first[TIMEPARSE_RFC3339_MAX], max[TIMEPARSE_RFC3339_MAX];
    timeparse_format(b->first_timestamp_us, first);
    timeparse_format(b->max_timestamp_us, max);
    /* A valid batch holds at least one record. */
    snprintf(line, sizeof line,
             "position: %" PRIu64 " base_offset: %" PRIu64 " last_offset: %" PRIu64 " count: %" PRIu32
             " first_ts: %s max_ts: %s stored_bytes: %" PRIu32 " raw_bytes: %" PRIu32
             " codec: %s checksum: 0x%016" PRIx64 " valid: true\n",
             b->position, b->base_offset, b->last_offset, b->record_count, first, max,
             b->stored_bytes, b->raw_bytes, b->codec == 0 ? "none" : b->codec == 1 ? "lz4" : "unknown",
             b->body_checksum);
    out_puts(line);
    return out_failed();
}

static int dump_record(void *ctx, const siglog_record *r)
{
    (void)ctx;
    char ts[TIMEPARSE_RFC3339_MAX], line[256];
    timeparse_format(r->timestamp_us, ts);
    snprintf(line, sizeof line, "  offset: %" PRIu64 " ts: %s key: ", r->offset, ts);
    out_puts(line);
    if (r->key_len)
        out_escaped(r->key, r->key_len);
    else
        out_puts("null");
    snprintf(line, sizeof line, " schema: %" PRIu32 " headers: %" PRIu32 " flags: %" PRIu32 " value_bytes: %zu value: ",
             r->schema_version, r->header_count, r->flags, r->value_len);
    out_puts(line);
    out_escaped(r->value, r->value_len < DUMP_PREVIEW_BYTES ? r->value_len : DUMP_PREVIEW_BYTES);
    out_puts(r->value_len > DUMP_PREVIEW_BYTES ? "...\n" : "\n");
    return out_failed();
}

/* Dump one segment file. CLI_OK, or CLI_FAILURE after saying why. */
static int dump_file(const char *path, int records)
{
    dump_run d = { .file = path };
    out_puts("segment: ");
    out_puts(path);
    out_puts("\n");
    int rc = siglog_dump_segment(path, dump_batch, records ? dump_record : NULL, &d);
    if (rc == 0 || out_failed())
        return CLI_OK; /* out_finish decides about a failed stdout */
    if (d.invalid)
        return CLI_FAILURE;
    return cli_fail_lib(cmd.name, rc, "cannot dump %s", path);
}

static int is_segment_path(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".seg") == 0;
}

static int is_segment_entry(const struct dirent *e)
{
    return is_segment_path(e->d_name);
}

/* Byte order, not the locale's collation: names are zero-padded numbers. */
static int name_order(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int dump_dir(const char *dir, int records)
{
    struct dirent **names;
    int n = scandir(dir, &names, is_segment_entry, name_order);
    if (n < 0)
        return cli_fail(cmd.name, "cannot list %s: %s", dir, strerror(errno));
    int status = n == 0 ? cli_fail(cmd.name, "%s holds no segment files (*.seg): not a partition directory", dir)
                        : CLI_OK;
    for (int i = 0; i < n; i++) {
        char *path = NULL;
        if (!out_failed()) {
            if (asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
                status = cli_fail(cmd.name, "out of memory");
            } else if (dump_file(path, records) != CLI_OK) {
                status = CLI_FAILURE;
            }
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return status;
}

int cmd_dump(int argc, char **argv)
{
    int records, exit_code = args_flag_only(&cmd, argc, argv, "records", &records);
    if (exit_code >= 0)
        return exit_code;
    char **ops;
    if (args_operands(&cmd, argc, argv, 1, "PATH", &ops))
        return CLI_USAGE;
    const char *path = ops[0];

    struct stat sb;
    int status;
    if (stat(path, &sb) != 0)
        status = cli_fail(cmd.name, "cannot dump %s: %s", path, strerror(errno));
    else if (S_ISDIR(sb.st_mode))
        status = dump_dir(path, records);
    else if (!is_segment_path(path))
        status = cli_fail(cmd.name, "%s is neither a segment file (*.seg) nor a partition directory", path);
    else
        status = dump_file(path, records);
    int out = out_finish(cmd.name);
    return status != CLI_OK ? status : out;
}
