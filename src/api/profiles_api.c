/*
 * profiles_api.c — the profile store over HTTP (the API server routes /api/v1/profiles here).
 *
 *   GET /api/v1/profiles                       profiles: entities, measurements, first, last
 *   GET /api/v1/profiles/{profile}             its entities
 *   GET /api/v1/profiles/{profile}/{entity}?from=&to=&groups=
 *                                              measurements whose period starts in [from, to]
 *
 * `from` and `to` are epoch milliseconds or RFC 3339 (`2018-07-07T15:00:00Z`); `from`
 * defaults to 0 and `to` to now. `groups` is a JSON array (`["web",443]`) or a comma list
 * (`web,443`), matched as the profile's groupBy values as text; without it every group comes
 * back. The entity is the rest of the path, so it may contain '/' (sent as %2F or not).
 * Values keep their JSON type; sketches (STATS, HLLP, BLOOM) are their summary object.
 *
 * DESIGN: reads run on the API's thread against the store's committed state (SQLite WAL
 * readers never block the profiler's writer). The store is the process default one
 * (sl_store_default: the first profiler with a `store:` sets it).
 */
#include "api/profiles_api.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "codec/json.h"
#include "state/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void jstr(struct sl_buf *b, const char *p, size_t n)
{
    sl_json_write_string(b, p, n);
}

static void err(struct sl_buf *b, const char *msg)
{
    sl_buf_reset(b);
    sl_buf_puts(b, "{\"error\":");
    jstr(b, msg, strlen(msg));
    sl_buf_puts(b, "}\n");
}

bool sl_api_parse_time(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end) {
        *out = v;
        return true;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) < 6 &&
        sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) < 3)
        return false;
    const char *p = s + n;
    int64_t ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        for (; digits < 3; digits++)
            ms *= 10;
    }
    int64_t off = 0;
    if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
            return false;
        off = (*p == '+' ? 1 : -1) * ((int64_t)oh * 3600 + om * 60);
        p += 6;
    } else if (*p == 'Z') {
        p++;
    } else if (*p) {
        return false;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    *out = ((int64_t)timegm(&tm) - off) * 1000 + ms;
    return true;
}

int sl_api_groups_text(const char *q, struct sl_buf *out)
{
    sl_buf_putc(out, '[');
    if (q[0] == '[') {
        struct sl_arena a;
        sl_arena_init(&a, 4096, 1 << 20);
        struct sl_value v;
        int rc = sl_json_parse_value(&a, q, strlen(q), NULL, &v, NULL);
        if (rc || v.type != SL_V_LIST) {
            sl_arena_fini(&a);
            return SL_EINVAL;
        }
        struct sl_buf t;
        sl_buf_init(&t, 1 << 20);
        for (uint32_t i = 0; i < v.len; i++) {
            if (i)
                sl_buf_putc(out, ',');
            const struct sl_value *e = &v.u.list[i];
            if (e->type == SL_V_STRING) {
                jstr(out, e->u.s, e->len);
            } else {
                sl_buf_reset(&t);
                sl_json_write_value(&t, e);
                jstr(out, t.ptr ? t.ptr : "", t.len);
            }
        }
        sl_buf_fini(&t);
        sl_arena_fini(&a);
    } else if (q[0]) {
        const char *p = q;
        for (bool first = true;; first = false) {
            const char *c = strchr(p, ',');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            if (!first)
                sl_buf_putc(out, ',');
            jstr(out, p, n);
            if (!c)
                break;
            p = c + 1;
        }
    }
    return sl_buf_putc(out, ']');
}

static int list_profile(void *ud, struct sl_str profile, uint64_t entities, uint64_t meas,
                        int64_t first, int64_t last)
{
    struct sl_buf *b = ud;
    if (b->ptr[b->len - 1] != '[')
        sl_buf_putc(b, ',');
    sl_buf_puts(b, "{\"profile\":");
    jstr(b, profile.ptr, profile.len);
    return sl_buf_appendf(
        b, ",\"entities\":%llu,\"measurements\":%llu,\"first\":%lld,\"last\":%lld}",
        (unsigned long long)entities, (unsigned long long)meas, (long long)first, (long long)last);
}

static int list_entity(void *ud, struct sl_str entity, uint64_t meas, int64_t last)
{
    struct sl_buf *b = ud;
    if (b->ptr[b->len - 1] != '[')
        sl_buf_putc(b, ',');
    sl_buf_puts(b, "{\"entity\":");
    jstr(b, entity.ptr, entity.len);
    return sl_buf_appendf(b, ",\"measurements\":%llu,\"last\":%lld}", (unsigned long long)meas,
                          (long long)last);
}

int sl_api_value_json(struct sl_buf *b, const struct sl_value *v)
{
    if (v->type == SL_V_OBJECT) {
        if (v->u.obj && v->u.obj->type && v->u.obj->type->to_json)
            return v->u.obj->type->to_json(v->u.obj, b);
        return sl_buf_puts(b, "null");
    }
    return sl_json_write_value(b, v);
}

static int list_measurement(void *ud, const struct sl_measurement *m)
{
    struct sl_buf *b = ud;
    if (b->ptr[b->len - 1] != '[')
        sl_buf_putc(b, ',');
    sl_buf_appendf(b,
                   "{\"period\":%lld,\"start\":%lld,\"end\":%lld,\"groups\":", (long long)m->period,
                   (long long)m->start_ms, (long long)m->end_ms);
    sl_buf_append(b, m->groups.ptr, m->groups.len);
    sl_buf_puts(b, ",\"value\":");
    sl_api_value_json(b, &m->value);
    return sl_buf_putc(b, '}');
}

unsigned sl_api_profiles(const char *path, sl_api_arg_fn arg, void *arg_ud, struct sl_buf *b)
{
    struct sl_store *s = sl_store_default();
    if (!s) {
        err(b, "no profile store: give a profiler transform a `store:`");
        return 404;
    }
    const char *rest = path + strlen("/api/v1/profiles");
    while (*rest == '/')
        rest++;
    if (!*rest) {
        sl_buf_puts(b, "{\"store\":");
        const char *url = sl_store_url(s);
        jstr(b, url, strlen(url));
        sl_buf_puts(b, ",\"profiles\":[");
        if (sl_store_profiles(s, list_profile, b)) {
            err(b, "store read failed");
            return 500;
        }
        sl_buf_puts(b, "]}\n");
        return 200;
    }
    const char *slash = strchr(rest, '/');
    struct sl_str profile = sl_str_make(rest, slash ? (size_t)(slash - rest) : strlen(rest));
    if (!slash || !slash[1]) {
        sl_buf_puts(b, "{\"profile\":");
        jstr(b, profile.ptr, profile.len);
        sl_buf_puts(b, ",\"entities\":[");
        if (sl_store_entities(s, profile, list_entity, b)) {
            err(b, "store read failed");
            return 500;
        }
        sl_buf_puts(b, "]}\n");
        return 200;
    }
    struct sl_str entity = sl_str_make(slash + 1, strlen(slash + 1));
    int64_t from = 0, to = sl_clock_wall_ns() / 1000000;
    const char *q;
    if ((q = arg(arg_ud, "from")) && !sl_api_parse_time(q, &from)) {
        err(b, "from: epoch milliseconds or RFC 3339 (2018-07-07T15:00:00Z)");
        return 400;
    }
    if ((q = arg(arg_ud, "to")) && !sl_api_parse_time(q, &to)) {
        err(b, "to: epoch milliseconds or RFC 3339 (2018-07-07T15:00:00Z)");
        return 400;
    }
    struct sl_buf g;
    sl_buf_init(&g, 1 << 20);
    struct sl_str groups = {NULL, 0};
    if ((q = arg(arg_ud, "groups"))) {
        if (sl_api_groups_text(q, &g)) {
            sl_buf_fini(&g);
            err(b, "groups: a JSON array ([\"web\",443]) or a comma list (web,443)");
            return 400;
        }
        groups = sl_str_make(g.ptr, g.len);
    }
    sl_buf_puts(b, "{\"profile\":");
    jstr(b, profile.ptr, profile.len);
    sl_buf_puts(b, ",\"entity\":");
    jstr(b, entity.ptr, entity.len);
    sl_buf_appendf(b, ",\"from\":%lld,\"to\":%lld,\"measurements\":[", (long long)from,
                   (long long)to);
    int rc = sl_store_series(s, profile, entity, groups, from, to, list_measurement, b);
    sl_buf_fini(&g);
    if (rc) {
        err(b, "store read failed");
        return 500;
    }
    sl_buf_puts(b, "]}\n");
    return 200;
}
