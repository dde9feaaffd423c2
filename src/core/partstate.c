/*
 * partstate.c — the registry of partition-scoped stages (see partstate.h) and the topic ids
 * that batches carry in their origin.
 *
 * DESIGN: a handful of registrations per process, so a fixed array under one mutex; the hooks
 * run under it, which also keeps two sources of one pipeline from restoring at the same time.
 * Topic names are interned into a fixed table that is never shrunk, so an id stays valid in
 * batches still in flight after their partition was let go.
 */
#include "core/partstate.h"

#include "base/alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define MAX_REG    32
#define MAX_TOPICS 4096

struct reg {
    const struct sl_pipeline *pipe;
    const struct sl_partstate_ops *ops;
    void *ud;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg regs[MAX_REG]; /* guarded_by: lock */
static size_t nregs;             /* guarded_by: lock */
/* a lock of its own: the hooks, which run under `lock`, name topics */
static pthread_mutex_t topics_lock = PTHREAD_MUTEX_INITIALIZER;
static char *topics[MAX_TOPICS]; /* guarded_by: topics_lock (written once per slot) */
static size_t ntopics;           /* guarded_by: topics_lock */
static atomic_uint epochs;

void sl_partstate_register(const struct sl_pipeline *pipe, const struct sl_partstate_ops *ops,
                           void *ud)
{
    pthread_mutex_lock(&lock);
    if (nregs < MAX_REG)
        regs[nregs++] = (struct reg){pipe, ops, ud};
    pthread_mutex_unlock(&lock);
}

void sl_partstate_unregister(void *ud)
{
    pthread_mutex_lock(&lock);
    size_t j = 0;
    for (size_t i = 0; i < nregs; i++)
        if (regs[i].ud != ud)
            regs[j++] = regs[i];
    nregs = j;
    pthread_mutex_unlock(&lock);
}

bool sl_partstate_active(const struct sl_pipeline *pipe)
{
    bool any = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nregs && !any; i++)
        any = regs[i].pipe == pipe;
    pthread_mutex_unlock(&lock);
    return any;
}

bool sl_partstate_wants_counts(const struct sl_pipeline *pipe)
{
    bool any = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nregs && !any; i++)
        any = regs[i].pipe == pipe && regs[i].ops->partition_counts;
    pthread_mutex_unlock(&lock);
    return any;
}

int64_t sl_partstate_assigned(const struct sl_pipeline *pipe, struct sl_partstate_part *pp)
{
    pp->epoch = atomic_fetch_add(&epochs, 1) + 1;
    int64_t lo = SL_PARTSTATE_NONE;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nregs; i++) {
        if (regs[i].pipe != pipe)
            continue;
        int64_t off = regs[i].ops->assigned(regs[i].ud, pp);
        if (off >= 0 && (lo < 0 || off < lo))
            lo = off;
    }
    pthread_mutex_unlock(&lock);
    return lo;
}

void sl_partstate_revoked(const struct sl_pipeline *pipe, const struct sl_partstate_part *pp,
                          bool lost)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nregs; i++)
        if (regs[i].pipe == pipe)
            regs[i].ops->revoked(regs[i].ud, pp, lost);
    pthread_mutex_unlock(&lock);
}

/* The id of topic, 0 when it has none; with add, one is given while the table has room. */
static uint32_t topic_lookup(const char *topic, bool add)
{
    uint32_t id = 0;
    pthread_mutex_lock(&topics_lock);
    for (size_t i = 0; i < ntopics && !id; i++)
        if (strcmp(topics[i], topic) == 0)
            id = (uint32_t)i + 1;
    if (!id && add && ntopics < MAX_TOPICS) {
        topics[ntopics++] = sl_xstrdup(topic); /* kept for the process's lifetime */
        id = (uint32_t)ntopics;
    }
    pthread_mutex_unlock(&topics_lock);
    return id;
}

uint32_t sl_partstate_topic_id(const char *topic)
{
    return topic_lookup(topic, true);
}

uint32_t sl_partstate_topic_find(const char *topic)
{
    return topic_lookup(topic, false);
}

const char *sl_partstate_topic_name(uint32_t id)
{
    const char *s = NULL;
    pthread_mutex_lock(&topics_lock);
    if (id >= 1 && id <= ntopics)
        s = topics[id - 1];
    pthread_mutex_unlock(&topics_lock);
    return s;
}
