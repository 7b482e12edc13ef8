/*
 * cmd_pull — `siglog pull`: append the messages of a JetStream stream to a
 * local stream, each exactly once, through a durable pull consumer.
 *
 * A message is acknowledged to JetStream only after its event is durable
 * here (siglog_wait_durable: the stream's sync policy decides what that
 * means), so a crash loses nothing: JetStream delivers again what was not
 * acknowledged. What a crash between the append and the acknowledgement
 * would duplicate is kept out by the message id: each stored event
 * carries the id of the message it came from in its last
 * JSMSG_ORIGIN_HEADER header, and a message whose id is among the events
 * stored since the last safe point is acknowledged and skipped.
 *
 * The safe point is the siglog consumer "pull-DURABLE" of the local
 * stream: per partition, every event below its offset came from a
 * message JetStream has seen acknowledged. At start pull reads the events
 * from there to the end into the set of ids it has stored. It moves the
 * safe point to the ends of the partitions, and empties the set, only
 * when JetStream says the durable consumer is caught up: nothing waits
 * for an acknowledgement (so no message delivered earlier, to this pull
 * or to one that crashed, can come again) and nothing is left to deliver
 * (so a consumer created again from the start of the stream, delivering
 * what was stored before, finds all of it in the set). Past STORED_IDS_MAX
 * ids the first condition alone moves it, to bound the memory: then only
 * a message JetStream holds twice (sent again after its duplicate window)
 * or a consumer started again from the beginning can store an event
 * twice, and only for what was stored before that move. One pull per
 * durable consumer: a second one keeps the safe point from moving.
 *
 * Without --follow, pull ends when everything the JetStream stream held
 * for the consumer's subjects when pull started is acknowledged: at start
 * it reads the stream sequence of the last message on those subjects
 * (`goal`), and it stops once the consumer's ack floor (every message at
 * or below it acknowledged, by this pull or an earlier one) reaches it,
 * as the consumer's info says after pull's own last acknowledgement. An
 * info that lags (a replicated consumer right after its creation or a
 * leader change) shows a lower floor, never a higher one, so it can only
 * make pull go on longer, never end short; and what is published after
 * the start cannot keep it going for ever.
 */
#include "args.h"
#include "cli.h"
#include "idset.h"
#include "interrupt.h"
#include "jsmsg.h"
#include "natsconn.h"
#include "output.h"
#include "progress.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long one fetch waits for messages. */
#define FETCH_WAIT_MS 500
/* How long a message may stay unacknowledged before JetStream delivers
 * it again; a durable consumer pull creates gets --ack-wait. */
#define DEFAULT_ACK_WAIT_MS 30000
#define FIELDS_MAX (8 + SIGLOG_HEADERS_MAX)
/* Batches appended and waiting for their commit, at most: enough to keep
 * fetching through a 100 ms interval commit at a few hundred thousand
 * events a second. */
#define PENDING_MAX 32
/* About 100 MB of ids (see the top comment). */
#define STORED_IDS_MAX 1000000

static const args_cmd pull_cmd = {
    "pull",
    "siglog pull STORE STREAM --server URL[,URL...] --js-stream NAME --durable NAME [options]",
    "Append the messages of JetStream stream NAME to STREAM through the durable\n"
    "pull consumer --durable (created when it does not exist): the partition is\n"
    "the subject's last token, key, event time, schema version, flags and headers\n"
    "come from the message headers `siglog ship` writes, and each event gets a\n"
    "header siglog.origin with the message id. A message is acknowledged only\n"
    "once its event is durable here (under the stream's sync policy); one whose\n"
    "id was stored already is acknowledged and skipped, so a crash at any moment\n"
    "stores nothing twice. STREAM must exist, with a partition for every\n"
    "partition number in the subjects.\n"
    "\n"
    "  --js-stream NAME  the JetStream stream (required)\n"
    "  --durable NAME    the durable consumer (required; no '.')\n"
    "  --subject S       the consumer's subject filter when pull creates it\n"
    "                    (default: siglog.STREAM.*)\n"
    "  --batch N         messages per fetch (default 256, 1..4096)\n"
    "  --ack-wait D      when pull creates the consumer: how long JetStream\n"
    "                    waits for an acknowledgement before delivering again\n"
    "                    (default 30s)\n"
    "  --follow          keep pulling until SIGINT or SIGTERM (then finish the\n"
    "                    batch, exit 130/143); without it, stop once every\n"
    "                    message the JetStream stream held on the consumer's\n"
    "                    subjects at the start is acknowledged\n"
    "  --json            the summary as one JSON document on stdout\n" NATSCONN_HELP
    "\n"
    "Prints \"pulled N events, M already stored\" at the end. Keeps its safe\n"
    "point in the siglog consumer pull-DURABLE of STREAM. Run one pull per\n"
    "durable consumer.\n",
};

enum { OPT_JS_STREAM = 256, OPT_DURABLE, OPT_SUBJECT, OPT_BATCH, OPT_ACK_WAIT, OPT_FOLLOW, OPT_JSON };

typedef struct pull_args {
    const char *store, *stream, *js_stream, *durable, *subject;
    uint32_t batch;
    int64_t ack_wait_ms;
    int follow, json;
    natsconn_opts nats;
} pull_args;

/* A fetched batch whose events are appended but maybe not yet durable:
 * acknowledged once, in every partition it touched, its last offset is.
 * Batches are acknowledged in the order they came. */
typedef struct pending_batch {
    natsMsgList list;
    uint32_t *parts; /* [count] partitions touched */
    uint64_t *last;  /* [count] the last offset appended to each */
    size_t count;
} pending_batch;

typedef struct pull {
    const pull_args *a;
    siglog *s;
    siglog_stream *st;
    uint32_t partitions;
    char consumer[SIGLOG_NAME_MAX + 1]; /* the safe point's siglog consumer */
    natsconn conn;
    natsSubscription *sub;
    idset stored;       /* ids of events stored past the safe point */
    uint64_t *safe;     /* [partitions]: the safe point as committed */
    uint64_t *end;      /* [partitions]: one past the last event pull appended */
    jsmsg_decoder dec;
    uint64_t appended, skipped;
    /* The stream sequence of the last message on the consumer's subjects
     * when pull started (0: none), and the highest one fetched so far. */
    uint64_t goal, fetched_top;
    /* Fetching and appending go on while earlier batches wait for their
     * commit (an interval stream commits every sync_interval_ms): a ring
     * of at most PENDING_MAX batches, head first. */
    pending_batch pending[PENDING_MAX];
    size_t head, npending;
} pull;

/* ---- the safe point ---- */

static int read_safe_point(void *ctx, const siglog_consumer_info *c)
{
    pull *p = ctx;
    if (strcmp(c->name, p->consumer) != 0)
        return 0;
    for (uint32_t i = 0; i < c->partitions && i < p->partitions; i++)
        p->safe[i] = c->next_offset[i];
    return 1;
}

/* The origin id of rec (its last origin header) into the set. */
static int remember_origin(pull *p, const siglog_record *rec)
{
    const siglog_header *origin = NULL;
    size_t name_len = strlen(JSMSG_ORIGIN_HEADER);
    for (uint32_t i = 0; i < rec->header_count; i++)
        if (rec->headers[i].key_len == name_len && memcmp(rec->headers[i].key, JSMSG_ORIGIN_HEADER, name_len) == 0)
            origin = &rec->headers[i];
    if (!origin || origin->value_len >= JSMSG_ID_MAX)
        return 0;
    char id[JSMSG_ID_MAX];
    memcpy(id, origin->value, origin->value_len);
    id[origin->value_len] = '\0';
    return idset_add(&p->stored, id);
}

/* Every event past the safe point: its origin into the set. */
static int scan_past_safe_point(pull *p)
{
    int rc = siglog_consumer_foreach(p->st, read_safe_point, p);
    if (rc < 0)
        return cli_fail_lib(pull_cmd.name, rc, "consumer %s of stream %s", p->consumer, p->a->stream);
    for (uint32_t part = 0; part < p->partitions; part++) {
        siglog_cursor *c;
        rc = siglog_cursor_open(&c, p->st, part, SIGLOG_SEEK_OFFSET, (int64_t)p->safe[part], 0);
        const siglog_record *rec;
        while (rc == 0 && (rc = siglog_cursor_next(c, &rec)) == 1)
            rc = remember_origin(p, rec) == 0 ? 0 : SIGLOG_ENOMEM;
        if (rc == 0)
            p->end[part] = siglog_cursor_position(c);
        siglog_cursor_close(c);
        if (rc < 0)
            return cli_fail_lib(pull_cmd.name, rc, "reading partition %" PRIu32 " of stream %s", part, p->a->stream);
    }
    return CLI_OK;
}

/* The durable consumer's state, as its current leader tells it. */
static natsStatus consumer_state(pull *p, jsConsumerInfo **ci)
{
    jsErrCode ec = 0;
    *ci = NULL;
    return js_GetConsumerInfo(ci, p->conn.js, p->a->js_stream, p->a->durable, NULL, &ec);
}

/* When the durable consumer ci is caught up (or the set is full and
 * nothing waits for an acknowledgement): move the safe point to the ends
 * and forget the ids. */
static int advance_safe_point(pull *p, const jsConsumerInfo *ci)
{
    int caught_up = ci->NumAckPending == 0 && ci->NumPending == 0;
    if (!caught_up && !(ci->NumAckPending == 0 && p->stored.count >= STORED_IDS_MAX))
        return CLI_OK;
    for (uint32_t part = 0; part < p->partitions; part++) {
        if (p->end[part] == p->safe[part])
            continue;
        int rc = siglog_consumer_commit(p->st, p->consumer, part, p->end[part], 0);
        if (rc)
            return cli_fail_lib(pull_cmd.name, rc, "committing consumer %s of stream %s", p->consumer, p->a->stream);
        p->safe[part] = p->end[part];
    }
    idset_clear(&p->stored);
    return CLI_OK;
}

/* The stream sequence of the last message the JetStream stream holds on
 * the durable consumer's subjects into p->goal (0 when it holds none). */
static int read_goal(pull *p)
{
    jsConsumerInfo *ci = NULL;
    natsStatus s = consumer_state(p, &ci);
    if (s != NATS_OK)
        return natsconn_fail(pull_cmd.name, s, "durable consumer %s of JetStream stream %s", p->a->durable,
                             p->a->js_stream);
    const char *filter = ci->Config && ci->Config->FilterSubject && *ci->Config->FilterSubject
                             ? ci->Config->FilterSubject
                             : ">";
    natsMsg *last = NULL;
    jsErrCode ec = 0;
    s = js_GetLastMsg(&last, p->conn.js, p->a->js_stream, filter, NULL, &ec);
    int status = CLI_OK;
    if (s == NATS_OK)
        p->goal = natsMsg_GetSequence(last);
    else if (s == NATS_NOT_FOUND || ec == JSNoMessageFoundErr)
        p->goal = 0;
    else
        status = natsconn_fail(pull_cmd.name, s, "the last message on %s in JetStream stream %s", filter,
                               p->a->js_stream);
    natsMsg_Destroy(last);
    jsConsumerInfo_Destroy(ci);
    return status;
}

/* ---- one message ---- */

/* The message's headers as fields (each value of each name). *keys and
 * the values arrays are the library's: free them with free_fields. */
static int message_fields(natsMsg *m, jsmsg_field *fields, size_t *n)
{
    const char **keys = NULL;
    int nkeys = 0;
    *n = 0;
    if (natsMsgHeader_Keys(m, &keys, &nkeys) != NATS_OK)
        return 0; /* no headers at all */
    int status = 0;
    for (int k = 0; k < nkeys && status == 0; k++) {
        const char **values = NULL;
        int nvalues = 0;
        if (natsMsgHeader_Values(m, keys[k], &values, &nvalues) != NATS_OK)
            continue;
        for (int v = 0; v < nvalues; v++) {
            if (*n == FIELDS_MAX) {
                status = -1;
                break;
            }
            fields[(*n)++] = (jsmsg_field){ keys[k], values[v] };
        }
        free((void *)values);
    }
    free((void *)keys);
    return status;
}

/* Append m unless its id is stored. The fields' strings are the
 * message's own, valid while it lives. */
/* Note that batch b put offset into partition part. */
static void batch_touch(pending_batch *b, uint32_t part, uint64_t offset)
{
    for (size_t i = 0; i < b->count; i++)
        if (b->parts[i] == part) {
            b->last[i] = offset;
            return;
        }
    b->parts[b->count] = part;
    b->last[b->count++] = offset;
}

static int store_message(pull *p, pending_batch *b, natsMsg *m)
{
    const char *id = NULL, *subject = natsMsg_GetSubject(m);
    uint32_t part;
    jsmsg_id parsed;
    if (natsMsgHeader_Get(m, JSMSG_HDR_ID, &id) != NATS_OK || jsmsg_id_parse(id, &parsed) != 0)
        return cli_fail(pull_cmd.name, "message on %s has no siglog message id (Nats-Msg-Id): not shipped by siglog",
                        subject);
    if (jsmsg_subject_partition(subject, &part) != 0 || part >= p->partitions)
        return cli_fail(pull_cmd.name, "message %s on %s: stream %s has no partition for this subject", id, subject,
                        p->a->stream);
    if (idset_has(&p->stored, id)) {
        p->skipped++;
        return CLI_OK;
    }
    jsmsg_field fields[FIELDS_MAX];
    size_t n;
    if (message_fields(m, fields, &n) != 0 ||
        jsmsg_decode(&p->dec, fields, n, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m)) != 0)
        return cli_fail(pull_cmd.name, "message %s on %s: %s", id, subject,
                        n == FIELDS_MAX ? "too many headers" : p->dec.error);
    siglog_event *ev = &p->dec.ev;
    if (ev->header_count == SIGLOG_HEADERS_MAX)
        return cli_fail(pull_cmd.name, "message %s: its event has %d headers, no room for %s", id,
                        SIGLOG_HEADERS_MAX, JSMSG_ORIGIN_HEADER);
    p->dec.headers[ev->header_count++] = (siglog_header){ JSMSG_ORIGIN_HEADER, (uint32_t)strlen(JSMSG_ORIGIN_HEADER),
                                                          id, (uint32_t)strlen(id) };
    ev->headers = p->dec.headers;
    uint64_t offset;
    int rc = siglog_append(p->st, part, ev, 1, NULL, &offset);
    if (rc)
        return cli_fail_lib(pull_cmd.name, rc, "appending message %s to partition %" PRIu32 " of stream %s", id, part,
                            p->a->stream);
    if (idset_add(&p->stored, id) != 0)
        return cli_fail(pull_cmd.name, "out of memory");
    p->end[part] = offset + 1;
    p->appended++;
    batch_touch(b, part, offset);
    return CLI_OK;
}

/* Whether every event of b is durable; with wait, once it is. */
static int batch_durable(pull *p, const pending_batch *b, int wait, int *durable)
{
    *durable = 1;
    for (size_t i = 0; i < b->count && *durable; i++) {
        uint64_t next = 0;
        int rc = wait ? siglog_wait_durable(p->st, b->parts[i], b->last[i], -1)
                      : siglog_durable_offset(p->st, b->parts[i], &next);
        if (rc)
            return cli_fail_lib(pull_cmd.name, rc, "waiting for partition %" PRIu32 " to be durable", b->parts[i]);
        *durable = wait || next > b->last[i];
    }
    return CLI_OK;
}

/* Acknowledge the batch; the last one synchronously, so when it returns
 * the server has them all (they travel in order on one connection). A
 * failed acknowledgement is only news: the message comes again, is found
 * stored, and is acknowledged then. */
static void ack_batch(natsMsgList *list)
{
    natsStatus s = NATS_OK;
    for (int i = 0; i + 1 < list->Count && s == NATS_OK; i++)
        s = natsMsg_Ack(list->Msgs[i], NULL);
    if (s == NATS_OK && list->Count > 0)
        s = natsMsg_AckSync(list->Msgs[list->Count - 1], NULL, NULL);
    if (s != NATS_OK)
        cli_note(pull_cmd.name, "acknowledgement failed (%s): those messages will come again and be skipped",
                 natsStatus_GetText(s));
}

/* Acknowledge the batches at the head that are durable: all of them
 * (waiting) when all, else the head one waiting when the ring is full,
 * then whatever is durable already. */
static int ack_durable(pull *p, int all)
{
    while (p->npending > 0) {
        pending_batch *b = &p->pending[p->head];
        int durable, wait = all || p->npending == PENDING_MAX;
        int status = batch_durable(p, b, wait, &durable);
        if (status != CLI_OK || !durable)
            return status;
        ack_batch(&b->list);
        natsMsgList_Destroy(&b->list);
        b->count = 0;
        p->head = (p->head + 1) % PENDING_MAX;
        p->npending--;
    }
    return CLI_OK;
}

/* The stream sequence of the batch's last message, when higher than any
 * fetched before, into p->fetched_top. It only says when to look whether
 * pull is done (a redelivery may come out of order); the ack floor
 * decides. */
static void note_fetched(pull *p, const natsMsgList *list)
{
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, list->Msgs[list->Count - 1]) != NATS_OK)
        return;
    if (meta->Sequence.Stream > p->fetched_top)
        p->fetched_top = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
}

static int pull_loop(pull *p)
{
    progress pr;
    progress_start(&pr, "pulled", 0);
    int status = CLI_OK;
    int64_t last_contact = natsconn_now_ms();
    while (status == CLI_OK && !interrupt_caught()) {
        pending_batch *b = &p->pending[(p->head + p->npending) % PENDING_MAX];
        jsErrCode ec = 0;
        /* Not long while batches wait to be acknowledged. */
        natsStatus s = natsSubscription_Fetch(&b->list, p->sub, (int)p->a->batch,
                                              p->npending ? FETCH_WAIT_MS / 10 : FETCH_WAIT_MS, &ec);
        if (s == NATS_OK || s == NATS_TIMEOUT)
            last_contact = natsconn_now_ms();
        for (int i = 0; s == NATS_OK && status == CLI_OK && i < b->list.Count; i++)
            status = store_message(p, b, b->list.Msgs[i]);
        if (status != CLI_OK) {
            natsMsgList_Destroy(&b->list);
            break;
        }
        int got = s == NATS_OK && b->list.Count > 0;
        if (got) {
            note_fetched(p, &b->list);
            p->npending++;
        } else {
            natsMsgList_Destroy(&b->list);
        }
        /* When nothing came, or pull has fetched as far as its goal,
         * everything appended is acknowledged (the last synchronously)
         * before asking JetStream for the consumer's state. */
        int settle = !got || (!p->a->follow && p->fetched_top >= p->goal);
        status = ack_durable(p, settle);
        progress_update(&pr, p->appended + p->skipped);
        if (status != CLI_OK || !settle)
            continue;
        if (s != NATS_OK && s != NATS_TIMEOUT) {
            if (p->a->nats.timeout_ms && natsconn_now_ms() - last_contact >= p->a->nats.timeout_ms) {
                status = natsconn_fail(pull_cmd.name, s, "fetching from %s for longer than --timeout: giving up",
                                       p->a->js_stream);
                break;
            }
            nats_Sleep(100);
            continue;
        }
        jsConsumerInfo *ci;
        if (consumer_state(p, &ci) != NATS_OK)
            continue; /* cannot tell now: ask after the next fetch */
        status = advance_safe_point(p, ci);
        int done = !p->a->follow && ci->AckFloor.Stream >= p->goal;
        jsConsumerInfo_Destroy(ci);
        if (done)
            break;
    }
    if (status == CLI_OK)
        status = ack_durable(p, 1); /* after a signal: what was appended */
    progress_end(&pr);
    return status;
}

static int subscribe(pull *p)
{
    char subject[SIGLOG_NAME_MAX + 16];
    if (!p->a->subject)
        snprintf(subject, sizeof subject, "siglog.%s.*", p->a->stream);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = p->a->js_stream;
    /* An existing durable consumer is used as it is (its subject and
     * acknowledgement settings were chosen when it was created). */
    jsConsumerInfo *ci = NULL;
    jsErrCode ec = 0;
    if (js_GetConsumerInfo(&ci, p->conn.js, p->a->js_stream, p->a->durable, NULL, &ec) == NATS_OK) {
        so.Consumer = p->a->durable;
    } else {
        so.Config.AckPolicy = js_AckExplicit;
        so.Config.AckWait = p->a->ack_wait_ms * 1000000;
        so.Config.MaxAckPending = (int64_t)p->a->batch * (PENDING_MAX + 2);
    }
    jsConsumerInfo_Destroy(ci);
    natsStatus s = js_PullSubscribe(&p->sub, p->conn.js, p->a->subject ? p->a->subject : subject, p->a->durable,
                                    NULL, &so, &ec);
    if (s != NATS_OK)
        return natsconn_fail(pull_cmd.name, s, "durable consumer %s of JetStream stream %s", p->a->durable,
                             p->a->js_stream);
    return CLI_OK;
}

static int print_summary(pull *p)
{
    if (p->a->json)
        return out_json_doc(json_pack("{s:s, s:s, s:s, s:I, s:I}", "stream", p->a->stream, "js_stream",
                                      p->a->js_stream, "durable", p->a->durable, "pulled",
                                      (json_int_t)p->appended, "already_stored", (json_int_t)p->skipped));
    char line[128];
    snprintf(line, sizeof line, "pulled %" PRIu64 " events, %" PRIu64 " already stored\n", p->appended,
             p->skipped);
    return out_puts(line);
}

/* ---- the command ---- */

static int parse_pull_args(int argc, char **argv, pull_args *a)
{
    static const struct option opts[] = {
        { "js-stream", required_argument, NULL, OPT_JS_STREAM },
        { "durable", required_argument, NULL, OPT_DURABLE },
        { "subject", required_argument, NULL, OPT_SUBJECT },
        { "batch", required_argument, NULL, OPT_BATCH },
        { "ack-wait", required_argument, NULL, OPT_ACK_WAIT },
        { "follow", no_argument, NULL, OPT_FOLLOW },
        { "json", no_argument, NULL, OPT_JSON },
        NATSCONN_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    *a = (pull_args){ .batch = 256, .ack_wait_ms = DEFAULT_ACK_WAIT_MS };
    args_begin();
    for (int ch; (ch = args_next(&pull_cmd, argc, argv, opts)) != -1;) {
        int taken = natsconn_option(&pull_cmd, ch, optarg, &a->nats);
        if (taken == CLI_USAGE)
            return CLI_USAGE;
        if (taken)
            continue;
        switch (ch) {
        case OPT_JS_STREAM: a->js_stream = optarg; break;
        case OPT_DURABLE: a->durable = optarg; break;
        case OPT_SUBJECT: a->subject = optarg; break;
        case OPT_FOLLOW: a->follow = 1; break;
        case OPT_JSON: a->json = 1; break;
        case OPT_BATCH:
            if (args_u32(&pull_cmd, "--batch", optarg, 1, 4096, &a->batch))
                return CLI_USAGE;
            break;
        case OPT_ACK_WAIT:
            if (natsconn_duration_ms(&pull_cmd, "--ack-wait", optarg, 1000, &a->ack_wait_ms))
                return CLI_USAGE;
            break;
        default: return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
        }
    }
    char **ops;
    if (args_operands(&pull_cmd, argc, argv, 2, "STORE STREAM", &ops))
        return CLI_USAGE;
    a->store = ops[0];
    a->stream = ops[1];
    if (!a->js_stream || !a->durable)
        return args_usage(&pull_cmd, "--js-stream and --durable are required");
    if (strchr(a->durable, '.'))
        return args_usage(&pull_cmd, "--durable '%s' has a '.'", a->durable);
    if (natsconn_check(&pull_cmd, &a->nats))
        return CLI_USAGE;
    return -1; /* go on */
}

static int pull_open(pull *p)
{
    int status = cli_open(pull_cmd.name, p->a->store, 0, p->a->stream, &p->s, &p->st);
    if (status != CLI_OK)
        return status;
    siglog_stream_config cfg;
    siglog_stream_config_get(p->st, &cfg);
    p->partitions = cfg.partitions;
    p->safe = calloc(cfg.partitions, sizeof *p->safe);
    p->end = calloc(cfg.partitions, sizeof *p->end);
    if (!p->safe || !p->end)
        return cli_fail(pull_cmd.name, "out of memory");
    for (size_t i = 0; i < PENDING_MAX; i++) {
        p->pending[i].parts = malloc(p->a->batch * sizeof *p->pending[i].parts);
        p->pending[i].last = malloc(p->a->batch * sizeof *p->pending[i].last);
        if (!p->pending[i].parts || !p->pending[i].last)
            return cli_fail(pull_cmd.name, "out of memory");
    }
    if ((size_t)snprintf(p->consumer, sizeof p->consumer, "pull-%s", p->a->durable) >= sizeof p->consumer)
        return cli_fail(pull_cmd.name, "--durable '%s' is too long", p->a->durable);
    return scan_past_safe_point(p);
}

int cmd_pull(int argc, char **argv)
{
    pull_args a;
    int status = parse_pull_args(argc, argv, &a);
    if (status != -1)
        return status;
    pull p = { .a = &a };
    /* The signals are held before any thread starts, so they reach this
     * one. */
    interrupt_install(-1);
    status = pull_open(&p);
    int connected = status == CLI_OK && natsconn_open(&p.conn, pull_cmd.name, &a.nats, NULL) == CLI_OK;
    if (status == CLI_OK && !connected)
        status = CLI_FAILURE;
    if (status == CLI_OK)
        status = subscribe(&p);
    if (status == CLI_OK)
        status = read_goal(&p);
    interrupt_release();
    if (status == CLI_OK)
        status = pull_loop(&p);
    if (status == CLI_OK && print_summary(&p) != 0 && !out_failed())
        status = cli_fail(pull_cmd.name, "out of memory");
    for (size_t i = 0; i < p.npending; i++) /* unacknowledged: they come again */
        natsMsgList_Destroy(&p.pending[(p.head + i) % PENDING_MAX].list);
    natsSubscription_Destroy(p.sub);
    if (connected)
        natsconn_close(&p.conn);
    int rc = siglog_close(p.s);
    if (rc && status == CLI_OK)
        status = cli_fail_lib(pull_cmd.name, rc, "closing the store");
    for (size_t i = 0; i < PENDING_MAX; i++) {
        free(p.pending[i].parts);
        free(p.pending[i].last);
    }
    idset_free(&p.stored);
    jsmsg_decoder_free(&p.dec);
    free(p.safe);
    free(p.end);
    int out = out_finish(pull_cmd.name);
    if (status == CLI_OK && interrupt_caught())
        return 128 + interrupt_caught();
    return status != CLI_OK ? status : out;
}
