/*
 * replay — the reading half of `siglog replay`: the options that shape a
 * replay and the run itself, shared by the replay command and by what
 * re-runs a replay from its manifest (`replay --from-manifest`,
 * `manifest verify`).
 */
#ifndef SIGLOG_TOOLS_REPLAY_H
#define SIGLOG_TOOLS_REPLAY_H

#include "headers.h"
#include "manifest.h"

#include <jansson.h>
#include <siglog.h>
#include <stddef.h>
#include <stdint.h>

enum replay_format { FORMAT_JSONL, FORMAT_VALUE, FORMAT_BINARY };
enum replay_order { ORDER_PARTITION, ORDER_MERGE, ORDER_EVENT_TIME };

typedef struct replay_opts {
    const char *store;
    const char **streams; /* read as one; their order is the manifest's */
    size_t nstreams;
    uint32_t *parts; /* requested partitions of every stream; NULL: all */
    size_t nparts;
    /* When not NULL (a replay from a manifest): exactly these partitions,
     * each read from its start_offset and only below its end_offset,
     * instead of streams x parts. */
    const manifest_end *reads;
    size_t nreads;
    uint64_t from_offset, to_offset;
    const char *from_time_arg, *to_time_arg; /* read once --time-unit is known */
    int64_t time_unit_us;                     /* 0: none given */
    int64_t from_time, to_time;
    int have_from_offset, have_to_offset, have_from_time, have_to_time;
    const char *key;
    int have_key;
    uint32_t schema_version;
    int have_schema;
    header_arg headers[SIGLOG_HEADERS_MAX]; /* --header filters */
    size_t nheaders;
    int order;             /* enum replay_order */
    uint64_t sort_memory;  /* 0: the library's default */
    const char *spill_dir; /* NULL: the library's default */
    /* --max-lateness: event-time order as events arrive (siglog_reorder),
     * order being ORDER_EVENT_TIME; no manifest can name such a replay. */
    int64_t max_lateness_us;
    int have_lateness;
    const char *manifest;  /* --manifest FILE; NULL: none */
    const char *consumer;  /* --consumer NAME (one stream only); NULL: none */
    int follow, allow_gaps;
    uint64_t limit;
    int have_limit;
    int format; /* enum replay_format */
    /* --redact: each event's fields at or above this sensitivity (enum
     * siglog_sensitivity) redacted per its own schema version, by
     * siglog_redact in redact_mode (enum siglog_redact_mode), before it
     * is written or counted in a manifest. 0 (public): no redaction. */
    int redact;
    int redact_mode;
} replay_opts;

/* Run the replay o over st[i], the open handle of o->streams[i]: write
 * the events to standard output in o->format and finish it (out_finish),
 * or, when quiet, write nothing. delivered (when not NULL, begun by the
 * caller) accounts for each event delivered and, at a clean end, where
 * each partition's reading ended. With o->consumer, each partition starts
 * at the consumer's committed offset and, after a clean end whose output
 * all reached standard output, is committed one past the last event read
 * there. `who` names the command in error messages. Returns a CLI status,
 * the failure reported (and what was read before it written out whole). */
int replay_execute(const char *who, siglog_stream *const *st, const replay_opts *o, manifest *delivered, int quiet);

/* `siglog replay ARCHIVE`: the archive file's events, checked whole
 * first, through o's offset, time, key, schema-version and header
 * filters, --limit and format, the envelope naming the archive's stream
 * and partition (o->streams is set to it for the run). Returns a CLI
 * status, the failure reported. */
int replay_archive(const char *who, const char *path, replay_opts *o);

/* Every filter and option that shapes what a replay delivers, as the
 * manifest records them (FORMAT.md §22). */
json_t *replay_options_json(const replay_opts *o);

#endif
