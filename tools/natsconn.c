/*
 * natsconn — connecting to a NATS cluster for ship and pull (natsconn.h).
 *
 * Reconnecting is libnats's: it keeps trying the servers for ever (max
 * reconnect -1) and buffers what is published meanwhile; we choose the
 * delay between attempts (doubling from 100 ms to 5 s, with jitter so a
 * fleet of collectors does not come back in step) and say each state
 * change once. The first connect is ours, with the same backoff, so an
 * unreachable cluster at start is retried too, until --timeout.
 */
#include "natsconn.h"

#include "cli.h"
#include "timeparse.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

int64_t natsconn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int natsconn_option(const args_cmd *c, int ch, const char *arg, natsconn_opts *o)
{
    switch (ch) {
    case NATSCONN_OPT_SERVER: o->servers = arg; return 1;
    case NATSCONN_OPT_CREDS: o->creds = arg; return 1;
    case NATSCONN_OPT_NKEY: o->nkey = arg; return 1;
    case NATSCONN_OPT_NKEY_SEED: o->nkey_seed = arg; return 1;
    case NATSCONN_OPT_TLS_CA: o->tls_ca = arg; return 1;
    case NATSCONN_OPT_TLS_CERT: o->tls_cert = arg; return 1;
    case NATSCONN_OPT_TLS_KEY: o->tls_key = arg; return 1;
    case NATSCONN_OPT_USER: o->user = arg; return 1;
    case NATSCONN_OPT_PASSWORD: o->password = arg; return 1;
    case NATSCONN_OPT_TOKEN: o->token = arg; return 1;
    case NATSCONN_OPT_TIMEOUT: return natsconn_duration_ms(c, "--timeout", arg, 1, &o->timeout_ms) ? CLI_USAGE : 1;
    default: return 0;
    }
}

int natsconn_duration_ms(const args_cmd *c, const char *opt, const char *s, int64_t min_ms, int64_t *out_ms)
{
    uint64_t us;
    /* Nanoseconds (JetStream's unit) must not overflow either. */
    if (timeparse_duration_us(s, &us) != 0 || us / 1000 < (uint64_t)min_ms || us > (uint64_t)INT64_MAX / 1000)
        return args_usage(c, "%s '%s' is not a duration of at least %" PRId64 "ms (e.g. 5s, 2m)", opt, s, min_ms);
    *out_ms = (int64_t)(us / 1000);
    return 0;
}

int natsconn_check(const args_cmd *c, const natsconn_opts *o)
{
    if (!o->servers || !*o->servers)
        return args_usage(c, "--server is required");
    if (!o->nkey != !o->nkey_seed)
        return args_usage(c, "--nkey and --nkey-seed go together");
    if (!o->tls_cert != !o->tls_key)
        return args_usage(c, "--tls-cert and --tls-key go together");
    if (!o->user != !o->password)
        return args_usage(c, "--user and --password go together");
    /* The server takes one way of authenticating from a client. */
    if ((o->creds != NULL) + (o->nkey != NULL) + (o->user != NULL) + (o->token != NULL) > 1)
        return args_usage(c, "--creds, --nkey, --user and --token are different ways to log in: give one");
    return 0;
}

int natsconn_fail(const char *cmd, natsStatus s, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    natsStatus last;
    const char *text = nats_GetLastError(&last);
    /* The library's text starts with where it was set: "(conn.c:2088): ". */
    const char *where_end = text && text[0] == '(' ? strstr(text, "): ") : NULL;
    if (where_end)
        text = where_end + 3;
    if (text && *text && strcmp(text, natsStatus_GetText(s)) != 0)
        return cli_fail(cmd, "%s: %s (%s)", what, natsStatus_GetText(s), text);
    return cli_fail(cmd, "%s: %s", what, natsStatus_GetText(s));
}

int natsconn_transient(natsStatus s, jsErrCode ec)
{
    return ec == JSClusterNotAvailErr || ec == JSClusterNotLeaderErr || s == NATS_TIMEOUT || s == NATS_NO_SERVER || s == NATS_IO_ERROR || s == NATS_NO_RESPONDERS ||
           s == NATS_CONNECTION_DISCONNECTED || s == NATS_NOT_YET_CONNECTED;
}

int64_t natsconn_backoff_ms(int attempts)
{
    int64_t d = BACKOFF_FIRST_MS;
    for (int i = 1; i < attempts && d < BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > BACKOFF_MAX_MS)
        d = BACKOFF_MAX_MS;
    return d / 2 + rand() % (d / 2 + 1); /* jitter: half to the whole */
}

static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
    (void)nc;
    (void)closure;
    return natsconn_backoff_ms(attempts);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    natsconn *c = closure;
    (void)nc;
    int64_t expected = 0;
    if (atomic_compare_exchange_strong(&c->down_since_ms, &expected, natsconn_now_ms()) && !c->closed)
        cli_note(c->cmd, "disconnected from the NATS server; reconnecting");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    natsconn *c = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    atomic_store(&c->down_since_ms, 0);
    cli_note(c->cmd, "reconnected to %s", url);
}

static void on_closed(natsConnection *nc, void *closure)
{
    natsconn *c = closure;
    (void)nc;
    if (!c->closed)
        cli_note(c->cmd, "connection closed");
}

/* The comma-separated list into an array of strings (in one block). */
static char **split_servers(const char *list, int *count)
{
    size_t len = strlen(list), n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    char **v = malloc(n * sizeof *v + len + 1);
    if (!v)
        return NULL;
    char *text = (char *)(v + n);
    memcpy(text, list, len + 1);
    *count = 0;
    for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        v[(*count)++] = tok;
    return v;
}

static natsStatus set_options(natsconn *c, natsOptions *no, const natsconn_opts *o)
{
    int count = 0;
    char **servers = split_servers(o->servers, &count);
    if (!servers)
        return NATS_NO_MEMORY;
    natsStatus s = count ? natsOptions_SetServers(no, (const char **)servers, count) : NATS_INVALID_ARG;
    free(servers);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(no, -1);
    if (s == NATS_OK)
        s = natsOptions_SetCustomReconnectDelay(no, reconnect_delay, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(no, on_disconnected, c);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(no, on_reconnected, c);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(no, on_closed, c);
    /* A dead server noticed within seconds, not minutes. */
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(no, 2000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(no, 2);
    if (s == NATS_OK)
        s = natsOptions_SetName(no, c->cmd);
    if (s == NATS_OK && o->creds)
        s = natsOptions_SetUserCredentialsFromFiles(no, o->creds, NULL);
    if (s == NATS_OK && o->nkey)
        s = natsOptions_SetNKeyFromSeed(no, o->nkey, o->nkey_seed);
    if (s == NATS_OK && o->user)
        s = natsOptions_SetUserInfo(no, o->user, o->password);
    if (s == NATS_OK && o->token)
        s = natsOptions_SetToken(no, o->token);
    if (s == NATS_OK && (o->tls_ca || o->tls_cert))
        s = natsOptions_SetSecure(no, true);
    if (s == NATS_OK && o->tls_ca)
        s = natsOptions_LoadCATrustedCertificates(no, o->tls_ca);
    if (s == NATS_OK && o->tls_cert)
        s = natsOptions_LoadCertificatesChain(no, o->tls_cert, o->tls_key);
    return s;
}

int natsconn_open(natsconn *c, const char *cmd, const natsconn_opts *o, const jsOptions *jo)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->timeout_ms = o->timeout_ms;
    srand((unsigned)natsconn_now_ms());
    natsOptions *no = NULL;
    natsStatus s = natsOptions_Create(&no);
    if (s == NATS_OK)
        s = set_options(c, no, o);
    if (s != NATS_OK) {
        natsOptions_Destroy(no);
        return natsconn_fail(cmd, s, "NATS connection options");
    }
    int64_t start = natsconn_now_ms();
    for (int attempt = 1;; attempt++) {
        s = natsConnection_Connect(&c->nc, no);
        if (s == NATS_OK)
            break;
        /* Only an unreachable cluster is worth waiting for; a refused
         * login or a bad certificate will not get better. */
        int transient = natsconn_transient(s, 0);
        if (!transient || (o->timeout_ms && natsconn_now_ms() - start >= o->timeout_ms)) {
            natsOptions_Destroy(no);
            return natsconn_fail(cmd, s, "cannot connect to %s%s", o->servers, transient ? ": giving up" : "");
        }
        if (attempt == 1)
            cli_note(cmd, "cannot connect to %s (%s); retrying", o->servers, natsStatus_GetText(s));
        nats_Sleep(natsconn_backoff_ms(attempt));
    }
    natsOptions_Destroy(no);
    char url[256] = "";
    natsConnection_GetConnectedUrl(c->nc, url, sizeof url);
    cli_note(cmd, "connected to %s", url);
    s = natsConnection_JetStream(&c->js, c->nc, (jsOptions *)jo);
    if (s != NATS_OK) {
        natsconn_close(c);
        return natsconn_fail(cmd, s, "JetStream context");
    }
    return 0;
}

int natsconn_gave_up(natsconn *c)
{
    int64_t since = atomic_load(&c->down_since_ms);
    return c->timeout_ms && since && natsconn_now_ms() - since >= c->timeout_ms;
}

void natsconn_close(natsconn *c)
{
    atomic_store(&c->closed, 1);
    jsCtx_Destroy(c->js);
    c->js = NULL;
    if (c->nc) {
        natsConnection_Close(c->nc);
        natsConnection_Destroy(c->nc);
        c->nc = NULL;
    }
    /* The library's own threads and memory too, so a leak checker sees
     * none of it at exit; the next connect starts it again. */
    nats_Close();
}
