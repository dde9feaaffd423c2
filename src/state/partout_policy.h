/*
 * partout_policy.h — the Partout master's throttling policy, as a pure module (no I/O, no
 * clock of its own, no locks): what period, splay, aggregation level and alive period the
 * master tells an agent, from the events per minute it sees.
 *
 * The contract is the seed document (docs/partout.md has the worked tables):
 *   Em = events per minute arriving at the master, counted from the counts inside the
 *        aggregates (not from requests), averaged over a sliding window of `window_buckets`
 *        buckets of `bucket_ns` (one minute by default); idle buckets count as zero.
 *   Ps = clamp(int(Em / D), Pmin, Pmax)
 *   level = 4 if Em < Tobj, 3 if < Tmod, 2 if < Tuuid, 1 if < Tmax, else 0
 * plus a per-agent share (the seed's open question, "per master AND per agent thresholds"):
 * each agent's own rate Ea over the same window, projected to the fleet as Xa = Ea * N (N the
 * agents seen in the window; Xa = Em exactly when every agent sends the same), gives
 *   level_a  = max(level(Em), level(Xa))          more detail is never taken from a quiet agent
 *   Ps_a     = min(Ps(Em),   Ps(Xa))              a quiet agent is not slowed down either
 * so while the master is under Tobj every agent keeps level 4, and once it is over, the agents
 * above their fair share (Xa >= Em) get the master's settings and the quiet ones keep more.
 *
 * Time: every call takes `now_ns` from the caller (any monotonic clock; tests pass their own).
 * Buckets are numbered from the `origin_ns` given to _new(): bucket = (now - origin) / bucket_ns.
 * A time before the newest bucket seen counts into the newest bucket (clocks do not go back).
 *
 * Threads: not thread-safe; the owner serialises calls (the partout source holds a mutex).
 */
#ifndef SL_STATE_PARTOUT_POLICY_H
#define SL_STATE_PARTOUT_POLICY_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_PARTOUT_MAX_BUCKETS 1440u /* one day of one-minute buckets */

struct sl_partout_conf {
    double divisor;          /* D: events per minute per second of period (100) */
    int64_t period_min_secs; /* Pmin (10) */
    int64_t period_max_secs; /* Pmax (3600) */
    double t_obj;            /* Tobj (500): at or above, level 3 */
    double t_mod;            /* Tmod (2000): level 2 */
    double t_uuid;           /* Tuuid (5000): level 1 */
    double t_max;            /* Tmax (10000): level 0 */
    uint32_t window_buckets; /* buckets in the sliding window (5) */
    int64_t bucket_ns;       /* length of a bucket (60 s); Em is scaled to per minute */
    double splay;            /* aggregate_period_splay told to agents (0.05) */
    int64_t alive_secs;      /* notify_alive_period_secs (86400) */
    bool per_agent;          /* the per-agent share (true); false: everyone gets the master's */
    uint32_t max_agents;     /* agents tracked one by one (100000); others get the master's */
};

/* What an agent is told, and the figures it came from. */
struct sl_partout_settings {
    int64_t period_secs; /* aggregate_period_secs */
    double splay;        /* aggregate_period_splay */
    int level;           /* aggregate_level, 0..4 */
    int64_t alive_secs;  /* notify_alive_period_secs */
    double em;           /* the master's events per minute */
    double agent_epm;    /* Ea: this agent's events per minute (0 when not tracked) */
    double projected;    /* Xa = Ea * N */
    uint32_t agents;     /* N: agents seen in the window */
    int master_level;    /* level(Em) */
    int64_t master_period_secs;
};

struct sl_partout_policy;

/* The defaults above. */
void sl_partout_conf_default(struct sl_partout_conf *c);
/* Check a configuration: D > 0, 1 <= Pmin <= Pmax, 0 <= Tobj <= Tmod <= Tuuid <= Tmax,
 * 1 <= window_buckets <= SL_PARTOUT_MAX_BUCKETS, bucket_ns >= 1 ms, 0 <= splay <= 1,
 * alive_secs >= 1. 0 or SL_ECONFIG with d->msg naming the setting. */
int sl_partout_conf_check(const struct sl_partout_conf *c, struct sl_diag *d);

/* The level the seed's table gives for a rate (events per minute). */
int sl_partout_level_for(const struct sl_partout_conf *c, double epm);
/* clamp(int(epm / D), Pmin, Pmax); NaN or negative rates give Pmin. */
int64_t sl_partout_period_for(const struct sl_partout_conf *c, double epm);

/* A policy with a copy of c (which must pass sl_partout_conf_check). Aborts on OOM (small,
 * fixed). Buckets are numbered from origin_ns. */
struct sl_partout_policy *sl_partout_policy_new(const struct sl_partout_conf *c, int64_t origin_ns);
void sl_partout_policy_free(struct sl_partout_policy *p);

/*
 * Count `count` events from agent `uuid` (bytes, any content; len 0: an anonymous agent that
 * counts into Em only) at now_ns. Registers the agent even when count is 0 (an alive notice
 * makes it one of the N). 0, or SL_ENOMEM (Em still counted, the agent not tracked).
 */
int sl_partout_policy_record(struct sl_partout_policy *p, const char *uuid, size_t uuid_len,
                             uint64_t count, int64_t now_ns);
/* The settings for agent `uuid` at now_ns (an unknown agent has Ea = 0: a quiet one). */
void sl_partout_policy_settings(struct sl_partout_policy *p, const char *uuid, size_t uuid_len,
                                int64_t now_ns, struct sl_partout_settings *out);
/* Em at now_ns. */
double sl_partout_policy_em(struct sl_partout_policy *p, int64_t now_ns);
/* Agents seen in the window at now_ns (N), and agents tracked at all. */
uint32_t sl_partout_policy_active(struct sl_partout_policy *p, int64_t now_ns);
size_t sl_partout_policy_tracked(const struct sl_partout_policy *p);

#endif
