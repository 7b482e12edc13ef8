/*
 * args — getopt_long with the tool's usage-error convention; see args.h.
 */
#include "args.h"

#include "cli.h"
#include "timeparse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void args_begin(void)
{
    optind = 0; /* glibc: 0 re-initialises the scanner completely */
    opterr = 0; /* we print our own messages */
}

int args_operand_index(void)
{
    return optind;
}

int args_operands(const args_cmd *c, int argc, char **argv, int n, const char *names, char ***ops)
{
    int have = argc - optind;
    if (have < n)
        return args_usage(c, "missing %s", names);
    if (have > n)
        return args_usage(c, "too many operands");
    *ops = argv + optind;
    return 0;
}

int args_usage(const args_cmd *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vdiag(c->name, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\nTry 'siglog %s --help' for more information.\n", c->synopsis, c->name);
    return CLI_USAGE;
}

static int args_print_help(const args_cmd *c)
{
    printf("usage: %s\n\n%s", c->synopsis, c->help);
    return fflush(stdout) == 0 ? ARGS_HELP : ARGS_ERROR;
}

int args_next(const args_cmd *c, int argc, char **argv, const struct option *longopts)
{
    /* getopt_long needs "help" in the same table; a command's table has at
     * most a few dozen entries. */
    struct option all[64];
    size_t n = 0;
    while (longopts[n].name && n < 62) {
        all[n] = longopts[n];
        n++;
    }
    all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
    all[n] = (struct option){ NULL, 0, NULL, 0 };

    int ch = getopt_long(argc, argv, ":h", all, NULL);
    switch (ch) {
    case 'h':
        return args_print_help(c);
    case '?':
        /* A short option names itself in optopt; a long one is the word
         * getopt_long just stepped over. */
        if (strncmp(argv[optind - 1], "--", 2) != 0 && optopt > 0 && optopt < 128)
            args_usage(c, "unknown option '-%c'", optopt);
        else
            args_usage(c, "unknown option '%s'", argv[optind - 1]);
        return ARGS_ERROR;
    case ':':
        args_usage(c, "option '%s' needs a value", argv[optind - 1]);
        return ARGS_ERROR;
    default:
        return ch;
    }
}

int args_flag_only(const args_cmd *c, int argc, char **argv, const char *flag, int *set)
{
    enum { FLAG = 256 };
    const struct option opts[] = { { flag, no_argument, NULL, FLAG }, { NULL, 0, NULL, 0 } };
    *set = 0;
    args_begin();
    for (int ch; (ch = args_next(c, argc, argv, opts)) != -1;) {
        if (ch != FLAG)
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
        *set = 1;
    }
    return -1;
}

int args_u64(const args_cmd *c, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v;
    if (timeparse_u64(s, &v) != 0)
        return args_usage(c, "%s wants a non-negative integer, not '%s'", opt, s);
    if (v < min || v > max)
        return args_usage(c, "%s must lie in %llu..%llu, not %s", opt, (unsigned long long)min,
                          (unsigned long long)max, s);
    *out = v;
    return 0;
}

int args_u32(const args_cmd *c, const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    int rc = args_u64(c, opt, s, min, max, &v);
    if (rc == 0)
        *out = (uint32_t)v;
    return rc;
}

int args_choice(const args_cmd *c, const char *opt, const char *s, const char *const *words, int *out)
{
    char list[256] = "";
    for (int i = 0; words[i]; i++) {
        if (strcmp(s, words[i]) == 0) {
            *out = i;
            return 0;
        }
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", words[i]);
    }
    return args_usage(c, "%s wants one of %s, not '%s'", opt, list, s);
}

int args_time_unit(const args_cmd *c, const char *s, int64_t *unit_us)
{
    static const char *const units[] = { "s", "ms", "us", NULL };
    static const int64_t per_unit[] = { 1000000, 1000, 1 };
    int choice;
    if (args_choice(c, "--time-unit", s, units, &choice))
        return CLI_USAGE;
    *unit_us = per_unit[choice];
    return 0;
}
