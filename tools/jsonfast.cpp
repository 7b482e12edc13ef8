/*
 * jsonfast — see jsonfast.h. simdjson's DOM parser validates the whole
 * line; the walk below then visits only the members the paths name.
 */
#include "jsonfast.h"

#include <cstddef>
#include <cstring>
#include <new>
#include <simdjson.h>
#include <string_view>
#include <vector>

struct jsonfast {
    simdjson::dom::parser parser;
    std::vector<char> padded; /* the line, with the padding simdjson reads past its end */
    /* The tree of every parse without paths: one empty object, handed out
     * with a reference per call, so a line whose fields nobody reads
     * costs no allocation (two mallocs and two frees a line before, some
     * 6 % of an append's CPU). Nobody changes a tree it is handed. */
    json_t *empty;
};

extern "C" jsonfast *jsonfast_new(void)
{
    jsonfast *f = new (std::nothrow) jsonfast();
    if (f && !(f->empty = json_object())) {
        delete f;
        return nullptr;
    }
    return f;
}

extern "C" void jsonfast_free(jsonfast *f)
{
    if (f)
        json_decref(f->empty);
    delete f;
}

/* The last member named `name`, as jansson keeps the last of repeated
 * names. */
static bool last_member(simdjson::dom::object obj, std::string_view name, simdjson::dom::element *out)
{
    bool found = false;
    for (simdjson::dom::key_value_pair field : obj)
        if (field.key == name) {
            *out = field.value;
            found = true;
        }
    return found;
}

/* The value as jansson would hold it; NULL with *decline for an integer
 * beyond int64 (jansson's range rules then decide: jsonload.h). */
static json_t *leaf(simdjson::dom::element e, bool *decline)
{
    switch (e.type()) {
    case simdjson::dom::element_type::OBJECT:
        return json_object();
    case simdjson::dom::element_type::ARRAY:
        return json_array();
    case simdjson::dom::element_type::STRING: {
        std::string_view s = e.get_string().value_unsafe();
        return json_stringn_nocheck(s.data(), s.size()); /* simdjson checked the UTF-8 */
    }
    case simdjson::dom::element_type::INT64:
        return json_integer(e.get_int64().value_unsafe());
    case simdjson::dom::element_type::UINT64:
        *decline = true;
        return nullptr;
    case simdjson::dom::element_type::DOUBLE:
        return json_real(e.get_double().value_unsafe());
    case simdjson::dom::element_type::BOOL:
        return json_boolean(e.get_bool().value_unsafe());
    case simdjson::dom::element_type::NULL_VALUE:
        return json_null();
    }
    return nullptr;
}

/* Put what path names in root into tree, making the objects on its way
 * (shared with other paths). 1 done (or absent), 0 decline, -1 memory. */
static int take_path(simdjson::dom::element root, const jsonpath *path, json_t *tree)
{
    simdjson::dom::element at = root;
    for (size_t i = 0; i < path->depth; i++) {
        simdjson::dom::object obj;
        if (at.get_object().get(obj) != simdjson::SUCCESS || !last_member(obj, path->names[i], &at))
            return 1; /* jsonpath_get would find nothing either */
    }
    bool decline = false;
    json_t *v = leaf(at, &decline);
    if (decline)
        return 0;
    if (!v)
        return -1;
    json_t *parent = tree;
    for (size_t i = 0; i + 1 < path->depth; i++) {
        json_t *child = json_object_get(parent, path->names[i]);
        if (!child) {
            child = json_object();
            if (!child || json_object_set_new(parent, path->names[i], child) != 0) {
                json_decref(v);
                return -1;
            }
        }
        parent = child;
    }
    /* A path that ends where another goes on names an object: the other
     * path's stand-in holds the same type. */
    if (json_object_get(parent, path->names[path->depth - 1])) {
        json_decref(v);
        return 1;
    }
    return json_object_set_new(parent, path->names[path->depth - 1], v) == 0 ? 1 : -1;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Whether text[at] lies inside a string, were the text valid JSON, read
 * on from *from with *in_string and *escaped saying where the scan
 * stopped before (a later call goes on from there, so a line costs one
 * pass at most). In valid JSON a quote not escaped by a backslash opens
 * or closes a string and a backslash appears only inside one; an invalid
 * text is refused by simdjson whatever this says. */
static bool inside_string(const char *text, size_t at, size_t *from, bool *in_string, bool *escaped)
{
    for (size_t i = *from; i < at; i++) {
        if (*escaped)
            *escaped = false;
        else if (text[i] == '\\')
            *escaped = *in_string;
        else if (text[i] == '"')
            *in_string = !*in_string;
    }
    *from = at;
    return *in_string;
}

/* Whether jansson and simdjson may judge the text differently, so that
 * jansson must: a \u0000 escape (jansson refuses it in object keys), or a
 * number of 19 digits or more in a row, which any integer beyond int64
 * has (jansson refuses those; jsonload takes them its own way, with limits
 * of its own). A run of digits inside a string is no number: hex ids and
 * zero-filled fields in log lines (the syslog corpus has 1 785 such
 * lines) went to jansson, at some 39 000 instructions a line, 8 % of an
 * append of the corpus. Declining costs speed, never exactness. */
static bool jansson_must_judge(const char *text, size_t len)
{
    /* The escape's backslash found with memchr, which most lines (no
     * backslash at all) leave after one vector pass: memmem set up its
     * two-way search on every line, 9 % of an append's instructions. */
    static const char nul_escape[] = "\\u0000";
    const size_t esc = sizeof nul_escape - 1;
    for (const char *p = text, *end = text + len; end - p >= (ptrdiff_t)esc; p++) {
        if (!(p = static_cast<const char *>(memchr(p, '\\', (size_t)(end - p - (ptrdiff_t)esc) + 1))))
            break;
        if (memcmp(p, nul_escape, esc) == 0)
            return true;
    }
    /* Any run of 19 digits covers one of the probes, 19 bytes apart: a
     * probe on a non-digit rules out every run through it, one on a digit
     * measures its run, and the next probe is 19 bytes past the run's
     * end. Most bytes are never looked at; the string scan runs only once
     * a run is found. */
    const size_t run = 19;
    size_t from = 0; /* no run of `run` digits lies before it */
    size_t scanned = 0;
    bool in_string = false, escaped = false;
    for (size_t probe = run - 1; probe < len;) {
        if (!is_digit(text[probe])) {
            from = probe + 1;
            probe += run;
            continue;
        }
        size_t start = probe, end = probe + 1;
        while (start > from && is_digit(text[start - 1]))
            start--;
        while (end < len && is_digit(text[end]))
            end++;
        if (end - start >= run && !inside_string(text, start, &scanned, &in_string, &escaped))
            return true;
        from = end;
        probe = end + run;
    }
    return false;
}

/* Parse text[0..len), readable to len + SIMDJSON_PADDING, and take the
 * paths out of it. */
static int parse_in_place(jsonfast *f, const char *text, size_t len, const jsonpath *const *paths, size_t n,
                          json_t **tree)
{
    simdjson::dom::element root;
    if (f->parser.parse(text, len, false).get(root) != simdjson::SUCCESS)
        return 0;
    if (n == 0) {
        *tree = json_incref(f->empty);
        return 1;
    }
    json_t *t = json_object();
    if (!t)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int rc = take_path(root, paths[i], t);
        if (rc != 1) {
            json_decref(t);
            return rc;
        }
    }
    *tree = t;
    return 1;
}

/* The text copied into the parser's padded buffer: NULL when out of
 * memory. */
static const char *padded_copy(jsonfast *f, const char *text, size_t len)
{
    try {
        f->padded.resize(len + simdjson::SIMDJSON_PADDING);
    } catch (const std::bad_alloc &) {
        return nullptr;
    }
    memcpy(f->padded.data(), text, len);
    return f->padded.data();
}

extern "C" int jsonfast_parse(jsonfast *f, const char *text, size_t len, const jsonpath *const *paths, size_t n,
                              json_t **tree)
{
    *tree = nullptr;
    if (jansson_must_judge(text, len))
        return 0;
    const char *padded = padded_copy(f, text, len);
    return padded ? parse_in_place(f, padded, len, paths, n, tree) : -1;
}

static_assert(JSONFAST_PADDING >= simdjson::SIMDJSON_PADDING, "the caller's padding is simdjson's");

extern "C" int jsonfast_parse_padded(jsonfast *f, const char *text, size_t len, const jsonpath *const *paths,
                                     size_t n, json_t **tree)
{
    *tree = nullptr;
    if (jansson_must_judge(text, len))
        return 0;
    return parse_in_place(f, text, len, paths, n, tree);
}
