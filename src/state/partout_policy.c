/*
 * partout_policy.c — the Partout master's throttling policy (see partout_policy.h).
 *
 * DESIGN: rates are sums over a ring of W buckets advanced by the caller's clock. A ring keeps
 * the absolute number of its newest bucket; moving to a later bucket zeroes every bucket in
 * between (at most W of them), which is how idle minutes count as zero — Partout's estimator
 * rolled one sample per gap however long the gap was, so an hour of silence still showed the
 * last busy minute. Em = (sum of the master's ring) / (W * bucket) scaled to one minute.
 *
 * Per agent: a ring of its own (W counters) and the bucket of its last post. N, the agents seen
 * in the window, is kept without a scan: a second master ring counts, per bucket, the agents
 * whose last post fell in it; an agent that posts again moves from its old bucket to the new
 * one, and advancing the ring forgets the agents whose last post left the window. Agents are
 * kept in a hash map from uuid, at most max_agents of them; when the map is full, agents whose
 * last post left the window are dropped first, and a new agent that still finds no room is
 * counted in Em (and N) but answered with the master's settings.
 */
#include "state/partout_policy.h"

#include "base/alloc.h"
#include "base/map.h"

#include <math.h>
#include <string.h>

struct agent {
    int64_t cur;       /* newest bucket of b */
    int64_t last_seen; /* bucket of the last post */
    uint64_t b[];      /* window_buckets counters */
};

struct sl_partout_policy {
    struct sl_partout_conf c;
    int64_t origin_ns;
    int64_t cur;           /* newest bucket seen */
    uint64_t *events;      /* events per bucket */
    uint64_t *seen;        /* agents whose last post is in that bucket */
    struct sl_hmap agents; /* uuid -> struct agent * */
};

void sl_partout_conf_default(struct sl_partout_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->divisor = 100;
    c->period_min_secs = 10;
    c->period_max_secs = 3600;
    c->t_obj = 500;
    c->t_mod = 2000;
    c->t_uuid = 5000;
    c->t_max = 10000;
    c->window_buckets = 5;
    c->bucket_ns = 60 * 1000000000LL;
    c->splay = 0.05;
    c->alive_secs = 86400;
    c->per_agent = true;
    c->max_agents = 100000;
}

int sl_partout_conf_check(const struct sl_partout_conf *c, struct sl_diag *d)
{
    if (!(c->divisor > 0) || !isfinite(c->divisor))
        return sl_diag_set(d, SL_ECONFIG, "divisor (D) must be a number > 0");
    if (c->period_min_secs < 1)
        return sl_diag_set(d, SL_ECONFIG, "period_min (Pmin) must be at least 1 s");
    if (c->period_max_secs < c->period_min_secs)
        return sl_diag_set(d, SL_ECONFIG, "period_max (Pmax) must be >= period_min (Pmin)");
    if (!(c->t_obj >= 0) || !(c->t_mod >= c->t_obj) || !(c->t_uuid >= c->t_mod) ||
        !(c->t_max >= c->t_uuid) || !isfinite(c->t_max))
        return sl_diag_set(d, SL_ECONFIG,
                           "thresholds must satisfy 0 <= t_obj <= t_mod <= "
                           "t_uuid <= t_max");
    if (c->window_buckets < 1 || c->window_buckets > SL_PARTOUT_MAX_BUCKETS)
        return sl_diag_set(d, SL_ECONFIG, "window must hold 1..%u buckets", SL_PARTOUT_MAX_BUCKETS);
    if (c->bucket_ns < 1000000)
        return sl_diag_set(d, SL_ECONFIG, "bucket must be at least 1 ms");
    if (!(c->splay >= 0 && c->splay <= 1))
        return sl_diag_set(d, SL_ECONFIG, "splay must be within 0..1");
    if (c->alive_secs < 1)
        return sl_diag_set(d, SL_ECONFIG, "alive period must be at least 1 s");
    return 0;
}

int sl_partout_level_for(const struct sl_partout_conf *c, double epm)
{
    if (!(epm >= c->t_obj)) /* NaN too: full detail */
        return 4;
    if (epm < c->t_mod)
        return 3;
    if (epm < c->t_uuid)
        return 2;
    if (epm < c->t_max)
        return 1;
    return 0;
}

int64_t sl_partout_period_for(const struct sl_partout_conf *c, double epm)
{
    if (!(epm >= 0))
        return c->period_min_secs;
    double q = floor(epm / c->divisor); /* int(Em / D): Em >= 0, so truncation is floor */
    if (q < (double)c->period_min_secs)
        return c->period_min_secs;
    if (q > (double)c->period_max_secs)
        return c->period_max_secs;
    return (int64_t)q;
}

struct sl_partout_policy *sl_partout_policy_new(const struct sl_partout_conf *c, int64_t origin_ns)
{
    struct sl_partout_policy *p = sl_xcalloc(1, sizeof(*p));
    p->c = *c;
    p->origin_ns = origin_ns;
    p->events = sl_xcalloc(c->window_buckets, sizeof(uint64_t));
    p->seen = sl_xcalloc(c->window_buckets, sizeof(uint64_t));
    sl_hmap_init(&p->agents);
    return p;
}

void sl_partout_policy_free(struct sl_partout_policy *p)
{
    if (!p)
        return;
    size_t it = 0;
    uint64_t v;
    while (sl_hmap_next(&p->agents, &it, NULL, &v))
        sl_free((void *)(uintptr_t)v);
    sl_hmap_fini(&p->agents);
    sl_free(p->events);
    sl_free(p->seen);
    sl_free(p);
}

/* Zero the buckets after `*cur` up to `to` and make `to` the newest. */
static void ring_advance(uint64_t *b, uint32_t w, int64_t *cur, int64_t to)
{
    if (to <= *cur)
        return;
    if (to - *cur >= (int64_t)w) {
        memset(b, 0, w * sizeof(*b));
    } else {
        for (int64_t i = *cur + 1; i <= to; i++)
            b[(uint64_t)i % w] = 0;
    }
    *cur = to;
}

static uint64_t ring_sum(const uint64_t *b, uint32_t w)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < w; i++)
        s += b[i];
    return s;
}

/* Bring the master's rings to the bucket of now_ns (never backwards). */
static int64_t advance(struct sl_partout_policy *p, int64_t now_ns)
{
    int64_t rel = now_ns - p->origin_ns;
    int64_t idx = rel <= 0 ? 0 : rel / p->c.bucket_ns;
    if (idx > p->cur) {
        int64_t c2 = p->cur;
        ring_advance(p->events, p->c.window_buckets, &p->cur, idx);
        ring_advance(p->seen, p->c.window_buckets, &c2, idx);
    }
    return p->cur;
}

static double per_minute(const struct sl_partout_policy *p, uint64_t sum)
{
    return (double)sum * 60e9 / ((double)p->c.window_buckets * (double)p->c.bucket_ns);
}

static bool in_window(const struct sl_partout_policy *p, int64_t bucket)
{
    return bucket > p->cur - (int64_t)p->c.window_buckets;
}

/* Drop agents whose last post left the window. */
static void sweep(struct sl_partout_policy *p)
{
    size_t it = 0;
    struct sl_str k;
    uint64_t v;
    while (sl_hmap_next(&p->agents, &it, &k, &v)) {
        struct agent *a = (struct agent *)(uintptr_t)v;
        if (!in_window(p, a->last_seen)) {
            sl_hmap_del(&p->agents, k);
            sl_free(a);
        }
    }
}

static struct agent *find_agent(struct sl_partout_policy *p, const char *uuid, size_t len)
{
    uint64_t v;
    if (!len || !sl_hmap_get(&p->agents, sl_str_make(uuid, len), &v))
        return NULL;
    struct agent *a = (struct agent *)(uintptr_t)v;
    ring_advance(a->b, p->c.window_buckets, &a->cur, p->cur);
    return a;
}

int sl_partout_policy_record(struct sl_partout_policy *p, const char *uuid, size_t uuid_len,
                             uint64_t count, int64_t now_ns)
{
    uint32_t w = p->c.window_buckets;
    int64_t idx = advance(p, now_ns);
    uint64_t *slot = &p->events[(uint64_t)idx % w];
    *slot = *slot > UINT64_MAX - count ? UINT64_MAX : *slot + count;
    if (!uuid_len) {
        return 0;
    }
    struct agent *a = find_agent(p, uuid, uuid_len);
    int rc = 0;
    if (!a) {
        if (p->agents.count >= p->c.max_agents)
            sweep(p);
        if (p->agents.count < p->c.max_agents) {
            a = sl_calloc(1, sizeof(*a) + w * sizeof(uint64_t));
            if (a && sl_hmap_put(&p->agents, sl_str_make(uuid, uuid_len), (uint64_t)(uintptr_t)a)) {
                sl_free(a);
                a = NULL;
            }
            if (!a)
                rc = SL_ENOMEM;
        }
        if (a) {
            a->cur = idx;
            a->last_seen = INT64_MIN / 2; /* never */
        }
    }
    if (!a) {
        /* untracked: one of the N for this bucket, answered with the master's settings */
        p->seen[(uint64_t)idx % w]++;
        return rc;
    }
    if (a->last_seen != idx) {
        if (in_window(p, a->last_seen) && p->seen[(uint64_t)a->last_seen % w])
            p->seen[(uint64_t)a->last_seen % w]--;
        p->seen[(uint64_t)idx % w]++;
        a->last_seen = idx;
    }
    uint64_t *as = &a->b[(uint64_t)idx % w];
    *as = *as > UINT64_MAX - count ? UINT64_MAX : *as + count;
    return rc;
}

double sl_partout_policy_em(struct sl_partout_policy *p, int64_t now_ns)
{
    advance(p, now_ns);
    return per_minute(p, ring_sum(p->events, p->c.window_buckets));
}

uint32_t sl_partout_policy_active(struct sl_partout_policy *p, int64_t now_ns)
{
    advance(p, now_ns);
    uint64_t n = ring_sum(p->seen, p->c.window_buckets);
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

size_t sl_partout_policy_tracked(const struct sl_partout_policy *p)
{
    return p->agents.count;
}

void sl_partout_policy_settings(struct sl_partout_policy *p, const char *uuid, size_t uuid_len,
                                int64_t now_ns, struct sl_partout_settings *out)
{
    const struct sl_partout_conf *c = &p->c;
    memset(out, 0, sizeof(*out));
    out->em = sl_partout_policy_em(p, now_ns);
    out->agents = sl_partout_policy_active(p, now_ns);
    out->master_level = sl_partout_level_for(c, out->em);
    out->master_period_secs = sl_partout_period_for(c, out->em);
    out->splay = c->splay;
    out->alive_secs = c->alive_secs;
    out->level = out->master_level;
    out->period_secs = out->master_period_secs;
    struct agent *a = find_agent(p, uuid, uuid_len);
    if (a) {
        out->agent_epm = per_minute(p, ring_sum(a->b, c->window_buckets));
        out->projected = out->agent_epm * (double)(out->agents ? out->agents : 1);
    } else if (p->agents.count >= c->max_agents) {
        return; /* not tracked for want of room: the master's settings */
    }
    if (!c->per_agent)
        return;
    int la = sl_partout_level_for(c, out->projected);
    int64_t pa = sl_partout_period_for(c, out->projected);
    if (la > out->level)
        out->level = la;
    if (pa < out->period_secs)
        out->period_secs = pa;
}
