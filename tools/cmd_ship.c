/*
 * cmd_ship — `siglog ship`: publish a stream's events to a NATS JetStream
 * stream, each stored there exactly once however often ship is killed,
 * restarted or cut off from the cluster.
 *
 * Exactly once is two halves. Ship sends each event at least once: it
 * reads each partition with a cursor from the offset its consumer (a
 * siglog consumer, `siglog consumer list`) committed, and commits an
 * offset only when every event below it was acknowledged by JetStream
 * (a PubAck: stored, and replicated as the stream's replicas ask). A
 * kill, a lost acknowledgement or a failed publish therefore sends again
 * what was in flight, never skips. JetStream keeps each at most once: the
 * message id STOREID:STREAM:PARTITION:OFFSET (jsmsg.h) is the same for
 * every send of an event, and the stream's duplicate window drops a
 * second message with an id it has seen. That holds only if a resend
 * comes inside the window, so ship refuses to start against a stream
 * whose window is shorter than --min-dupe-window.
 *
 * Publishing is asynchronous, at most --max-inflight messages without an
 * acknowledgement. Per partition the messages in flight are the offsets
 * [base, next): `acked` is a ring over them, and base moves up past
 * every acknowledged offset at its bottom, so base is always a safe
 * commit. When any publish fails (the server said no, or no PubAck came
 * within ACK_WAIT_MS), ship stops, waits for what is still in flight,
 * and reads every partition again from its base: duplicates of what was
 * stored meanwhile are the duplicate window's business.
 *
 * Threads: the main thread reads, publishes and commits; libnats calls
 * on_ack from its own thread. `mu` guards the rings, counters and the
 * failure flag between them.
 */
#include "args.h"
#include "cli.h"
#include "interrupt.h"
#include "jsmsg.h"
#include "natsconn.h"
#include "output.h"
#include "progress.h"
#include "timeparse.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a PubAck may take before the publish counts as failed. A
 * healthy cluster answers in milliseconds; this only bounds how long a
 * lost message or acknowledgement stalls a partition. */
#define ACK_WAIT_MS 5000
/* Committing costs an atomic file replace with its fsyncs: a few times a
 * second keeps the resend after a kill small without making it the
 * bottleneck. */
#define COMMIT_INTERVAL_MS 200
/* Events read from one partition before the next gets its turn. */
#define BURST 256
#define DEFAULT_MIN_DUPE_WINDOW_MS 60000
#define DEFAULT_DUPE_WINDOW_MS 120000

static const args_cmd ship_cmd = {
    "ship",
    "siglog ship STORE STREAM --server URL[,URL...] [options]",
    "Publish the events of STREAM to a NATS JetStream stream, each stored there\n"
    "exactly once: subject PREFIX.STREAM.PARTITION, message id\n"
    "STOREID:STREAM:PARTITION:OFFSET, the value as the data byte for byte, key,\n"
    "event time, schema version, flags and headers as message headers\n"
    "(siglog(1) lists them). Reading resumes where the consumer's committed\n"
    "offsets say; an offset is committed only once JetStream acknowledged every\n"
    "event below it, and the stream's duplicate window drops what a restart\n"
    "sends again.\n"
    "\n"
    "  --js-stream NAME     the JetStream stream (default: siglog)\n"
    "  --subject-prefix P   the subjects' first token(s) (default: siglog)\n"
    "  --consumer NAME      the siglog consumer keeping ship's offsets\n"
    "                       (default: ship)\n"
    "  --partition P        ship this partition (repeatable; default: all)\n"
    "  --from-time T        a partition the consumer never committed starts at\n"
    "                       the first event at or after time T (RFC 3339)\n"
    "  --follow             keep shipping new events until SIGINT or SIGTERM\n"
    "                       (then finish what is in flight, commit, exit 130/143)\n"
    "  --max-inflight N     messages published and not yet acknowledged, at most\n"
    "                       (default 1024, 1..65536)\n"
    "  --create-js-stream   create the JetStream stream when it does not exist,\n"
    "                       taking subjects PREFIX.>, with:\n"
    "    --replicas N       its replicas (default 1, 1..5)\n"
    "    --dupe-window D    its duplicate window (default 2m)\n"
    "  --min-dupe-window D  refuse a JetStream stream whose duplicate window is\n"
    "                       shorter (default 1m): a restart later than the window\n"
    "                       would store duplicates\n"
    "  --json               the summary as one JSON document on stdout\n" NATSCONN_HELP
    "\n"
    "Prints \"shipped N events, M duplicates dropped by the server\" at the end\n"
    "and a progress line on a terminal. Runs beside a live writer: it writes\n"
    "only the stream's consumers file.\n",
};

enum {
    OPT_JS_STREAM = 256,
    OPT_PREFIX,
    OPT_CONSUMER,
    OPT_PARTITION,
    OPT_FROM_TIME,
    OPT_FOLLOW,
    OPT_MAX_INFLIGHT,
    OPT_CREATE,
    OPT_REPLICAS,
    OPT_DUPE_WINDOW,
    OPT_MIN_DUPE_WINDOW,
    OPT_JSON,
};

typedef struct ship_args {
    const char *store, *stream;
    const char *js_stream, *prefix, *consumer;
    uint32_t *partitions; /* NULL: all */
    size_t partition_count;
    int64_t from_time_us;
    int have_from_time, follow, create, json;
    uint32_t max_inflight, replicas;
    int64_t dupe_window_ms, min_dupe_window_ms;
    natsconn_opts nats;
} ship_args;

/* What acked[] says of an offset in flight. */
enum { SLOT_WAITING = 0, SLOT_ACKED = 1, SLOT_ABSENT = 2 /* no event there */ };

typedef struct ship_part {
    uint32_t partition;
    siglog_cursor *cur;
    char *subject;
    uint64_t base;      /* every offset below is acknowledged */
    uint64_t next;      /* the next offset to publish */
    uint64_t committed; /* what the consumer holds */
    uint8_t *acked;     /* [cap], for offsets in [base, next): SLOT_* */
    int at_end;         /* the cursor had nothing more */
} ship_part;

typedef struct ship {
    const ship_args *a;
    siglog_stream *st;
    natsconn conn;
    jsmsg_encoder enc;
    uint64_t store_id;
    ship_part *parts;
    size_t nparts;
    int32_t *part_index; /* partition -> index in parts, -1 if not shipped */
    uint32_t stream_partitions;
    size_t cap;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t inflight;
    uint64_t shipped;    /* events the base moved past: acknowledged */
    uint64_t duplicates;
    int failed;
    char fail_reason[256];
    int64_t progress_ms; /* last acknowledgement, or last moment nothing
                          * was waiting for one */
} ship;

/* ---- acknowledgements (libnats's thread) ---- */

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    ship *sh = closure;
    const char *text = NULL;
    jsmsg_id id;
    if (natsMsgHeader_Get(msg, JSMSG_HDR_ID, &text) == NATS_OK && jsmsg_id_parse(text, &id) == 0 &&
        id.partition < sh->stream_partitions && sh->part_index[id.partition] >= 0) {
        pthread_mutex_lock(&sh->mu);
        ship_part *p = &sh->parts[sh->part_index[id.partition]];
        /* An answer for an offset not in flight (any more), or answered
         * already, is for a send a rewind gave up on: ignore it. */
        if (id.offset >= p->base && id.offset < p->next && p->acked[id.offset % sh->cap] == SLOT_WAITING) {
            sh->inflight--;
            if (pa) {
                p->acked[id.offset % sh->cap] = SLOT_ACKED;
                sh->duplicates += pa->Duplicate;
                for (uint8_t *slot; p->base < p->next && *(slot = &p->acked[p->base % sh->cap]) != SLOT_WAITING;
                     p->base++) {
                    sh->shipped += *slot == SLOT_ACKED;
                    *slot = SLOT_WAITING;
                }
                sh->progress_ms = natsconn_now_ms();
            } else if (!sh->failed) {
                sh->failed = 1;
                snprintf(sh->fail_reason, sizeof sh->fail_reason, "partition %" PRIu32 " offset %" PRIu64 ": %s",
                         id.partition, id.offset,
                         pae && pae->ErrText && *pae->ErrText ? pae->ErrText
                                                              : natsStatus_GetText(pae ? pae->Err : NATS_ERR));
            }
            pthread_cond_broadcast(&sh->cv);
        }
        pthread_mutex_unlock(&sh->mu);
    }
    natsMsg_Destroy(msg);
}

/* ---- the JetStream stream ---- */

/* The library's status (the caller says what failed). */
static natsStatus create_js_stream(ship *sh, jsErrCode *ec)
{
    const ship_args *a = sh->a;
    char subject[SIGLOG_NAME_MAX * 2];
    snprintf(subject, sizeof subject, "%s.>", a->prefix);
    const char *subjects[] = { subject };
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = a->js_stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = a->replicas;
    cfg.Duplicates = a->dupe_window_ms * 1000000;
    jsStreamInfo *si = NULL;
    natsStatus s = js_AddStream(&si, sh->conn.js, &cfg, NULL, ec);
    jsStreamInfo_Destroy(si);
    if (s != NATS_OK)
        return s;
    cli_note(ship_cmd.name, "created JetStream stream %s (subjects %s, %" PRIu32 " replicas, duplicate window %" PRId64
             "ms)", a->js_stream, subject, a->replicas, a->dupe_window_ms);
    return NATS_OK;
}

/* The stream must exist (or be created), keep duplicates out for long
 * enough, and take every subject ship publishes to. */
static int check_js_stream(ship *sh)
{
    const ship_args *a = sh->a;
    jsStreamInfo *si = NULL;
    natsStatus s;
    jsErrCode ec;
    int64_t start = natsconn_now_ms();
    for (int attempt = 1;; attempt++) {
        ec = 0;
        s = js_GetStreamInfo(&si, sh->conn.js, a->js_stream, NULL, &ec);
        if (s == NATS_NOT_FOUND && a->create) {
            s = create_js_stream(sh, &ec);
            if (s == NATS_OK)
                s = js_GetStreamInfo(&si, sh->conn.js, a->js_stream, NULL, &ec);
        }
        /* A cluster electing a leader, or a node going away meanwhile,
         * answers late or not at all: ask again, as for a reconnect.
         * Creating again is harmless: the same config is accepted. */
        if (!natsconn_transient(s, ec) || (a->nats.timeout_ms && natsconn_now_ms() - start >= a->nats.timeout_ms))
            break;
        if (attempt == 1)
            cli_note(ship_cmd.name, "JetStream stream %s: %s; asking again", a->js_stream, natsStatus_GetText(s));
        nats_Sleep(natsconn_backoff_ms(attempt));
    }
    if (s == NATS_NOT_FOUND)
        return cli_fail(ship_cmd.name, "JetStream stream %s does not exist (--create-js-stream creates it)",
                        a->js_stream);
    /* Still transient: --timeout ran out, said as connecting says it (a
     * server lost between the connection and this question lands here). */
    if (s != NATS_OK)
        return natsconn_fail(ship_cmd.name, s, "JetStream stream %s%s", a->js_stream,
                             natsconn_transient(s, ec) ? ": giving up" : "");
    int status = CLI_OK;
    int64_t window_ms = si->Config->Duplicates / 1000000;
    if (window_ms < a->min_dupe_window_ms) {
        status = cli_fail(ship_cmd.name,
                          "JetStream stream %s has a duplicate window of %" PRId64 "ms, shorter than %" PRId64
                          "ms (--min-dupe-window): events sent again after a restart could be stored twice",
                          a->js_stream, window_ms, a->min_dupe_window_ms);
    }
    for (size_t i = 0; status == CLI_OK && i < sh->nparts; i++) {
        int covered = 0;
        for (int j = 0; !covered && j < si->Config->SubjectsLen; j++)
            covered = jsmsg_subject_matches(si->Config->Subjects[j], sh->parts[i].subject);
        if (!covered)
            status = cli_fail(ship_cmd.name, "JetStream stream %s does not take subject %s", a->js_stream,
                              sh->parts[i].subject);
    }
    jsStreamInfo_Destroy(si);
    return status;
}

/* ---- reading and publishing ---- */

typedef struct find_ctx {
    const char *name;
    uint32_t partitions;
    uint64_t *next; /* [partitions] */
    int found;
} find_ctx;

static int find_consumer(void *ctx, const siglog_consumer_info *c)
{
    find_ctx *f = ctx;
    if (strcmp(c->name, f->name) != 0)
        return 0;
    for (uint32_t p = 0; p < c->partitions && p < f->partitions; p++)
        f->next[p] = c->next_offset[p];
    f->found = 1;
    return 1;
}

/* The consumer's committed offsets (0 where it has none); found says
 * whether it exists. */
static int committed_offsets(siglog_stream *st, const char *name, uint32_t partitions, uint64_t *next, int *found)
{
    find_ctx f = { name, partitions, next, 0 };
    int rc = siglog_consumer_foreach(st, find_consumer, &f);
    *found = f.found;
    return rc < 0 ? rc : 0;
}

static int open_parts(ship *sh)
{
    const ship_args *a = sh->a;
    siglog_stream_config cfg;
    siglog_stream_config_get(sh->st, &cfg);
    sh->stream_partitions = cfg.partitions;
    sh->part_index = malloc(cfg.partitions * sizeof *sh->part_index);
    uint64_t *committed = calloc(cfg.partitions, sizeof *committed);
    sh->nparts = a->partitions ? a->partition_count : cfg.partitions;
    sh->parts = calloc(sh->nparts, sizeof *sh->parts);
    if (!sh->part_index || !committed || !sh->parts) {
        free(committed);
        return cli_fail(ship_cmd.name, "out of memory");
    }
    for (uint32_t p = 0; p < cfg.partitions; p++)
        sh->part_index[p] = -1;
    int found, rc = committed_offsets(sh->st, a->consumer, cfg.partitions, committed, &found);
    if (rc) {
        free(committed);
        return cli_fail_lib(ship_cmd.name, rc, "consumer %s of stream %s", a->consumer, a->stream);
    }
    unsigned flags = a->follow ? SIGLOG_CURSOR_FOLLOW : 0;
    int status = CLI_OK;
    for (size_t i = 0; status == CLI_OK && i < sh->nparts; i++) {
        ship_part *p = &sh->parts[i];
        p->partition = a->partitions ? a->partitions[i] : (uint32_t)i;
        if (p->partition >= cfg.partitions) {
            status = cli_fail(ship_cmd.name, "stream %s has no partition %" PRIu32, a->stream, p->partition);
            break;
        }
        if (sh->part_index[p->partition] >= 0) {
            status = cli_fail(ship_cmd.name, "partition %" PRIu32 " given twice", p->partition);
            break;
        }
        sh->part_index[p->partition] = (int32_t)i;
        char subject[SIGLOG_NAME_MAX * 3];
        p->acked = calloc(sh->cap, 1);
        if (jsmsg_subject(a->prefix, a->stream, p->partition, subject, sizeof subject) != 0 || !p->acked ||
            !(p->subject = strdup(subject))) {
            status = cli_fail(ship_cmd.name, "out of memory");
            break;
        }
        /* A partition the consumer never committed starts at --from-time
         * (or the start); one it did, at its committed offset. */
        int by_time = !(found && committed[p->partition]) && a->have_from_time;
        rc = siglog_cursor_open(&p->cur, sh->st, p->partition, by_time ? SIGLOG_SEEK_TIME : SIGLOG_SEEK_OFFSET,
                                by_time ? a->from_time_us : (int64_t)committed[p->partition], flags);
        if (rc) {
            status = cli_fail_lib(ship_cmd.name, rc, "partition %" PRIu32 " of stream %s", p->partition, a->stream);
            break;
        }
        p->base = p->next = siglog_cursor_position(p->cur);
        p->committed = found ? committed[p->partition] : UINT64_MAX;
    }
    free(committed);
    return status;
}

static void fail_locked(ship *sh, const char *reason)
{
    if (!sh->failed) {
        sh->failed = 1;
        snprintf(sh->fail_reason, sizeof sh->fail_reason, "%s", reason);
    }
}

/* Make room for rec in p's ring and count it in flight. 0, or 1 when a
 * failure came first (rec is then read again after the rewind). */
static int take_slot(ship *sh, ship_part *p, const siglog_record *rec)
{
    pthread_mutex_lock(&sh->mu);
    if (rec->offset != p->next) {
        /* Offsets with no event (retention removed them, or the cursor
         * started past them): nothing to send, nothing to wait for. */
        while (!sh->failed && p->base != p->next && rec->offset - p->base >= sh->cap)
            pthread_cond_wait(&sh->cv, &sh->mu);
        if (p->base == p->next)
            p->base = rec->offset;
        else
            for (uint64_t o = p->next; o < rec->offset; o++)
                p->acked[o % sh->cap] = SLOT_ABSENT;
        p->next = rec->offset;
    }
    int failed = sh->failed;
    if (!failed) {
        p->next++;
        sh->inflight++;
    }
    pthread_mutex_unlock(&sh->mu);
    return failed;
}

/* Publish rec asynchronously: 0, or 1 when it could not be sent. Every
 * failure is one to retry: the rewind sends it again. */
static int publish(ship *sh, ship_part *p, const siglog_record *rec)
{
    if (take_slot(sh, p, rec))
        return 1;
    jsmsg_id id = { sh->store_id, "", p->partition, rec->offset };
    snprintf(id.stream, sizeof id.stream, "%s", sh->a->stream);
    char idtext[JSMSG_ID_MAX];
    jsmsg_id_format(&id, idtext);
    natsMsg *m = NULL;
    natsStatus s = jsmsg_encode(&sh->enc, rec) != 0 ? NATS_NO_MEMORY
                                                    : natsMsg_Create(&m, p->subject, NULL, rec->value,
                                                                     (int)rec->value_len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, JSMSG_HDR_ID, idtext);
    for (size_t i = 0; s == NATS_OK && i < sh->enc.count; i++)
        s = natsMsgHeader_Add(m, sh->enc.fields[i].name, sh->enc.fields[i].value);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = ACK_WAIT_MS;
    po.ExpectStream = sh->a->js_stream;
    if (s == NATS_OK)
        s = js_PublishMsgAsync(sh->conn.js, &m, &po);
    natsMsg_Destroy(m); /* no-op when the library took it */
    if (s == NATS_OK)
        return 0;
    pthread_mutex_lock(&sh->mu);
    sh->inflight--; /* no answer will come for it */
    fail_locked(sh, natsStatus_GetText(s));
    pthread_mutex_unlock(&sh->mu);
    return 1;
}

/* Something failed: let what is in flight finish, forget what is still
 * unanswered, and read every partition again from its base. */
static int rewind_all(ship *sh)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = ACK_WAIT_MS;
    js_PublishAsyncComplete(sh->conn.js, &po);
    natsMsgList pending;
    if (js_PublishAsyncGetPendingList(&pending, sh->conn.js) == NATS_OK)
        natsMsgList_Destroy(&pending);
    pthread_mutex_lock(&sh->mu);
    cli_note(ship_cmd.name, "not acknowledged: %s; sending again from the last acknowledged offsets",
             sh->fail_reason);
    int status = CLI_OK;
    for (size_t i = 0; i < sh->nparts; i++) {
        ship_part *p = &sh->parts[i];
        memset(p->acked, 0, sh->cap);
        p->next = p->base;
        p->at_end = 0;
        int rc = siglog_cursor_seek(p->cur, SIGLOG_SEEK_OFFSET, (int64_t)p->base);
        if (rc && status == CLI_OK)
            status = cli_fail_lib(ship_cmd.name, rc, "partition %" PRIu32, p->partition);
    }
    sh->inflight = 0;
    sh->failed = 0;
    pthread_mutex_unlock(&sh->mu);
    return status;
}

/* Whether p may send one more now. */
static int has_room(ship *sh, const ship_part *p)
{
    pthread_mutex_lock(&sh->mu);
    int room = !sh->failed && sh->inflight < sh->a->max_inflight && p->next - p->base < sh->cap;
    pthread_mutex_unlock(&sh->mu);
    return room;
}

/* Read and publish up to BURST events of each partition. *sent gets how
 * many were published. */
static int publish_round(ship *sh, size_t *sent)
{
    *sent = 0;
    for (size_t i = 0; i < sh->nparts; i++) {
        ship_part *p = &sh->parts[i];
        for (int n = 0; n < BURST && has_room(sh, p); n++) {
            const siglog_record *rec;
            int rc = siglog_cursor_next(p->cur, &rec);
            if (rc == SIGLOG_EGAP)
                continue; /* retention went past us: read on from its start */
            if (rc < 0)
                return cli_fail_lib(ship_cmd.name, rc, "reading partition %" PRIu32 " of stream %s", p->partition,
                                    sh->a->stream);
            p->at_end = rc == 0;
            if (rc == 0 || publish(sh, p, rec) != 0)
                break;
            (*sent)++;
        }
    }
    return CLI_OK;
}

static int commit_offsets(ship *sh)
{
    for (size_t i = 0; i < sh->nparts; i++) {
        ship_part *p = &sh->parts[i];
        pthread_mutex_lock(&sh->mu);
        uint64_t base = p->base;
        pthread_mutex_unlock(&sh->mu);
        if (base == p->committed)
            continue;
        int rc = siglog_consumer_commit(sh->st, sh->a->consumer, p->partition, base, 0);
        if (rc)
            return cli_fail_lib(ship_cmd.name, rc, "committing consumer %s of stream %s", sh->a->consumer,
                                sh->a->stream);
        p->committed = base;
    }
    return CLI_OK;
}

static uint64_t shipped_count(ship *sh)
{
    pthread_mutex_lock(&sh->mu);
    uint64_t n = sh->shipped;
    pthread_mutex_unlock(&sh->mu);
    return n;
}

/* Whether every partition is read to its end and acknowledged. */
static int drained(ship *sh)
{
    pthread_mutex_lock(&sh->mu);
    int done = !sh->failed;
    for (size_t i = 0; done && i < sh->nparts; i++)
        done = sh->parts[i].at_end && sh->parts[i].base == sh->parts[i].next;
    if (done || sh->inflight == 0)
        sh->progress_ms = natsconn_now_ms();
    pthread_mutex_unlock(&sh->mu);
    return done;
}

static int gave_up(ship *sh)
{
    if (natsconn_gave_up(&sh->conn))
        return 1;
    pthread_mutex_lock(&sh->mu);
    int64_t since = sh->progress_ms;
    pthread_mutex_unlock(&sh->mu);
    return sh->a->nats.timeout_ms && natsconn_now_ms() - since >= sh->a->nats.timeout_ms;
}

/* Sleep until an acknowledgement or new events may have come. */
static void wait_a_little(ship *sh, int idle)
{
    if (idle && sh->a->follow) {
        siglog_cursor_wait(sh->parts[0].cur, 100); /* any commit to the stream wakes it */
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20 * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&sh->mu);
    pthread_cond_timedwait(&sh->cv, &sh->mu, &ts);
    pthread_mutex_unlock(&sh->mu);
}

static int ship_loop(ship *sh)
{
    progress pr;
    progress_start(&pr, "shipped", 0);
    int64_t last_commit = natsconn_now_ms();
    int status = CLI_OK, stopping = 0;
    while (status == CLI_OK) {
        stopping = stopping || interrupt_caught();
        pthread_mutex_lock(&sh->mu);
        int failed = sh->failed;
        pthread_mutex_unlock(&sh->mu);
        if (failed && (status = rewind_all(sh)) != CLI_OK)
            break;
        size_t sent = 0;
        if (!stopping && (status = publish_round(sh, &sent)) != CLI_OK)
            break;
        int done = drained(sh);
        if (stopping) {
            pthread_mutex_lock(&sh->mu);
            done = sh->inflight == 0 && !sh->failed;
            pthread_mutex_unlock(&sh->mu);
        }
        int64_t now = natsconn_now_ms();
        if (done || now - last_commit >= COMMIT_INTERVAL_MS) {
            status = commit_offsets(sh);
            last_commit = now;
            progress_update(&pr, shipped_count(sh));
        }
        if (status != CLI_OK || (done && (!sh->a->follow || stopping)))
            break;
        if (gave_up(sh)) {
            char down[64] = "";
            if (natsconn_gave_up(&sh->conn))
                snprintf(down, sizeof down, "disconnected ");
            progress_end(&pr);
            commit_offsets(sh);
            return cli_fail(ship_cmd.name,
                            "%sfor longer than --timeout without an acknowledgement from the cluster: giving up "
                            "(offsets committed up to the last acknowledged event; %" PRIu64 " shipped)",
                            down, shipped_count(sh));
        }
        if (sent == 0)
            wait_a_little(sh, done);
    }
    progress_end(&pr);
    return status;
}

static int print_summary(ship *sh)
{
    uint64_t shipped = shipped_count(sh);
    if (!sh->a->json) {
        char line[128];
        snprintf(line, sizeof line, "shipped %" PRIu64 " events, %" PRIu64 " duplicates dropped by the server\n",
                 shipped, sh->duplicates);
        out_puts(line);
        return 0;
    }
    json_t *parts = json_array();
    for (size_t i = 0; parts && i < sh->nparts; i++)
        json_array_append_new(parts, json_pack("{s:I, s:I}", "partition", (json_int_t)sh->parts[i].partition,
                                               "committed", (json_int_t)sh->parts[i].committed));
    return out_json_doc(json_pack("{s:s, s:s, s:I, s:I, s:o}", "stream", sh->a->stream, "js_stream",
                                  sh->a->js_stream, "shipped", (json_int_t)shipped, "duplicates",
                                  (json_int_t)sh->duplicates, "partitions", parts));
}

/* ---- the command ---- */

static int parse_ship_args(int argc, char **argv, ship_args *a)
{
    static const struct option opts[] = {
        { "js-stream", required_argument, NULL, OPT_JS_STREAM },
        { "subject-prefix", required_argument, NULL, OPT_PREFIX },
        { "consumer", required_argument, NULL, OPT_CONSUMER },
        { "partition", required_argument, NULL, OPT_PARTITION },
        { "from-time", required_argument, NULL, OPT_FROM_TIME },
        { "follow", no_argument, NULL, OPT_FOLLOW },
        { "max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT },
        { "create-js-stream", no_argument, NULL, OPT_CREATE },
        { "replicas", required_argument, NULL, OPT_REPLICAS },
        { "dupe-window", required_argument, NULL, OPT_DUPE_WINDOW },
        { "min-dupe-window", required_argument, NULL, OPT_MIN_DUPE_WINDOW },
        { "json", no_argument, NULL, OPT_JSON },
        NATSCONN_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    *a = (ship_args){ .js_stream = "siglog", .prefix = "siglog", .consumer = "ship", .max_inflight = 1024,
                      .replicas = 1, .dupe_window_ms = DEFAULT_DUPE_WINDOW_MS,
                      .min_dupe_window_ms = DEFAULT_MIN_DUPE_WINDOW_MS };
    args_begin();
    for (int ch; (ch = args_next(&ship_cmd, argc, argv, opts)) != -1;) {
        int taken = natsconn_option(&ship_cmd, ch, optarg, &a->nats);
        if (taken == CLI_USAGE)
            return CLI_USAGE;
        if (taken)
            continue;
        uint32_t p;
        switch (ch) {
        case OPT_JS_STREAM: a->js_stream = optarg; break;
        case OPT_PREFIX: a->prefix = optarg; break;
        case OPT_CONSUMER: a->consumer = optarg; break;
        case OPT_FOLLOW: a->follow = 1; break;
        case OPT_CREATE: a->create = 1; break;
        case OPT_JSON: a->json = 1; break;
        case OPT_PARTITION: {
            if (args_u32(&ship_cmd, "--partition", optarg, 0, SIGLOG_PARTITIONS_MAX - 1, &p))
                return CLI_USAGE;
            uint32_t *v = realloc(a->partitions, (a->partition_count + 1) * sizeof *v);
            if (!v)
                return cli_fail(ship_cmd.name, "out of memory");
            a->partitions = v;
            a->partitions[a->partition_count++] = p;
            break;
        }
        case OPT_FROM_TIME:
            if (timeparse_time_arg(optarg, 0, &a->from_time_us) != 0)
                return args_usage(&ship_cmd, "--from-time '%s' is not an RFC 3339 time", optarg);
            a->have_from_time = 1;
            break;
        case OPT_MAX_INFLIGHT:
            if (args_u32(&ship_cmd, "--max-inflight", optarg, 1, 65536, &a->max_inflight))
                return CLI_USAGE;
            break;
        case OPT_REPLICAS:
            if (args_u32(&ship_cmd, "--replicas", optarg, 1, 5, &a->replicas))
                return CLI_USAGE;
            break;
        case OPT_DUPE_WINDOW:
            if (natsconn_duration_ms(&ship_cmd, "--dupe-window", optarg, 1, &a->dupe_window_ms))
                return CLI_USAGE;
            break;
        case OPT_MIN_DUPE_WINDOW:
            if (natsconn_duration_ms(&ship_cmd, "--min-dupe-window", optarg, 0, &a->min_dupe_window_ms))
                return CLI_USAGE;
            break;
        default: return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
        }
    }
    char **ops;
    if (args_operands(&ship_cmd, argc, argv, 2, "STORE STREAM", &ops))
        return CLI_USAGE;
    a->store = ops[0];
    a->stream = ops[1];
    if (natsconn_check(&ship_cmd, &a->nats))
        return CLI_USAGE;
    return -1; /* go on */
}

static void ship_free(ship *sh)
{
    for (size_t i = 0; sh->parts && i < sh->nparts; i++) {
        siglog_cursor_close(sh->parts[i].cur);
        free(sh->parts[i].subject);
        free(sh->parts[i].acked);
    }
    free(sh->parts);
    free(sh->part_index);
    jsmsg_encoder_free(&sh->enc);
}

int cmd_ship(int argc, char **argv)
{
    ship_args a;
    int status = parse_ship_args(argc, argv, &a);
    if (status != -1) {
        free(a.partitions);
        return status;
    }
    ship sh = { .a = &a, .cap = a.max_inflight, .progress_ms = natsconn_now_ms() };
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cv, NULL);
    /* The signals are held before libnats starts its threads, so they
     * reach this one. */
    interrupt_install(-1);
    siglog *s = NULL;
    status = cli_open(ship_cmd.name, a.store, CLI_OPEN_CONSUMER, a.stream, &s, &sh.st);
    if (status == CLI_OK) {
        sh.store_id = siglog_store_id(s);
        status = open_parts(&sh);
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = &sh;
    jo.PublishAsync.MaxPending = a.max_inflight;
    int connected = status == CLI_OK && natsconn_open(&sh.conn, ship_cmd.name, &a.nats, &jo) == CLI_OK;
    if (status == CLI_OK && !connected)
        status = CLI_FAILURE;
    if (status == CLI_OK)
        status = check_js_stream(&sh);
    interrupt_release();
    if (status == CLI_OK)
        status = ship_loop(&sh);
    if (status == CLI_OK && print_summary(&sh) != 0 && !out_failed())
        status = cli_fail(ship_cmd.name, "out of memory");
    if (connected)
        natsconn_close(&sh.conn);
    ship_free(&sh);
    siglog_close(s);
    free(a.partitions);
    pthread_mutex_destroy(&sh.mu);
    pthread_cond_destroy(&sh.cv);
    int out = out_finish(ship_cmd.name);
    if (status == CLI_OK && interrupt_caught())
        return 128 + interrupt_caught();
    return status != CLI_OK ? status : out;
}
