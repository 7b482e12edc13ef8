/*
 * jsoncheck — see jsoncheck.h. A walk down the value, an object's members
 * and an array's elements each in a loop of their own (the nesting is the
 * walk's own calls, at most JSONCHECK_DEPTH_MAX deep); every read is
 * bounds-checked against the text's end. In a text with nothing to
 * escape, the common one, the strings' ends are found from its quotes in
 * one pass before the walk (see quotes); otherwise plain string bytes,
 * most of a value's bytes, are passed over a word at a time.
 */
#include "jsoncheck.h"

#include <stdint.h>
#include <string.h>

/* The paths below ask these two, never the compiler's macros, so that
 * JSONCHECK_PORTABLE (defined by the build for test executables only)
 * takes the portable paths of a machine with neither SSE2 nor
 * little-endian words on this one: no machine the project builds on
 * takes them otherwise, and untested they went wrong (no number's digits
 * were taken). */
#if defined(__SSE2__) && !defined(JSONCHECK_PORTABLE)
#define HAS_SSE2 1
#else
#define HAS_SSE2 0
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && !defined(JSONCHECK_PORTABLE)
#define LITTLE_WORDS 1
#else
#define LITTLE_WORDS 0
#endif

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
static inline uint64_t specials_in(uint64_t w)
{
    return (w & HIGHS) | below(w, 0x20) | holds(w, '"') | holds(w, '\\');
}

static inline uint64_t specials8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return specials_in(w);
}

/* How many unmarked bytes lead the eight whose marks (high bits) are
 * given: plain ones after specials8, digits after non_digits8. */
static inline size_t plain_lead(uint64_t marks)
{
#if LITTLE_WORDS
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

#if HAS_SSE2
#include <emmintrin.h>

/* The special bytes (as specials8 says) among the sixteen at p, a bit
 * each: a signed compare below 0x20 marks control bytes and every byte
 * >= 0x80. */
static inline uint64_t word_marks(at p)
{
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                             _mm_cmplt_epi8(x, space));
    return (unsigned)_mm_movemask_epi8(m);
}
#define WORD_BYTES 16
#define MARK_BITS 1 /* bits of word_marks per byte */
#else
static inline uint64_t word_marks(at p)
{
    return specials8(p);
}
#define WORD_BYTES 8
#define MARK_BITS 8
#endif

/* Whether a word's marks lie in the order of its bytes, the first byte's
 * lowest. */
#if HAS_SSE2 || LITTLE_WORDS
#define MARKS_IN_ORDER 1
#else
#define MARKS_IN_ORDER 0
#endif

/* How many plain bytes lead the word whose marks are given. */
static inline size_t plain_marked(uint64_t marks)
{
#if MARKS_IN_ORDER
    return marks ? (size_t)__builtin_ctzll(marks) / MARK_BITS : WORD_BYTES;
#else
    return marks ? 0 : WORD_BYTES; /* the byte path finds it */
#endif
}

static inline size_t plain_in_word(at p)
{
    return plain_marked(word_marks(p));
}

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

/* The rest of a string from p, whatever it holds (its bytes before p
 * are plain): past its closing quote. Out of line, so that string()'s
 * common case saves no registers for it. */
__attribute__((noinline)) static at string_rest(at p, at end)
{
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
 * its names, are plain: while a whole word follows, its first byte that
 * is not plain decides it when it is the closing quote, with no call
 * (callgrind: the call was most of a short string's cost, and a string
 * of sixteen plain bytes or more, an id, made it every time). */
__attribute__((always_inline)) static inline at string_scan(at p, at end)
{
    at q = p + 1;
    while (end - q >= WORD_BYTES) {
        size_t n = plain_in_word(q);
        if (n < WORD_BYTES) {
            if (q[n] == '"')
                return q + n + 1;
            return string_rest(q + n, end);
        }
        q += WORD_BYTES;
    }
    /* Fewer than a word left, the text's last string: the word that ends
     * with the text, when it starts within this string, decides it the
     * same way, its bytes before q shifted out. */
    if (MARKS_IN_ORDER && q < end && end - p >= WORD_BYTES) {
        size_t n = plain_marked(word_marks(end - WORD_BYTES) >> (WORD_BYTES - (end - q)) * MARK_BITS);
        if (q + n < end && q[n] == '"')
            return q + n + 1;
        return string_rest(q + n < end ? q + n : end, end);
    }
    return string_rest(q, end);
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
 * microseconds has 16). Without little-endian words a word with a byte
 * that is not a digit counts none (plain_lead), and the byte loop
 * takes its digits. */
__attribute__((always_inline)) static inline at digits(at p, at end)
{
    while (end - p >= 8) {
        size_t n = plain_lead(non_digits8(p));
        p += n;
        if (n < 8) {
            if (LITTLE_WORDS)
                return p;
            break;
        }
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

/* The strings of a text none of whose bytes a string would have to
 * escape or decode (no backslash, control byte or byte from 0x80 on):
 * there the quotes alternate, each odd one opening a string of plain
 * bytes and the next closing it. Their closing quotes are found in one
 * pass over the text before the walk, which takes each string's end from
 * here: a string's end no longer waits on a scan of its bytes, a chain of
 * a load, compares and a bit scan per string that the next string waited
 * on, which was the check's time (perf) more than its instructions. */
#define CLOSES_MAX 256

/* The list is of the places just past each closing quote, in order, then
 * the text's start (past no closing quote). The walk takes every quote
 * in order, through string() alone (no other step passes over one), so
 * the string it meets next ends at the list's next place. Each step of
 * the walk keeps where it stands in the list (*next) in a variable of its
 * container's loop, handed to and back from a nested container's call
 * (struct step): kept behind a pointer, as it was, its load waited for
 * the store of the string before, a chain through every string of the
 * value. *next is NULL for a text read by its bytes. */
typedef const at *closes;

/* The string at p (its opening quote), past its closing quote: from the
 * list when the text has one (listed, a constant of each walk), else by
 * its bytes. */
__attribute__((always_inline)) static inline at string(at p, at end, closes *next, const int listed)
{
    if (!listed)
        return string_scan(p, end);
    at past = *(*next)++;
    /* Always true by the walk's order; a guard against a walk that broke
     * it, and the end of the list. */
    if (past <= p)
        return NULL;
    return past;
}

#if HAS_SSE2
/* Bit i of the result: the parity of bits 0 to i of x. */
static inline uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    return x ^ x << 32;
}

/* The quotes of the 16 bytes at p as bits, the specials among them or'ed
 * into *special; the bytes stored at dst too unless it is NULL. */
__attribute__((always_inline)) static inline uint64_t quotes16(at p, __m128i *special, unsigned char *dst)
{
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    if (dst)
        _mm_storeu_si128((__m128i *)(void *)dst, x);
    *special = _mm_or_si128(*special, _mm_or_si128(_mm_cmpeq_epi8(x, backslash), _mm_cmplt_epi8(x, space)));
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, quote));
}

/* The same of the 64 bytes at p (and dst). */
__attribute__((always_inline)) static inline uint64_t quotes64(at p, __m128i *special, unsigned char *dst)
{
    return quotes16(p, special, dst) | quotes16(p + 16, special, dst ? dst + 16 : NULL) << 16 |
           quotes16(p + 32, special, dst ? dst + 32 : NULL) << 32 |
           quotes16(p + 48, special, dst ? dst + 48 : NULL) << 48;
}

/* The closing quotes among those marked in bits (bit i standing for
 * from + i), *inside telling whether a string is open before them and
 * then after them, their places past them written after out: past the
 * last one written. */
static inline at *place_closes(uint64_t bits, at from, uint64_t *inside, at *out)
{
    uint64_t open = prefix_xor(bits) ^ *inside; /* bit i: a string is open after byte i */
    *inside = 0 - (open >> 63);
    from++;
    for (uint64_t marks = bits & ~open; marks; marks &= marks - 1)
        *out++ = from + (size_t)__builtin_ctzll(marks);
    return out;
}

/* The list of text[0..len) in list, which has room for CLOSES_MAX + 1
 * places: 1, or 0 when the text holds a special byte, more strings or an
 * unclosed one (it is not JSON); then strings are read by their bytes. Unless dst
 * is NULL, the text is copied there too, whatever the answer (the pass
 * loads every byte of it, and jsonl replay copies it into its line). */
__attribute__((always_inline)) static inline int index_quotes(at text, size_t len, at *list, unsigned char *dst)
{
    if (len < 64 && dst && len)
        memcpy(dst, text, len);
    __m128i special = _mm_setzero_si128();
    uint64_t inside = 0;
    at *out = list;
    size_t off = 0;
    for (; len - off >= 64; off += 64) {
        if (out - list > CLOSES_MAX - 32)
            goto decline; /* room for these 64 bytes' 32 at most */
        out = place_closes(quotes64(text + off, &special, dst ? dst + off : NULL), text + off, &inside, out);
    }
    if (off < len) {
        if (out - list > CLOSES_MAX - 32)
            goto decline;
        uint64_t bits;
        if (off > 0) {
            /* The 64 bytes that end the text, those before off (already
             * counted) shifted out of its quotes; finding their specials
             * (and copying them) again changes nothing. A copy into a
             * buffer of plain bytes was a call per value. */
            bits = quotes64(text + len - 64, &special, dst ? dst + len - 64 : NULL) >> (64 - (len - off));
        } else {
            /* A text shorter than a word: plain bytes stand for what is
             * not there (already copied to dst). */
            unsigned char last[64];
            memset(last, 'a', sizeof last);
            memcpy(last, text, len);
            bits = quotes64(last, &special, NULL);
        }
        out = place_closes(bits, text + off, &inside, out);
    }
    if (_mm_movemask_epi8(special) || inside)
        return 0;
    *out = text;
    return 1;
decline:
    if (dst)
        memcpy(dst + off, text + off, len - off);
    return 0;
}
#else
static int index_quotes(at text, size_t len, at *list, unsigned char *dst)
{
    (void)list;
    if (dst && len) /* text may be NULL when len is 0 */
        memcpy(dst, text, len);
    return 0;
}
#endif

/* A member's name and its colon, blanks before either: past the colon.
 * Blanks are skipped only where the byte expected is not found: compact
 * JSON, the common case, has none, and a test of every gap for them was
 * a tenth of the check. */
__attribute__((always_inline)) static inline at member_name(at p, at end, closes *next, const int listed)
{
    if (p < end && *p != '"')
        p = blanks(p, end);
    if (p >= end || *p != '"' || !(p = string(p, end, next, listed)))
        return NULL;
    if (p < end && *p != ':')
        p = blanks(p, end);
    return p < end && *p == ':' ? p + 1 : NULL;
}

/* Where a container's walk ended (NULL: declined) and the list's next
 * place after it: two pointers, returned in registers. */
typedef struct step {
    at p;
    closes next;
} step;

static step object_listed(at p, at end, unsigned depth, closes next);
static step array_listed(at p, at end, unsigned depth, closes next);
static step blanks_then_value_listed(at p, at end, unsigned depth, closes next);
static step object_scanned(at p, at end, unsigned depth, closes next);
static step array_scanned(at p, at end, unsigned depth, closes next);
static step blanks_then_value_scanned(at p, at end, unsigned depth, closes next);

/* p of a step, its place in the list taken back in *next (a pointer to
 * a variable of the caller's own, which no call is handed, so that it
 * stays in a register). */
static inline at container(step s, closes *next)
{
    *next = s.next;
    return s.p;
}
/* The value at p, inside depth open containers: past its end. Scalars
 * are decided here, inline in the containers' loops, a string first (most
 * values are); a container is a call, its kind known by the function
 * that reads it, so no stack of kinds is kept (the recursion is at most
 * JSONCHECK_DEPTH_MAX deep). */
__attribute__((always_inline)) static inline at value(at p, at end, unsigned depth, closes *next,
                                                      const int listed)
{
    if (p >= end)
        return NULL;
    unsigned b = *p;
    if (b == '"')
        return string(p, end, next, listed);
    if (b - '1' < 9) {
        /* An integer of fewer than 19 digits, the common number, inline. */
        at q = digits(p, end);
        if (q - p < 19 && (q >= end || (*q != '.' && (*q | 0x20) != 'e')))
            return q;
        return number(p, end);
    }
    if (b == '-' || b == '0')
        return number(p, end);
    switch (b) {
    case '{':
        if (depth >= JSONCHECK_DEPTH_MAX)
            return NULL;
        return container((listed ? object_listed : object_scanned)(p, end, depth + 1, *next), next);
    case '[':
        if (depth >= JSONCHECK_DEPTH_MAX)
            return NULL;
        return container((listed ? array_listed : array_scanned)(p, end, depth + 1, *next), next);
    case 't': return literal(p, end, "true", 4);
    case 'f': return literal(p, end, "false", 5);
    case 'n': return literal(p, end, "null", 4);
    case ' ': case '\t':
        return container((listed ? blanks_then_value_listed : blanks_then_value_scanned)(p, end, depth, *next), next);
    default: return NULL;
    }
}

/* The blanks at p and the value after them: out of line (its two walks
 * below), as compact JSON has no blank before a value. */
__attribute__((always_inline)) static inline step value_after_blanks(at p, at end, unsigned depth, closes next,
                                                                     const int listed)
{
    p = value(blanks(p, end), end, depth, &next, listed);
    return (step){ p, next };
}

/* The object whose '{' is at p, the depth-th container open, next the
 * list's place for its first string. Invariant at the top of the loop: p
 * is where a member's name must start, blanks aside. */
__attribute__((always_inline)) static inline step object(at p, at end, unsigned depth, closes next,
                                                         const int listed)
{
    p = blanks(p + 1, end);
    if (p < end && *p == '}')
        return (step){ p + 1, next };
    for (;;) {
        if (!(p = member_name(p, end, &next, listed)) || !(p = value(p, end, depth, &next, listed)))
            return (step){ NULL, next };
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        p = blanks(p, end);
        if (p < end && *p == '}')
            return (step){ p + 1, next };
        if (p >= end || *p++ != ',')
            return (step){ NULL, next };
    }
}

/* The array whose '[' is at p, the depth-th container open; its loop's
 * invariant is object's, for an element. */
__attribute__((always_inline)) static inline step array(at p, at end, unsigned depth, closes next,
                                                        const int listed)
{
    p = blanks(p + 1, end);
    if (p < end && *p == ']')
        return (step){ p + 1, next };
    for (;;) {
        if (!(p = value(p, end, depth, &next, listed)))
            return (step){ NULL, next };
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        p = blanks(p, end);
        if (p < end && *p == ']')
            return (step){ p + 1, next };
        if (p >= end || *p++ != ',')
            return (step){ NULL, next };
    }
}

/* Each container's walk twice, for a text with a list (listed) and for
 * one read by its bytes, so that no string asks which (3 % of the check
 * alone); value() calls the one of its own kind. */
__attribute__((noinline)) static step object_listed(at p, at end, unsigned depth, closes next)
{
    return object(p, end, depth, next, 1);
}

__attribute__((noinline)) static step object_scanned(at p, at end, unsigned depth, closes next)
{
    return object(p, end, depth, next, 0);
}

__attribute__((noinline)) static step array_listed(at p, at end, unsigned depth, closes next)
{
    return array(p, end, depth, next, 1);
}

__attribute__((noinline)) static step array_scanned(at p, at end, unsigned depth, closes next)
{
    return array(p, end, depth, next, 0);
}

__attribute__((noinline)) static step blanks_then_value_listed(at p, at end, unsigned depth, closes next)
{
    return value_after_blanks(p, end, depth, next, 1);
}

__attribute__((noinline)) static step blanks_then_value_scanned(at p, at end, unsigned depth, closes next)
{
    return value_after_blanks(p, end, depth, next, 0);
}

/* The check of text[0..len), strings' ends from its quotes when it
 * allows (indexed), copied to dst on the way unless it is NULL. */
__attribute__((always_inline)) static inline int check(const char *text, size_t len, int indexed, char *dst)
{
    at p = (at)text, end = p + len;
    at list[CLOSES_MAX + 1];
    closes next = NULL;
    if (indexed && index_quotes(p, len, list, (unsigned char *)dst))
        next = list;
    else if (!indexed && dst && len)
        memcpy(dst, text, len);
    p = next ? value(p, end, 0, &next, 1) : value(p, end, 0, &next, 0);
    return p && blanks(p, end) == end;
}

int jsoncheck_embeddable(const char *text, size_t len)
{
    return check(text, len, 1, NULL);
}

int jsoncheck_embeddable_copy(const char *text, size_t len, char *dst)
{
    return check(text, len, 1, dst);
}

int jsoncheck_embeddable_scanned(const char *text, size_t len)
{
    return check(text, len, 0, NULL);
}

/* jsoncheck_plain, text copied to dst unless it is NULL: each word read
 * is stored where it was read from, the last ones overlapping those
 * before as the reads do, so that the copy takes no call. */
__attribute__((always_inline)) static inline int plain(const char *text, size_t len, char *dst)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    /* Whole words, the last one overlapping the one before: a key of
     * seven bytes is two reads, not seven. */
    if (len >= 8) {
        uint64_t marks = 0, w;
        for (; end - p > 8; p += 8) {
            memcpy(&w, p, 8);
            if (dst)
                memcpy(dst + (p - (const unsigned char *)text), &w, 8);
            if ((marks = specials_in(w)) != 0)
                break;
        }
        if (marks) {
            if (dst)
                memcpy(dst + (p - (const unsigned char *)text), p, (size_t)(end - p));
            return 0;
        }
        memcpy(&w, end - 8, 8);
        if (dst)
            memcpy(dst + len - 8, &w, 8);
        return !specials_in(w);
    }
    if (len >= 4) {
        /* The first four and the last four, overlapping below eight, as
         * one word. */
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, end - 4, 4);
        if (dst) {
            memcpy(dst, &lo, 4);
            memcpy(dst + len - 4, &hi, 4);
        }
        return !specials_in((uint64_t)hi << 32 | lo);
    }
    int yes = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned b = p[i];
        if (dst)
            dst[i] = (char)b;
        if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\')
            yes = 0;
    }
    return yes;
}

int jsoncheck_plain(const char *text, size_t len)
{
    return plain(text, len, NULL);
}

int jsoncheck_plain_copy(const char *text, size_t len, char *dst)
{
    return plain(text, len, dst);
}
