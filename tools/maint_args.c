/*
 * maint_args — the options and the opening that the maintenance commands
 * share (see maint_args.h).
 */
#include "maint_args.h"
#include "cli.h"
#include "timeparse.h"

int maint_args_next(const args_cmd *c, int argc, char **argv, const struct option *longopts, maint_args *ma)
{
    for (;;) {
        int ch = args_next(c, argc, argv, longopts);
        switch (ch) {
        case MAINT_OPT_STREAM:
            ma->stream = optarg;
            break;
        case MAINT_OPT_DRY_RUN:
            ma->dry_run = 1;
            break;
        case MAINT_OPT_JSON:
            ma->json = 1;
            break;
        case MAINT_OPT_FORCE_OWNER:
            ma->force_owner = 1;
            break;
        case MAINT_OPT_TIME_UNIT:
            if (args_time_unit(c, optarg, &ma->time_unit))
                return ARGS_ERROR;
            break;
        default:
            return ch;
        }
    }
}

int maint_args_time(const args_cmd *c, const maint_args *ma, const char *opt, const char *s, int64_t *us)
{
    if (timeparse_time_arg(s, ma->time_unit, us) != 0)
        return args_usage(c, "%s wants an RFC 3339 time or an integer with --time-unit, not '%s'", opt, s);
    return CLI_OK;
}

int maint_args_open(const args_cmd *c, const maint_args *ma, const char *path, siglog_maintenance **m)
{
    siglog_options so;
    siglog_options_default(&so);
    so.force_owner = ma->force_owner;
    int rc = siglog_maintenance_open(m, path, &so);
    if (rc)
        return cli_fail_lib(c->name, rc, "taking the maintenance role of store %s", path);
    return CLI_OK;
}
