/*
 * bench_jetstream — the baselines `siglog ship` and `siglog pull` are
 * measured against, and what they need around them (bench/run runs the
 * siglog commands themselves and times them):
 *
 *   --mode=store    a store at --dir with --events pool events in stream
 *                   s0 (--partitions, default 4), sync none
 *   --mode=reset    delete JetStream stream --js-stream and create it
 *                   again empty (subjects bench.>, file storage, one
 *                   replica, 2 minute duplicate window)
 *   --mode=publish  a bare asynchronous publisher of the same messages
 *                   ship sends for that store (subject, id, headers and
 *                   value, built before the clock starts), at most 1024
 *                   without a PubAck, waiting for the last one
 *   --mode=fetch    a bare pull consumer: --durable fetches --events
 *                   messages 256 at a time and acknowledges them as pull
 *                   does (each, the last one synchronously), storing none
 *
 * The timed modes print their rates (bench_print_rates).
 */
#include "bench.h"
#include "jsmsg.h"

#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INFLIGHT 1024
#define FETCH_BATCH 256

static void nats_check(natsStatus s, const char *what)
{
    if (s != NATS_OK)
        bench_die("%s: %s (%s)", what, natsStatus_GetText(s), nats_GetLastError(NULL));
}

static jsCtx *connect_js(natsConnection **nc, const char *url, jsOptions *jo)
{
    jsCtx *js = NULL;
    nats_check(natsConnection_ConnectTo(nc, url), url);
    nats_check(natsConnection_JetStream(&js, *nc, jo), "JetStream context");
    return js;
}

static void reset_stream(const char *url, const char *name)
{
    natsConnection *nc = NULL;
    jsCtx *js = connect_js(&nc, url, NULL);
    js_DeleteStream(js, name, NULL, NULL); /* absent is fine */
    const char *subjects[] = { "bench.>" };
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = (int64_t)120 * 1000000000;
    nats_check(js_AddStream(NULL, js, &cfg, NULL, NULL), "creating the stream");
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

/* Every message ship would send for the store, built whole. */
static natsMsg **build_messages(const char *dir, size_t *count)
{
    siglog_stream *st;
    siglog *s = bench_open_reader(dir, &st);
    siglog_stream_config cfg;
    siglog_stream_config_get(st, &cfg);
    size_t cap = 1024, n = 0;
    natsMsg **msgs = malloc(cap * sizeof *msgs);
    jsmsg_encoder enc = { 0 };
    for (uint32_t p = 0; p < cfg.partitions; p++) {
        siglog_cursor *c;
        bench_check(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), "cursor");
        const siglog_record *r;
        int rc;
        while ((rc = siglog_cursor_next(c, &r)) == 1) {
            if (n == cap)
                msgs = realloc(msgs, (cap *= 2) * sizeof *msgs);
            char subject[64], id[JSMSG_ID_MAX];
            jsmsg_id mid = { siglog_store_id(s), "s0", p, r->offset };
            jsmsg_id_format(&mid, id);
            jsmsg_subject("bench", "s0", p, subject, sizeof subject);
            if (!msgs || jsmsg_encode(&enc, r) != 0)
                bench_die("out of memory");
            nats_check(natsMsg_Create(&msgs[n], subject, NULL, r->value, (int)r->value_len), "message");
            nats_check(natsMsgHeader_Set(msgs[n], JSMSG_HDR_ID, id), "header");
            for (size_t i = 0; i < enc.count; i++)
                nats_check(natsMsgHeader_Add(msgs[n], enc.fields[i].name, enc.fields[i].value), "header");
            n++;
        }
        bench_check(rc, "read");
        siglog_cursor_close(c);
    }
    jsmsg_encoder_free(&enc);
    siglog_close(s);
    *count = n;
    return msgs;
}

static void publish(const char *url, const char *dir, const char *stream)
{
    size_t n;
    natsMsg **msgs = build_messages(dir, &n);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += (uint64_t)natsMsg_GetDataLength(msgs[i]);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = INFLIGHT;
    natsConnection *nc = NULL;
    jsCtx *js = connect_js(&nc, url, &jo);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectStream = stream;
    po.MaxWait = 5000;
    bench_span span;
    bench_span_start(&span);
    for (size_t i = 0; i < n; i++)
        nats_check(js_PublishMsgAsync(js, &msgs[i], &po), "publish");
    nats_check(js_PublishAsyncComplete(js, &po), "waiting for the acknowledgements");
    bench_span_stop(&span);
    printf("bench=jetstream_bare_publish events=%zu", n);
    bench_print_rates("", &span, n, bytes);
    printf("\n");
    free(msgs); /* the library destroyed each message */
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

static void fetch(const char *url, const char *stream, const char *durable, uint64_t events)
{
    natsConnection *nc = NULL;
    jsCtx *js = connect_js(&nc, url, NULL);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.MaxAckPending = FETCH_BATCH * 4;
    natsSubscription *sub = NULL;
    nats_check(js_PullSubscribe(&sub, js, "bench.>", durable, NULL, &so, NULL), "pull consumer");
    uint64_t got = 0, bytes = 0;
    bench_span span;
    bench_span_start(&span);
    while (got < events) {
        natsMsgList list = { 0 };
        nats_check(natsSubscription_Fetch(&list, sub, FETCH_BATCH, 5000, NULL), "fetch");
        for (int i = 0; i < list.Count; i++) {
            bytes += (uint64_t)natsMsg_GetDataLength(list.Msgs[i]);
            nats_check(i + 1 < list.Count ? natsMsg_Ack(list.Msgs[i], NULL)
                                          : natsMsg_AckSync(list.Msgs[i], NULL, NULL),
                       "ack");
        }
        got += (uint64_t)list.Count;
        natsMsgList_Destroy(&list);
    }
    bench_span_stop(&span);
    printf("bench=jetstream_bare_fetch events=%llu", (unsigned long long)got);
    bench_print_rates("", &span, got, bytes);
    printf("\n");
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

int main(int argc, char **argv)
{
    const char *mode = bench_opt(argc, argv, "mode", "store");
    const char *dir = bench_opt(argc, argv, "dir", "bench-jetstream");
    const char *url = bench_opt(argc, argv, "server", "nats://127.0.0.1:4222");
    const char *stream = bench_opt(argc, argv, "js-stream", "bench");
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 100000);
    if (strcmp(mode, "store") == 0) {
        bench_pool pool;
        pool_from_options(&pool, argc, argv, events);
        bench_rm_rf(dir);
        bench_build_store(dir, &pool, events, (uint32_t)bench_opt_ll(argc, argv, "partitions", 4), 1);
        pool_free(&pool);
    } else if (strcmp(mode, "reset") == 0) {
        reset_stream(url, stream);
    } else if (strcmp(mode, "publish") == 0) {
        publish(url, dir, stream);
    } else if (strcmp(mode, "fetch") == 0) {
        fetch(url, stream, bench_opt(argc, argv, "durable", "bare"), events);
    } else {
        bench_die("unknown --mode=%s", mode);
    }
    nats_Close();
    return 0;
}
