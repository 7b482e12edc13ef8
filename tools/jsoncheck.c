/*
 * jsoncheck — see jsoncheck.h. One forward pass with a stack of the open
 * containers' kinds; every read is bounds-checked against the text's end.
 * Plain string bytes, most of a value's bytes, are passed over eight at a
 * time.
 */
#include "jsoncheck.h"

#include <stdint.h>
#include <string.h>

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Whether any byte of w is below n (n <= 128): exact as a yes/no, though
 * a borrow may mark bytes after the first one found. */
static inline uint64_t below(uint64_t w, unsigned n)
{
    return (w - ONES * n) & ~w & HIGHS;
}

/* Whether any byte of w is b. */
static inline uint64_t holds(uint64_t w, unsigned b)
{
    return below(w ^ (ONES * b), 1);
}

/* The special bytes among the eight at p, each marked by its high bit:
 * quotes, backslashes, control bytes and bytes of multi-byte UTF-8
 * sequences. Borrows may mark plain bytes, but only after a special one,
 * so the lowest mark is exact. */
static inline uint64_t specials8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return (w & HIGHS) | below(w, 0x20) | holds(w, '"') | holds(w, '\\');
}

/* How many unmarked bytes lead the eight whose marks (high bits) are
 * given: plain ones after specials8, digits after non_digits8. */
static inline size_t plain_lead(uint64_t marks)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return marks ? (size_t)__builtin_ctzll(marks) / 8 : 8;
#else
    return marks ? 0 : 8; /* the byte path finds it */
#endif
}

static int hex4(const unsigned char *p, unsigned *v)
{
    unsigned u = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return 0;
        u = u << 4 | d;
    }
    *v = u;
    return 1;
}

/* Each step below takes where it starts (p) and the text's end, and
 * returns where it ended, or NULL to decline. Pointers are passed by
 * value, not in a struct: a byte read through unsigned char may alias a
 * struct's pointer, which would then be reloaded after every read. */
typedef const unsigned char *at;

/* The escape at p (its backslash). \u0000 and surrogates decline. */
static at escape(at p, at end)
{
    if (end - p < 2)
        return NULL;
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u': {
        unsigned u;
        if (end - p < 6 || !hex4(p + 2, &u) || u == 0 || (u >= 0xd800 && u <= 0xdfff))
            return NULL;
        return p + 6;
    }
    default:
        return NULL;
    }
}

/* The UTF-8 sequence at p, whose first byte is >= 0x80: well-formed as
 * RFC 3629 says (the lead byte's range of second bytes rules out overlong
 * forms, surrogates and what lies above U+10FFFF). */
static at utf8_seq(at p, at end)
{
    unsigned b = p[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (b >= 0xc2 && b <= 0xdf)
        len = 2;
    else if (b >= 0xe0 && b <= 0xef)
        len = 3, lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
    else if (b >= 0xf0 && b <= 0xf4)
        len = 4, lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
    else
        return NULL;
    if ((size_t)(end - p) < len || p[1] < lo || p[1] > hi)
        return NULL;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return NULL;
    return p + len;
}

#ifdef __SSE2__
#include <emmintrin.h>

/* How many plain bytes (as specials8 says) lead the sixteen at p: a
 * signed compare below 0x20 marks control bytes and every byte >= 0x80. */
static inline size_t plain_in_word(at p)
{
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                             _mm_cmplt_epi8(x, space));
    unsigned marks = (unsigned)_mm_movemask_epi8(m);
    return marks ? (size_t)__builtin_ctz(marks) : 16;
}
#define WORD_BYTES 16
#else
static inline size_t plain_in_word(at p)
{
    return plain_lead(specials8(p));
}
#define WORD_BYTES 8
#endif

/* Past the plain bytes at p, a word at a time while words are left. */
static inline at plain_run(at p, at end)
{
    while (end - p >= WORD_BYTES) {
        size_t n = plain_in_word(p);
        p += n;
        if (n < WORD_BYTES)
            return p;
    }
    if (end - p >= 8)
        p += plain_lead(specials8(p));
    return p;
}

/* The string whose opening quote is at p, whatever it holds: past its
 * closing quote. Out of line, so that string()'s common case saves no
 * registers for it. */
__attribute__((noinline)) static at string_rest(at p, at end)
{
    p++;
    for (;;) {
        p = plain_run(p, end);
        if (p >= end)
            return NULL;
        unsigned b = *p;
        if (b == '"')
            return p + 1;
        if (b == '\\')
            p = escape(p, end);
        else if (b >= 0x80)
            p = utf8_seq(p, end);
        else if (b < 0x20)
            return NULL;
        else
            p++;
        if (!p)
            return NULL;
    }
}

/* The string at p (its opening quote). Most of a value's strings, and
 * its names, are short and plain: when a word follows the quote and its
 * first byte that is not plain is the closing quote, that one word
 * decides it, with no loop and no call (callgrind: the call was most of
 * a short string's cost). */
__attribute__((always_inline)) static inline at string(at p, at end)
{
    at q = p + 1;
    if (end - q >= WORD_BYTES) {
        size_t n = plain_in_word(q);
        if (n < WORD_BYTES && q[n] == '"')
            return q + n + 1;
    }
    return string_rest(p, end);
}

static int is_digit(unsigned b)
{
    return b - '0' < 10;
}

/* The bytes of the eight at p that are not digits, marked by their high
 * bit. A digit xor '0' is below 10, and adding 0x76 leaves its high bit
 * clear while setting it for any other byte below 0x80; a byte from 0x80
 * on is marked by its own. Only a marked byte carries into the next, so
 * the lowest mark is exact. */
static inline uint64_t non_digits8(at p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    w ^= ONES * '0';
    return ((w + ONES * 0x76) | w) & HIGHS;
}

/* Past the digits at p, eight at a time while eight are left (a time in
 * microseconds has 16). */
static at digits(at p, at end)
{
    while (end - p >= 8) {
        size_t n = plain_lead(non_digits8(p));
        p += n;
        if (n < 8)
            return p;
    }
    while (p < end && is_digit(*p))
        p++;
    return p;
}

/* The number at p (a '-' or a digit), in RFC 8259's grammar and within
 * the bounds in which jansson holds every such number (see the header). */
static at number(at p, at end)
{
    if (*p == '-')
        p++;
    if (p >= end)
        return NULL;
    if (*p == '0') {
        p++;
    } else {
        at from = p;
        p = digits(p, end);
        if (p == from || p - from >= 19)
            return NULL;
    }
    if (p < end && *p == '.') {
        at from = ++p;
        if ((p = digits(p, end)) == from)
            return NULL;
    }
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        at from = p;
        p = digits(p, end);
        if (p == from || p - from > 2)
            return NULL;
    }
    return p;
}

static at literal(at p, at end, const char *word, size_t len)
{
    return (size_t)(end - p) >= len && memcmp(p, word, len) == 0 ? p + len : NULL;
}

/* Past the spaces and tabs at p; a raw line break is left for the caller
 * to decline (the envelope re-encodes such a value). */
static inline at blanks(at p, at end)
{
    if (p < end && *p > ' ')
        return p; /* the common case: no blank at all */
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* A scalar at p < end (the caller has ruled out containers). */
static at scalar(at p, at end)
{
    switch (*p) {
    case '"': return string(p, end);
    case 't': return literal(p, end, "true", 4);
    case 'f': return literal(p, end, "false", 5);
    case 'n': return literal(p, end, "null", 4);
    default: return *p == '-' || is_digit(*p) ? number(p, end) : NULL;
    }
}

/* A member's name and its colon, blanks before either: past the colon.
 * Blanks are skipped only where the byte expected is not found: compact
 * JSON, the common case, has none, and a test of every gap for them was
 * a tenth of the check. */
__attribute__((always_inline)) static inline at member_name(at p, at end)
{
    p = blanks(p, end);
    if (p >= end || *p != '"' || !(p = string(p, end)))
        return NULL;
    if (p < end && *p != ':')
        p = blanks(p, end);
    return p < end && *p == ':' ? p + 1 : NULL;
}

static int is_blank(unsigned b)
{
    return b == ' ' || b == '\t';
}

int jsoncheck_embeddable(const char *text, size_t len)
{
    at p = (at)text, end = p + len;
    /* The open containers' closing bytes, innermost last. Invariant: at
     * the top of the loop p is where a value must start, blanks aside. */
    unsigned char open[JSONCHECK_DEPTH_MAX];
    size_t depth = 0;
    for (;;) {
        if (p >= end)
            return 0;
        unsigned b = *p;
        if (b == '{' || b == '[') {
            if (depth == JSONCHECK_DEPTH_MAX)
                return 0;
            unsigned char close = b == '{' ? '}' : ']';
            at q = blanks(p + 1, end);
            if (q < end && *q == close) {
                p = q + 1;
            } else {
                open[depth++] = close;
                if (close == '}' && !(q = member_name(q, end)))
                    return 0;
                p = q;
                continue;
            }
        } else if (is_blank(b)) {
            p = blanks(p, end);
            continue;
        } else if (!(p = scalar(p, end))) {
            return 0;
        }
        /* A value ended: close what it ends, then find where the next
         * one starts, or the text's end. */
        for (;;) {
            if (depth == 0)
                return blanks(p, end) == end;
            if (p >= end)
                return 0;
            b = *p;
            if (b == open[depth - 1]) {
                p++;
                depth--;
            } else if (b == ',') {
                p++;
                if (open[depth - 1] == '}' && !(p = member_name(p, end)))
                    return 0;
                break;
            } else if (is_blank(b)) {
                p = blanks(p, end);
            } else {
                return 0;
            }
        }
    }
}
