/*
 * profiles_cmd.c — `sluice profiles`: what a profile store holds, as tables.
 *
 *   sluice profiles --store URL                      profiles, entities, measurements
 *   sluice profiles --store URL PROFILE              the profile's entities
 *   sluice profiles --store URL PROFILE ENTITY [--from T] [--to T] [--groups G] [--json]
 *                                                    the entity's series, one row per period
 *
 * T is epoch milliseconds or RFC 3339; G a JSON array or a comma list (as the HTTP API).
 * --json prints the series as one JSON object per line instead of a table.
 */
#include "app/profiles_cmd.h"

#include "api/profiles_api.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "state/store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice profiles --store URL [PROFILE [ENTITY [--from T] [--to T] "
               "[--groups G] [--json]]]\n"
               "  URL     sqlite:PATH (the profiler's `store:`)\n"
               "  T       epoch milliseconds or RFC 3339 (2018-07-07T15:00:00Z)\n"
               "  G       a JSON array ([\"web\",443]) or a comma list (web,443)\n");
}

static void fmt_time(int64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int row_profile(void *ud, struct sl_str profile, uint64_t entities, uint64_t meas,
                       int64_t first, int64_t last)
{
    char a[32], b[32];
    fmt_time(first, a, sizeof a);
    fmt_time(last, b, sizeof b);
    printf("%-32.*s %10llu %14llu  %s  %s\n", (int)profile.len, profile.ptr,
           (unsigned long long)entities, (unsigned long long)meas, a, b);
    ++*(size_t *)ud;
    return 0;
}

static int row_entity(void *ud, struct sl_str entity, uint64_t meas, int64_t last)
{
    char a[32];
    fmt_time(last, a, sizeof a);
    printf("%-40.*s %14llu  %s\n", (int)entity.len, entity.ptr, (unsigned long long)meas, a);
    ++*(size_t *)ud;
    return 0;
}

struct series {
    bool json;
    size_t rows;
    struct sl_buf b;
};

static int row_measurement(void *ud, const struct sl_measurement *m)
{
    struct series *s = ud;
    sl_buf_reset(&s->b);
    sl_api_value_json(&s->b, &m->value);
    if (s->json) {
        printf("{\"period\":%lld,\"start\":%lld,\"end\":%lld,\"groups\":%.*s,\"value\":%.*s}\n",
               (long long)m->period, (long long)m->start_ms, (long long)m->end_ms,
               (int)m->groups.len, m->groups.ptr, (int)s->b.len, s->b.ptr ? s->b.ptr : "");
    } else {
        char a[32];
        fmt_time(m->start_ms, a, sizeof a);
        printf("%12lld  %s  %8llds  %-16.*s %.*s\n", (long long)m->period, a,
               (long long)((m->end_ms - m->start_ms) / 1000), (int)m->groups.len, m->groups.ptr,
               (int)s->b.len, s->b.ptr ? s->b.ptr : "");
    }
    s->rows++;
    return 0;
}

int sl_cmd_profiles(int argc, char **argv)
{
    const char *url = NULL, *pos[2] = {NULL, NULL}, *from = NULL, *to = NULL, *groups = NULL;
    bool json = false;
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = strcmp(a, "--store") == 0    ? &url
                            : strcmp(a, "--from") == 0   ? &from
                            : strcmp(a, "--to") == 0     ? &to
                            : strcmp(a, "--groups") == 0 ? &groups
                                                         : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "sluice profiles: %s needs a value\n", a);
                return 2;
            }
            *slot = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' || npos == 2) {
            fprintf(stderr, "sluice profiles: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            pos[npos++] = a;
        }
    }
    if (!url) {
        fprintf(stderr, "sluice profiles: --store URL is required\n");
        usage(stderr);
        return 2;
    }
    int64_t f = 0, t = sl_clock_wall_ns() / 1000000;
    if ((from && !sl_api_parse_time(from, &f)) || (to && !sl_api_parse_time(to, &t))) {
        fprintf(stderr, "sluice profiles: --from/--to take epoch milliseconds or RFC 3339\n");
        return 2;
    }
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_store *s;
    if (sl_store_open(url, &s, &d)) {
        char m[1400];
        sl_diag_format(&d, m, sizeof m);
        fprintf(stderr, "sluice profiles: %s\n", m);
        return 2;
    }
    int rc = 0;
    size_t rows = 0;
    if (!pos[0]) {
        printf("%-32s %10s %14s  %-20s  %-20s\n", "PROFILE", "ENTITIES", "MEASUREMENTS", "FIRST",
               "LAST");
        rc = sl_store_profiles(s, row_profile, &rows);
    } else if (!pos[1]) {
        printf("%-40s %14s  %-20s\n", "ENTITY", "MEASUREMENTS", "LAST");
        rc = sl_store_entities(s, sl_str_make(pos[0], strlen(pos[0])), row_entity, &rows);
    } else {
        struct sl_buf g;
        sl_buf_init(&g, 1 << 20);
        struct sl_str gs = {NULL, 0};
        if (groups) {
            if (sl_api_groups_text(groups, &g)) {
                fprintf(stderr, "sluice profiles: --groups takes a JSON array or a comma list\n");
                sl_buf_fini(&g);
                sl_store_close(s);
                return 2;
            }
            gs = sl_str_make(g.ptr, g.len);
        }
        struct series se = {.json = json};
        sl_buf_init(&se.b, 64 << 20);
        if (!json)
            printf("%12s  %-20s  %9s  %-16s %s\n", "PERIOD", "START", "LENGTH", "GROUPS", "VALUE");
        rc = sl_store_series(s, sl_str_make(pos[0], strlen(pos[0])),
                             sl_str_make(pos[1], strlen(pos[1])), gs, f, t, row_measurement, &se);
        rows = se.rows;
        sl_buf_fini(&se.b);
        sl_buf_fini(&g);
    }
    if (rc)
        fprintf(stderr, "sluice profiles: reading %s failed: %s\n", url, sl_strerror(rc));
    else if (!rows && !json)
        fprintf(stderr, "(nothing)\n");
    sl_store_close(s);
    return rc ? 1 : 0;
}
