/*
 * corpus_contracts.h — the schema versions bench_contract registers for
 * the shared corpus's events, one per kind of event (corpus_contracts.c).
 */
#ifndef CORPUS_CONTRACTS_H
#define CORPUS_CONTRACTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_contract {
    uint32_t version;
    const char *name;
    const char *first_member; /* how the lines of its kind begin */
    const char *definition;
} bench_contract;

/* The contracts, versions 1.. ascending; *n their number. */
const bench_contract *corpus_contracts(size_t *n);
/* The version of a corpus event by its first member; 0 when no contract
 * is for it. */
uint32_t corpus_contract_version(const char *value, size_t len);

#endif
