/*
 * crash_event — the events the crash suites write, and how a record read
 * back is proven to be exactly one of them.
 *
 * Every event is a pure function of (stream, id): id = (run, thread, seq)
 * names one append of one writer thread of one writer process (run), so a
 * checker needs no copy of what was written: it parses the id out of the
 * value, regenerates the whole event and compares key, value, timestamp,
 * schema version, flags and headers byte for byte. A record that does not
 * regenerate is garbage, whether or not it was acknowledged.
 *
 * The ack/seen logs the processes exchange are text, one event a line:
 *   A stream partition offset run thread seq   acknowledged by a writer
 *   S stream partition offset run thread seq   seen by a reader
 *   O run open_us                               writer `run` finished open
 *   R pid                                       reader `pid` is tailing
 */
#ifndef CRASH_EVENT_H
#define CRASH_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "siglog.h"

#define CRASH_STREAMS 2
#define CRASH_PARTITIONS 3

extern const char *const crash_stream_names[CRASH_STREAMS];

typedef struct crash_id {
    uint32_t run;
    uint32_t thread;
    uint64_t seq;
} crash_id;

typedef struct crash_event {
    siglog_event ev;
    siglog_header hdr;
    char key[24];
    char value[768];
} crash_event;

/* Build the event of `stream` (index into crash_stream_names) for id. */
void crash_event_make(crash_event *e, unsigned stream, crash_id id);

/* 0 and *id when r is exactly an event of `stream`; -1 with a reason in
 * why otherwise. */
int crash_event_check(const siglog_record *r, unsigned stream, crash_id *id, char *why, size_t why_len);

/* One log line (A/S kinds above) into buf; returns its length. */
int crash_line_format(char *buf, size_t len, char kind, unsigned stream, uint32_t partition, uint64_t offset,
                      crash_id id);

/* Write all of buf to fd (retrying short writes); 0 or -1. */
int crash_write_all(int fd, const char *buf, size_t len);
/* Create every crash stream with config c, then close the store: 0, or 1
 * with the reason on stderr. */
int crash_streams_create_and_close(siglog *s, const siglog_stream_config *c);

#endif
