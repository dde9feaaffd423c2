/*
 * partstream.h — partition-scoped state for a stage, in tasks checkpointed to a changelog: the
 * piece the `sql` and `aggregate` transforms share when `changelog:` is set (docs/cluster.md
 * "State and takeover").
 *
 * A task is partition p of every topic with the same partition count read by one kafka source
 * (one consumer group), as ksqlDB's stream task holds partition p of its co-partitioned topics:
 * with `tasks` off (or a topic whose count the source could not learn) each (topic, partition)
 * is a task of its own. A task holds the stage's state (an engine: `make`) while the source
 * holds one of its partitions (a member); the first member's assignment restores the state from
 * the changelog (`load`: with one input offset per topic, below which the member's events are in
 * the state already and skipped), the last member's revocation writes a final checkpoint
 * (`save`) and drops it. A checkpoint thread writes every task that moved each `interval_ns`.
 * Batches of a partition are applied in the order the source read them whichever worker carries
 * them (sl_pstream_begin waits for their turn, at most order_wait_ns).
 *
 *   struct sl_pstream_apply ap;
 *   struct sl_ptask *t = sl_pstream_begin(ps, batch, &ap);   // locked, in turn; NULL: skip it
 *   if (t) {
 *       for each event ev: if (sl_pstream_take(&ap, ev)) apply ev to t->state;
 *       sl_pstream_end(&ap);                                   // unlocks
 *   }
 *
 * Threads: the hooks run on the kafka source's thread, begin/take/end on workers, the
 * checkpoint thread on its own. Lock order: the stage's `hold` lock, a task's snapshot lock,
 * the task list's lock, a task's lock (t->lock, which guards t->state and t->user).
 */
#ifndef SL_IO_PARTSTREAM_H
#define SL_IO_PARTSTREAM_H

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "core/component.h"
#include "core/event.h"
#include "core/partstate.h"
#include "sys/thread.h"

#include <stdbool.h>
#include <stdint.h>

struct sl_pstream;
struct sl_ptask_member;

/* A task. The stage reads key, partition, count and source; state and user under lock. */
struct sl_ptask {
    struct sl_mutex lock;
    void *state; /* the stage's engine; NULL while no member is held */
    void *user;  /* the stage's own (user_new): lives as long as the task */
    int32_t partition;
    int32_t count;         /* the members' partition count; 0: unknown (then one topic) */
    const char *source;    /* the kafka source the members come from */
    char key[400];         /* in the changelog and the log */
    struct sl_ptask *next; /* the list only grows at its head: walk it from sl_pstream_head() */
    /* partstream's own below */
    struct sl_pstream *ps;
    uint32_t solo_topic;
    struct sl_ptask_member *members;
    uint32_t nlive;
    struct sl_cond cond;
    uint64_t applied, dropped;
    struct sl_mutex snap_lock;
    uint64_t generation, snap_applied;
    struct sl_partstate_offset *keep;
    uint32_t nkeep;
    struct sl_log_limit lim; /* guarded_by: lock */
};

/* Why a state is let go. */
enum sl_pstream_drop {
    SL_PSTREAM_BAD,    /* a restore failed half-way: what it holds is not to be used */
    SL_PSTREAM_KEPT,   /* its partitions were revoked and the changelog holds it: the next
                        * owner restores it */
    SL_PSTREAM_UNKEPT, /* revoked with no changelog to hold it, or the stage ends */
};

struct sl_pstream_ops {
    /* A new, empty state for t (no task lock held; under `hold`). Never NULL. */
    void *(*make)(void *ud, struct sl_ptask *t);
    /* Load checkpoint p (n bytes, untrusted) into state, fresh from make(): its input offsets into
     * *offs (one allocation, names inside, sl_free) and *noffs; a line for the log (what the
     * state holds) into info. 0, or an error with d set: the state may hold part of it. */
    int (*load)(void *ud, struct sl_ptask *t, void *state, const void *p, size_t n,
                struct sl_partstate_offset **offs, uint32_t *noffs, char *info, size_t infocap,
                struct sl_diag *d);
    /* Append state's checkpoint with these input offsets to out (a capped buffer); t->lock held,
     * or the state already detached. 0 or an error with d set. */
    int (*save)(void *ud, struct sl_ptask *t, void *state, const struct sl_partstate_offset *offs,
                uint32_t noffs, struct sl_buf *out, struct sl_diag *d);
    /* The state is let go, t->lock held: free it, or keep what it holds for output (`why`). */
    void (*drop)(void *ud, struct sl_ptask *t, void *state, enum sl_pstream_drop why);
    /* Optional: t->user at the task's creation, and its end (at sl_pstream_free). */
    void *(*user_new)(void *ud, struct sl_ptask *t);
    void (*user_free)(void *ud, void *user);
    /* Optional: taken around an assignment (make, load, install), e.g. the stage's catalog. */
    void (*hold)(void *ud, bool on);
    /* Optional: true when the stage relates its topics (a join): partstream then warns about
     * topics that cannot meet in one task. Under `hold`. */
    bool (*relates)(void *ud);
    /* Optional: before a checkpoint is written (not under a task's lock): make durable what the
     * state already handed on (the profiler's store), since the checkpoint says it is done. */
    int (*sync)(void *ud, struct sl_diag *d);
};

struct sl_pstream_conf {
    const char *what;                  /* "SQL state", for the log */
    const char *thread;                /* the checkpoint thread's name (15 bytes at most) */
    const char *stat_prefix;           /* "sluice_sql": <prefix>_checkpoints_written... */
    const struct sl_strmap *changelog; /* the stage's `changelog:` map; NULL: none (the
                                        * tasks still apply batches in order) */
    int64_t interval_ns;               /* between checkpoints */
    int64_t order_wait_ns;             /* a batch waits this long for its predecessor; 0: 10 s */
    size_t max_bytes;                  /* of one checkpoint; 0: 256 MiB */
    bool tasks;                        /* group the topics of a source by partition count */
    bool topic_keys; /* a task of one topic is keyed "<topic>/<partition>" in the changelog
                      * (the profiler's keys), not "<source>:<topic>[<partition>]" */
};

/* Register with core/partstate for c's pipeline and start the checkpoint thread. ops and ud
 * outlive it; conf's strings too. */
int sl_pstream_new(struct sl_component *c, const struct sl_pstream_conf *conf,
                   const struct sl_pstream_ops *ops, void *ud, struct sl_pstream **out,
                   struct sl_diag *d);
/* Unregister, stop the thread, drop every state (no checkpoint), free. NULL is a no-op. */
void sl_pstream_free(struct sl_pstream *ps);

/* The newest task; ->next to walk them all (tasks are never freed before sl_pstream_free). */
struct sl_ptask *sl_pstream_head(struct sl_pstream *ps);

/* Applying one batch of a partition (b->origin set by the kafka source). */
struct sl_pstream_apply {
    struct sl_pstream *ps;
    struct sl_ptask *t;
    struct sl_ptask_member *m;
    uint32_t seq;
    int64_t skip_below, last;
};
/* b's task, locked, once the batches read before b from its partition are applied (or after
 * order_wait_ns: logged); NULL (nothing held) when b is not to be applied: its partition is not
 * held here, or its assignment is over (logged, counted). */
struct sl_ptask *sl_pstream_begin(struct sl_pstream *ps, const struct sl_batch *b,
                                  struct sl_pstream_apply *ap);
/* Is ev to be applied (false: its offset is below what the restored state holds)? */
bool sl_pstream_take(struct sl_pstream_apply *ap, const struct sl_event *ev);
/* The batch is applied: offsets and turn move on, the task is unlocked. */
void sl_pstream_end(struct sl_pstream_apply *ap);

/* The stage changed t->state outside a batch (t->lock held), e.g. it closed and emitted windows
 * on a tick: the next periodic checkpoint, and the one at revocation, are written even when no
 * batch was applied since the last (else the next owner restores what was already emitted). */
void sl_pstream_touch(struct sl_ptask *t);

/* Checkpoint counters as component stats (written, errors, restored, restore errors). */
size_t sl_pstream_stats(struct sl_pstream *ps, struct sl_comp_stat *out);
#define SL_PSTREAM_STATS 4
/* The same counters, for a stage that names them itself. */
struct sl_pstream_counts {
    uint64_t written, errors, restored, restore_errors;
};
void sl_pstream_counts(struct sl_pstream *ps, struct sl_pstream_counts *out);

#endif
