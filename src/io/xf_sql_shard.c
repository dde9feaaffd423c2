/*
 * xf_sql_shard.c — may a script run on engines that each see only a shard of the events?
 * (xf_sql.h: sl_sqlcat_shard_check, sl_sqlcat_shard_columns)
 *
 * The `sql` transform with `shard_by: F` runs N engines and sends each event to the engine
 * hash(F) % N picks. A stateless query gives the same rows whatever the split. A stateful one
 * (GROUP BY, join, a table a join or an aggregation reads) gives the same results only when all
 * the records that meet in one piece of its state reach the same engine: when its state key is
 * the shard field. This file decides that from the statement's syntax tree and the catalog.
 *
 * Lineage: a source's *shard columns* are those that hold, on every row, the value the row's
 * event was sharded by:
 *   - a source over a topic the inputs feed: the value column named like F (as ksqlDB matches
 *     JSON fields: exactly, then upper-cased); when F is the transform's key_field, its key
 *     column (and in 0.6 compat, the column WITH (KEY=...) names);
 *   - a source a query writes (CREATE ... AS SELECT; its statement is parsed again): the output
 *     columns that are a plain reference to a shard column of an input (`x`, `a.x`, `x AS y`,
 *     and the columns of a `*`), plus its key column when the output key is a shard value
 *     (PARTITION BY or a single GROUP BY expression that is a shard column, an aligned join,
 *     or the input's key when that was one);
 *   - a source over a topic a query writes: none (its rows are not known).
 * Names are looked up in the catalog so that a guess at ksqlDB's naming that does not match
 * (a join's ALIAS_COL, a 0.6 name) only loses a column: the check stays on the safe side.
 *
 * The rule a statement must follow (checked before it runs):
 *   - GROUP BY: one of its expressions is a plain shard column of an input;
 *   - a join: ON compares a shard column of the right side with a shard column of the left
 *     (`a.x = b.y`), and every table it reads is keyed by a shard column;
 *   - an aggregation over a table: the table is keyed by a shard column;
 *   - INSERT INTO a stream with a shard column: the inserted rows carry it under that name.
 * Stateless queries, DDL and the rest are always accepted.
 *
 * DESIGN: read-only over the catalog through sql_int.h, like xf_sql_cat.c; called under the
 * caller's serialisation (the transform's locks). Not on the hot path: a derived source's
 * statement is parsed each time its lineage is needed.
 */
#include "io/xf_sql.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "sql/sql_int.h"
#include "sql/sql_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAXSC    8  /* shard columns kept per source */
#define MAXDEPTH 24 /* derived sources followed back */

struct scset {
    const char *n[MAXSC]; /* column names in the catalog */
    uint32_t count;
};

struct qin {
    const char *alias;
    struct sq_source *s;
    struct scset set;
};

struct qctx {
    struct sl_sql_engine *e;
    const struct sl_sqlcat_shard *sh;
    const struct sl_sql_query *q;
    struct qin in[8];
    uint32_t nin;
    bool complete; /* every input was found */
};

static void source_set(struct sl_sql_engine *e, const struct sl_sqlcat_shard *sh,
                       struct sq_source *s, struct scset *set, int depth);

static bool set_has(const struct scset *set, const char *name)
{
    for (uint32_t i = 0; i < set->count; i++)
        if (strcmp(set->n[i], name) == 0)
            return true;
    return false;
}

static const struct sq_col *col_find(const struct sq_source *s, const char *name)
{
    for (uint32_t i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return &s->cols[i];
    return NULL;
}

/* add the catalog's spelling of `name` if s has such a column */
static bool set_add(struct scset *set, const struct sq_source *s, const char *name)
{
    const struct sq_col *c = col_find(s, name);
    if (!c)
        return false;
    if (!set_has(set, c->name) && set->count < MAXSC)
        set->n[set->count++] = c->name;
    return true;
}

static const struct sq_col *key_col(const struct sq_source *s)
{
    const struct sq_col *k = NULL;
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->ncols; i++)
        if (s->cols[i].key) {
            k = &s->cols[i];
            n++;
        }
    return n == 1 ? k : NULL;
}

static bool keyed_by_shard(const struct qin *in)
{
    const struct sq_col *k = key_col(in->s);
    return k && set_has(&in->set, k->name);
}

/* ---- resolving column references against a query's inputs */

static void ctx_init(struct qctx *x, struct sl_sql_engine *e, const struct sl_sqlcat_shard *sh,
                     const struct sl_sql_query *q, int depth)
{
    memset(x, 0, sizeof *x);
    x->e = e;
    x->sh = sh;
    x->q = q;
    x->complete = true;
    for (uint32_t i = 0; i <= q->njoins && i < 8; i++) {
        const struct sl_sql_rel *r = i ? &q->joins[i - 1].right : &q->from;
        struct sq_source *s = r->name ? sq_source_find(e, r->name) : NULL;
        if (!s) {
            x->complete = false; /* the engine will say so */
            return;
        }
        x->in[x->nin].alias = r->alias ? r->alias : r->name;
        x->in[x->nin].s = s;
        source_set(e, sh, s, &x->in[x->nin].set, depth + 1);
        x->nin++;
    }
}

/* Which input (among the first `upto`+1) a COLUMN expression reads: -1 when not a plain
 * column, unknown, or ambiguous. */
static int resolve(const struct qctx *x, const struct sl_sql_expr *ex, uint32_t upto,
                   const char **name)
{
    if (!ex || ex->kind != SL_SQL_E_COLUMN || !ex->name)
        return -1;
    *name = ex->name;
    int found = -1;
    for (uint32_t i = 0; i < x->nin && i <= upto; i++) {
        if (ex->qualifier && strcmp(ex->qualifier, x->in[i].alias) != 0)
            continue;
        if (!col_find(x->in[i].s, ex->name))
            continue;
        if (found >= 0) {
            /* ambiguous: a shard column on every side it names is still one */
            if (!set_has(&x->in[found].set, ex->name) || !set_has(&x->in[i].set, ex->name))
                return -1;
            continue;
        }
        found = (int)i;
    }
    return found;
}

static bool is_shard(const struct qctx *x, const struct sl_sql_expr *ex, uint32_t upto)
{
    const char *name = NULL;
    int i = resolve(x, ex, upto, &name);
    return i >= 0 && set_has(&x->in[i].set, name);
}

/* ---- messages */

/* the statement's text of an expression (or a list of them) */
static void expr_text(const struct sl_sql_stmt *st, const struct sl_sql_expr *first,
                      const struct sl_sql_expr *last, char *out, size_t n)
{
    size_t tl = st->text ? strlen(st->text) : 0;
    if (!first || !last || first->pos.offset < st->pos.offset || last->end < first->pos.offset) {
        snprintf(out, n, "?");
        return;
    }
    size_t from = first->pos.offset - st->pos.offset, to = last->end - st->pos.offset;
    if (to > tl)
        to = tl;
    if (from >= to) {
        snprintf(out, n, "?");
        return;
    }
    snprintf(out, n, "%.*s", (int)(to - from), st->text + from);
}

static void set_text(const struct qin *in, char *out, size_t n)
{
    if (!in->set.count) {
        snprintf(out, n, "%s has no column carrying the shard field", in->alias);
        return;
    }
    size_t k = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < in->set.count && k < n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%s.%s", i ? " or " : "", in->alias, in->set.n[i]);
}

/* the id the engine will give the statement's query (sql_query.c names them so) */
static void query_name(const struct sl_sql_engine *e, const struct sl_sql_stmt *st, char *out,
                       size_t n)
{
    const char *kind = st->kind == SL_SQL_S_SELECT        ? "transient"
                       : st->kind == SL_SQL_S_INSERT_INTO ? "INSERTQUERY"
                       : st->source_kind == SL_SQL_TABLE  ? "CTAS"
                                                          : "CSAS";
    const char *sink = st->kind == SL_SQL_S_SELECT ? "QUERY" : st->name ? st->name : "?";
    snprintf(out, n, "%s_%s_%u", kind, sink, e->next_query_id);
}

static int refuse(struct sl_diag *d, const struct sl_sql_pos *pos, const char *qname,
                  const struct sl_sqlcat_shard *sh, const char *what)
{
    d->line = pos->line;
    d->col = pos->col;
    d->offset = pos->offset;
    sl_diag_hint(d, "with shard_by, state must be keyed by the shard field: GROUP BY it, join on "
                    "it, or PARTITION BY it first (docs/sql.md, Sharding across workers)");
    return sl_diag_set(d, SL_ECONFIG, "query %s: %s (shard_by: %s)", qname, what, sh->field);
}

/* ---- the rule */

static int check_query(struct qctx *x, const struct sl_sql_stmt *st, struct sl_diag *d)
{
    const struct sl_sql_query *q = x->q;
    char qn[200], a[160], b[240], m[480];
    query_name(x->e, st, qn, sizeof qn);
    for (uint32_t j = 0; j < q->njoins && j + 1 < x->nin; j++) {
        const struct sl_sql_join *jn = &q->joins[j];
        uint32_t r = j + 1;
        const struct sl_sql_expr *on = jn->on;
        bool ok = false;
        if (on && on->kind == SL_SQL_E_BINARY && on->op == SL_SQL_OP_EQ && on->a && on->b_) {
            const char *na = NULL, *nb = NULL;
            int ia = resolve(x, on->a, r, &na), ib = resolve(x, on->b_, r, &nb);
            bool sa = ia >= 0 && set_has(&x->in[ia].set, na);
            bool sb = ib >= 0 && set_has(&x->in[ib].set, nb);
            ok = sa && sb && ((ia == (int)r && ib < (int)r) || (ib == (int)r && ia < (int)r));
        }
        if (!ok) {
            expr_text(st, on, on, a, sizeof a);
            set_text(&x->in[r], b, sizeof b);
            snprintf(m, sizeof m, "the join with %s is on %s, not on the shard column: %s",
                     x->in[r].alias, a, b);
            return refuse(d, &jn->pos, qn, x->sh, m);
        }
    }
    bool stateful = q->njoins || q->ngroup_by;
    for (uint32_t i = 0; stateful && i < x->nin; i++)
        if (x->in[i].s->table && !keyed_by_shard(&x->in[i])) {
            const struct sq_col *k = key_col(x->in[i].s);
            set_text(&x->in[i], b, sizeof b);
            snprintf(m, sizeof m,
                     "table %s is keyed by %s, not by the shard column (%s), so its state would "
                     "be split across shards",
                     x->in[i].s->name, k ? k->name : "several columns", b);
            return refuse(d, i ? &q->joins[i - 1].right.pos : &q->from.pos, qn, x->sh, m);
        }
    if (q->ngroup_by) {
        for (uint32_t g = 0; g < q->ngroup_by; g++)
            if (is_shard(x, q->group_by[g], x->nin ? x->nin - 1 : 0))
                return 0;
        expr_text(st, q->group_by[0], q->group_by[q->ngroup_by - 1], a, sizeof a);
        b[0] = 0;
        size_t k = 0;
        for (uint32_t i = 0; i < x->nin && k < sizeof b; i++) {
            char t[160];
            set_text(&x->in[i], t, sizeof t);
            k += (size_t)snprintf(b + k, sizeof b - k, "%s%s", i ? "; " : "", t);
        }
        snprintf(m, sizeof m,
                 "it is keyed by GROUP BY %s, which does not include the shard column: %s", a, b);
        return refuse(d, &q->group_by[0]->pos, qn, x->sh, m);
    }
    return 0;
}

/* the shard columns of what query q writes into sink (names looked up in sink's columns) */
static void derive(struct qctx *x, const struct sq_source *sink, struct scset *out)
{
    const struct sl_sql_query *q = x->q;
    char tmp[300];
    uint32_t last = x->nin ? x->nin - 1 : 0;
    for (uint32_t i = 0; i < q->nitems; i++) {
        const struct sl_sql_item *it = &q->items[i];
        if (it->kind == SL_SQL_ITEM_EXPR) {
            const char *name = NULL;
            int ix = resolve(x, it->expr, last, &name);
            if (ix < 0 || !set_has(&x->in[ix].set, name))
                continue;
            if (it->alias) {
                set_add(out, sink, it->alias);
                continue;
            }
            if (!set_add(out, sink, name)) {
                snprintf(tmp, sizeof tmp, "%s_%s", x->in[ix].alias, name);
                set_add(out, sink, tmp);
            }
        } else if (it->kind == SL_SQL_ITEM_STAR || it->kind == SL_SQL_ITEM_QSTAR) {
            for (uint32_t k = 0; k < x->nin; k++) {
                if (it->kind == SL_SQL_ITEM_QSTAR &&
                    (!it->qualifier || strcmp(it->qualifier, x->in[k].alias) != 0))
                    continue;
                for (uint32_t c = 0; c < x->in[k].set.count; c++) {
                    snprintf(tmp, sizeof tmp, "%s_%s", x->in[k].alias, x->in[k].set.n[c]);
                    if (q->njoins ? !set_add(out, sink, tmp) : true)
                        set_add(out, sink, x->in[k].set.n[c]);
                }
            }
        }
    }
    /* the output key */
    bool key_shard;
    if (q->npartition_by)
        key_shard = q->npartition_by == 1 && is_shard(x, q->partition_by[0], last);
    else if (q->ngroup_by)
        key_shard = q->ngroup_by == 1 && is_shard(x, q->group_by[0], last);
    else if (q->njoins)
        key_shard = x->nin == q->njoins + 1; /* aligned, or it would not have been accepted */
    else
        key_shard = x->nin && keyed_by_shard(&x->in[0]);
    const struct sq_col *k = key_shard ? key_col(sink) : NULL;
    if (k)
        set_add(out, sink, k->name);
}

/* the statement a derived source was made by, parsed into a (caller's) arena */
static const struct sl_sql_stmt *source_stmt(const struct sq_source *s, struct sl_arena *a)
{
    if (!s->producer || !s->sql || !*s->sql)
        return NULL;
    struct sl_sql_script *sc = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_sql_parse(s->sql, strlen(s->sql), a, &sc, &d) || sc->nstmts != 1 ||
        sc->stmts[0].kind != SL_SQL_S_CREATE_AS || !sc->stmts[0].query)
        return NULL;
    return &sc->stmts[0];
}

static bool field_matches(const char *col, const char *field)
{
    if (strcmp(col, field) == 0)
        return true;
    size_t n = strlen(field);
    if (strlen(col) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (col[i] != (char)toupper((unsigned char)field[i]))
            return false;
    return true;
}

static void source_set(struct sl_sql_engine *e, const struct sl_sqlcat_shard *sh,
                       struct sq_source *s, struct scset *set, int depth)
{
    set->count = 0;
    if (depth > MAXDEPTH)
        return;
    if (s->producer) {
        struct sl_arena a;
        sl_arena_init(&a, 4096, 16u << 20);
        const struct sl_sql_stmt *st = source_stmt(s, &a);
        if (st) {
            struct qctx x;
            ctx_init(&x, e, sh, st->query, depth);
            if (x.complete)
                derive(&x, s, set);
        }
        sl_arena_fini(&a);
        return;
    }
    /* over a topic: a query's output topic carries rows nobody here sharded */
    for (uint32_t i = 0; i < e->nsources; i++)
        if (e->sources[i] != s && e->sources[i]->producer && s->topic && e->sources[i]->topic &&
            strcmp(e->sources[i]->topic, s->topic) == 0)
            return;
    if (sh->is_key) {
        const struct sq_col *k = key_col(s);
        if (k)
            set_add(set, s, k->name);
        if (k && s->legacy_key >= 0 && (uint32_t)s->legacy_key < s->ncols)
            set_add(set, s, s->cols[s->legacy_key].name);
        return;
    }
    for (uint32_t i = 0; i < s->ncols; i++)
        if (!s->cols[i].key && field_matches(s->cols[i].name, sh->field))
            set_add(set, s, s->cols[i].name);
    /* 0.6: WITH (KEY='col') says the message key (ROWKEY) equals that column */
    if (s->implicit_rowkey && s->legacy_key >= 0 && (uint32_t)s->legacy_key < s->ncols &&
        set_has(set, s->cols[s->legacy_key].name))
        set_add(set, s, s->cols[0].name);
}

/* ---- xf_sql.h */

uint32_t sl_sqlcat_shard_columns(struct sl_sql_engine *e, const struct sl_sqlcat_shard *sh,
                                 const char *source, const char **names, uint32_t max)
{
    struct sq_source *s = sq_source_find(e, source);
    if (!s)
        return 0;
    struct scset set;
    source_set(e, sh, s, &set, 0);
    uint32_t n = set.count < max ? set.count : max;
    for (uint32_t i = 0; i < n; i++)
        names[i] = set.n[i];
    return n;
}

int sl_sqlcat_shard_check(struct sl_sql_engine *e, const struct sl_sqlcat_shard *sh,
                          const struct sl_sql_stmt *st, struct sl_diag *d)
{
    if (!sh || !sh->field || !st->query ||
        (st->kind != SL_SQL_S_CREATE_AS && st->kind != SL_SQL_S_INSERT_INTO &&
         st->kind != SL_SQL_S_SELECT))
        return 0;
    struct qctx x;
    ctx_init(&x, e, sh, st->query, 0);
    if (!x.complete)
        return 0; /* an unknown source: the engine's error is the better one */
    int rc = check_query(&x, st, d);
    if (rc || st->kind != SL_SQL_S_INSERT_INTO)
        return rc;
    /* INSERT INTO: the target's shard columns must stay shard columns */
    struct sq_source *t = st->name ? sq_source_find(e, st->name) : NULL;
    if (!t)
        return 0;
    struct scset want, got;
    source_set(e, sh, t, &want, 0);
    got.count = 0;
    derive(&x, t, &got);
    for (uint32_t i = 0; i < want.count; i++)
        if (!set_has(&got, want.n[i])) {
            char qn[200], m[400];
            query_name(e, st, qn, sizeof qn);
            snprintf(m, sizeof m,
                     "its rows do not carry the shard column %s of %s as a plain column "
                     "(select it: ... AS %s)",
                     want.n[i], t->name, want.n[i]);
            return refuse(d, &st->pos, qn, sh, m);
        }
    return 0;
}
