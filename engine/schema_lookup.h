/*
 * schema_lookup — a definition node's names compiled once for the
 * append-time scan (schema_scan.h): its property names and its enum's
 * string values in open-addressed hash tables, and its required
 * properties as a bit mask, so that judging an object member or an enum
 * string costs one hash of the bytes as they stand in the event and
 * (almost always) one comparison, with no allocation and no jansson.
 *
 * Built by the definition parser (schema_def.c) for every node that has
 * properties or an enum, freed with it, read only afterwards: any number
 * of threads may look up at once. The tables answer exactly what the
 * sorted property array (sl_schema_node_property_n) and the enum's JSON
 * strings answer; the validate_event fuzzer checks that they agree.
 */
#ifndef SIGLOG_SCHEMA_LOOKUP_H
#define SIGLOG_SCHEMA_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct schema_node schema_node;
typedef struct schema_lookup schema_lookup;

/* n's tables into n->lookup (NULL when n has neither properties nor an
 * enum). 0, or SIGLOG_ENOMEM with the detail set. */
int sl_schema_lookup_build(schema_node *n);
void sl_schema_lookup_free(schema_lookup *l);

/* The index in n->props of the property named by text[0..len), or -1.
 * l may be NULL (no properties). */
long sl_schema_lookup_property(const schema_lookup *l, const void *text, size_t len);

/* Whether text[0..len) (a string's bytes, no escapes) is one of the
 * enum's string values. 0 when the node has no enum. */
int sl_schema_lookup_enum_string(const schema_lookup *l, const void *text, size_t len);

/* Whether seen (bit i: property i present) holds every required
 * property. 0 also when a required property's index is 64 or more: the
 * mask cannot say, the caller must not conclude it is present. */
int sl_schema_lookup_required_seen(const schema_lookup *l, uint64_t seen);

#endif
