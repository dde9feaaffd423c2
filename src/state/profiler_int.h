/*
 * profiler_int.h — internals shared by the profiler's files: the compiled definition
 * (profiler_def.c) read by the engine (profiler.c), and the positional JSON reader that
 * profiler_def.c uses for profiler.json and profiler_fns.c for PROFILER_APPLY's messages.
 *
 * DESIGN: profiler.json errors must name the line and column of the offending value, which
 * the event JSON codec does not keep; and state/ may not use codec/ (siblings). A small
 * recursive-descent reader (~200 lines) that keeps each value's byte offset is simpler
 * than threading positions through the zero-copy event parser.
 */
#ifndef SL_STATE_PROFILER_INT_H
#define SL_STATE_PROFILER_INT_H

#include "base/arena.h"
#include "base/err.h"
#include "core/symbol.h"
#include "core/value.h"
#include "lang/stellar.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- positional JSON */

enum sl_pj_type { SL_PJ_NULL, SL_PJ_BOOL, SL_PJ_NUM, SL_PJ_STR, SL_PJ_ARR, SL_PJ_OBJ };

struct sl_pj_node {
    uint8_t type;  /* enum sl_pj_type */
    bool b;        /* SL_PJ_BOOL */
    bool escaped;  /* SL_PJ_STR: the literal had escapes (columns inside it are not 1:1) */
    bool is_int;   /* SL_PJ_NUM: integer literal */
    size_t off;    /* byte offset of the value in the text */
    const char *s; /* SL_PJ_STR: decoded; SL_PJ_NUM/BOOL/NULL: the literal text */
    size_t len;    /* of s */
    size_t count;  /* SL_PJ_ARR / SL_PJ_OBJ: elements */
    struct sl_pj_node *items; /* count values */
    struct sl_str *keys;      /* SL_PJ_OBJ: count keys (decoded) */
    size_t *key_offs;         /* SL_PJ_OBJ: offsets of the keys */
};

/* Parse one JSON text (nodes in arena a, depth <= 64). SL_EPARSE with *err_off and *err. */
int sl_profiler__json_parse(struct sl_arena *a, const char *p, size_t n, struct sl_pj_node **out,
                            size_t *err_off, const char **err);
/* The node as a value (maps keep document order; integer literals that fit are Long, as
 * json-simple reads them; other numbers Double). Built in arena a. 0 or SL_ENOMEM. */
int sl_profiler__json_value(struct sl_arena *a, const struct sl_pj_node *n, struct sl_value *out);
/* 1-based line and column of byte offset off in p. */
void sl_profiler__linecol(const char *p, size_t off, uint32_t *line, uint32_t *col);

/* ---- the compiled definition */

struct sl_pdef_assign {
    const char *name; /* variable (init/update) or triage key */
    size_t name_len;
    uint16_t var; /* index into the profile's variables (init/update) */
    struct sl_stellar_prog *prog;
    const char *path; /* "profiles[0].update.count", for error messages */
};

struct sl_pdef {
    const char *name;
    size_t name_len;
    struct sl_stellar_prog *onlyif; /* NULL: true */
    struct sl_stellar_prog *foreach;
    struct sl_pdef_assign *init, *update, *triage;
    size_t ninit, nupdate, ntriage;
    struct sl_stellar_prog **group_by;
    size_t ngroup;
    struct sl_stellar_prog *result;
    double expires_days;
    /* variables: the union of init and update names, in first-appearance order */
    uint16_t nvars;
    const char **var_names;
    size_t *var_lens;
    sl_sym *var_syms;
};

struct sl_profiler_def {
    struct sl_arena arena; /* names, paths, arrays */
    struct sl_pdef *profiles;
    size_t count;
    const char *timestamp_field;
};

#endif
