/*
 * fn_registry.c — the index of Stellar builtins.
 *
 * DESIGN: each family file exports a zero-terminated table; this file lists the tables and,
 * once per process (pthread_once), builds a sorted array that sl_sfunc_find searches by
 * binary search. Compilation is the only caller (per event nothing is looked up by name).
 * The tables are weak references so that the engine links while a family is being written;
 * tests/unit/lang/stellar_test.c asserts that every family is present.
 */
#include "lang/func.h"

#include "base/alloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

extern const struct sl_sfunc sl_sfuncs_core[] __attribute__((weak));
extern const struct sl_sfunc sl_sfuncs_string[] __attribute__((weak));
extern const struct sl_sfunc sl_sfuncs_date[] __attribute__((weak));
extern const struct sl_sfunc sl_sfuncs_coll[] __attribute__((weak));
extern const struct sl_sfunc sl_sfuncs_net[] __attribute__((weak));
extern const struct sl_sfunc sl_sfuncs_stats[] __attribute__((weak));
extern const struct sl_sfunc sl_sfuncs_profile[] __attribute__((weak));  /* PROFILE_* */
extern const struct sl_sfunc sl_sfuncs_profiler[] __attribute__((weak)); /* PROFILER_* */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const struct sl_sfunc **all;
static size_t nall;

static int by_name(const void *a, const void *b)
{
    const struct sl_sfunc *x = *(const struct sl_sfunc *const *)a;
    const struct sl_sfunc *y = *(const struct sl_sfunc *const *)b;
    return strcmp(x->name, y->name);
}

static void build(void)
{
    const struct sl_sfunc *tables[] = {sl_sfuncs_core,    sl_sfuncs_string,  sl_sfuncs_date,
                                       sl_sfuncs_coll,    sl_sfuncs_net,     sl_sfuncs_stats,
                                       sl_sfuncs_profile, sl_sfuncs_profiler};
    size_t n = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct sl_sfunc *f = tables[t]; f && f->name; f++)
            n++;
    all = sl_xcalloc(n ? n : 1, sizeof *all);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct sl_sfunc *f = tables[t]; f && f->name; f++)
            all[nall++] = f;
    qsort(all, nall, sizeof *all, by_name);
    /* a duplicate name would make lookups ambiguous: keep the first */
    size_t o = 0;
    for (size_t i = 0; i < nall; i++)
        if (!o || strcmp(all[o - 1]->name, all[i]->name))
            all[o++] = all[i];
    nall = o;
}

const struct sl_sfunc *sl_sfunc_find(const char *name, size_t len)
{
    pthread_once(&once, build);
    size_t lo = 0, hi = nall;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *m = all[mid]->name;
        size_t ml = strlen(m);
        int c = memcmp(m, name, ml < len ? ml : len);
        if (!c)
            c = ml < len ? -1 : ml > len ? 1 : 0;
        if (!c)
            return all[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct sl_sfunc *const *sl_sfunc_all(size_t *count)
{
    pthread_once(&once, build);
    *count = nall;
    return all;
}
