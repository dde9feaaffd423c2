/*
 * vm.c — the Stellar virtual machine, the operators' Java semantics, and the services
 * builtins use (func.h).
 *
 * DESIGN: a register machine over one flat register file per VM; a frame is a window of it
 * (base, nregs). The main expression is frame 0; a builtin such as MAP calls a lambda through
 * sl_fcx_call, which opens a frame above the caller's. A lambda reads its enclosing lambda's
 * parameters with LOADP (frames up the call stack: a lambda runs inside the call that
 * received it, so the dynamic chain is the lexical one). Nothing is allocated per evaluation
 * unless the expression builds strings, lists or maps (from the caller's arena) or objects
 * (reference counted, tracked in `owned` until sl_stellar_vm_release).
 */
#include "lang/stellar.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "core/event.h"
#include "lang/lang_int.h"
#include "lang/sval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct frame {
    const struct sl_stellar_prog *prog;
    uint32_t base;
};

struct sl_stellar_vm {
    struct sl_value *regs; /* SL_STELLAR_REGFILE */
    uint32_t regtop;
    struct frame frames[SL_STELLAR_MAX_CALL_DEPTH];
    uint32_t nframes;
    struct sl_arena *arena;
    const struct sl_stellar_resolver *resolver;
    const struct sl_value *cols; /* the resolver's row (LOADC), copied at eval */
    uint32_t ncols;
    struct sl_object **owned;
    uint32_t nowned, capowned;
    int64_t now_ms; /* 0: wall clock */
    int64_t env_now_ms;
    void *store;
    struct sl_buf scratch;
    char err[512];
};

#define VM(cx) ((struct sl_stellar_vm *)(void *)(cx))
#define CX(vm) ((struct sl_fcx *)(void *)(vm))

const struct sl_object_type sl_lang__lambda_type = {.name = "lambda"};

struct sl_stellar_vm *sl_stellar_vm_new(void)
{
    struct sl_stellar_vm *vm = sl_xcalloc(1, sizeof *vm);
    vm->regs = sl_xcalloc(SL_STELLAR_REGFILE, sizeof *vm->regs);
    sl_buf_init(&vm->scratch, 16u << 20);
    const char *e = getenv("SL_STELLAR_NOW_MS");
    if (e && *e)
        vm->env_now_ms = strtoll(e, NULL, 10);
    return vm;
}

void sl_stellar_vm_free(struct sl_stellar_vm *vm)
{
    if (!vm)
        return;
    sl_stellar_vm_release(vm);
    sl_free(vm->owned);
    sl_free(vm->regs);
    sl_buf_fini(&vm->scratch);
    sl_free(vm);
}

void sl_stellar_vm_release(struct sl_stellar_vm *vm)
{
    for (uint32_t i = 0; i < vm->nowned; i++)
        sl_object_unref(vm->owned[i]);
    vm->nowned = 0;
}

const char *sl_stellar_vm_error(const struct sl_stellar_vm *vm)
{
    return vm->err;
}

void sl_stellar_vm_set_now(struct sl_stellar_vm *vm, int64_t now_ms)
{
    vm->now_ms = now_ms;
}

void sl_stellar_vm_set_store(struct sl_stellar_vm *vm, void *store)
{
    vm->store = store;
}

/* ---- services for builtins ---- */

void *sl_fcx_alloc(struct sl_fcx *cx, size_t n)
{
    return sl_arena_alloc(VM(cx)->arena, n ? n : 1);
}

int sl_fcx_str(struct sl_fcx *cx, const char *p, size_t n, struct sl_value *out)
{
    if (n > UINT32_MAX)
        return SL_E2BIG;
    char *s = sl_arena_alloc_bytes(VM(cx)->arena, n ? n : 1);
    if (!s) {
        *out = sl_value_null();
        return SL_ENOMEM;
    }
    if (n)
        memcpy(s, p, n);
    *out = sl_value_str(s, n);
    return 0;
}

int sl_fcx_list(struct sl_fcx *cx, uint32_t n, struct sl_value *out)
{
    struct sl_value *v = sl_arena_alloc(VM(cx)->arena, (n ? n : 1) * sizeof *v);
    if (!v) {
        *out = sl_value_null();
        return SL_ENOMEM;
    }
    memset(v, 0, (n ? n : 1) * sizeof *v);
    *out = (struct sl_value){.type = SL_V_LIST, .len = n};
    out->u.list = v;
    return 0;
}

int sl_fcx_map(struct sl_fcx *cx, uint32_t n, struct sl_value *out)
{
    struct sl_kv *v = sl_arena_alloc(VM(cx)->arena, (n ? n : 1) * sizeof *v);
    if (!v) {
        *out = sl_value_null();
        return SL_ENOMEM;
    }
    memset(v, 0, (n ? n : 1) * sizeof *v);
    *out = (struct sl_value){.type = SL_V_MAP, .len = n};
    out->u.map = v;
    return 0;
}

int sl_fcx_error(struct sl_fcx *cx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(VM(cx)->err, sizeof VM(cx)->err, fmt, ap);
    va_end(ap);
    return SL_EEVAL;
}

void sl_fcx_own(struct sl_fcx *cx, struct sl_object *o)
{
    struct sl_stellar_vm *vm = VM(cx);
    if (vm->nowned == vm->capowned) {
        uint32_t cap = vm->capowned ? vm->capowned * 2 : 16;
        vm->owned = sl_xrealloc(vm->owned, cap * sizeof *vm->owned);
        vm->capowned = cap;
    }
    vm->owned[vm->nowned++] = o;
}

bool sl_fcx_is_lambda(const struct sl_value *v)
{
    return v->type == SL_V_OBJECT && v->u.obj->type == &sl_lang__lambda_type;
}

int64_t sl_fcx_now_ms(struct sl_fcx *cx)
{
    struct sl_stellar_vm *vm = VM(cx);
    if (vm->now_ms)
        return vm->now_ms;
    if (vm->env_now_ms)
        return vm->env_now_ms;
    return sl_clock_wall_ns() / 1000000;
}

void *sl_fcx_profile_store(struct sl_fcx *cx)
{
    return VM(cx)->store;
}

struct sl_buf *sl_fcx_scratch(struct sl_fcx *cx)
{
    return &VM(cx)->scratch;
}

/* ---- operators ---- */

static const char *jtype(const struct sl_value *v)
{
    switch (sl_sv_jnum(v)) {
    case SL_JN_INT:
        return "Integer";
    case SL_JN_LONG:
        return "Long";
    case SL_JN_FLOAT:
        return "Float";
    case SL_JN_DOUBLE:
        return "Double";
    default:
        break;
    }
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        return "null";
    case SL_V_BOOL:
        return "Boolean";
    case SL_V_STRING:
        return "String";
    case SL_V_LIST:
        return (v->flags & SL_VF_SET) ? "Set" : "List";
    case SL_V_MAP:
        return "Map";
    case SL_V_OBJECT:
        return v->u.obj->type->name;
    default:
        return sl_vtype_name((enum sl_vtype)v->type);
    }
}

static const char *op_sym(enum sl_op op)
{
    switch (op) {
    case SL_OP_ADD:
        return "+";
    case SL_OP_SUB:
        return "-";
    case SL_OP_MUL:
        return "*";
    case SL_OP_DIV:
        return "/";
    case SL_OP_LT:
        return "<";
    case SL_OP_LE:
        return "<=";
    case SL_OP_GT:
        return ">";
    case SL_OP_GE:
        return ">=";
    default:
        return "?";
    }
}

static int arith(enum sl_op op, const struct sl_value *x, const struct sl_value *y,
                 struct sl_value *out, char *err, size_t err_len)
{
    static const struct sl_value zero = {.type = SL_V_INT, .flags = SL_VF_I32};
    if (x->type == SL_V_NULL)
        x = &zero;
    if (y->type == SL_V_NULL)
        y = &zero;
    enum sl_jnum kx = sl_sv_jnum(x), ky = sl_sv_jnum(y);
    if (!kx || !ky) {
        snprintf(err, err_len, "unable to apply %s to %s and %s", op_sym(op), jtype(x), jtype(y));
        return SL_EEVAL;
    }
    enum sl_jnum k = kx > ky ? kx : ky;
    switch (k) {
    case SL_JN_INT: {
        uint32_t a = (uint32_t)x->u.i, b = (uint32_t)y->u.i;
        int32_t r;
        switch (op) {
        case SL_OP_ADD:
            r = (int32_t)(a + b);
            break;
        case SL_OP_SUB:
            r = (int32_t)(a - b);
            break;
        case SL_OP_MUL:
            r = (int32_t)(a * b);
            break;
        default:
            if (!b) {
                snprintf(err, err_len, "/ by zero");
                return SL_EEVAL;
            }
            if ((int32_t)a == INT32_MIN && (int32_t)b == -1)
                r = INT32_MIN;
            else
                r = (int32_t)a / (int32_t)b;
        }
        *out = sl_sv_int(r);
        return 0;
    }
    case SL_JN_LONG: {
        uint64_t a = (uint64_t)x->u.i, b = (uint64_t)y->u.i;
        int64_t r;
        switch (op) {
        case SL_OP_ADD:
            r = (int64_t)(a + b);
            break;
        case SL_OP_SUB:
            r = (int64_t)(a - b);
            break;
        case SL_OP_MUL:
            r = (int64_t)(a * b);
            break;
        default:
            if (!b) {
                snprintf(err, err_len, "/ by zero");
                return SL_EEVAL;
            }
            if ((int64_t)a == INT64_MIN && (int64_t)b == -1)
                r = INT64_MIN;
            else
                r = (int64_t)a / (int64_t)b;
        }
        *out = sl_sv_long(r);
        return 0;
    }
    case SL_JN_FLOAT: {
        float a = (float)sl_sv_as_double(x), b = (float)sl_sv_as_double(y), r;
        switch (op) {
        case SL_OP_ADD:
            r = a + b;
            break;
        case SL_OP_SUB:
            r = a - b;
            break;
        case SL_OP_MUL:
            r = a * b;
            break;
        default:
            r = a / b;
            break;
        }
        *out = sl_sv_float(r);
        return 0;
    }
    default: {
        double a = sl_sv_as_double(x), b = sl_sv_as_double(y), r;
        switch (op) {
        case SL_OP_ADD:
            r = a + b;
            break;
        case SL_OP_SUB:
            r = a - b;
            break;
        case SL_OP_MUL:
            r = a * b;
            break;
        default:
            r = a / b;
            break;
        }
        *out = sl_sv_double(r);
        return 0;
    }
    }
}

static bool in_op(const struct sl_value *x, const struct sl_value *c)
{
    switch ((enum sl_vtype)c->type) {
    case SL_V_NULL:
        return false;
    case SL_V_STRING:
        if (x->type == SL_V_STRING) {
            if (!x->len)
                return true;
            if (x->len > c->len)
                return false;
            return memmem(c->u.s, c->len, x->u.s, x->len) != NULL;
        }
        return sl_sv_equal(x, c);
    case SL_V_LIST:
        for (uint32_t i = 0; i < c->len; i++)
            if (sl_sv_equal(x, &c->u.list[i]))
                return true;
        return false;
    case SL_V_MAP: {
        if (x->type != SL_V_STRING) {
            char tmp[64];
            struct sl_buf b;
            sl_buf_init(&b, 4096);
            bool found = false;
            if (!sl_sv_format(x, &b))
                found = sl_value_map_get(c, sl_str_make(b.ptr ? b.ptr : tmp, b.len)) != NULL;
            sl_buf_fini(&b);
            return found;
        }
        return sl_value_map_get(c, sl_value_as_str(x)) != NULL;
    }
    default:
        return sl_sv_equal(x, c);
    }
}

int sl_lang__binop(enum sl_op op, const struct sl_value *x, const struct sl_value *y,
                   struct sl_value *out, char *err, size_t err_len)
{
    switch (op) {
    case SL_OP_ADD:
    case SL_OP_SUB:
    case SL_OP_MUL:
    case SL_OP_DIV:
        return arith(op, x, y, out, err, err_len);
    case SL_OP_EQ:
        *out = sl_value_bool(sl_sv_equal(x, y));
        return 0;
    case SL_OP_NE:
        *out = sl_value_bool(!sl_sv_equal(x, y));
        return 0;
    case SL_OP_LT:
    case SL_OP_LE:
    case SL_OP_GT:
    case SL_OP_GE: {
        if (x->type == SL_V_NULL || y->type == SL_V_NULL) {
            *out = sl_value_bool(false);
            return 0;
        }
        int cmp;
        if (sl_sv_compare(x, y, &cmp)) {
            snprintf(err, err_len, "unable to compare %s %s %s", jtype(x), op_sym(op), jtype(y));
            return SL_EEVAL;
        }
        bool r;
        if (cmp == 2)
            r = false;
        else if (op == SL_OP_LT)
            r = cmp < 0;
        else if (op == SL_OP_LE)
            r = cmp <= 0;
        else if (op == SL_OP_GT)
            r = cmp > 0;
        else
            r = cmp >= 0;
        *out = sl_value_bool(r);
        return 0;
    }
    case SL_OP_IN:
        *out = sl_value_bool(in_op(x, y));
        return 0;
    case SL_OP_NOTIN:
        *out = sl_value_bool(!in_op(x, y));
        return 0;
    default:
        snprintf(err, err_len, "internal: not a binary operator");
        return SL_EEVAL;
    }
}

/* ---- the interpreter ---- */

/* Stellar's reading of a variable's value (timestamps as Long ms, IPs as strings). */
static int load_value(struct sl_stellar_vm *vm, struct sl_value *v)
{
    if (v->type == SL_V_IP) {
        char buf[48];
        struct sl_value s = sl_sv_from_event(v, buf);
        return sl_fcx_str(CX(vm), s.u.s, s.len, v);
    }
    if (v->type == SL_V_TS || v->type == SL_V_BYTES)
        *v = sl_sv_from_event(v, NULL);
    return 0;
}

/* Write a result field by field into its register: building a struct on the stack and
 * copying it makes the CPU stall on store forwarding (a byte store read back by a 16-byte
 * load), which cost a third of the time of `count + 1`. */
static inline void set_bool(struct sl_value *d, bool b)
{
    d->type = SL_V_BOOL;
    d->flags = 0;
    d->len = 0;
    d->u.i = 0;
    d->u.b = b;
}

static inline void set_int(struct sl_value *d, int64_t i, uint8_t flags)
{
    d->type = SL_V_INT;
    d->flags = flags;
    d->len = 0;
    d->u.i = i;
}

/* Field-wise copy of a register just written field-wise (same reason as above). */
static inline void copy_reg(struct sl_value *d, const struct sl_value *s)
{
    d->type = s->type;
    d->flags = s->flags;
    d->_pad = 0;
    d->len = s->len;
    memcpy(&d->u, &s->u, sizeof d->u);
}

static int run(struct sl_stellar_vm *vm, const struct sl_stellar_prog *p, uint32_t chunk,
               const struct sl_value *args, int argc, struct sl_value *out)
{
    const struct sl_chunk *ch = &p->chunks[chunk];
    if (vm->nframes >= SL_STELLAR_MAX_CALL_DEPTH) {
        snprintf(vm->err, sizeof vm->err, "lambda calls nested too deeply");
        return SL_ELIMIT;
    }
    if (vm->regtop + ch->nregs > SL_STELLAR_REGFILE) {
        snprintf(vm->err, sizeof vm->err, "out of registers");
        return SL_ELIMIT;
    }
    uint32_t base = vm->regtop;
    struct sl_value *r = vm->regs + base;
    /* no clearing: the compiler writes every register before reading it, except parameters
     * the caller did not pass (MAP calls a two-parameter lambda with one argument): those are
     * null, not what an earlier call left there (a view into a program since freed) */
    for (int i = 0; i < ch->nparams; i++)
        r[i] = i < argc ? args[i] : sl_value_null();
    vm->frames[vm->nframes].prog = p;
    vm->frames[vm->nframes].base = base;
    vm->nframes++;
    vm->regtop = base + ch->nregs;
    const struct sl_ins *code = p->code;
    uint32_t pc = ch->start;
    int rc = 0;
    for (;;) {
        const struct sl_ins *i = &code[pc++];
        switch ((enum sl_op)i->op) {
        case SL_OP_NOP:
            break;
        case SL_OP_LOADK:
            r[i->a] = p->consts[i->b];
            break;
        case SL_OP_LOADV:
        case SL_OP_EXISTS: {
            const struct sl_varname *vn = &p->vars[i->b];
            const struct sl_stellar_resolver *res = vm->resolver;
            /* fast path: a field of the event, found by symbol */
            if (res && res->event && vn->sym) {
                const struct sl_event *ev = res->event;
                const struct sl_value *fv = NULL;
                for (uint32_t k = 0; k < ev->count; k++) {
                    if (ev->fields[k].sym == vn->sym) {
                        fv = &ev->fields[k].val;
                        break;
                    }
                }
                if (fv) {
                    if (i->op == SL_OP_EXISTS) {
                        r[i->a] = sl_value_bool(fv->type != SL_V_NULL);
                        break;
                    }
                    r[i->a] = *fv;
                    if (fv->type >= SL_V_BYTES && fv->type <= SL_V_IP &&
                        (rc = load_value(vm, &r[i->a])))
                        goto done;
                    break;
                }
            }
            struct sl_value v = sl_value_null();
            bool found = res && res->get && res->get(res->ud, vn->sym, vn->name, vn->len, &v);
            if (!found && vn->len == 1 && vn->name[0] == '_' && res && res->all)
                found = res->all(res->ud, vm->arena, &v);
            if (i->op == SL_OP_EXISTS) {
                r[i->a] = sl_value_bool(found && v.type != SL_V_NULL);
                break;
            }
            if (!found) {
                if (res && res->strict) {
                    snprintf(vm->err, sizeof vm->err, "variable: %.*s is not defined",
                             (int)(vn->len > 200 ? 200 : vn->len), vn->name);
                    rc = SL_EEVAL;
                    goto done;
                }
                v = sl_value_null();
            }
            if ((rc = load_value(vm, &v)))
                goto done;
            r[i->a] = v;
            break;
        }
        case SL_OP_LOADP:
            r[i->a] = vm->nframes > i->b ? vm->regs[vm->frames[vm->nframes - 1 - i->b].base + i->c]
                                         : sl_value_null();
            break;
        case SL_OP_MOVE:
            r[i->a] = r[i->b];
            break;
        case SL_OP_NOTNULL:
            r[i->a] = sl_value_bool(r[i->b].type != SL_V_NULL);
            break;
        case SL_OP_ADD:
            /* the common case inline: Integer/Long + Integer/Long */
            if (r[i->b].type == SL_V_INT && r[i->c].type == SL_V_INT) {
                uint8_t f = r[i->b].flags & r[i->c].flags & SL_VF_I32;
                uint64_t s = (uint64_t)r[i->b].u.i + (uint64_t)r[i->c].u.i;
                set_int(&r[i->a], f ? (int64_t)(int32_t)(uint32_t)s : (int64_t)s, f);
                break;
            }
            goto slow;
        case SL_OP_EQ:
        case SL_OP_NE:
            if (r[i->b].type == SL_V_STRING && r[i->c].type == SL_V_STRING) {
                const struct sl_value *x = &r[i->b], *y = &r[i->c];
                bool eq = x->len == y->len && (!x->len || !memcmp(x->u.s, y->u.s, x->len));
                set_bool(&r[i->a], i->op == SL_OP_EQ ? eq : !eq);
                break;
            }
            goto slow;
        case SL_OP_LT:
        case SL_OP_LE:
        case SL_OP_GT:
        case SL_OP_GE:
            if (r[i->b].type == SL_V_INT && r[i->c].type == SL_V_INT) {
                int64_t x = r[i->b].u.i, y = r[i->c].u.i;
                bool res = i->op == SL_OP_LT   ? x < y
                           : i->op == SL_OP_LE ? x <= y
                           : i->op == SL_OP_GT ? x > y
                                               : x >= y;
                set_bool(&r[i->a], res);
                break;
            }
            goto slow;
        case SL_OP_SUB:
        case SL_OP_MUL:
        case SL_OP_DIV:
        case SL_OP_IN:
        case SL_OP_NOTIN:
        slow : {
            struct sl_value v;
            if ((rc = sl_lang__binop(i->op, &r[i->b], &r[i->c], &v, vm->err, sizeof vm->err)))
                goto done;
            r[i->a] = v;
            break;
        }
        case SL_OP_NOT:
            set_bool(&r[i->a], !sl_sv_truthy(&r[i->b]));
            break;
        case SL_OP_TRUTHY:
            set_bool(&r[i->a], sl_sv_truthy(&r[i->b]));
            break;
        case SL_OP_JMP:
            pc = i->b;
            break;
        case SL_OP_JF:
            if (!r[i->a].u.b)
                pc = i->b;
            break;
        case SL_OP_JT:
            if (r[i->a].u.b)
                pc = i->b;
            break;
        case SL_OP_CALL: {
            const struct sl_sfunc *fn = p->funcs[i->b];
            struct sl_value v = sl_value_null();
            vm->err[0] = 0;
            rc = fn->fn(CX(vm), &r[i->c], i->d, &v);
            if (rc) {
                if (!vm->err[0])
                    snprintf(vm->err, sizeof vm->err, "%s", sl_strerror(rc));
                char tmp[sizeof vm->err];
                if (strncmp(vm->err, fn->name, strlen(fn->name))) {
                    size_t nl = strlen(fn->name);
                    memcpy(tmp, fn->name, nl);
                    tmp[nl] = ':';
                    tmp[nl + 1] = ' ';
                    size_t el = strnlen(vm->err, sizeof tmp - nl - 3);
                    memcpy(tmp + nl + 2, vm->err, el);
                    tmp[nl + 2 + el] = 0;
                    memcpy(vm->err, tmp, sizeof tmp);
                }
                goto done;
            }
            r[i->a] = v;
            break;
        }
        case SL_OP_LIST: {
            struct sl_value v;
            if ((rc = sl_fcx_list(CX(vm), i->c, &v)))
                goto oom;
            if (i->c)
                memcpy(v.u.list, &r[i->b], i->c * sizeof *v.u.list);
            r[i->a] = v;
            break;
        }
        case SL_OP_MAP: {
            struct sl_value v;
            if ((rc = sl_fcx_map(CX(vm), i->c, &v)))
                goto oom;
            uint32_t n = 0;
            for (uint32_t k = 0; k < i->c; k++) {
                const struct sl_value *key = &r[i->b + 2 * k];
                struct sl_str ks;
                if (key->type == SL_V_STRING) {
                    ks = sl_value_as_str(key);
                } else {
                    struct sl_buf *sb = &vm->scratch;
                    sl_buf_reset(sb);
                    struct sl_value kv;
                    if ((rc = sl_sv_format(key, sb)) ||
                        (rc = sl_fcx_str(CX(vm), sb->ptr ? sb->ptr : "", sb->len, &kv)))
                        goto oom;
                    ks = sl_value_as_str(&kv);
                }
                uint32_t at = n;
                for (uint32_t j = 0; j < n; j++)
                    if (sl_str_eq(v.u.map[j].key, ks))
                        at = j;
                v.u.map[at].key = ks;
                v.u.map[at].val = r[i->b + 2 * k + 1];
                if (at == n)
                    n++;
            }
            v.len = n;
            r[i->a] = v;
            break;
        }
        case SL_OP_LAMBDA: {
            struct sl_value v = {.type = SL_V_OBJECT};
            v.u.obj = &p->lambdas[i->b].base;
            r[i->a] = v;
            break;
        }
        case SL_OP_RET:
            copy_reg(out, &r[i->a]);
            goto done;
        case SL_OP_LOADC:
            if (i->b < vm->ncols)
                r[i->a] = vm->cols[i->b];
            else
                r[i->a] = sl_value_null();
            break;
        default:
            snprintf(vm->err, sizeof vm->err, "internal: bad opcode %u", i->op);
            rc = SL_EINVAL;
            goto done;
        }
    }
oom:
    snprintf(vm->err, sizeof vm->err, "out of memory (expression result too large)");
done:
    vm->nframes--;
    vm->regtop = base;
    return rc;
}

int sl_fcx_call(struct sl_fcx *cx, const struct sl_value *fn, const struct sl_value *args, int argc,
                struct sl_value *out)
{
    struct sl_stellar_vm *vm = VM(cx);
    *out = sl_value_null();
    if (!sl_fcx_is_lambda(fn))
        return sl_fcx_error(cx, "expected a lambda, got %s", jtype(fn));
    const struct sl_lambda *l = (const struct sl_lambda *)(const void *)fn->u.obj;
    return run(vm, l->prog, l->chunk, args, argc, out);
}

int sl_stellar_eval_row(struct sl_stellar_vm *vm, const struct sl_stellar_prog *p,
                        const struct sl_stellar_resolver *r, const struct sl_value *cols,
                        uint32_t ncols, struct sl_arena *arena, struct sl_value *out)
{
    vm->arena = arena;
    vm->resolver = r;
    vm->cols = cols;
    vm->ncols = cols ? ncols : 0;
    vm->err[0] = 0;
    vm->nframes = 0;
    vm->regtop = 0;
    *out = sl_value_null();
    int rc = run(vm, p, 0, NULL, 0, out);
    if (rc && !vm->err[0])
        snprintf(vm->err, sizeof vm->err, "%s", sl_strerror(rc));
    return rc;
}

int sl_stellar_eval(struct sl_stellar_vm *vm, const struct sl_stellar_prog *p,
                    const struct sl_stellar_resolver *r, struct sl_arena *arena,
                    struct sl_value *out)
{
    vm->arena = arena;
    vm->resolver = r;
    vm->cols = NULL;
    vm->ncols = 0;
    vm->err[0] = 0;
    vm->nframes = 0;
    vm->regtop = 0;
    *out = sl_value_null();
    int rc = run(vm, p, 0, NULL, 0, out);
    if (rc && !vm->err[0])
        snprintf(vm->err, sizeof vm->err, "%s", sl_strerror(rc));
    return rc;
}

int sl_stellar_eval_bool(struct sl_stellar_vm *vm, const struct sl_stellar_prog *p,
                         const struct sl_stellar_resolver *r, struct sl_arena *arena, bool *out)
{
    struct sl_value v;
    *out = false;
    int rc = sl_stellar_eval(vm, p, r, arena, &v);
    if (rc)
        return rc;
    if (v.type == SL_V_NULL)
        return 0;
    if (v.type != SL_V_BOOL) {
        snprintf(vm->err, sizeof vm->err, "the rule '%.200s' does not return a boolean value",
                 p->src);
        return SL_EEVAL;
    }
    *out = v.u.b;
    return 0;
}

int sl_lang__fold_call(struct sl_stellar_vm *vm, const struct sl_sfunc *fn,
                       const struct sl_value *args, int argc, struct sl_arena *arena,
                       struct sl_value *out);
int sl_lang__fold_call(struct sl_stellar_vm *vm, const struct sl_sfunc *fn,
                       const struct sl_value *args, int argc, struct sl_arena *arena,
                       struct sl_value *out)
{
    vm->arena = arena;
    vm->resolver = NULL;
    vm->cols = NULL;
    vm->ncols = 0;
    vm->err[0] = 0;
    *out = sl_value_null();
    return fn->fn(CX(vm), args, argc, out);
}

/* ---- the event resolver ---- */

bool sl_stellar_event_get(void *ud, sl_sym sym, const char *name, size_t name_len,
                          struct sl_value *out)
{
    const struct sl_event *ev = ud;
    const struct sl_value *v = sym ? sl_event_get(ev, sym) : NULL;
    if (v) {
        *out = *v;
        return true;
    }
    /* a.b.c: the path through nested maps */
    const char *dot = memchr(name, '.', name_len);
    if (!dot)
        return false;
    sl_sym first = sl_sym_lookup(name, (size_t)(dot - name));
    if (!first)
        return false;
    v = sl_event_get(ev, first);
    const char *p = dot + 1, *end = name + name_len;
    while (v && p <= end) {
        const char *q = memchr(p, '.', (size_t)(end - p));
        size_t seg = q ? (size_t)(q - p) : (size_t)(end - p);
        v = sl_value_map_get(v, sl_str_make(p, seg));
        if (!q)
            break;
        p = q + 1;
    }
    if (!v)
        return false;
    *out = *v;
    return true;
}

bool sl_stellar_event_all(void *ud, struct sl_arena *a, struct sl_value *out)
{
    const struct sl_event *ev = ud;
    struct sl_kv *kv = sl_arena_alloc(a, (ev->count ? ev->count : 1) * sizeof *kv);
    if (!kv)
        return false;
    for (uint32_t i = 0; i < ev->count; i++) {
        kv[i].key = sl_sym_name(ev->fields[i].sym);
        kv[i].val = ev->fields[i].val;
    }
    *out = (struct sl_value){.type = SL_V_MAP, .len = ev->count};
    out->u.map = kv;
    return true;
}
