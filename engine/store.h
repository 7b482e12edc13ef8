/*
 * store — the siglog handle: the store directory, its writer lock, its
 * streams, the commit journal and the background scheduler
 * (format-spec/FORMAT.md, "Store file").
 *
 * Roles (DESIGN.md): one writer process holds an exclusive flock on
 * STORE/writer.lock (and writes its pid there for the error message of a
 * second writer); readers take no lock.
 */
#ifndef SIGLOG_STORE_H
#define SIGLOG_STORE_H

#include <pthread.h>
#include <stdint.h>

#include "error.h"
#include "io.h"
#include "io_root.h"
#include "journal.h"
#include "siglog.h"
#include "store_secret.h"
#include "stream.h"

#define STORE_MAGIC 0x534c4753u /* "SGLS" */
#define STORE_FORMAT_VERSION 1       /* no modes recorded: the defaults */
#define STORE_FORMAT_VERSION_MODES 2 /* file and directory modes recorded */
#define STORE_DEFAULT_FILE_MODE 0600u
#define STORE_DEFAULT_DIR_MODE 0700u
#define STORE_FILE_BYTES 40

/* The first offset the journal holds for a partition (recovery). */
typedef struct journal_start {
    uint32_t stream_id;
    uint32_t partition;
    uint64_t base_offset;
} journal_start;

struct siglog {
    const siglog_io *io;            /* the caller's backend seen through
                                     * root: every path resolved beneath
                                     * the store directory opened at open */
    io_root *root;
    char *path;
    siglog_options opt;
    int read_only;
    int lock_fd;
    int maintenance_idle;           /* during a writer's open of its
                                     * streams: no maintenance runs, its
                                     * leftovers are removed (maintenance.h) */
    uint64_t store_id;
    /* The writer's copy of store.secret, loaded at open and not changed
     * after (store_secret.h); without one, the reason. */
    uint8_t secret[STORE_SECRET_BYTES];
    int has_secret;
    char secret_detail[SL_ERR_DETAIL_MAX];

    pthread_mutex_t streams_mu;     /* guards the stream table */
    siglog_stream **streams;        /* sorted by name */
    size_t stream_count;
    siglog_stream **retired;        /* failed handles a new stream replaced:
                                     * valid (and failing) until close */
    size_t retired_count;
    uint32_t max_stream_id;

    pthread_mutex_t config_mu;      /* serializes stream config changes
                                     * (stream_config.c) */
    pthread_mutex_t space_mu;       /* serializes min_free's measures and
                                     * purges (space.c) */
    journal *journal;               /* writer only */
    journal_start *journal_starts;  /* filled at open, before recovery */
    struct journal_verdict *verdict; /* the journal's damage, judged at open */
    int journal_held;               /* a partition took not all the
                                     * journal holds of it (journal damage,
                                     * or segments missing): the journal
                                     * is not emptied, not even at close */
    size_t journal_start_count;
    struct commit *commit;          /* writer only: group commit state */

    struct background *background;  /* writer only: its periodic tasks */
    struct compact_task *compact_task; /* writer only: its scheduled
                                     * compaction (compact_task.c) */
    struct background *maintenance_tasks; /* writer only: retention runs, on
                                     * a thread of their own so that a long
                                     * run never delays commits (store_tasks.c) */
    int64_t interval_commit_us;     /* the commit task's last commit
                                     * (store_tasks.c; only it uses it) */
};

/* What siglog.store holds besides its creation time. Modes 0: none
 * recorded (a version 1 file), the defaults apply. */
typedef struct store_meta {
    uint64_t store_id;
    uint32_t file_mode;
    uint32_t dir_mode;
} store_meta;

/* siglog.store codec: decode validates untrusted bytes. */
void sl_store_meta_encode(uint8_t buf[STORE_FILE_BYTES], const store_meta *m, int64_t created_us);
int sl_store_meta_decode(const uint8_t *buf, size_t len, store_meta *m);

/* siglog.store at store_file read and checked; modes the store does not
 * record are the defaults. */
int sl_store_meta_read(const siglog_io *io, const char *store_file, store_meta *m);

/* A process that writes into the store (a writer, maintenance) as another
 * user than the owner of the store directory would leave files the owner
 * may not read or replace (root running a command on a user's store):
 * refused with SIGLOG_EPERM unless force_owner, and then every file and
 * directory it creates is given to the owner of the directory it is made
 * in, the store owner's (IO_MODE_PARENT_OWNER is added to both modes). */
int sl_store_check_owner(const siglog_io *io, const char *path, uint32_t force_owner, uint32_t *file_mode,
                         uint32_t *dir_mode);

/* A new store (store_create.c). sl_store_create_dir: PATH does not exist;
 * built under a temporary name and renamed into place. In place: PATH is
 * a directory without siglog.store, the writer lock held; siglog.store is
 * written last. A failure leaves nothing of what they made. */
int sl_store_create_dir(const siglog_io *io, const char *path, const siglog_options *o);
int sl_store_create_in_place(const siglog_io *io, const char *dir, const siglog_options *o);

/* SIGLOG_ENOENT: "PATH is not a siglog store (no siglog.store)". */
int sl_store_not_found(const char *path);

/* Report through options.log_fn. */
void sl_store_log(struct siglog *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* partition_log_fn adapter: ctx is the store. */
void sl_store_log_cb(void *ctx, int level, const char *msg);

/* First offset of (stream, partition) in the journal, UINT64_MAX if none. */
uint64_t sl_store_journal_start(const struct siglog *s, uint32_t stream_id, uint32_t partition);
/* Writer: hand fn each journal entry of (stream_id, partition) that
 * recovery applies, in offset order (as the open judged the journal). */
int sl_store_journal_each(struct siglog *s, uint32_t stream_id, uint32_t partition, journal_replay_fn fn, void *ctx);

/* Snapshot of the stream table (caller frees the array). */
int sl_store_streams_snapshot(struct siglog *s, siglog_stream ***out, size_t *n);

/* Wake every thread waiting for a partition's durability, after the
 * store failed: their events will never be durable. Takes streams_mu, then
 * each partition's mu in turn; call with neither held. */
void sl_store_wake_durable_waiters(struct siglog *s);

/* The writer's periodic tasks (store_tasks.c): registered and started
 * at open, stopped before close flushes; sl_background_free at store_free. */
int sl_store_tasks_start(struct siglog *s);
void sl_store_tasks_stop(struct siglog *s);

/* The scheduled compaction (compact_task.c): its task registered on b;
 * freed, once b is stopped, after waiting for a running compaction.
 * Free is idempotent. */
typedef struct compact_task compact_task;
int sl_compact_task_register(struct siglog *s, struct background *b);
void sl_compact_task_free(struct siglog *s);
/* Apply stream `stream`'s retention policy now, in the maintenance role
 * taken for the run (store_retention.c); `what` as sl_retain (retain.h):
 * 0 purges only. 0 when it ran, SIGLOG_ELOCKED when another handle holds
 * the role (skipped: nothing waited for, nothing done), else the failure.
 * Reported through the store's log either way. */
int sl_store_retain(struct siglog *s, const char *stream, unsigned what);
/* The retention task (store_retention.c): runs sl_store_retain for each
 * stream whose retention_interval passed since its last run. */
int64_t sl_store_retention_task(void *ctx);

/* min_free (space.c): whether stream st may take n more events of
 * `bytes` (keys, values and headers): 0, or SIGLOG_ENOSPC naming the
 * budget when the free space of the store's filesystem would fall below
 * the stream's min_free even after a purge its policy allows. Any
 * appender thread; takes space_mu only when it measures. */
int sl_store_space_admit(siglog_stream *st, uint64_t bytes, size_t n);
/* The space task: makes every stream measure again at its next append,
 * so space others take or free is seen within SPACE_REMEASURE_US. */
int64_t sl_store_space_task(void *ctx);
/* How soon a writer answers a maintenance process's roll request. */
#define ROLL_REQUEST_POLL_US 100000
/* The roll-request task (store_roll_request.c): answers each stream's
 * roll.request (roll_request.h). */
int64_t sl_store_roll_request_task(void *ctx);

#endif
