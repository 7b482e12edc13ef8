/*
 * headers — event headers (provenance tags: service, model, tenant,
 * consent) in the tool: the NAME=VALUE arguments of append and replay
 * --header, replay's filter on them, and their form in the jsonl envelope
 * (FORMAT.md §20).
 */
#ifndef SIGLOG_TOOL_HEADERS_H
#define SIGLOG_TOOL_HEADERS_H

#include <siglog.h>

#include <stddef.h>

typedef struct header_arg {
    const char *name; /* into the argument: name_len bytes, no '=' */
    size_t name_len;
    const char *value; /* the rest after '=' (a field path when is_field) */
    int is_field;
} header_arg;

/* Split "NAME=VALUE" (NAME not empty; VALUE may be). With fields (append),
 * "NAME=@PATH" names a field of each line (is_field), and "NAME=@@..."
 * is the constant "@...". -1 when arg has no '=' or an empty name. */
int header_arg_parse(const char *arg, int fields, header_arg *out);

/* Whether r carries every header of want[0..n): a header of that name
 * with exactly that value (a name may repeat in a record: any of its
 * values matches). */
int headers_match(const siglog_record *r, const header_arg *want, size_t n);

/* ,"headers":[[NAME,VALUE],...] in stored order when r has headers,
 * nothing when it has none (FORMAT.md §20). */
void headers_write_json(const siglog_record *r);

#endif
