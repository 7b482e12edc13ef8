/*
 * `siglog ship` and `siglog pull` against a real nats-server (JetStream,
 * started here on a free loopback port with its data in the test's temp
 * directory, stopped by its pid): every event stored in JetStream exactly
 * once and byte for byte, across kills of the shipper at random moments
 * and a restart of the server; a stream with a short duplicate window
 * refused; a cluster that is gone given up on after --timeout without
 * committing past what it acknowledged; pull storing each message once
 * across kills at random moments, and skipping what it stored already;
 * a 3-node cluster with 3 replicas losing a node while ship runs.
 *
 * Skips when nats-server is not installed (tests/install-deps installs
 * it) or the tool was built without libnats.
 */
#include "run.h"
#include "support.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEED 15
#define PARTITIONS 2

#define NODES_MAX 3

/* One nats-server process: its client port and, in a cluster, its route
 * port. */
typedef struct node {
    int port, route_port;
    pid_t pid;
} node;

static char *dir, *store, *url;
static node nodes[NODES_MAX];
static int node_count;
/* More arguments for a single node (TLS, authentication), NULL-ended. */
#define SERVER_EXTRA_MAX 12
static const char *server_extra[SERVER_EXTRA_MAX + 1];

/* ---- the servers ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Start node i (again), with its data where it had it before. */
static void server_start(int i)
{
    const char *bin = getenv("SIGLOG_NATS_SERVER");
    char portarg[16], name[16], tag[32], routes[256] = "", cluster[64];
    snprintf(portarg, sizeof portarg, "%d", nodes[i].port);
    snprintf(name, sizeof name, "n%d", i);
    snprintf(tag, sizeof tag, "nats-%d", i);
    char *data = test_path(dir, tag);
    char *log = test_path(data, "server.log");
    mkdir(data, 0700);
    snprintf(cluster, sizeof cluster, "nats://127.0.0.1:%d", nodes[i].route_port);
    for (int j = 0; j < node_count; j++)
        if (j != i)
            snprintf(routes + strlen(routes), sizeof routes - strlen(routes), "%snats://127.0.0.1:%d",
                     routes[0] ? "," : "", nodes[j].route_port);
    nodes[i].pid = fork();
    cr_assert(nodes[i].pid >= 0);
    if (nodes[i].pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test killed on timeout leaves no server behind */
        if (node_count == 1) {
            const char *argv[12 + SERVER_EXTRA_MAX] = { bin, "-js", "-a", "127.0.0.1", "-p", portarg, "-sd", data,
                                                        "-l", log };
            for (int k = 0; server_extra[k]; k++)
                argv[10 + k] = server_extra[k];
            execv(bin, (char *const *)argv);
        } else {
            execl(bin, bin, "-js", "-a", "127.0.0.1", "-p", portarg, "-sd", data, "-l", log, "-n", name,
                  "--cluster_name", "siglog-test", "--cluster", cluster, "--routes", routes, (char *)NULL);
        }
        _exit(127);
    }
    /* Ready once it takes connections; the deadline only turns a broken
     * setup into a failure instead of a hang. */
    for (int k = 0; k < 1000 && !port_open(nodes[i].port); k++)
        usleep(10000);
    cr_assert(port_open(nodes[i].port), "nats-server did not start on port %d: see %s", nodes[i].port, log);
    free(log);
    free(data);
}

static void server_stop(int i)
{
    if (nodes[i].pid > 0) {
        kill(nodes[i].pid, SIGKILL);
        waitpid(nodes[i].pid, NULL, 0);
        nodes[i].pid = -1;
    }
}

/* ---- fixtures ---- */

/* n nodes, started unless the test starts them itself. */
static void start_nodes(int n, int start)
{
    const char *bin = getenv("SIGLOG_NATS_SERVER");
    if (!bin || !*bin || access(bin, X_OK) != 0)
        cr_skip_test("nats-server is not installed");
    run_result r = RUN(NULL, "ship", "--help");
    int have_nats = r.status == 0;
    run_free(&r);
    if (!have_nats)
        cr_skip_test("siglog was built without NATS support");
    dir = test_tmpdir("cli-jetstream");
    store = test_path(dir, "store");
    node_count = n;
    char urls[256] = "";
    for (int i = 0; i < n; i++) {
        nodes[i] = (node){ free_port(), free_port(), -1 };
        snprintf(urls + strlen(urls), sizeof urls - strlen(urls), "%snats://127.0.0.1:%d", i ? "," : "",
                 nodes[i].port);
    }
    url = strdup(urls);
    for (int i = 0; i < n && start; i++)
        server_start(i);
}

static void setup(void)
{
    start_nodes(1, 1);
}

/* One node the test starts itself, with arguments it chooses. */
static void setup_unstarted(void)
{
    start_nodes(1, 0);
}

/* Three nodes, once JetStream answers through them (a cluster elects its
 * meta leader first). */
static void setup_cluster(void)
{
    start_nodes(3, 1);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    cr_assert_eq(natsConnection_ConnectTo(&nc, url), NATS_OK);
    cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    natsStatus st = NATS_ERR;
    for (int k = 0; k < 300 && st != NATS_OK; k++) {
        jsAccountInfo *ai = NULL;
        if ((st = js_GetAccountInfo(&ai, js, NULL, NULL)) == NATS_OK)
            jsAccountInfo_Destroy(ai);
        else
            usleep(100000);
    }
    cr_assert_eq(st, NATS_OK, "the cluster's JetStream did not come up");
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

static void teardown(void)
{
    memset(server_extra, 0, sizeof server_extra);
    nats_Close(); /* libnats's threads and memory: a leak checker sees none */
    for (int i = 0; i < node_count; i++)
        server_stop(i);
    if (dir)
        test_rmtree(dir);
    free(dir);
    free(store);
    free(url);
    dir = NULL;
}

TestSuite(jetstream_cli, .init = setup, .fini = teardown, .timeout = 240);
TestSuite(jetstream_cluster, .init = setup_cluster, .fini = teardown, .timeout = 300);
TestSuite(jetstream_auth, .init = setup_unstarted, .fini = teardown, .timeout = 240);

/* Event i of the workload goes to partition i % PARTITIONS at offset
 * i / PARTITIONS. */
static void make_source(const char *path, uint64_t n)
{
    siglog *s = test_store_open(path, NULL);
    siglog_stream *st = test_stream_create(s, "ev", PARTITIONS, SIGLOG_SYNC_NONE, 0);
    for (uint64_t i = 0; i < n; i++) {
        test_event t;
        test_event_make(&t, SEED, i);
        t.ev.flags = i % 13 == 0 ? SIGLOG_EVENT_TOMBSTONE : 0;
        cr_assert_eq(siglog_append(st, (uint32_t)(i % PARTITIONS), &t.ev, 1, NULL, NULL), 0);
    }
    cr_assert_eq(siglog_close(s), 0);
}

static run_result ship(const char *extra1, const char *extra2)
{
    return RUN(NULL, "ship", store, "ev", "--server", url, "--create-js-stream", "--max-inflight", "64",
               extra1 ? extra1 : "--json", extra2 ? extra2 : "--json");
}

/* ship in the background, creating the JetStream stream with `replicas`. */
static pid_t ship_start(const char *err_path, const char *replicas)
{
    int out;
    pid_t pid = run_start(NULL, err_path, &out,
                          (const char *const[]){ "ship", store, "ev", "--server", url, "--create-js-stream",
                                                 "--replicas", replicas, "--max-inflight", "16", NULL });
    close(out);
    return pid;
}

/* Wait until the file at path says text (a command's stderr): what a
 * test does next needs that state, however slow the machine. */
static void wait_for_text(const char *path, const char *text)
{
    for (int i = 0; i < 6000; i++) {
        char *log = run_slurp(path, NULL);
        int seen = strstr(log, text) != NULL;
        free(log);
        if (seen)
            return;
        usleep(10000);
    }
    cr_assert_fail("%s never said '%s'", path, text);
}

/* ---- reading JetStream back ---- */

typedef struct js_reader {
    natsConnection *nc;
    jsCtx *js;
} js_reader;

static void js_open(js_reader *r)
{
    cr_assert_eq(natsConnection_ConnectTo(&r->nc, url), NATS_OK);
    cr_assert_eq(natsConnection_JetStream(&r->js, r->nc, NULL), NATS_OK);
}

static void js_close(js_reader *r)
{
    jsCtx_Destroy(r->js);
    natsConnection_Destroy(r->nc);
}

static uint64_t js_stream_msgs(js_reader *r, const char *name)
{
    jsStreamInfo *si = NULL;
    cr_assert_eq(js_GetStreamInfo(&si, r->js, name, NULL, NULL), NATS_OK);
    uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

static void expect_b64(natsMsg *m, const char *name, const void *bin, size_t len)
{
    const char *got = NULL;
    if (len == 0) {
        cr_assert_eq(natsMsgHeader_Get(m, name, &got), NATS_NOT_FOUND, "%s: %s", name, got);
        return;
    }
    char want[1024];
    sodium_bin2base64(want, sizeof want, bin, len, sodium_base64_VARIANT_ORIGINAL);
    cr_assert_eq(natsMsgHeader_Get(m, name, &got), NATS_OK, "%s missing", name);
    cr_assert_str_eq(got, want);
}

/* Every message of the JetStream stream is the event its id names, with
 * every field; each id once. */
static void check_js_messages(js_reader *r, uint64_t n, uint64_t store_id)
{
    cr_assert_eq(js_stream_msgs(r, "siglog"), n);
    natsSubscription *sub = NULL;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "siglog";
    /* Right after a cluster node restarts, creating a consumer can fail
     * for a while ("JetStream system temporarily unavailable") until the
     * cluster has elected its leaders again: ask again for up to 30 s. */
    natsStatus st = NATS_ERR;
    for (int tries = 0; tries < 300 && st != NATS_OK; tries++) {
        st = js_PullSubscribe(&sub, r->js, "siglog.ev.*", "check", NULL, &so, NULL);
        if (st != NATS_OK)
            nats_Sleep(100);
    }
    cr_assert_eq(st, NATS_OK, "pull subscribe: %s", natsStatus_GetText(st));
    uint8_t *seen = calloc(n, 1);
    for (uint64_t got = 0; got < n;) {
        natsMsgList list = { 0 };
        cr_assert_eq(natsSubscription_Fetch(&list, sub, 512, 5000, NULL), NATS_OK, "after %" PRIu64, got);
        for (int i = 0; i < list.Count; i++, got++) {
            natsMsg *m = list.Msgs[i];
            const char *id = NULL;
            cr_assert_eq(natsMsgHeader_Get(m, "Nats-Msg-Id", &id), NATS_OK);
            uint64_t sid, off;
            unsigned part;
            char stream[8];
            cr_assert_eq(sscanf(id, "%16" SCNx64 ":%7[^:]:%u:%" SCNu64, &sid, stream, &part, &off), 4, "%s", id);
            cr_assert_eq(sid, store_id);
            cr_assert_str_eq(stream, "ev");
            uint64_t idx = off * PARTITIONS + part;
            cr_assert_lt(idx, n);
            cr_assert_not(seen[idx], "%s twice", id);
            seen[idx] = 1;
            char subject[32];
            snprintf(subject, sizeof subject, "siglog.ev.%u", part);
            cr_assert_str_eq(natsMsg_GetSubject(m), subject);
            test_event t;
            test_event_make(&t, SEED, idx);
            cr_assert_eq((size_t)natsMsg_GetDataLength(m), t.ev.value_len);
            cr_assert_eq(memcmp(natsMsg_GetData(m), t.ev.value, t.ev.value_len), 0);
            const char *v = NULL;
            char num[32];
            cr_assert_eq(natsMsgHeader_Get(m, "Siglog-Time", &v), NATS_OK);
            snprintf(num, sizeof num, "%" PRId64, t.ev.timestamp_us);
            cr_assert_str_eq(v, num);
            cr_assert_eq(natsMsgHeader_Get(m, "Siglog-Schema", &v), NATS_OK);
            snprintf(num, sizeof num, "%" PRIu32, t.ev.schema_version);
            cr_assert_str_eq(v, num);
            if (idx % 13 == 0)
                cr_assert(natsMsgHeader_Get(m, "Siglog-Flags", &v) == NATS_OK && strcmp(v, "1") == 0);
            else
                cr_assert_eq(natsMsgHeader_Get(m, "Siglog-Flags", &v), NATS_NOT_FOUND);
            expect_b64(m, "Siglog-Key", t.ev.key, t.ev.key_len);
            const char **vals = NULL;
            int count = 0;
            natsMsgHeader_Values(m, "Siglog-Header", &vals, &count);
            cr_assert_eq((uint32_t)count, t.ev.header_count);
            for (int h = 0; h < count; h++) {
                char want[1024], b[512];
                sodium_bin2base64(want, sizeof want, t.ev.headers[h].key, t.ev.headers[h].key_len,
                                  sodium_base64_VARIANT_ORIGINAL);
                sodium_bin2base64(b, sizeof b, t.ev.headers[h].value, t.ev.headers[h].value_len,
                                  sodium_base64_VARIANT_ORIGINAL);
                strcat(strcat(want, ":"), b);
                cr_assert_str_eq(vals[h], want);
            }
            free((void *)vals);
            cr_assert_eq(natsMsg_Ack(m, NULL), NATS_OK);
        }
        natsMsgList_Destroy(&list);
    }
    free(seen);
    natsSubscription_Destroy(sub);
    cr_assert_eq(js_DeleteConsumer(r->js, "siglog", "check", NULL, NULL), NATS_OK);
}

static uint64_t source_store_id(void)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *s;
    cr_assert_eq(siglog_open(&s, store, &o), 0);
    uint64_t id = siglog_store_id(s);
    siglog_close(s);
    return id;
}

/* ---- ship ---- */

Test(jetstream_cli, ship_stores_each_event_once_with_all_its_fields)
{
    make_source(store, 3000);
    run_result r = ship(NULL, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"shipped\": 3000"), "%s", r.out);
    cr_assert(strstr(r.err, "created JetStream stream siglog"), "%s", r.err);
    run_free(&r);
    /* Nothing new: nothing sent. */
    r = ship("--consumer", "ship");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "shipped 0 events, 0 duplicates dropped by the server"), "%s", r.out);
    run_free(&r);
    /* Everything again under another consumer: the server drops it all. */
    r = ship("--consumer", "again");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "shipped 3000 events, 3000 duplicates dropped by the server"), "%s", r.out);
    run_free(&r);
    js_reader js;
    js_open(&js);
    check_js_messages(&js, 3000, source_store_id());
    js_close(&js);
}

/* A consumer that never committed starts each partition at the first
 * event (in offset order) at or after --from-time; once committed, there. */
Test(jetstream_cli, ship_from_time_starts_where_the_time_is)
{
    const uint64_t n = 3000;
    make_source(store, n);
    test_event t;
    test_event_make(&t, SEED, 2000);
    int64_t from = t.ev.timestamp_us;
    uint64_t want = 0;
    for (uint64_t p = 0; p < PARTITIONS; p++) {
        uint64_t off = 0;
        for (; off * PARTITIONS + p < n; off++) {
            test_event_make(&t, SEED, off * PARTITIONS + p);
            if (t.ev.timestamp_us >= from)
                break;
        }
        want += (n - p + PARTITIONS - 1) / PARTITIONS - off;
    }
    time_t secs = (time_t)(from / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char text[64], line[96];
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(from % 1000000));
    run_result r = ship("--from-time", text);
    cr_assert_eq(r.status, 0, "%s", r.err);
    snprintf(line, sizeof line, "shipped %llu events, 0 duplicates", (unsigned long long)want);
    cr_assert(strstr(r.out, line), "want %s: %s", line, r.out);
    run_free(&r);
    r = ship("--from-time", "1970-01-01T00:00:00Z");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "shipped 0 events"), "committed offsets win: %s", r.out);
    run_free(&r);
}

Test(jetstream_cli, ship_killed_at_random_moments_stores_each_event_once)
{
    const uint64_t n = 20000;
    make_source(store, n);
    char *err = test_path(dir, "ship.err");
    uint64_t rng = (uint64_t)time(NULL);
    cr_log_info("kill moments from seed %" PRIu64, rng);
    for (int k = 0; k < 20; k++) {
        pid_t pid = ship_start(err, "1");
        usleep((useconds_t)(test_rand(&rng) % 300000));
        kill(pid, SIGKILL);
        run_wait(pid);
    }
    run_result r = ship("--consumer", "ship");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    js_reader js;
    js_open(&js);
    check_js_messages(&js, n, source_store_id());
    js_close(&js);
    free(err);
}

Test(jetstream_cli, ship_goes_on_across_a_server_restart)
{
    const uint64_t n = 20000;
    make_source(store, n);
    char *err = test_path(dir, "ship.err");
    pid_t pid = ship_start(err, "1");
    wait_for_text(err, "created JetStream stream");
    usleep(200000);
    server_stop(0);
    usleep(500000);
    server_start(0);
    cr_assert_eq(run_wait(pid), 0, "%s", run_slurp(err, NULL));
    char *log = run_slurp(err, NULL);
    cr_assert(strstr(log, "reconnected to"), "%s", log);
    free(log);
    js_reader js;
    js_open(&js);
    check_js_messages(&js, n, source_store_id());
    js_close(&js);
    free(err);
}

Test(jetstream_cli, short_duplicate_window_refused)
{
    make_source(store, 10);
    run_result r = ship("--dupe-window", "5s");
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(strstr(r.err, "duplicate window of 5000ms, shorter than 60000ms"), "%s", r.err);
    run_free(&r);
    js_reader js;
    js_open(&js);
    cr_assert_eq(js_stream_msgs(&js, "siglog"), 0);
    js_close(&js);
}

Test(jetstream_cli, cluster_gone_gives_up_without_committing_past_acknowledged)
{
    make_source(store, 100);
    run_result r = ship(NULL, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    /* A shipper following the stream loses its only server; events
     * appended then are published into the void. */
    char *err = test_path(dir, "ship.err");
    int out;
    pid_t pid = run_start(NULL, err, &out,
                          (const char *const[]){ "ship", store, "ev", "--server", url, "--follow", "--timeout", "2s",
                                                 NULL });
    close(out);
    wait_for_text(err, "connected to");
    server_stop(0);
    siglog *s = test_store_open(store, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    for (uint64_t i = 100; i < 110; i++) {
        test_event t;
        test_event_make(&t, SEED, i);
        cr_assert_eq(siglog_append(st, (uint32_t)(i % PARTITIONS), &t.ev, 1, NULL, NULL), 0);
    }
    cr_assert_eq(siglog_flush(s), 0);
    cr_assert_eq(run_wait(pid), 1);
    char *log = run_slurp(err, NULL);
    cr_assert(strstr(log, "disconnected from the NATS server") && strstr(log, "giving up"), "%s", log);
    free(log);
    cr_assert_eq(siglog_close(s), 0);
    r = RUN(NULL, "consumer", "list", store, "ev");
    cr_assert(strstr(r.out, "next offsets: 0=50 1=50\n"), "%s", r.out);
    run_free(&r);
    /* No server at all from the start: the same. */
    r = RUN(NULL, "ship", store, "ev", "--server", url, "--timeout", "2s");
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(strstr(r.err, "cannot connect to") && strstr(r.err, "giving up"), "%s", r.err);
    run_free(&r);
    free(err);
}

/* ---- pull ---- */

static run_result pull(const char *durable, const char *extra)
{
    return RUN(NULL, "pull", store, "ev", "--server", url, "--js-stream", "siglog", "--durable", durable, "--batch",
               "64", "--ack-wait", "1s", extra ? extra : "--json");
}

/* The local store holds each of the first `required` shipped events,
 * maybe some of the others below event n, nothing else and nothing
 * twice, each with every field and its origin id last. The count. */
static uint64_t check_pulled_some(const char *path, uint64_t n, uint64_t required, uint64_t store_id)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *s;
    cr_assert_eq(siglog_open(&s, path, &o), 0);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    uint8_t *seen = calloc(n, 1);
    uint64_t total = 0;
    for (uint32_t p = 0; p < PARTITIONS; p++) {
        siglog_cursor *c;
        cr_assert_eq(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), 0);
        const siglog_record *rec;
        int rc;
        while ((rc = siglog_cursor_next(c, &rec)) == 1) {
            cr_assert_geq(rec->header_count, 1);
            const siglog_header *origin = &rec->headers[rec->header_count - 1];
            cr_assert(origin->key_len == 13 && memcmp(origin->key, "siglog.origin", 13) == 0);
            char id[64];
            snprintf(id, sizeof id, "%.*s", (int)origin->value_len, (const char *)origin->value);
            uint64_t sid, off;
            unsigned part;
            cr_assert_eq(sscanf(id, "%16" SCNx64 ":ev:%u:%" SCNu64, &sid, &part, &off), 3, "%s", id);
            cr_assert_eq(sid, store_id);
            cr_assert_eq(part, p);
            uint64_t idx = off * PARTITIONS + part;
            cr_assert_lt(idx, n);
            cr_assert_not(seen[idx], "%s stored twice", id);
            seen[idx] = 1;
            total++;
            test_event t;
            test_event_make(&t, SEED, idx);
            t.ev.flags = idx % 13 == 0 ? SIGLOG_EVENT_TOMBSTONE : 0;
            siglog_record without = *rec;
            without.header_count--;
            if (without.header_count == 0)
                without.headers = NULL;
            test_assert_record_eq(&without, &t.ev);
        }
        cr_assert_eq(rc, 0);
        siglog_cursor_close(c);
    }
    for (uint64_t i = 0; i < required; i++)
        cr_assert(seen[i], "event %" PRIu64 " was not pulled", i);
    free(seen);
    siglog_close(s);
    return total;
}

/* Each of the n shipped events once. */
static void check_pulled(const char *path, uint64_t n, uint64_t store_id)
{
    cr_assert_eq(check_pulled_some(path, n, n, store_id), n);
}

static void pull_setup(uint64_t n, char **source)
{
    make_source(store, n);
    run_result r = ship(NULL, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    /* The archive: the same stream, pulled into a store of its own. */
    *source = store;
    store = test_path(dir, "archive");
    siglog *s = test_store_open(store, NULL);
    test_stream_create(s, "ev", PARTITIONS, SIGLOG_SYNC_INTERVAL, 0);
    cr_assert_eq(siglog_close(s), 0);
}

Test(jetstream_cli, pull_stores_each_message_once_and_skips_what_it_has)
{
    char *source;
    pull_setup(2000, &source);
    run_result r = pull("arch", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"pulled\": 2000"), "%s", r.out);
    run_free(&r);
    char *archive = store;
    store = source;
    uint64_t id = source_store_id();
    store = archive;
    check_pulled(store, 2000, id);
    /* Every message delivered again to a new durable consumer, and no
     * safe point: each is found stored and skipped. */
    r = RUN(NULL, "consumer", "delete", store, "ev", "pull-arch");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "pull", store, "ev", "--server", url, "--js-stream", "siglog", "--durable", "again");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "pulled 0 events, 2000 already stored"), "%s", r.out);
    run_free(&r);
    check_pulled(store, 2000, id);
    free(source);
}

Test(jetstream_cli, pull_killed_at_random_moments_stores_each_message_once)
{
    char *source;
    const uint64_t n = 20000;
    pull_setup(n, &source);
    char *err = test_path(dir, "pull.err");
    uint64_t rng = (uint64_t)time(NULL);
    cr_log_info("kill moments from seed %" PRIu64, rng);
    for (int k = 0; k < 20; k++) {
        int out;
        pid_t pid = run_start(NULL, err, &out,
                              (const char *const[]){ "pull", store, "ev", "--server", url, "--js-stream", "siglog",
                                                     "--durable", "arch", "--batch", "32", "--ack-wait", "1s",
                                                     NULL });
        close(out);
        usleep((useconds_t)(test_rand(&rng) % 300000));
        kill(pid, SIGKILL);
        run_wait(pid);
    }
    run_result r = pull("arch", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *archive = store;
    store = source;
    uint64_t id = source_store_id();
    store = archive;
    check_pulled(store, n, id);
    free(source);
    free(err);
}

/* Appends events from `next` on to the stream ev of `path`, for ship
 * --follow to publish, until told to stop or a minute passed. */
typedef struct grower {
    const char *path;
    uint64_t next;
    atomic_int stop;
    int failed, timed_out;
} grower;

static void *grow_stream(void *arg)
{
    grower *g = arg;
    siglog *s = test_store_open(g->path, NULL);
    siglog_stream *st;
    g->failed = siglog_stream_get(s, "ev", &st) != 0;
    time_t until = time(NULL) + 60;
    while (!g->failed && !atomic_load(&g->stop) && !(g->timed_out = time(NULL) >= until)) {
        test_event t;
        test_event_make(&t, SEED, g->next);
        t.ev.flags = g->next % 13 == 0 ? SIGLOG_EVENT_TOMBSTONE : 0;
        g->failed = siglog_append(st, (uint32_t)(g->next % PARTITIONS), &t.ev, 1, NULL, NULL) != 0 ||
                    siglog_flush(s) != 0;
        g->next++;
        usleep(2000);
    }
    g->failed |= siglog_close(s) != 0;
    return NULL;
}

/* Without --follow, pull stops once what the JetStream stream held at
 * its start is stored, even while more keeps coming: it does not wait for
 * a moment with nothing left to deliver, which a busy stream never has. */
Test(jetstream_cli, pull_ends_at_what_was_there_while_the_stream_grows)
{
    char *source;
    const uint64_t n = 2000;
    pull_setup(n, &source);
    char *archive = store, *err = test_path(dir, "ship.err");
    store = source;
    int out;
    pid_t shipper = run_start(NULL, err, &out,
                              (const char *const[]){ "ship", source, "ev", "--server", url, "--follow", NULL });
    close(out);
    grower g = { .path = source, .next = n };
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, grow_stream, &g), 0);
    /* Pull starts once ship has published some of the new events. */
    js_reader js;
    js_open(&js);
    while (js_stream_msgs(&js, "siglog") < n + 50)
        usleep(10000);
    js_close(&js);
    store = archive;
    run_result r = pull("arch", NULL);
    atomic_store(&g.stop, 1);
    pthread_join(thread, NULL);
    kill(shipper, SIGTERM);
    run_wait(shipper);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    cr_assert_not(g.failed, "appending to the source failed");
    cr_assert_not(g.timed_out, "pull went on for a minute while the stream grew");
    store = source;
    uint64_t id = source_store_id();
    store = archive;
    /* All it found at the start, and nothing twice. */
    uint64_t pulled = check_pulled_some(store, g.next, n, id);
    cr_assert_geq(pulled, n + 50);
    cr_log_info("pulled %" PRIu64 " of %" PRIu64 " events", pulled, g.next);
    free(source);
    free(err);
}

/* ---- TLS and logging in ---- */

/* Start the test's node with these arguments (NULL-ended) added. */
static void server_start_with(const char *const *extra)
{
    int k = 0;
    for (; extra[k]; k++)
        server_extra[k] = extra[k];
    cr_assert_leq(k, SERVER_EXTRA_MAX);
    server_start(0);
}

/* `siglog CMD STORE ev --server URL` with the connection options opts
 * (NULL-ended) and then more (NULL-ended). */
static run_result run_connected(const char *cmd, const char *const *opts, const char *const *more)
{
    const char *args[40] = { cmd, store, "ev", "--server", url };
    size_t n = 5;
    for (; *opts; opts++)
        args[n++] = *opts;
    for (; *more; more++)
        args[n++] = *more;
    cr_assert_lt(n, sizeof args / sizeof *args);
    return run_siglog(NULL, args);
}

/* With the connection options opts, ship 100 events and pull them back
 * into an archive store: each once. */
static void ship_and_pull_with(const char *const *opts)
{
    make_source(store, 100);
    run_result r = run_connected("ship", opts, (const char *const[]){ "--create-js-stream", "--json", NULL });
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"shipped\": 100"), "%s", r.out);
    run_free(&r);
    uint64_t id = source_store_id();
    char *source = store;
    store = test_path(dir, "archive");
    siglog *s = test_store_open(store, NULL);
    test_stream_create(s, "ev", PARTITIONS, SIGLOG_SYNC_INTERVAL, 0);
    cr_assert_eq(siglog_close(s), 0);
    r = run_connected("pull", opts, (const char *const[]){ "--js-stream", "siglog", "--durable", "arch", NULL });
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "pulled 100 events"), "%s", r.out);
    run_free(&r);
    check_pulled(store, 100, id);
    free(store);
    store = source;
}

/* Connecting with the options opts is refused: exit 1, the reason on
 * stderr, nothing shipped. */
static void refused_with(const char *const *opts, const char *reason)
{
    run_result r = run_connected("ship", opts, (const char *const[]){ "--timeout", "3s", NULL });
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(strstr(r.err, "siglog ship: cannot connect to") && strstr(r.err, reason), "%s", r.err);
    run_free(&r);
}

/* A CA, a server certificate for 127.0.0.1 and a client certificate, all
 * signed by it, made with openssl in dir: ca.pem, server.pem/key,
 * client.pem/key; and other-ca.pem, a CA that signed nothing here. */
static void make_certificates(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && exec >openssl.log 2>&1 && "
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=siglog-test-ca "
             "  -keyout ca.key -out ca.pem && "
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca "
             "  -keyout other-ca.key -out other-ca.pem && "
             "for who in server client; do "
             "  openssl req -newkey rsa:2048 -nodes -subj /CN=$who -keyout $who.key -out $who.csr && "
             "  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth,clientAuth\\n' "
             "    >$who.ext && "
             "  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
             "    -extfile $who.ext -out $who.pem || exit 1; "
             "done",
             dir);
    cr_assert_eq(system(cmd), 0, "openssl failed: see %s/openssl.log", dir);
}

Test(jetstream_auth, tls_with_a_client_certificate)
{
    if (system("command -v openssl >/dev/null 2>&1") != 0)
        cr_skip_test("openssl is not installed");
    make_certificates();
    char *ca = test_path(dir, "ca.pem"), *other = test_path(dir, "other-ca.pem");
    char *scert = test_path(dir, "server.pem"), *skey = test_path(dir, "server.key");
    char *ccert = test_path(dir, "client.pem"), *ckey = test_path(dir, "client.key");
    server_start_with((const char *const[]){ "--tls", "--tlscert", scert, "--tlskey", skey, "--tlsverify",
                                             "--tlscacert", ca, NULL });
    ship_and_pull_with((const char *const[]){ "--tls-ca", ca, "--tls-cert", ccert, "--tls-key", ckey, NULL });
    /* The server's certificate is checked against --tls-ca... */
    refused_with((const char *const[]){ "--tls-ca", other, "--tls-cert", ccert, "--tls-key", ckey, NULL },
                 "SSL");
    /* ...and the server wants the client's (libnats sees the connection
     * closed in the handshake: no more telling words). */
    refused_with((const char *const[]){ "--tls-ca", ca, NULL }, "");
    free(ca);
    free(other);
    free(scert);
    free(skey);
    free(ccert);
    free(ckey);
}

Test(jetstream_auth, user_and_password)
{
    server_start_with((const char *const[]){ "--user", "collector", "--pass", "s3cret", NULL });
    ship_and_pull_with((const char *const[]){ "--user", "collector", "--password", "s3cret", NULL });
    refused_with((const char *const[]){ "--user", "collector", "--password", "wrong", NULL }, "uthorization");
    refused_with((const char *const[]){ NULL }, "uthorization");
}

Test(jetstream_auth, token)
{
    server_start_with((const char *const[]){ "--auth", "t0ken-for-the-fleet", NULL });
    ship_and_pull_with((const char *const[]){ "--token", "t0ken-for-the-fleet", NULL });
    refused_with((const char *const[]){ "--token", "another", NULL }, "uthorization");
}

/* base32 (RFC 4648 alphabet, no padding) of len bytes into out. */
static void base32(const uint8_t *in, size_t len, char *out)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    uint32_t bits = 0;
    int have = 0;
    for (size_t i = 0; i < len; i++) {
        bits = bits << 8 | in[i];
        for (have += 8; have >= 5; have -= 5)
            *out++ = alphabet[(bits >> (have - 5)) & 31];
    }
    if (have > 0)
        *out++ = alphabet[(bits << (5 - have)) & 31];
    *out = '\0';
}

/* An NKey's text: prefix bytes, 32 key bytes, CRC-16/XMODEM of those
 * little-endian, all in base32 (the NATS nkeys encoding). */
static void nkey_text(const uint8_t *prefix, size_t plen, const uint8_t key[32], char *out)
{
    uint8_t raw[2 + 32 + 2];
    memcpy(raw, prefix, plen);
    memcpy(raw + plen, key, 32);
    uint16_t crc = 0;
    for (size_t i = 0; i < plen + 32; i++) {
        crc ^= (uint16_t)(raw[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? crc << 1 ^ 0x1021 : crc << 1);
    }
    raw[plen + 32] = (uint8_t)crc;
    raw[plen + 33] = (uint8_t)(crc >> 8);
    base32(raw, plen + 34, out);
}

Test(jetstream_auth, nkey)
{
    cr_assert_geq(sodium_init(), 0);
    uint8_t seed[32], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    /* A user key: prefix 'U' (20 << 3); its seed: 'S' (18 << 3) and 'U'
     * spread over two bytes. */
    char pub[64], seed_text[64], other_pub[64];
    nkey_text((const uint8_t[]){ 20 << 3 }, 1, pk, pub);
    nkey_text((const uint8_t[]){ 18 << 3 | 20 >> 2, (20 & 3) << 6 }, 2, seed, seed_text);
    cr_assert_eq(seed_text[0], 'S');
    cr_assert_eq(seed_text[1], 'U');
    pk[0] ^= 1;
    nkey_text((const uint8_t[]){ 20 << 3 }, 1, pk, other_pub);
    char *conf = test_path(dir, "nkey.conf"), *seed_file = test_path(dir, "user.nk"), text[256];
    snprintf(text, sizeof text, "authorization { users = [ { nkey: \"%s\" } ] }\n", pub);
    run_write_file(conf, text, strlen(text));
    snprintf(text, sizeof text, "%s\n", seed_text);
    run_write_file(seed_file, text, strlen(text));
    server_start_with((const char *const[]){ "-c", conf, NULL });
    ship_and_pull_with((const char *const[]){ "--nkey", pub, "--nkey-seed", seed_file, NULL });
    refused_with((const char *const[]){ "--nkey", other_pub, "--nkey-seed", seed_file, NULL }, "uthorization");
    free(conf);
    free(seed_file);
}

/* ---- a 3-node cluster ---- */

static int sum_offsets(void *ctx, const siglog_consumer_info *c)
{
    for (uint32_t p = 0; p < c->partitions; p++)
        *(uint64_t *)ctx += c->next_offset[p];
    return 0;
}

/* Events the shipper's consumers committed so far. */
static uint64_t committed_count(void)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *s;
    siglog_stream *st;
    uint64_t n = 0;
    cr_assert_eq(siglog_open(&s, store, &o), 0);
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    cr_assert_eq(siglog_consumer_foreach(st, sum_offsets, &n), 0);
    siglog_close(s);
    return n;
}

Test(jetstream_cluster, three_replicas_through_a_node_restart_each_event_once)
{
    const uint64_t n = 8000;
    make_source(store, n);
    char *err = test_path(dir, "ship.err");
    pid_t pid = ship_start(err, "3");
    /* A node goes away once shipping is under way. A shipper that is
     * done before (a quick machine) is reaped here, its status kept. */
    int wst = 0, ended = 0;
    while (committed_count() < 1000 && !(ended = waitpid(pid, &wst, WNOHANG) == pid))
        usleep(20000);
    if (ended)
        cr_log_warn("ship ended before a node could be stopped under it");
    server_stop(1);
    usleep(1000000);
    server_start(1);
    int status = ended ? (WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst)) : run_wait(pid);
    char *log = run_slurp(err, NULL);
    cr_assert_eq(status, 0, "%s", log);
    free(log);
    js_reader js;
    js_open(&js);
    jsStreamInfo *si = NULL;
    cr_assert_eq(js_GetStreamInfo(&si, js.js, "siglog", NULL, NULL), NATS_OK);
    cr_assert_eq(si->Config->Replicas, 3);
    jsStreamInfo_Destroy(si);
    uint64_t id = source_store_id();
    check_js_messages(&js, n, id);
    js_close(&js);
    /* And the archive pulls it from the cluster. */
    char *source = store;
    store = test_path(dir, "archive");
    siglog *s = test_store_open(store, NULL);
    test_stream_create(s, "ev", PARTITIONS, SIGLOG_SYNC_INTERVAL, 0);
    cr_assert_eq(siglog_close(s), 0);
    run_result r = pull("arch", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    check_pulled(store, n, id);
    /* Every node gone: ship gives up after --timeout, committing nothing
     * past what was acknowledged. */
    free(store);
    store = source;
    for (int i = 0; i < node_count; i++)
        server_stop(i);
    siglog *w = test_store_open(store, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(w, "ev", &st), 0);
    test_event t;
    test_event_make(&t, SEED, n);
    cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0);
    cr_assert_eq(siglog_close(w), 0);
    r = RUN(NULL, "ship", store, "ev", "--server", url, "--timeout", "2s");
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(strstr(r.err, "giving up"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(committed_count(), n);
    free(err);
}

/* ---- the shared corpus, a million events (slow) ---- */

/* Every partition's values, in order, as replay --format value prints
 * them. */
static char *partition_values(const char *path, int partition)
{
    char p[16], *out = test_path(dir, "values.out");
    snprintf(p, sizeof p, "%d", partition);
    run_result r = run_siglog_to(NULL, out, (const char *const[]){ "replay", path, "ev", "--partition", p,
                                                                   "--format", "value", NULL });
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *text = run_slurp(out, NULL);
    free(out);
    return text;
}

/* The corpus appended again and again up to a million events, shipped to
 * a 3-node cluster with 3 replicas and pulled back: the JetStream stream
 * holds each once, and every partition of the archive holds the same
 * values in the same order. Run by the slow setup only (SIGLOG_SLOW). */
Test(jetstream_cluster, corpus_million_events_shipped_and_pulled_back, .timeout = 3000)
{
    const char *corpus = getenv("SIGLOG_CORPUS");
    if (!getenv("SIGLOG_SLOW"))
        cr_skip_test("slow: meson test --setup slow");
    char *files[] = { "clickstream_yoochoose_rsc15_sample.jsonl", "syslog_loghub_2k_all16.jsonl",
                      "weblog_nasa_http_19950801.jsonl", "llm_trace_azure2023_conv.jsonl" };
    char *paths[4];
    for (int i = 0; i < 4; i++) {
        paths[i] = corpus ? test_path(corpus, files[i]) : NULL;
        if (!paths[i] || access(paths[i], R_OK) != 0)
            cr_skip_test("the shared corpus is absent");
    }
    run_result r = RUN(NULL, "init", store);
    run_free(&r);
    r = RUN(NULL, "stream", "create", store, "ev", "--partitions", "4", "--sync", "none");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    uint64_t n = 0;
    for (int i = 0; n < 1000000; i = (i + 1) % 4) {
        r = RUN(NULL, "append", store, "ev", paths[i]);
        cr_assert_eq(r.status, 0, "%s", r.err);
        unsigned long long got = 0;
        cr_assert(sscanf(strstr(r.err, "siglog append: ") + 15, "%llu", &got) == 1, "%s", r.err);
        n += got;
        run_free(&r);
    }
    r = RUN(NULL, "ship", store, "ev", "--server", url, "--create-js-stream", "--replicas", "3");
    cr_assert_eq(r.status, 0, "%s", r.err);
    char want[96];
    snprintf(want, sizeof want, "shipped %llu events, 0 duplicates", (unsigned long long)n);
    cr_assert(strstr(r.out, want), "%s", r.out);
    run_free(&r);
    js_reader js;
    js_open(&js);
    cr_assert_eq(js_stream_msgs(&js, "siglog"), n);
    js_close(&js);
    char *source = store;
    store = test_path(dir, "archive");
    r = RUN(NULL, "init", store);
    run_free(&r);
    r = RUN(NULL, "stream", "create", store, "ev", "--partitions", "4");
    run_free(&r);
    r = RUN(NULL, "pull", store, "ev", "--server", url, "--js-stream", "siglog", "--durable", "arch");
    cr_assert_eq(r.status, 0, "%s", r.err);
    snprintf(want, sizeof want, "pulled %llu events, 0 already stored", (unsigned long long)n);
    cr_assert(strstr(r.out, want), "%s", r.out);
    run_free(&r);
    for (int p = 0; p < 4; p++) {
        char *a = partition_values(source, p), *b = partition_values(store, p);
        cr_assert(strcmp(a, b) == 0, "partition %d differs", p);
        free(a);
        free(b);
    }
    for (int i = 0; i < 4; i++)
        free(paths[i]);
    free(source);
}
