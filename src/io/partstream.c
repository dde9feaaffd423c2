/*
 * partstream.c — tasks of partition-scoped state, their ordered apply and their checkpoints
 * (partstream.h).
 *
 * DESIGN: a task's members (one per input topic's partition p) record the assignment epoch,
 * the sequence number of the next batch to apply and the first input offset not in the state.
 * A batch goes to the member of the newest assignment of its (topic, partition) (a topic whose
 * partition count changed has members in two tasks), waits on the task's condition until the
 * batches before it are applied, and is dropped when its assignment is over: the next owner
 * reads it again. A checkpoint holds the state and every member's offset, plus the offsets of
 * topics the restored checkpoint named that this process does not read (carried, not
 * interpreted: a checkpoint is untrusted input, and its names must not fill core/partstate's
 * topic table). Each task's checkpoints are serialised by its snap_lock, so generations go out
 * in order; the state is serialised under the task's lock and written after it is released.
 */
#include "io/partstream.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "io/changelog.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* One input partition of a task. Fields guarded by the task's lock, except topic_id (fixed),
 * assign_no and next (the task list's lock). Never freed before sl_pstream_free. */
struct sl_ptask_member {
    uint32_t topic_id;
    uint32_t epoch;
    bool live;
    uint32_t next_seq;   /* sequence number of the next batch to apply */
    int64_t next_offset; /* first input offset not in the task's state; -1: none */
    uint64_t assign_no;  /* the assignment that made it current (the newest one wins) */
    struct sl_ptask_member *next;
};

struct sl_pstream {
    struct sl_component *c;
    struct sl_pstream_conf conf;
    const struct sl_pstream_ops *ops;
    void *ud;
    sl_sym sym_offset;
    struct sl_mutex tasks_lock;
    struct sl_ptask *tasks;            /* guarded_by: tasks_lock */
    uint64_t assign_no;                /* guarded_by: tasks_lock */
    struct sl_log_limit lim;           /* guarded_by: tasks_lock */
    bool warned_groups, warned_counts; /* guarded_by: the stage's hold (hooks run one at a time) */
    struct sl_mutex cl_lock;
    struct sl_changelog *cl; /* guarded_by: cl_lock (opened at the first assignment) */
    bool cl_failed;          /* guarded_by: cl_lock */
    bool registered;
    struct sl_ticker ticker;
    char stat_names[SL_PSTREAM_STATS][96];
    atomic_uint_fast64_t written, errors, restored, restore_errors;
};

static int64_t ps_assigned(void *ud, const struct sl_partstate_part *pp);
static void ps_revoked(void *ud, const struct sl_partstate_part *pp, bool lost);
static void tick(void *ud);

struct sl_ptask *sl_pstream_head(struct sl_pstream *ps)
{
    sl_mutex_lock(&ps->tasks_lock);
    struct sl_ptask *h = ps->tasks;
    sl_mutex_unlock(&ps->tasks_lock);
    return h;
}

/* ---------------------------------------------------------------- tasks and members */

/* The task of partition `partition` of a topic with `count` partitions read by kafka source
 * `source` (count 0: of topic_id alone), made when create is set. */
static struct sl_ptask *task_find(struct sl_pstream *ps, const char *source, int32_t count,
                                  uint32_t topic_id, int32_t partition, bool create)
{
    uint32_t solo = count > 0 ? 0 : topic_id;
    sl_mutex_lock(&ps->tasks_lock);
    struct sl_ptask *t = ps->tasks;
    while (t && (t->partition != partition || t->count != count || t->solo_topic != solo ||
                 strcmp(t->source, source) != 0))
        t = t->next;
    if (!t && create) {
        t = sl_xcalloc(1, sizeof *t);
        t->ps = ps;
        t->partition = partition;
        t->count = count;
        t->solo_topic = solo;
        t->source = sl_xstrdup(source);
        if (count > 0)
            snprintf(t->key, sizeof t->key, "%s:%d/%d", source, (int)partition, (int)count);
        else if (ps->conf.topic_keys)
            sl_changelog_key(t->key, sizeof t->key, topic_id, partition);
        else
            snprintf(t->key, sizeof t->key, "%s:%s[%d]", source, sl_partstate_topic_name(topic_id),
                     (int)partition);
        sl_mutex_init(&t->lock);
        sl_mutex_init(&t->snap_lock);
        sl_cond_init(&t->cond);
        if (ps->ops->user_new)
            t->user = ps->ops->user_new(ps->ud, t);
        t->next = ps->tasks;
        ps->tasks = t;
    }
    sl_mutex_unlock(&ps->tasks_lock);
    return t;
}

/* The member of t for topic_id, made when create is set; `assign` marks it the newest
 * assignment of its partition (batches and revocations go to it). */
static struct sl_ptask_member *member_get(struct sl_pstream *ps, struct sl_ptask *t,
                                          uint32_t topic_id, bool create, bool assign)
{
    sl_mutex_lock(&ps->tasks_lock);
    struct sl_ptask_member *m = t->members;
    while (m && m->topic_id != topic_id)
        m = m->next;
    if (!m && create) {
        m = sl_xcalloc(1, sizeof *m);
        m->topic_id = topic_id;
        m->next_offset = -1;
        m->next = t->members;
        sl_mutex_lock(&t->lock); /* snapshot() walks the list under it */
        t->members = m;
        sl_mutex_unlock(&t->lock);
    }
    if (m && assign)
        m->assign_no = ++ps->assign_no;
    sl_mutex_unlock(&ps->tasks_lock);
    return m;
}

/* The task and member a batch of (topic_id, partition) goes to: the newest assignment of it.
 * NULL when none. */
static struct sl_ptask *route(struct sl_pstream *ps, uint32_t topic_id, int32_t partition,
                              struct sl_ptask_member **out)
{
    struct sl_ptask *best = NULL;
    *out = NULL;
    sl_mutex_lock(&ps->tasks_lock);
    for (struct sl_ptask *t = ps->tasks; t; t = t->next) {
        if (t->partition != partition)
            continue;
        for (struct sl_ptask_member *m = t->members; m; m = m->next)
            if (m->topic_id == topic_id && (!*out || m->assign_no > (*out)->assign_no)) {
                *out = m;
                best = t;
            }
    }
    sl_mutex_unlock(&ps->tasks_lock);
    return best;
}

/* ---------------------------------------------------------------- checkpoints */

/* The changelog, opened at the first assignment (the source's group names its default topic).
 * NULL when it cannot be opened (logged once: the state is then kept in memory only). */
static struct sl_changelog *changelog_get(struct sl_pstream *ps, const struct sl_partstate_part *pp)
{
    sl_mutex_lock(&ps->cl_lock);
    if (!ps->cl && !ps->cl_failed && pp && ps->conf.changelog) {
        char topic[512];
        struct sl_diag d;
        sl_diag_init(&d);
        if (sl_changelog_open_opt(ps->c, ps->conf.changelog, pp, topic, sizeof topic, &ps->cl,
                                  &d)) {
            sl_log(SL_LOG_ERROR, ps->c->name,
                   "changelog %s: %s; %s is NOT checkpointed (a takeover starts it empty)", topic,
                   d.msg, ps->conf.what);
            ps->cl_failed = true;
        }
    }
    struct sl_changelog *cl = ps->cl;
    sl_mutex_unlock(&ps->cl_lock);
    return cl;
}

/* The checkpoint of state (t->lock held by the caller, or the state already detached and the
 * members no longer changing) into b, with every member's input offset. */
static int snapshot(struct sl_pstream *ps, struct sl_ptask *t, void *state, struct sl_buf *b)
{
    uint32_t n = t->nkeep;
    for (struct sl_ptask_member *m = t->members; m; m = m->next)
        n += m->next_offset >= 0;
    struct sl_partstate_offset *offs = sl_xmalloc((n ? n : 1) * sizeof *offs);
    n = 0;
    for (struct sl_ptask_member *m = t->members; m; m = m->next) {
        const char *topic = sl_partstate_topic_name(m->topic_id);
        if (topic && m->next_offset >= 0 && n < SL_PARTSTATE_MAX_OFFSETS)
            offs[n++] = (struct sl_partstate_offset){topic, m->next_offset};
    }
    for (uint32_t i = 0; i < t->nkeep; i++)
        if (t->keep[i].topic && n < SL_PARTSTATE_MAX_OFFSETS)
            offs[n++] = t->keep[i];
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = ps->ops->save(ps->ud, t, state, offs, n, b, &d);
    sl_free(offs);
    if (rc) {
        atomic_fetch_add(&ps->errors, 1);
        sl_log(SL_LOG_ERROR, ps->c->name, "checkpoint of task %s not written: %s", t->key,
               d.msg[0] ? d.msg : sl_strerror(rc));
    }
    return rc;
}

/* Write b as t's next generation, `applied` batches in. Caller holds t->snap_lock; not a worker
 * (it waits for the brokers). */
static void checkpoint_write(struct sl_pstream *ps, struct sl_changelog *cl, struct sl_ptask *t,
                             const struct sl_buf *b, uint64_t applied)
{
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = ps->ops->sync ? ps->ops->sync(ps->ud, &d) : 0;
    if (!rc)
        rc = sl_changelog_write(cl, t->key, t->partition, t->generation + 1, b->ptr, b->len, &d);
    if (rc) {
        atomic_fetch_add(&ps->errors, 1);
        sl_log(SL_LOG_ERROR, ps->c->name,
               "checkpoint of task %s not written (the last one stays): %s", t->key, d.msg);
        return;
    }
    t->generation++;
    t->snap_applied = applied;
    atomic_fetch_add(&ps->written, 1);
    sl_log(t->generation == 1 ? SL_LOG_INFO : SL_LOG_DEBUG, ps->c->name,
           "checkpoint %s: generation %llu, %zu bytes", t->key, (unsigned long long)t->generation,
           b->len);
}

/* A checkpoint of t if it moved since the last one. */
static void checkpoint_task(struct sl_pstream *ps, struct sl_changelog *cl, struct sl_ptask *t)
{
    sl_mutex_lock(&t->snap_lock);
    sl_mutex_lock(&t->lock);
    if (!t->nlive || !t->state || t->applied == t->snap_applied) {
        sl_mutex_unlock(&t->lock);
        sl_mutex_unlock(&t->snap_lock);
        return;
    }
    uint64_t applied = t->applied;
    struct sl_buf b;
    sl_buf_init(&b, ps->conf.max_bytes);
    int rc = snapshot(ps, t, t->state, &b);
    sl_mutex_unlock(&t->lock);
    if (!rc)
        checkpoint_write(ps, cl, t, &b, applied);
    sl_buf_fini(&b);
    sl_mutex_unlock(&t->snap_lock);
}

static void tick(void *ud)
{
    struct sl_pstream *ps = ud;
    struct sl_changelog *cl = changelog_get(ps, NULL);
    for (struct sl_ptask *t = sl_pstream_head(ps); cl && t; t = t->next)
        checkpoint_task(ps, cl, t);
}

/* A new state for t, restored from its checkpoint: *offs (sl_free) are the input offsets it
 * includes. Caller holds hold and snap_lock. */
static void *restore(struct sl_pstream *ps, struct sl_ptask *t, struct sl_changelog *cl,
                     struct sl_partstate_offset **offs, uint32_t *noffs, uint64_t *gen)
{
    void *state = ps->ops->make(ps->ud, t);
    *offs = NULL;
    *noffs = 0;
    *gen = 0;
    void *data = NULL;
    size_t len = 0;
    struct sl_diag d;
    sl_diag_init(&d);
    char info[256] = "";
    int64_t t0 = sl_clock_mono_ns();
    int rc = sl_changelog_read(cl, t->key, t->partition, &data, &len, gen, &d);
    if (!rc &&
        (rc = ps->ops->load(ps->ud, t, state, data, len, offs, noffs, info, sizeof info, &d))) {
        sl_mutex_lock(&t->lock);
        ps->ops->drop(ps->ud, t, state, SL_PSTREAM_BAD); /* it may hold part of it */
        sl_mutex_unlock(&t->lock);
        state = ps->ops->make(ps->ud, t);
        sl_free(*offs);
        *offs = NULL;
        *noffs = 0;
    }
    sl_free(data);
    if (!rc) {
        atomic_fetch_add(&ps->restored, 1);
        char offtxt[512];
        size_t at = 0;
        offtxt[0] = 0;
        for (uint32_t i = 0; i < *noffs && at < sizeof offtxt - 1; i++) {
            int w = snprintf(offtxt + at, sizeof offtxt - at, "%s%s %lld", i ? ", " : "",
                             (*offs)[i].topic, (long long)(*offs)[i].next);
            at += w > 0 ? (size_t)w : 0;
        }
        sl_log(SL_LOG_INFO, ps->c->name,
               "task %s: state restored from %s (generation %llu, %zu bytes%s%s, input offsets: "
               "%s) in %lld ms",
               t->key, sl_changelog_topic(cl), (unsigned long long)*gen, len, info[0] ? ", " : "",
               info, *noffs ? offtxt : "none", (long long)((sl_clock_mono_ns() - t0) / 1000000));
    } else if (rc == SL_ENOENT) {
        /* no checkpoint: the state of no input at all, so the partitions are read from their
         * start whatever the group committed (a node may have read and committed part of them
         * and died before its first checkpoint) */
        sl_log(SL_LOG_INFO, ps->c->name,
               "task %s: no checkpoint in %s: the state is rebuilt from the start of its "
               "partitions",
               t->key, sl_changelog_topic(cl));
        *gen = 0;
    } else {
        atomic_fetch_add(&ps->restore_errors, 1);
        sl_log(SL_LOG_ERROR, ps->c->name,
               "task %s: state not restored (%s): rebuilt from the start of its partitions", t->key,
               d.msg);
        *gen = 0;
    }
    return state;
}

/* ---------------------------------------------------------------- the source's hooks */

/* topics that cannot meet in one task, for a stage that relates them (under hold) */
static void warn_apart(struct sl_pstream *ps, const struct sl_partstate_part *pp,
                       const char *source)
{
    sl_mutex_lock(&ps->tasks_lock);
    for (struct sl_ptask *o = ps->tasks; o; o = o->next) {
        if (!ps->warned_groups && strcmp(o->source, source) != 0) {
            ps->warned_groups = true;
            sl_log(SL_LOG_WARN, ps->c->name,
                   "inputs from two kafka sources (%s, %s), each its own consumer group: their "
                   "partitions are assigned separately, so a join between their topics does "
                   "not meet; read the joined topics with one kafka source (docs/sql.md "
                   "\"Scale-out and restart state\")",
                   o->source, source);
        }
        /* topics of one source with other partition counts: tasks of their own */
        if (!ps->warned_counts && pp->partitions > 0 && o->count > 0 &&
            o->count != pp->partitions && strcmp(o->source, source) == 0 && o->members) {
            ps->warned_counts = true;
            sl_log(SL_LOG_WARN, ps->c->name,
                   "topics %s (%d partitions) and %s (%d) are not co-partitioned: a join "
                   "between them does not meet (ksqlDB refuses it); repartition one to the "
                   "other's count (docs/sql.md \"Scale-out and restart state\")",
                   sl_partstate_topic_name(o->members->topic_id), (int)o->count, pp->topic,
                   (int)pp->partitions);
        }
    }
    sl_mutex_unlock(&ps->tasks_lock);
}

static int64_t ps_assigned(void *ud, const struct sl_partstate_part *pp)
{
    struct sl_pstream *ps = ud;
    const char *source = pp->source ? pp->source : "";
    int32_t count = ps->conf.tasks && pp->partitions > 0 ? pp->partitions : 0;
    struct sl_ptask *t = task_find(ps, source, count, pp->topic_id, pp->partition, true);
    struct sl_changelog *cl = changelog_get(ps, pp);
    if (ps->ops->hold)
        ps->ops->hold(ps->ud, true);
    if (ps->ops->relates && ps->ops->relates(ps->ud))
        warn_apart(ps, pp, source);
    sl_mutex_lock(&t->snap_lock);
    sl_mutex_lock(&t->lock);
    bool have = t->state != NULL;
    sl_mutex_unlock(&t->lock);
    /* the first member held: a new state, restored (hooks run one at a time: no other
     * assigned() or revoked() installs one meanwhile) */
    void *state = NULL;
    struct sl_partstate_offset *offs = NULL;
    uint32_t noffs = 0;
    uint64_t gen = 0;
    if (!have)
        state = cl ? restore(ps, t, cl, &offs, &noffs, &gen) : ps->ops->make(ps->ud, t);
    struct sl_ptask_member **seeded = sl_xcalloc(noffs ? noffs : 1, sizeof *seeded);
    for (uint32_t i = 0; i < noffs; i++) {
        /* a topic of the checkpoint not held yet: its offset waits for it. Only topics this
         * process reads (the source names them all before the hooks run): the checkpoint's
         * names are untrusted and must not fill core/partstate's table (its id 0 has no name,
         * and a member without one would break every later checkpoint) */
        uint32_t id = sl_partstate_topic_find(offs[i].topic);
        seeded[i] = id ? member_get(ps, t, id, true, false) : NULL;
    }
    struct sl_ptask_member *m = member_get(ps, t, pp->topic_id, true, true);
    sl_mutex_lock(&t->lock);
    if (!have) {
        t->state = state;
        t->applied = 0;
        t->generation = gen;
        t->snap_applied = 0;
        for (struct sl_ptask_member *o = t->members; o; o = o->next) {
            o->next_offset = -1; /* the new state holds nothing of them... */
            o->live = false;
        }
        for (uint32_t i = 0; i < noffs; i++)
            if (seeded[i]) /* ...but what the checkpoint holds */
                seeded[i]->next_offset = offs[i].next;
        /* the offsets of topics not read here stay in the next checkpoints */
        sl_free(t->keep);
        t->keep = NULL;
        t->nkeep = 0;
        uint32_t nk = 0;
        for (uint32_t i = 0; i < noffs; i++)
            if (!seeded[i])
                offs[nk++] = offs[i];
        if (nk) {
            t->keep = offs; /* the names are inside the allocation */
            t->nkeep = nk;
            offs = NULL;
        }
        t->nlive = 0;
    }
    if (m->next_offset < 0 && pp->topic) /* a kept offset of this topic */
        for (uint32_t i = 0; i < t->nkeep; i++)
            if (t->keep[i].topic && strcmp(t->keep[i].topic, pp->topic) == 0) {
                m->next_offset = t->keep[i].next;
                t->keep[i].topic = NULL;
            }
    if (!m->live)
        t->nlive++;
    m->live = true;
    m->epoch = pp->epoch;
    m->next_seq = 1;
    /* the offset the state needs: none without a changelog; else what the state holds of the
     * partition, or its start (the state holds nothing of it) */
    int64_t need = !cl ? SL_PARTSTATE_NONE : m->next_offset >= 0 ? m->next_offset : 0;
    sl_cond_broadcast(&t->cond);
    sl_mutex_unlock(&t->lock);
    sl_mutex_unlock(&t->snap_lock);
    if (ps->ops->hold)
        ps->ops->hold(ps->ud, false);
    sl_log(SL_LOG_DEBUG, ps->c->name, "task %s: %s[%d] held (%u member(s)), from offset %lld",
           t->key, pp->topic, (int)pp->partition, t->nlive, (long long)need);
    sl_free(seeded);
    sl_free(offs);
    return need;
}

static void ps_revoked(void *ud, const struct sl_partstate_part *pp, bool lost)
{
    struct sl_pstream *ps = ud;
    struct sl_ptask_member *m = NULL;
    struct sl_ptask *t = route(ps, pp->topic_id, pp->partition, &m);
    if (!t)
        return;
    struct sl_changelog *cl = changelog_get(ps, NULL);
    sl_mutex_lock(&t->snap_lock);
    sl_mutex_lock(&t->lock);
    if (!m->live || m->epoch != pp->epoch) {
        sl_mutex_unlock(&t->lock);
        sl_mutex_unlock(&t->snap_lock);
        return;
    }
    m->live = false;
    t->nlive--;
    sl_cond_broadcast(&t->cond);
    bool moved = t->applied != t->snap_applied;
    uint64_t applied = t->applied;
    struct sl_buf b;
    sl_buf_init(&b, ps->conf.max_bytes);
    /* a checkpoint for whoever takes the partition over; not when it was lost (the next
     * owner restores the last periodic one). When other members stay, the offset of this one
     * stays in the state: it holds what was read of it. */
    int rc = cl && !lost && moved && t->state ? snapshot(ps, t, t->state, &b) : -1;
    if (!t->nlive && t->state) {
        /* the last member: the state goes */
        ps->ops->drop(ps->ud, t, t->state, cl ? SL_PSTREAM_KEPT : SL_PSTREAM_UNKEPT);
        t->state = NULL;
    }
    sl_mutex_unlock(&t->lock);
    if (!rc)
        checkpoint_write(ps, cl, t, &b, applied);
    sl_buf_fini(&b);
    sl_mutex_unlock(&t->snap_lock);
}

/* ---------------------------------------------------------------- applying batches */

struct sl_ptask *sl_pstream_begin(struct sl_pstream *ps, const struct sl_batch *b,
                                  struct sl_pstream_apply *ap)
{
    const struct sl_batch_origin og = b->origin;
    struct sl_ptask_member *m = NULL;
    struct sl_ptask *t = route(ps, og.topic, og.partition, &m);
    if (!t) {
        sl_mutex_lock(&ps->tasks_lock);
        sl_log_ratelimited(&ps->lim, 5, SL_LOG_WARN, ps->c->name,
                           "a batch of %s[%d] that this node does not hold: not applied",
                           sl_partstate_topic_name(og.topic), (int)og.partition);
        sl_mutex_unlock(&ps->tasks_lock);
        return NULL;
    }
    sl_mutex_lock(&t->lock);
    int64_t deadline = sl_clock_mono_ns() + ps->conf.order_wait_ns;
    while (m->live && m->epoch == og.epoch && og.seq > m->next_seq) {
        if (sl_cond_wait_until(&t->cond, &t->lock, deadline)) {
            /* t's own limit: tasks_lock is taken before a task's lock, never after */
            sl_log_ratelimited(&t->lim, 5, SL_LOG_WARN, ps->c->name,
                               "%s[%d]: batch %u waited %lld ms for batch %u (a transform before "
                               "this one holds or dropped it?): applied without it; if it comes "
                               "later its events are below the offsets applied and are skipped, "
                               "missing from the state",
                               sl_partstate_topic_name(og.topic), (int)og.partition, og.seq,
                               (long long)(ps->conf.order_wait_ns / 1000000), m->next_seq);
            break;
        }
    }
    if (!m->live || m->epoch != og.epoch || !t->state) {
        t->dropped++;
        sl_log_ratelimited(&t->lim, 5, SL_LOG_INFO, ps->c->name,
                           "a batch of %s[%d] from before its partition was let go: not applied "
                           "(its next owner reads it again)",
                           sl_partstate_topic_name(og.topic), (int)og.partition);
        sl_mutex_unlock(&t->lock);
        return NULL;
    }
    *ap = (struct sl_pstream_apply){ps, t, m, og.seq, m->next_offset, -1};
    return t;
}

bool sl_pstream_take(struct sl_pstream_apply *ap, const struct sl_event *ev)
{
    const struct sl_value *v = sl_event_get(ev, ap->ps->sym_offset);
    int64_t off = v && v->type == SL_V_INT ? v->u.i : -1;
    if (off >= 0 && off < ap->skip_below)
        return false; /* in the restored state already */
    if (off > ap->last)
        ap->last = off;
    return true;
}

void sl_pstream_end(struct sl_pstream_apply *ap)
{
    struct sl_ptask *t = ap->t;
    struct sl_ptask_member *m = ap->m;
    if (ap->last >= 0 && ap->last + 1 > m->next_offset) {
        m->next_offset = ap->last + 1;
        t->applied++;
    }
    if (ap->seq >= m->next_seq)
        m->next_seq = ap->seq + 1;
    sl_cond_broadcast(&t->cond);
    sl_mutex_unlock(&t->lock);
}

void sl_pstream_touch(struct sl_ptask *t)
{
    t->applied++;
}

/* ---------------------------------------------------------------- life */

int sl_pstream_new(struct sl_component *c, const struct sl_pstream_conf *conf,
                   const struct sl_pstream_ops *ops, void *ud, struct sl_pstream **out,
                   struct sl_diag *d)
{
    struct sl_pstream *ps = sl_xcalloc(1, sizeof *ps);
    ps->c = c;
    ps->conf = *conf;
    if (ps->conf.order_wait_ns <= 0)
        ps->conf.order_wait_ns = 10 * 1000000000ll;
    if (!ps->conf.max_bytes)
        ps->conf.max_bytes = 256u << 20;
    ps->ops = ops;
    ps->ud = ud;
    ps->sym_offset = sl_sym_intern_c("@kafka.offset");
    sl_mutex_init(&ps->tasks_lock);
    sl_mutex_init(&ps->cl_lock);
    static const char *const names[SL_PSTREAM_STATS] = {"checkpoints_written", "checkpoint_errors",
                                                        "checkpoints_restored",
                                                        "checkpoint_restore_errors"};
    for (int i = 0; i < SL_PSTREAM_STATS; i++)
        snprintf(ps->stat_names[i], sizeof ps->stat_names[i], "%s_%s", conf->stat_prefix, names[i]);
    *out = ps;
    if (conf->changelog &&
        sl_ticker_start(&ps->ticker, conf->thread, conf->interval_ns, tick, ps) != 0)
        return sl_diag_set(d, SL_ESYS, "%s: cannot start the checkpoint thread", c->name);
    static const struct sl_partstate_ops ps_ops_tasks = {ps_assigned, ps_revoked, true};
    static const struct sl_partstate_ops ps_ops_solo = {ps_assigned, ps_revoked, false};
    sl_partstate_register(c->pipe, conf->tasks ? &ps_ops_tasks : &ps_ops_solo, ps);
    ps->registered = true;
    return 0;
}

void sl_pstream_free(struct sl_pstream *ps)
{
    if (!ps)
        return;
    if (ps->registered)
        sl_partstate_unregister(ps);
    sl_ticker_stop(&ps->ticker);
    sl_changelog_close(ps->cl);
    for (struct sl_ptask *t = ps->tasks, *nx; t; t = nx) {
        nx = t->next;
        for (struct sl_ptask_member *m = t->members, *mn; m; m = mn) {
            mn = m->next;
            sl_free(m);
        }
        if (t->state) {
            sl_mutex_lock(&t->lock);
            ps->ops->drop(ps->ud, t, t->state, SL_PSTREAM_UNKEPT);
            sl_mutex_unlock(&t->lock);
        }
        if (ps->ops->user_free)
            ps->ops->user_free(ps->ud, t->user);
        sl_free((char *)t->source);
        sl_free(t->keep);
        sl_mutex_fini(&t->lock);
        sl_mutex_fini(&t->snap_lock);
        sl_cond_fini(&t->cond);
        sl_free(t);
    }
    sl_mutex_fini(&ps->tasks_lock);
    sl_mutex_fini(&ps->cl_lock);
    sl_free(ps);
}

void sl_pstream_counts(struct sl_pstream *ps, struct sl_pstream_counts *out)
{
    *out = (struct sl_pstream_counts){atomic_load(&ps->written), atomic_load(&ps->errors),
                                      atomic_load(&ps->restored), atomic_load(&ps->restore_errors)};
}

size_t sl_pstream_stats(struct sl_pstream *ps, struct sl_comp_stat *out)
{
    out[0] = (struct sl_comp_stat){ps->stat_names[0], "task checkpoints written to the changelog",
                                   false, (double)atomic_load(&ps->written)};
    out[1] = (struct sl_comp_stat){ps->stat_names[1], "task checkpoints not written", false,
                                   (double)atomic_load(&ps->errors)};
    out[2] = (struct sl_comp_stat){ps->stat_names[2], "task states restored from the changelog",
                                   false, (double)atomic_load(&ps->restored)};
    out[3] = (struct sl_comp_stat){ps->stat_names[3], "checkpoints that could not be restored",
                                   false, (double)atomic_load(&ps->restore_errors)};
    return SL_PSTREAM_STATS;
}
