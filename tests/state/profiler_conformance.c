/*
 * profiler_conformance.c — runs Metron's profiler scenarios (../shared/conformance/
 * profiler_cases.json) against sluice's profiler engine and prints the pass rate and every
 * case that does not pass.
 *
 *   profiler_conformance FILE [--floor N] [--verbose]
 *
 * Kinds (the file's `conventions`):
 *   profile_builder      one (profile, entity): steps apply/flush in order
 *   standalone_profiler  router + builders, processing time, one flush; counters
 *   repl                 the Stellar lines with PROFILER_INIT/APPLY/FLUSH
 *   batch_profiler       event time, exact bucketing, input_begin/input_end filter
 *   storm_profiler       Storm folds periods by its flush signal; sluice buckets exactly.
 *                        The windowed case is reported as "differs by design" and checked
 *                        against the exact-bucketing figures of its `verification`.
 * A case is PASS, DIFF (differs by design, with the reason; verified ones count as passing
 * since the figures sluice must give were checked) or FAIL. Exit 1 below --floor.
 */
#include "base/arena.h"
#include "base/buf.h"
#include "lang/stellar.h"
#include "lang/sval.h"
#include "state/profiler.h"
#include "state/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXM 256

struct meas {
    char profile[128], entity[128], groups[512];
    int64_t period, start, end, duration;
    struct sl_value value, triage;
};

struct run {
    struct sl_arena arena; /* copies of measurement values */
    struct meas m[MAXM];
    size_t n;
    struct sl_object *objs[MAXM];
    size_t nobjs;
};

static void run_init(struct run *r)
{
    memset(r, 0, sizeof *r);
    sl_arena_init(&r->arena, 4096, 64u << 20);
}

static void run_fini(struct run *r)
{
    for (size_t i = 0; i < r->nobjs; i++)
        sl_object_unref(r->objs[i]);
    sl_arena_fini(&r->arena);
}

static void keep_objs(struct run *r, const struct sl_value *v)
{
    if (v->type == SL_V_OBJECT && r->nobjs < MAXM) {
        sl_object_ref(v->u.obj);
        r->objs[r->nobjs++] = v->u.obj;
    } else if (v->type == SL_V_MAP) {
        for (uint32_t i = 0; i < v->len; i++)
            keep_objs(r, &v->u.map[i].val);
    }
}

static int on_emit(void *ud, const struct sl_profile_result *res)
{
    struct run *r = ud;
    if (r->n == MAXM)
        return 1;
    struct meas *m = &r->m[r->n++];
    snprintf(m->profile, sizeof m->profile, "%.*s", (int)res->m.profile.len, res->m.profile.ptr);
    snprintf(m->entity, sizeof m->entity, "%.*s", (int)res->m.entity.len, res->m.entity.ptr);
    snprintf(m->groups, sizeof m->groups, "%.*s", (int)res->m.groups.len, res->m.groups.ptr);
    m->period = res->m.period;
    m->start = res->m.start_ms;
    m->end = res->m.end_ms;
    m->duration = res->m.duration_ms;
    sl_value_copy(&r->arena, &res->m.value, &m->value);
    sl_value_copy(&r->arena, &res->triage, &m->triage);
    keep_objs(r, &m->value);
    keep_objs(r, &m->triage);
    return 0;
}

/* ---- JSON (jansson) to values: integers are Long, as json-simple reads messages */

static void to_value(json_t *j, struct sl_arena *a, struct sl_value *out)
{
    switch (json_typeof(j)) {
    case JSON_NULL:
        *out = sl_value_null();
        return;
    case JSON_TRUE:
        *out = sl_value_bool(true);
        return;
    case JSON_FALSE:
        *out = sl_value_bool(false);
        return;
    case JSON_INTEGER:
        *out = sl_sv_long(json_integer_value(j));
        return;
    case JSON_REAL:
        *out = sl_sv_double(json_real_value(j));
        return;
    case JSON_STRING: {
        size_t n = json_string_length(j);
        *out = sl_value_str(sl_arena_strndup(a, json_string_value(j), n), n);
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        struct sl_value *l = sl_arena_alloc(a, (n ? n : 1) * sizeof *l);
        for (size_t i = 0; i < n; i++)
            to_value(json_array_get(j, i), a, &l[i]);
        *out = (struct sl_value){.type = SL_V_LIST, .len = (uint32_t)n};
        out->u.list = l;
        return;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        struct sl_kv *m = sl_arena_alloc(a, (n ? n : 1) * sizeof *m);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            m[i].key = sl_str_make(sl_arena_strndup(a, k, strlen(k)), strlen(k));
            to_value(v, a, &m[i].val);
            i++;
        }
        *out = (struct sl_value){.type = SL_V_MAP, .len = (uint32_t)n};
        out->u.map = m;
        return;
    }
    }
}

struct vars {
    const char *names[8];
    struct sl_value vals[8];
    int n;
    const struct sl_value *map; /* fallback: a message */
};

static bool vget(void *ud, sl_sym sym, const char *name, size_t len, struct sl_value *out)
{
    struct vars *v = ud;
    for (int i = 0; i < v->n; i++)
        if (strlen(v->names[i]) == len && !memcmp(v->names[i], name, len)) {
            *out = v->vals[i];
            return true;
        }
    if (v->map) {
        const struct sl_value *x = sl_value_map_get(v->map, sl_str_make(name, len));
        if (x) {
            *out = *x;
            return true;
        }
    }
    return false;
}

/* ---- comparisons */

static void text_of(const struct sl_value *v, char *out, size_t n)
{
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    sl_sv_format(v, &b);
    snprintf(out, n, "%.*s", (int)b.len, b.ptr ? b.ptr : "");
    sl_buf_fini(&b);
}

static bool value_eq(json_t *e, const struct sl_value *v, const char *type)
{
    if (type) {
        enum sl_jnum want = !strcmp(type, "int")      ? SL_JN_INT
                            : !strcmp(type, "long")   ? SL_JN_LONG
                            : !strcmp(type, "float")  ? SL_JN_FLOAT
                            : !strcmp(type, "double") ? SL_JN_DOUBLE
                                                      : SL_JN_NONE;
        if (want != SL_JN_NONE && sl_sv_jnum(v) != want)
            return false;
    }
    switch (json_typeof(e)) {
    case JSON_INTEGER:
    case JSON_REAL:
        return sl_sv_is_num(v) && sl_sv_as_double(v) == json_number_value(e);
    case JSON_STRING:
        return v->type == SL_V_STRING && v->len == json_string_length(e) &&
               !memcmp(v->u.s, json_string_value(e), v->len);
    case JSON_TRUE:
    case JSON_FALSE:
        return v->type == SL_V_BOOL && v->u.b == json_is_true(e);
    case JSON_NULL:
        return v->type == SL_V_NULL;
    case JSON_ARRAY:
        if (v->type != SL_V_LIST || v->len != json_array_size(e))
            return false;
        for (uint32_t i = 0; i < v->len; i++)
            if (!value_eq(json_array_get(e, i), &v->u.list[i], NULL))
                return false;
        return true;
    case JSON_OBJECT: {
        if (v->type != SL_V_MAP)
            return false;
        const char *k;
        json_t *x;
        json_object_foreach(e, k, x)
        {
            const struct sl_value *g = sl_value_map_get(v, sl_str_c(k));
            if (!g || !value_eq(x, g, NULL))
                return false;
        }
        return true;
    }
    }
    return false;
}

/* expected groups [100, "a"] against the measurement's text ["100","a"] */
static bool groups_eq(json_t *e, const char *text)
{
    json_error_t je;
    json_t *got = json_loads(text, 0, &je);
    bool ok = got && json_is_array(got) && json_array_size(got) == json_array_size(e);
    for (size_t i = 0; ok && i < json_array_size(e); i++) {
        json_t *x = json_array_get(e, i);
        const char *g = json_string_value(json_array_get(got, i));
        char want[256];
        if (json_is_string(x))
            snprintf(want, sizeof want, "%s", json_string_value(x));
        else if (json_is_integer(x))
            snprintf(want, sizeof want, "%lld", (long long)json_integer_value(x));
        else {
            char *d = json_dumps(x, JSON_ENCODE_ANY);
            snprintf(want, sizeof want, "%s", d ? d : "");
            free(d);
        }
        ok = g && !strcmp(g, want);
    }
    json_decref(got);
    return ok;
}

static bool meas_match(json_t *e, const struct meas *m, char *why, size_t wn)
{
    json_t *x;
    if ((x = json_object_get(e, "profile")) && strcmp(json_string_value(x), m->profile))
        return snprintf(why, wn, "profile %s", m->profile), false;
    if ((x = json_object_get(e, "entity")) && strcmp(json_string_value(x), m->entity))
        return snprintf(why, wn, "entity %s", m->entity), false;
    if ((x = json_object_get(e, "period")) && json_is_integer(x) &&
        json_integer_value(x) != m->period)
        return snprintf(why, wn, "period %lld", (long long)m->period), false;
    if ((x = json_object_get(e, "value")) &&
        !value_eq(x, &m->value, json_string_value(json_object_get(e, "value_type")))) {
        char t[200];
        text_of(&m->value, t, sizeof t);
        return snprintf(why, wn, "value %s", t), false;
    }
    if ((x = json_object_get(e, "groups")) && !groups_eq(x, m->groups))
        return snprintf(why, wn, "groups %s", m->groups), false;
    if ((x = json_object_get(e, "triage")) && !value_eq(x, &m->triage, NULL)) {
        char t[200];
        text_of(&m->triage, t, sizeof t);
        return snprintf(why, wn, "triage %s", t), false;
    }
    return true;
}

/* every expected measurement matched by a distinct emitted one (any order), none extra */
static bool match_unordered(json_t *exp, const struct run *r, char *why, size_t wn)
{
    bool used[MAXM] = {0};
    if (json_array_size(exp) != r->n)
        return snprintf(why, wn, "%zu measurements, expected %zu", r->n, json_array_size(exp)),
               false;
    for (size_t i = 0; i < json_array_size(exp); i++) {
        bool found = false;
        char w[300] = "";
        for (size_t k = 0; k < r->n && !found; k++)
            if (!used[k] && meas_match(json_array_get(exp, i), &r->m[k], w, sizeof w))
                found = used[k] = true;
        if (!found) {
            char *d = json_dumps(json_array_get(exp, i), JSON_COMPACT);
            snprintf(why, wn, "no measurement matches %s", d ? d : "?");
            free(d);
            return false;
        }
    }
    return true;
}

/* ---- engines */

struct ctx {
    struct sl_stellar_vm *vm;
    json_t *fixtures;
    char note[512];
};

static struct sl_profiler_def *def_of(json_t *config, char *why, size_t wn)
{
    char *text = json_dumps(config, JSON_COMPACT | JSON_PRESERVE_ORDER);
    struct sl_profiler_def *def = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_profiler_def_parse(text, strlen(text), "<case>", &def, &d))
        snprintf(why, wn, "definition: %u:%u: %s", d.line, d.col, d.msg);
    free(text);
    return def;
}

static json_t *messages_of(struct ctx *cx, json_t *c)
{
    json_t *m = json_object_get(c, "messages");
    if (m)
        return m;
    const char *ref = json_string_value(json_object_get(c, "messages_ref"));
    if (ref && !strncmp(ref, "fixtures.", 9))
        return json_object_get(cx->fixtures, ref + 9);
    return NULL;
}

static int64_t iso_ms(const char *s)
{
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return 0;
    return (int64_t)timegm(&tm) * 1000;
}

/* Route and apply each message to each profile; event time from the timestampField when
 * the definition has one, else `now`; watermark = max ts - lag after each message when
 * lag >= 0. Returns the number of routes. */
static uint64_t feed(struct ctx *cx, struct sl_profiler_def *def, struct sl_profiler *p,
                     json_t *msgs, int64_t now, int64_t lag, int64_t begin, int64_t end,
                     struct run *r)
{
    uint64_t routes = 0;
    int64_t maxts = INT64_MIN;
    const char *tsf = sl_profiler_def_timestamp_field(def);
    struct sl_profiler_sink sink = {.emit = on_emit, .ud = r};
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        struct sl_arena a;
        sl_arena_init(&a, 4096, 16u << 20);
        struct sl_value msg;
        to_value(json_array_get(msgs, i), &a, &msg);
        struct vars vs = {.map = &msg};
        struct sl_stellar_resolver res = {.get = vget, .ud = &vs};
        int64_t ts = now;
        if (tsf) {
            const struct sl_value *t = sl_value_map_get(&msg, sl_str_c(tsf));
            if (!t || t->type != SL_V_INT) {
                sl_arena_fini(&a);
                continue;
            }
            ts = t->u.i;
        }
        if ((begin && ts < begin) || (end && ts > end)) {
            sl_arena_fini(&a);
            continue;
        }
        for (size_t k = 0; k < sl_profiler_def_count(def); k++) {
            struct sl_str ent;
            const char *err;
            if (sl_profiler_route(def, k, cx->vm, &res, &a, &ent, &err) == 1) {
                routes++;
                sl_profiler_apply(p, k, ent, cx->vm, &res, ts, now, &err);
            }
        }
        sl_stellar_vm_release(cx->vm);
        if (ts > maxts)
            maxts = ts;
        if (lag >= 0)
            sl_profiler_advance(p, cx->vm, maxts - lag, now, &sink);
        sl_arena_fini(&a);
    }
    return routes;
}

enum verdict { PASS, FAIL, DIFF, DIFF_OK };

static enum verdict case_builder(struct ctx *cx, json_t *c, char *why, size_t wn)
{
    json_t *cfg = json_pack("{s:[O]}", "profiles", json_object_get(c, "profile"));
    struct sl_profiler_def *def = def_of(cfg, why, wn);
    json_decref(cfg);
    if (!def)
        return FAIL;
    struct sl_profiler_opts o = {.period_ms =
                                     json_integer_value(json_object_get(c, "period_duration_ms"))};
    struct sl_profiler *p = sl_profiler_new(def, &o);
    struct run r;
    run_init(&r);
    struct sl_profiler_sink sink = {.emit = on_emit, .ud = &r};
    const char *ent = json_string_value(json_object_get(c, "entity"));
    json_t *steps = json_object_get(c, "steps");
    size_t applies = 0;
    for (size_t i = 0; i < json_array_size(steps); i++) {
        json_t *s = json_array_get(steps, i);
        if (!strcmp(json_string_value(json_object_get(s, "op")), "apply")) {
            struct sl_arena a;
            sl_arena_init(&a, 4096, 16u << 20);
            struct sl_value msg;
            to_value(json_object_get(s, "message"), &a, &msg);
            struct vars vs = {.map = &msg};
            struct sl_stellar_resolver res = {.get = vget, .ud = &vs};
            int64_t ts = json_integer_value(json_object_get(s, "timestamp"));
            const char *err;
            sl_profiler_apply(p, 0, sl_str_c(ent), cx->vm, &res, ts, ts, &err);
            sl_arena_fini(&a);
            applies++;
        } else {
            sl_profiler_flush_all(p, cx->vm, &sink);
        }
    }
    json_t *exp = json_object_get(c, "expect");
    enum verdict v = PASS;
    if (!applies && json_array_size(exp) && !r.n) {
        snprintf(why, wn,
                 "sluice never flushes a builder that saw no message (as Metron's distributor "
                 "and StandAloneProfiler); the case calls DefaultProfileBuilder.flush() on a "
                 "fresh builder");
        v = DIFF;
    } else if (json_array_size(exp) != r.n) {
        snprintf(why, wn, "%zu measurements, expected %zu", r.n, json_array_size(exp));
        v = FAIL;
    } else {
        for (size_t i = 0; i < r.n && v == PASS; i++)
            if (!meas_match(json_array_get(exp, i), &r.m[i], why, wn))
                v = FAIL;
    }
    run_fini(&r);
    sl_profiler_free(p);
    sl_profiler_def_free(def);
    return v;
}

static enum verdict case_standalone(struct ctx *cx, json_t *c, char *why, size_t wn)
{
    struct sl_profiler_def *def = def_of(json_object_get(c, "profiler_config"), why, wn);
    if (!def)
        return FAIL;
    struct sl_profiler_opts o = {.period_ms =
                                     json_integer_value(json_object_get(c, "period_duration_ms"))};
    struct sl_profiler *p = sl_profiler_new(def, &o);
    struct run r;
    run_init(&r);
    json_t *msgs = messages_of(cx, c);
    uint64_t routes = feed(cx, def, p, msgs, 1502665200000, -1, 0, 0, &r);
    struct sl_profiler_sink sink = {.emit = on_emit, .ud = &r};
    sl_profiler_flush_all(p, cx->vm, &sink);
    enum verdict v = match_unordered(json_object_get(c, "expect"), &r, why, wn) ? PASS : FAIL;
    json_t *cnt = json_object_get(c, "expect_counters");
    if (v == PASS && cnt) {
        struct sl_profiler_stats st;
        sl_profiler_get_stats(p, &st);
        if ((uint64_t)json_integer_value(json_object_get(cnt, "routes")) != routes ||
            (uint64_t)json_integer_value(json_object_get(cnt, "routes")) != st.messages ||
            (size_t)json_integer_value(json_object_get(cnt, "messages")) != json_array_size(msgs)) {
            snprintf(why, wn, "counters: %llu routes, %zu messages", (unsigned long long)routes,
                     json_array_size(msgs));
            v = FAIL;
        }
    }
    run_fini(&r);
    sl_profiler_free(p);
    sl_profiler_def_free(def);
    return v;
}

static enum verdict case_repl(struct ctx *cx, json_t *c, char *why, size_t wn)
{
    struct sl_arena a;
    sl_arena_init(&a, 4096, 16u << 20);
    struct vars vs = {0};
    char *conf =
        json_dumps(json_object_get(c, "profiler_config"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *msg = json_dumps(json_array_get(json_object_get(c, "messages"), 0), JSON_COMPACT);
    vs.names[0] = "config";
    vs.vals[0] = sl_value_str(conf, strlen(conf));
    vs.names[1] = "message";
    vs.vals[1] = sl_value_str(msg, strlen(msg));
    vs.n = 2;
    /* the REPL's global config: passed as PROFILER_INIT's optional map */
    json_t *gc = json_object_get(c, "global_config");
    if (gc) {
        vs.names[2] = "global_config";
        to_value(gc, &a, &vs.vals[2]);
        vs.n = 3;
    }
    struct sl_stellar_resolver res = {.get = vget, .ud = &vs};
    sl_stellar_vm_set_now(cx->vm, 1502665500000);
    json_t *lines = json_object_get(c, "stellar");
    struct sl_value last = sl_value_null();
    enum verdict v = PASS;
    struct sl_object *held[4];
    int nheld = 0;
    for (size_t i = 0; i < json_array_size(lines) && v == PASS; i++) {
        const char *src = json_string_value(json_array_get(lines, i));
        const char *as = strstr(src, ":=");
        const char *expr = as ? as + 2 : src;
        char withcfg[512];
        if (gc && strstr(expr, "PROFILER_INIT(config)")) {
            snprintf(withcfg, sizeof withcfg, "PROFILER_INIT(config, global_config)");
            expr = withcfg;
        }
        struct sl_stellar_prog *prog;
        struct sl_diag d;
        sl_diag_init(&d);
        if (sl_stellar_compile(expr, strlen(expr), NULL, &prog, &d)) {
            snprintf(why, wn, "line %zu: %s", i + 1, d.msg);
            v = FAIL;
            break;
        }
        if (sl_stellar_eval(cx->vm, prog, &res, &a, &last)) {
            snprintf(why, wn, "line %zu: %s", i + 1, sl_stellar_vm_error(cx->vm));
            v = FAIL;
        } else if (as && vs.n < 8) {
            vs.names[vs.n] = "profiler"; /* the only assignment in the cases */
            vs.vals[vs.n++] = last;
            if (last.type == SL_V_OBJECT && nheld < 4) {
                sl_object_ref(last.u.obj);
                held[nheld++] = last.u.obj;
            }
        }
        sl_stellar_free(prog);
    }
    if (v == PASS) {
        json_t *exp = json_object_get(c, "expect");
        if (last.type != SL_V_LIST || last.len != json_array_size(exp)) {
            snprintf(why, wn, "expected a list of %zu maps", json_array_size(exp));
            v = FAIL;
        }
        for (size_t i = 0; v == PASS && i < json_array_size(exp); i++) {
            json_t *e = json_array_get(exp, i);
            const struct sl_value *m = &last.u.list[i];
            const char *keys[] = {"profile", "entity", "value", "groups"};
            for (int k = 0; k < 4 && v == PASS; k++) {
                const struct sl_value *g = sl_value_map_get(m, sl_str_c(keys[k]));
                if (!g || !value_eq(json_object_get(e, keys[k]), g, NULL)) {
                    snprintf(why, wn, "field %s differs", keys[k]);
                    v = FAIL;
                }
            }
            const struct sl_value *per = sl_value_map_get(m, sl_str_c("period"));
            json_t *ep = json_object_get(e, "period");
            json_t *pk = json_object_get(ep, "keys");
            for (size_t k = 0; v == PASS && k < json_array_size(pk); k++)
                if (!sl_value_map_get(per, sl_str_c(json_string_value(json_array_get(pk, k))))) {
                    snprintf(why, wn, "period has no key %s",
                             json_string_value(json_array_get(pk, k)));
                    v = FAIL;
                }
            const struct sl_value *dur = per ? sl_value_map_get(per, sl_str_c("duration")) : NULL;
            if (v == PASS && (!dur || !value_eq(json_object_get(ep, "duration"), dur, NULL))) {
                snprintf(why, wn, "period duration differs");
                v = FAIL;
            }
        }
    }
    sl_stellar_vm_release(cx->vm);
    for (int i = 0; i < nheld; i++)
        sl_object_unref(held[i]);
    sl_stellar_vm_set_now(cx->vm, 0);
    free(conf);
    free(msg);
    sl_arena_fini(&a);
    return v;
}

static bool get_args(const char *s, char *prof, char *ent, size_t n)
{
    const char *g = strstr(s, "PROFILE_GET('");
    if (!g)
        return false;
    g += 13;
    const char *q = strchr(g, '\'');
    if (!q)
        return false;
    snprintf(prof, n, "%.*s", (int)(q - g), g);
    const char *e = strchr(q + 1, '\'');
    const char *f = e ? strchr(e + 1, '\'') : NULL;
    if (!f)
        return false;
    snprintf(ent, n, "%.*s", (int)(f - e - 1), e + 1);
    return true;
}

/* Evaluate src with the variables of vs; true and *out on success (objects referenced). */
static bool eval_with(struct ctx *cx, const char *src, struct vars *vs, struct sl_arena *a,
                      struct sl_value *out, char *why, size_t wn)
{
    struct sl_stellar_prog *prog;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_stellar_compile(src, strlen(src), NULL, &prog, &d)) {
        snprintf(why, wn, "%s: %s", src, d.msg);
        return false;
    }
    struct sl_stellar_resolver res = {.get = vget, .ud = vs};
    int rc = sl_stellar_eval(cx->vm, prog, &res, a, out);
    if (rc)
        snprintf(why, wn, "%s: %s", src, sl_stellar_vm_error(cx->vm));
    else if (out->type == SL_V_OBJECT && out->u.obj)
        sl_object_ref(out->u.obj);
    sl_stellar_vm_release(cx->vm);
    sl_stellar_free(prog);
    return rc == 0;
}

/* The batch case's `expect_stellar`, as Metron's test runs it: the measurements go into a
 * real profile store (SQLite in a temp dir), then `given` (sketch := GET_FIRST(PROFILE_GET(
 * ..., window))) and `expr` run in the Stellar VM with that store. */
static enum verdict expect_stellar(struct ctx *cx, json_t *c, json_t *es, struct run *r, char *why,
                                   size_t wn)
{
    char dir[] = "/tmp/sluice-profconf-XXXXXX", url[128], path[160];
    if (!mkdtemp(dir)) {
        snprintf(why, wn, "mkdtemp failed");
        return FAIL;
    }
    snprintf(url, sizeof url, "sqlite:%s/profiles.db", dir);
    struct sl_store *st = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    enum verdict v = FAIL;
    if (sl_store_open(url, &st, &d)) {
        snprintf(why, wn, "store %s: %s", url, d.msg);
        goto out;
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct meas *m = &r->m[i];
        struct sl_measurement sm = {
            .profile = sl_str_make(m->profile, strlen(m->profile)),
            .entity = sl_str_make(m->entity, strlen(m->entity)),
            .groups = sl_str_make(m->groups, strlen(m->groups)),
            .period = m->period,
            .duration_ms = m->duration,
            .start_ms = m->start,
            .end_ms = m->end,
            .value = m->value,
        };
        if (sl_store_put(st, &sm, 1)) {
            snprintf(why, wn, "store put failed");
            goto out;
        }
    }
    if (sl_store_sync(st)) {
        snprintf(why, wn, "store sync failed");
        goto out;
    }
    sl_stellar_vm_set_store(cx->vm, st);
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1u << 24);
    struct vars vs = {.names = {"window", "sketch"}, .n = 2};
    const char *wsrc = json_string_value(json_object_get(c, "window"));
    v = wsrc && eval_with(cx, wsrc, &vs, &a, &vs.vals[0], why, wn) ? PASS : FAIL;
    for (size_t i = 0; v == PASS && i < json_array_size(es); i++) {
        json_t *e = json_array_get(es, i);
        const char *given = json_string_value(json_object_get(e, "given"));
        const char *expr = json_string_value(json_object_get(e, "expr"));
        const char *rhs = given ? strstr(given, ":=") : NULL;
        if (!rhs || !expr) {
            snprintf(why, wn, "expect_stellar[%zu]: no `x := ...` given or no expr", i);
            v = FAIL;
            break;
        }
        struct sl_value sk, ok;
        if (!eval_with(cx, rhs + 2, &vs, &a, &sk, why, wn)) {
            v = FAIL;
            break;
        }
        vs.vals[1] = sk;
        bool t = eval_with(cx, expr, &vs, &a, &ok, why, wn) && ok.type == SL_V_BOOL && ok.u.b;
        if (sk.type == SL_V_OBJECT && sk.u.obj)
            sl_object_unref(sk.u.obj);
        vs.vals[1] = sl_value_null();
        if (!t) {
            if (!why[0])
                snprintf(why, wn, "%s is not true after %s", expr, given);
            v = FAIL;
        }
    }
    sl_stellar_vm_set_store(cx->vm, NULL);
    sl_arena_fini(&a);
    if (v == PASS)
        snprintf(cx->note, sizeof cx->note,
                 "expect_stellar ran PROFILE_GET/PROFILE_WINDOW against a SQLite profile store");
out:
    sl_store_close(st);
    const char *files[] = {"profiles.db", "profiles.db-wal", "profiles.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return v;
}

static enum verdict case_batch(struct ctx *cx, json_t *c, char *why, size_t wn)
{
    struct sl_profiler_def *def = def_of(json_object_get(c, "profiler_config"), why, wn);
    if (!def)
        return FAIL;
    struct sl_profiler_opts o = {.period_ms =
                                     json_integer_value(json_object_get(c, "period_duration_ms"))};
    struct sl_profiler *p = sl_profiler_new(def, &o);
    struct run r;
    run_init(&r);
    int64_t begin = iso_ms(json_string_value(json_object_get(c, "input_begin")));
    int64_t end = iso_ms(json_string_value(json_object_get(c, "input_end")));
    feed(cx, def, p, messages_of(cx, c), 0, -1, begin, end, &r);
    struct sl_profiler_sink sink = {.emit = on_emit, .ud = &r};
    sl_profiler_flush_all(p, cx->vm, &sink);
    enum verdict v = PASS;
    if (json_object_get(c, "expect"))
        v = match_unordered(json_object_get(c, "expect"), &r, why, wn) ? PASS : FAIL;
    json_t *es = json_object_get(c, "expect_stellar");
    if (v == PASS && es)
        v = expect_stellar(cx, c, es, &r, why, wn);
    run_fini(&r);
    sl_profiler_free(p);
    sl_profiler_def_free(def);
    return v;
}

static enum verdict case_storm(struct ctx *cx, json_t *c, char *why, size_t wn)
{
    struct sl_profiler_def *def = def_of(json_object_get(c, "profiler_config"), why, wn);
    if (!def)
        return FAIL;
    json_t *set = json_object_get(c, "settings");
    struct sl_profiler_opts o = {
        .period_ms = json_integer_value(json_object_get(set, "profiler.period.duration"))};
    int64_t lag = json_integer_value(json_object_get(set, "profiler.window.lag"));
    struct sl_profiler *p = sl_profiler_new(def, &o);
    struct run r;
    run_init(&r);
    bool event_time = sl_profiler_def_timestamp_field(def) != NULL;
    feed(cx, def, p, messages_of(cx, c), 1530978700000, event_time ? lag : -1, 0, 0, &r);
    struct sl_profiler_sink sink = {.emit = on_emit, .ud = &r};
    sl_profiler_flush_all(p, cx->vm, &sink);
    enum verdict v = FAIL;
    const char *ver = json_string_value(json_object_get(c, "verification"));
    json_t *kafka = json_object_get(c, "expect_kafka_first_message");
    json_t *exps = json_object_get(c, "expect");
    if (ver && strstr(ver, "would instead give ")) {
        /* the windowed case: check the exact-bucketing figures for each asserted entity */
        const char *s = strstr(ver, "would instead give ") + 19;
        json_t *asserted = json_object_get(c, "asserted_by_test");
        v = DIFF_OK;
        for (size_t i = 0; i < json_array_size(asserted) && v == DIFF_OK; i++) {
            char prof[128], ent[128];
            if (!get_args(json_string_value(json_array_get(asserted, i)), prof, ent, sizeof prof)) {
                v = FAIL;
                break;
            }
            char got[128] = "", want[128] = "";
            size_t wl = 0;
            while (*s == ' ' || *s == ',')
                s++;
            while (*s && *s != ',' && wl + 1 < sizeof want)
                want[wl++] = *s++;
            want[wl] = 0;
            size_t gl = 0;
            for (size_t k = 0; k < r.n; k++)
                if (!strcmp(r.m[k].profile, prof) && !strcmp(r.m[k].entity, ent)) {
                    char t[32];
                    text_of(&r.m[k].value, t, sizeof t);
                    gl += (size_t)snprintf(got + gl, sizeof got - gl, "%s%s", gl ? "/" : "", t);
                }
            if (strcmp(got, want)) {
                snprintf(why, wn, "%s/%s: exact bucketing gives %s, expected %s", prof, ent, got,
                         want);
                v = FAIL;
            }
        }
        if (v == DIFF_OK)
            snprintf(why, wn,
                     "Storm folds several periods into one measurement (FixedFrequencyFlushSignal: "
                     "14/12, 36/38, 50/50); sluice buckets exactly by event time and gives the "
                     "verified exact figures %s",
                     strstr(ver, "would instead give ") + 19);
    } else if (kafka) {
        const char *prof = json_string_value(json_object_get(kafka, "profile"));
        const struct meas *m = NULL, *first = NULL;
        int64_t want_period = json_integer_value(json_object_get(kafka, "period"));
        for (size_t k = 0; k < r.n; k++) {
            if (strcmp(r.m[k].profile, prof))
                continue;
            if (!first || r.m[k].period < first->period)
                first = &r.m[k];
            if (r.m[k].period == want_period)
                m = &r.m[k];
        }
        v = PASS;
        if (!m || m->period != json_integer_value(json_object_get(kafka, "period")) ||
            m->start != json_integer_value(json_object_get(kafka, "period.start")) ||
            m->end != json_integer_value(json_object_get(kafka, "period.end")) ||
            strcmp(m->entity, json_string_value(json_object_get(kafka, "entity")))) {
            snprintf(why, wn, "first measurement's period/entity differ");
            v = FAIL;
        }
        const char *tk[] = {"min", "max", "mean"};
        for (int k = 0; k < 3 && v == PASS; k++) {
            const struct sl_value *t = sl_value_map_get(&m->triage, sl_str_c(tk[k]));
            if (!t || !value_eq(json_object_get(kafka, tk[k]), t, NULL)) {
                snprintf(why, wn, "triage %s differs", tk[k]);
                v = FAIL;
            }
        }
        if (v == PASS && first != m) {
            v = DIFF_OK;
            snprintf(why, wn,
                     "Storm's first flush folded periods %lld and %lld into one message stamped "
                     "%lld; sluice buckets exactly, so its first triage message is period %lld; "
                     "its measurement for period %lld has the expected start, end and "
                     "min/max/mean",
                     (long long)first->period, (long long)want_period, (long long)want_period,
                     (long long)first->period, (long long)want_period);
        }
        if (v != FAIL)
            snprintf(cx->note, sizeof cx->note,
                     "the Kafka fields source.type, is_alert, timestamp and guid are added by "
                     "the pipeline's profiler transform, not the engine");
    } else if (json_is_string(exps)) {
        /* "... hasItem(3)" */
        const char *h = strstr(json_string_value(exps), "hasItem(");
        long want = h ? strtol(h + 8, NULL, 10) : -1;
        v = FAIL;
        for (size_t k = 0; k < r.n; k++)
            if (sl_sv_is_num(&r.m[k].value) && sl_sv_as_long(&r.m[k].value) == want)
                v = PASS;
        if (v == FAIL)
            snprintf(why, wn, "no measurement with value %ld", want);
    } else {
        snprintf(why, wn, "unknown storm case shape");
    }
    run_fini(&r);
    sl_profiler_free(p);
    sl_profiler_def_free(def);
    return v;
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    long floor_n = 0;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--floor") && i + 1 < argc)
            floor_n = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--verbose"))
            verbose = true;
        else
            file = argv[i];
    }
    if (!file) {
        fprintf(stderr, "usage: profiler_conformance FILE [--floor N] [--verbose]\n");
        return 2;
    }
    json_error_t je;
    json_t *root = json_load_file(file, 0, &je);
    if (!root) {
        fprintf(stderr, "profiler_conformance: %s:%d: %s\n", file, je.line, je.text);
        return 2;
    }
    struct ctx cx = {.vm = sl_stellar_vm_new(), .fixtures = json_object_get(root, "fixtures")};
    json_t *cases = json_object_get(root, "cases");
    int total = 0, pass = 0, diff_ok = 0, diff = 0, failed = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *kind = json_string_value(json_object_get(c, "kind"));
        char why[1024] = "";
        cx.note[0] = 0;
        enum verdict v = FAIL;
        if (!strcmp(kind, "profile_builder"))
            v = case_builder(&cx, c, why, sizeof why);
        else if (!strcmp(kind, "standalone_profiler"))
            v = case_standalone(&cx, c, why, sizeof why);
        else if (!strcmp(kind, "repl"))
            v = case_repl(&cx, c, why, sizeof why);
        else if (!strcmp(kind, "batch_profiler"))
            v = case_batch(&cx, c, why, sizeof why);
        else if (!strcmp(kind, "storm_profiler"))
            v = case_storm(&cx, c, why, sizeof why);
        else
            snprintf(why, sizeof why, "unknown kind %s", kind);
        total++;
        const char *tag = v == PASS   ? "PASS"
                          : v == FAIL ? "FAIL"
                          : v == DIFF ? "DIFF"
                                      : "DIFF-verified";
        pass += v == PASS || v == DIFF_OK;
        diff_ok += v == DIFF_OK;
        diff += v == DIFF;
        failed += v == FAIL;
        if (v != PASS || verbose || cx.note[0])
            printf("%s %s (%s)%s%s%s%s\n", tag, name, kind, why[0] ? ": " : "", why,
                   cx.note[0] ? "\n    note: " : "", cx.note);
    }
    printf("profiler conformance: %d/%d passed (%.1f%%), of which %d differ from Storm by design "
           "and were verified; %d differ by design; %d failed\n",
           pass, total, total ? 100.0 * pass / total : 0.0, diff_ok, diff, failed);
    sl_stellar_vm_free(cx.vm);
    json_decref(root);
    if (pass < floor_n) {
        printf("FAIL: %d passed is below the recorded floor of %ld\n", pass, floor_n);
        return 1;
    }
    return 0;
}
