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
#include "base/binrd.h"
#include "base/err.h"

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

/* ---------------------------------------------------------------- offsets in checkpoints */

int sl_partstate_offsets_put(struct sl_buf *b, const struct sl_partstate_offset *offs, uint32_t n)
{
    if (n > SL_PARTSTATE_MAX_OFFSETS)
        return SL_EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = offs[i].topic ? strlen(offs[i].topic) : 0;
        if (offs[i].next < 0 || len == 0 || len > SL_PARTSTATE_MAX_NAME)
            return SL_EINVAL;
    }
    int rc = sl_binwr_u32(b, n);
    for (uint32_t i = 0; i < n && !rc; i++) {
        rc = sl_binwr_str(b, offs[i].topic, strlen(offs[i].topic));
        if (!rc)
            rc = sl_binwr_u64(b, (uint64_t)offs[i].next);
    }
    return rc;
}

struct sl_partstate_offset *sl_partstate_offsets_get(struct sl_binrd *r, uint32_t *count)
{
    /* an entry takes at least 12 bytes: the name's length and the offset */
    uint32_t n = sl_binrd_count(r, 12);
    *count = 0;
    if (!r->ok || n == 0)
        return NULL;
    if (n > SL_PARTSTATE_MAX_OFFSETS) {
        sl_binrd_fail(r, "too many input offsets");
        return NULL;
    }
    size_t start = r->pos, names = 0;
    for (uint32_t i = 0; i < n && r->ok; i++) {
        struct sl_str t = sl_binrd_str(r, SL_PARTSTATE_MAX_NAME);
        int64_t off = sl_binrd_i64(r);
        if (r->ok && off < 0)
            sl_binrd_fail(r, "a negative offset");
        if (r->ok && (t.len == 0 || memchr(t.ptr, 0, t.len)))
            sl_binrd_fail(r, "an input topic with no name or a NUL byte");
        names += t.len + 1;
    }
    if (!r->ok)
        return NULL;
    struct sl_partstate_offset *o = sl_xmalloc(n * sizeof *o + names);
    char *np = (char *)(o + n);
    r->pos = start;
    for (uint32_t i = 0; i < n; i++) {
        struct sl_str t = sl_binrd_str(r, SL_PARTSTATE_MAX_NAME);
        memcpy(np, t.ptr, t.len);
        np[t.len] = 0;
        o[i].topic = np;
        o[i].next = sl_binrd_i64(r);
        np += t.len + 1;
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(o[k].topic, o[i].topic) == 0)
                sl_binrd_fail(r, "an input topic twice");
    }
    if (!r->ok) {
        sl_free(o);
        return NULL;
    }
    *count = n;
    return o;
}

int sl_partstate_head_put(struct sl_buf *b, const char magic[4], uint32_t version,
                          const struct sl_partstate_offset *offs, uint32_t n)
{
    int rc = sl_buf_append(b, magic, 4);
    if (!rc)
        rc = sl_binwr_u32(b, version);
    return rc ? rc : sl_partstate_offsets_put(b, offs, n);
}

struct sl_partstate_offset *sl_partstate_head_get(struct sl_binrd *r, const char magic[4],
                                                  uint32_t version, const char *what,
                                                  uint32_t *count)
{
    *count = 0;
    const uint8_t *m = sl_binrd_take(r, 4);
    if (m && memcmp(m, magic, 4) != 0)
        sl_binrd_fail(r, what);
    uint32_t v = sl_binrd_u32(r);
    if (r->ok && v != version)
        sl_binrd_fail(r, "an unknown version");
    return r->ok ? sl_partstate_offsets_get(r, count) : NULL;
}

int sl_partstate_read_end(struct sl_binrd *r, int rc, const char *what, struct sl_diag *d)
{
    if (!rc && r->ok && r->pos != r->n)
        sl_binrd_fail(r, "bytes after the end");
    if (!rc && !r->ok)
        rc = SL_EPARSE;
    if (rc == SL_EPARSE)
        return sl_diag_set(d, rc, "%s: %s at byte %zu", what, r->why ? r->why : "bad record",
                           r->pos);
    if (rc)
        return sl_diag_set(d, rc, "%s: %s", what, sl_strerror(rc));
    return 0;
}
