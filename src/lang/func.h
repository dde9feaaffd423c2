/*
 * func.h — how a Stellar builtin function is written.
 *
 * DESIGN: a builtin is a plain C function over already-evaluated arguments (Stellar evaluates
 * arguments eagerly) plus one row of a const table (`struct sl_sfunc`): name, arity, argument
 * and result description, doc string, flags. Each family of functions lives in its own file
 * (fn_string.c, fn_stats.c, ...) and exports one table ending with a zeroed row; fn_registry.c
 * lists the tables and builds the name index once.
 *
 * Values follow Java's view of Stellar's types (see sval.h): Integer is SL_V_INT with
 * SL_VF_I32, Long is SL_V_INT, Float is SL_V_DOUBLE with SL_VF_F32, Double is SL_V_DOUBLE.
 * Strings, lists and maps made by a function are allocated with sl_fcx_alloc() (the memory
 * lives as long as the evaluation's results: the caller's arena). Objects (sketches) are
 * reference counted: a function that creates one hands it to sl_fcx_own() so that the
 * evaluation releases it unless a keeper (a profile variable, a REPL variable) takes a ref.
 *
 * A function that fails (wrong argument type where Metron throws, a bad regex) returns
 * sl_fcx_error(cx, "..."), which records the message and returns SL_EEVAL. Where Metron
 * returns null or NaN instead of throwing, the function does the same: the conformance
 * corpus checks both.
 */
#ifndef SL_LANG_FUNC_H
#define SL_LANG_FUNC_H

#include "base/err.h"
#include "core/value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_fcx; /* the evaluation context (a VM), opaque to functions */

/* Evaluate `argc` arguments into *out. 0, or a negative SL_E* code (SL_EEVAL with a message
 * set through sl_fcx_error, SL_ENOMEM). *out is preset to null. */
typedef int (*sl_sfunc_fn)(struct sl_fcx *cx, const struct sl_value *args, int argc,
                           struct sl_value *out);

#define SL_SF_VARARGS (-1)

/* flags */
#define SL_SF_PURE                                                                                 \
    0x01u /* deterministic, no side effect, result is a scalar or string:                          \
           * calls with constant arguments are folded at compile time */
#define SL_SF_BOOL                                                                                 \
    0x02u /* always returns a boolean (never null): no TRUTHY before a jump on its result */

struct sl_sfunc {
    const char *name;    /* NAMESPACE_NAME as Metron spells it */
    int8_t min_args;     /* fewer arguments: compile error */
    int8_t max_args;     /* more arguments: compile error; SL_SF_VARARGS: unbounded */
    uint8_t flags;       /* SL_SF_* */
    const char *params;  /* "(stats, value+)" as the docs show it */
    const char *returns; /* "Double" */
    const char *doc;     /* one or two sentences, Metron's semantics and quirks */
    sl_sfunc_fn fn;
};

/* ---- services for implementations (any thread: each VM belongs to one thread) ---- */

/* Temporary memory that lives as long as the evaluation's results. NULL on OOM or past the
 * arena cap (return SL_ENOMEM). */
void *sl_fcx_alloc(struct sl_fcx *cx, size_t n);
/* A string value holding a copy of p[0..n). On OOM returns a null value and *rc = SL_ENOMEM. */
int sl_fcx_str(struct sl_fcx *cx, const char *p, size_t n, struct sl_value *out);
/* A list (or map) value with room for n elements, zero-initialised (null values / empty keys). */
int sl_fcx_list(struct sl_fcx *cx, uint32_t n, struct sl_value *out);
int sl_fcx_map(struct sl_fcx *cx, uint32_t n, struct sl_value *out);
/* Record a message and return SL_EEVAL. */
int sl_fcx_error(struct sl_fcx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Take ownership of a new object (refs == 1): it is released when the evaluation ends, unless
 * someone took a reference of their own. */
void sl_fcx_own(struct sl_fcx *cx, struct sl_object *o);
/* Call a lambda (a value made by `x -> ...`) with argc arguments. 0 or an error code. */
int sl_fcx_call(struct sl_fcx *cx, const struct sl_value *fn, const struct sl_value *args, int argc,
                struct sl_value *out);
/* True if v is a lambda. */
bool sl_fcx_is_lambda(const struct sl_value *v);
/* Wall-clock "now" in epoch milliseconds (a fixed value in tests: SL_STELLAR_NOW_MS env). */
int64_t sl_fcx_now_ms(struct sl_fcx *cx);
/* The store client for PROFILE_GET (NULL when none is configured). */
void *sl_fcx_profile_store(struct sl_fcx *cx);
/* A compiled PCRE2 pattern (UTF, invalid UTF tolerated, JIT when available) and its match
 * data, from a per-thread cache (fn_string.c) shared by Stellar's and SQL's regex builtins:
 * *code is a pcre2_code *, *md a pcre2_match_data *, valid until this thread's next 32 new
 * patterns. 0, or SL_EEVAL with the error set in cx. */
int sl_lang__regex(struct sl_fcx *cx, const struct sl_value *pat, void **code, void **md);

/* Scratch buffer owned by the VM, reset by the caller: for building text before sl_fcx_str. */
struct sl_buf *sl_fcx_scratch(struct sl_fcx *cx);

/* ---- the tables, one per family (fn_*.c), each ending with a zeroed row ---- */
extern const struct sl_sfunc sl_sfuncs_core[];   /* fn_core.c: conversions, IS_*, math */
extern const struct sl_sfunc sl_sfuncs_string[]; /* fn_string.c: strings, regex, FORMAT, JSON */
extern const struct sl_sfunc sl_sfuncs_date[];   /* fn_date.c */
extern const struct sl_sfunc sl_sfuncs_coll[];   /* fn_coll.c: lists, maps, sets, functional */
extern const struct sl_sfunc sl_sfuncs_net[];    /* fn_net.c: IN_SUBNET, DOMAIN_*, URL_* */
extern const struct sl_sfunc sl_sfuncs_stats[];  /* fn_stats.c: STATS_*, HLLP_*, BLOOM_* */

/* SQL's operators ("$ADD_INT", ...) and scalar functions (fn_sql.c): a table of its own, not in
 * Stellar's registry, so that neither language sees the other's names. */
extern const struct sl_sfunc sl_sfuncs_sql[];
/* SQL lookup by exact (upper-case) name. NULL if unknown. Thread-safe. */
const struct sl_sfunc *sl_sql__func_find(const char *name);
struct sl_sql_type;
struct sl_arena;
/* CAST of v to t with ksqlDB's rules (sql/sql_expr.h, sl_sql_cast); memory from cx when
 * given, else from arena. 0, SL_EINVAL (err set), SL_ENOMEM. */
int sl_sql__cast(const struct sl_value *v, const struct sl_sql_type *t, struct sl_fcx *cx,
                 struct sl_arena *arena, struct sl_value *out, char *err, size_t err_len);
/* A constant naming a type for $CAST: box_mem (sl_sql__type_box_size() bytes, living as long
 * as the program, e.g. in its arena) becomes an object value pointing at t. */
struct sl_value sl_sql__type_value(void *box_mem, const struct sl_sql_type *t);
size_t sl_sql__type_box_size(void);

/* Lookup by exact name (case-sensitive, as Metron). NULL if unknown. Thread-safe. */
const struct sl_sfunc *sl_sfunc_find(const char *name, size_t len);
/* Every function, sorted by name; *count set. Thread-safe. */
const struct sl_sfunc *const *sl_sfunc_all(size_t *count);

#endif
