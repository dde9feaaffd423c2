/*
 * fuzz_sql_parse.c — libFuzzer target for the SQL lexer and parser (src/sql/sql_parse.c) and
 * the expression formatter (sql_parse_fmt.c).
 *
 * The input is a script, and also one expression. Whatever parses is walked: every
 * expression must equal itself, and its canonical text must parse again (as an expression)
 * into a tree with the same text (format is a fixpoint). A parse failure must say where
 * (line, column and byte offset inside the input) and what, with a caret hint.
 */
#include "base/arena.h"
#include "base/buf.h"
#include "sql/sql_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_error(int rc, const struct sl_diag *d, size_t size)
{
    if (rc != SL_EPARSE && rc != SL_E2BIG && rc != SL_ENOMEM)
        abort();
    if (!d->msg[0] || !d->line || !d->col || d->offset < 0 || (size_t)d->offset > size)
        abort(); /* every error says where and what */
    if (rc == SL_EPARSE && !strchr(d->hint, '^'))
        abort();
}

static void check_expr(const struct sl_sql_expr *e)
{
    if (!e)
        return;
    if (!sl_sql_expr_equal(e, e))
        abort();
    struct sl_buf b1, b2;
    sl_buf_init(&b1, 1u << 24);
    sl_buf_init(&b2, 1u << 24);
    if (sl_sql_expr_format(e, &b1))
        abort();
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_sql_expr *e2;
    int rc = sl_sql_parse_expr(b1.ptr, b1.len, &a, &e2, &d);
    if (rc == 0) {
        if (sl_sql_expr_format(e2, &b2))
            abort();
        if (b1.len != b2.len || memcmp(b1.ptr, b2.ptr, b1.len))
            abort(); /* the canonical text reads back as itself */
    } else if (rc != SL_E2BIG) {
        abort(); /* only the depth limit may refuse canonical text (it adds parentheses) */
    }
    sl_arena_fini(&a);
    sl_buf_fini(&b1);
    sl_buf_fini(&b2);
}

static void check_query(const struct sl_sql_query *q)
{
    if (!q)
        return;
    for (uint32_t i = 0; i < q->nitems; i++)
        check_expr(q->items[i].expr);
    for (uint32_t i = 0; i < q->njoins; i++)
        check_expr(q->joins[i].on);
    check_expr(q->where);
    for (uint32_t i = 0; i < q->ngroup_by; i++)
        check_expr(q->group_by[i]);
    for (uint32_t i = 0; i < q->npartition_by; i++)
        check_expr(q->partition_by[i]);
    check_expr(q->having);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    const char *src = (const char *)data;
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_sql_script *s;
    int rc = sl_sql_parse(src, size, &a, &s, &d);
    if (rc) {
        check_error(rc, &d, size);
    } else {
        for (uint32_t i = 0; i < s->nstmts; i++) {
            const struct sl_sql_stmt *st = &s->stmts[i];
            if (!st->text || st->end > size || st->pos.offset > st->end)
                abort();
            check_query(st->query);
            for (uint32_t j = 0; j < st->nprops; j++)
                if (!st->props[j].value)
                    abort();
            struct sl_buf b;
            sl_buf_init(&b, 1u << 24);
            for (uint32_t j = 0; j < st->ncols; j++)
                if (sl_sql_type_format(st->cols[j].type, &b))
                    abort();
            sl_buf_fini(&b);
        }
    }
    sl_arena_reset(&a);
    sl_diag_init(&d);
    struct sl_sql_expr *e;
    rc = sl_sql_parse_expr(src, size, &a, &e, &d);
    if (rc)
        check_error(rc, &d, size);
    else
        check_expr(e);
    sl_arena_fini(&a);
    return 0;
}
