/*
 * lang_int.h — internals shared by the Stellar lexer, parser, compiler and VM.
 */
#ifndef SL_LANG_LANG_INT_H
#define SL_LANG_LANG_INT_H

#include "base/arena.h"
#include "base/err.h"
#include "core/symbol.h"
#include "core/value.h"
#include "lang/func.h"
#include "lang/opcodes.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- limits (hostile expressions must not exhaust anything) ---- */
#define SL_STELLAR_MAX_SRC        (1u << 20) /* bytes of source */
#define SL_STELLAR_MAX_DEPTH      200        /* parser nesting */
#define SL_STELLAR_MAX_REGS       250        /* registers per chunk */
#define SL_STELLAR_MAX_CODE       60000      /* instructions per program */
#define SL_STELLAR_MAX_CALL_DEPTH 64         /* nested lambda calls at run time */
#define SL_STELLAR_MAX_TREE       6000       /* AST height the compiler recurses over */
#define SL_STELLAR_REGFILE        8192       /* registers of one VM (all frames) */

/* ---- tokens ---- */
#define SL_TOKENS(X)                                                                               \
    X(EOF, "end of expression")                                                                    \
    X(INT, "integer")                                                                              \
    X(LONG, "long")                                                                                \
    X(FLOAT, "float")                                                                              \
    X(DOUBLE, "double")                                                                            \
    X(STRING, "string")                                                                            \
    X(IDENT, "identifier")                                                                         \
    X(IN, "'in'")                                                                                  \
    X(NOT_IN, "'not in'")                                                                          \
    X(AND, "'and'")                                                                                \
    X(OR, "'or'")                                                                                  \
    X(NOT, "'not'")                                                                                \
    X(TRUE, "'true'")                                                                              \
    X(FALSE, "'false'")                                                                            \
    X(IF, "'if'")                                                                                  \
    X(THEN, "'then'")                                                                              \
    X(ELSE, "'else'")                                                                              \
    X(NULL, "'null'")                                                                              \
    X(NAN, "'NaN'")                                                                                \
    X(MATCH, "'match'")                                                                            \
    X(DEFAULT, "'default'")                                                                        \
    X(EXISTS, "'exists'")                                                                          \
    X(EQ, "'=='")                                                                                  \
    X(NE, "'!='")                                                                                  \
    X(LT, "'<'")                                                                                   \
    X(LE, "'<='")                                                                                  \
    X(GT, "'>'")                                                                                   \
    X(GE, "'>='")                                                                                  \
    X(PLUS, "'+'")                                                                                 \
    X(MINUS, "'-'")                                                                                \
    X(MUL, "'*'")                                                                                  \
    X(DIV, "'/'")                                                                                  \
    X(QUESTION, "'?'")                                                                             \
    X(COLON, "':'")                                                                                \
    X(FATARROW, "'=>'")                                                                            \
    X(ARROW, "'->'")                                                                               \
    X(COMMA, "','")                                                                                \
    X(LBRACE, "'{'")                                                                               \
    X(RBRACE, "'}'")                                                                               \
    X(LBRACK, "'['")                                                                               \
    X(RBRACK, "']'")                                                                               \
    X(LPAREN, "'('")                                                                               \
    X(RPAREN, "')'")

enum sl_tok {
#define SL_TOK_ENUM(n, s) SL_T_##n,
    SL_TOKENS(SL_TOK_ENUM)
#undef SL_TOK_ENUM
        SL_T__COUNT
};

struct sl_token {
    enum sl_tok kind;
    uint32_t pos; /* byte offset in the source */
    uint32_t len;
    struct sl_value lit; /* numbers and strings (strings unescaped into the arena) */
};

struct sl_lexer {
    const char *src;
    uint32_t len;
    uint32_t pos;
    struct sl_arena *arena;
    struct sl_diag *d;
};

/* Next token into *t. 0 or SL_EPARSE (d set: col, message). */
int sl_lang__lex(struct sl_lexer *lx, struct sl_token *t);
const char *sl_lang__tok_name(enum sl_tok k);

/* ---- AST ---- */
enum sl_node_kind {
    SL_N_CONST,  /* lit */
    SL_N_VAR,    /* name */
    SL_N_PARAM,  /* lambda parameter: depth, index */
    SL_N_EXISTS, /* exists(name) */
    SL_N_BINOP,  /* op (SL_OP_ADD ... SL_OP_NOTIN), a, b */
    SL_N_NOT,    /* not(a) */
    SL_N_AND,    /* a and b */
    SL_N_OR,     /* a or b */
    SL_N_COND,   /* a ? b : c */
    SL_N_CALL,   /* fn(args) */
    SL_N_LIST,   /* [args] */
    SL_N_MAP,    /* {args[0]: args[1], ...} */
    SL_N_LAMBDA, /* (params) -> a */
    SL_N_MATCH,  /* args: cond, action pairs; a: default */
    SL_N_COL,    /* the current row's slot `index` (SQL column references: LOADC) */
};

struct sl_node {
    enum sl_node_kind kind;
    enum sl_op op;
    uint32_t pos; /* byte offset, for errors */
    struct sl_node *a, *b, *c;
    struct sl_node **args;
    uint32_t nargs;
    struct sl_value lit;
    const char *name; /* VAR, EXISTS, CALL, lambda param names (params[]) */
    uint32_t name_len;
    const struct sl_sfunc *fn;
    uint16_t depth, index; /* PARAM; COL: index is the row slot */
    const char **params;   /* LAMBDA */
    uint32_t *param_lens;
    uint32_t nparams;
};

/* Parse src into an AST in `arena`. 0 or SL_EPARSE/SL_ETYPE/SL_E2BIG with d set. */
int sl_lang__parse(const char *src, uint32_t len, struct sl_arena *arena, struct sl_node **out,
                   struct sl_diag *d);

/* ---- externally built trees (SQL, sql/sql_expr.c) ---- */

/*
 * An empty program whose arena receives the nodes of a tree built by another front end;
 * `src` (len bytes, may be empty) is kept as the program's source text (errors, disassembly).
 * Free with sl_stellar_free. 0 or SL_ENOMEM.
 */
struct sl_stellar_prog;
int sl_lang__prog_new(const char *src, size_t len, struct sl_stellar_prog **out);
/* A zeroed node of kind k at byte offset pos, in p's arena. NULL on OOM. */
struct sl_node *sl_lang__node(struct sl_stellar_prog *p, enum sl_node_kind k, uint32_t pos);
/*
 * Fold, generate, verify: the same pipeline as sl_stellar_compile after parsing. `root` must
 * live in p's arena (sl_lang__node); CALL nodes have `fn` set. On error p stays the caller's
 * to free. 0 or SL_E2BIG/SL_EINVAL/SL_ENOMEM with d set (d->col/offset: the node's pos).
 */
int sl_lang__prog_build(struct sl_stellar_prog *p, struct sl_node *root, bool predicate,
                        struct sl_diag *d);

/* ---- program ---- */
struct sl_ins {
    uint8_t op;
    uint8_t a;
    uint16_t b, c, d;
};

struct sl_chunk {
    uint32_t start; /* first instruction */
    uint32_t end;   /* one past the last */
    uint16_t nregs;
    uint16_t nparams;
};

struct sl_varname {
    sl_sym sym; /* 0 if the name could not be interned */
    const char *name;
    uint32_t len;
};

struct sl_lambda {
    struct sl_object base; /* never freed through refs: lives in the program */
    const struct sl_stellar_prog *prog;
    uint16_t chunk;
};

struct sl_stellar_prog {
    struct sl_arena arena; /* AST, constants, names */
    char *src;
    struct sl_ins *code;
    uint32_t ncode;
    struct sl_chunk *chunks;
    uint32_t nchunks;
    struct sl_value *consts;
    uint32_t nconsts;
    struct sl_varname *vars;
    uint32_t nvars;
    const struct sl_sfunc **funcs;
    uint32_t nfuncs;
    struct sl_lambda *lambdas; /* one per chunk (index 0 unused) */
    bool predicate;
    bool is_const;
};

/* The object type of lambda values (vm.c). */
extern const struct sl_object_type sl_lang__lambda_type;

/* Shared operator semantics (VM and constant folding). `err` gets a message on failure;
 * returns 0 or SL_EEVAL. */
int sl_lang__binop(enum sl_op op, const struct sl_value *x, const struct sl_value *y,
                   struct sl_value *out, char *err, size_t err_len);

/* Verify a program's bytecode (registers, constants, jumps in range). 0 or SL_EINVAL. */
int sl_lang__verify(const struct sl_stellar_prog *p, char *err, size_t err_len);

#endif
