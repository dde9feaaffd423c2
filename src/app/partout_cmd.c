/*
 * partout_cmd.c — `sluice partout` (see partout_cmd.h).
 *
 * DESIGN: the answer is the HTTP API's (api/partout_api.c), so both always agree; text mode
 * parses that JSON back and prints aligned tables with UTC times. A store file that does not
 * exist is refused instead of being created empty. Reading rolls up and expires as of now,
 * as the master would on its next commit (transactional and idempotent, so safe beside a
 * running master: WAL).
 */
#include "app/partout_cmd.h"

#include "api/partout_api.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/str.h"
#include "codec/json.h"
#include "core/value.h"
#include "state/partout_store.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

void sl_cmd_partout_usage(FILE *f)
{
    fprintf(f, "usage: sluice partout --store FILE|URL [--json]                   agents\n"
               "       sluice partout --store FILE|URL UUID [--from MS] [--to MS] [--level 0-4]\n"
               "  URL: postgres://user@host:port/db (the master's `store:` on PostgreSQL)\n"
               "                      [--json]                               counts over time\n");
}

static void utc(int64_t ms, char *out, size_t n)
{
    sl_clock_format_rfc3339(ms * 1000000, 0, out, n);
}

static const struct sl_value *get(const struct sl_value *m, const char *k)
{
    return sl_value_map_get(m, sl_str_c(k));
}

static int64_t get_int(const struct sl_value *m, const char *k)
{
    const struct sl_value *v = get(m, k);
    return v && v->type == SL_V_INT ? v->u.i : 0;
}

static struct sl_str get_str(const struct sl_value *m, const char *k)
{
    const struct sl_value *v = get(m, k);
    if (v && v->type == SL_V_STRING)
        return sl_str_make(v->u.s, v->len);
    return sl_str_c(v ? "-" : "");
}

static void print_agents(const struct sl_value *list)
{
    printf("%-38s %-20s %-20s %5s %6s %10s %12s\n", "AGENT", "HOSTNAME", "LAST SEEN (UTC)", "LEVEL",
           "PERIOD", "AGGREGATES", "COUNT");
    for (uint32_t i = 0; list->type == SL_V_LIST && i < list->len; i++) {
        const struct sl_value *a = &list->u.list[i];
        struct sl_str agent = get_str(a, "agent"), host = get_str(a, "hostname");
        char last[40];
        utc(get_int(a, "last_ms"), last, sizeof last);
        printf("%-38.*s %-20.*s %-20s %5lld %6lld %10lld %12lld\n", (int)agent.len, agent.ptr,
               (int)host.len, host.ptr, last, (long long)get_int(a, "level"),
               (long long)get_int(a, "told_period_secs"), (long long)get_int(a, "aggregates"),
               (long long)get_int(a, "count"));
    }
    printf("(%u agent%s)\n", list->len, list->len == 1 ? "" : "s");
}

static void print_series(const struct sl_value *r)
{
    const struct sl_value *series = get(r, "series");
    printf("%-20s %-5s %-16s %-24s %-20s %-8s %12s\n", "TIME (UTC)", "TIER", "MODULE", "OBJECT",
           "MSG", "SEVERITY", "COUNT");
    uint32_t n = series && series->type == SL_V_LIST ? series->len : 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct sl_value *x = &series->u.list[i];
        char at[40];
        utc(get_int(x, "at_ms"), at, sizeof at);
        struct sl_str t = get_str(x, "tier"), m = get_str(x, "module"), o = get_str(x, "object");
        struct sl_str g = get_str(x, "msg"), sv = get_str(x, "severity");
        printf("%-20s %-5.*s %-16.*s %-24.*s %-20.*s %-8.*s %12lld\n", at, (int)t.len, t.ptr,
               (int)m.len, m.ptr, (int)o.len, o.ptr, (int)g.len, g.ptr, (int)sv.len, sv.ptr,
               (long long)get_int(x, "count"));
    }
    printf("(%u row%s, total %lld)\n", n, n == 1 ? "" : "s", (long long)get_int(r, "total"));
}

int sl_cmd_partout(int argc, char **argv)
{
    const char *store = NULL, *agent = NULL, *from = NULL, *to = NULL, *level = NULL;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sl_cmd_partout_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--store") && has_val) {
            store = argv[++i];
        } else if (!strcmp(a, "--from") && has_val) {
            from = argv[++i];
        } else if (!strcmp(a, "--to") && has_val) {
            to = argv[++i];
        } else if (!strcmp(a, "--level") && has_val) {
            level = argv[++i];
        } else if (a[0] != '-' && !agent) {
            agent = a;
        } else {
            fprintf(stderr, "sluice partout: unexpected argument '%s'\n", a);
            sl_cmd_partout_usage(stderr);
            return 2;
        }
    }
    if (!store) {
        sl_cmd_partout_usage(stderr);
        return 2;
    }
    bool is_url = !strncmp(store, "postgres://", 11) || !strncmp(store, "postgresql://", 13) ||
                  !strncmp(store, "postgres:", 9);
    if (!is_url && access(store, F_OK) != 0) {
        fprintf(stderr, "sluice partout: %s: no such store file\n", store);
        return 1;
    }
    struct sl_partout_store *s = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_partout_store_open(store, NULL, &s, &d)) {
        fprintf(stderr, "sluice partout: %s\n", d.msg);
        return 1;
    }
    struct sl_buf url, out;
    sl_buf_init(&url, 0);
    sl_buf_init(&out, 0);
    sl_buf_appendf(&url, "%s/agents%s%s", SL_API_PARTOUT_PREFIX, agent ? "/" : "",
                   agent ? agent : "");
    unsigned st = sl_api_partout_get(s, url.ptr, from, to, level, &out);
    sl_partout_store_close(s);
    int ret = 0;
    if (st != 200) {
        fprintf(stderr, "sluice partout: %.*s", (int)out.len, out.ptr);
        ret = 1;
    } else if (json) {
        fwrite(out.ptr, 1, out.len, stdout);
    } else {
        struct sl_arena a;
        sl_arena_init(&a, 0, 0);
        struct sl_value v;
        if (sl_json_parse_value(&a, out.ptr, out.len, NULL, &v, NULL)) {
            fprintf(stderr, "sluice partout: cannot read the answer\n");
            ret = 1;
        } else if (agent) {
            print_series(&v);
        } else {
            print_agents(&v);
        }
        sl_arena_fini(&a);
    }
    sl_buf_fini(&url);
    sl_buf_fini(&out);
    return ret;
}
