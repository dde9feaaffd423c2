/*
 * sql_query.c — planning and running one query: joins, WHERE, windows and aggregates,
 * projection, re-keying, emission.
 *
 * DESIGN: a query is planned once into a fixed chain: input row → joins (stream–stream with
 * WITHIN buffers, stream–table lookups in the table's latest-row map) → WHERE → either
 * aggregation (group key → window entries holding aggregate states; EMIT CHANGES emits each
 * update, EMIT FINAL emits each window once when stream time passes its end plus grace) or
 * projection → output key (source key, PARTITION BY, GROUP BY or join key) and value → the
 * sink topic. Expressions are Stellar programs over the row's slots (sql_expr.h), resolved at
 * plan time: nothing is looked up by name per record. Semantics and naming follow
 * ../shared/specs/ksql.md §1.5–1.10 (the current ksqlDB; compat 0.6 where noted).
 */
#include "sql/sql_int.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "sql/sql_expr.h"
#include "sql/sql_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_IN 8

struct qin {
    struct sq_source *s;
    const char *alias; /* normalised alias, or the source's name */
    uint32_t off;      /* first slot in the joined row */
};

struct sbuf {
    struct sq_srow **rows;
    uint32_t n, cap;
};

struct pending {
    struct sq_srow *row; /* the buffered row (owned by its side's buffer) */
    bool left;
    int64_t close_at;
    char *key;
    size_t key_len;
};

struct join {
    enum sl_sql_join_kind kind;
    bool ss;             /* stream–stream */
    bool tt;             /* table–table: both sides' latest rows; the result is a table */
    struct sl_hmap live; /* table–table: keys whose join result exists (to delete it) */
    uint32_t right;      /* index in q->in */
    int64_t before, after, grace;
    bool has_grace;
    struct sl_stellar_prog *lkey; /* over the joined row so far */
    struct sl_stellar_prog *rkey; /* over the right source's own row */
    uint32_t lslot, rslot;        /* when the key expressions are plain columns: their slots in
                                   * the joined row (UINT32_MAX otherwise) */
    /* stream–stream state */
    struct sl_hmap buf[2]; /* 0 left, 1 right: key → struct sbuf * */
    int64_t st;
    bool st_set;
    int64_t next_sweep;
    struct pending *pend;
    uint32_t npend, cappend;
    int64_t min_pend; /* the earliest close_at of a pending outer row (INT64_MAX: none) */
};

struct aggcall {
    const struct sl_sql_expr *expr;
    struct sl_sql_aggcfg cfg;
    struct sl_stellar_prog *arg; /* value argument, or NULL */
};

/* one window (or the whole stream when not windowed) of one group: one heap block holding the
 * header, the aggregate states, the grouping values and the key bytes */
struct went {
    int64_t ws, we;
    int64_t max_ts;
    uint64_t seq;
    uint64_t hash; /* of key[0..key_len) */
    size_t bytes;  /* the block */
    bool emitted;
    uint32_t gkey_len; /* the group's key bytes */
    uint32_t key_len;  /* gkey_len + 8: the window start follows */
    struct sl_value *g;
    unsigned char *states; /* naggs * SL_SQL_AGG_STATE */
    char *key;
};

/* open addressing over (hash, window) for time windows: the key compared is the window's own
 * (no separate key allocation to miss in the cache) */
struct wslot {
    uint64_t hash; /* 0 empty, 1 deleted */
    struct went *w;
};

struct wtab {
    struct wslot *s;
    size_t cap, count, used;
};

struct sessions {
    struct went **w;
    uint32_t n, cap;
};

struct outcol {
    char *name;
    const struct sl_sql_type *type;
    bool key;
    struct sl_stellar_prog *p;
    int32_t slot;                   /* copy this slot when >= 0 (plain column) */
    const struct sl_sql_expr *expr; /* the item's expression (NULL for columns of a *) */
};

struct sq_query {
    char id[40];
    struct sl_sql_engine *e;
    struct sq_source *sink;
    char *topic;
    bool table_out;
    int64_t limit, emitted;
    struct qin in[MAX_IN];
    uint32_t nin;
    uint32_t nslots; /* of the joined row */
    struct join joins[MAX_IN - 1];
    uint32_t njoins;
    struct sl_stellar_prog *where;
    bool input_table; /* a single table input: changes in, changes out */
    /* aggregation */
    bool agg;
    struct sl_stellar_prog **group;
    const struct sl_sql_expr **group_expr;
    uint32_t ngroup;
    struct aggcall *aggs;
    uint32_t naggs;
    struct sl_sql_window win;
    int64_t grace;
    bool final;
    struct sl_stellar_prog *having;
    struct sl_hmap wmap; /* sessions: group key bytes → struct sessions * */
    struct wtab wtab;    /* time windows and plain GROUP BY */
    int64_t st;
    bool st_set;
    int64_t next_sweep;
    int64_t min_close; /* EMIT FINAL: the earliest close time of an open window */
    uint32_t aslots;   /* slots of an aggregated row */
    /* partition by */
    struct sl_stellar_prog **part;
    uint32_t npart;
    /* output */
    struct outcol *out;
    uint32_t nout;
    struct sq_col *cols; /* the sink's columns: key columns first */
    uint32_t ncols;
    uint32_t nkeys;
    struct sl_stellar_prog **keyx;  /* key expressions over the pre-projection row */
    int32_t *keyslot;               /* or slots */
    int ts_out;                     /* WITH (TIMESTAMP=...) on the sink: value column index */
    bool coalesce_key;              /* stream–stream join: key = whichever side is not null */
    uint32_t rowkey_slot;           /* FULL OUTER join: the ROWKEY pseudo column (else MAX) */
    bool out_windowed, out_session; /* results carry a window */
    struct sl_arena types;
    uint64_t state_bytes;
    uint32_t generated; /* KSQL_COL_n counter */
};

/* ------------------------------------------------------------------ helpers */

static int dset(struct sl_diag *d, const struct sl_sql_pos *pos, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int dset(struct sl_diag *d, const struct sl_sql_pos *pos, int err, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (pos) {
        d->line = pos->line;
        d->col = pos->col;
        d->offset = pos->offset;
    }
    return sl_diag_set(d, err, "%s", msg);
}

static const struct sl_sql_type *mktype(struct sq_query *q, enum sl_sql_tkind k)
{
    struct sl_sql_type *t = sl_arena_alloc(&q->types, sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->kind = k;
    return t;
}

static bool is_pseudo(const char *n)
{
    return strcmp(n, "ROWTIME") == 0 || strcmp(n, "WINDOWSTART") == 0 ||
           strcmp(n, "WINDOWEND") == 0;
}

/* visit every node of e (pre-order); fn returns false to skip the node's children */
static void walk(const struct sl_sql_expr *e, bool (*fn)(const struct sl_sql_expr *, void *),
                 void *ud)
{
    if (!e)
        return;
    if (!fn(e, ud))
        return;
    walk(e->a, fn, ud);
    walk(e->b_, fn, ud);
    walk(e->c, fn, ud);
    for (uint32_t i = 0; i < e->nargs; i++)
        walk(e->args[i], fn, ud);
}

/* ------------------------------------------------------------------ scopes */

/* the input scope: columns of sources [lo, hi) of the query, slots relative to `base` */
struct iscope {
    struct sq_query *q;
    uint32_t lo, hi;
    uint32_t base;
};

static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    unsigned row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned prev = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned cur = row[j];
            unsigned c = prev + ((a[i - 1] | 32) == (b[j - 1] | 32) ? 0u : 1u);
            if (row[j] + 1 < c)
                c = row[j] + 1;
            if (row[j - 1] + 1 < c)
                c = row[j - 1] + 1;
            row[j] = c;
            prev = cur;
        }
    }
    return row[lb];
}

static int col_in_source(const struct sq_source *s, const char *name, uint32_t *idx)
{
    for (uint32_t i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0) {
            *idx = i;
            return 0;
        }
    if (strcmp(name, "ROWTIME") == 0) {
        *idx = s->ncols;
        return 0;
    }
    if (s->windowed && strcmp(name, "WINDOWSTART") == 0) {
        *idx = s->ncols + 1;
        return 0;
    }
    if (s->windowed && strcmp(name, "WINDOWEND") == 0) {
        *idx = s->ncols + 2;
        return 0;
    }
    return SL_ENOENT;
}

static const struct sl_sql_type *slot_type(struct sq_query *q, const struct sq_source *s,
                                           uint32_t idx)
{
    if (idx < s->ncols)
        return s->cols[idx].type;
    return mktype(q, SL_SQL_T_BIGINT);
}

static int iscope_column(void *ud, const struct sl_sql_expr *col, struct sl_sql_slot *out,
                         struct sl_diag *d)
{
    struct iscope *sc = ud;
    struct sq_query *q = sc->q;
    int found = -1;
    uint32_t fidx = 0;
    if (q->rowkey_slot != UINT32_MAX && strcmp(col->name, "ROWKEY") == 0 && !col->qualifier &&
        sc->lo == 0 && sc->hi == q->nin) {
        out->slot = q->rowkey_slot;
        out->type = mktype(q, SL_SQL_T_UNKNOWN);
        return 0;
    }
    for (uint32_t i = sc->lo; i < sc->hi; i++) {
        const struct qin *in = &q->in[i];
        if (col->qualifier && strcmp(col->qualifier, in->alias) != 0 &&
            strcmp(col->qualifier, in->s->name) != 0)
            continue;
        uint32_t idx;
        if (col_in_source(in->s, col->name, &idx) == 0) {
            if (found >= 0 && !is_pseudo(col->name))
                return dset(d, &col->pos, SL_EINVAL,
                            "column '%s' is ambiguous: it is in %s and %s (qualify it, e.g. "
                            "%s.%s)",
                            col->name, q->in[found].alias, in->alias, in->alias, col->name);
            if (found < 0) {
                found = (int)i;
                fidx = idx;
            }
        }
    }
    if (found < 0) {
        /* the nearest name, for the message */
        const char *best = NULL;
        unsigned bd = 4;
        for (uint32_t i = sc->lo; i < sc->hi; i++)
            for (uint32_t k = 0; k < q->in[i].s->ncols; k++) {
                unsigned dd = edit_distance(col->name, q->in[i].s->cols[k].name);
                if (dd < bd) {
                    bd = dd;
                    best = q->in[i].s->cols[k].name;
                }
            }
        bool qual_known = !col->qualifier;
        for (uint32_t i = 0; i < q->nin && !qual_known; i++)
            if (strcmp(col->qualifier, q->in[i].alias) == 0 ||
                strcmp(col->qualifier, q->in[i].s->name) == 0)
                qual_known = true;
        if (!qual_known)
            return dset(d, &col->pos, SL_ENOENT, "'%s' is not a source of this query (%s.%s)",
                        col->qualifier, col->qualifier, col->name);
        if (best)
            return dset(
                d, &col->pos, SL_ENOENT, "column '%s%s%s' cannot be resolved; did you mean '%s'?",
                col->qualifier ? col->qualifier : "", col->qualifier ? "." : "", col->name, best);
        return dset(d, &col->pos, SL_ENOENT, "column '%s%s%s' cannot be resolved",
                    col->qualifier ? col->qualifier : "", col->qualifier ? "." : "", col->name);
    }
    out->slot = q->in[found].off - sc->base + fidx;
    out->type = slot_type(q, q->in[found].s, fidx);
    return 0;
}

static struct sl_sql_scope mkscope(struct iscope *sc, struct sq_query *q, uint32_t lo, uint32_t hi)
{
    sc->q = q;
    sc->lo = lo;
    sc->hi = hi;
    sc->base = q->in[lo].off;
    struct sl_sql_scope s = {.ud = sc, .column = iscope_column, .compat06 = q->e->opts.compat06};
    return s;
}

/* resolve a plain column to its joined-row slot; -1 if e is not a resolvable column */
static int32_t column_slot(struct sq_query *q, const struct sl_sql_expr *e)
{
    if (!e || e->kind != SL_SQL_E_COLUMN)
        return -1;
    struct iscope sc;
    struct sl_sql_scope s = mkscope(&sc, q, 0, q->nin);
    struct sl_sql_slot sl;
    struct sl_diag dd;
    sl_diag_init(&dd);
    if (s.column(s.ud, e, &sl, &dd))
        return -1;
    return (int32_t)sl.slot;
}

static bool same_expr(struct sq_query *q, const struct sl_sql_expr *a, const struct sl_sql_expr *b)
{
    int32_t sa = column_slot(q, a), sb = column_slot(q, b);
    if (sa >= 0 || sb >= 0)
        return sa == sb;
    return sl_sql_expr_equal(a, b);
}

/* the aggregated row's scope: group values, aggregates, WINDOWSTART, WINDOWEND, ROWTIME */
struct ascope {
    struct sq_query *q;
    const struct sl_sql_type **gtypes;
};

static int ascope_subst(void *ud, const struct sl_sql_expr *e, struct sl_sql_slot *out,
                        struct sl_diag *d)
{
    struct ascope *as = ud;
    struct sq_query *q = as->q;
    (void)d;
    for (uint32_t i = 0; i < q->ngroup; i++)
        if (same_expr(q, e, q->group_expr[i])) {
            out->slot = i;
            out->type = as->gtypes[i];
            return 1;
        }
    if (e->kind == SL_SQL_E_CALL && sl_sql_agg_find(e->name)) {
        for (uint32_t i = 0; i < q->naggs; i++)
            if (sl_sql_expr_equal(e, q->aggs[i].expr)) {
                out->slot = q->ngroup + i;
                out->type = q->aggs[i].cfg.out;
                return 1;
            }
    }
    if (e->kind == SL_SQL_E_COLUMN && !e->qualifier) {
        uint32_t base = q->ngroup + q->naggs;
        if (strcmp(e->name, "WINDOWSTART") == 0 || strcmp(e->name, "WINDOWEND") == 0) {
            if (q->win.kind == SL_SQL_WIN_NONE)
                return dset(d, &e->pos, SL_EINVAL, "%s needs a WINDOW clause", e->name);
            out->slot = base + (e->name[6] == 'S' ? 0u : 1u);
            out->type = mktype(q, SL_SQL_T_BIGINT);
            return 1;
        }
        if (strcmp(e->name, "ROWTIME") == 0) {
            out->slot = base + 2;
            out->type = mktype(q, SL_SQL_T_BIGINT);
            return 1;
        }
    }
    return 0;
}

static int ascope_column(void *ud, const struct sl_sql_expr *col, struct sl_sql_slot *out,
                         struct sl_diag *d)
{
    (void)ud;
    (void)out;
    return dset(d, &col->pos, SL_EINVAL,
                "column '%s' must be in the GROUP BY clause or inside an aggregate function",
                col->name);
}

/* ------------------------------------------------------------------ planning */

struct aggfind {
    struct sq_query *q;
    const struct sl_sql_expr **found;
    uint32_t n, cap;
    bool nested;
};

static bool find_aggs(const struct sl_sql_expr *e, void *ud)
{
    struct aggfind *f = ud;
    if (e->kind == SL_SQL_E_CALL && sl_sql_agg_find(e->name)) {
        for (uint32_t i = 0; i < f->n; i++)
            if (sl_sql_expr_equal(e, f->found[i]))
                return false;
        if (f->n == f->cap) {
            f->cap = f->cap ? 2 * f->cap : 8;
            f->found = sl_xrealloc(f->found, f->cap * sizeof *f->found);
        }
        f->found[f->n++] = e;
        return false; /* an aggregate inside an aggregate is refused when binding */
    }
    return true;
}

static int compile_in(struct sq_query *q, const struct sl_sql_expr *e, bool want_bool,
                      struct sl_stellar_prog **p, const struct sl_sql_type **t, struct sl_diag *d)
{
    struct iscope sc;
    struct sl_sql_scope s = mkscope(&sc, q, 0, q->nin);
    return sl_sql_expr_compile(e, &s, want_bool, &q->types, p, t, d);
}

static int compile_agg(struct sq_query *q, struct ascope *as, const struct sl_sql_expr *e,
                       bool want_bool, struct sl_stellar_prog **p, const struct sl_sql_type **t,
                       struct sl_diag *d)
{
    struct sl_sql_scope s = {
        .ud = as, .column = ascope_column, .subst = ascope_subst, .compat06 = q->e->opts.compat06};
    return sl_sql_expr_compile(e, &s, want_bool, &q->types, p, t, d);
}

static char *gen_name(struct sq_query *q, uint32_t position)
{
    char b[32];
    if (q->e->opts.compat06)
        snprintf(b, sizeof b, "KSQL_COL_%u", position);
    else
        snprintf(b, sizeof b, "KSQL_COL_%u", q->generated++);
    return sl_xstrdup(b);
}

/* is column `name` present in more than one source of the query */
static bool name_shared(struct sq_query *q, const char *name)
{
    uint32_t n = 0, idx;
    for (uint32_t i = 0; i < q->nin; i++)
        if (col_in_source(q->in[i].s, name, &idx) == 0 && idx < q->in[i].s->ncols)
            n++;
    return n > 1;
}

/* which input a resolvable column belongs to */
static int column_input(struct sq_query *q, const struct sl_sql_expr *e)
{
    int32_t s = column_slot(q, e);
    if (s < 0)
        return -1;
    for (uint32_t i = q->nin; i-- > 0;)
        if ((uint32_t)s >= q->in[i].off)
            return (int)i;
    return -1;
}

static char *item_name(struct sq_query *q, const struct sl_sql_item *it, uint32_t position)
{
    if (it->alias)
        return sl_xstrdup(it->alias);
    const struct sl_sql_expr *e = it->expr;
    if (e->kind == SL_SQL_E_COLUMN) {
        if (q->nin > 1 && name_shared(q, e->name)) {
            int i = column_input(q, e);
            if (i >= 0) {
                char b[512];
                snprintf(b, sizeof b, "%s_%s", q->in[i].alias, e->name);
                return sl_xstrdup(b);
            }
        }
        return sl_xstrdup(e->name);
    }
    if (e->kind == SL_SQL_E_DEREF && e->name) {
        if (q->e->opts.compat06) {
            struct sl_buf b;
            sl_buf_init(&b, 4096);
            sl_sql_expr_format(e, &b);
            for (size_t i = 0; i < b.len; i++)
                if (b.ptr[i] == '.')
                    b.ptr[i] = '_';
            char *r = sl_xstrdup(b.ptr ? b.ptr : "");
            sl_buf_fini(&b);
            return r;
        }
        return sl_xstrdup(e->name);
    }
    return gen_name(q, position);
}

static void add_out(struct sq_query *q, char *name, const struct sl_sql_type *t,
                    const struct sl_sql_expr *expr, struct sl_stellar_prog *p, int32_t slot)
{
    q->out = sl_xrealloc(q->out, (q->nout + 1) * sizeof *q->out);
    q->out[q->nout++] =
        (struct outcol){.name = name, .type = t, .expr = expr, .p = p, .slot = slot};
}

static int plan_joins(struct sq_query *q, const struct sl_sql_query *qq, struct sl_diag *d)
{
    for (uint32_t j = 0; j < qq->njoins; j++) {
        const struct sl_sql_join *jn = &qq->joins[j];
        struct join *J = &q->joins[q->njoins++];
        J->kind = jn->kind;
        J->right = j + 1;
        const struct sq_source *L = q->in[0].s, *R = q->in[j + 1].s;
        J->ss = !L->table && !R->table;
        if (J->ss && j > 0)
            return dset(d, &jn->pos, SL_EINVAL,
                        "a stream–stream join must be the first join of a query");
        if (J->ss && !jn->within)
            return dset(d, &jn->pos, SL_EINVAL,
                        "a stream–stream join needs a WITHIN clause (e.g. WITHIN 1 HOUR)");
        if (!J->ss && jn->within)
            return dset(d, &jn->pos, SL_EINVAL, "WITHIN is only for stream–stream joins");
        if (L->table && !R->table)
            return dset(d, &jn->pos, SL_EINVAL,
                        "a table cannot be joined to a stream: put the stream on the left");
        J->tt = L->table && R->table;
        if (J->tt && (j > 0 || qq->njoins > 1))
            return dset(d, &jn->pos, SL_EINVAL, "a table–table join joins exactly two tables");
        if (!J->ss && !J->tt && (jn->kind == SL_SQL_JOIN_RIGHT || jn->kind == SL_SQL_JOIN_FULL))
            return dset(d, &jn->pos, SL_EINVAL,
                        "stream–table joins are INNER or LEFT (RIGHT and FULL have no sound "
                        "semantics)");
        if (jn->before_ms < 0 || jn->after_ms < 0 || jn->grace_ms < 0 ||
            jn->before_ms > SQ_MAX_SPAN_MS || jn->after_ms > SQ_MAX_SPAN_MS ||
            jn->grace_ms > SQ_MAX_SPAN_MS)
            return dset(d, &jn->pos, SL_ERANGE, "WITHIN and GRACE PERIOD are 0 .. 100 years");
        J->before = jn->before_ms;
        J->after = jn->after_ms;
        J->has_grace = jn->has_grace;
        J->grace = jn->has_grace ? jn->grace_ms
                                 : (SQ_DEFAULT_GRACE_MS - jn->before_ms - jn->after_ms > 0
                                        ? SQ_DEFAULT_GRACE_MS - jn->before_ms - jn->after_ms
                                        : 0);
        sl_hmap_init(&J->buf[0]);
        sl_hmap_init(&J->buf[1]);
        sl_hmap_init(&J->live);
        J->min_pend = INT64_MAX;
        /* ON a = b: one side over the right source only */
        const struct sl_sql_expr *on = jn->on;
        if (!on || on->kind != SL_SQL_E_BINARY || on->op != SL_SQL_OP_EQ)
            return dset(d, on ? &on->pos : &jn->pos, SL_EINVAL,
                        "a join's ON must be one equality (left = right); put other conditions "
                        "in WHERE");
        const struct sl_sql_expr *le = on->a, *re = on->b_;
        struct iscope rs, ls;
        struct sl_sql_scope rsc = mkscope(&rs, q, j + 1, j + 2);
        struct sl_sql_scope lsc = mkscope(&ls, q, 0, j + 1);
        const struct sl_sql_type *lt, *rt;
        struct sl_diag d1, d2;
        sl_diag_init(&d1);
        sl_diag_init(&d2);
        if (sl_sql_expr_typeof(re, &rsc, &q->types, &rt, &d1) ||
            sl_sql_expr_typeof(le, &lsc, &q->types, &lt, &d2)) {
            const struct sl_sql_expr *t = le;
            le = re;
            re = t;
            sl_diag_init(&d1);
            if (sl_sql_expr_typeof(re, &rsc, &q->types, &rt, &d1))
                return dset(d, &on->pos, SL_EINVAL,
                            "ON must compare an expression of %s with one of the sources "
                            "before it (%s)",
                            q->in[j + 1].alias, d1.msg);
        }
        int rc = sl_sql_expr_compile(le, &lsc, false, &q->types, &J->lkey, &lt, d);
        if (!rc)
            rc = sl_sql_expr_compile(re, &rsc, false, &q->types, &J->rkey, &rt, d);
        if (rc)
            return rc;
        int32_t ls_ = column_slot(q, le), rs_ = column_slot(q, re);
        J->lslot = ls_ >= 0 ? (uint32_t)ls_ : UINT32_MAX;
        J->rslot = rs_ >= 0 ? (uint32_t)rs_ : UINT32_MAX;
        if (J->tt) {
            bool lkey = ls_ >= 0 && (uint32_t)ls_ == q->in[0].off && L->nkey == 1;
            bool lleg = L->legacy_key >= 0 && ls_ >= 0 && (uint32_t)ls_ == (uint32_t)L->legacy_key;
            if (!lkey && !lleg)
                return dset(d, &le->pos, SL_EINVAL,
                            "a table–table join joins on both PRIMARY KEYs: %s's is %s", L->name,
                            L->nkey ? L->cols[0].name : "(none)");
            q->in[0].s->materialize = true;
        }
        if (R->table) {
            q->in[j + 1].s->materialize = true;
            /* the table side must be its primary key (0.6: ROWKEY or its KEY column) */
            bool legacy_ok = R->legacy_key >= 0 && rs_ >= 0 &&
                             (uint32_t)rs_ == q->in[j + 1].off + (uint32_t)R->legacy_key;
            if (!legacy_ok && (rs_ < 0 || (uint32_t)rs_ != q->in[j + 1].off || R->nkey != 1))
                return dset(d, &re->pos, SL_EINVAL,
                            "a join on table %s must use its PRIMARY KEY column%s%s", R->name,
                            R->nkey ? " " : "", R->nkey ? R->cols[0].name : "");
        }
    }
    return 0;
}

static int plan_agg(struct sq_query *q, const struct sl_sql_query *qq, struct ascope *as,
                    struct sl_diag *d)
{
    int rc;
    q->agg = true;
    q->win = qq->window;
    q->final = qq->emit == SL_SQL_EMIT_FINAL;
    if (q->win.kind == SL_SQL_WIN_HOPPING &&
        (q->win.advance_ms <= 0 || q->win.advance_ms > q->win.size_ms))
        return dset(d, &q->win.pos, SL_EINVAL,
                    "HOPPING window: ADVANCE BY must be > 0 and at most SIZE");
    if (q->win.kind != SL_SQL_WIN_NONE && q->win.size_ms <= 0)
        return dset(d, &q->win.pos, SL_EINVAL, "window size must be > 0");
    if (q->win.size_ms > SQ_MAX_SPAN_MS || q->win.advance_ms > SQ_MAX_SPAN_MS ||
        q->win.grace_ms > SQ_MAX_SPAN_MS || q->win.grace_ms < 0)
        return dset(d, &q->win.pos, SL_ERANGE, "window durations are at most 100 years");
    q->grace =
        q->win.has_grace
            ? q->win.grace_ms
            : (SQ_DEFAULT_GRACE_MS - q->win.size_ms > 0 ? SQ_DEFAULT_GRACE_MS - q->win.size_ms : 0);
    if (q->win.kind != SL_SQL_WIN_NONE && !q->win.has_grace)
        sl_warn("sql",
                "%s: no GRACE PERIOD: each window is kept %lld s of event time after it ends "
                "(ksqlDB's default, 24 h minus the size), in memory; with many keys the state "
                "reaches max_state_bytes and new records are dropped: give WINDOW ... "
                "(SIZE ..., GRACE PERIOD n SECONDS)",
                q->id, (long long)(q->grace / 1000));
    if (q->final && q->win.kind == SL_SQL_WIN_NONE)
        return dset(d, &qq->pos, SL_EINVAL, "EMIT FINAL needs a windowed aggregation");
    q->ngroup = qq->ngroup_by;
    q->group = sl_xcalloc(q->ngroup + 1, sizeof *q->group);
    q->group_expr = sl_xcalloc(q->ngroup + 1, sizeof *q->group_expr);
    as->gtypes = sl_xcalloc(q->ngroup + 1, sizeof *as->gtypes);
    for (uint32_t i = 0; i < q->ngroup; i++) {
        q->group_expr[i] = qq->group_by[i];
        if ((rc = compile_in(q, qq->group_by[i], false, &q->group[i], &as->gtypes[i], d)))
            return rc;
    }
    /* aggregate calls of the projection and HAVING */
    struct aggfind f = {.q = q};
    for (uint32_t i = 0; i < qq->nitems; i++)
        if (qq->items[i].expr)
            walk(qq->items[i].expr, find_aggs, &f);
    if (qq->having)
        walk(qq->having, find_aggs, &f);
    q->naggs = f.n;
    q->aggs = sl_xcalloc(f.n + 1, sizeof *q->aggs);
    for (uint32_t i = 0; i < f.n; i++) {
        const struct sl_sql_expr *call = f.found[i];
        struct aggcall *ac = &q->aggs[i];
        ac->expr = call;
        const struct sl_sql_aggfn *fn = sl_sql_agg_find(call->name);
        const struct sl_sql_type *argt[8] = {0};
        const struct sl_value *consts[8] = {0};
        struct sl_value cv[8];
        uint32_t na = call->nargs < 8 ? call->nargs : 8;
        for (uint32_t k = 0; k < na; k++) {
            const struct sl_sql_expr *a = call->args[k];
            struct aggfind inner = {.q = q};
            walk(a, find_aggs, &inner);
            sl_free(inner.found);
            if (inner.n) {
                sl_free(f.found);
                return dset(d, &a->pos, SL_EINVAL, "aggregate functions cannot be nested");
            }
            struct iscope sc;
            struct sl_sql_scope s = mkscope(&sc, q, 0, q->nin);
            if ((rc = sl_sql_expr_typeof(a, &s, &q->types, &argt[k], d))) {
                sl_free(f.found);
                return rc;
            }
            switch (a->kind) {
            case SL_SQL_E_INT:
            case SL_SQL_E_BIGINT:
                cv[k] = sl_value_int(a->i);
                consts[k] = &cv[k];
                break;
            case SL_SQL_E_BOOL:
                cv[k] = sl_value_bool(a->b);
                consts[k] = &cv[k];
                break;
            case SL_SQL_E_DOUBLE:
            case SL_SQL_E_DECIMAL:
                cv[k] = sl_value_double(a->d);
                consts[k] = &cv[k];
                break;
            case SL_SQL_E_STRING:
                cv[k] = sl_value_str(a->text, a->len);
                consts[k] = &cv[k];
                break;
            case SL_SQL_E_NULL:
                cv[k] = sl_value_null();
                consts[k] = &cv[k];
                break;
            default:
                break;
            }
        }
        if ((int)na < fn->min_args || (fn->max_args >= 0 && (int)na > fn->max_args)) {
            sl_free(f.found);
            return dset(d, &call->pos, SL_ETYPE, "%s takes %d to %d arguments, not %u", fn->name,
                        fn->min_args, fn->max_args, na);
        }
        if ((rc = fn->bind(argt, consts, na, call->star, &q->types, &ac->cfg, d))) {
            d->line = call->pos.line;
            d->col = call->pos.col;
            d->offset = call->pos.offset;
            sl_free(f.found);
            return rc;
        }
        ac->cfg.fn = fn;
        if (ac->cfg.nvalue_args && na) {
            const struct sl_sql_type *t;
            if ((rc = compile_in(q, call->args[0], false, &ac->arg, &t, d))) {
                sl_free(f.found);
                return rc;
            }
        }
    }
    sl_free(f.found);
    q->aslots = q->ngroup + q->naggs + 3;
    q->min_close = INT64_MAX;
    sl_hmap_init(&q->wmap);
    if (qq->having) {
        const struct sl_sql_type *t;
        if ((rc = compile_agg(q, as, qq->having, true, &q->having, &t, d)))
            return rc;
    }
    return 0;
}

/* the key: names and expressions (over the pre-projection row) */
struct keyplan {
    uint32_t n;
    char *names[16];
    const struct sl_sql_type *types[16];
    const struct sl_sql_expr *exprs[16]; /* to flag projected items as key */
    int32_t slots[16];                   /* plain slots of the pre-projection row */
    struct sl_stellar_prog *progs[16];
};

static int plan_projection(struct sq_query *q, const struct sl_sql_query *qq, struct ascope *as,
                           struct keyplan *kp, struct sl_diag *d)
{
    int rc;
    for (uint32_t i = 0; i < qq->nitems; i++) {
        const struct sl_sql_item *it = &qq->items[i];
        if (it->kind == SL_SQL_ITEM_STAR || it->kind == SL_SQL_ITEM_QSTAR) {
            if (q->agg)
                return dset(d, &it->pos, SL_EINVAL, "SELECT * cannot be used with GROUP BY");
            bool found = false;
            for (uint32_t s = 0; s < q->nin; s++) {
                const struct qin *in = &q->in[s];
                if (it->kind == SL_SQL_ITEM_QSTAR && strcmp(it->qualifier, in->alias) != 0 &&
                    strcmp(it->qualifier, in->s->name) != 0)
                    continue;
                found = true;
                bool c06 = q->e->opts.compat06;
                uint32_t ncol = in->s->ncols + (c06 && q->nin > 1 ? 1u : 0u); /* + ROWTIME */
                for (uint32_t c = 0; c < ncol; c++) {
                    /* 0.6: SELECT * is the value columns, in a join every column with ROWKEY
                     * and ROWTIME */
                    if (c06 && q->nin == 1 && c < in->s->ncols && in->s->cols[c].key &&
                        in->s->implicit_rowkey)
                        continue;
                    const char *cn = c < in->s->ncols ? in->s->cols[c].name : "ROWTIME";
                    const struct sl_sql_type *ct =
                        c < in->s->ncols ? in->s->cols[c].type : mktype(q, SL_SQL_T_BIGINT);
                    char *name;
                    if (q->nin > 1) {
                        char b[512];
                        snprintf(b, sizeof b, "%s_%s", in->alias, cn);
                        name = sl_xstrdup(b);
                    } else {
                        name = sl_xstrdup(cn);
                    }
                    add_out(q, name, ct, NULL, NULL, (int32_t)(in->off + c));
                }
            }
            if (!found)
                return dset(d, &it->pos, SL_ENOENT, "'%s' is not a source of this query",
                            it->qualifier);
            continue;
        }
        if (it->kind == SL_SQL_ITEM_DEREFSTAR)
            return dset(d, &it->pos, SL_EINVAL, "expr->* is not supported yet");
        struct sl_stellar_prog *p = NULL;
        const struct sl_sql_type *t = NULL;
        rc = q->agg ? compile_agg(q, as, it->expr, false, &p, &t, d)
                    : compile_in(q, it->expr, false, &p, &t, d);
        if (rc)
            return rc;
        int32_t slot = q->agg ? -1 : column_slot(q, it->expr);
        add_out(q, item_name(q, it, i), t, it->expr, p, slot);
    }
    /* which projected columns are the key (0.6: none; the value keeps every column) */
    for (uint32_t k = 0; k < kp->n && !q->e->opts.compat06; k++) {
        for (uint32_t i = 0; i < q->nout; i++) {
            struct outcol *oc = &q->out[i];
            if (oc->key)
                continue;
            bool same;
            if (q->agg)
                same = oc->expr && same_expr(q, oc->expr, kp->exprs[k]);
            else if (kp->slots[k] >= 0)
                same = oc->slot == kp->slots[k];
            else
                same = oc->expr && kp->exprs[k] && sl_sql_expr_equal(oc->expr, kp->exprs[k]);
            if (same) {
                oc->key = true;
                sl_free(kp->names[k]);
                kp->names[k] = sl_xstrdup(oc->name);
                break;
            }
        }
    }
    /* a join whose left key column is not projected: its right key column is the key */
    if (q->njoins && !q->agg && !q->npart && !q->e->opts.compat06 &&
        q->joins[0].kind != SL_SQL_JOIN_FULL && q->joins[0].rslot != UINT32_MAX) {
        bool any = false;
        for (uint32_t i = 0; i < q->nout; i++)
            any |= q->out[i].key;
        for (uint32_t i = 0; i < q->nout && !any; i++)
            if (q->out[i].slot == (int32_t)q->joins[0].rslot) {
                q->out[i].key = true;
                sl_free(kp->names[0]);
                kp->names[0] = sl_xstrdup(q->out[i].name);
                any = true;
            }
    }
    return 0;
}

static void plan_free_keyplan(struct keyplan *kp)
{
    for (uint32_t i = 0; i < kp->n; i++)
        sl_free(kp->names[i]);
}

int sq_query_plan(struct sl_sql_engine *e, const struct sl_sql_stmt *st, struct sq_source *sink,
                  const char *sink_topic, struct sq_query **out, struct sl_diag *d)
{
    const struct sl_sql_query *qq = st->query;
    *out = NULL;
    if (!qq)
        return dset(d, &st->pos, SL_EINVAL, "statement has no query");
    struct sq_query *q = sl_xcalloc(1, sizeof *q);
    q->e = e;
    sl_arena_init(&q->types, 2048, 16u << 20);
    snprintf(q->id, sizeof q->id, "%s_%s_%u",
             st->kind == SL_SQL_S_SELECT        ? "transient"
             : st->kind == SL_SQL_S_INSERT_INTO ? "INSERTQUERY"
             : st->source_kind == SL_SQL_TABLE  ? "CTAS"
                                                : "CSAS",
             sink ? sink->name : "QUERY", e->next_query_id++);
    q->topic = sl_xstrdup(sink_topic ? sink_topic : q->id);
    q->limit = qq->limit;
    q->ts_out = -1;
    q->table_out = sink ? sink->table : false;
    struct keyplan kp = {0};
    struct ascope as = {.q = q};
    int rc;
    /* inputs */
    const struct sl_sql_rel *rels[MAX_IN];
    rels[0] = &qq->from;
    if (qq->njoins + 1 > MAX_IN) {
        rc = dset(d, &qq->pos, SL_E2BIG, "at most %d sources in one query", MAX_IN);
        goto fail;
    }
    for (uint32_t j = 0; j < qq->njoins; j++)
        rels[j + 1] = &qq->joins[j].right;
    uint32_t off = 0;
    for (uint32_t i = 0; i <= qq->njoins; i++) {
        struct sq_source *s = sq_source_find(e, rels[i]->name);
        if (!s) {
            const char *best = NULL;
            unsigned bd = 4;
            for (uint32_t k = 0; k < e->nsources; k++) {
                unsigned dd = edit_distance(rels[i]->name, e->sources[k]->name);
                if (dd < bd) {
                    bd = dd;
                    best = e->sources[k]->name;
                }
            }
            rc = best ? dset(d, &rels[i]->pos, SL_ENOENT, "%s does not exist; did you mean %s?",
                             rels[i]->name, best)
                      : dset(d, &rels[i]->pos, SL_ENOENT, "%s does not exist", rels[i]->name);
            goto fail;
        }
        q->in[i].s = s;
        q->in[i].alias = rels[i]->alias ? rels[i]->alias : s->name;
        q->in[i].off = off;
        off += s->nslots;
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(q->in[k].alias, q->in[i].alias) == 0) {
                rc = dset(d, &rels[i]->pos, SL_EINVAL, "%s appears twice: give each an alias",
                          q->in[i].alias);
                goto fail;
            }
    }
    q->nin = qq->njoins + 1;
    q->rowkey_slot = UINT32_MAX;
    for (uint32_t j = 0; j < qq->njoins; j++)
        if (qq->joins[j].kind == SL_SQL_JOIN_FULL && q->rowkey_slot == UINT32_MAX)
            q->rowkey_slot = off++;
    q->nslots = off;
    q->input_table = q->nin == 1 && q->in[0].s->table;
    if ((rc = plan_joins(q, qq, d)))
        goto fail;
    if (qq->where) {
        const struct sl_sql_type *t;
        if ((rc = compile_in(q, qq->where, true, &q->where, &t, d)))
            goto fail;
    }
    bool agg = qq->ngroup_by > 0;
    if (!agg) {
        struct aggfind f = {.q = q};
        for (uint32_t i = 0; i < qq->nitems; i++)
            if (qq->items[i].expr)
                walk(qq->items[i].expr, find_aggs, &f);
        if (f.n) {
            rc = dset(d, &f.found[0]->pos, SL_EINVAL,
                      "aggregate %s without GROUP BY (ksqlDB needs GROUP BY; use GROUP BY a "
                      "constant or a column)",
                      f.found[0]->name);
            sl_free(f.found);
            goto fail;
        }
        sl_free(f.found);
        if (qq->having) {
            rc = dset(d, &qq->having->pos, SL_EINVAL, "HAVING needs GROUP BY");
            goto fail;
        }
        if (qq->window.kind != SL_SQL_WIN_NONE) {
            rc = dset(d, &qq->window.pos, SL_EINVAL, "WINDOW needs GROUP BY");
            goto fail;
        }
    }
    if (qq->ngroup_by > SQ_MAX_KEYS || qq->npartition_by > SQ_MAX_KEYS) {
        rc = dset(d, &qq->pos, SL_E2BIG, "at most %d GROUP BY or PARTITION BY expressions",
                  SQ_MAX_KEYS);
        goto fail;
    }
    if (agg && q->in[0].s->table) {
        rc = dset(d, &qq->from.pos, SL_EINVAL,
                  "GROUP BY over table %s is not supported (it needs retractions of replaced "
                  "rows): aggregate the stream the table is built from",
                  q->in[0].s->name);
        goto fail;
    }
    if (agg && (rc = plan_agg(q, qq, &as, d)))
        goto fail;
    if (agg && qq->npartition_by) {
        rc = dset(d, &qq->partition_by[0]->pos, SL_EINVAL,
                  "PARTITION BY and GROUP BY cannot be combined");
        goto fail;
    }
    /* the key */
    if (agg) {
        kp.n = q->ngroup < 16 ? q->ngroup : 16;
        for (uint32_t i = 0; i < kp.n; i++) {
            kp.exprs[i] = q->group_expr[i];
            kp.slots[i] = (int32_t)i; /* over the aggregated row */
            kp.types[i] = as.gtypes[i];
            kp.names[i] = q->group_expr[i]->kind == SL_SQL_E_COLUMN
                              ? sl_xstrdup(q->group_expr[i]->name)
                              : NULL;
        }
    } else if (qq->npartition_by) {
        q->npart = qq->npartition_by;
        kp.n = q->npart < 16 ? q->npart : 16;
        for (uint32_t i = 0; i < kp.n; i++) {
            const struct sl_sql_expr *pe = qq->partition_by[i];
            kp.exprs[i] = pe;
            kp.slots[i] = column_slot(q, pe);
            if ((rc = compile_in(q, pe, false, &kp.progs[i], &kp.types[i], d)))
                goto fail;
            kp.names[i] = pe->kind == SL_SQL_E_COLUMN ? sl_xstrdup(pe->name) : NULL;
        }
    } else if (q->njoins) {
        const struct join *J = &q->joins[0];
        kp.n = 1;
        kp.names[0] = sl_xstrdup("ROWKEY");
        q->coalesce_key = J->ss || J->tt;
        if (J->kind == SL_SQL_JOIN_FULL) {
            kp.slots[0] = (int32_t)q->rowkey_slot; /* an item selecting ROWKEY is the key */
        } else {
            kp.slots[0] = J->lslot == UINT32_MAX ? -1 : (int32_t)J->lslot;
            if (J->lslot == UINT32_MAX) {
                const struct sl_sql_type *t;
                if ((rc = compile_in(q, qq->joins[0].on->a, false, &kp.progs[0], &t, d)))
                    goto fail;
            }
        }
        kp.types[0] = mktype(q, SL_SQL_T_UNKNOWN);
    } else {
        const struct sq_source *s = q->in[0].s;
        kp.n = s->nkey < 16 ? s->nkey : 16;
        for (uint32_t i = 0; i < kp.n; i++) {
            kp.slots[i] = (int32_t)i;
            kp.types[i] = s->cols[i].type;
            kp.names[i] = sl_xstrdup(s->cols[i].name);
        }
    }
    if ((rc = plan_projection(q, qq, &as, &kp, d)))
        goto fail;
    /* 0.6: the key of a stream is ROWKEY, a string */
    if (e->opts.compat06 && !agg && kp.n == 1) {
        sl_free(kp.names[0]);
        kp.names[0] = sl_xstrdup("ROWKEY");
        if (qq->npartition_by)
            kp.types[0] = mktype(q, SL_SQL_T_STRING);
    }
    /* unnamed keys */
    for (uint32_t i = 0; i < kp.n; i++)
        if (!kp.names[i])
            kp.names[i] = gen_name(q, i);
    /* the sink's columns: the key, then the value columns */
    q->nkeys = kp.n;
    q->keyx = sl_xcalloc(kp.n + 1, sizeof *q->keyx);
    q->keyslot = sl_xcalloc(kp.n + 1, sizeof *q->keyslot);
    q->cols = sl_xcalloc(kp.n + q->nout + 1, sizeof *q->cols);
    for (uint32_t i = 0; i < kp.n; i++) {
        q->keyx[i] = kp.progs[i];
        kp.progs[i] = NULL;
        q->keyslot[i] = kp.slots[i];
        q->cols[q->ncols++] =
            (struct sq_col){.name = kp.names[i], .type = kp.types[i], .key = true};
        kp.names[i] = NULL;
    }
    /* a key column's type from the projected item when it had none */
    for (uint32_t i = 0; i < q->nout; i++) {
        if (q->out[i].key) {
            for (uint32_t k = 0; k < q->nkeys; k++)
                if (strcmp(q->cols[k].name, q->out[i].name) == 0 &&
                    (!q->cols[k].type || q->cols[k].type->kind == SL_SQL_T_UNKNOWN))
                    q->cols[k].type = q->out[i].type;
            continue;
        }
        for (uint32_t k = 0; k < q->ncols; k++)
            if (strcmp(q->cols[k].name, q->out[i].name) == 0) {
                rc = dset(d, &qq->pos, SL_EINVAL,
                          "the projection has two columns named %s (give one an alias)",
                          q->out[i].name);
                goto fail;
            }
        q->cols[q->ncols++] =
            (struct sq_col){.name = sl_xstrdup(q->out[i].name), .type = q->out[i].type};
    }
    for (uint32_t i = 0; i < q->ncols; i++)
        if (!q->cols[i].type)
            q->cols[i].type = mktype(q, SL_SQL_T_UNKNOWN);
    /* WITH (TIMESTAMP=...) on a CREATE ... AS: the output's record time */
    for (uint32_t i = 0; i < st->nprops; i++)
        if (strcasecmp(st->props[i].name, "TIMESTAMP") == 0 && st->props[i].value &&
            st->props[i].value->text) {
            for (uint32_t k = 0; k < q->nout; k++)
                if (strcasecmp(q->out[k].name, st->props[i].value->text) == 0)
                    q->ts_out = (int)k;
        }
    if (q->agg) {
        q->out_windowed = q->win.kind != SL_SQL_WIN_NONE;
        q->out_session = q->win.kind == SL_SQL_WIN_SESSION;
    } else if (q->nin == 1 && q->in[0].s->windowed) {
        q->out_windowed = true;
        q->out_session = q->in[0].s->session;
    }
    sl_free(as.gtypes);
    plan_free_keyplan(&kp);
    /* subscribe */
    for (uint32_t i = 0; i < q->nin; i++) {
        struct sq_source *s = q->in[i].s;
        bool reads = i == 0 || q->joins[i - 1].ss || q->joins[i - 1].tt;
        for (uint32_t k = 0; k < s->nreaders && reads; k++)
            reads = s->readers[k] != q; /* a self-join reads its source once */
        if (!reads)
            continue;
        s->readers = sl_xrealloc(s->readers, (s->nreaders + 1) * sizeof *s->readers);
        s->readers[s->nreaders++] = q;
    }
    q->sink = sink;
    *out = q;
    return 0;
fail:
    sl_free(as.gtypes);
    plan_free_keyplan(&kp);
    for (uint32_t i = 0; i < 16; i++)
        sl_stellar_free(kp.progs[i]);
    sq_query_free(q);
    return rc;
}

void sq_query_columns(const struct sq_query *q, const struct sq_col **cols, uint32_t *n,
                      bool *windowed, bool *session)
{
    *cols = q->cols;
    *n = q->ncols;
    *windowed = q->out_windowed;
    *session = q->out_session;
}

bool sq_query_reads(const struct sq_query *q, const struct sq_source *s)
{
    for (uint32_t i = 0; i < q->nin; i++)
        if (q->in[i].s == s)
            return true;
    return false;
}

const char *sq_query_topic(const struct sq_query *q)
{
    return q->topic;
}

const char *sq_query_id(const struct sq_query *q)
{
    return q->id;
}

uint64_t sq_query_state_bytes(const struct sq_query *q)
{
    return q->state_bytes;
}

static uint64_t wkey_hash(const char *k, size_t n)
{
    uint64_t h = sl_hash64(k, n);
    return h < 2 ? h + 2 : h;
}

static struct went *wtab_get(const struct wtab *t, uint64_t h, const char *k, size_t n)
{
    if (!t->cap)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct wslot *s = &t->s[i];
        if (s->hash == 0)
            return NULL;
        if (s->hash == h && s->w->key_len == n && memcmp(s->w->key, k, n) == 0)
            return s->w;
    }
}

static void wtab_grow(struct wtab *t)
{
    size_t cap = t->count * 10 < t->cap * 4 && t->cap ? t->cap : (t->cap ? t->cap * 2 : 64);
    struct wslot *ns = sl_xcalloc(cap, sizeof *ns);
    for (size_t i = 0; i < t->cap; i++) {
        if (t->s[i].hash < 2)
            continue;
        size_t j = t->s[i].hash & (cap - 1);
        while (ns[j].hash)
            j = (j + 1) & (cap - 1);
        ns[j] = t->s[i];
    }
    sl_free(t->s);
    t->s = ns;
    t->cap = cap;
    t->used = t->count;
}

static void wtab_put(struct wtab *t, struct went *w)
{
    if ((t->used + 1) * 10 > t->cap * 7)
        wtab_grow(t);
    size_t mask = t->cap - 1, i = w->hash & mask;
    while (t->s[i].hash > 1)
        i = (i + 1) & mask;
    if (t->s[i].hash == 0)
        t->used++;
    t->s[i] = (struct wslot){w->hash, w};
    t->count++;
}

static void wtab_del(struct wtab *t, const struct went *w)
{
    if (!t->cap)
        return;
    size_t mask = t->cap - 1;
    for (size_t i = w->hash & mask; t->s[i].hash; i = (i + 1) & mask)
        if (t->s[i].w == w && t->s[i].hash > 1) {
            t->s[i].hash = 1;
            t->s[i].w = NULL;
            t->count--;
            return;
        }
}

static void went_free(struct sq_query *q, struct went *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < q->naggs; i++)
        q->aggs[i].cfg.fn->fini(&q->aggs[i].cfg, w->states + (size_t)i * SL_SQL_AGG_STATE);
    q->state_bytes = q->state_bytes > w->bytes ? q->state_bytes - w->bytes : 0;
    sl_free(w);
}

static void sbuf_free(struct sbuf *b)
{
    for (uint32_t i = 0; i < b->n; i++)
        sl_free(b->rows[i]);
    sl_free(b->rows);
    sl_free(b);
}

void sq_query_free(struct sq_query *q)
{
    if (!q)
        return;
    size_t it = 0;
    struct sl_str k;
    uint64_t v;
    if (q->agg) {
        while (sl_hmap_next(&q->wmap, &it, &k, &v)) {
            struct sessions *ss = (struct sessions *)(uintptr_t)v;
            for (uint32_t i = 0; i < ss->n; i++)
                went_free(q, ss->w[i]);
            sl_free(ss->w);
            sl_free(ss);
        }
        sl_hmap_fini(&q->wmap);
        for (size_t i = 0; i < q->wtab.cap; i++)
            if (q->wtab.s[i].hash > 1)
                went_free(q, q->wtab.s[i].w);
        sl_free(q->wtab.s);
    }
    for (uint32_t j = 0; j < q->njoins; j++) {
        struct join *J = &q->joins[j];
        for (int s = 0; s < 2; s++) {
            it = 0;
            while (sl_hmap_next(&J->buf[s], &it, &k, &v))
                sbuf_free((struct sbuf *)(uintptr_t)v);
            sl_hmap_fini(&J->buf[s]);
        }
        sl_hmap_fini(&J->live);
        for (uint32_t i = 0; i < J->npend; i++)
            sl_free(J->pend[i].key);
        sl_free(J->pend);
        sl_stellar_free(J->lkey);
        sl_stellar_free(J->rkey);
    }
    for (uint32_t i = 0; i < q->ngroup; i++)
        sl_stellar_free(q->group[i]);
    sl_free(q->group);
    sl_free(q->group_expr);
    for (uint32_t i = 0; i < q->naggs; i++)
        sl_stellar_free(q->aggs[i].arg);
    sl_free(q->aggs);
    sl_stellar_free(q->where);
    sl_stellar_free(q->having);
    for (uint32_t i = 0; i < q->npart; i++)
        sl_stellar_free(q->part ? q->part[i] : NULL);
    sl_free(q->part);
    for (uint32_t i = 0; i < q->nout; i++) {
        sl_free(q->out[i].name);
        sl_stellar_free(q->out[i].p);
    }
    sl_free(q->out);
    for (uint32_t i = 0; i < q->ncols; i++)
        sl_free(q->cols[i].name);
    sl_free(q->cols);
    for (uint32_t i = 0; i < q->nkeys; i++)
        sl_stellar_free(q->keyx[i]);
    sl_free(q->keyx);
    sl_free(q->keyslot);
    sl_free(q->topic);
    sl_arena_fini(&q->types);
    sl_free(q);
}

void sq_query_set_sink(struct sq_query *q, struct sq_source *sink, const char *topic)
{
    q->sink = sink;
    sl_free(q->topic);
    q->topic = sl_xstrdup(topic);
}

/* ------------------------------------------------------------------ running */

static struct sl_value eval(struct sq_query *q, const struct sl_stellar_prog *p,
                            const struct sl_value *row, uint32_t n)
{
    struct sl_sql_engine *e = q->e;
    struct sl_value v = sl_value_null();
    if (sl_sql_eval(e->vm, p, row, n, &e->row_arena, &v)) {
        e->st.eval_errors++;
        sq_record_error(e, q->id, "%s", sl_stellar_vm_error(e->vm));
        v = sl_value_null();
    }
    return v;
}

static bool eval_bool(struct sq_query *q, const struct sl_stellar_prog *p,
                      const struct sl_value *row, uint32_t n)
{
    struct sl_sql_engine *e = q->e;
    bool b = false;
    if (sl_sql_eval_bool(e->vm, p, row, n, &e->row_arena, &b)) {
        e->st.eval_errors++;
        sq_record_error(e, q->id, "%s", sl_stellar_vm_error(e->vm));
        return false;
    }
    return b;
}

static struct sl_value *row_alloc(struct sq_query *q, uint32_t n)
{
    struct sl_value *v = sl_arena_alloc(&q->e->row_arena, (size_t)(n ? n : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        v[i] = sl_value_null();
    return v;
}

/* emit one output record: key from `keyv` (nkeys values), value from the out columns */
static void emit_record(struct sq_query *q, const struct sl_value *keyv,
                        const struct sl_value *outv, bool tombstone, int64_t ts, bool windowed,
                        int64_t ws, int64_t we)
{
    struct sl_sql_engine *e = q->e;
    if (q->limit >= 0 && q->emitted >= q->limit)
        return;
    struct sl_value key = sl_value_null(), val = sl_value_null();
    if (q->nkeys == 1) {
        key = keyv[0];
    } else if (q->nkeys > 1) {
        struct sl_kv *m = sl_arena_alloc(&e->row_arena, q->nkeys * sizeof *m);
        if (!m)
            return;
        for (uint32_t i = 0; i < q->nkeys; i++) {
            m[i].key = sl_str_make(q->cols[i].name, strlen(q->cols[i].name));
            m[i].val = keyv[i];
        }
        key.type = SL_V_MAP;
        key.len = q->nkeys;
        key.u.map = m;
    }
    if (!tombstone) {
        uint32_t nv = q->ncols - q->nkeys;
        struct sl_kv *m = sl_arena_alloc(&e->row_arena, (nv ? nv : 1) * sizeof *m);
        if (!m)
            return;
        uint32_t k = 0;
        for (uint32_t i = 0; i < q->nout; i++) {
            if (q->out[i].key)
                continue;
            m[k].key = sl_str_make(q->out[i].name, strlen(q->out[i].name));
            m[k].val = outv[i];
            k++;
        }
        val.type = SL_V_MAP;
        val.len = k;
        val.u.map = m;
        if (q->ts_out >= 0) {
            if (outv[q->ts_out].type != SL_V_INT || outv[q->ts_out].u.i < 0 ||
                outv[q->ts_out].u.i > SQ_MAX_TS_MS) {
                e->st.eval_errors++;
                sq_record_error(e, q->id,
                                "output timestamp column %s is null or negative: "
                                "record dropped",
                                q->out[q->ts_out].name);
                return;
            }
            ts = outv[q->ts_out].u.i;
        }
    }
    q->emitted++;
    sq_topic_write(e, q->topic, &key, q->nkeys == 1 ? q->cols[0].name : NULL, &val, ts, windowed,
                   q->out_session, ws, we);
}

/* projection over a row (joined row or aggregated row) */
static struct sl_value *project(struct sq_query *q, const struct sl_value *row, uint32_t n)
{
    struct sl_value *outv = row_alloc(q, q->nout);
    if (!outv)
        return NULL;
    for (uint32_t i = 0; i < q->nout; i++) {
        const struct outcol *oc = &q->out[i];
        if (oc->slot >= 0 && (uint32_t)oc->slot < n)
            outv[i] = row[oc->slot];
        else if (oc->p)
            outv[i] = eval(q, oc->p, row, n);
    }
    return outv;
}

/* after joins and WHERE, without aggregation */
static void finish_plain(struct sq_query *q, const struct sl_value *row, int64_t ts,
                         bool null_value)
{
    struct sl_value keyv[16];
    for (uint32_t i = 0; i < q->nkeys && i < 16; i++) {
        if (q->keyx[i])
            keyv[i] = eval(q, q->keyx[i], row, q->nslots);
        else if (q->keyslot[i] >= 0)
            keyv[i] = row[q->keyslot[i]];
        else
            keyv[i] = sl_value_null();
    }
    if (q->coalesce_key) {
        const struct join *J = &q->joins[0];
        struct sl_value a = J->lslot != UINT32_MAX ? row[J->lslot] : sl_value_null();
        struct sl_value b = J->rslot != UINT32_MAX ? row[J->rslot] : sl_value_null();
        keyv[0] = a.type != SL_V_NULL ? a : b;
    }
    bool win = false;
    int64_t ws = 0, we = 0;
    if (q->out_windowed && !q->agg) {
        uint32_t nc = q->in[0].s->ncols;
        win = row[nc + 1].type == SL_V_INT;
        ws = win ? row[nc + 1].u.i : 0;
        we = win && row[nc + 2].type == SL_V_INT ? row[nc + 2].u.i : 0;
    }
    if (q->npart && q->e->opts.compat06) {
        /* 0.6: the key is the partition value's text; no value, no key: dropped */
        if (null_value || keyv[0].type == SL_V_NULL)
            return;
        if (keyv[0].type != SL_V_STRING) {
            struct sl_sql_type st_ = {.kind = SL_SQL_T_STRING};
            struct sl_value sv;
            char err[128];
            if (sl_sql_coerce(&keyv[0], &st_, &q->e->row_arena, &sv, err, sizeof err) == 0)
                keyv[0] = sv;
        }
    }
    if (null_value) {
        if (q->npart && !q->e->opts.compat06) {
            for (uint32_t i = 0; i < q->nkeys; i++)
                keyv[i] = sl_value_null();
        }
        emit_record(q, keyv, NULL, true, ts, win, ws, we);
        return;
    }
    struct sl_value *outv = project(q, row, q->nslots);
    if (!outv)
        return;
    emit_record(q, keyv, outv, false, ts, win, ws, we);
}

/* a late record to the engine's late callback: its source's columns as a map */
static void report_late(struct sq_query *q, const struct sq_source *src, const struct sl_value *v,
                        int64_t ts, const char *why)
{
    struct sl_sql_engine *e = q->e;
    if (!e->on_late) {
        sq_record_error(e, q->id, "late record at %lld dropped (%s)", (long long)ts, why);
        return;
    }
    struct sl_kv *m = sl_arena_alloc(&e->row_arena, (src->ncols ? src->ncols : 1) * sizeof *m);
    if (!m)
        return;
    for (uint32_t i = 0; i < src->ncols; i++) {
        m[i].key = sl_str_make(src->cols[i].name, strlen(src->cols[i].name));
        m[i].val = v[i];
    }
    struct sl_value rec = {.type = SL_V_MAP, .len = src->ncols};
    rec.u.map = m;
    e->on_late(e->late_ud, q->id, src->name, &rec, ts);
}

/* ---- aggregation */

static void went_row(struct sq_query *q, const struct went *w, struct sl_value *arow)
{
    for (uint32_t i = 0; i < q->ngroup; i++)
        arow[i] = w->g[i];
    for (uint32_t i = 0; i < q->naggs; i++) {
        const struct aggcall *ac = &q->aggs[i];
        struct sl_value v = sl_value_null();
        if (ac->cfg.fn->result(&ac->cfg, w->states + (size_t)i * SL_SQL_AGG_STATE, &q->e->row_arena,
                               &v))
            v = sl_value_null();
        arow[q->ngroup + i] = v;
    }
    uint32_t b = q->ngroup + q->naggs;
    bool windowed = q->win.kind != SL_SQL_WIN_NONE;
    arow[b] = windowed ? sl_value_int(w->ws) : sl_value_null();
    arow[b + 1] = windowed ? sl_value_int(w->we) : sl_value_null();
    arow[b + 2] = sl_value_int(w->max_ts);
}

static void emit_went(struct sq_query *q, struct went *w, bool tombstone)
{
    struct sl_value *arow = row_alloc(q, q->aslots);
    if (!arow)
        return;
    went_row(q, w, arow);
    bool windowed = q->win.kind != SL_SQL_WIN_NONE;
    struct sl_value keyv[16];
    for (uint32_t i = 0; i < q->nkeys && i < 16; i++)
        keyv[i] = arow[i];
    if (tombstone) {
        emit_record(q, keyv, NULL, true, w->max_ts, windowed, w->ws, w->we);
        w->emitted = false;
        return;
    }
    if (q->having && !eval_bool(q, q->having, arow, q->aslots)) {
        if (w->emitted)
            emit_record(q, keyv, NULL, true, w->max_ts, windowed, w->ws, w->we);
        w->emitted = false;
        return;
    }
    struct sl_value *outv = project(q, arow, q->aslots);
    if (!outv)
        return;
    emit_record(q, keyv, outv, false, w->max_ts, windowed, w->ws, w->we);
    w->emitted = true;
}

static size_t round8z(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

/* a new window of the group whose key bytes are gkey (the window start is appended) */
static struct went *went_new(struct sq_query *q, const struct sl_value *g, const char *gkey,
                             size_t gklen, int64_t ws, int64_t we)
{
    size_t head = round8z(sizeof(struct went));
    size_t states = (size_t)q->naggs * SL_SQL_AGG_STATE;
    size_t gvals = (size_t)q->ngroup * sizeof(struct sl_value);
    size_t gextra = sq_values_extra(g, q->ngroup);
    size_t klen = gklen + sizeof ws;
    size_t total = head + states + gvals + gextra + round8z(klen);
    char *blk = sl_xmalloc(total);
    struct went *w = (struct went *)(void *)blk;
    memset(w, 0, sizeof *w);
    w->ws = ws;
    w->we = we;
    w->max_ts = INT64_MIN;
    w->bytes = total + SQ_ALLOC_OVERHEAD;
    w->states = (unsigned char *)blk + head;
    w->g = (struct sl_value *)(void *)(blk + head + states);
    char *p = blk + head + states + gvals;
    sq_values_place(w->g, g, q->ngroup, &p);
    w->key = p;
    memcpy(w->key, gkey, gklen);
    memcpy(w->key + gklen, &ws, sizeof ws);
    w->gkey_len = (uint32_t)gklen;
    w->key_len = (uint32_t)klen;
    w->hash = wkey_hash(w->key, klen);
    for (uint32_t i = 0; i < q->naggs; i++)
        q->aggs[i].cfg.fn->init(&q->aggs[i].cfg, w->states + (size_t)i * SL_SQL_AGG_STATE);
    q->state_bytes += w->bytes;
    int64_t closes = w->we + q->grace + (q->win.kind == SL_SQL_WIN_SESSION ? q->win.size_ms : 0);
    if (closes < q->min_close)
        q->min_close = closes;
    return w;
}

/* room for `bytes` more state in q? (counted and reported when not) */
static bool state_room(struct sq_query *q, size_t bytes)
{
    struct sl_sql_engine *e = q->e;
    if (q->state_bytes + bytes <= e->opts.max_state_bytes)
        return true;
    e->st.state_full++;
    sq_record_error(e, q->id, "state is full (%llu bytes, max_state_bytes %llu): record dropped",
                    (unsigned long long)q->state_bytes,
                    (unsigned long long)e->opts.max_state_bytes);
    return false;
}

static void went_add(struct sq_query *q, struct went *w, const struct sl_value *aggv, int64_t ts,
                     uint64_t seq)
{
    for (uint32_t i = 0; i < q->naggs; i++) {
        const struct aggcall *ac = &q->aggs[i];
        void *st = w->states + (size_t)i * SL_SQL_AGG_STATE;
        size_t before = ac->cfg.fn->bytes ? ac->cfg.fn->bytes(&ac->cfg, st) : 0;
        if (ac->cfg.fn->add(&ac->cfg, st, ac->arg || ac->cfg.nvalue_args ? &aggv[i] : NULL, seq)) {
            q->e->st.eval_errors++;
            sq_record_error(q->e, q->id, "aggregate %s: out of memory", ac->cfg.fn->name);
        }
        size_t after = ac->cfg.fn->bytes ? ac->cfg.fn->bytes(&ac->cfg, st) : 0;
        /* the heap the aggregate holds (COUNT_DISTINCT's set, COLLECT_LIST) counts too */
        w->bytes += after - before;
        q->state_bytes += after - before;
    }
    if (ts > w->max_ts)
        w->max_ts = ts;
    w->seq = seq;
}

/* EMIT FINAL: windows whose end + grace has passed, in window order */
static int cmp_went(const void *a, const void *b)
{
    const struct went *x = *(struct went *const *)a, *y = *(struct went *const *)b;
    if (x->ws != y->ws)
        return x->ws < y->ws ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return 0;
}

static int64_t close_time(const struct sq_query *q, const struct went *w)
{
    if (q->win.kind == SL_SQL_WIN_SESSION)
        return w->we + q->win.size_ms + q->grace;
    return w->we + q->grace;
}

static void sweep(struct sq_query *q, bool emit_final)
{
    struct went **closed = NULL;
    uint32_t nc = 0, cap = 0;
    size_t it = 0;
    struct sl_str k;
    uint64_t v;
    /* collect first: the tables cannot change while they are walked */
    int64_t next_close = INT64_MAX;
    while (sl_hmap_next(&q->wmap, &it, &k, &v)) {
        struct sessions *ss = (struct sessions *)(uintptr_t)v;
        for (uint32_t i = 0; i < ss->n; i++) {
            int64_t c = close_time(q, ss->w[i]);
            if (c > q->st && c < next_close)
                next_close = c;
            if (c <= q->st) {
                if (nc == cap) {
                    cap = cap ? 2 * cap : 16;
                    closed = sl_xrealloc(closed, cap * sizeof *closed);
                }
                closed[nc++] = ss->w[i];
            }
        }
    }
    for (size_t i = 0; i < q->wtab.cap; i++) {
        struct went *w = q->wtab.s[i].hash > 1 ? q->wtab.s[i].w : NULL;
        if (!w)
            continue;
        int64_t c = close_time(q, w);
        if (c > q->st && c < next_close)
            next_close = c;
        if (c <= q->st) {
            if (nc == cap) {
                cap = cap ? 2 * cap : 16;
                closed = sl_xrealloc(closed, cap * sizeof *closed);
            }
            closed[nc++] = w;
        }
    }
    q->min_close = next_close; /* windows made while emitting lower it again */
    if (nc)
        qsort(closed, nc, sizeof *closed, cmp_went);
    for (uint32_t i = 0; i < nc; i++) {
        struct went *w = closed[i];
        if (emit_final)
            emit_went(q, w, false);
        /* remove it */
        if (q->win.kind == SL_SQL_WIN_SESSION) {
            struct sl_str mk = sl_str_make(w->key, w->gkey_len);
            uint64_t sv;
            if (sl_hmap_get(&q->wmap, mk, &sv)) {
                struct sessions *ss = (struct sessions *)(uintptr_t)sv;
                for (uint32_t m = 0; m < ss->n; m++)
                    if (ss->w[m] == w) {
                        memmove(&ss->w[m], &ss->w[m + 1], (ss->n - m - 1) * sizeof *ss->w);
                        ss->n--;
                        break;
                    }
                if (!ss->n) {
                    sl_hmap_del(&q->wmap, mk);
                    sl_free(ss->w);
                    sl_free(ss);
                }
            }
        } else {
            wtab_del(&q->wtab, w);
        }
        went_free(q, w);
    }
    sl_free(closed);
}

static void agg_session(struct sq_query *q, const struct sl_value *row, const struct sl_value *g,
                        const char *key, size_t klen, const struct sl_value *aggv, int64_t ts,
                        uint64_t seq)
{
    int64_t gap = q->win.size_ms;
    struct sl_str mk = sl_str_make(key, klen);
    uint64_t sv;
    struct sessions *ss;
    if (sl_hmap_get(&q->wmap, mk, &sv)) {
        ss = (struct sessions *)(uintptr_t)sv;
    } else {
        ss = sl_xcalloc(1, sizeof *ss);
        if (sl_hmap_put(&q->wmap, mk, (uint64_t)(uintptr_t)ss)) {
            sl_free(ss);
            return;
        }
    }
    /* sessions overlapping [ts - gap, ts + gap] */
    int64_t start = ts, end = ts;
    uint32_t nm = 0;
    struct went *merged[64];
    for (uint32_t i = 0; i < ss->n && nm < 64; i++) {
        struct went *w = ss->w[i];
        if (w->we >= ts - gap && w->ws <= ts + gap) {
            merged[nm++] = w;
            if (w->ws < start)
                start = w->ws;
            if (w->we > end)
                end = w->we;
        }
    }
    int64_t late_line = q->e->opts.compat06 ? q->st - q->grace : q->st - q->grace - gap;
    if (end < late_line) {
        q->e->st.late++;
        report_late(q, q->in[0].s, row, ts, "its session closed");
        if (!ss->n) {
            sl_hmap_del(&q->wmap, mk);
            sl_free(ss->w);
            sl_free(ss);
        }
        return;
    }
    if (!nm && !state_room(q, sizeof(struct went) + klen + 64 * (q->ngroup + q->naggs))) {
        if (!ss->n) {
            sl_hmap_del(&q->wmap, mk);
            sl_free(ss->w);
            sl_free(ss);
        }
        return;
    }
    struct went *n = went_new(q, g, key, klen, start, end);
    for (uint32_t i = 0; i < nm; i++) {
        for (uint32_t a = 0; a < q->naggs; a++) {
            const struct sl_sql_aggcfg *cf = &q->aggs[a].cfg;
            void *st = n->states + (size_t)a * SL_SQL_AGG_STATE;
            size_t before = cf->fn->bytes ? cf->fn->bytes(cf, st) : 0;
            cf->fn->merge(cf, st, merged[i]->states + (size_t)a * SL_SQL_AGG_STATE);
            size_t after = cf->fn->bytes ? cf->fn->bytes(cf, st) : 0;
            n->bytes += after - before;
            q->state_bytes += after - before;
        }
        if (merged[i]->max_ts > n->max_ts)
            n->max_ts = merged[i]->max_ts;
    }
    went_add(q, n, aggv, ts, seq);
    /* tombstones for the replaced sessions, then the merged one */
    for (uint32_t i = 0; i < nm; i++) {
        struct went *w = merged[i];
        if (!q->final && w->emitted)
            emit_went(q, w, true);
        for (uint32_t m = 0; m < ss->n; m++)
            if (ss->w[m] == w) {
                memmove(&ss->w[m], &ss->w[m + 1], (ss->n - m - 1) * sizeof *ss->w);
                ss->n--;
                break;
            }
        went_free(q, w);
    }
    if (ss->n == ss->cap) {
        ss->cap = ss->cap ? 2 * ss->cap : 2;
        ss->w = sl_xrealloc(ss->w, ss->cap * sizeof *ss->w);
    }
    ss->w[ss->n++] = n;
    if (!q->final)
        emit_went(q, n, false);
}

static void aggregate(struct sq_query *q, const struct sl_value *row, int64_t ts, uint64_t seq)
{
    struct sl_sql_engine *e = q->e;
    /* aggregates that grow (COUNT_DISTINCT's set) stop growing once the state is full */
    if (!state_room(q, 0))
        return;
    struct sl_value g[64];
    uint32_t ng = q->ngroup < 64 ? q->ngroup : 64;
    for (uint32_t i = 0; i < ng; i++) {
        g[i] = eval(q, q->group[i], row, q->nslots);
        if (g[i].type == SL_V_NULL) {
            sq_record_error(e, q->id, "GROUP BY value is null: record dropped");
            return;
        }
    }
    struct sl_value *aggv = row_alloc(q, q->naggs);
    if (!aggv)
        return;
    for (uint32_t i = 0; i < q->naggs; i++)
        if (q->aggs[i].arg)
            aggv[i] = eval(q, q->aggs[i].arg, row, q->nslots);
    /* stream time */
    if (!q->st_set || ts > q->st) {
        q->st = ts;
        q->st_set = true;
    }
    struct sl_buf *kb = &e->keybuf;
    sl_buf_reset(kb);
    sq_key_encode(kb, g, ng);
    size_t klen = kb->len;
    char kstack[256];
    char *key = klen + 8 <= sizeof kstack ? kstack : sl_xmalloc(klen + 8); /* + window start */
    memcpy(key, kb->ptr ? kb->ptr : "", klen);
    if (q->win.kind == SL_SQL_WIN_SESSION) {
        agg_session(q, row, g, key, klen, aggv, ts, seq);
    } else {
        int64_t size = q->win.kind == SL_SQL_WIN_NONE ? 0 : q->win.size_ms;
        int64_t adv = q->win.kind == SL_SQL_WIN_HOPPING ? q->win.advance_ms : size;
        int64_t w0 = 0, wlast = 0;
        if (size) {
            int64_t lo = ts - size + adv;
            if (lo < 0)
                lo = 0;
            w0 = (lo / adv) * adv;
            wlast = ts;
        }
        bool accepted = false, late = false;
        for (int64_t w = w0; w <= wlast; w += adv ? adv : 1) {
            if (size && w + size <= q->st - q->grace) {
                late = true;
                if (!adv)
                    break;
                continue;
            }
            memcpy(key + klen, &w, sizeof w); /* group key + window start */
            struct went *we =
                wtab_get(&q->wtab, wkey_hash(key, klen + sizeof w), key, klen + sizeof w);
            if (!we) {
                if (!state_room(q, sizeof *we + klen + 64 * (q->ngroup + q->naggs)))
                    continue;
                we = went_new(q, g, key, klen, w, w + size);
                size_t before = q->wtab.cap;
                wtab_put(&q->wtab, we);
                q->state_bytes += (q->wtab.cap - before) * sizeof(struct wslot); /* its slots */
            }
            went_add(q, we, aggv, ts, seq);
            accepted = true;
            if (!q->final)
                emit_went(q, we, false);
            if (!size)
                break;
        }
        if (late && !accepted) {
            e->st.late++; /* once per record, when no window took it */
            report_late(q, q->in[0].s, row, ts, "its windows closed");
        }
    }
    if (key != kstack)
        sl_free(key);
    /* close or evict windows past their grace */
    if (q->win.kind != SL_SQL_WIN_NONE &&
        (q->final ? q->st >= q->min_close : q->st >= q->next_sweep)) {
        sweep(q, q->final);
        q->next_sweep = q->st + (q->win.size_ms > 1000 ? q->win.size_ms : 1000);
    }
}

static void after_where(struct sq_query *q, const struct sl_value *row, int64_t ts, uint64_t seq)
{
    if (q->agg)
        aggregate(q, row, ts, seq);
    else
        finish_plain(q, row, ts, false);
}

/* stream–table joins from join index j on; then WHERE and the rest */
static void continue_joins(struct sq_query *q, struct sl_value *row, uint32_t j, int64_t ts,
                           uint64_t seq)
{
    struct sl_sql_engine *e = q->e;
    for (; j < q->njoins; j++) {
        struct join *J = &q->joins[j];
        const struct qin *R = &q->in[J->right];
        struct sl_value k =
            J->lslot != UINT32_MAX ? row[J->lslot] : eval(q, J->lkey, row, q->nslots);
        bool found = false;
        if (k.type != SL_V_NULL) {
            /* the table's key type: INT and BIGINT encode alike; strings must match */
            struct sl_value kc = k;
            char err[128];
            if (R->s->nkey == 1 &&
                sl_sql_coerce(&k, R->s->cols[0].type, &e->row_arena, &kc, err, sizeof err))
                kc = k;
            sl_buf_reset(&e->keybuf);
            sq_key_encode(&e->keybuf, &kc, 1);
            uint64_t v;
            if (sl_hmap_get(&R->s->state, sl_str_make(e->keybuf.ptr, e->keybuf.len), &v)) {
                const struct sq_srow *tr = (const struct sq_srow *)(uintptr_t)v;
                for (uint32_t i = 0; i < tr->n && i < R->s->nslots; i++)
                    row[R->off + i] = tr->v[i];
                found = true;
            }
        }
        if (!found) {
            if (J->kind == SL_SQL_JOIN_INNER)
                return;
            for (uint32_t i = 0; i < R->s->nslots; i++)
                row[R->off + i] = sl_value_null();
        }
    }
    if (q->where && !eval_bool(q, q->where, row, q->nslots))
        return;
    after_where(q, row, ts, seq);
}

/* ---- stream–stream join */

static struct sbuf *sbuf_get(struct sl_hmap *m, const char *key, size_t klen, bool create)
{
    uint64_t v;
    struct sl_str k = sl_str_make(key, klen);
    if (sl_hmap_get(m, k, &v))
        return (struct sbuf *)(uintptr_t)v;
    if (!create)
        return NULL;
    struct sbuf *b = sl_xcalloc(1, sizeof *b);
    if (sl_hmap_put(m, k, (uint64_t)(uintptr_t)b)) {
        sl_free(b);
        return NULL;
    }
    return b;
}

static void emit_joined(struct sq_query *q, const struct sq_srow *l, const struct sq_srow *r,
                        int64_t ts, uint64_t seq)
{
    const struct join *J = &q->joins[0];
    const struct qin *L = &q->in[0], *R = &q->in[J->right];
    struct sl_value *row = row_alloc(q, q->nslots);
    if (!row)
        return;
    if (l)
        for (uint32_t i = 0; i < L->s->nslots && i < l->n; i++)
            row[L->off + i] = l->v[i];
    if (r)
        for (uint32_t i = 0; i < R->s->nslots && i < r->n; i++)
            row[R->off + i] = r->v[i];
    if (q->rowkey_slot != UINT32_MAX) {
        struct sl_value k = sl_value_null();
        if (l)
            k = J->lslot != UINT32_MAX ? row[J->lslot] : eval(q, J->lkey, l->v, l->n);
        if (k.type == SL_V_NULL && r)
            k = J->rslot != UINT32_MAX ? row[J->rslot] : eval(q, J->rkey, r->v, r->n);
        row[q->rowkey_slot] = k;
    }
    continue_joins(q, row, 1, ts, seq);
}

static void ss_sweep(struct sq_query *q, struct join *J)
{
    int64_t horizon = J->st - (J->before + J->after + J->grace);
    for (int side = 0; side < 2; side++) {
        size_t it = 0;
        struct sl_str k;
        uint64_t v;
        while (sl_hmap_next(&J->buf[side], &it, &k, &v)) {
            struct sbuf *b = (struct sbuf *)(uintptr_t)v;
            uint32_t w = 0;
            for (uint32_t i = 0; i < b->n; i++) {
                struct sq_srow *r = b->rows[i];
                bool pending = (r->matched & 2u) != 0;
                if (r->ts < horizon && !pending) {
                    q->state_bytes -= q->state_bytes >= r->bytes ? r->bytes : q->state_bytes;
                    sl_free(r);
                } else {
                    b->rows[w++] = r;
                }
            }
            b->n = w;
            if (!w) { /* nothing left for this key: the buffer and its key go */
                sl_free(b->rows);
                sl_free(b);
                sl_hmap_del(&J->buf[side], k);
            }
        }
    }
}

/* emit the pending outer rows whose window has closed */
static void ss_emit_pending(struct sq_query *q, struct join *J)
{
    if (J->min_pend >= J->st)
        return; /* none can be due yet */
    int64_t next = INT64_MAX;
    uint32_t w = 0;
    for (uint32_t i = 0; i < J->npend; i++) {
        struct pending *p = &J->pend[i];
        if (p->close_at < J->st && !(p->row->matched & 1u)) {
            p->row->matched &= ~2u;
            if (p->left)
                emit_joined(q, p->row, NULL, p->row->ts, p->row->seq);
            else
                emit_joined(q, NULL, p->row, p->row->ts, p->row->seq);
            sl_free(p->key);
        } else if (p->row->matched & 1u) {
            p->row->matched &= ~2u;
            sl_free(p->key);
        } else {
            if (p->close_at < next)
                next = p->close_at;
            J->pend[w++] = *p;
        }
    }
    J->npend = w;
    J->min_pend = next;
}

static void ss_input(struct sq_query *q, bool left, struct sq_row *r)
{
    struct sl_sql_engine *e = q->e;
    struct join *J = &q->joins[0];
    if (r->null_value)
        return;
    const struct qin *in = left ? &q->in[0] : &q->in[J->right];
    /* the key: over the side's own row */
    struct sl_value k;
    if (left) {
        k = J->lslot != UINT32_MAX ? r->v[J->lslot] : eval(q, J->lkey, r->v, r->n);
    } else {
        k = J->rslot != UINT32_MAX ? r->v[J->rslot - in->off] : eval(q, J->rkey, r->v, r->n);
    }
    if (k.type == SL_V_NULL) {
        sq_record_error(e, q->id, "join key is null: record dropped");
        return;
    }
    int64_t ts = r->ts;
    bool advanced = !J->st_set || ts >= J->st;
    if (!J->st_set || ts > J->st) {
        J->st = ts;
        J->st_set = true;
    }
    bool outer = left ? (J->kind == SL_SQL_JOIN_LEFT || J->kind == SL_SQL_JOIN_FULL)
                      : (J->kind == SL_SQL_JOIN_RIGHT || J->kind == SL_SQL_JOIN_FULL);
    if (ts < J->st - (J->before + J->after + J->grace)) {
        if (outer) {
            /* too late to join anything: an outer row goes out alone at once (Kafka Streams) */
            struct sq_srow *tmp = sq_srow_new(r->v, r->n, ts, r->seq);
            if (left)
                emit_joined(q, tmp, NULL, ts, r->seq);
            else
                emit_joined(q, NULL, tmp, ts, r->seq);
            sl_free(tmp);
            return;
        }
        e->st.late++;
        report_late(q, in->s, r->v, ts, "the join window closed");
        return;
    }
    if (J->has_grace && advanced)
        ss_emit_pending(q, J);
    sl_buf_reset(&e->keybuf);
    sq_key_encode(&e->keybuf, &k, 1);
    size_t klen = e->keybuf.len;
    char kstack[128];
    char *key = klen <= sizeof kstack ? kstack : sl_xmalloc(klen); /* kept only when pending */
    memcpy(key, e->keybuf.ptr ? e->keybuf.ptr : "", klen);
    if (!state_room(q, 256)) {
        if (key != kstack)
            sl_free(key);
        return;
    }
    struct sq_srow *me = sq_srow_new(r->v, r->n, ts, r->seq);
    me->bytes += SQ_ALLOC_OVERHEAD + sizeof(struct sq_srow *); /* the buffer's pointer to it */
    q->state_bytes += me->bytes;
    struct sbuf *mine = sbuf_get(&J->buf[left ? 0 : 1], key, klen, true);
    if (mine) {
        if (mine->n == mine->cap) {
            mine->cap = mine->cap ? 2 * mine->cap : 4;
            mine->rows = sl_xrealloc(mine->rows, mine->cap * sizeof *mine->rows);
        }
        mine->rows[mine->n++] = me;
    }
    struct sbuf *other = sbuf_get(&J->buf[left ? 1 : 0], key, klen, false);
    int64_t lo = left ? ts - J->before : ts - J->after;
    int64_t hi = left ? ts + J->after : ts + J->before;
    bool matched = false;
    for (uint32_t i = 0; other && i < other->n; i++) {
        struct sq_srow *o = other->rows[i];
        if (o->ts < lo || o->ts > hi)
            continue;
        matched = true;
        o->matched |= 1u;
        me->matched |= 1u;
        int64_t ots = o->ts > ts ? o->ts : ts;
        if (left)
            emit_joined(q, me, o, ots, r->seq);
        else
            emit_joined(q, o, me, ots, r->seq);
    }
    if (!matched && outer) {
        int64_t close_at = left ? ts + J->after + J->grace : ts + J->before + J->grace;
        if (!J->has_grace || close_at < J->st) {
            if (left)
                emit_joined(q, me, NULL, ts, r->seq);
            else
                emit_joined(q, NULL, me, ts, r->seq);
        } else {
            if (J->npend == J->cappend) {
                J->cappend = J->cappend ? 2 * J->cappend : 8;
                J->pend = sl_xrealloc(J->pend, J->cappend * sizeof *J->pend);
            }
            me->matched |= 2u; /* kept in the buffer until it is emitted or matched */
            if (close_at < J->min_pend)
                J->min_pend = close_at;
            char *kept = key;
            if (key == kstack) {
                kept = sl_xmalloc(klen ? klen : 1);
                memcpy(kept, key, klen);
            }
            J->pend[J->npend++] = (struct pending){
                .row = me, .left = left, .close_at = close_at, .key = kept, .key_len = klen};
            key = kstack; /* owned by the pending entry now */
        }
    }
    if (key != kstack)
        sl_free(key);
    if (J->st >= J->next_sweep) {
        ss_sweep(q, J);
        J->next_sweep = J->st + (J->before + J->after + J->grace) / 4 + 1;
    }
}

/* a table's latest row for key k (coerced to the table's key type), or NULL */
static const struct sq_srow *table_row(struct sq_query *q, const struct sq_source *t,
                                       const struct sl_value *k)
{
    struct sl_sql_engine *e = q->e;
    struct sl_value kc = *k;
    char err[128];
    if (t->nkey == 1 && sl_sql_coerce(k, t->cols[0].type, &e->row_arena, &kc, err, sizeof err))
        kc = *k;
    sl_buf_reset(&e->keybuf);
    sq_key_encode(&e->keybuf, &kc, 1);
    uint64_t v;
    if (!sl_hmap_get(&t->state, sl_str_make(e->keybuf.ptr, e->keybuf.len), &v))
        return NULL;
    return (const struct sq_srow *)(uintptr_t)v;
}

/* table–table join: an update of either table (the tables' states are already updated)
 * recomputes the join result for its key: a row when it exists (INNER: both sides, LEFT: the
 * left, RIGHT: the right, FULL: either), else a deletion when it existed before */
static void tt_input(struct sq_query *q, bool left, struct sq_row *r)
{
    struct sl_sql_engine *e = q->e;
    struct join *J = &q->joins[0];
    const struct qin *L = &q->in[0], *R = &q->in[J->right];
    const struct qin *me = left ? L : R;
    uint32_t kslot = left ? J->lslot : J->rslot - R->off;
    if (kslot >= me->s->nslots)
        return;
    struct sl_value k = r->v[kslot];
    if (k.type == SL_V_NULL)
        return;
    const struct sq_srow *lr = table_row(q, L->s, &k);
    const struct sq_srow *rr = table_row(q, R->s, &k);
    bool exists = J->kind == SL_SQL_JOIN_INNER   ? lr && rr
                  : J->kind == SL_SQL_JOIN_LEFT  ? lr != NULL
                  : J->kind == SL_SQL_JOIN_RIGHT ? rr != NULL
                                                 : (lr || rr);
    struct sl_value *row = row_alloc(q, q->nslots);
    if (!row)
        return;
    for (uint32_t i = 0; lr && i < L->s->nslots && i < lr->n; i++)
        row[L->off + i] = lr->v[i];
    for (uint32_t i = 0; rr && i < R->s->nslots && i < rr->n; i++)
        row[R->off + i] = rr->v[i];
    if (q->rowkey_slot != UINT32_MAX)
        row[q->rowkey_slot] = k;
    sl_buf_reset(&e->keybuf);
    sq_key_encode(&e->keybuf, &k, 1);
    char kstack[128];
    size_t klen = e->keybuf.len;
    char *kb = klen <= sizeof kstack ? kstack : sl_xmalloc(klen);
    memcpy(kb, e->keybuf.ptr ? e->keybuf.ptr : "", klen);
    struct sl_str lk = sl_str_make(kb, klen);
    bool was = sl_hmap_get(&J->live, lk, NULL);
    size_t b = klen + sizeof(struct sl_map_slot) + SQ_ALLOC_OVERHEAD;
    bool pass = exists && (!q->where || eval_bool(q, q->where, row, q->nslots));
    if (pass) {
        if (!was && sl_hmap_put(&J->live, lk, 1) == 0)
            q->state_bytes += b;
        finish_plain(q, row, r->ts, false);
    } else if (was) {
        sl_hmap_del(&J->live, lk);
        q->state_bytes = q->state_bytes > b ? q->state_bytes - b : 0;
        if (J->lslot < q->nslots)
            row[J->lslot] = k;             /* the deletion carries the key */
        finish_plain(q, row, r->ts, true); /* the key's row is gone */
    }
    if (kb != kstack)
        sl_free(kb);
}

void sq_query_input(struct sq_query *q, struct sq_source *s, struct sq_row *r)
{
    if (q->limit >= 0 && q->emitted >= q->limit)
        return;
    if (q->njoins && q->joins[0].tt) {
        if (s == q->in[0].s)
            tt_input(q, true, r);
        else if (s == q->in[q->joins[0].right].s)
            tt_input(q, false, r);
        return;
    }
    if (q->njoins && q->joins[0].ss) {
        if (s == q->in[0].s)
            ss_input(q, true, r);
        if (s == q->in[q->joins[0].right].s)
            ss_input(q, false, r);
        return;
    }
    if (s != q->in[0].s)
        return;
    if (r->null_value) {
        if (q->agg || q->njoins)
            return;
        if (q->where && !q->input_table)
            return;
        finish_plain(q, r->v, r->ts, true);
        return;
    }
    struct sl_value *row = r->v;
    if (q->njoins) {
        row = row_alloc(q, q->nslots);
        if (!row)
            return;
        for (uint32_t i = 0; i < r->n && i < q->in[0].s->nslots; i++)
            row[i] = r->v[i];
        continue_joins(q, row, 0, r->ts, r->seq);
        return;
    }
    if (q->where && !eval_bool(q, q->where, row, q->nslots)) {
        if (q->input_table && !q->agg)
            finish_plain(q, row, r->ts, true); /* a table row leaving the filter: delete */
        return;
    }
    after_where(q, row, r->ts, r->seq);
}

/* ------------------------------------------------------------------ checkpoints */

bool sq_query_joins(const struct sq_query *q)
{
    return q->njoins > 0;
}

bool sq_query_state_partial(const struct sq_query *q)
{
    (void)q;
    return false; /* join buffers, pending outer rows and table-table results are saved */
}

/* u8 1, i64 stream time, u8 its flag, i64 next sweep, per side u32 keys, each: bytes key,
 * u32 rows, each: i64 ts, u64 seq, u8 matched, u32 slots, values; then u32 live keys (bytes). A
 * join that is not stream-stream nor table-table: u8 0. Pending outer rows are the buffered
 * rows marked so (matched bit 1), listed again at load. */
static bool ts_ok(int64_t t);

static int join_save(const struct join *J, struct sl_buf *b)
{
    int rc = sl_binwr_u8(b, 1);
    if (!rc)
        rc = sl_binwr_u64(b, (uint64_t)J->st);
    if (!rc)
        rc = sl_binwr_u8(b, J->st_set);
    if (!rc)
        rc = sl_binwr_u64(b, (uint64_t)J->next_sweep);
    for (int side = 0; side < 2 && !rc; side++) {
        rc = sl_binwr_u32(b, (uint32_t)J->buf[side].count);
        size_t it = 0;
        struct sl_str k;
        uint64_t v;
        while (!rc && sl_hmap_next(&J->buf[side], &it, &k, &v)) {
            const struct sbuf *sb = (const struct sbuf *)(uintptr_t)v;
            rc = sl_binwr_str(b, k.ptr, k.len);
            if (!rc)
                rc = sl_binwr_u32(b, sb->n);
            for (uint32_t i = 0; i < sb->n && !rc; i++) {
                const struct sq_srow *r = sb->rows[i];
                rc = sl_binwr_u64(b, (uint64_t)r->ts);
                if (!rc)
                    rc = sl_binwr_u64(b, r->seq);
                if (!rc)
                    rc = sl_binwr_u8(b, (uint8_t)(r->matched & 3u));
                if (!rc)
                    rc = sl_binwr_u32(b, r->n);
                for (uint32_t c = 0; c < r->n && !rc; c++)
                    rc = sq_put_value(b, &r->v[c]);
            }
        }
    }
    if (!rc)
        rc = sl_binwr_u32(b, (uint32_t)J->live.count);
    size_t it = 0;
    struct sl_str k;
    uint64_t v;
    while (!rc && sl_hmap_next(&J->live, &it, &k, &v))
        rc = sl_binwr_str(b, k.ptr, k.len);
    return rc;
}

static int cmp_pend(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    return x->row->seq < y->row->seq ? -1 : x->row->seq > y->row->seq;
}

static int join_load(struct sq_query *q, struct join *J, struct sl_binrd *r, struct sl_arena *a)
{
    if (sl_binrd_u8(r) != 1 || !r->ok) {
        sl_binrd_fail(r, "a join's state of an unknown form");
        return SL_EPARSE;
    }
    int64_t st = sl_binrd_i64(r);
    uint8_t st_set = sl_binrd_u8(r);
    int64_t next_sweep = sl_binrd_i64(r);
    if (!r->ok)
        return SL_EPARSE;
    if (st_set && !ts_ok(st)) {
        sl_binrd_fail(r, "a join's stream time out of range");
        return SL_EPARSE;
    }
    J->st = st_set ? st : 0;
    J->st_set = st_set != 0;
    J->next_sweep = next_sweep;
    for (int side = 0; side < 2; side++) {
        const struct sq_source *src = q->in[side ? J->right : 0].s;
        uint32_t nk = sl_binrd_count(r, 8);
        for (uint32_t i = 0; i < nk && r->ok; i++) {
            struct sl_str k = sl_binrd_str(r, 1u << 20);
            uint32_t nr = sl_binrd_count(r, 21);
            if (!r->ok)
                break;
            if (!J->ss || !nr || sbuf_get(&J->buf[side], k.ptr, k.len, false)) {
                sl_binrd_fail(r, "a join buffer that cannot be this query's");
                break;
            }
            struct sbuf *sb = sbuf_get(&J->buf[side], k.ptr, k.len, true);
            if (!sb)
                return SL_ENOMEM;
            sb->rows = sl_xcalloc(nr, sizeof *sb->rows);
            sb->cap = nr;
            for (uint32_t j = 0; j < nr && r->ok; j++) {
                int64_t ts = sl_binrd_i64(r);
                uint64_t seq = sl_binrd_u64(r);
                uint8_t matched = sl_binrd_u8(r);
                uint32_t n = sl_binrd_u32(r);
                if (!r->ok)
                    break;
                if (n != src->nslots || matched > 3 || !ts_ok(ts)) {
                    sl_binrd_fail(r, "a buffered join row that does not fit its source");
                    break;
                }
                struct sl_value *v = sl_arena_alloc(a, (n ? n : 1) * sizeof *v);
                if (!v)
                    return SL_ENOMEM;
                for (uint32_t c = 0; c < n; c++) {
                    int rc = sq_get_value(r, a, &v[c]);
                    if (rc)
                        return rc;
                }
                if (!state_room(q, 256))
                    return SL_E2BIG;
                struct sq_srow *row = sq_srow_new(v, n, ts, seq);
                row->matched = matched;
                row->bytes += SQ_ALLOC_OVERHEAD + sizeof(struct sq_srow *);
                q->state_bytes += row->bytes;
                sb->rows[sb->n++] = row;
                sl_arena_reset(a);
                if (!(matched & 2u))
                    continue;
                /* a pending outer row: listed again, closing as ss_input set it */
                bool left = side == 0;
                bool outer = left ? (J->kind == SL_SQL_JOIN_LEFT || J->kind == SL_SQL_JOIN_FULL)
                                  : (J->kind == SL_SQL_JOIN_RIGHT || J->kind == SL_SQL_JOIN_FULL);
                if (!outer || !J->has_grace) {
                    sl_binrd_fail(r, "a pending outer row in a join that keeps none");
                    break;
                }
                if (J->npend == J->cappend) {
                    J->cappend = J->cappend ? 2 * J->cappend : 8;
                    J->pend = sl_xrealloc(J->pend, J->cappend * sizeof *J->pend);
                }
                int64_t close_at = left ? ts + J->after + J->grace : ts + J->before + J->grace;
                char *kept = sl_xmalloc(k.len ? k.len : 1);
                memcpy(kept, k.ptr, k.len);
                J->pend[J->npend++] = (struct pending){
                    .row = row, .left = left, .close_at = close_at, .key = kept, .key_len = k.len};
                if (close_at < J->min_pend)
                    J->min_pend = close_at;
            }
        }
    }
    uint32_t nl = sl_binrd_count(r, 4);
    for (uint32_t i = 0; i < nl && r->ok; i++) {
        struct sl_str k = sl_binrd_str(r, 1u << 20);
        if (!r->ok)
            break;
        if (!J->tt || sl_hmap_get(&J->live, k, NULL)) {
            sl_binrd_fail(r, "a table join result that cannot be this query's");
            break;
        }
        if (sl_hmap_put(&J->live, k, 1))
            return SL_ENOMEM;
    }
    if (r->ok && J->npend > 1)
        qsort(J->pend, J->npend, sizeof *J->pend, cmp_pend);
    return r->ok ? 0 : SL_EPARSE;
}

static int went_save(const struct sq_query *q, const struct went *w, struct sl_buf *b)
{
    int rc = sl_binwr_u64(b, (uint64_t)w->ws);
    if (!rc)
        rc = sl_binwr_u64(b, (uint64_t)w->we);
    if (!rc)
        rc = sl_binwr_u64(b, (uint64_t)w->max_ts);
    if (!rc)
        rc = sl_binwr_u64(b, w->seq);
    if (!rc)
        rc = sl_binwr_u8(b, w->emitted);
    for (uint32_t i = 0; i < q->ngroup && !rc; i++)
        rc = sq_put_value(b, &w->g[i]);
    for (uint32_t i = 0; i < q->naggs && !rc; i++) {
        struct sl_sql_agg_image im;
        rc = sl_sql_agg_export(&q->aggs[i].cfg, w->states + (size_t)i * SL_SQL_AGG_STATE, &im);
        if (!rc)
            rc = sl_binwr_u64(b, (uint64_t)im.a);
        if (!rc)
            rc = sl_binwr_u64(b, (uint64_t)im.b);
        if (!rc)
            rc = sq_put_value(b, &im.v);
    }
    return rc;
}

/*
 * u8 agg; when 1: u8 window kind, u32 ngroup, u32 naggs, i64 stream time, u8 its flag,
 * i64 next sweep, u32 windows, each: i64 start, end, max_ts, u64 seq, u8 emitted, the group
 * values, per aggregate i64 a, i64 b and a value (sl_sql_agg_export).
 */
static int agg_save(const struct sq_query *q, struct sl_buf *b);

int sq_query_state_save(const struct sq_query *q, struct sl_buf *b)
{
    int rc = sl_binwr_u32(b, q->njoins);
    for (uint32_t j = 0; j < q->njoins && !rc; j++)
        rc = q->joins[j].ss || q->joins[j].tt ? join_save(&q->joins[j], b) : sl_binwr_u8(b, 0);
    return rc ? rc : agg_save(q, b);
}

static int agg_save(const struct sq_query *q, struct sl_buf *b)
{
    int rc = sl_binwr_u8(b, q->agg);
    if (rc || !q->agg)
        return rc;
    uint32_t n = (uint32_t)q->wtab.count;
    size_t it = 0;
    struct sl_str k;
    uint64_t v;
    while (sl_hmap_next(&q->wmap, &it, &k, &v))
        n += ((struct sessions *)(uintptr_t)v)->n;
    rc = sl_binwr_u8(b, (uint8_t)q->win.kind);
    if (!rc)
        rc = sl_binwr_u32(b, q->ngroup);
    if (!rc)
        rc = sl_binwr_u32(b, q->naggs);
    if (!rc)
        rc = sl_binwr_u64(b, (uint64_t)q->st);
    if (!rc)
        rc = sl_binwr_u8(b, q->st_set);
    if (!rc)
        rc = sl_binwr_u64(b, (uint64_t)q->next_sweep);
    if (!rc)
        rc = sl_binwr_u32(b, n);
    for (size_t i = 0; i < q->wtab.cap && !rc; i++)
        if (q->wtab.s[i].hash > 1)
            rc = went_save(q, q->wtab.s[i].w, b);
    it = 0;
    while (!rc && sl_hmap_next(&q->wmap, &it, &k, &v)) {
        struct sessions *ss = (struct sessions *)(uintptr_t)v;
        for (uint32_t i = 0; i < ss->n && !rc; i++)
            rc = went_save(q, ss->w[i], b);
    }
    return rc;
}

static bool ts_ok(int64_t t)
{
    return t >= 0 && t <= SQ_MAX_TS_MS;
}

/* one window read back into q (the caller resets arena a after it) */
static int went_load(struct sq_query *q, struct sl_binrd *r, struct sl_arena *a)
{
    int64_t ws = sl_binrd_i64(r), we = sl_binrd_i64(r), max_ts = sl_binrd_i64(r);
    uint64_t seq = sl_binrd_u64(r);
    uint8_t emitted = sl_binrd_u8(r);
    if (!r->ok)
        return SL_EPARSE;
    bool windowed = q->win.kind != SL_SQL_WIN_NONE;
    if (!windowed                           ? ws != 0 || we != 0
        : q->win.kind == SL_SQL_WIN_SESSION ? !ts_ok(ws) || !ts_ok(we) || we < ws
                                            : !ts_ok(ws) || we != ws + q->win.size_ms) {
        sl_binrd_fail(r, "a window's bounds do not fit the query's window");
        return SL_EPARSE;
    }
    if (max_ts != INT64_MIN && !ts_ok(max_ts)) {
        sl_binrd_fail(r, "a window's time is out of range");
        return SL_EPARSE;
    }
    struct sl_value g[SQ_MAX_KEYS];
    if (q->ngroup > SQ_MAX_KEYS) {
        sl_binrd_fail(r, "too many group values");
        return SL_EPARSE;
    }
    for (uint32_t i = 0; i < q->ngroup; i++) {
        int rc = sq_get_value(r, a, &g[i]);
        if (rc)
            return rc;
        if (g[i].type == SL_V_NULL) {
            sl_binrd_fail(r, "a NULL group value");
            return SL_EPARSE;
        }
    }
    struct sl_buf *kb = &q->e->keybuf;
    sl_buf_reset(kb);
    if (sq_key_encode(kb, g, q->ngroup)) {
        sl_binrd_fail(r, "a group key too large");
        return SL_EPARSE;
    }
    size_t klen = kb->len;
    if (!state_room(q, sizeof(struct went) + klen + 64 * (q->ngroup + q->naggs)))
        return SL_E2BIG;
    /* the key is the group's bytes then the window start, as aggregate() builds it */
    char *key = sl_xmalloc(klen + sizeof ws);
    memcpy(key, kb->ptr ? kb->ptr : "", klen);
    memcpy(key + klen, &ws, sizeof ws);
    int rc = 0;
    struct sessions *ss = NULL;
    if (q->win.kind == SL_SQL_WIN_SESSION) {
        uint64_t sv;
        struct sl_str mk = sl_str_make(key, klen);
        if (sl_hmap_get(&q->wmap, mk, &sv)) {
            ss = (struct sessions *)(uintptr_t)sv;
            for (uint32_t i = 0; i < ss->n && !rc; i++)
                if (ss->w[i]->we >= ws && ss->w[i]->ws <= we)
                    rc = SL_EPARSE;
        } else {
            ss = sl_xcalloc(1, sizeof *ss);
            if (sl_hmap_put(&q->wmap, mk, (uint64_t)(uintptr_t)ss)) {
                sl_free(ss);
                ss = NULL;
                rc = SL_ENOMEM;
            }
        }
    } else if (wtab_get(&q->wtab, wkey_hash(key, klen + sizeof ws), key, klen + sizeof ws)) {
        rc = SL_EPARSE;
    }
    if (rc) {
        if (rc == SL_EPARSE)
            sl_binrd_fail(r, "a window twice");
        sl_free(key);
        return rc;
    }
    struct went *w = went_new(q, g, key, klen, ws, we);
    sl_free(key);
    w->max_ts = max_ts;
    w->seq = seq;
    w->emitted = emitted != 0;
    if (q->win.kind == SL_SQL_WIN_SESSION) {
        if (ss->n == ss->cap) {
            ss->cap = ss->cap ? 2 * ss->cap : 2;
            ss->w = sl_xrealloc(ss->w, ss->cap * sizeof *ss->w);
        }
        ss->w[ss->n++] = w;
    } else {
        size_t before = q->wtab.cap;
        wtab_put(&q->wtab, w);
        q->state_bytes += (q->wtab.cap - before) * sizeof(struct wslot);
    }
    /* from here on the window is q's: a failure below leaves it for sq_query_free */
    for (uint32_t i = 0; i < q->naggs; i++) {
        struct sl_sql_agg_image im;
        im.a = sl_binrd_i64(r);
        im.b = sl_binrd_i64(r);
        if ((rc = sq_get_value(r, a, &im.v)) != 0)
            return rc;
        const struct aggcall *ac = &q->aggs[i];
        void *st = w->states + (size_t)i * SL_SQL_AGG_STATE;
        rc = sl_sql_agg_import(&ac->cfg, st, &im);
        if (rc) {
            if (rc == SL_EPARSE)
                sl_binrd_fail(r, "an aggregate's state does not fit its function");
            return rc;
        }
        size_t extra = ac->cfg.fn->bytes ? ac->cfg.fn->bytes(&ac->cfg, st) : 0;
        w->bytes += extra;
        q->state_bytes += extra;
    }
    return 0;
}

int sq_query_state_load(struct sq_query *q, struct sl_binrd *r, struct sl_arena *a)
{
    uint32_t nj = sl_binrd_u32(r);
    if (r->ok && nj != q->njoins) {
        sl_binrd_fail(r, "the state's joins differ from the query's");
        return SL_EPARSE;
    }
    for (uint32_t j = 0; j < nj && r->ok; j++) {
        struct join *J = &q->joins[j];
        if (!(J->ss || J->tt)) {
            if (sl_binrd_u8(r) != 0)
                sl_binrd_fail(r, "join state for a join that keeps none");
            continue;
        }
        int rc = join_load(q, J, r, a);
        sl_arena_reset(a);
        if (rc)
            return rc;
    }
    uint8_t agg = sl_binrd_u8(r);
    if (!r->ok)
        return SL_EPARSE;
    if (agg != q->agg) {
        sl_binrd_fail(r, "aggregation state for a query without one, or none for one with it");
        return SL_EPARSE;
    }
    if (!agg)
        return 0;
    uint8_t kind = sl_binrd_u8(r);
    uint32_t ng = sl_binrd_u32(r), na = sl_binrd_u32(r);
    int64_t st = sl_binrd_i64(r);
    uint8_t st_set = sl_binrd_u8(r);
    int64_t next_sweep = sl_binrd_i64(r);
    /* a window takes at least 33 bytes, each group value 1, each aggregate 17 */
    uint32_t n = sl_binrd_count(r, 33 + (size_t)q->ngroup + 17 * (size_t)q->naggs);
    if (!r->ok)
        return SL_EPARSE;
    if (kind != q->win.kind || ng != q->ngroup || na != q->naggs) {
        sl_binrd_fail(r, "the state's window or columns differ from the query's");
        return SL_EPARSE;
    }
    if (st_set && !ts_ok(st)) {
        sl_binrd_fail(r, "stream time out of range");
        return SL_EPARSE;
    }
    q->st = st_set ? st : 0;
    q->st_set = st_set != 0;
    q->next_sweep = next_sweep;
    for (uint32_t i = 0; i < n; i++) {
        int rc = went_load(q, r, a);
        sl_arena_reset(a);
        if (rc)
            return rc;
    }
    return 0;
}
