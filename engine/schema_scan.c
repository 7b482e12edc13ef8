/*
 * schema_scan — the fast conformance pass; see schema_scan.h.
 *
 * The grammar accepted is RFC 8259 as jansson 2.14 reads it: whitespace
 * is space, tab, CR and LF; strings hold no raw byte below 0x20, only
 * well-formed UTF-8 (no overlong form, no surrogate, nothing above
 * U+10FFFF) and escapes \" \\ \/ \b \f \n \r \t \uXXXX, a \u surrogate
 * only as a high-low pair and never \u0000; numbers are
 * -?(0|[1-9][0-9]*)(.[0-9]+)?, an exponent being left to the full
 * validator; a literal is followed by a delimiter. Types are judged as
 * schema_validate.c judges them: a number with a fraction admits
 * "number" only (1.0 would be an integer there: left to it too).
 */
#include "schema_scan.h"

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "schema_lookup.h"

typedef struct scan {
    const unsigned char *p, *end;
    int depth;
} scan;

/* A string token, its quotes excluded. */
typedef struct token {
    const unsigned char *text;
    size_t len;
    int escaped;
} token;

static int next_is(const scan *s, unsigned char c)
{
    return s->p < s->end && *s->p == c;
}

/* The whitespace at s->p: space, tab, CR and LF. */
__attribute__((noinline)) static void skip_ws_run(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* Every whitespace byte is at most 0x20 and most tokens follow the one
 * before with no space, so one compare, inline, settles the usual case
 * and only a run of whitespace pays a call. */
static void skip_ws(scan *s)
{
    if (s->p < s->end && *s->p <= ' ')
        skip_ws_run(s);
}

static int in(unsigned char c, unsigned char lo, unsigned char hi)
{
    return c >= lo && c <= hi;
}

/* One UTF-8 sequence starting at s->p (a byte >= 0x80), well formed. */
static int utf8_sequence(scan *s)
{
    const unsigned char *p = s->p;
    size_t left = (size_t)(s->end - p);
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (in(c, 0xC2, 0xDF))
        n = 2;
    else if (in(c, 0xE0, 0xEF)) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF; /* ED A0.. would be a surrogate */
    } else if (in(c, 0xF0, 0xF4)) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF; /* above U+10FFFF */
    } else
        return 0;
    if (left < n || !in(p[1], lo, hi))
        return 0;
    for (size_t i = 2; i < n; i++)
        if (!in(p[i], 0x80, 0xBF))
            return 0;
    s->p += n;
    return 1;
}

/* \uXXXX at s->p (after the backslash and u): its value, or -1. */
static long hex4(scan *s)
{
    if (s->end - s->p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s->p[i];
        int d = in(c, '0', '9') ? c - '0' : in(c, 'a', 'f') ? c - 'a' + 10 : in(c, 'A', 'F') ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    s->p += 4;
    return v;
}

/* The escape after a backslash at s->p. */
static int escape(scan *s)
{
    if (s->p >= s->end)
        return 0;
    unsigned char c = *s->p++;
    if (c != 'u')
        return strchr("\"\\/bfnrt", c) != NULL && c != '\0';
    long u = hex4(s);
    if (u <= 0 || (u >= 0xDC00 && u <= 0xDFFF))
        return 0; /* \u0000 (refused without JSON_ALLOW_NUL), a lone low surrogate */
    if (u < 0xD800 || u > 0xDBFF)
        return 1;
    if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
        return 0;
    s->p += 2;
    long low = hex4(s);
    return low >= 0xDC00 && low <= 0xDFFF;
}

/* Plain string text: not the quote, the backslash, a control byte or a
 * byte of a UTF-8 sequence. Most of an event's bytes are plain and taken
 * in a tight loop. */
static int plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* The bytes at p of the 8 that are not plain, each flagged by its high
 * bit: the classic word tests for a byte below 0x20 (hasless) and for a
 * zero byte after an xor (haszero). A borrow can flag a plain byte, but
 * only above (after) a byte flagged rightly, so the word is 0 exactly
 * when all 8 are plain and its lowest flag is the first byte that is
 * not. */
static uint64_t special8(const unsigned char *p)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t w, quote, backslash;
    memcpy(&w, p, sizeof w);
    quote = w ^ (ones * '"');
    backslash = w ^ (ones * '\\');
    return (w & highs) | ((w - ones * 0x20) & ~w & highs) | ((quote - ones) & ~quote & highs) |
           ((backslash - ones) & ~backslash & highs);
}

#ifdef __SSE2__
/* The bytes at p of the 16 that are not plain, a bit each (bit i: byte
 * i), where every x86-64 has the instructions: a byte is not plain when
 * it is the quote, the backslash, or below 0x20 compared as signed,
 * which takes in every byte from 0x80 on. */
static unsigned special16(const unsigned char *p)
{
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), _mm_cmplt_epi8(v, space));
    return (unsigned)_mm_movemask_epi8(special);
}
#define WORD_BYTES 16
#else
#define WORD_BYTES 8
#endif

/* How many of the WORD_BYTES bytes at p are plain before the first that
 * is not (WORD_BYTES: all of them). The caller has WORD_BYTES bytes
 * there. */
static size_t plain_in_word(const unsigned char *p)
{
#ifdef __SSE2__
    unsigned flags = special16(p);
    return flags ? (size_t)__builtin_ctz(flags) : 16;
#else
    uint64_t flags = special8(p);
    return flags ? (size_t)__builtin_ctzll(flags) / 8 : 8;
#endif
}

/* s->p moved to the first byte that is not plain, or to the end. While a
 * word is left its bytes are judged at once and its first special byte
 * is found from its flags (the bytes are read in memory order:
 * little-endian), so the quote closing a short string costs no loop over
 * its bytes. */
static void skip_plain(scan *s)
{
    while (s->end - s->p >= WORD_BYTES) {
        size_t n = plain_in_word(s->p);
        s->p += n;
        if (n < WORD_BYTES)
            return;
    }
    while (s->end - s->p >= 8) {
        uint64_t flags = special8(s->p);
        if (flags) {
            s->p += (unsigned)__builtin_ctzll(flags) / 8;
            return;
        }
        s->p += 8;
    }
    while (s->p < s->end && plain(*s->p))
        s->p++;
}

/* The string whose opening quote is at s->p, whatever it holds. Kept out
 * of line, so that string()'s common case saves no registers for it. */
__attribute__((noinline)) static int string_rest(scan *s, token *t)
{
    s->p++; /* the opening quote */
    t->text = s->p;
    t->escaped = 0;
    while (s->p < s->end) {
        skip_plain(s);
        if (s->p == s->end)
            break;
        unsigned char c = *s->p;
        if (c == '"') {
            t->len = (size_t)(s->p - t->text);
            s->p++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            s->p++;
            t->escaped = 1;
            if (!escape(s))
                return 0;
        } else if (c >= 0x80) {
            if (!utf8_sequence(s))
                return 0;
        } else
            s->p++;
    }
    return 0;
}

/* A string at s->p (its opening quote). An event's names and most of its
 * strings are short and plain: when a word of bytes follows the quote
 * and its first byte that is not plain is the closing quote, the string
 * is decided by that one word with no loop and no call (callgrind: the
 * call and the loop were most of a short string's cost). Anything else,
 * longer or holding an escape or non-ASCII, goes to string_rest. */
__attribute__((always_inline)) static inline int string(scan *s, token *t)
{
    const unsigned char *p = s->p + 1;
    if (s->end - p >= WORD_BYTES) {
        size_t n = plain_in_word(p);
        if (n < WORD_BYTES && p[n] == '"') {
            t->text = p;
            t->len = n;
            t->escaped = 0;
            s->p = p + n + 1;
            return 1;
        }
    }
    return string_rest(s, t);
}

/* How many of the 8 bytes at p are digits before the first that is not
 * (8: all). A byte is a digit when its xor with '0' is below 10; adding
 * 0x76 to such a byte leaves its high bit clear and sets it for any
 * other byte below 0x80, and a byte from 0x80 on is flagged by its own
 * high bit. Only a flagged byte (0x8A or more) carries into the next,
 * so a carry can flag a byte after the first non-digit, never before. */
static size_t digits_in_word(const unsigned char *p)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t w;
    memcpy(&w, p, sizeof w);
    w ^= ones * '0';
    uint64_t flags = ((w + ones * 0x76) | w) & highs;
    return flags ? (size_t)__builtin_ctzll(flags) / 8 : 8;
}

static inline size_t digits(scan *s)
{
    const unsigned char *start = s->p;
    while (s->end - s->p >= 8) {
        size_t n = digits_in_word(s->p);
        s->p += n;
        if (n < 8)
            return (size_t)(s->p - start);
    }
    while (s->p < s->end && in(*s->p, '0', '9'))
        s->p++;
    return (size_t)(s->p - start);
}

/* A number: its type (SCHEMA_INTEGER or SCHEMA_NUMBER), or 0. */
__attribute__((always_inline)) static inline unsigned number(scan *s)
{
    if (next_is(s, '-'))
        s->p++;
    const unsigned char *first = s->p;
    size_t n = digits(s);
    /* Leading zeros are not JSON; 19 digits may not fit an int64. */
    if (n == 0 || (n > 1 && *first == '0') || n > 18)
        return 0;
    unsigned type = SCHEMA_INTEGER;
    if (next_is(s, '.')) {
        s->p++;
        if (digits(s) == 0)
            return 0;
        type = SCHEMA_NUMBER;
    }
    return next_is(s, 'e') || next_is(s, 'E') ? 0 : type;
}

/* A literal, not followed by another letter (jansson reads a word). */
#define LITERAL(s, word) literal(s, word, sizeof word - 1)
static int literal(scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return 0;
    s->p += n;
    return !(s->p < s->end && (in(*s->p | 0x20, 'a', 'z')));
}

static int admitted(const schema_node *n, unsigned type)
{
    return !n || (n->types & type) || (type == SCHEMA_INTEGER && (n->types & SCHEMA_NUMBER));
}

static inline int value(scan *s, const schema_node *n);
static int object(scan *s, const schema_node *n);
static int array(scan *s, const schema_node *n);

/* The definition of a member named key of an object defined by n: *def
 * (NULL: anything), *index its property's index (-1: none). 0 when the
 * member is not allowed or n's required list is too long to track. */
static int member(const schema_node *n, const token *key, const schema_node **def, long *index)
{
    *def = NULL;
    *index = -1;
    if (!n)
        return 1;
    *index = sl_schema_lookup_property(n->lookup, key->text, key->len);
    if (*index >= 0) {
        *def = n->props[*index].node;
        return 1;
    }
    if (n->additional == SCHEMA_ADDITIONAL_SCHEMA)
        *def = n->additional_node;
    return n->additional != SCHEMA_ADDITIONAL_CLOSED;
}

/* Every required property of n among those seen (a bit per property). */
static int required_present(const schema_node *n, uint64_t seen)
{
    return !n || sl_schema_lookup_required_seen(n->lookup, seen);
}

static int object(scan *s, const schema_node *n)
{
    uint64_t seen = 0;
    s->p++;
    skip_ws(s);
    if (next_is(s, '}')) {
        s->p++;
        return required_present(n, seen);
    }
    for (;;) {
        token key;
        const schema_node *def;
        long index;
        if (!next_is(s, '"') || !string(s, &key) || key.escaped || !member(n, &key, &def, &index))
            return 0;
        if (index >= 0 && index < 64)
            seen |= UINT64_C(1) << index;
        skip_ws(s);
        if (!next_is(s, ':'))
            return 0;
        s->p++;
        if (!value(s, def))
            return 0;
        skip_ws(s);
        if (next_is(s, '}')) {
            s->p++;
            return required_present(n, seen);
        }
        if (!next_is(s, ','))
            return 0;
        s->p++;
        skip_ws(s);
    }
}

static int array(scan *s, const schema_node *n)
{
    const schema_node *items = n ? n->items : NULL;
    s->p++;
    skip_ws(s);
    if (next_is(s, ']')) {
        s->p++;
        return 1;
    }
    for (;;) {
        if (!value(s, items))
            return 0;
        skip_ws(s);
        if (next_is(s, ']')) {
            s->p++;
            return 1;
        }
        if (!next_is(s, ','))
            return 0;
        s->p++;
    }
}

/* An object or an array at s->p, one level deeper. Out of line, so that
 * value(), which its members go through, stays small enough to inline
 * into the loops of object() and array() and a member that is a string,
 * a number or a literal costs no call. */
__attribute__((noinline)) static int container(scan *s, const schema_node *n, unsigned char c)
{
    if (!admitted(n, c == '{' ? SCHEMA_OBJECT : SCHEMA_ARRAY) || ++s->depth > SCHEMA_SCAN_DEPTH_MAX)
        return 0;
    int ok = c == '{' ? object(s, n) : array(s, n);
    s->depth--;
    return ok;
}

__attribute__((always_inline)) static inline int value(scan *s, const schema_node *n)
{
    skip_ws(s);
    if (s->p >= s->end)
        return 0;
    unsigned char c = *s->p;
    if (c == '"') {
        token t;
        return string(s, &t) && admitted(n, SCHEMA_STRING) &&
               (!n || !n->enum_values || (!t.escaped && sl_schema_lookup_enum_string(n->lookup, t.text, t.len)));
    }
    if (n && n->enum_values)
        return 0; /* enums of other values compare numbers by value: the full validator's */
    switch (c) {
    case '{':
    case '[': return container(s, n, c);
    case 't': return LITERAL(s, "true") && admitted(n, SCHEMA_BOOLEAN);
    case 'f': return LITERAL(s, "false") && admitted(n, SCHEMA_BOOLEAN);
    case 'n': return LITERAL(s, "null") && admitted(n, SCHEMA_NULL);
    default: {
        unsigned type = c == '-' || in(c, '0', '9') ? number(s) : 0;
        return type && admitted(n, type);
    }
    }
}

int sl_schema_scan_conforms(const schema_def *d, const void *text, size_t len)
{
    scan s = { .p = text, .end = (const unsigned char *)text + len };
    skip_ws(&s);
    /* jansson (flags 0) reads only an object or an array at the top. */
    if (!next_is(&s, '{') || !value(&s, d->root))
        return 0;
    skip_ws(&s);
    return s.p == s.end;
}
