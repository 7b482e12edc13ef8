/*
 * jsonload — jansson's parser for numbers of any size; see jsonload.h.
 */
#include "jsonload.h"

#include <stdlib.h>
#include <string.h>

#define JSONLOAD_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

static int is_number_char(char c)
{
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

/* Where the number token ending at s[end] begins. jansson reports an
 * overflowing number right after lexing it, and only after every token
 * before it was valid, so the run of number characters before end holds
 * the token and at most the tail of the token before: the "e" of true or
 * false, or a number that the token's '-' ended (a digit would have
 * extended it). A '-' after a digit or at the start of the run begins the
 * token; after 'e' or 'E' it is an exponent's sign. */
static size_t number_start(const char *s, size_t end)
{
    size_t b = end;
    while (b > 0 && is_number_char(s[b - 1]))
        b--;
    while (b < end && s[b] != '-' && !(s[b] >= '0' && s[b] <= '9'))
        b++;
    size_t start = b;
    for (size_t i = b + 1; i < end; i++)
        if (s[i] == '-' && s[i - 1] != 'e' && s[i - 1] != 'E')
            start = i;
    return start;
}

json_t *jsonload(const char *text, size_t len, char digit, size_t *replaced, json_error_t *err)
{
    *replaced = 0;
    json_t *root = json_loadb(text, len, JSONLOAD_FLAGS, err);
    if (root || json_error_code(err) != json_error_numeric_overflow)
        return root;

    json_error_t first = *err;
    char *copy = malloc(len ? len : 1);
    if (!copy) {
        *replaced = JSONLOAD_NOMEM;
        return NULL;
    }
    memcpy(copy, text, len);
    size_t done = 0; /* every number before this was replaced */
    for (;;) {
        if ((*replaced + 1) * (len ? len : 1) > JSONLOAD_WORK_MAX) {
            free(copy);
            *replaced = JSONLOAD_TOO_MANY;
            return NULL;
        }
        size_t end = (size_t)err->position;
        size_t start = end <= len ? number_start(copy, end) : end;
        if (end <= done || end - start < 3)
            break; /* not the token this reasoning expects: keep jansson's word */
        /* Spaces on both sides keep the digit from joining a neighbour
         * ("5-1e400" or "1e400.5" stay invalid). Overflowing numbers have
         * at least five characters. */
        memset(copy + start, ' ', end - start);
        copy[start + 1] = digit;
        (*replaced)++;
        done = end;
        root = json_loadb(copy, len, JSONLOAD_FLAGS, err);
        if (root) {
            free(copy);
            return root;
        }
        if (json_error_code(err) != json_error_numeric_overflow)
            break;
    }
    free(copy);
    *err = first;
    *replaced = 0;
    return NULL;
}
