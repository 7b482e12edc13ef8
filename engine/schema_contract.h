/*
 * schema_contract — what an append checks against its stream's schema
 * versions under the stream's `contract` setting (siglog.h, enum
 * siglog_contract), and how a record written to the log is accounted in
 * its partition's schema usage (schema_usage.h).
 *
 * An append call is checked whole before anything of it is written:
 * under warn and enforce every event must carry a registered version
 * (SIGLOG_ESCHEMA otherwise); under enforce every event must conform
 * (SIGLOG_ESCHEMA naming the event, its version, and the first paths and
 * reasons). Under warn the events are judged once, when they reach the
 * segment (sl_schema_usage_account), so that a nonconforming count
 * describes the log: a refused or failed call, or events a crash took
 * before they were written, count nothing.
 */
#ifndef SIGLOG_SCHEMA_CONTRACT_H
#define SIGLOG_SCHEMA_CONTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "schema_registry.h"
#include "schema_usage.h"
#include "siglog.h"

#define SCHEMA_EVENT_VIOLATIONS_MAX 16 /* per event, under warn */

/* Check events[0..n) of one append to stream `stream` under contract.
 * 0, or SIGLOG_ESCHEMA / SIGLOG_ECORRUPT (a damaged registry) /
 * SIGLOG_ENOMEM with the detail set. */
int sl_schema_contract_check(schema_registry *r, int contract, const char *stream, const siglog_event *events,
                             size_t n);

/* Account record rec in u; under warn (and r not NULL), judge its value
 * against its version (an unregistered version, or a damaged registry,
 * is not judged) and count it nonconforming with the paths it breaks.
 * 0 or SIGLOG_ENOMEM. */
int sl_schema_usage_account(schema_usage *u, schema_registry *r, int contract, const siglog_record *rec);

#endif
