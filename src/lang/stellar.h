/*
 * stellar.h — the Stellar expression language: compile once, evaluate per event.
 *
 * DESIGN: source text → lexer → recursive-descent parser (Metron's grammar, quirks included)
 * → AST in an arena → resolution (functions, lambda parameters) and constant folding →
 * register bytecode (opcodes in one X-macro table, lang/opcodes.h) → verifier → VM.
 * A compiled program (`struct sl_stellar_prog`) is immutable and may be shared by threads.
 * A VM (`struct sl_stellar_vm`) is per thread: registers, call frames, the list of objects
 * made during an evaluation, the last error message. Evaluating an expression over scalars
 * allocates nothing; strings, lists and maps built by an expression come from the arena the
 * caller passes (the batch arena in a pipeline).
 *
 * Variables are read through a resolver (event fields, REPL variables, profile state).
 * Strict mode: a variable the resolver does not know is an error ("variable: x is not
 * defined"), as Metron's unit-test harness; lenient mode: it is null, as the profiler.
 */
#ifndef SL_LANG_STELLAR_H
#define SL_LANG_STELLAR_H

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "core/symbol.h"
#include "core/value.h"

#include <stdbool.h>
#include <stddef.h>

struct sl_stellar_prog;
struct sl_stellar_vm;
struct sl_event;

/*
 * A variable source. `get` fills *out and returns true when `name` is defined (a defined
 * variable may be null). `sym` is the interned name (0 when the name was too long to intern).
 */
struct sl_stellar_resolver {
    bool (*get)(void *ud, sl_sym sym, const char *name, size_t name_len, struct sl_value *out);
    void *ud;
    bool strict; /* undefined variable: error (true) or null (false) */
    /* optional: the special variable `_`, a map of every variable (built in arena a) */
    bool (*all)(void *ud, struct sl_arena *a, struct sl_value *out);
    /* optional fast path: fields of this event are looked up directly by symbol before
     * `get` is asked (the pipeline's case: no indirect call per variable) */
    const struct sl_event *event;
};

struct sl_stellar_copts {
    bool predicate; /* compiled for a boolean answer (filters): empty text is `true` */
};

/*
 * Compile `src` (len bytes). On error returns SL_EPARSE (syntax), SL_ETYPE (a function's
 * arity), SL_E2BIG (limits), with d->col (1-based column in src), d->msg, d->hint and a
 * caret line in d->hint. *out is owned by the caller (sl_stellar_free).
 */
int sl_stellar_compile(const char *src, size_t len, const struct sl_stellar_copts *opts,
                       struct sl_stellar_prog **out, struct sl_diag *d);
void sl_stellar_free(struct sl_stellar_prog *p);
/* The source text the program was compiled from (NUL-terminated). */
const char *sl_stellar_source(const struct sl_stellar_prog *p);
/* True if the program is a constant (folded at compile time). */
bool sl_stellar_is_const(const struct sl_stellar_prog *p);
/* Append a disassembly (`sluice explain`). */
int sl_stellar_disasm(const struct sl_stellar_prog *p, struct sl_buf *out);

/* One VM per thread. Aborts on OOM (a small fixed allocation). */
struct sl_stellar_vm *sl_stellar_vm_new(void);
void sl_stellar_vm_free(struct sl_stellar_vm *vm);

/*
 * Evaluate p. Temporaries (strings, lists, maps) come from `arena`, which must outlive the
 * use of *out. Objects created during the evaluation stay alive until sl_stellar_vm_release()
 * (call it once *out has been consumed or ref'd). Returns 0, or SL_EEVAL (message:
 * sl_stellar_vm_error), SL_ENOMEM, SL_ELIMIT (step or depth limit). Never aborts on any input.
 */
int sl_stellar_eval(struct sl_stellar_vm *vm, const struct sl_stellar_prog *p,
                    const struct sl_stellar_resolver *r, struct sl_arena *arena,
                    struct sl_value *out);
/*
 * Evaluate p over one row of values (SQL: a column reference is LOADC of a slot; a slot past
 * ncols reads null). r may be NULL. Same contract as sl_stellar_eval. (The row is an
 * argument rather than resolver fields: the resolver is initialised positionally in many
 * places, and -Wmissing-field-initializers would reject a new field there.)
 */
int sl_stellar_eval_row(struct sl_stellar_vm *vm, const struct sl_stellar_prog *p,
                        const struct sl_stellar_resolver *r, const struct sl_value *cols,
                        uint32_t ncols, struct sl_arena *arena, struct sl_value *out);
/* Predicate: the result converted as Metron's StellarPredicateProcessor (a non-boolean
 * result is an error; null is false). */
int sl_stellar_eval_bool(struct sl_stellar_vm *vm, const struct sl_stellar_prog *p,
                         const struct sl_stellar_resolver *r, struct sl_arena *arena, bool *out);
/* Drop the references the VM holds on objects made by earlier evaluations. */
void sl_stellar_vm_release(struct sl_stellar_vm *vm);
/* Message of the last failed evaluation ("" if none). */
const char *sl_stellar_vm_error(const struct sl_stellar_vm *vm);
/* Fix "now" for date functions and PROFILE_FIXED (tests); 0 restores the wall clock. */
void sl_stellar_vm_set_now(struct sl_stellar_vm *vm, int64_t now_ms);
/* The profile store PROFILE_GET reads (opaque here; lang/state glue sets it). */
void sl_stellar_vm_set_store(struct sl_stellar_vm *vm, void *store);

/* The resolver over one event's fields (lenient): `a.b` is the field named "a.b" if there is
 * one, otherwise the path a → b through maps. */
struct sl_event;
bool sl_stellar_event_get(void *ev, sl_sym sym, const char *name, size_t name_len,
                          struct sl_value *out);
/* `_` over one event: a map of its fields. */
bool sl_stellar_event_all(void *ev, struct sl_arena *a, struct sl_value *out);

#endif
