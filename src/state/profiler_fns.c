/*
 * profiler_fns.c — the Stellar REPL helpers PROFILER_INIT, PROFILER_APPLY and PROFILER_FLUSH
 * (Metron's ProfilerFunctions over a StandAloneProfiler), to try a profiler.json on a few
 * messages before deploying it.
 *
 * DESIGN: PROFILER_INIT makes a reference-counted object holding the compiled definition,
 * one engine (sl_profiler) and a VM of its own: the profile expressions run while the
 * calling VM is in the middle of an evaluation, so they cannot use it. Time is processing
 * time (the VM's "now", sl_fcx_now_ms) unless profiler.json names a timestampField, as the
 * StandAloneProfiler's clock factory does; nothing closes until PROFILER_FLUSH, which
 * flushes every open builder and keeps the variables (a flush resets `init`, not state).
 * The period comes from profiler.client.period.duration and .units in the optional config
 * map (15 MINUTES by default).
 */
#include "state/profiler.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "lang/func.h"
#include "lang/sval.h"
#include "state/profiler_int.h"

#include <stdio.h>
#include <string.h>

struct pobj {
    struct sl_object o; /* first */
    struct sl_profiler_def *def;
    struct sl_profiler *p;
    struct sl_stellar_vm *vm;
    uint64_t messages, routes;
};

static void pobj_free(struct sl_object *o)
{
    struct pobj *po = (struct pobj *)(void *)o;
    sl_profiler_free(po->p);
    sl_profiler_def_free(po->def);
    sl_stellar_vm_free(po->vm);
    sl_free(po);
}

static int pobj_text(const struct sl_object *o, struct sl_buf *out)
{
    const struct pobj *po = (const struct pobj *)(const void *)o;
    return sl_buf_appendf(out, "Profiler{%zu profile(s), %llu messages(s), %llu route(s)}",
                          sl_profiler_def_count(po->def), (unsigned long long)po->messages,
                          (unsigned long long)po->routes);
}

static const struct sl_object_type profiler_type = {
    .name = "Profiler", .free = pobj_free, .to_json = pobj_text};

static struct pobj *pobj_of(const struct sl_value *v)
{
    return v->type == SL_V_OBJECT && v->u.obj->type == &profiler_type ? (struct pobj *)v->u.obj
                                                                      : NULL;
}

/* ---- PROFILER_INIT */

static int64_t unit_ms(struct sl_str u, bool *ok)
{
    static const struct {
        const char *name;
        double ms;
    } units[] = {{"NANOSECONDS", 1e-6}, {"MICROSECONDS", 1e-3}, {"MILLISECONDS", 1},
                 {"SECONDS", 1e3},      {"MINUTES", 6e4},       {"HOURS", 3.6e6},
                 {"DAYS", 8.64e7}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (u.len == strlen(units[i].name) && !strncasecmp(u.ptr, units[i].name, u.len)) {
            *ok = true;
            return (int64_t)units[i].ms ? (int64_t)units[i].ms : 1;
        }
    *ok = false;
    return 0;
}

static int f_init(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type != SL_V_STRING)
        return sl_fcx_error(cx, "PROFILER_INIT: expected the profiler definition (a JSON string)");
    int64_t duration = 15, unit = 60000;
    if (n > 1 && a[1].type == SL_V_MAP) {
        const struct sl_value *d =
            sl_value_map_get(&a[1], sl_str_c("profiler.client.period.duration"));
        const struct sl_value *u =
            sl_value_map_get(&a[1], sl_str_c("profiler.client.period.duration.units"));
        if (d && d->type == SL_V_STRING) {
            if (sl_sv_parse_long(d->u.s, d->len, &duration))
                return sl_fcx_error(cx, "PROFILER_INIT: bad profiler.client.period.duration");
        } else if (d && sl_sv_is_num(d)) {
            duration = sl_sv_as_long(d);
        }
        if (u && u->type == SL_V_STRING) {
            bool ok;
            unit = unit_ms(sl_value_as_str(u), &ok);
            if (!ok)
                return sl_fcx_error(cx, "PROFILER_INIT: unknown time unit '%.*s'", (int)u->len,
                                    u->u.s);
        }
    } else if (n > 1 && a[1].type != SL_V_NULL) {
        return sl_fcx_error(cx, "PROFILER_INIT: the global configuration must be a map");
    }
    if (duration <= 0 || duration > INT64_MAX / unit)
        return sl_fcx_error(cx, "PROFILER_INIT: the period duration must be > 0");
    struct sl_profiler_def *def;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_profiler_def_parse(a[0].u.s, a[0].len, "<PROFILER_INIT>", &def, &d))
        return sl_fcx_error(cx, "PROFILER_INIT: %u:%u: %s", d.line, d.col, d.msg);
    struct pobj *po = sl_xcalloc(1, sizeof *po);
    po->o.type = &profiler_type;
    atomic_init(&po->o.refs, 1);
    po->def = def;
    struct sl_profiler_opts o = {.period_ms = duration * unit};
    po->p = sl_profiler_new(def, &o);
    po->vm = sl_stellar_vm_new();
    sl_fcx_own(cx, &po->o);
    *out = (struct sl_value){.type = SL_V_OBJECT};
    out->u.obj = &po->o;
    return 0;
}

/* ---- PROFILER_APPLY */

struct mres {
    const struct sl_value *map;
};

static bool mget(void *ud, sl_sym sym, const char *name, size_t len, struct sl_value *out)
{
    const struct mres *m = ud;
    const struct sl_value *v = sl_value_map_get(m->map, sl_str_make(name, len));
    if (!v)
        return false;
    *out = *v;
    return true;
}

static bool mall(void *ud, struct sl_arena *a, struct sl_value *out)
{
    const struct mres *m = ud;
    *out = *m->map;
    return true;
}

static int apply_one(struct sl_fcx *cx, struct pobj *po, const struct sl_value *msg,
                     struct sl_arena *a)
{
    if (msg->type != SL_V_MAP)
        return sl_fcx_error(cx, "PROFILER_APPLY: a message must be a JSON object");
    struct mres m = {msg};
    struct sl_stellar_resolver r = {.get = mget, .ud = &m, .strict = false, .all = mall};
    int64_t now = sl_fcx_now_ms(cx), ts = now;
    sl_stellar_vm_set_now(po->vm, now);
    const char *tsf = sl_profiler_def_timestamp_field(po->def);
    po->messages++;
    if (tsf) { /* event time: a message without a usable timestamp is dropped */
        const struct sl_value *t = sl_value_map_get(msg, sl_str_c(tsf));
        if (!t || sl_profiler_timestamp(t, &ts))
            return 0;
    }
    for (size_t i = 0; i < sl_profiler_def_count(po->def); i++) {
        struct sl_str entity;
        const char *err;
        int rc = sl_profiler_route(po->def, i, po->vm, &r, a, &entity, &err);
        sl_stellar_vm_release(po->vm);
        if (rc <= 0) /* not routed, or failed: the profile is skipped (METRON-1121) */
            continue;
        po->routes++;
        (void)sl_profiler_apply(po->p, i, entity, po->vm, &r, ts, now, &err);
    }
    return 0;
}

static int parse_json(struct sl_fcx *cx, struct sl_arena *a, const struct sl_value *s,
                      struct sl_value *out)
{
    struct sl_pj_node *root;
    size_t off;
    const char *err;
    int rc = sl_profiler__json_parse(a, s->u.s, s->len, &root, &off, &err);
    if (rc)
        return sl_fcx_error(cx, "PROFILER_APPLY: invalid JSON at offset %zu: %s", off, err);
    rc = sl_profiler__json_value(a, root, out);
    return rc ? rc : 0;
}

static int f_apply(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    struct pobj *po = pobj_of(&a[1]);
    if (!po)
        return sl_fcx_error(cx, "PROFILER_APPLY: expected a profiler (from PROFILER_INIT)");
    struct sl_arena arena;
    sl_arena_init(&arena, 16384, 256u << 20);
    int rc = 0;
    struct sl_value msgs = a[0];
    if (msgs.type == SL_V_STRING)
        rc = parse_json(cx, &arena, &a[0], &msgs);
    if (!rc && msgs.type == SL_V_LIST) {
        for (uint32_t i = 0; i < msgs.len && !rc; i++) {
            struct sl_value m = msgs.u.list[i];
            if (m.type == SL_V_STRING)
                rc = parse_json(cx, &arena, &msgs.u.list[i], &m);
            if (!rc)
                rc = apply_one(cx, po, &m, &arena);
        }
    } else if (!rc) {
        rc = apply_one(cx, po, &msgs, &arena);
    }
    sl_arena_fini(&arena);
    if (rc)
        return rc;
    *out = a[1];
    return 0;
}

/* ---- PROFILER_FLUSH */

/* copy v into the evaluation's memory; objects: a reference owned by the evaluation */
static int fcx_copy(struct sl_fcx *cx, const struct sl_value *v, struct sl_value *out)
{
    *out = *v;
    switch (v->type) {
    case SL_V_STRING:
    case SL_V_BYTES:
        if (sl_fcx_str(cx, v->u.s, v->len, out))
            return SL_ENOMEM;
        out->type = v->type;
        return 0;
    case SL_V_LIST: {
        if (sl_fcx_list(cx, v->len, out))
            return SL_ENOMEM;
        out->flags = v->flags;
        for (uint32_t i = 0; i < v->len; i++)
            if (fcx_copy(cx, &v->u.list[i], &out->u.list[i]))
                return SL_ENOMEM;
        return 0;
    }
    case SL_V_MAP: {
        if (sl_fcx_map(cx, v->len, out))
            return SL_ENOMEM;
        for (uint32_t i = 0; i < v->len; i++) {
            struct sl_value k;
            if (sl_fcx_str(cx, v->u.map[i].key.ptr, v->u.map[i].key.len, &k) ||
                fcx_copy(cx, &v->u.map[i].val, &out->u.map[i].val))
                return SL_ENOMEM;
            out->u.map[i].key = sl_value_as_str(&k);
        }
        return 0;
    }
    case SL_V_OBJECT:
        sl_object_ref(v->u.obj);
        sl_fcx_own(cx, v->u.obj);
        return 0;
    default:
        return 0;
    }
}

struct collect {
    struct sl_fcx *cx;
    struct sl_value *items;
    size_t n, cap;
    int rc;
};

static void kv_set(struct sl_kv *kv, const char *k, struct sl_value v)
{
    kv->key = sl_str_c(k);
    kv->val = v;
}

static int on_emit(void *ud, const struct sl_profile_result *r)
{
    struct collect *c = ud;
    struct sl_fcx *cx = c->cx;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        struct sl_value *ni = sl_realloc(c->items, nc * sizeof *ni);
        if (!ni) {
            c->rc = SL_ENOMEM;
            return 1;
        }
        c->items = ni;
        c->cap = nc;
    }
    struct sl_value m, per, prof, ent, groups;
    int rc = sl_fcx_map(cx, 5, &m);
    rc = rc ? rc : sl_fcx_map(cx, 4, &per);
    rc = rc ? rc : sl_fcx_str(cx, r->m.profile.ptr, r->m.profile.len, &prof);
    rc = rc ? rc : sl_fcx_str(cx, r->m.entity.ptr, r->m.entity.len, &ent);
    rc = rc ? rc : sl_fcx_list(cx, (uint32_t)r->ngroups, &groups);
    for (size_t g = 0; !rc && g < r->ngroups; g++)
        rc = fcx_copy(cx, &r->groups[g], &groups.u.list[g]);
    struct sl_value val;
    rc = rc ? rc : fcx_copy(cx, &r->m.value, &val);
    if (rc) {
        c->rc = rc;
        return 1;
    }
    kv_set(&per.u.map[0], "period", sl_sv_long(r->m.period));
    kv_set(&per.u.map[1], "start", sl_sv_long(r->m.start_ms));
    kv_set(&per.u.map[2], "end", sl_sv_long(r->m.end_ms));
    kv_set(&per.u.map[3], "duration", sl_sv_long(r->m.duration_ms));
    kv_set(&m.u.map[0], "profile", prof);
    kv_set(&m.u.map[1], "entity", ent);
    kv_set(&m.u.map[2], "value", val);
    kv_set(&m.u.map[3], "groups", groups);
    kv_set(&m.u.map[4], "period", per);
    c->items[c->n++] = m;
    return 0;
}

static int f_flush(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    struct pobj *po = pobj_of(&a[0]);
    if (!po)
        return sl_fcx_error(cx, "PROFILER_FLUSH: expected a profiler (from PROFILER_INIT)");
    struct collect c = {.cx = cx};
    struct sl_profiler_sink sink = {.emit = on_emit, .ud = &c};
    sl_stellar_vm_set_now(po->vm, sl_fcx_now_ms(cx));
    (void)sl_profiler_flush_all(po->p, po->vm, &sink);
    int rc = c.rc ? c.rc : sl_fcx_list(cx, (uint32_t)c.n, out);
    if (!rc && c.n)
        memcpy(out->u.list, c.items, c.n * sizeof *c.items);
    sl_free(c.items);
    return rc;
}

const struct sl_sfunc sl_sfuncs_profiler[] = {
    {"PROFILER_INIT", 1, 2, 0, "(profiler_config, global_config?)", "Profiler",
     "A stand-alone profiler over profiler.json (a string), for trying profiles in the REPL. "
     "Processing time unless the definition names a timestampField; the period is "
     "profiler.client.period.duration and .units of the optional config map (15 MINUTES).",
     f_init},
    {"PROFILER_APPLY", 2, 2, 0, "(message, profiler)", "Profiler",
     "Applies a message (a JSON object string, a JSON array string, a list of JSON strings, or "
     "a map) to each profile it routes to; returns the profiler, whose text is "
     "Profiler{N profile(s), M messages(s), R route(s)}.",
     f_apply},
    {"PROFILER_FLUSH", 1, 1, 0, "(profiler)", "List",
     "Flushes every open profile: a list of maps {profile, entity, value, groups, "
     "period: {period, start, end, duration}}. Variables are kept (init runs again on the next "
     "message).",
     f_flush},
    {0},
};
