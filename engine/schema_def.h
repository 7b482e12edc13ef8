/*
 * schema_def — a stream's schema definition: the subset of JSON Schema
 * siglog understands, parsed into a tree, with its canonical form and
 * fingerprint (format-spec/FORMAT.md, "Schema definitions").
 *
 * The subset, and nothing else (anything outside it is refused at parse
 * time, the detail naming the keyword and its JSON path in the definition,
 * e.g. `unknown keyword "format" at $.properties.user`):
 *
 *   type                  "string" | "integer" | "number" | "boolean" |
 *                         "object" | "array" | "null", or a non-empty list
 *                         of them without repeats; absent: any type.
 *                         "number" admits integers, as in JSON Schema.
 *   properties            an object: property name -> definition
 *   required              a list of distinct property names
 *   additionalProperties  true, false or a definition; absent means true
 *   items                 the definition of every element of an array
 *   enum                  a non-empty list of distinct JSON values
 *   x-sensitivity         "public" | "internal" | "personal" | "secret";
 *                         absent means public
 *
 * The root must say "type": "object" (an event's value is a JSON object).
 * A property named in `required` but not in `properties` is a required
 * property of any type. Limits: SCHEMA_DEF_BYTES_MAX bytes of text,
 * SCHEMA_DEPTH_MAX levels of nesting, SCHEMA_NODES_MAX definitions in all,
 * SCHEMA_LIST_MAX entries in an enum or a required list.
 *
 * Canonical form: the definition as jansson 2.14 writes it with
 * JSON_COMPACT | JSON_SORT_KEYS (no whitespace, object keys in byte order,
 * strings in UTF-8 escaping only what JSON requires). Two texts that differ
 * only in spacing or key order have the same canonical form, and the
 * fingerprint is XXH3-64 (seed 0) of the canonical bytes.
 *
 * A parsed definition is immutable: any number of threads may read it.
 */
#ifndef SIGLOG_SCHEMA_DEF_H
#define SIGLOG_SCHEMA_DEF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SCHEMA_DEF_BYTES_MAX (256u * 1024u)
#define SCHEMA_DEPTH_MAX 32
#define SCHEMA_NODES_MAX 4096
#define SCHEMA_LIST_MAX 1024 /* values of an enum, names in a required */

/* The types a definition admits, as bits. */
enum schema_type {
    SCHEMA_STRING = 1u << 0,
    SCHEMA_INTEGER = 1u << 1,
    SCHEMA_NUMBER = 1u << 2, /* admits integers too */
    SCHEMA_BOOLEAN = 1u << 3,
    SCHEMA_OBJECT = 1u << 4,
    SCHEMA_ARRAY = 1u << 5,
    SCHEMA_NULL = 1u << 6,
    SCHEMA_ANY = (1u << 7) - 1,
};

/* x-sensitivity, in increasing order of care. */
enum schema_sensitivity {
    SCHEMA_PUBLIC = 0,
    SCHEMA_INTERNAL = 1,
    SCHEMA_PERSONAL = 2,
    SCHEMA_SECRET = 3,
};

enum schema_additional {
    SCHEMA_ADDITIONAL_OPEN = 0,   /* absent or true: any other property */
    SCHEMA_ADDITIONAL_CLOSED = 1, /* false: no other property */
    SCHEMA_ADDITIONAL_SCHEMA = 2, /* others must match `additional` */
};

typedef struct schema_node schema_node;
typedef struct schema_lookup schema_lookup;

typedef struct schema_property {
    char *name;          /* NUL-terminated UTF-8 (jansson refuses NUL in keys here) */
    schema_node *node;
    int required;
} schema_property;

struct schema_node {
    unsigned types;             /* enum schema_type bits */
    int sensitivity;            /* enum schema_sensitivity */
    schema_property *props;     /* sorted by name, bytewise */
    size_t prop_count;
    int additional;             /* enum schema_additional */
    schema_node *additional_node; /* SCHEMA_ADDITIONAL_SCHEMA only */
    schema_node *items;         /* NULL: any elements */
    json_t *enum_values;        /* a JSON array, or NULL: no enum */
    schema_lookup *lookup;      /* props and enum strings hashed (schema_lookup.h), or NULL */
};

typedef struct schema_def {
    schema_node *root;
    char *canonical;            /* NUL-terminated */
    size_t canonical_len;
    uint64_t fingerprint;       /* XXH3-64 of canonical */
    int max_sensitivity;        /* the highest x-sensitivity anywhere */
} schema_def;

/* Parse a definition from untrusted text. SIGLOG_EINVAL with the detail
 * naming the keyword and its path (or jansson's line and column for text
 * that is not JSON), SIGLOG_ENOMEM. On success *out is owned by the caller
 * (sl_schema_def_free). */
int sl_schema_def_parse(schema_def **out, const void *text, size_t len);
void sl_schema_def_free(schema_def *d);

/* The property called name in n's properties, or NULL (binary search). */
const schema_property *sl_schema_node_property(const schema_node *n, const char *name);
/* The same for a name of len bytes, not terminated. */
const schema_property *sl_schema_node_property_n(const schema_node *n, const char *name, size_t len);

/* "string", "integer|null", "any", ...: into buf (always terminated). */
void sl_schema_types_describe(unsigned types, char *buf, size_t size);

const char *sl_schema_sensitivity_name(int s);
/* -1 for an unknown name. */
int sl_schema_sensitivity_parse(const char *name);

/* A JSON path being built while walking a definition or a value:
 * "$", "$.user.id", "$.tags[3]", "$[\"odd key\"]". Longer paths are cut
 * and end in "..." (the limit keeps messages bounded, never the walk). */
#define SCHEMA_PATH_MAX 512

typedef struct schema_path {
    char text[SCHEMA_PATH_MAX];
    size_t len;
} schema_path;

void sl_schema_path_root(schema_path *p);
/* Each push returns the length to give sl_schema_path_pop to undo it. */
size_t sl_schema_path_push_key(schema_path *p, const char *key);
size_t sl_schema_path_push_index(schema_path *p, size_t index);
/* "[*]": any element of an array (compatibility reasons). */
size_t sl_schema_path_push_items(schema_path *p);
void sl_schema_path_pop(schema_path *p, size_t len);

#endif
