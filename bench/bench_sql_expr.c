/*
 * bench_sql_expr.c — SQL expression evaluations per second on one core over rows of typed
 * slots (A INT, B BIGINT, NAME STRING), with heap allocations per evaluation; and, as the
 * peer in the same run, the equivalent Stellar expression over the same values read through
 * a resolver.
 *
 *   bench_sql_expr [EVALS]    (default 10,000,000; best of 5 runs)
 *
 * The SQL tree is built by hand (a + b * 2 > 10 AND name LIKE 'x%'), so the bench does not
 * depend on the parser.
 */
#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "lang/stellar.h"
#include "lang/sval.h"
#include "sql/sql_expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NROWS 1024
#define NC    3

static struct sl_sql_type t_int = {.kind = SL_SQL_T_INT};
static struct sl_sql_type t_bigint = {.kind = SL_SQL_T_BIGINT};
static struct sl_sql_type t_string = {.kind = SL_SQL_T_STRING};

static int column(void *ud, const struct sl_sql_expr *col, struct sl_sql_slot *out,
                  struct sl_diag *d)
{
    static const char *const names[NC] = {"A", "B", "NAME"};
    static struct sl_sql_type *const types[NC] = {&t_int, &t_bigint, &t_string};
    for (uint32_t i = 0; i < NC; i++)
        if (!strcmp(names[i], col->name)) {
            out->slot = i;
            out->type = types[i];
            return 0;
        }
    return sl_diag_set(d, SL_ENOENT, "column '%s' cannot be resolved", col->name);
}

static struct sl_sql_expr *mk(struct sl_arena *a, enum sl_sql_ekind k)
{
    struct sl_sql_expr *e = sl_arena_alloc(a, sizeof *e);
    memset(e, 0, sizeof *e);
    e->kind = k;
    e->pos.line = 1;
    e->pos.col = 1;
    return e;
}

static struct sl_sql_expr *col(struct sl_arena *a, const char *n)
{
    struct sl_sql_expr *e = mk(a, SL_SQL_E_COLUMN);
    e->name = n;
    return e;
}

static struct sl_sql_expr *bin(struct sl_arena *a, enum sl_sql_op op, struct sl_sql_expr *x,
                               struct sl_sql_expr *y)
{
    struct sl_sql_expr *e = mk(a, SL_SQL_E_BINARY);
    e->op = op;
    e->a = x;
    e->b_ = y;
    return e;
}

static struct sl_sql_expr *num(struct sl_arena *a, int64_t v)
{
    struct sl_sql_expr *e = mk(a, SL_SQL_E_INT);
    e->i = v;
    return e;
}

static struct sl_value rows[NROWS][NC];

static void make_rows(void)
{
    static char names[NROWS][16];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < NROWS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int n = snprintf(names[i], sizeof names[i], "%c-host-%u", (x & 1) ? 'x' : 'y',
                         (unsigned)(x >> 8 & 1023));
        rows[i][0] = sl_sv_int((int32_t)(x % 20));
        rows[i][1] = sl_sv_long((int64_t)(x >> 20) % 10);
        rows[i][2] = sl_value_str(names[i], (size_t)n);
    }
}

static const struct sl_value *cur;

static bool get(void *ud, sl_sym sym, const char *name, size_t len, struct sl_value *out)
{
    if (len == 1 && (name[0] == 'a' || name[0] == 'b')) {
        *out = cur[name[0] == 'a' ? 0 : 1];
        return true;
    }
    if (len == 4 && !memcmp(name, "name", 4)) {
        *out = cur[2];
        return true;
    }
    return false;
}

static void report(const char *label, const char *expr, long evals, double best, uint64_t allocs,
                   long errors, long hits)
{
    double rate = (double)evals / best;
    printf("bench=%s expr=\"%s\" evals=%ld seconds=%.3f evals_per_s=%.0f ns_per_eval=%.1f "
           "allocs_per_eval=%.4f errors=%ld true=%ld\n",
           label, expr, evals, best, rate, best * 1e9 / (double)evals,
           (double)allocs / (double)evals, errors, hits);
}

int main(int argc, char **argv)
{
    long evals = argc > 1 ? atol(argv[1]) : 10000000;
    make_rows();
    struct sl_arena ta;
    sl_arena_init(&ta, 4096, 0);
    struct sl_sql_expr *like = mk(&ta, SL_SQL_E_LIKE);
    like->a = col(&ta, "NAME");
    like->b_ = mk(&ta, SL_SQL_E_STRING);
    like->b_->text = "x%";
    like->b_->len = 2;
    struct sl_sql_expr *e = bin(&ta, SL_SQL_OP_AND,
                                bin(&ta, SL_SQL_OP_GT,
                                    bin(&ta, SL_SQL_OP_ADD, col(&ta, "A"),
                                        bin(&ta, SL_SQL_OP_MUL, col(&ta, "B"), num(&ta, 2))),
                                    num(&ta, 10)),
                                like);
    struct sl_sql_scope scope = {.column = column};
    struct sl_stellar_prog *p;
    const struct sl_sql_type *t;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_sql_expr_compile(e, &scope, true, &ta, &p, &t, &d)) {
        fprintf(stderr, "compile: %s\n", d.msg);
        return 1;
    }
    struct sl_stellar_vm *vm = sl_stellar_vm_new();
    struct sl_arena arena;
    sl_arena_init(&arena, 1 << 16, 0);

    double best = 1e9;
    uint64_t allocs = 0;
    long errors = 0, hits = 0;
    for (int run = 0; run < 5; run++) {
        errors = hits = 0;
        uint64_t a0 = sl_alloc_count();
        int64_t t0 = sl_clock_mono_ns();
        for (long i = 0; i < evals; i++) {
            bool ok;
            errors += sl_sql_eval_bool(vm, p, rows[i & (NROWS - 1)], NC, &arena, &ok) != 0;
            hits += ok;
        }
        double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
        allocs = sl_alloc_count() - a0;
        if (s < best)
            best = s;
    }
    report("sql_expr_eval", "A + B * 2 > 10 AND NAME LIKE 'x%'", evals, best, allocs, errors, hits);
    sl_stellar_free(p);

    /* the peer: Stellar over the same values */
    const char *src = "a + b * 2 > 10 and STARTS_WITH(name, 'x')";
    if (sl_stellar_compile(src, strlen(src), NULL, &p, &d)) {
        printf("bench=stellar_eval_peer skipped=\"%s\"\n", d.msg);
    } else {
        struct sl_stellar_resolver r = {.get = get};
        double sbest = 1e9;
        for (int run = 0; run < 5; run++) {
            errors = hits = 0;
            uint64_t a0 = sl_alloc_count();
            int64_t t0 = sl_clock_mono_ns();
            for (long i = 0; i < evals; i++) {
                bool ok;
                cur = rows[i & (NROWS - 1)];
                errors += sl_stellar_eval_bool(vm, p, &r, &arena, &ok) != 0;
                hits += ok;
            }
            double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
            allocs = sl_alloc_count() - a0;
            if (s < sbest)
                sbest = s;
        }
        report("stellar_eval_peer", src, evals, sbest, allocs, errors, hits);
        printf("bench=sql_vs_stellar ratio=%.2f\n", sbest / best);
        sl_stellar_free(p);
    }
    sl_arena_fini(&arena);
    sl_stellar_vm_free(vm);
    sl_arena_fini(&ta);
    return 0;
}
