/*
 * profiles_api.c — /api/v1/profiles: the profile store as JSON (see profiles_api.h).
 *
 * DESIGN: each request is a read on the caller's thread (libmicrohttpd's) through the store's
 * reader pool, so it never waits for the writer. Answers are built in the caller's buffer;
 * the measurements of one entity are capped at SL_API_PROFILES_MAX_ROWS ("truncated": true
 * then, narrow with from/to). Values are written as JSON (sketches as their JSON summary)
 * next to their Stellar type, and the stored groups text is re-parsed before it is echoed,
 * so a row edited by hand in the sqlite3 shell cannot break the answer's JSON.
 */
#include "api/profiles_api.h"

#include "base/arena.h"
#include "base/str.h"
#include "codec/json.h"
#include "lang/sketch.h"
#include "lang/sval.h"

#include <string.h>

bool sl_api_profiles_match(const char *url)
{
    size_t n = strlen(SL_API_PROFILES_PREFIX);
    return strncmp(url, SL_API_PROFILES_PREFIX, n) == 0 && (url[n] == 0 || url[n] == '/');
}

static unsigned error(struct sl_buf *out, unsigned status, const char *msg, const char *arg)
{
    sl_buf_puts(out, "{\"error\":");
    struct sl_buf m;
    sl_buf_init(&m, 4096);
    sl_buf_puts(&m, msg);
    if (arg)
        sl_buf_puts(&m, arg);
    sl_json_write_string(out, m.ptr ? m.ptr : "", m.len);
    sl_buf_fini(&m);
    sl_buf_puts(out, "}\n");
    return status;
}

static int on_profile(void *ud, struct sl_str profile, uint64_t entities, uint64_t measurements,
                      int64_t first_ms, int64_t last_ms)
{
    struct sl_buf *out = ud;
    if (out->ptr[out->len - 1] != '[')
        sl_buf_putc(out, ',');
    sl_buf_puts(out, "{\"profile\":");
    sl_json_write_string(out, profile.ptr, profile.len);
    return sl_buf_appendf(out,
                          ",\"entities\":%llu,\"measurements\":%llu,\"first_ms\":%lld,"
                          "\"last_ms\":%lld}",
                          (unsigned long long)entities, (unsigned long long)measurements,
                          (long long)first_ms, (long long)last_ms);
}

static int on_entity(void *ud, struct sl_str entity, uint64_t measurements, int64_t last_ms)
{
    struct sl_buf *out = ud;
    if (out->ptr[out->len - 1] != '[')
        sl_buf_putc(out, ',');
    sl_buf_puts(out, "{\"entity\":");
    sl_json_write_string(out, entity.ptr, entity.len);
    return sl_buf_appendf(out, ",\"measurements\":%llu,\"last_ms\":%lld}",
                          (unsigned long long)measurements, (long long)last_ms);
}

struct series {
    struct sl_buf *out;
    size_t rows;
    bool truncated;
    struct sl_arena scratch;
};

#define TRUNCATED 1

static const char *stellar_type(const struct sl_value *v)
{
    switch (sl_sv_jnum(v)) {
    case SL_JN_INT:
        return "Integer";
    case SL_JN_LONG:
        return "Long";
    case SL_JN_FLOAT:
        return "Float";
    case SL_JN_DOUBLE:
        return "Double";
    default:
        break;
    }
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        return "null";
    case SL_V_BOOL:
        return "Boolean";
    case SL_V_STRING:
        return "String";
    case SL_V_LIST:
        return (v->flags & SL_VF_SET) ? "Set" : "List";
    case SL_V_MAP:
        return "Map";
    case SL_V_OBJECT:
        return v->u.obj->type->name;
    default:
        return sl_vtype_name((enum sl_vtype)v->type);
    }
}

static int on_measurement(void *ud, const struct sl_measurement *m)
{
    struct series *s = ud;
    struct sl_buf *out = s->out;
    if (s->rows == SL_API_PROFILES_MAX_ROWS) {
        s->truncated = true;
        return TRUNCATED;
    }
    if (s->rows++)
        sl_buf_putc(out, ',');
    sl_buf_puts(out, "{\"groups\":");
    struct sl_value g;
    sl_arena_reset(&s->scratch);
    char *copy = sl_arena_strndup(&s->scratch, m->groups.ptr, m->groups.len);
    if (copy && sl_json_parse_value(&s->scratch, copy, m->groups.len, NULL, &g, NULL) == 0)
        sl_json_write_value(out, &g);
    else
        sl_json_write_string(out, m->groups.ptr, m->groups.len);
    sl_buf_appendf(out, ",\"period\":%lld,\"duration_ms\":%lld,\"start_ms\":%lld,\"end_ms\":%lld",
                   (long long)m->period, (long long)m->duration_ms, (long long)m->start_ms,
                   (long long)m->end_ms);
    sl_buf_appendf(out, ",\"type\":\"%s\",\"value\":", stellar_type(&m->value));
    sl_json_write_value(out, &m->value);
    return sl_buf_putc(out, '}');
}

static bool parse_ms(const char *arg, int64_t dflt, int64_t *out)
{
    if (!arg || !*arg) {
        *out = dflt;
        return true;
    }
    return sl_str_to_i64(sl_str_c(arg), out) == 0;
}

unsigned sl_api_profiles_get(struct sl_store *s, const char *url, const char *from, const char *to,
                             const char *groups, struct sl_buf *out)
{
    if (!s)
        return error(out, 503, "no profile store configured (start with --store sqlite:PATH)",
                     NULL);
    const char *rest = url + strlen(SL_API_PROFILES_PREFIX);
    while (*rest == '/')
        rest++;
    int rc;
    if (!*rest) {
        sl_buf_puts(out, "{\"store\":");
        sl_json_write_string(out, sl_store_url(s), strlen(sl_store_url(s)));
        sl_buf_puts(out, ",\"profiles\":[");
        rc = sl_store_profiles(s, on_profile, out);
        if (rc)
            goto fail;
        sl_buf_puts(out, "]}\n");
        return 200;
    }
    const char *slash = strchr(rest, '/');
    struct sl_str profile = sl_str_make(rest, slash ? (size_t)(slash - rest) : strlen(rest));
    if (!slash || !slash[1]) {
        sl_buf_puts(out, "{\"profile\":");
        sl_json_write_string(out, profile.ptr, profile.len);
        sl_buf_puts(out, ",\"entities\":[");
        rc = sl_store_entities(s, profile, on_entity, out);
        if (rc)
            goto fail;
        sl_buf_puts(out, "]}\n");
        return 200;
    }
    struct sl_str entity = sl_str_c(slash + 1);
    int64_t from_ms, to_ms;
    if (!parse_ms(from, 0, &from_ms))
        return error(out, 400, "from: expected epoch milliseconds, got ", from);
    if (!parse_ms(to, INT64_MAX, &to_ms))
        return error(out, 400, "to: expected epoch milliseconds, got ", to);
    sl_buf_puts(out, "{\"profile\":");
    sl_json_write_string(out, profile.ptr, profile.len);
    sl_buf_puts(out, ",\"entity\":");
    sl_json_write_string(out, entity.ptr, entity.len);
    sl_buf_puts(out, ",\"measurements\":[");
    struct series ser = {.out = out};
    sl_arena_init(&ser.scratch, 1024, 1u << 20);
    rc = sl_store_series(s, profile, entity, groups ? sl_str_c(groups) : (struct sl_str){NULL, 0},
                         from_ms, to_ms, on_measurement, &ser);
    sl_arena_fini(&ser.scratch);
    if (rc && rc != TRUNCATED)
        goto fail;
    sl_buf_appendf(out, "],\"truncated\":%s}\n", ser.truncated ? "true" : "false");
    return 200;
fail:
    sl_buf_reset(out);
    return error(out, 500, "reading the profile store failed: ", sl_strerror(rc));
}
