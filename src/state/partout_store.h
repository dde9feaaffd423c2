/*
 * partout_store.h — the Partout master's store: every accepted aggregate, and roll-ups of it
 * by hour, day and week, kept for the seed's retention tiers, with the reads the query API
 * (api/partout_api.c) and `sluice partout` make.
 *
 * Tiers (the seed's table; times in UTC):
 *   raw     one row per leaf count of each aggregate, at the time it was accepted: the
 *           current day (older raw rows are deleted once rolled up)
 *   hour    sums per (agent, module, object, msg, severity, detail) and hour: 7 days
 *   day     the same per day (from the hours): 31 days
 *   week    the same per ISO week, Monday 00:00 UTC (from the days): 365 days
 * A bucket is rolled up once it is complete (the clock is past its end), each source row once
 * (a `rolled` flag), so the totals of every tier equal the raw totals they came from.
 *
 * Writes: sl_partout_store_put() copies the aggregate into a pending buffer and returns; the
 * store's writer thread commits the pending aggregates in one transaction every `flush_ms`
 * or once `batch` leaves wait, then rolls up and expires when an hour boundary has passed.
 * Reads run on the caller's thread after a flush (so what was put is seen).
 *
 * Time: the store's clock (opts.clock_ms; wall clock by default) stamps aggregates and drives
 * the roll-ups: tests inject their own.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef SL_STATE_PARTOUT_STORE_H
#define SL_STATE_PARTOUT_STORE_H

#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"
#include "codec/partout_body.h"

#include <stdbool.h>
#include <stdint.h>

#define SL_PARTOUT_HOUR_MS ((int64_t)3600000)
#define SL_PARTOUT_DAY_MS  (24 * SL_PARTOUT_HOUR_MS)
#define SL_PARTOUT_WEEK_MS (7 * SL_PARTOUT_DAY_MS)

enum sl_partout_tier {
    SL_PARTOUT_RAW = -1,
    SL_PARTOUT_HOUR = 0,
    SL_PARTOUT_DAY = 1,
    SL_PARTOUT_WEEK = 2,
};

typedef int64_t (*sl_partout_clock_fn)(void *ud); /* epoch milliseconds */

struct sl_partout_store_opts {
    sl_partout_clock_fn clock_ms; /* NULL: the wall clock */
    void *clock_ud;
    int64_t flush_ms;     /* commit at least this often (0: 1000) */
    uint32_t batch;       /* or once this many leaves wait (0: 4096) */
    uint64_t max_pending; /* bytes of pending aggregates before put() commits itself (0: 64 MiB) */
    int64_t retention_ms[3]; /* hour, day, week tiers (0: 7 d, 31 d, 365 d) */
};

struct sl_partout_store;

/* Open (creating if needed) the store at path: a SQLite file (or sqlite:PATH), or a
 * PostgreSQL database, postgres://user@host:port/db (sqldb.h), which several masters may
 * share. opts may be NULL. Starts the writer thread. 0, or SL_EIO / SL_ECONFIG with the path
 * and reason in d. */
int sl_partout_store_open(const char *path, const struct sl_partout_store_opts *opts,
                          struct sl_partout_store **out, struct sl_diag *d);
/* Commit what is pending, stop the writer, close. NULL is fine. */
void sl_partout_store_close(struct sl_partout_store *s);
/* The path or URL (password masked). */
const char *sl_partout_store_path(const struct sl_partout_store *s);

/* Queue one accepted aggregate (copied). period_secs: the aggregate's period; told_level and
 * told_period_secs: the settings the master answered with. 0, or SL_E2BIG (over max_pending
 * even after a commit). */
int sl_partout_store_put(struct sl_partout_store *s, const struct sl_partout_body *pb,
                         int64_t period_secs, int told_level, int64_t told_period_secs);
/* Commit everything pending, then roll up and expire as of the store's clock. 0 or SL_EIO. */
int sl_partout_store_flush(struct sl_partout_store *s);

/* Sums of one tier (SL_PARTOUT_RAW..WEEK) over all agents, rows in *rows (may be NULL). */
int sl_partout_store_total(struct sl_partout_store *s, int tier, uint64_t *count, uint64_t *rows);

/* The agents as a JSON array (appended to out): agent, hostname, first_ms, last_ms,
 * aggregates, count, period_secs (the last aggregate's), level and told_period_secs (what
 * the master answered last). 0 or SL_EIO / SL_ENOMEM. */
int sl_partout_store_agents_json(struct sl_partout_store *s, struct sl_buf *out);

/* Counts of one agent whose bucket starts in [from_ms, to_ms], grouped at `level` (4: module,
 * object, msg and severity; 3: module and object; 2: module; 0 or 1: the agent), each time
 * at the finest detail still kept for its age: raw since the start of the current day,
 * hours back to the first whole day within 7 days, days back to the first whole week within
 * 31 days, weeks before. Appends {"agent","from_ms","to_ms","level","total","series":[{
 * "at_ms","tier","width_ms","module","object","msg","severity","count"}]} to out.
 * SL_ENOENT when the agent is unknown. */
int sl_partout_store_series_json(struct sl_partout_store *s, struct sl_str agent, int64_t from_ms,
                                 int64_t to_ms, int level, struct sl_buf *out);

/* Visit the raw counts stamped at or after since_ms, summed per (agent, stamp), oldest first:
 * what the partout source replays into its policy on start so that a restart keeps the
 * estimator's window (raw rows cover the current day only). A non-zero return from fn stops
 * the walk and is returned. */
typedef int (*sl_partout_replay_fn)(void *ud, struct sl_str agent, int64_t at_ms, uint64_t count);
int sl_partout_store_replay(struct sl_partout_store *s, int64_t since_ms, sl_partout_replay_fn fn,
                            void *ud);

struct sl_partout_store_stats {
    uint64_t aggregates, leaves, commits, commit_errors, rolled, expired;
    uint64_t commit_ns; /* total time spent committing */
};
void sl_partout_store_get_stats(struct sl_partout_store *s, struct sl_partout_store_stats *st);

/* The store the API listener serves (the partout source sets it). Not owned. */
void sl_partout_store_set_default(struct sl_partout_store *s);
struct sl_partout_store *sl_partout_store_default(void);

/* Start of the UTC hour, day, ISO week (Monday) containing t_ms. */
int64_t sl_partout_bucket_start(int tier, int64_t t_ms);

#endif
