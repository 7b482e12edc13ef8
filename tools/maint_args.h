/*
 * maint_args — what the maintenance commands (retain, archive, compact,
 * restore) share: the options --stream, --dry-run, --json, --force-owner
 * and a time with --time-unit, and taking the maintenance role of a store.
 *
 * A command lists in its getopt table only the MAINT_OPTION_* entries it
 * accepts (getopt refuses the others) and reads its options with
 * maint_args_next instead of args_next.
 */
#ifndef SIGLOG_MAINT_ARGS_H
#define SIGLOG_MAINT_ARGS_H

#include "args.h"
#include "siglog.h"

#include <stdint.h>

/* The option values; a command's own start at MAINT_OPT_END. */
enum {
    MAINT_OPT_STREAM = 256,
    MAINT_OPT_DRY_RUN,
    MAINT_OPT_JSON,
    MAINT_OPT_FORCE_OWNER,
    MAINT_OPT_TIME_UNIT,
    MAINT_OPT_END
};

#define MAINT_OPTION_STREAM { "stream", required_argument, NULL, MAINT_OPT_STREAM }
#define MAINT_OPTION_DRY_RUN { "dry-run", no_argument, NULL, MAINT_OPT_DRY_RUN }
#define MAINT_OPTION_JSON { "json", no_argument, NULL, MAINT_OPT_JSON }
#define MAINT_OPTION_FORCE_OWNER { "force-owner", no_argument, NULL, MAINT_OPT_FORCE_OWNER }
#define MAINT_OPTION_TIME_UNIT { "time-unit", required_argument, NULL, MAINT_OPT_TIME_UNIT }

typedef struct maint_args {
    const char *stream; /* --stream, or NULL */
    int dry_run;        /* --dry-run */
    int json;           /* --json */
    int force_owner;    /* --force-owner */
    int64_t time_unit;  /* --time-unit in microseconds, 0 when not given */
} maint_args;

/* args_next for a maintenance command: the shared options are taken into
 * *ma here; returns the next of the command's own options, -1 after the
 * last one, ARGS_HELP, or ARGS_ERROR (also after a bad --time-unit). */
int maint_args_next(const args_cmd *c, int argc, char **argv, const struct option *longopts, maint_args *ma);

/* The time given as option opt's value s (RFC 3339, or an integer in
 * --time-unit units) in *us; a usage error naming opt when it is neither. */
int maint_args_time(const args_cmd *c, const maint_args *ma, const char *opt, const char *s, int64_t *us);

/* Take the maintenance role of the store at path (with --force-owner's
 * option); on failure print why and return CLI_FAILURE. */
int maint_args_open(const args_cmd *c, const maint_args *ma, const char *path, siglog_maintenance **m);

#endif
