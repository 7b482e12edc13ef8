/*
 * bench_contract — what a schema contract costs an append: click and
 * agent-decision events (gen.c: event id, time, tenant, user, session,
 * action, model, latency, outcome, a nested consent object, free text)
 * appended through the library (1000 a call, sync none), with the
 * stream's contract off or enforce. Under enforce every event is checked
 * against version 1, the contract a team would write for them: every
 * field required and typed, tenant, action and outcome enumerated,
 * consent a closed object of two required booleans, no other field
 * allowed, user and ctx marked personal and session internal. Every
 * generated event conforms, so the figure is the cost of the check, not
 * of refusals (one event refused would fail the run).
 *
 *   --events=N            events appended (default 200000; the pool of
 *                         gen.c, up to 100k distinct, cycled)
 *   --contract=off|enforce
 *   --dir=DIR             scratch store (removed before and after)
 *
 * With --data=corpus (--corpus=DIR, default ../shared/corpus) the events
 * are the shared corpus's lines instead (cycled), each of the version
 * registered for its kind with the contract a team would write for it
 * (corpus_contracts.c: five versions, from three closed fields to nested
 * 10 KB webhooks with open content).
 *
 * Prints mb_per_s of values appended and events_per_s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "corpus_contracts.h"

#define PER_CALL 1000

/* Version 1 of the events' contract (the JSON Schema subset of FORMAT.md). */
static const char CONTRACT[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"event_id\",\"ts\",\"tenant\",\"user\",\"session\",\"action\",\"model\",\"latency_ms\","
    "\"outcome\",\"consent\",\"ctx\"],"
    "\"properties\":{"
    "\"event_id\":{\"type\":\"string\"},"
    "\"ts\":{\"type\":\"integer\"},"
    "\"tenant\":{\"type\":\"string\",\"enum\":[\"acme\",\"globex\",\"initech\",\"umbrella\",\"hooli\","
    "\"vandelay\",\"stark\",\"wayne\"]},"
    "\"user\":{\"type\":\"string\",\"x-sensitivity\":\"personal\"},"
    "\"session\":{\"type\":\"string\",\"x-sensitivity\":\"internal\"},"
    "\"action\":{\"type\":\"string\",\"enum\":[\"impression\",\"click\",\"thumbs_up\",\"thumbs_down\","
    "\"copy\",\"regenerate\",\"dismiss\",\"purchase\",\"tool_call\",\"escalate\"]},"
    "\"model\":{\"type\":\"string\"},"
    "\"latency_ms\":{\"type\":\"integer\"},"
    "\"outcome\":{\"type\":\"string\",\"enum\":[\"accepted\",\"rejected\",\"ignored\",\"error\","
    "\"timeout\"]},"
    "\"consent\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"analytics\",\"training\"],"
    "\"properties\":{\"analytics\":{\"type\":\"boolean\"},\"training\":{\"type\":\"boolean\"}}},"
    "\"ctx\":{\"type\":\"string\",\"x-sensitivity\":\"personal\"}}}";

int main(int argc, char **argv)
{
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 200000);
    const char *mode = bench_opt(argc, argv, "contract", "off");
    const char *dir = bench_opt(argc, argv, "dir", "bench-contract");
    int enforce = strcmp(mode, "enforce") == 0;
    if (!enforce && strcmp(mode, "off") != 0)
        bench_die("--contract takes off or enforce");
    int corpus = strcmp(bench_opt(argc, argv, "data", "gen"), "corpus") == 0;
    bench_pool pool;
    pool_from_options(&pool, argc, argv, events);
    siglog_event *evs = malloc(events * sizeof *evs);
    if (!evs)
        bench_die("out of memory");
    for (uint64_t i = 0; i < events; i++) {
        pool_event(&pool, i, &evs[i]);
        evs[i].schema_version = corpus ? corpus_contract_version(evs[i].value, evs[i].value_len) : 1;
        if (!evs[i].schema_version)
            bench_die("no contract for the corpus event %.40s", (const char *)evs[i].value);
    }

    bench_rm_rf(dir);
    siglog *s = bench_store_create(dir, "s0", 1, 1, SIGLOG_SYNC_NONE, 0);
    siglog_stream *st;
    bench_check(siglog_stream_get(s, "s0", &st), "stream get");
    if (corpus) {
        size_t n;
        const bench_contract *cs = corpus_contracts(&n);
        for (size_t i = 0; i < n; i++)
            bench_check(siglog_schema_add(st, cs[i].version, cs[i].name, cs[i].definition, strlen(cs[i].definition),
                                          SIGLOG_COMPAT_NONE, NULL, NULL),
                        cs[i].name);
    } else {
        bench_check(siglog_schema_add(st, 1, "feedback event", CONTRACT, strlen(CONTRACT), SIGLOG_COMPAT_NONE, NULL,
                                      NULL),
                    "schema add");
    }
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    c.contract = enforce ? SIGLOG_CONTRACT_ENFORCE : SIGLOG_CONTRACT_OFF;
    bench_check(siglog_stream_config_set(s, "s0", &c), "stream config set");

    uint64_t bytes = 0;
    bench_span span;
    bench_span_start(&span);
    for (uint64_t i = 0; i < events; i += PER_CALL) {
        size_t k = events - i < PER_CALL ? (size_t)(events - i) : PER_CALL;
        bench_check(siglog_append(st, 0, evs + i, k, NULL, NULL), "append");
    }
    bench_check(siglog_flush(s), "flush");
    bench_span_stop(&span);
    for (uint64_t i = 0; i < events; i++)
        bytes += evs[i].value_len;
    bench_print_rates("", &span, events, bytes);
    bench_check(siglog_close(s), "close");
    bench_rm_rf(dir);
    free(evs);
    pool_free(&pool);
    return 0;
}
