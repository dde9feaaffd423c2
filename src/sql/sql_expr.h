/*
 * sql_expr.h — SQL expressions compiled to the Stellar VM (one VM, no second interpreter).
 *
 * DESIGN: the binder hands an expression (sql_ast.h) and a scope; this module type-checks it
 * with ksqlDB's rules (implicit widening INT → BIGINT → DOUBLE; comparisons of a NULL operand
 * are false, not NULL; functions return NULL for NULL input except COALESCE, IFNULL, NULLIF,
 * CONCAT; integer division is integer; CASE is lazy; 1-based arrays, 0-based in compat 0.6)
 * and lowers it to the Stellar AST (lang_int.h) with SQL operators and functions as builtins
 * (lang/fn_sql.c, a table of its own: Stellar's names are not visible from SQL, nor SQL's from
 * Stellar), column references as LOADC of a row slot. The Stellar compiler then folds
 * constants and emits bytecode; evaluation reads the row's slots directly (no name lookup).
 *
 * Threads: compiling is single-threaded; a compiled program is immutable and shared; each
 * thread evaluates with its own VM (sl_stellar_vm_new).
 */
#ifndef SL_SQL_SQL_EXPR_H
#define SL_SQL_SQL_EXPR_H

#include "base/arena.h"
#include "base/err.h"
#include "core/value.h"
#include "lang/stellar.h"
#include "sql/sql_ast.h"

/* what a column reference (or a substituted sub-expression) resolves to */
struct sl_sql_slot {
    uint32_t slot;                  /* index in the row's values */
    const struct sl_sql_type *type; /* its type (UNKNOWN allowed) */
};

struct sl_sql_scope {
    void *ud;
    /*
     * Resolve a COLUMN expression (qualifier may be NULL). Return 0 with *out set; or an error
     * with d set (SL_ENOENT "column 'X' cannot be resolved" with the nearest name as hint,
     * SL_EINVAL "column 'X' is ambiguous"). Required.
     */
    int (*column)(void *ud, const struct sl_sql_expr *col, struct sl_sql_slot *out,
                  struct sl_diag *d);
    /*
     * Optional: called on every sub-expression before it is compiled (outermost first). Return
     * 1 with *out set when the planner already holds this expression's value in a slot (an
     * aggregate's result, a GROUP BY expression after grouping), 0 to compile it normally, or a
     * negative error with d set (an aggregate where none is allowed).
     */
    int (*subst)(void *ud, const struct sl_sql_expr *e, struct sl_sql_slot *out, struct sl_diag *d);
    bool compat06; /* ksqlDB 0.6: 0-based array subscripts */
};

/*
 * Compile e. *prog gets the program (free with sl_stellar_free); *type its result type
 * (allocated in `types`, which must outlive it). Errors: SL_EPARSE/SL_ETYPE/SL_ENOENT with
 * d->line/col pointing at the offending node (its pos), d->msg saying what is wrong
 * ("function 'FOO' does not exist", "cannot compare STRING with INTEGER", "SUBSTRING expects
 * 2 or 3 arguments"). A predicate (WHERE, HAVING, ON) must be BOOLEAN: pass want_bool.
 */
int sl_sql_expr_compile(const struct sl_sql_expr *e, const struct sl_sql_scope *scope,
                        bool want_bool, struct sl_arena *types, struct sl_stellar_prog **prog,
                        const struct sl_sql_type **type, struct sl_diag *d);

/*
 * Only the type of e (no program): the binder names and types output columns with it. Same
 * errors as compiling.
 */
int sl_sql_expr_typeof(const struct sl_sql_expr *e, const struct sl_sql_scope *scope,
                       struct sl_arena *types, const struct sl_sql_type **type, struct sl_diag *d);

/*
 * Evaluate over one row: cols[0..ncols) are the slots. Temporaries in arena a (must outlive
 * *out). 0 or SL_EEVAL (message: sl_stellar_vm_error) / SL_ENOMEM / SL_ELIMIT. A runtime error
 * is the record's (ksqlDB logs it to the processing log and the expression is NULL).
 */
int sl_sql_eval(struct sl_stellar_vm *vm, const struct sl_stellar_prog *p,
                const struct sl_value *cols, uint32_t ncols, struct sl_arena *a,
                struct sl_value *out);
/* A predicate: NULL and false are false. */
int sl_sql_eval_bool(struct sl_stellar_vm *vm, const struct sl_stellar_prog *p,
                     const struct sl_value *cols, uint32_t ncols, struct sl_arena *a, bool *out);

/* True if NAME (upper-case) is a scalar SQL function. */
bool sl_sql_func_exists(const char *name);

/*
 * Convert v to type t as ksqlDB's CAST does (NULL stays NULL; '10' AS INT is 10; a string that
 * does not parse: SL_EINVAL with a message in err). Strings made in arena a.
 */
int sl_sql_cast(const struct sl_value *v, const struct sl_sql_type *t, struct sl_arena *a,
                struct sl_value *out, char *err, size_t err_len);

#endif
