/*
 * compile.c — Stellar AST → register bytecode, with constant folding, a verifier and the
 * disassembler behind `sluice explain`.
 *
 * DESIGN: codegen writes each subexpression into a destination register chosen by the
 * caller; temporaries are taken from a stack of registers above the lambda's parameters and
 * given back when the subexpression is done, so a chunk needs as many registers as the
 * expression is deep, not as it is long. Each lambda body is its own chunk. Before codegen,
 * folding replaces operators and pure functions whose operands are all constants by their
 * value (evaluated with the very code the VM runs, so folding cannot change a result); an
 * evaluation error during folding leaves the node alone so that it fails at run time, as in
 * Metron. Variables become indexes into a name table holding interned symbols, so reading a
 * field costs no string hashing per event.
 */
#include "lang/stellar.h"

#include "base/alloc.h"
#include "lang/lang_int.h"
#include "lang/sval.h"

#include <stdio.h>
#include <string.h>

struct cchunk {
    uint16_t nregs; /* high-water mark */
    uint16_t top;   /* next free register */
};

struct compiler {
    struct sl_stellar_prog *p;
    struct sl_diag *d;
    /* growable arrays (heap, moved into the program at the end) */
    struct sl_ins *code;
    uint32_t ncode, capcode;
    struct sl_value *consts;
    uint32_t nconsts, capconsts;
    struct sl_varname *vars;
    uint32_t nvars, capvars;
    const struct sl_sfunc **funcs;
    uint32_t nfuncs, capfuncs;
    struct sl_chunk *chunks;
    uint32_t nchunks, capchunks;
    struct cchunk *cur;
    struct sl_stellar_vm *foldvm;
    uint32_t height; /* fold/gen recursion now: bounded by SL_STELLAR_MAX_TREE */
};

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint32_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *n = sl_realloc(*arr, (size_t)nc * elem);
    if (!n)
        return SL_ENOMEM;
    *arr = n;
    *cap = nc;
    return 0;
}

static int cerr(struct compiler *c, uint32_t pos, int err, const char *msg)
{
    c->d->col = pos + 1;
    c->d->offset = pos;
    return sl_diag_set(c->d, err, "%s", msg);
}

static int emit(struct compiler *c, uint32_t pos, enum sl_op op, unsigned a, unsigned b,
                unsigned cc, unsigned dd)
{
    if (c->ncode >= SL_STELLAR_MAX_CODE)
        return cerr(c, pos, SL_E2BIG, "expression too large");
    if (grow((void **)&c->code, &c->capcode, c->ncode + 1, sizeof *c->code))
        return sl_diag_set(c->d, SL_ENOMEM, "out of memory");
    struct sl_ins *i = &c->code[c->ncode++];
    i->op = (uint8_t)op;
    i->a = (uint8_t)a;
    i->b = (uint16_t)b;
    i->c = (uint16_t)cc;
    i->d = (uint16_t)dd;
    return 0;
}

static int reg_alloc(struct compiler *c, uint32_t pos, unsigned *r)
{
    if (c->cur->top >= SL_STELLAR_MAX_REGS)
        return cerr(c, pos, SL_E2BIG, "expression too complex (registers)");
    *r = c->cur->top++;
    if (c->cur->top > c->cur->nregs)
        c->cur->nregs = c->cur->top;
    return 0;
}

static int add_const(struct compiler *c, uint32_t pos, const struct sl_value *v, unsigned *k)
{
    for (uint32_t i = 0; i < c->nconsts; i++) {
        if (c->consts[i].type == v->type && c->consts[i].flags == v->flags &&
            sl_value_equal(&c->consts[i], v) && v->type != SL_V_DOUBLE) {
            *k = i;
            return 0;
        }
    }
    if (c->nconsts >= 65535)
        return cerr(c, pos, SL_E2BIG, "too many constants");
    if (grow((void **)&c->consts, &c->capconsts, c->nconsts + 1, sizeof *c->consts))
        return sl_diag_set(c->d, SL_ENOMEM, "out of memory");
    c->consts[c->nconsts] = *v;
    *k = c->nconsts++;
    return 0;
}

static int add_var(struct compiler *c, uint32_t pos, const char *name, uint32_t len, unsigned *k)
{
    for (uint32_t i = 0; i < c->nvars; i++) {
        if (c->vars[i].len == len && !memcmp(c->vars[i].name, name, len)) {
            *k = i;
            return 0;
        }
    }
    if (c->nvars >= 65535)
        return cerr(c, pos, SL_E2BIG, "too many variables");
    if (grow((void **)&c->vars, &c->capvars, c->nvars + 1, sizeof *c->vars))
        return sl_diag_set(c->d, SL_ENOMEM, "out of memory");
    struct sl_varname *v = &c->vars[c->nvars];
    v->name = sl_arena_strndup(&c->p->arena, name, len);
    if (!v->name)
        return sl_diag_set(c->d, SL_ENOMEM, "out of memory");
    v->len = len;
    v->sym = len < 256 ? sl_sym_intern(name, len) : 0;
    *k = c->nvars++;
    return 0;
}

static int add_func(struct compiler *c, uint32_t pos, const struct sl_sfunc *fn, unsigned *k)
{
    for (uint32_t i = 0; i < c->nfuncs; i++) {
        if (c->funcs[i] == fn) {
            *k = i;
            return 0;
        }
    }
    if (c->nfuncs >= 65535)
        return cerr(c, pos, SL_E2BIG, "too many functions");
    if (grow((void **)&c->funcs, &c->capfuncs, c->nfuncs + 1, sizeof *c->funcs))
        return sl_diag_set(c->d, SL_ENOMEM, "out of memory");
    c->funcs[c->nfuncs] = fn;
    *k = c->nfuncs++;
    return 0;
}

/* ---- constant folding ---- */

static bool is_const(const struct sl_node *n)
{
    return n && n->kind == SL_N_CONST;
}

/* Copy a folded value into the program's arena (its memory came from a scratch arena). */
static int keep_const(struct compiler *c, const struct sl_value *v, struct sl_value *out)
{
    return sl_value_copy(&c->p->arena, v, out);
}

int sl_lang__fold_call(struct sl_stellar_vm *vm, const struct sl_sfunc *fn,
                       const struct sl_value *args, int argc, struct sl_arena *arena,
                       struct sl_value *out);

/* The parser bounds nesting, but a chain of left-associative operators (1 + 1 + ... + 1)
 * is a loop there and a left-deep tree here, as tall as the chain is long: fold and gen
 * recurse over that height, so it is bounded (a 100,000-term chain overflowed the stack). */
static int enter(struct compiler *c, const struct sl_node *n)
{
    if (++c->height <= SL_STELLAR_MAX_TREE)
        return 0;
    c->height--;
    char msg[96];
    snprintf(
        msg, sizeof msg,
        "expression too deep: more than %u levels (a chain of operators counts one per operator)",
        SL_STELLAR_MAX_TREE);
    return cerr(c, n->pos, SL_EDEPTH, msg);
}

static int fold_node(struct compiler *c, struct sl_node *n);

static int fold(struct compiler *c, struct sl_node *n)
{
    if (!n)
        return 0;
    int rc = enter(c, n);
    if (rc)
        return rc;
    rc = fold_node(c, n);
    c->height--;
    return rc;
}

static int fold_here(struct compiler *c, struct sl_node *n);

static int fold_node(struct compiler *c, struct sl_node *n)
{
    int rc;
    if ((rc = fold(c, n->a)) || (rc = fold(c, n->b)) || (rc = fold(c, n->c)))
        return rc;
    for (uint32_t i = 0; i < n->nargs; i++)
        if ((rc = fold(c, n->args[i])))
            return rc;
    return fold_here(c, n);
}

/* The node itself, once its children are folded. Not inlined: its locals (call arguments,
 * an error text) would otherwise sit in every frame of the recursion above. */
__attribute__((noinline)) static int fold_here(struct compiler *c, struct sl_node *n)
{
    int rc;
    struct sl_value v;
    char err[256];
    switch (n->kind) {
    case SL_N_BINOP:
        if (is_const(n->a) && is_const(n->b) &&
            !sl_lang__binop(n->op, &n->a->lit, &n->b->lit, &v, err, sizeof err)) {
            n->kind = SL_N_CONST;
            n->lit = v;
        }
        break;
    case SL_N_NOT:
        if (is_const(n->a)) {
            n->lit = sl_value_bool(!sl_sv_truthy(&n->a->lit));
            n->kind = SL_N_CONST;
        }
        break;
    case SL_N_AND:
    case SL_N_OR:
        if (is_const(n->a)) {
            bool l = sl_sv_truthy(&n->a->lit);
            if (n->kind == SL_N_AND ? !l : l) {
                n->lit = sl_value_bool(l);
                n->kind = SL_N_CONST;
            } else if (is_const(n->b)) {
                n->lit = sl_value_bool(sl_sv_truthy(&n->b->lit));
                n->kind = SL_N_CONST;
            }
        }
        break;
    case SL_N_COND:
        if (is_const(n->a)) {
            struct sl_node *pick = sl_sv_truthy(&n->a->lit) ? n->b : n->c;
            *n = *pick;
        }
        break;
    case SL_N_CALL: {
        if (!(n->fn->flags & SL_SF_PURE) || n->nargs > 16)
            break;
        struct sl_value args[16];
        for (uint32_t i = 0; i < n->nargs; i++) {
            if (!is_const(n->args[i]))
                return 0;
            args[i] = n->args[i]->lit;
        }
        struct sl_arena scratch;
        sl_arena_init(&scratch, 4096, 1u << 20);
        if (!c->foldvm)
            c->foldvm = sl_stellar_vm_new();
        rc = sl_lang__fold_call(c->foldvm, n->fn, args, (int)n->nargs, &scratch, &v);
        if (!rc && v.type != SL_V_OBJECT && !(v.type == SL_V_LIST || v.type == SL_V_MAP)) {
            if (keep_const(c, &v, &n->lit)) {
                sl_arena_fini(&scratch);
                return sl_diag_set(c->d, SL_ENOMEM, "out of memory");
            }
            n->kind = SL_N_CONST;
        }
        sl_stellar_vm_release(c->foldvm);
        sl_arena_fini(&scratch);
        break;
    }
    default:
        break;
    }
    return 0;
}

/* ---- codegen ---- */

static int gen(struct compiler *c, struct sl_node *n, unsigned dst);

/* Does n always produce a boolean? Then TRUTHY before a jump is unnecessary. */
static bool is_boolean(const struct sl_node *n)
{
    switch (n->kind) {
    case SL_N_BINOP:
        return n->op >= SL_OP_EQ && n->op <= SL_OP_NOTIN;
    case SL_N_NOT:
    case SL_N_AND:
    case SL_N_OR:
    case SL_N_EXISTS:
        return true;
    case SL_N_CONST:
        return n->lit.type == SL_V_BOOL;
    case SL_N_CALL:
        return n->fn && (n->fn->flags & SL_SF_BOOL);
    default:
        return false;
    }
}

/* dst = truthy(n) as a boolean. */
static int gen_truthy(struct compiler *c, struct sl_node *n, unsigned dst)
{
    if (is_boolean(n))
        return gen(c, n, dst);
    unsigned r = 0;
    int rc = reg_alloc(c, n->pos, &r);
    if (!rc)
        rc = gen(c, n, r);
    return rc ? rc : emit(c, n->pos, SL_OP_TRUTHY, dst, r, 0, 0);
}

/* Generate n into a fresh temporary; *r receives it. */
static int gen_tmp(struct compiler *c, struct sl_node *n, unsigned *r)
{
    int rc = reg_alloc(c, n->pos, r);
    return rc ? rc : gen(c, n, *r);
}

static void patch(struct compiler *c, uint32_t at, uint32_t target)
{
    c->code[at].b = (uint16_t)target;
}

static int gen_lambda(struct compiler *c, struct sl_node *n, unsigned dst)
{
    if (c->nchunks >= 65535)
        return cerr(c, n->pos, SL_E2BIG, "too many lambdas");
    /* The body goes after a jump that skips it. */
    uint32_t jmp_at = c->ncode;
    int rc = emit(c, n->pos, SL_OP_JMP, 0, 0, 0, 0);
    if (rc)
        return rc;
    if (grow((void **)&c->chunks, &c->capchunks, c->nchunks + 1, sizeof *c->chunks))
        return sl_diag_set(c->d, SL_ENOMEM, "out of memory");
    uint32_t ci = c->nchunks++;
    struct cchunk cc = {.nregs = (uint16_t)n->nparams, .top = (uint16_t)n->nparams};
    struct cchunk *saved = c->cur;
    c->cur = &cc;
    c->chunks[ci].start = c->ncode;
    c->chunks[ci].nparams = (uint16_t)n->nparams;
    unsigned r = 0;
    if ((rc = gen_tmp(c, n->a, &r)) || (rc = emit(c, n->pos, SL_OP_RET, r, 0, 0, 0))) {
        c->cur = saved;
        return rc;
    }
    c->chunks[ci].end = c->ncode;
    c->chunks[ci].nregs = cc.nregs ? cc.nregs : 1;
    c->cur = saved;
    patch(c, jmp_at, c->ncode);
    return emit(c, n->pos, SL_OP_LAMBDA, dst, ci, 0, 0);
}

static int gen_node(struct compiler *c, struct sl_node *n, unsigned dst);

static int gen(struct compiler *c, struct sl_node *n, unsigned dst)
{
    int rc = enter(c, n);
    if (rc)
        return rc;
    rc = gen_node(c, n, dst);
    c->height--;
    return rc;
}

static int gen_node(struct compiler *c, struct sl_node *n, unsigned dst)
{
    int rc;
    unsigned k = 0, r1 = 0, r2 = 0;
    uint16_t save = c->cur->top;
    switch (n->kind) {
    case SL_N_CONST:
        if ((rc = add_const(c, n->pos, &n->lit, &k)))
            return rc;
        return emit(c, n->pos, SL_OP_LOADK, dst, k, 0, 0);
    case SL_N_VAR:
        if ((rc = add_var(c, n->pos, n->name, n->name_len, &k)))
            return rc;
        return emit(c, n->pos, SL_OP_LOADV, dst, k, 0, 0);
    case SL_N_COL:
        return emit(c, n->pos, SL_OP_LOADC, dst, n->index, 0, 0);
    case SL_N_PARAM:
        if (n->depth == 0)
            return emit(c, n->pos, SL_OP_MOVE, dst, n->index, 0, 0);
        return emit(c, n->pos, SL_OP_LOADP, dst, n->depth, n->index, 0);
    case SL_N_EXISTS:
        if (n->a->kind == SL_N_PARAM) {
            if ((rc = gen_tmp(c, n->a, &r1)))
                return rc;
            rc = emit(c, n->pos, SL_OP_NOTNULL, dst, r1, 0, 0);
            break;
        }
        if ((rc = add_var(c, n->pos, n->a->name, n->a->name_len, &k)))
            return rc;
        return emit(c, n->pos, SL_OP_EXISTS, dst, k, 0, 0);
    case SL_N_BINOP:
        if ((rc = gen_tmp(c, n->a, &r1)) || (rc = gen_tmp(c, n->b, &r2)))
            return rc;
        rc = emit(c, n->pos, n->op, dst, r1, r2, 0);
        break;
    case SL_N_NOT:
        if ((rc = gen_tmp(c, n->a, &r1)))
            return rc;
        rc = emit(c, n->pos, SL_OP_NOT, dst, r1, 0, 0);
        break;
    case SL_N_AND:
    case SL_N_OR: {
        /* dst = truthy(a); if it decides, skip b; else dst = truthy(b) */
        if ((rc = gen_truthy(c, n->a, dst)))
            return rc;
        uint32_t j = c->ncode;
        if ((rc = emit(c, n->pos, n->kind == SL_N_AND ? SL_OP_JF : SL_OP_JT, dst, 0, 0, 0)))
            return rc;
        c->cur->top = save;
        if ((rc = gen_truthy(c, n->b, dst)))
            return rc;
        patch(c, j, c->ncode);
        break;
    }
    case SL_N_COND: {
        if ((rc = reg_alloc(c, n->pos, &r1)) || (rc = gen_truthy(c, n->a, r1)))
            return rc;
        uint32_t jf = c->ncode;
        if ((rc = emit(c, n->pos, SL_OP_JF, r1, 0, 0, 0)))
            return rc;
        c->cur->top = save;
        if ((rc = gen(c, n->b, dst)))
            return rc;
        uint32_t je = c->ncode;
        if ((rc = emit(c, n->pos, SL_OP_JMP, 0, 0, 0, 0)))
            return rc;
        patch(c, jf, c->ncode);
        if ((rc = gen(c, n->c, dst)))
            return rc;
        patch(c, je, c->ncode);
        break;
    }
    case SL_N_MATCH: {
        uint32_t ends[256];
        uint32_t nends = 0;
        for (uint32_t i = 0; i + 1 < n->nargs; i += 2) {
            c->cur->top = save;
            if ((rc = reg_alloc(c, n->pos, &r1)) || (rc = gen_truthy(c, n->args[i], r1)))
                return rc;
            uint32_t jf = c->ncode;
            if ((rc = emit(c, n->pos, SL_OP_JF, r1, 0, 0, 0)))
                return rc;
            c->cur->top = save;
            struct sl_node *act = n->args[i + 1];
            if (act->kind == SL_N_LAMBDA && act->nparams == 0)
                act = act->a; /* a no-argument lambda as an action is invoked */
            if ((rc = gen(c, act, dst)))
                return rc;
            if (nends >= 256)
                return cerr(c, n->pos, SL_E2BIG, "too many match clauses");
            ends[nends++] = c->ncode;
            if ((rc = emit(c, n->pos, SL_OP_JMP, 0, 0, 0, 0)))
                return rc;
            patch(c, jf, c->ncode);
        }
        c->cur->top = save;
        struct sl_node *def = n->a;
        if (def->kind == SL_N_LAMBDA && def->nparams == 0)
            def = def->a;
        if ((rc = gen(c, def, dst)))
            return rc;
        for (uint32_t i = 0; i < nends; i++)
            patch(c, ends[i], c->ncode);
        break;
    }
    case SL_N_CALL:
    case SL_N_LIST:
    case SL_N_MAP: {
        if (n->nargs > 200)
            return cerr(c, n->pos, SL_E2BIG, "too many arguments or elements (max 200)");
        unsigned first = c->cur->top;
        for (uint32_t i = 0; i < n->nargs; i++) {
            unsigned r;
            if ((rc = reg_alloc(c, n->pos, &r)))
                return rc;
        }
        for (uint32_t i = 0; i < n->nargs; i++)
            if ((rc = gen(c, n->args[i], first + i)))
                return rc;
        if (n->kind == SL_N_CALL) {
            if ((rc = add_func(c, n->pos, n->fn, &k)))
                return rc;
            rc = emit(c, n->pos, SL_OP_CALL, dst, k, first, n->nargs);
        } else if (n->kind == SL_N_LIST) {
            rc = emit(c, n->pos, SL_OP_LIST, dst, first, n->nargs, 0);
        } else {
            rc = emit(c, n->pos, SL_OP_MAP, dst, first, n->nargs / 2, 0);
        }
        break;
    }
    case SL_N_LAMBDA:
        rc = gen_lambda(c, n, dst);
        break;
    default:
        return cerr(c, n->pos, SL_EINVAL, "internal: unknown node");
    }
    c->cur->top = save;
    return rc;
}

/* ---- verifier ---- */

/* The innermost chunk holding each instruction (lambda bodies nest inside their parent). */
static int owners(const struct sl_stellar_prog *p, uint16_t *own)
{
    for (uint32_t pc = 0; pc < p->ncode; pc++)
        own[pc] = 0;
    for (uint32_t ci = 1; ci < p->nchunks; ci++) {
        const struct sl_chunk *ch = &p->chunks[ci];
        if (ch->start >= ch->end || ch->end > p->ncode)
            return SL_EINVAL;
        for (uint32_t pc = ch->start; pc < ch->end; pc++)
            if (p->chunks[own[pc]].start <= ch->start)
                own[pc] = (uint16_t)ci;
    }
    return 0;
}

int sl_lang__verify(const struct sl_stellar_prog *p, char *err, size_t err_len)
{
    if (!p->nchunks || p->chunks[0].start != 0 || p->chunks[0].end != p->ncode) {
        snprintf(err, err_len, "bad main chunk");
        return SL_EINVAL;
    }
    uint16_t *own = sl_malloc((p->ncode ? p->ncode : 1) * sizeof *own);
    if (!own) {
        snprintf(err, err_len, "out of memory");
        return SL_ENOMEM;
    }
    int rc = owners(p, own);
    for (uint32_t ci = 0; ci < p->nchunks && !rc; ci++) {
        const struct sl_chunk *ch = &p->chunks[ci];
        if (ch->start >= ch->end || ch->end > p->ncode || !ch->nregs ||
            ch->nregs > SL_STELLAR_MAX_REGS || ch->nparams > ch->nregs) {
            snprintf(err, err_len, "chunk %u: bad bounds", ci);
            rc = SL_EINVAL;
            break;
        }
        for (uint32_t pc = ch->start; pc < ch->end; pc++) {
            if (own[pc] != ci)
                continue;
            const struct sl_ins *i = &p->code[pc];
            bool ok = true;
            unsigned nr = ch->nregs;
#define TARGET_OK(t) ((t) >= ch->start && (t) < ch->end && own[(t)] == ci)
            switch ((enum sl_op)i->op) {
            case SL_OP_NOP:
                break;
            case SL_OP_LOADK:
                ok = i->a < nr && i->b < p->nconsts;
                break;
            case SL_OP_LOADV:
            case SL_OP_EXISTS:
                ok = i->a < nr && i->b < p->nvars;
                break;
            case SL_OP_LOADP:
                ok = i->a < nr && i->b > 0 && i->b < SL_STELLAR_MAX_CALL_DEPTH;
                break;
            case SL_OP_MOVE:
            case SL_OP_NOTNULL:
            case SL_OP_NOT:
            case SL_OP_TRUTHY:
                ok = i->a < nr && i->b < nr;
                break;
            case SL_OP_ADD:
            case SL_OP_SUB:
            case SL_OP_MUL:
            case SL_OP_DIV:
            case SL_OP_EQ:
            case SL_OP_NE:
            case SL_OP_LT:
            case SL_OP_LE:
            case SL_OP_GT:
            case SL_OP_GE:
            case SL_OP_IN:
            case SL_OP_NOTIN:
                ok = i->a < nr && i->b < nr && i->c < nr;
                break;
            case SL_OP_JMP:
                ok = TARGET_OK(i->b);
                break;
            case SL_OP_JF:
            case SL_OP_JT:
                ok = i->a < nr && TARGET_OK(i->b);
                break;
            case SL_OP_CALL:
                ok = i->a < nr && i->b < p->nfuncs && (unsigned)i->c + i->d <= nr;
                break;
            case SL_OP_LIST:
                ok = i->a < nr && (unsigned)i->b + i->c <= nr;
                break;
            case SL_OP_MAP:
                ok = i->a < nr && (unsigned)i->b + 2u * i->c <= nr;
                break;
            case SL_OP_LAMBDA:
                ok = i->a < nr && i->b > 0 && i->b < p->nchunks;
                break;
            case SL_OP_RET:
            case SL_OP_LOADC:
                ok = i->a < nr;
                break;
            default:
                ok = false;
            }
#undef TARGET_OK
            /* no fall-through into a nested body or off the end of the chunk */
            if (ok && i->op != SL_OP_JMP && i->op != SL_OP_RET &&
                (pc + 1 >= ch->end || own[pc + 1] != ci))
                ok = false;
            if (!ok) {
                snprintf(err, err_len, "instruction %u: bad operands or control flow", pc);
                rc = SL_EINVAL;
                break;
            }
        }
    }
    sl_free(own);
    return rc;
}

/* ---- entry points ---- */

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

static void caret_hint(struct sl_diag *d, const char *src, size_t len)
{
    if (!d->col)
        return;
    size_t at = d->col - 1;
    size_t from = at > 60 ? at - 60 : 0;
    size_t to = len - from > 120 ? from + 120 : len;
    char line[160];
    size_t o = 0;
    for (size_t i = from; i < to && o < sizeof line - 1; i++)
        line[o++] = (src[i] == '\n' || src[i] == '\t') ? ' ' : src[i];
    line[o] = 0;
    char hint[sizeof d->hint];
    int w = snprintf(hint, sizeof hint, "%s\n%*s^", line, (int)(at - from), "");
    (void)w;
    memcpy(d->hint, hint, sizeof d->hint);
    d->hint[sizeof d->hint - 1] = 0;
}

int sl_lang__prog_new(const char *src, size_t len, struct sl_stellar_prog **out)
{
    *out = NULL;
    struct sl_stellar_prog *p = sl_calloc(1, sizeof *p);
    if (!p)
        return SL_ENOMEM;
    sl_arena_init(&p->arena, 4096, 64u << 20);
    p->src = sl_arena_strndup(&p->arena, src ? src : "", src ? len : 0);
    if (!p->src) {
        sl_stellar_free(p);
        return SL_ENOMEM;
    }
    *out = p;
    return 0;
}

struct sl_node *sl_lang__node(struct sl_stellar_prog *p, enum sl_node_kind k, uint32_t pos)
{
    struct sl_node *n = sl_arena_alloc(&p->arena, sizeof *n);
    if (!n)
        return NULL;
    memset(n, 0, sizeof *n);
    n->kind = k;
    n->pos = pos;
    return n;
}

/* Fold, generate and verify root into p (its arrays move into p; p is the caller's). */
static int build(struct sl_stellar_prog *p, struct sl_node *root, struct sl_diag *d,
                 const char *src, size_t len)
{
    struct compiler c = {.p = p, .d = d};
    struct cchunk main_chunk = {0};
    c.cur = &main_chunk;
    int rc;
    if ((rc = fold(&c, root)))
        goto fail;
    p->is_const = root->kind == SL_N_CONST;
    if (grow((void **)&c.chunks, &c.capchunks, 1, sizeof *c.chunks)) {
        rc = sl_diag_set(d, SL_ENOMEM, "out of memory");
        goto fail;
    }
    c.nchunks = 1;
    unsigned r = 0;
    if ((rc = reg_alloc(&c, 0, &r)) || (rc = gen(&c, root, r)) ||
        (rc = emit(&c, 0, SL_OP_RET, r, 0, 0, 0))) {
        if (src)
            caret_hint(d, src, len);
        goto fail;
    }
    /* the main chunk spans everything; lambda bodies inside it are jumped over */
    c.chunks[0].start = 0;
    c.chunks[0].end = c.ncode;
    c.chunks[0].nregs = main_chunk.nregs;
    c.chunks[0].nparams = 0;
    p->code = c.code;
    p->ncode = c.ncode;
    p->consts = c.consts;
    p->nconsts = c.nconsts;
    p->vars = c.vars;
    p->nvars = c.nvars;
    p->funcs = c.funcs;
    p->nfuncs = c.nfuncs;
    p->chunks = c.chunks;
    p->nchunks = c.nchunks;
    c.code = NULL;
    c.consts = NULL;
    c.vars = NULL;
    c.funcs = NULL;
    c.chunks = NULL;
    p->lambdas = sl_arena_alloc(&p->arena, p->nchunks * sizeof *p->lambdas);
    if (!p->lambdas) {
        rc = sl_diag_set(d, SL_ENOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < p->nchunks; i++) {
        p->lambdas[i].base.type = &sl_lang__lambda_type;
        atomic_init(&p->lambdas[i].base.refs, 1u << 30);
        p->lambdas[i].prog = p;
        p->lambdas[i].chunk = (uint16_t)i;
    }
    char verr[128];
    if ((rc = sl_lang__verify(p, verr, sizeof verr))) {
        rc = sl_diag_set(d, SL_EINVAL, "internal: bytecode verifier: %s", verr);
        goto fail;
    }
    sl_stellar_vm_free(c.foldvm);
    return 0;
fail:
    sl_stellar_vm_free(c.foldvm);
    sl_free(c.code);
    sl_free(c.consts);
    sl_free(c.vars);
    sl_free(c.funcs);
    sl_free(c.chunks);
    return rc;
}

int sl_lang__prog_build(struct sl_stellar_prog *p, struct sl_node *root, bool predicate,
                        struct sl_diag *d)
{
    if (p->code)
        return sl_diag_set(d, SL_EINVAL, "internal: program already built");
    p->predicate = predicate;
    return build(p, root, d, NULL, 0);
}

int sl_stellar_compile(const char *src, size_t len, const struct sl_stellar_copts *opts,
                       struct sl_stellar_prog **out, struct sl_diag *d)
{
    *out = NULL;
    if (len > SL_STELLAR_MAX_SRC)
        return sl_diag_set(d, SL_E2BIG, "expression longer than %u bytes", SL_STELLAR_MAX_SRC);
    struct sl_stellar_prog *p;
    if (sl_lang__prog_new(src, len, &p))
        return sl_diag_set(d, SL_ENOMEM, "out of memory");
    p->predicate = opts && opts->predicate;
    int rc;
    struct sl_node *root = NULL;
    if (blank(src, len)) {
        root = sl_lang__node(p, SL_N_CONST, 0);
        if (!root) {
            rc = sl_diag_set(d, SL_ENOMEM, "out of memory");
            goto fail;
        }
        root->lit = p->predicate ? sl_value_bool(true) : sl_value_null();
    } else if ((rc = sl_lang__parse(p->src, (uint32_t)len, &p->arena, &root, d))) {
        caret_hint(d, src, len);
        goto fail;
    }
    if ((rc = build(p, root, d, src, len)))
        goto fail;
    *out = p;
    return 0;
fail:
    sl_stellar_free(p);
    return rc;
}

void sl_stellar_free(struct sl_stellar_prog *p)
{
    if (!p)
        return;
    sl_free(p->code);
    sl_free(p->consts);
    sl_free(p->vars);
    sl_free(p->funcs);
    sl_free(p->chunks);
    sl_arena_fini(&p->arena);
    sl_free(p);
}

const char *sl_stellar_source(const struct sl_stellar_prog *p)
{
    return p->src;
}

bool sl_stellar_is_const(const struct sl_stellar_prog *p)
{
    return p->is_const;
}

static const char *const op_names[] = {
#define SL_OP_NAME(n, s, f) s,
    SL_OPCODES(SL_OP_NAME)
#undef SL_OP_NAME
};
static const enum sl_opf op_fmts[] = {
#define SL_OP_FMT(n, s, f) SL_OPF_##f,
    SL_OPCODES(SL_OP_FMT)
#undef SL_OP_FMT
};

int sl_stellar_disasm(const struct sl_stellar_prog *p, struct sl_buf *out)
{
    uint16_t *own = sl_malloc((p->ncode ? p->ncode : 1) * sizeof *own);
    if (!own)
        return SL_ENOMEM;
    int rc = owners(p, own);
    for (uint32_t ci = 0; ci < p->nchunks && !rc; ci++) {
        const struct sl_chunk *ch = &p->chunks[ci];
        rc = sl_buf_appendf(out, "%s %u: %u register(s), %u parameter(s)\n", ci ? "lambda" : "main",
                            ci, ch->nregs, ch->nparams);
        for (uint32_t pc = ch->start; pc < ch->end && !rc; pc++) {
            const struct sl_ins *i = &p->code[pc];
            if (own[pc] != ci) /* a nested lambda body: listed on its own */
                continue;
            rc = sl_buf_appendf(out, "  %04u  %-8s", pc, op_names[i->op]);
            if (rc)
                break;
            switch (op_fmts[i->op]) {
            case SL_OPF_0:
                break;
            case SL_OPF_A:
                rc = sl_buf_appendf(out, "r%u", i->a);
                break;
            case SL_OPF_AB:
                rc = sl_buf_appendf(out, "r%u, r%u", i->a, i->b);
                break;
            case SL_OPF_ABC:
                rc = sl_buf_appendf(out, "r%u, r%u, r%u", i->a, i->b, i->c);
                break;
            case SL_OPF_K: {
                struct sl_buf t;
                sl_buf_init(&t, 200);
                (void)sl_sv_format(&p->consts[i->b], &t);
                const struct sl_value *kv = &p->consts[i->b];
                const char *q = kv->type == SL_V_STRING ? "'" : "";
                rc = sl_buf_appendf(out, "r%u, k%u  ; %s%.*s%s", i->a, i->b, q, (int)t.len,
                                    t.ptr ? t.ptr : "", q);
                sl_buf_fini(&t);
                break;
            }
            case SL_OPF_V:
                rc = sl_buf_appendf(out, "r%u, %.*s", i->a, (int)p->vars[i->b].len,
                                    p->vars[i->b].name);
                break;
            case SL_OPF_J:
                rc = sl_buf_appendf(out, "-> %04u", i->b);
                break;
            case SL_OPF_AJ:
                rc = sl_buf_appendf(out, "r%u, -> %04u", i->a, i->b);
                break;
            case SL_OPF_F:
                rc =
                    sl_buf_appendf(out, "r%u, %s(r%u..%u)", i->a, p->funcs[i->b]->name, i->c, i->d);
                break;
            case SL_OPF_N:
                rc = sl_buf_appendf(out, "r%u, r%u, %u", i->a, i->b, i->c);
                break;
            case SL_OPF_P:
                rc = sl_buf_appendf(out, "r%u, up %u, r%u", i->a, i->b, i->c);
                break;
            case SL_OPF_L:
                rc = sl_buf_appendf(out, "r%u, lambda %u", i->a, i->b);
                break;
            case SL_OPF_C:
                rc = sl_buf_appendf(out, "r%u, col %u", i->a, i->b);
                break;
            }
            if (!rc)
                rc = sl_buf_putc(out, '\n');
        }
    }
    sl_free(own);
    return rc;
}
