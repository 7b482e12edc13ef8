/*
 * args — command-line parsing shared by the subcommands.
 *
 * Options are GNU long options (getopt_long: "--opt V" or "--opt=V", options
 * and operands in any order, "--" ends options, "-" is an operand). Every
 * command takes --help/-h. Problems with the command line are usage errors:
 * one line naming the problem, the synopsis, and exit status 2.
 */
#ifndef SIGLOG_ARGS_H
#define SIGLOG_ARGS_H

#include <getopt.h>
#include <stdint.h>

/* What a command tells the parser about itself. */
typedef struct args_cmd {
    const char *name;     /* "append", "stream create" */
    const char *synopsis; /* "siglog append STORE STREAM [options] [FILE|-]" */
    const char *help;     /* the full --help text after the synopsis */
} args_cmd;

/* Returned by args_next besides getopt_long's values. */
#define ARGS_HELP (-2)  /* --help was printed: exit 0 */
#define ARGS_ERROR (-3) /* a usage error was printed: exit 2 */

/* Start parsing argv (argv[0] is the command word). */
void args_begin(void);
/* The next option (its `val` from longopts), -1 after the last one,
 * ARGS_HELP or ARGS_ERROR. longopts must not contain "help". */
int args_next(const args_cmd *c, int argc, char **argv, const struct option *longopts);
/* Index of the first operand once args_next returned -1. */
int args_operand_index(void);
/* For a command that takes exactly n operands, once args_next returned -1:
 * with fewer print the usage error "missing <names>", with more "too many
 * operands", and return 2 (CLI_USAGE); else point *ops at the first operand
 * and return 0. */
int args_operands(const args_cmd *c, int argc, char **argv, int n, const char *names, char ***ops);

/* Print "siglog <cmd>: <message>", the synopsis and a --help hint to
 * stderr; returns 2 (CLI_USAGE). */
int args_usage(const args_cmd *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Parse the options of a command whose only option is the flag --flag
 * (args_begin included): *set says whether it was given. Returns -1 once
 * the options are read (the operands follow), else the command's exit
 * status: 0 after --help, 2 after a usage error. */
int args_flag_only(const args_cmd *c, int argc, char **argv, const char *flag, int *set);

/* Strict numbers for option values: decimal digits only, in [min, max].
 * On a bad value print a usage error naming opt and return 2, else 0. */
int args_u64(const args_cmd *c, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);
int args_u32(const args_cmd *c, const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* One word of a fixed set; *out gets its index. */
int args_choice(const args_cmd *c, const char *opt, const char *s, const char *const *words, int *out);
/* The value of --time-unit, s, ms or us, as microseconds per unit. */
int args_time_unit(const args_cmd *c, const char *s, int64_t *unit_us);

#endif
