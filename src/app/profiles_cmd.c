/*
 * profiles_cmd.c — `sluice profiles` (see profiles_cmd.h).
 *
 * DESIGN: a thin reader over store.h: the listings come from sl_store_profiles,
 * sl_store_entities and sl_store_series, printed as aligned text tables with UTC times;
 * --json reuses the HTTP API's rendering (api/profiles_api.c) so both always agree. The
 * store is opened as it is everywhere (sl_store_open), but a `sqlite:` file that does not
 * exist is refused first instead of being created empty by a read-only command.
 */
#include "app/profiles_cmd.h"

#include "api/profiles_api.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/str.h"
#include "lang/sval.h"
#include "state/store.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

void sl_cmd_profiles_usage(FILE *f)
{
    fprintf(f, "usage: sluice profiles --store URL [--json]                  profiles\n"
               "       sluice profiles --store URL PROFILE [--json]          its entities\n"
               "       sluice profiles --store URL PROFILE ENTITY [--from MS] [--to MS]\n"
               "                       [--groups JSON] [--json]              measurements\n");
}

static void utc(int64_t ms, char *out, size_t n)
{
    sl_clock_format_rfc3339(ms * 1000000, 0, out, n);
}

static int print_profile(void *ud, struct sl_str profile, uint64_t entities, uint64_t measurements,
                         int64_t first_ms, int64_t last_ms)
{
    char first[40], last[40];
    utc(first_ms, first, sizeof first);
    utc(last_ms, last, sizeof last);
    printf("%-24.*s %10llu %12llu  %-20s  %s\n", (int)profile.len, profile.ptr,
           (unsigned long long)entities, (unsigned long long)measurements, first, last);
    (*(int *)ud)++;
    return 0;
}

static int print_entity(void *ud, struct sl_str entity, uint64_t measurements, int64_t last_ms)
{
    char last[40];
    utc(last_ms, last, sizeof last);
    printf("%-40.*s %12llu  %s\n", (int)entity.len, entity.ptr, (unsigned long long)measurements,
           last);
    (*(int *)ud)++;
    return 0;
}

struct rows {
    int count;
    struct sl_buf text;
};

static int print_measurement(void *ud, const struct sl_measurement *m)
{
    struct rows *r = ud;
    char start[40];
    utc(m->start_ms, start, sizeof start);
    sl_buf_reset(&r->text);
    if (sl_sv_format(&m->value, &r->text))
        sl_buf_puts(&r->text, "?");
    printf("%-20s %10lld %8llds  %-16.*s %s\n", start, (long long)m->period,
           (long long)(m->duration_ms / 1000), (int)m->groups.len, m->groups.ptr,
           r->text.ptr ? r->text.ptr : "");
    r->count++;
    return 0;
}

/* A sqlite: URL naming a file that does not exist: refuse rather than create it. */
static bool missing_file(const char *url)
{
    if (strncmp(url, "sqlite:", 7) != 0)
        return false;
    const char *path = url + 7;
    if (!strncmp(path, "//", 2))
        path += 2;
    return *path && access(path, F_OK) != 0;
}

int sl_cmd_profiles(int argc, char **argv)
{
    const char *url = NULL, *from = NULL, *to = NULL, *groups = NULL, *pos[2] = {NULL, NULL};
    bool json = false;
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--store") && i + 1 < argc) {
            url = argv[++i];
        } else if (!strcmp(a, "--from") && i + 1 < argc) {
            from = argv[++i];
        } else if (!strcmp(a, "--to") && i + 1 < argc) {
            to = argv[++i];
        } else if (!strcmp(a, "--groups") && i + 1 < argc) {
            groups = argv[++i];
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            sl_cmd_profiles_usage(stdout);
            return 0;
        } else if (a[0] != '-' && npos < 2) {
            pos[npos++] = a;
        } else {
            fprintf(stderr, "sluice: profiles: unknown or incomplete argument '%s'\n", a);
            sl_cmd_profiles_usage(stderr);
            return 2;
        }
    }
    if (!url) {
        fprintf(stderr, "sluice: profiles: --store URL is required\n");
        sl_cmd_profiles_usage(stderr);
        return 2;
    }
    if (missing_file(url)) {
        fprintf(stderr, "sluice: profiles: %s: no such file\n", url);
        return 1;
    }
    struct sl_store *s = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_store_open(url, &s, &d)) {
        fprintf(stderr, "sluice: profiles: %s\n", d.msg);
        return 1;
    }
    int rc = 0;
    if (json) {
        struct sl_buf path, out;
        sl_buf_init(&path, 1u << 16);
        sl_buf_init(&out, 256u << 20);
        sl_buf_puts(&path, SL_API_PROFILES_PREFIX);
        for (int i = 0; i < npos; i++) {
            sl_buf_putc(&path, '/');
            sl_buf_puts(&path, pos[i]);
        }
        unsigned st = sl_api_profiles_get(s, path.ptr, from, to, groups, &out);
        fwrite(out.ptr ? out.ptr : "", 1, out.len, st == 200 ? stdout : stderr);
        rc = st == 200 ? 0 : st == 400 ? 2 : 1;
        sl_buf_fini(&out);
        sl_buf_fini(&path);
    } else if (npos == 0) {
        int n = 0;
        printf("%-24s %10s %12s  %-20s  %s\n", "PROFILE", "ENTITIES", "MEASUREMENTS", "FIRST",
               "LAST");
        rc = sl_store_profiles(s, print_profile, &n);
    } else if (npos == 1) {
        int n = 0;
        printf("%-40s %12s  %s\n", "ENTITY", "MEASUREMENTS", "LAST");
        rc = sl_store_entities(s, sl_str_c(pos[0]), print_entity, &n);
    } else {
        int64_t f = 0, t = INT64_MAX;
        if ((from && sl_str_to_i64(sl_str_c(from), &f)) ||
            (to && sl_str_to_i64(sl_str_c(to), &t))) {
            fprintf(stderr, "sluice: profiles: --from and --to take epoch milliseconds\n");
            sl_store_close(s);
            return 2;
        }
        struct rows r = {0};
        sl_buf_init(&r.text, 1u << 20);
        printf("%-20s %10s %9s  %-16s %s\n", "START", "PERIOD", "DURATION", "GROUPS", "VALUE");
        rc = sl_store_series(s, sl_str_c(pos[0]), sl_str_c(pos[1]),
                             groups ? sl_str_c(groups) : (struct sl_str){NULL, 0}, f, t,
                             print_measurement, &r);
        sl_buf_fini(&r.text);
    }
    if (rc < 0) {
        fprintf(stderr, "sluice: profiles: reading %s failed: %s\n", url, sl_strerror(rc));
        rc = 1;
    }
    sl_store_close(s);
    return rc;
}
