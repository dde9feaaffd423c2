/*
 * outage.h — once-per-episode reporting of a resource that keeps failing (a full disk, a
 * directory that cannot be written).
 *
 * A writer that retries a failing write (disk full: back-pressure until space returns)
 * would log every retry, or once a second with sl_log_ratelimited(): a 30-minute disk-full
 * episode then fills the log it is trying to report. An outage tracker says when to log:
 * at the first failure of an episode, then once every SL_OUTAGE_REMIND_NS while it lasts,
 * and once when the first success ends it (with how long it lasted and how many attempts
 * failed). The caller keeps the struct (zeroed) and logs; nothing here allocates or locks:
 * one thread owns a tracker.
 */
#ifndef SL_BASE_OUTAGE_H
#define SL_BASE_OUTAGE_H

#include <stdbool.h>
#include <stdint.h>

#define SL_OUTAGE_REMIND_NS (60 * 1000000000LL)

struct sl_outage {
    int64_t since_ns;  /* monotonic time of the episode's first failure; 0: no episode */
    int64_t logged_ns; /* when the caller last logged it */
    uint64_t failures; /* failed attempts in this episode */
    uint64_t episodes; /* episodes so far (ended or not) */
};

/* A failed attempt at now_ns (monotonic). True when the caller should log it: the first
 * failure of an episode, or SL_OUTAGE_REMIND_NS after the last time it logged. */
bool sl_outage_fail(struct sl_outage *o, int64_t now_ns);
/* A successful attempt. True when it ends an episode: *failures and *lasted_ns (may be NULL)
 * get the episode's failed attempts and duration, for the caller's "recovered" line. */
bool sl_outage_ok(struct sl_outage *o, int64_t now_ns, uint64_t *failures, int64_t *lasted_ns);
/* True while an episode lasts (the last attempt failed). */
static inline bool sl_outage_active(const struct sl_outage *o)
{
    return o->since_ns != 0;
}

#endif
