/*
 * outage.c — once-per-episode reporting of a failing resource (see outage.h).
 */
#include "base/outage.h"

bool sl_outage_fail(struct sl_outage *o, int64_t now_ns)
{
    if (now_ns <= 0)
        now_ns = 1; /* 0 means "no episode" */
    o->failures++;
    if (!o->since_ns) {
        o->since_ns = now_ns;
        o->logged_ns = now_ns;
        o->failures = 1;
        o->episodes++;
        return true;
    }
    if (now_ns - o->logged_ns >= SL_OUTAGE_REMIND_NS) {
        o->logged_ns = now_ns;
        return true;
    }
    return false;
}

bool sl_outage_ok(struct sl_outage *o, int64_t now_ns, uint64_t *failures, int64_t *lasted_ns)
{
    if (!o->since_ns)
        return false;
    if (failures)
        *failures = o->failures;
    if (lasted_ns)
        *lasted_ns = now_ns - o->since_ns;
    o->since_ns = 0;
    o->logged_ns = 0;
    o->failures = 0;
    return true;
}
