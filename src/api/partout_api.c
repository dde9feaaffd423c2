/*
 * partout_api.c — /api/v1/partout: the Partout store as JSON (see partout_api.h).
 *
 * DESIGN: the store builds the JSON itself (partout_store.c) under its connection lock, so
 * this file only routes and checks arguments; each request commits what is pending first, so
 * an aggregate answered 200 is visible to the next GET.
 */
#include "api/partout_api.h"

#include "base/str.h"
#include "codec/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool sl_api_partout_match(const char *url)
{
    size_t n = strlen(SL_API_PARTOUT_PREFIX);
    return strncmp(url, SL_API_PARTOUT_PREFIX, n) == 0 && (url[n] == 0 || url[n] == '/');
}

static unsigned error(struct sl_buf *out, unsigned status, const char *msg, const char *arg)
{
    struct sl_buf m;
    sl_buf_init(&m, 4096);
    sl_buf_puts(&m, msg);
    if (arg)
        sl_buf_puts(&m, arg);
    sl_buf_puts(out, "{\"error\":");
    sl_json_write_string(out, m.ptr ? m.ptr : "", m.len);
    sl_buf_fini(&m);
    sl_buf_puts(out, "}\n");
    return status;
}

static bool parse_i64(const char *p, int64_t *out)
{
    if (!p || !*p)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

unsigned sl_api_partout_get(struct sl_partout_store *s, const char *url, const char *from,
                            const char *to, const char *level, struct sl_buf *out)
{
    const char *rest = url + strlen(SL_API_PARTOUT_PREFIX);
    if (strcmp(rest, "") == 0 || strcmp(rest, "/") == 0) {
        sl_buf_puts(out, "{\"paths\":[\"/api/v1/partout/agents\","
                         "\"/api/v1/partout/agents/{uuid}?from=&to=&level=\"]}\n");
        return 200;
    }
    if (strncmp(rest, "/agents", 7) != 0 || (rest[7] && rest[7] != '/'))
        return error(out, 404, "not found: ", url);
    if (!s)
        return error(out, 503, "no partout store: set `store:` on the partout source", NULL);
    const char *uuid = rest[7] ? rest + 8 : "";
    if (!*uuid) {
        if (sl_partout_store_agents_json(s, out))
            return error(out, 500, "cannot read the partout store", NULL);
        sl_buf_putc(out, '\n');
        return 200;
    }
    int64_t f = 0, t = INT64_MAX / 2, lv = 4;
    if (from && !parse_i64(from, &f))
        return error(out, 400, "from: expected epoch milliseconds, got ", from);
    if (to && !parse_i64(to, &t))
        return error(out, 400, "to: expected epoch milliseconds, got ", to);
    if (level && (!parse_i64(level, &lv) || lv < 0 || lv > 4))
        return error(out, 400, "level: expected 0..4, got ", level);
    size_t mark = out->len;
    int rc = sl_partout_store_series_json(s, sl_str_c(uuid), f, t, (int)lv, out);
    if (rc == SL_ENOENT) {
        out->len = mark;
        return error(out, 404, "unknown agent: ", uuid);
    }
    if (rc) {
        out->len = mark;
        return error(out, 500, "cannot read the partout store", NULL);
    }
    sl_buf_putc(out, '\n');
    return 200;
}
