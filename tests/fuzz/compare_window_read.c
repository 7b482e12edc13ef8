/*
 * compare_window_read: a read-only segment's window reads
 * (sl_segment_next_batch: several batches per pread, the body handed out
 * in place) against the general path (sl_segment_read_batch: header and
 * body read apart, the body copied into the caller's buffer) on the same
 * file. The input is a flags byte, a limit byte, then the .seg bytes (the
 * layout of recover_tail's inputs, whose corpus seeds this one). Both
 * paths read every batch from byte 0 on, then at positions the input
 * chooses, in its order (so the window is met ahead of, inside and behind
 * what it holds), each with the file's length and with the input's limit
 * (len * byte 1 / 256) as the limit: both must answer the same code, the
 * same error detail, the same header and the same body bytes. The
 * positions are the input's last bytes, two to a position.
 *
 * Flags: bit 2: repair the batch checksums first, so that mutations
 * reach the checks behind them (as in recover_tail).
 */
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "bytebuf.h"
#include "fuzz_support.h"
#include "segment.h"
#include "siglog.h"

#define TARGET "compare_window_read"
#define FLAG_REPAIR 4u
/* Positions read after the walk from byte 0, taken from the input. */
#define CHOSEN_READS 64

static const segment_params params = {.segment_bytes_max = 1u << 20, .index_interval_bytes = 64, .file_mode = 0600};

static char *dir, *seg_path;
static bytebuf body;

static int same_header(const batch_header *a, const batch_header *b)
{
    return a->version == b->version && a->codec == b->codec && a->base_offset == b->base_offset &&
           a->record_count == b->record_count && a->last_offset_delta == b->last_offset_delta &&
           a->body_len == b->body_len && a->raw_len == b->raw_len &&
           a->first_timestamp_us == b->first_timestamp_us && a->max_timestamp_us == b->max_timestamp_us &&
           a->body_checksum == b->body_checksum;
}

/* Read the batch at pos both ways; the code both answered, *gh the
 * header read. */
static int compare_at(segment *general, segment *window, uint64_t pos, uint64_t limit, batch_header *gh)
{
    batch_header wh;
    int grc = sl_segment_read_batch(general, pos, limit, gh, &body);
    char detail[1024];
    strncpy(detail, siglog_errdetail(), sizeof detail - 1);
    detail[sizeof detail - 1] = '\0';
    const uint8_t *wbody = NULL;
    int wrc = sl_segment_next_batch(window, pos, limit, &wh, &wbody);
    if (wrc != grc)
        fuzz_fail(TARGET, "at byte %llu, limit %llu: window read %d, general read %d (%s)", (unsigned long long)pos,
                  (unsigned long long)limit, wrc, grc, detail);
    if (grc < 0 && strcmp(detail, siglog_errdetail()) != 0)
        fuzz_fail(TARGET, "at byte %llu: window read says \"%s\", general read \"%s\"", (unsigned long long)pos,
                  siglog_errdetail(), detail);
    if (grc == 1 && (!same_header(gh, &wh) || body.len != wh.body_len || memcmp(body.data, wbody, body.len) != 0))
        fuzz_fail(TARGET, "at byte %llu: the paths read different batches", (unsigned long long)pos);
    return wrc;
}

static void compare_file(const uint8_t *choices, size_t nchoices, uint64_t len, uint64_t limit)
{
    segment *general = NULL, *window = NULL;
    if (sl_segment_open(sl_io_posix(), dir, 0, 0, &params, &general) != 0 ||
        sl_segment_open(sl_io_posix(), dir, 0, 0, &params, &window) != 0)
        fuzz_fail(TARGET, "read-only open: %s", siglog_errdetail());
    uint64_t pos = 0;
    while (pos <= limit) {
        batch_header h;
        if (compare_at(general, window, pos, limit, &h) != 1)
            break;
        pos += BATCH_HEADER_BYTES + (uint64_t)h.body_len;
    }
    for (size_t i = 0; i + 1 < nchoices; i += 2) {
        uint64_t at = ((uint64_t)choices[i] << 8 | choices[i + 1]) % (len + 1);
        batch_header h;
        compare_at(general, window, at, at > limit ? len : limit, &h);
    }
    sl_segment_close(general);
    sl_segment_close(window);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_segment_paths(&dir, &seg_path);
    size_t len;
    uint8_t *seg = fuzz_segment_bytes(data, size, data[0] & FLAG_REPAIR, &len);
    if (!seg)
        return 0;
    fuzz_empty_dir(dir);
    fuzz_write_file(seg_path, seg, len);
    /* The positions chosen: the input's last bytes. */
    size_t nchoices = len < 2 * CHOSEN_READS ? len : 2 * CHOSEN_READS;
    const uint8_t *choices = seg + len - nchoices;
    compare_file(choices, nchoices, len, len);
    compare_file(choices, nchoices, len, (uint64_t)len * data[1] / 256);
    free(seg);
    return 0;
}
