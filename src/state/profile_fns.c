/*
 * profile_fns.c — the profiler client in Stellar: PROFILE_GET, PROFILE_VERBOSE, PROFILE_FIXED
 * and PROFILE_WINDOW (Metron's GetProfile, VerboseProfile, FixedLookback, WindowLookback;
 * ../shared/specs/metron.md §2.3, §3.4, §3.7), reading the profile store of store.h.
 *
 * DESIGN: a period is a map {duration, period, start, end} of Longs — the same shape as the
 * `period` of PROFILER_FLUSH — so it prints, copies into REPL variables and converts to JSON
 * like any value, and PROFILE_GET needs nothing but a list of them. PROFILE_FIXED and
 * PROFILE_WINDOW read only the period settings; PROFILE_GET looks each period up by
 * (profile, entity, groups, the period's own duration, period id), so periods computed with
 * another period length than the writer's find nothing (Metron's "a mismatch gives empty
 * results"). Groups are matched as the JSON array of the group values' Stellar text, as the
 * profiler writes them (store.h). A missing period is skipped unless profiler.default.value
 * is set, in which case that value stands in. Values read back are copied into the
 * evaluation's memory; sketches read back are new objects handed to sl_fcx_own().
 *
 * The store is the VM's (sl_stellar_vm_set_store) or else the process default
 * (sl_store_default); without one PROFILE_GET and PROFILE_VERBOSE fail with a message that
 * says how to configure it. The global settings live in an arena under a mutex, replaced
 * whole by sl_profile_client_set_global().
 */
#include "state/profile_fns.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "codec/json.h"
#include "lang/func.h"
#include "lang/sval.h"
#include "state/store.h"
#include "state/window.h"
#include "sys/thread.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#define MAX_PERIODS 100000 /* periods one call may produce */
#define MAX_TIME_MS ((int64_t)1 << 61)

#define KEY_DURATION "profiler.client.period.duration"
#define KEY_UNITS    "profiler.client.period.duration.units"
#define KEY_DEFAULT  "profiler.default.value"

/* ------------------------------------------------------------------ global settings */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sl_arena *global_mem; /* guarded_by: global_lock */
static struct sl_value global_cfg;  /* guarded_by: global_lock (a map, or null) */

int sl_profile_client_set_global(const char *json, size_t len, struct sl_diag *d)
{
    struct sl_arena *mem = NULL;
    struct sl_value v = sl_value_null();
    if (json) {
        mem = sl_xcalloc(1, sizeof *mem);
        sl_arena_init(mem, 1024, 16u << 20);
        char *copy = sl_arena_strndup(mem, json, len);
        int rc = copy ? sl_json_parse_value(mem, copy, len, NULL, &v, d) : SL_ENOMEM;
        if (!rc && v.type != SL_V_MAP)
            rc = sl_diag_set(d, SL_ETYPE, "profiler client settings: expected a JSON object");
        if (rc) {
            sl_arena_fini(mem);
            sl_free(mem);
            return rc;
        }
    }
    pthread_mutex_lock(&global_lock);
    struct sl_arena *old = global_mem;
    global_mem = mem;
    global_cfg = v;
    pthread_mutex_unlock(&global_lock);
    if (old) {
        sl_arena_fini(old);
        sl_free(old);
    }
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static const char *type_name(const struct sl_value *v)
{
    if (v->type == SL_V_OBJECT)
        return v->u.obj->type->name;
    return sl_vtype_name((enum sl_vtype)v->type);
}

/* Deep copy of v into the evaluation's memory (objects are shared, not referenced). */
static int fcx_copy(struct sl_fcx *cx, const struct sl_value *v, struct sl_value *out)
{
    int rc;
    switch ((enum sl_vtype)v->type) {
    case SL_V_STRING:
    case SL_V_BYTES:
        rc = sl_fcx_str(cx, v->u.s, v->len, out);
        out->type = v->type;
        out->flags = v->flags;
        return rc;
    case SL_V_LIST:
        if ((rc = sl_fcx_list(cx, v->len, out)))
            return rc;
        out->flags = v->flags;
        for (uint32_t i = 0; i < v->len; i++)
            if ((rc = fcx_copy(cx, &v->u.list[i], &out->u.list[i])))
                return rc;
        return 0;
    case SL_V_MAP:
        if ((rc = sl_fcx_map(cx, v->len, out)))
            return rc;
        for (uint32_t i = 0; i < v->len; i++) {
            const struct sl_kv *kv = &v->u.map[i];
            char *k = sl_fcx_alloc(cx, kv->key.len ? kv->key.len : 1);
            if (!k)
                return SL_ENOMEM;
            if (kv->key.len)
                memcpy(k, kv->key.ptr, kv->key.len);
            out->u.map[i].key = sl_str_make(k, kv->key.len);
            if ((rc = fcx_copy(cx, &kv->val, &out->u.map[i].val)))
                return rc;
        }
        return 0;
    default:
        *out = *v;
        return 0;
    }
}

/* Settings: the overrides map, else the global settings, else not found. The value is copied
 * into the evaluation's memory. */
static bool setting(struct sl_fcx *cx, const struct sl_value *overrides, const char *key,
                    struct sl_value *out, int *rc)
{
    *rc = 0;
    const struct sl_value *v = NULL;
    if (overrides && overrides->type == SL_V_MAP)
        v = sl_value_map_get(overrides, sl_str_c(key));
    if (v) {
        *out = *v;
        return true;
    }
    pthread_mutex_lock(&global_lock);
    v = sl_value_map_get(&global_cfg, sl_str_c(key));
    if (v)
        *rc = fcx_copy(cx, v, out);
    pthread_mutex_unlock(&global_lock);
    return v != NULL && *rc == 0;
}

static bool to_long(const struct sl_value *v, int64_t *out)
{
    if (sl_sv_is_num(v)) {
        *out = sl_sv_as_long(v);
        return true;
    }
    if (v->type == SL_V_STRING) {
        if (sl_sv_parse_long(v->u.s, v->len, out) == 0)
            return true;
        double d;
        if (sl_sv_parse_double(v->u.s, v->len, &d) == 0) {
            struct sl_value dv = sl_sv_double(d);
            *out = sl_sv_as_long(&dv);
            return true;
        }
    }
    return false;
}

/* java.util.concurrent.TimeUnit: milliseconds per unit as a numerator / denominator. */
static bool time_unit(const struct sl_value *v, int64_t *num, int64_t *den)
{
    static const struct {
        const char *name;
        int64_t num, den;
    } units[] = {
        {"NANOSECONDS", 1, 1000000}, {"MICROSECONDS", 1, 1000}, {"MILLISECONDS", 1, 1},
        {"SECONDS", 1000, 1},        {"MINUTES", 60000, 1},     {"HOURS", 3600000, 1},
        {"DAYS", 86400000, 1},
    };
    if (v->type != SL_V_STRING)
        return false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == v->len && !strncasecmp(units[i].name, v->u.s, v->len)) {
            *num = units[i].num;
            *den = units[i].den;
            return true;
        }
    return false;
}

/* TimeUnit.toMillis(amount), saturating as Java does. */
static int64_t to_millis(int64_t amount, int64_t num, int64_t den)
{
    int64_t r;
    if (den > 1)
        return amount / den;
    if (__builtin_mul_overflow(amount, num, &r))
        return amount < 0 ? INT64_MIN : INT64_MAX;
    return r;
}

/* The period length in ms from profiler.client.period.duration(.units). */
static int period_ms(struct sl_fcx *cx, const char *fn, const struct sl_value *overrides,
                     int64_t *out)
{
    struct sl_value v;
    int rc;
    int64_t amount = 15, num = 60000, den = 1;
    if (setting(cx, overrides, KEY_DURATION, &v, &rc) && v.type != SL_V_NULL &&
        !to_long(&v, &amount))
        return sl_fcx_error(cx, "%s: %s must be a number, got %s", fn, KEY_DURATION, type_name(&v));
    if (rc)
        return rc;
    if (setting(cx, overrides, KEY_UNITS, &v, &rc) && v.type != SL_V_NULL &&
        !time_unit(&v, &num, &den))
        return sl_fcx_error(cx,
                            "%s: %s must be a TimeUnit name (SECONDS, MINUTES, HOURS, "
                            "DAYS, ...), got %.*s",
                            fn, KEY_UNITS, v.type == SL_V_STRING ? (int)v.len : 4,
                            v.type == SL_V_STRING ? v.u.s : type_name(&v));
    if (rc)
        return rc;
    *out = to_millis(amount, num, den);
    if (*out <= 0)
        return sl_fcx_error(cx, "%s: the period duration must be at least 1 millisecond", fn);
    return 0;
}

static const char *const period_keys[] = {"duration", "period", "start", "end"};

/* Append the period {duration, period, start, end} of id to list out (room reserved). */
static int period_value(struct sl_fcx *cx, int64_t id, int64_t dur, struct sl_value *out)
{
    int rc = sl_fcx_map(cx, 4, out);
    if (rc)
        return rc;
    int64_t vals[4] = {dur, id, id * dur, id * dur + dur};
    for (int i = 0; i < 4; i++) {
        out->u.map[i].key = sl_str_c(period_keys[i]);
        out->u.map[i].val = sl_sv_long(vals[i]);
    }
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ProfilePeriod.visitPeriods(start, end): from the period containing start while
 * period.start <= end; with intervals, only periods whose start lies in one of them. */
static int visit_periods(struct sl_fcx *cx, const char *fn, int64_t start, int64_t end, int64_t dur,
                         const struct sl_window_interval *iv, size_t niv, bool filter,
                         struct sl_value *out)
{
    if (start < 0)
        return sl_fcx_error(cx, "%s: the periods would start before 1970 (%lld ms)", fn,
                            (long long)start);
    /* 2^61 ms (73 million years) keeps id * duration + duration inside int64 */
    if (end > MAX_TIME_MS || dur > MAX_TIME_MS)
        return sl_fcx_error(cx, "%s: time %lld ms or period %lld ms is out of range", fn,
                            (long long)end, (long long)dur);
    int64_t first = floor_div(start, dur);
    int64_t last = end < first * dur ? first - 1 : floor_div(end, dur);
    int64_t count = last - first + 1;
    if (count > MAX_PERIODS)
        return sl_fcx_error(cx, "%s: %lld periods is more than the %d allowed", fn,
                            (long long)count, MAX_PERIODS);
    int rc = sl_fcx_list(cx, (uint32_t)(count > 0 ? count : 0), out);
    if (rc)
        return rc;
    uint32_t n = 0;
    size_t k = 0;
    for (int64_t id = first; id <= last; id++) {
        int64_t ps = id * dur;
        if (filter) {
            /* intervals come in increasing order with one width: their ends increase too */
            while (k < niv && iv[k].end_ms < ps)
                k++;
            if (k == niv || iv[k].start_ms > ps)
                continue;
        }
        if ((rc = period_value(cx, id, dur, &out->u.list[n++])))
            return rc;
    }
    out->len = n;
    return 0;
}

/* ------------------------------------------------------------------ PROFILE_FIXED */

static int f_profile_fixed(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    int64_t ago, num, den;
    if (!to_long(&a[0], &ago))
        return sl_fcx_error(cx, "PROFILE_FIXED: durationAgo must be a number, got %s",
                            type_name(&a[0]));
    if (!time_unit(&a[1], &num, &den))
        return sl_fcx_error(cx,
                            "PROFILE_FIXED: units must be a TimeUnit name (SECONDS, "
                            "MINUTES, HOURS, DAYS, ...), got %s",
                            type_name(&a[1]));
    const struct sl_value *ov = n > 2 ? &a[2] : NULL;
    if (ov && ov->type != SL_V_MAP && ov->type != SL_V_NULL)
        return sl_fcx_error(cx, "PROFILE_FIXED: config_overrides must be a map, got %s",
                            type_name(ov));
    int64_t dur;
    int rc = period_ms(cx, "PROFILE_FIXED", ov, &dur);
    if (rc)
        return rc;
    int64_t end = sl_fcx_now_ms(cx), start;
    if (__builtin_sub_overflow(end, to_millis(ago, num, den), &start))
        return sl_fcx_error(cx, "PROFILE_FIXED: durationAgo is out of range");
    return visit_periods(cx, "PROFILE_FIXED", start, end, dur, NULL, 0, false, out);
}

/* ------------------------------------------------------------------ PROFILE_WINDOW */

static int f_profile_window(struct sl_fcx *cx, const struct sl_value *a, int n,
                            struct sl_value *out)
{
    if (a[0].type != SL_V_STRING)
        return sl_fcx_error(cx, "PROFILE_WINDOW: the selector must be a string, got %s",
                            type_name(&a[0]));
    int64_t now = sl_fcx_now_ms(cx);
    const struct sl_value *ov = NULL;
    if (n > 1) {
        if (a[1].type == SL_V_MAP)
            ov = &a[1];
        else if (sl_sv_is_num(&a[1]))
            now = sl_sv_as_long(&a[1]);
        else if (a[1].type != SL_V_NULL)
            return sl_fcx_error(cx, "PROFILE_WINDOW: now must be a number (epoch ms), got %s",
                                type_name(&a[1]));
    }
    if (n > 2 && a[2].type == SL_V_MAP)
        ov = &a[2];
    int64_t dur;
    int rc = period_ms(cx, "PROFILE_WINDOW", ov, &dur);
    if (rc)
        return rc;
    struct sl_window *w = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    rc = sl_window_parse(a[0].u.s, a[0].len, &w, &d);
    if (rc == SL_ENOMEM)
        return rc;
    if (rc)
        return sl_fcx_error(cx, "PROFILE_WINDOW: unable to parse '%.*s': column %u: %s",
                            (int)(a[0].len > 200 ? 200 : a[0].len), a[0].u.s, d.col, d.msg);
    int64_t start, end;
    struct sl_window_interval *iv = NULL;
    size_t niv = 0;
    rc = sl_window_intervals(w, now, &start, &end, &iv, &niv);
    sl_window_free(w);
    if (rc == SL_E2BIG)
        return sl_fcx_error(cx, "PROFILE_WINDOW: the selector gives more than %d intervals",
                            SL_WINDOW_MAX_INTERVALS);
    if (rc == SL_ERANGE)
        return sl_fcx_error(cx, "PROFILE_WINDOW: now %lld is out of range", (long long)now);
    if (rc)
        return rc;
    rc = visit_periods(cx, "PROFILE_WINDOW", start, end, dur, iv, niv, true, out);
    sl_free(iv);
    return rc;
}

/* ------------------------------------------------------------------ PROFILE_GET / VERBOSE */

struct query {
    struct sl_str profile, entity, groups; /* groups: JSON text in evaluation memory */
    struct sl_value groups_list;           /* the groups as given (a list) */
    const struct sl_value *periods;        /* list of period maps */
    struct sl_value dflt;                  /* profiler.default.value */
    bool has_dflt;
};

/* A string argument as text (Java's String.valueOf for other scalars). */
static int text_arg(struct sl_fcx *cx, const char *fn, const char *what, const struct sl_value *v,
                    struct sl_str *out)
{
    if (v->type == SL_V_STRING) {
        *out = sl_str_make(v->u.s, v->len);
        return 0;
    }
    if (v->type == SL_V_NULL || v->type == SL_V_LIST || v->type == SL_V_MAP ||
        v->type == SL_V_OBJECT)
        return sl_fcx_error(cx, "%s: %s must be a string, got %s", fn, what, type_name(v));
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    struct sl_value s;
    int rc = sl_sv_format(v, b);
    if (!rc)
        rc = sl_fcx_str(cx, b->ptr ? b->ptr : "", b->len, &s);
    if (rc)
        return rc;
    *out = sl_value_as_str(&s);
    return 0;
}

/* The JSON array of the groups' Stellar text, in evaluation memory. */
static int groups_json(struct sl_fcx *cx, const struct sl_value *g, size_t ng, struct sl_str *out)
{
    struct sl_buf json, text;
    sl_buf_init(&json, 1u << 20);
    sl_buf_init(&text, 1u << 20);
    int rc = sl_buf_putc(&json, '[');
    for (size_t i = 0; i < ng && !rc; i++) {
        sl_buf_reset(&text);
        if (i)
            rc = sl_buf_putc(&json, ',');
        if (!rc)
            rc = sl_sv_format(&g[i], &text);
        if (!rc)
            rc = sl_json_write_string(&json, text.ptr ? text.ptr : "", text.len);
    }
    if (!rc)
        rc = sl_buf_putc(&json, ']');
    struct sl_value s;
    if (!rc)
        rc = sl_fcx_str(cx, json.ptr, json.len, &s);
    if (!rc)
        *out = sl_value_as_str(&s);
    sl_buf_fini(&text);
    sl_buf_fini(&json);
    return rc;
}

static bool period_field(const struct sl_value *p, const char *key, int64_t *out)
{
    const struct sl_value *v = sl_value_map_get(p, sl_str_c(key));
    return v && v->type == SL_V_INT && ((*out = v->u.i), true);
}

typedef int (*emit_fn)(struct sl_fcx *cx, const struct query *q, const struct sl_value *period,
                       const struct sl_value *value, struct sl_value *list, uint32_t *n);

/* Look every period up and emit the found values (or the default) in period order. */
static int run_query(struct sl_fcx *cx, const char *fn, const struct query *q, emit_fn emit,
                     struct sl_value *out)
{
    struct sl_store *s = sl_fcx_profile_store(cx);
    if (!s)
        s = sl_store_default();
    if (!s)
        return sl_fcx_error(cx,
                            "%s: no profile store configured; start with --store "
                            "sqlite:PATH",
                            fn);
    uint32_t np = q->periods->len;
    for (uint32_t i = 0; i < np; i++) {
        int64_t x;
        const struct sl_value *p = &q->periods->u.list[i];
        if (p->type != SL_V_MAP || !period_field(p, "period", &x) ||
            !period_field(p, "duration", &x))
            return sl_fcx_error(cx,
                                "%s: periods must be a list of periods (from "
                                "PROFILE_FIXED or PROFILE_WINDOW), item %u is a %s",
                                fn, i, type_name(p));
    }
    int rc = sl_fcx_list(cx, np, out);
    if (rc || np == 0)
        return rc;
    int64_t *ids = sl_malloc(np * sizeof *ids);
    struct sl_value *vals = sl_malloc(np * sizeof *vals);
    bool *found = sl_malloc(np * sizeof *found);
    struct sl_arena tmp;
    sl_arena_init(&tmp, 4096, 256u << 20);
    if (!ids || !vals || !found) {
        rc = SL_ENOMEM;
        goto done;
    }
    /* one store read per run of periods with the same duration */
    uint32_t n = 0;
    for (uint32_t i = 0; i < np && !rc;) {
        int64_t dur = 0;
        period_field(&q->periods->u.list[i], "duration", &dur);
        uint32_t j = i;
        for (; j < np; j++) {
            int64_t d2 = 0;
            period_field(&q->periods->u.list[j], "duration", &d2);
            if (d2 != dur)
                break;
            period_field(&q->periods->u.list[j], "period", &ids[j - i]);
        }
        sl_arena_reset(&tmp);
        rc = sl_store_get(s, q->profile, q->entity, q->groups, dur, ids, j - i, &tmp, vals, found);
        if (rc) {
            rc = sl_fcx_error(cx, "%s: reading the profile store %s failed: %s", fn,
                              sl_store_url(s), sl_strerror(rc));
            break;
        }
        for (uint32_t k = 0; k < j - i; k++) {
            if (vals[k].type == SL_V_OBJECT)
                sl_fcx_own(cx, vals[k].u.obj); /* the evaluation releases it */
        }
        for (uint32_t k = 0; k < j - i && !rc; k++) {
            const struct sl_value *p = &q->periods->u.list[i + k];
            if (found[k]) {
                struct sl_value v;
                rc = fcx_copy(cx, &vals[k], &v);
                if (!rc)
                    rc = emit(cx, q, p, &v, out, &n);
            } else if (q->has_dflt) {
                rc = emit(cx, q, p, &q->dflt, out, &n);
            }
        }
        i = j;
    }
    out->len = n;
done:
    sl_arena_fini(&tmp);
    sl_free(found);
    sl_free(vals);
    sl_free(ids);
    return rc;
}

static int emit_value(struct sl_fcx *cx, const struct query *q, const struct sl_value *period,
                      const struct sl_value *value, struct sl_value *list, uint32_t *n)
{
    list->u.list[(*n)++] = *value;
    return 0;
}

static int emit_verbose(struct sl_fcx *cx, const struct query *q, const struct sl_value *period,
                        const struct sl_value *value, struct sl_value *list, uint32_t *n)
{
    static const char *const keys[] = {"profile",    "entity", "period", "period.start",
                                       "period.end", "value",  "groups"};
    struct sl_value m;
    int rc = sl_fcx_map(cx, 7, &m);
    if (rc)
        return rc;
    int64_t id = 0, start = 0, end = 0;
    period_field(period, "period", &id);
    period_field(period, "start", &start);
    period_field(period, "end", &end);
    for (int i = 0; i < 7; i++)
        m.u.map[i].key = sl_str_c(keys[i]);
    m.u.map[0].val = sl_value_str(q->profile.ptr, q->profile.len);
    m.u.map[1].val = sl_value_str(q->entity.ptr, q->entity.len);
    m.u.map[2].val = sl_sv_long(id);
    m.u.map[3].val = sl_sv_long(start);
    m.u.map[4].val = sl_sv_long(end);
    m.u.map[5].val = *value;
    m.u.map[6].val = q->groups_list;
    list->u.list[(*n)++] = m;
    return 0;
}

/* profile, entity, periods: the arguments both functions share. */
static int query_init(struct sl_fcx *cx, const char *fn, const struct sl_value *a, struct query *q)
{
    memset(q, 0, sizeof *q);
    int rc = text_arg(cx, fn, "profile", &a[0], &q->profile);
    if (!rc)
        rc = text_arg(cx, fn, "entity", &a[1], &q->entity);
    if (rc)
        return rc;
    if (a[2].type != SL_V_LIST)
        return sl_fcx_error(cx,
                            "%s: periods must be a list of periods (from PROFILE_FIXED or "
                            "PROFILE_WINDOW), got %s",
                            fn, type_name(&a[2]));
    q->periods = &a[2];
    return sl_fcx_list(cx, 0, &q->groups_list);
}

static int set_groups(struct sl_fcx *cx, struct query *q, const struct sl_value *g, size_t ng)
{
    if (ng) {
        int rc = sl_fcx_list(cx, (uint32_t)ng, &q->groups_list);
        if (rc)
            return rc;
        memcpy(q->groups_list.u.list, g, ng * sizeof *g);
    }
    return groups_json(cx, g, ng, &q->groups);
}

static int f_profile_get(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    struct query q;
    int rc = query_init(cx, "PROFILE_GET", a, &q);
    if (rc)
        return rc;
    const struct sl_value *ov = NULL;
    if (n >= 4 && a[3].type != SL_V_LIST && a[3].type != SL_V_NULL) {
        /* deprecated: groups passed one by one after the periods (no overrides then) */
        rc = set_groups(cx, &q, &a[3], (size_t)(n - 3));
    } else {
        if (n >= 4 && a[3].type == SL_V_LIST)
            rc = set_groups(cx, &q, a[3].u.list, a[3].len);
        else
            rc = set_groups(cx, &q, NULL, 0);
        if (n >= 5) {
            if (a[4].type != SL_V_MAP && a[4].type != SL_V_NULL)
                return sl_fcx_error(cx, "PROFILE_GET: config_overrides must be a map, got %s",
                                    type_name(&a[4]));
            ov = &a[4];
        }
        if (n > 5)
            return sl_fcx_error(cx, "PROFILE_GET: at most 5 arguments when groups are a list");
    }
    if (rc)
        return rc;
    q.has_dflt = setting(cx, ov, KEY_DEFAULT, &q.dflt, &rc) && q.dflt.type != SL_V_NULL;
    if (rc)
        return rc;
    return run_query(cx, "PROFILE_GET", &q, emit_value, out);
}

static int f_profile_verbose(struct sl_fcx *cx, const struct sl_value *a, int n,
                             struct sl_value *out)
{
    struct query q;
    int rc = query_init(cx, "PROFILE_VERBOSE", a, &q);
    if (rc)
        return rc;
    if (n >= 4 && a[3].type == SL_V_LIST)
        rc = set_groups(cx, &q, a[3].u.list, a[3].len);
    else if (n >= 4 && a[3].type != SL_V_NULL)
        return sl_fcx_error(cx, "PROFILE_VERBOSE: groups must be a list, got %s", type_name(&a[3]));
    else
        rc = set_groups(cx, &q, NULL, 0);
    if (rc)
        return rc;
    q.has_dflt = setting(cx, NULL, KEY_DEFAULT, &q.dflt, &rc) && q.dflt.type != SL_V_NULL;
    if (rc)
        return rc;
    return run_query(cx, "PROFILE_VERBOSE", &q, emit_verbose, out);
}

/* ------------------------------------------------------------------ table */

const struct sl_sfunc sl_sfuncs_profile[] = {
    {"PROFILE_GET", 3, SL_SF_VARARGS, 0,
     "(profile, entity, periods, groups_list?, config_overrides?)", "List",
     "The measurements of a profile and entity for each period (from PROFILE_FIXED or "
     "PROFILE_WINDOW), in period order. Missing periods are skipped unless "
     "profiler.default.value is set. groups_list must match the profile's groupBy values (by "
     "their text). Groups passed one by one after periods (deprecated) allow no overrides.",
     f_profile_get},
    {"PROFILE_VERBOSE", 3, 4, 0, "(profile, entity, periods, groups?)", "List",
     "Like PROFILE_GET, but each item is a map {profile, entity, period, period.start, "
     "period.end, value, groups}.",
     f_profile_verbose},
    {"PROFILE_FIXED", 2, 3, 0, "(durationAgo, units, config_overrides?)", "List",
     "The periods from the one containing now - durationAgo through the one containing now, "
     "inclusive (units: a TimeUnit name such as 'MINUTES', 'HOURS', 'DAYS'). The period "
     "length comes from profiler.client.period.duration and .duration.units (default 15 "
     "MINUTES). Each period is a map {duration, period, start, end}.",
     f_profile_fixed},
    {"PROFILE_WINDOW", 1, 3, 0, "(selector, now?, config_overrides?)", "List",
     "The periods whose start lies in an interval of the window selector, e.g. 'from 5 hours "
     "ago', '1 hour window every 1 day from 7 days ago excluding weekends' (docs/"
     "profile-store.md). now defaults to the current time (epoch ms).",
     f_profile_window},
    {0},
};
