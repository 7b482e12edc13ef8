/*
 * natsconn — the connection to a NATS cluster that `siglog ship` and
 * `siglog pull` share: the server list and the TLS, credentials and NKey
 * options passed through to libnats, reconnecting with backoff for ever
 * (or until --timeout), and one line on stderr per state change
 * (connected, disconnected, reconnected, closed).
 *
 * How long the connection has been down is kept here, so a command can
 * give up after --timeout without the cluster, whatever it was doing.
 */
#ifndef SIGLOG_NATSCONN_H
#define SIGLOG_NATSCONN_H

#include "args.h"

#include <getopt.h>
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct natsconn_opts {
    const char *servers; /* URL[,URL...] */
    const char *creds;
    const char *nkey, *nkey_seed;
    const char *user, *password, *token;
    const char *tls_ca, *tls_cert, *tls_key;
    int64_t timeout_ms; /* give up after this long without the cluster;
                         * 0: never */
} natsconn_opts;

/* The option values natsconn_option takes; commands number theirs below
 * NATSCONN_OPT_FIRST. */
enum {
    NATSCONN_OPT_FIRST = 512,
    NATSCONN_OPT_SERVER = NATSCONN_OPT_FIRST,
    NATSCONN_OPT_CREDS,
    NATSCONN_OPT_NKEY,
    NATSCONN_OPT_NKEY_SEED,
    NATSCONN_OPT_TLS_CA,
    NATSCONN_OPT_TLS_CERT,
    NATSCONN_OPT_TLS_KEY,
    NATSCONN_OPT_TIMEOUT,
    NATSCONN_OPT_USER,
    NATSCONN_OPT_PASSWORD,
    NATSCONN_OPT_TOKEN,
};

/* The long options above, for a command's option table. */
#define NATSCONN_LONGOPTS                                                  \
    { "server", required_argument, NULL, NATSCONN_OPT_SERVER },            \
    { "creds", required_argument, NULL, NATSCONN_OPT_CREDS },              \
    { "nkey", required_argument, NULL, NATSCONN_OPT_NKEY },                \
    { "nkey-seed", required_argument, NULL, NATSCONN_OPT_NKEY_SEED },      \
    { "tls-ca", required_argument, NULL, NATSCONN_OPT_TLS_CA },            \
    { "tls-cert", required_argument, NULL, NATSCONN_OPT_TLS_CERT },        \
    { "tls-key", required_argument, NULL, NATSCONN_OPT_TLS_KEY },          \
    { "timeout", required_argument, NULL, NATSCONN_OPT_TIMEOUT },          \
    { "user", required_argument, NULL, NATSCONN_OPT_USER },                \
    { "password", required_argument, NULL, NATSCONN_OPT_PASSWORD },        \
    { "token", required_argument, NULL, NATSCONN_OPT_TOKEN }

/* Their --help lines. */
#define NATSCONN_HELP                                                                   \
    "  --server URL[,URL...]  the NATS servers (required); any of them will do,\n"     \
    "                  the others are tried on reconnect\n"                           \
    "  --creds FILE    user credentials (JWT and NKey seed) file\n"                    \
    "  --nkey PUBLIC --nkey-seed FILE   authenticate with an NKey\n"                   \
    "  --user NAME --password TEXT      authenticate with a user and password\n"       \
    "  --token TEXT    authenticate with a token (a password or token on the\n"       \
    "                  command line shows in the process list: --creds or\n"         \
    "                  --nkey-seed keep the secret in a file)\n"                      \
    "  --tls-ca FILE   trust this CA (and use TLS)\n"                                  \
    "  --tls-cert FILE --tls-key FILE   a client certificate (and use TLS)\n"         \
    "  --timeout D     give up (exit 1) after D (e.g. 5s, 2m) without the\n"           \
    "                  cluster: unreachable, or acknowledging nothing; default:\n"    \
    "                  retry for ever, with backoff up to 5s between attempts\n"

/* Take option ch (its argument arg) into o: 1 when it was one of ours, 0
 * when not, 2 (CLI_USAGE) after printing a usage error. */
int natsconn_option(const args_cmd *c, int ch, const char *arg, natsconn_opts *o);
/* A duration option (e.g. 5s, 2m) of at least min_ms into *out_ms: 0,
 * or 2 (CLI_USAGE) after printing a usage error naming opt. */
int natsconn_duration_ms(const args_cmd *c, const char *opt, const char *s, int64_t min_ms, int64_t *out_ms);
/* After parsing: a usage error (returns 2) when --server is missing or
 * the options do not go together, else 0. */
int natsconn_check(const args_cmd *c, const natsconn_opts *o);

typedef struct natsconn {
    const char *cmd;
    natsConnection *nc;
    jsCtx *js;
    int64_t timeout_ms;
    _Atomic int64_t down_since_ms; /* 0 while connected */
    _Atomic int closed;
} natsconn;

/* Connect (trying again with backoff until o->timeout_ms passes, each
 * failure told once) and make a JetStream context with jo (NULL: the
 * defaults). 0, or CLI_FAILURE after one line on stderr. */
int natsconn_open(natsconn *c, const char *cmd, const natsconn_opts *o, const jsOptions *jo);
/* Whether the connection has been down for longer than the timeout (never
 * without one). */
int natsconn_gave_up(natsconn *c);
/* Close and free, libnats's global state included; the struct may be
 * reused. */
void natsconn_close(natsconn *c);

/* "siglog <cmd>: <what>: <libnats's words for s>" on stderr, with the
 * library's last error text when it has one. Returns CLI_FAILURE. */
int natsconn_fail(const char *cmd, natsStatus s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Whether a failure may go away by itself (no server answered in time,
 * none reachable now, a cluster without a leader for the moment; ec is
 * the JetStream error code, 0 when none): worth asking again after
 * natsconn_backoff_ms. */
int natsconn_transient(natsStatus s, jsErrCode ec);
/* The pause before attempt number `attempts` (1, 2, ...): doubling from
 * 100 ms to 5 s, with jitter. */
int64_t natsconn_backoff_ms(int attempts);

/* Milliseconds of a monotonic clock. */
int64_t natsconn_now_ms(void);

#endif
