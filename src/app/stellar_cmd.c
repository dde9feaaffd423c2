/*
 * stellar_cmd.c — `sluice stellar` and `sluice explain`: the Stellar engine from the shell.
 *
 *   sluice stellar                         REPL on a terminal (libedit), else stdin line by line
 *   sluice stellar -e EXPR                 evaluate once, print the result
 *   sluice stellar -f FILE                 one expression (or `x := expr`) per line
 *   sluice stellar --functions             every function with its parameters and doc
 *   sluice stellar --test FILE...          golden files (tests/lang, *.test)
 *   sluice explain EXPR                    the bytecode
 *   options: --vars JSON (initial variables), --strict (undefined variable is an error),
 *            --store URL (the profile store PROFILE_GET reads, e.g. sqlite:profiles.db),
 *            --json (print results as JSON instead of Java's toString)
 *
 * DESIGN: one `session` holds the VM, the variables and a scratch arena that is reset before
 * every line. A variable assigned with `x := expr` owns a deep copy of its value in an arena
 * of its own (so an overwrite frees the old one) and a reference on every sketch object inside
 * it; the VM's own references are dropped after each line (sl_stellar_vm_release). A lambda
 * value points into the program that made it, so a program whose result holds a lambda is
 * kept for the whole session. Results print as Java's toString (sl_sv_format), as Metron's
 * REPL prints them. The golden runner compares by Stellar type (Integer, Long, Float,
 * Double, ...) and value; its format is in docs/stellar.md ("Tools").
 */
#include "app/stellar_cmd.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"
#include "codec/json.h"
#include "core/value.h"
#include "lang/func.h"
#include "lang/stellar.h"
#include "lang/sval.h"
#include "state/store.h"

#include <ctype.h>
#include <errno.h>
#include <histedit.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#define PROMPT     "[Stellar]>>> "
#define PROMPT_LEN (sizeof(PROMPT) - 1)
#define MAX_LINE   (1u << 20)

/* ------------------------------------------------------------------------------------------
 * Variables and the session
 */

struct var {
    char *name;
    size_t name_len;
    char *src; /* the expression it came from (shown by %vars); NULL for --vars */
    struct sl_value val;
    struct sl_arena mem; /* val's strings, lists and maps */
};

struct session {
    struct var *vars;
    size_t nvars, capvars;
    struct sl_stellar_prog **kept; /* programs whose lambdas a variable may hold */
    size_t nkept, capkept;
    struct sl_stellar_vm *vm;
    struct sl_arena scratch; /* the current line's results; reset per line */
    struct sl_stellar_resolver r;
    bool interactive; /* errors point a caret under the input line */
    bool json;        /* print results as JSON */
};

enum walk { WALK_REF, WALK_UNREF, WALK_FIND_LAMBDA };

/* Visit every object in v: take or drop a reference (lambdas are not reference counted: they
 * live in their program), or report whether there is a lambda. */
static bool walk_objects(const struct sl_value *v, enum walk w)
{
    bool found = false;
    switch ((enum sl_vtype)v->type) {
    case SL_V_OBJECT:
        if (sl_fcx_is_lambda(v))
            return w == WALK_FIND_LAMBDA;
        if (w == WALK_REF)
            sl_object_ref(v->u.obj);
        else if (w == WALK_UNREF)
            sl_object_unref(v->u.obj);
        return false;
    case SL_V_LIST:
        for (uint32_t i = 0; i < v->len; i++)
            found |= walk_objects(&v->u.list[i], w);
        return found;
    case SL_V_MAP:
        for (uint32_t i = 0; i < v->len; i++)
            found |= walk_objects(&v->u.map[i].val, w);
        return found;
    default:
        return false;
    }
}

static struct var *var_find(struct session *s, const char *name, size_t n)
{
    for (size_t i = 0; i < s->nvars; i++)
        if (s->vars[i].name_len == n && memcmp(s->vars[i].name, name, n) == 0)
            return &s->vars[i];
    return NULL;
}

/* Assign (a deep copy of) val to the variable; src may be NULL. 0 or SL_ENOMEM. */
static int var_set(struct session *s, const char *name, size_t n, const struct sl_value *val,
                   const char *src, size_t src_len)
{
    struct sl_arena mem;
    sl_arena_init(&mem, 1024, 256u << 20);
    struct sl_value copy;
    /* copy first: the new value may point into the old one (`x := x`) */
    if (sl_value_copy(&mem, val, &copy)) {
        sl_arena_fini(&mem);
        return SL_ENOMEM;
    }
    walk_objects(&copy, WALK_REF);
    struct var *v = var_find(s, name, n);
    if (!v) {
        if (s->nvars == s->capvars) {
            s->capvars = s->capvars ? s->capvars * 2 : 16;
            s->vars = sl_xrealloc(s->vars, s->capvars * sizeof *s->vars);
        }
        v = &s->vars[s->nvars++];
        v->name = sl_xstrndup(name, n);
        v->name_len = n;
    } else {
        walk_objects(&v->val, WALK_UNREF);
        sl_arena_fini(&v->mem);
        sl_free(v->src);
    }
    v->src = src ? sl_xstrndup(src, src_len) : NULL;
    v->mem = mem;
    v->val = copy;
    return 0;
}

/* The value at a dotted path below v ("b.c" of `a.b.c`), or NULL. */
static const struct sl_value *path_get(const struct sl_value *v, const char *p, const char *end)
{
    while (v && p <= end) {
        const char *q = memchr(p, '.', (size_t)(end - p));
        if (!q)
            q = end;
        v = sl_value_map_get(v, sl_str_make(p, (size_t)(q - p)));
        p = q + 1;
    }
    return v;
}

/* Resolver over the session's variables: `a.b` is the variable named "a.b" if there is one,
 * otherwise key b of the map in variable a (as event fields read). */
static bool session_get(void *ud, sl_sym sym, const char *name, size_t n, struct sl_value *out)
{
    struct session *s = ud;
    struct var *v = var_find(s, name, n);
    if (v) {
        *out = v->val;
        return true;
    }
    const char *dot = memchr(name, '.', n);
    if (!dot || !(v = var_find(s, name, (size_t)(dot - name))))
        return false;
    const struct sl_value *f = path_get(&v->val, dot + 1, name + n);
    if (!f)
        return false;
    *out = *f;
    return true;
}

/* `_`: a map of every variable */
static bool session_all(void *ud, struct sl_arena *a, struct sl_value *out)
{
    struct session *s = ud;
    struct sl_kv *kv = sl_arena_alloc(a, (s->nvars ? s->nvars : 1) * sizeof *kv);
    if (!kv)
        return false;
    for (size_t i = 0; i < s->nvars; i++) {
        kv[i].key = sl_str_make(s->vars[i].name, s->vars[i].name_len);
        kv[i].val = s->vars[i].val;
    }
    *out = (struct sl_value){.type = SL_V_MAP, .len = (uint32_t)s->nvars};
    out->u.map = kv;
    return true;
}

static void now_from_env(struct sl_stellar_vm *vm)
{
    const char *e = getenv("SL_STELLAR_NOW_MS");
    int64_t ms;
    if (e && *e && sl_str_to_i64(sl_str_c(e), &ms) == 0)
        sl_stellar_vm_set_now(vm, ms);
}

static void session_init(struct session *s, bool strict)
{
    memset(s, 0, sizeof *s);
    s->vm = sl_stellar_vm_new();
    now_from_env(s->vm);
    sl_arena_init(&s->scratch, 64u << 10, 256u << 20);
    s->r = (struct sl_stellar_resolver){
        .get = session_get, .ud = s, .strict = strict, .all = session_all};
}

static void session_fini(struct session *s)
{
    for (size_t i = 0; i < s->nvars; i++) {
        walk_objects(&s->vars[i].val, WALK_UNREF);
        sl_arena_fini(&s->vars[i].mem);
        sl_free(s->vars[i].name);
        sl_free(s->vars[i].src);
    }
    sl_free(s->vars);
    for (size_t i = 0; i < s->nkept; i++)
        sl_stellar_free(s->kept[i]);
    sl_free(s->kept);
    sl_stellar_vm_free(s->vm);
    sl_arena_fini(&s->scratch);
}

/* --vars JSON: a JSON object whose members become variables (integers Long, decimals Double,
 * objects maps, arrays lists). 0, or 2 with a message. */
static int session_load_vars(struct session *s, const char *json)
{
    struct sl_arena a;
    sl_arena_init(&a, 4096, 256u << 20);
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_value v;
    int rc = sl_json_parse_value(&a, json, strlen(json), NULL, &v, &d);
    if (rc) {
        fprintf(stderr, "sluice: --vars: %s at byte %lld\n", d.msg, (long long)d.offset);
        rc = 2;
    } else if (v.type != SL_V_MAP) {
        fprintf(stderr, "sluice: --vars takes a JSON object ({\"name\": value, ...})\n");
        rc = 2;
    } else {
        for (uint32_t i = 0; i < v.len && !rc; i++)
            if (var_set(s, v.u.map[i].key.ptr, v.u.map[i].key.len, &v.u.map[i].val, NULL, 0))
                rc = 2;
    }
    sl_arena_fini(&a);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * One line: an expression or `name := expr`
 */

/* "name := expr": true, with where the expression starts. */
static bool split_assign(const char *l, size_t n, size_t *name_at, size_t *name_len,
                         size_t *expr_at)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)l[i]))
        i++;
    if (i == n || !(isalpha((unsigned char)l[i]) || l[i] == '_' || l[i] == '$'))
        return false;
    size_t start = i;
    while (i < n && (isalnum((unsigned char)l[i]) || l[i] == '_' || l[i] == '$' || l[i] == '.'))
        i++;
    size_t end = i;
    while (i < n && isspace((unsigned char)l[i]))
        i++;
    if (i + 1 >= n || l[i] != ':' || l[i + 1] != '=')
        return false;
    *name_at = start;
    *name_len = end - start;
    *expr_at = i + 2;
    return true;
}

/* Terminal columns of p[0..n): one per UTF-8 character (continuation bytes take none). */
static int width(const char *p, size_t n)
{
    int w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)p[i] & 0xC0) != 0x80;
    return w;
}

/* The line with a caret under byte `at` (a window of it when the line is long). */
static void show_caret(FILE *f, const char *indent, const char *l, size_t n, size_t at)
{
    size_t from = at > 60 ? at - 60 : 0;
    while (from > 0 && ((unsigned char)l[from] & 0xC0) == 0x80)
        from--;
    size_t to = n - from > 120 ? from + 120 : n;
    while (to < n && ((unsigned char)l[to] & 0xC0) == 0x80)
        to++;
    fputs(indent, f);
    for (size_t i = from; i < to; i++)
        fputc(l[i] == '\t' || l[i] == '\n' || l[i] == '\r' ? ' ' : l[i], f);
    fprintf(f, "\n%s%*s^\n", indent, width(l + from, at - from), "");
}

static void print_value(const struct session *s, const struct sl_value *v)
{
    struct sl_buf b;
    sl_buf_init(&b, 64u << 20);
    int rc = s->json ? sl_json_write_value(&b, v) : sl_sv_format(v, &b);
    if (rc)
        fprintf(stderr, "sluice: result not printable: %s\n", sl_strerror(rc));
    else
        printf("%.*s\n", (int)b.len, b.ptr ? b.ptr : "");
    fflush(stdout);
    sl_buf_fini(&b);
}

static const char *eval_message(const struct session *s, int rc)
{
    const char *m = sl_stellar_vm_error(s->vm);
    return m && *m ? m : sl_strerror(rc);
}

/*
 * Compile and evaluate l[0..n). `where` ("FILE:LINE") prefixes messages in batch mode; in the
 * interactive mode a compile error draws a caret under the input line. Results print on
 * stdout, errors on stderr. Returns 0, or 1 when the line failed.
 */
static int run_line(struct session *s, const char *l, size_t n, const char *where)
{
    size_t name_at = 0, name_len = 0, expr_at = 0;
    bool assign = split_assign(l, n, &name_at, &name_len, &expr_at);
    const char *expr = l + expr_at;
    size_t expr_len = n - expr_at;
    const char *pre = where ? where : "";
    const char *sep = where ? ": " : "";
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_stellar_prog *p = NULL;
    fflush(stdout);
    int rc = sl_stellar_compile(expr, expr_len, NULL, &p, &d);
    if (rc) {
        size_t at = expr_at + (d.col ? d.col - 1 : 0);
        if (s->interactive) {
            if (d.col)
                fprintf(stderr, "%*s^\n", (int)PROMPT_LEN + width(l, at), "");
            fprintf(stderr, "error: %s\n", d.msg);
        } else {
            if (d.col)
                fprintf(stderr, "sluice: %s%scolumn %d: %s\n", pre, sep, width(l, at) + 1, d.msg);
            else
                fprintf(stderr, "sluice: %s%s%s\n", pre, sep, d.msg);
            if (d.col)
                show_caret(stderr, "  ", l, n, at);
        }
        return 1;
    }
    struct sl_value out;
    sl_arena_reset(&s->scratch);
    int status = 0;
    rc = sl_stellar_eval(s->vm, p, &s->r, &s->scratch, &out);
    if (rc) {
        if (s->interactive)
            fprintf(stderr, "error: %s\n", eval_message(s, rc));
        else
            fprintf(stderr, "sluice: %s%s%s\n", pre, sep, eval_message(s, rc));
        status = 1;
    } else if (assign) {
        bool lambda = walk_objects(&out, WALK_FIND_LAMBDA);
        if (var_set(s, l + name_at, name_len, &out, expr, expr_len)) {
            fprintf(stderr, "sluice: %s%sout of memory assigning %.*s\n", pre, sep, (int)name_len,
                    l + name_at);
            status = 1;
        } else if (lambda) {
            if (s->nkept == s->capkept) {
                s->capkept = s->capkept ? s->capkept * 2 : 8;
                s->kept = sl_xrealloc(s->kept, s->capkept * sizeof *s->kept);
            }
            s->kept[s->nkept++] = p;
            p = NULL;
        }
    } else {
        print_value(s, &out);
    }
    sl_stellar_vm_release(s->vm);
    sl_stellar_free(p);
    return status;
}

/* ------------------------------------------------------------------------------------------
 * Files and stdin
 */

/* Read one line (without its newline) into b. false at end of input. */
static bool read_line(FILE *f, struct sl_buf *b)
{
    char chunk[4096];
    sl_buf_reset(b);
    bool any = false;
    while (fgets(chunk, sizeof chunk, f)) {
        any = true;
        size_t n = strlen(chunk);
        bool eol = n && chunk[n - 1] == '\n';
        if (eol)
            n--;
        if (sl_buf_append(b, chunk, n))
            return true; /* over the cap: what fits; the rest of the line is dropped */
        if (eol)
            break;
    }
    return any;
}

static struct sl_str trim(const char *p, size_t n)
{
    return sl_str_trim(sl_str_make(p, n));
}

static int run_stream(struct session *s, FILE *f, const char *name)
{
    struct sl_buf b;
    sl_buf_init(&b, MAX_LINE);
    int status = 0;
    char where[512];
    for (unsigned line = 1; read_line(f, &b); line++) {
        struct sl_str t = trim(b.ptr ? b.ptr : "", b.len);
        if (!t.len || (t.len >= 2 && t.ptr[0] == '/' && t.ptr[1] == '/'))
            continue;
        snprintf(where, sizeof where, "%s:%u", name, line);
        status |= run_line(s, b.ptr, b.len, where);
    }
    sl_buf_fini(&b);
    return status;
}

/* ------------------------------------------------------------------------------------------
 * Function list
 */

static void print_function(FILE *f, const struct sl_sfunc *fn)
{
    fprintf(f, "%s%s -> %s\n    %s\n", fn->name, fn->params ? fn->params : "()",
            fn->returns ? fn->returns : "Object", fn->doc ? fn->doc : "");
}

static int list_functions(FILE *f, const char *prefix)
{
    size_t n = 0;
    const struct sl_sfunc *const *all = sl_sfunc_all(&n);
    size_t plen = prefix ? strlen(prefix) : 0, shown = 0;
    for (size_t i = 0; i < n; i++) {
        if (plen && strncmp(all[i]->name, prefix, plen) != 0)
            continue;
        print_function(f, all[i]);
        shown++;
    }
    if (prefix && !shown)
        fprintf(f, "no function starts with %s\n", prefix);
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * The REPL
 */

static const char *const keywords[] = {"and",   "or",      "not",    "in",    "if",
                                       "then",  "else",    "true",   "false", "null",
                                       "match", "default", "exists", NULL};
static const char *const commands[] = {"%functions", "%vars", "%help", "quit", NULL};

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$' || c == '.';
}

struct cands {
    const char **v;
    size_t n, cap;
};

static void cand_add(struct cands *c, const char *w, const char *p, size_t plen)
{
    if (strncmp(w, p, plen) != 0)
        return;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->v = sl_xrealloc(c->v, c->cap * sizeof *c->v);
    }
    c->v[c->n++] = w;
}

/* Tab: complete the word before the cursor from function names, variables, keywords (and
 * the %commands at the start of a line); list the candidates when there are several. */
static unsigned char complete(EditLine *el, int ch)
{
    (void)ch;
    void *ud = NULL;
    el_get(el, EL_CLIENTDATA, &ud);
    struct session *s = ud;
    const LineInfo *li = el_line(el);
    const char *end = li->cursor, *start = end;
    while (start > li->buffer && word_char(start[-1]))
        start--;
    if (start > li->buffer && start[-1] == '%')
        start--;
    size_t plen = (size_t)(end - start);
    struct cands c = {0};
    char *vnames = NULL; /* NUL-terminated copies of the variable names */
    if (start[0] == '%' || start == li->buffer) {
        for (const char *const *k = commands; *k; k++)
            cand_add(&c, *k, start, plen);
    }
    if (start[0] != '%') {
        size_t n = 0;
        const struct sl_sfunc *const *all = sl_sfunc_all(&n);
        for (size_t i = 0; i < n; i++)
            cand_add(&c, all[i]->name, start, plen);
        for (const char *const *k = keywords; *k; k++)
            cand_add(&c, *k, start, plen);
        size_t total = 0;
        for (size_t i = 0; i < s->nvars; i++)
            total += s->vars[i].name_len + 1;
        vnames = sl_xmalloc(total ? total : 1);
        char *w = vnames;
        for (size_t i = 0; i < s->nvars; i++) {
            memcpy(w, s->vars[i].name, s->vars[i].name_len);
            w[s->vars[i].name_len] = 0;
            cand_add(&c, w, start, plen);
            w += s->vars[i].name_len + 1;
        }
    }
    unsigned char ret = CC_ERROR;
    if (c.n) {
        /* the longest common prefix of the candidates */
        size_t lcp = strlen(c.v[0]);
        for (size_t i = 1; i < c.n; i++) {
            size_t k = 0;
            while (k < lcp && c.v[i][k] == c.v[0][k])
                k++;
            lcp = k;
        }
        ret = CC_REFRESH;
        if (lcp > plen) {
            char ins[256];
            snprintf(ins, sizeof ins, "%.*s%s", (int)(lcp - plen), c.v[0] + plen,
                     c.n == 1 && sl_sfunc_find(c.v[0], strlen(c.v[0])) ? "(" : "");
            el_insertstr(el, ins);
        } else if (c.n == 1) {
            if (sl_sfunc_find(c.v[0], strlen(c.v[0])))
                el_insertstr(el, "(");
        } else {
            size_t col = 0;
            fputc('\n', stdout);
            for (size_t i = 0; i < c.n; i++) {
                size_t w = strlen(c.v[i]) + 2;
                if (col && col + w > 80) {
                    fputc('\n', stdout);
                    col = 0;
                }
                printf("%s  ", c.v[i]);
                col += w;
            }
            fputc('\n', stdout);
            fflush(stdout);
            ret = CC_REDISPLAY;
        }
    }
    sl_free(c.v);
    sl_free(vnames);
    return ret;
}

static char *prompt(EditLine *el)
{
    (void)el;
    static char p[] = PROMPT;
    return p;
}

static void repl_help(void)
{
    printf("Stellar expressions are evaluated as you type them; results print as Java's "
           "toString.\n"
           "  x := expr          assign a variable (kept for later expressions)\n"
           "  %%functions [PFX]   list functions (starting with PFX) with parameters and doc\n"
           "  %%vars              list variables and their values\n"
           "  %%help              this text\n"
           "  quit               leave (or Ctrl-D)\n"
           "Tab completes function and variable names; history is in ~/.sluice_history.\n");
}

static void repl_vars(struct session *s)
{
    struct sl_buf b;
    sl_buf_init(&b, 64u << 20);
    for (size_t i = 0; i < s->nvars; i++) {
        struct var *v = &s->vars[i];
        sl_buf_reset(&b);
        (void)sl_sv_format(&v->val, &b);
        printf("%.*s = %.*s", (int)v->name_len, v->name, (int)b.len, b.ptr ? b.ptr : "");
        if (v->src) {
            struct sl_str e = trim(v->src, strlen(v->src));
            printf("   (via %.*s)", (int)e.len, e.ptr);
        }
        putchar('\n');
    }
    if (!s->nvars)
        printf("no variables (assign one with x := expr)\n");
    sl_buf_fini(&b);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int repl(struct session *s)
{
    s->interactive = true;
    EditLine *el = el_init("sluice", stdin, stdout, stderr);
    History *h = history_init();
    if (!el || !h) {
        fprintf(stderr, "sluice: cannot set up line editing\n");
        if (el)
            el_end(el);
        if (h)
            history_end(h);
        return 1;
    }
    HistEvent ev;
    history(h, &ev, H_SETSIZE, 1000);
    history(h, &ev, H_SETUNIQUE, 1);
    char histfile[PATH_MAX] = "";
    const char *home = getenv("HOME");
    if (home && *home) {
        snprintf(histfile, sizeof histfile, "%s/.sluice_history", home);
        history(h, &ev, H_LOAD, histfile);
    }
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, prompt);
    el_set(el, EL_HIST, history, h);
    el_set(el, EL_SIGNAL, 1);
    /* no SA_RESTART: the read in el_gets returns EINTR and the line is dropped */
    struct sigaction sa = {.sa_handler = on_sigint}, old_sa;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    el_set(el, EL_CLIENTDATA, (void *)s);
    /* the wide call: el_set(EL_ADDFN) duplicates the two strings and never frees them */
    el_wset(el, EL_ADDFN, L"sl-complete", L"complete a function or variable name", complete);
    el_set(el, EL_BIND, "^I", "sl-complete", NULL);
    el_source(el, NULL);
    printf("Stellar REPL (sluice %s). %%help for help, quit or Ctrl-D to leave.\n", SL_VERSION);
    struct sl_buf b;
    sl_buf_init(&b, MAX_LINE);
    for (;;) {
        int count = 0;
        errno = 0;
        const char *line = el_gets(el, &count);
        if (!line && count < 0 && errno == EINTR && interrupted) {
            /* Ctrl-C: drop the line being typed, as shells do */
            interrupted = 0;
            el_reset(el);
            printf("^C\n");
            continue;
        }
        if (!line || count <= 0) {
            putchar('\n');
            break;
        }
        sl_buf_reset(&b);
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (sl_buf_append(&b, line, n)) {
            fprintf(stderr, "error: line too long\n");
            continue;
        }
        struct sl_str t = trim(b.ptr ? b.ptr : "", b.len);
        if (!t.len)
            continue;
        history(h, &ev, H_ENTER, b.ptr);
        if (sl_str_eq_c(t, "quit") || sl_str_eq_c(t, "exit") || sl_str_eq_c(t, "%quit"))
            break;
        if (sl_str_eq_c(t, "%vars")) {
            repl_vars(s);
        } else if (sl_str_eq_c(t, "%help") || sl_str_eq_c(t, "help")) {
            repl_help();
        } else if (sl_str_starts_with(t, sl_str_c("%functions"))) {
            struct sl_str arg = sl_str_trim(sl_str_make(t.ptr + 10, t.len - 10));
            char pfx[128];
            sl_str_copy(pfx, sizeof pfx, arg);
            list_functions(stdout, arg.len ? pfx : NULL);
        } else if (t.ptr[0] == '%') {
            fprintf(stderr, "error: unknown command %.*s (try %%help)\n", (int)t.len, t.ptr);
        } else {
            run_line(s, b.ptr, b.len, NULL);
        }
        fflush(stdout);
    }
    sl_buf_fini(&b);
    if (*histfile)
        history(h, &ev, H_SAVE, histfile);
    history_end(h);
    el_end(el);
    sigaction(SIGINT, &old_sa, NULL);
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * The golden runner
 */

/* Stellar's (Java's) name of the value's type, as the .test files spell it */
static const char *type_name(const struct sl_value *v)
{
    switch (sl_sv_jnum(v)) {
    case SL_JN_INT:
        return "int";
    case SL_JN_LONG:
        return "long";
    case SL_JN_FLOAT:
        return "float";
    case SL_JN_DOUBLE:
        return "double";
    case SL_JN_NONE:
        break;
    }
    return v->type == SL_V_NULL     ? "null"
           : v->type == SL_V_BOOL   ? "bool"
           : v->type == SL_V_STRING ? "string"
           : v->type == SL_V_LIST   ? "list"
           : v->type == SL_V_MAP    ? "map"
           : v->type == SL_V_OBJECT ? "object"
                                    : sl_vtype_name((enum sl_vtype)v->type);
}

/* JSON, except that numbers print as Java does (NaN, Infinity, 1.0E10) */
static int write_jsonish(struct sl_buf *b, const struct sl_value *v)
{
    int rc = 0;
    switch ((enum sl_vtype)v->type) {
    case SL_V_STRING:
        return sl_json_write_string(b, v->u.s, v->len);
    case SL_V_LIST:
        rc = sl_buf_putc(b, '[');
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (i)
                rc = sl_buf_putc(b, ',');
            if (!rc)
                rc = write_jsonish(b, &v->u.list[i]);
        }
        return rc ? rc : sl_buf_putc(b, ']');
    case SL_V_MAP:
        rc = sl_buf_putc(b, '{');
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (i)
                rc = sl_buf_putc(b, ',');
            if (!rc)
                rc = sl_json_write_string(b, v->u.map[i].key.ptr, v->u.map[i].key.len);
            if (!rc)
                rc = sl_buf_putc(b, ':');
            if (!rc)
                rc = write_jsonish(b, &v->u.map[i].val);
        }
        return rc ? rc : sl_buf_putc(b, '}');
    case SL_V_OBJECT:
        return sl_buf_puts(b, v->u.obj->type->name);
    default:
        return sl_sv_format(v, b);
    }
}

static void describe(struct sl_buf *b, const struct sl_value *v)
{
    sl_buf_puts(b, type_name(v));
    if (v->type != SL_V_NULL) {
        sl_buf_putc(b, ' ');
        write_jsonish(b, v);
    }
}

/* JSON equality of an expected value (parsed from the file) and a result: numbers compare
 * numerically whatever their width, map key order does not matter. */
static bool json_equal(const struct sl_value *e, const struct sl_value *g)
{
    if (sl_sv_is_num(e) && sl_sv_is_num(g)) {
        if (e->type == SL_V_INT && g->type == SL_V_INT)
            return e->u.i == g->u.i;
        double x = sl_sv_as_double(e), y = sl_sv_as_double(g);
        if (sl_sv_jnum(g) == SL_JN_FLOAT)
            return (float)x == (float)y || (isnan(x) && isnan(y));
        return x == y || (isnan(x) && isnan(y));
    }
    if (e->type != g->type)
        return false;
    switch ((enum sl_vtype)e->type) {
    case SL_V_NULL:
        return true;
    case SL_V_BOOL:
        return e->u.b == g->u.b;
    case SL_V_STRING:
        return e->len == g->len && memcmp(e->u.s, g->u.s, e->len) == 0;
    case SL_V_LIST:
        if (e->len != g->len)
            return false;
        for (uint32_t i = 0; i < e->len; i++)
            if (!json_equal(&e->u.list[i], &g->u.list[i]))
                return false;
        return true;
    case SL_V_MAP:
        if (e->len != g->len)
            return false;
        for (uint32_t i = 0; i < e->len; i++) {
            const struct sl_value *o = sl_value_map_get(g, e->u.map[i].key);
            if (!o || !json_equal(&e->u.map[i].val, o))
                return false;
        }
        return true;
    default:
        return false;
    }
}

/* A number as the .test files write it: JSON or NaN, Infinity, -Infinity. */
static bool parse_num(struct sl_str s, double *out)
{
    if (sl_str_eq_c(s, "NaN"))
        *out = NAN;
    else if (sl_str_eq_c(s, "Infinity") || sl_str_eq_c(s, "+Infinity"))
        *out = INFINITY;
    else if (sl_str_eq_c(s, "-Infinity"))
        *out = -INFINITY;
    else
        return sl_str_to_double(s, out) == 0;
    return true;
}

struct outcome {
    int rc;          /* 0, or the compile/eval error */
    const char *msg; /* the error's message */
    struct sl_value v;
};

/* Does the outcome match the expectation `<type> <value>`? *bad set when the expectation
 * itself is malformed. */
static bool matches(struct sl_str exp, const struct outcome *o, struct sl_arena *a, bool *bad)
{
    *bad = false;
    ptrdiff_t sp = sl_str_find(exp, ' ', 0);
    struct sl_str type = sp < 0 ? exp : sl_str_make(exp.ptr, (size_t)sp);
    struct sl_str rest =
        sp < 0 ? sl_str_make("", 0) : sl_str_trim(sl_str_make(exp.ptr + sp, exp.len - (size_t)sp));
    if (sl_str_eq_c(type, "error")) {
        if (!o->rc)
            return false;
        for (size_t i = 0; i + rest.len <= strlen(o->msg); i++)
            if (memcmp(o->msg + i, rest.ptr, rest.len) == 0)
                return true;
        return false;
    }
    const struct sl_value *g = &o->v;
    if (sl_str_eq_c(type, "null"))
        return !o->rc && g->type == SL_V_NULL;
    if (sl_str_eq_c(type, "bool")) {
        if (!sl_str_eq_c(rest, "true") && !sl_str_eq_c(rest, "false"))
            return !(*bad = true);
        return !o->rc && g->type == SL_V_BOOL && g->u.b == sl_str_eq_c(rest, "true");
    }
    if (sl_str_eq_c(type, "int") || sl_str_eq_c(type, "long")) {
        int64_t want;
        if (sl_str_to_i64(rest, &want))
            return !(*bad = true);
        enum sl_jnum jn = sl_str_eq_c(type, "int") ? SL_JN_INT : SL_JN_LONG;
        return !o->rc && sl_sv_jnum(g) == jn && g->u.i == want;
    }
    if (sl_str_eq_c(type, "float") || sl_str_eq_c(type, "double")) {
        double want;
        if (!parse_num(rest, &want))
            return !(*bad = true);
        bool f = sl_str_eq_c(type, "float");
        if (o->rc || sl_sv_jnum(g) != (f ? SL_JN_FLOAT : SL_JN_DOUBLE))
            return false;
        if (isnan(want))
            return isnan(g->u.d);
        return f ? (float)want == (float)g->u.d : want == g->u.d;
    }
    if (sl_str_eq_c(type, "double~")) {
        ptrdiff_t sp2 = sl_str_find(rest, ' ', 0);
        double want, tol;
        if (sp2 < 0 || !parse_num(sl_str_make(rest.ptr, (size_t)sp2), &want) ||
            !parse_num(sl_str_trim(sl_str_make(rest.ptr + sp2, rest.len - (size_t)sp2)), &tol))
            return !(*bad = true);
        if (o->rc || sl_sv_jnum(g) != SL_JN_DOUBLE)
            return false;
        if (isnan(want))
            return isnan(g->u.d);
        return fabs(g->u.d - want) <= tol || g->u.d == want;
    }
    if (sl_str_eq_c(type, "object")) {
        if (o->rc || g->type != SL_V_OBJECT)
            return false;
        return !rest.len || sl_str_eq_c(rest, g->u.obj->type->name);
    }
    enum sl_vtype want_t = sl_str_eq_c(type, "string") ? SL_V_STRING
                           : sl_str_eq_c(type, "list") ? SL_V_LIST
                           : sl_str_eq_c(type, "map")  ? SL_V_MAP
                                                       : SL_V__COUNT;
    if (want_t == SL_V__COUNT)
        return !(*bad = true);
    struct sl_value e;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_json_parse_value(a, rest.ptr, rest.len, NULL, &e, &d) || e.type != want_t)
        return !(*bad = true);
    return !o->rc && g->type == want_t && json_equal(&e, g);
}

/* Resolver over the map of a block's variables */
static bool map_get(void *ud, sl_sym sym, const char *name, size_t n, struct sl_value *out)
{
    const struct sl_value *m = ud;
    const struct sl_value *f = sl_value_map_get(m, sl_str_make(name, n));
    if (!f) {
        const char *dot = memchr(name, '.', n);
        if (!dot)
            return false;
        f = sl_value_map_get(m, sl_str_make(name, (size_t)(dot - name)));
        f = f ? path_get(f, dot + 1, name + n) : NULL;
    }
    if (!f)
        return false;
    *out = *f;
    return true;
}

static bool map_all(void *ud, struct sl_arena *a, struct sl_value *out)
{
    *out = *(const struct sl_value *)ud;
    return true;
}

struct tstats {
    unsigned passed, failed;
};

/* Run one block: lines[0] expression, lines[1] variables, lines[2] expectation. */
static void run_block(struct sl_stellar_vm *vm, const char *file, unsigned lineno, bool strict,
                      struct sl_str expr, struct sl_str vars, struct sl_str exp, struct tstats *st)
{
    struct sl_arena a;
    sl_arena_init(&a, 16u << 10, 256u << 20);
    struct sl_buf got;
    sl_buf_init(&got, 1u << 20);
    struct sl_value vmap;
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_stellar_prog *p = NULL;
    struct outcome o = {.msg = ""};
    bool bad = false, ok = false;
    if (sl_json_parse_value(&a, vars.ptr, vars.len, NULL, &vmap, &d) || vmap.type != SL_V_MAP) {
        printf("%s:%u: %.*s: variables are not a JSON object: %.*s\n", file, lineno + 1,
               (int)expr.len, expr.ptr, (int)vars.len, vars.ptr);
        st->failed++;
        goto done;
    }
    struct sl_stellar_resolver r = {.get = map_get, .ud = &vmap, .strict = strict, .all = map_all};
    o.rc = sl_stellar_compile(expr.ptr, expr.len, NULL, &p, &d);
    if (o.rc) {
        o.msg = d.msg;
    } else {
        o.rc = sl_stellar_eval(vm, p, &r, &a, &o.v);
        if (o.rc) {
            o.msg = sl_stellar_vm_error(vm);
            if (!*o.msg)
                o.msg = sl_strerror(o.rc);
        }
    }
    ok = matches(exp, &o, &a, &bad);
    if (bad) {
        printf("%s:%u: malformed expectation '%.*s' (see docs/stellar.md, Tools)\n", file,
               lineno + 2, (int)exp.len, exp.ptr);
        st->failed++;
    } else if (ok) {
        st->passed++;
    } else {
        if (o.rc)
            sl_buf_appendf(&got, "error %s", o.msg);
        else
            describe(&got, &o.v);
        printf("%s:%u: %.*s: expected %.*s, got %.*s\n", file, lineno, (int)expr.len, expr.ptr,
               (int)exp.len, exp.ptr, (int)got.len, got.ptr ? got.ptr : "");
        st->failed++;
    }
    sl_stellar_vm_release(vm);
done:
    sl_stellar_free(p);
    sl_buf_fini(&got);
    sl_arena_fini(&a);
}

static int run_test_file(struct sl_stellar_vm *vm, const char *file, struct tstats *st)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        printf("%s: cannot open\n", file);
        st->failed++;
        return 1;
    }
    struct sl_buf line;
    sl_buf_init(&line, MAX_LINE);
    /* the block being read: up to 3 lines, kept as copies */
    char *blk[3] = {NULL, NULL, NULL};
    size_t nblk = 0;
    unsigned at = 0, start = 0;
    bool strict_next = false, strict = false;
    for (bool more = true; more;) {
        more = read_line(f, &line);
        at++;
        struct sl_str t = more ? trim(line.ptr ? line.ptr : "", line.len) : sl_str_make("", 0);
        if (more && t.len && t.ptr[0] == '#') {
            struct sl_str c = sl_str_trim(sl_str_make(t.ptr + 1, t.len - 1));
            if (nblk == 0)
                strict_next = sl_str_eq_c(c, "strict");
            continue;
        }
        if (more && t.len) {
            if (nblk == 0) {
                start = at;
                strict = strict_next;
                strict_next = false;
            }
            if (nblk < 3)
                blk[nblk] = sl_xstrndup(t.ptr, t.len);
            nblk++;
            continue;
        }
        /* a blank line or the end: the block is complete */
        if (nblk == 3) {
            run_block(vm, file, start, strict, sl_str_c(blk[0]), sl_str_c(blk[1]), sl_str_c(blk[2]),
                      st);
        } else if (nblk) {
            printf("%s:%u: a block has 3 lines (expression, variables, expected), this one %zu\n",
                   file, start, nblk);
            st->failed++;
        }
        for (size_t i = 0; i < 3; i++) {
            sl_free(blk[i]);
            blk[i] = NULL;
        }
        nblk = 0;
        strict_next = false;
    }
    sl_buf_fini(&line);
    fclose(f);
    return 0;
}

static int run_tests(int nfiles, char **files)
{
    struct sl_stellar_vm *vm = sl_stellar_vm_new();
    now_from_env(vm);
    struct tstats st = {0};
    for (int i = 0; i < nfiles; i++)
        run_test_file(vm, files[i], &st);
    printf("%u passed, %u failed\n", st.passed, st.failed);
    sl_stellar_vm_free(vm);
    return st.failed ? 1 : 0;
}

/* ------------------------------------------------------------------------------------------
 * Entry points
 */

/* -e, -f, stdin or the REPL over one session. */
static int run_session(const char *expr, const char *file, const char *vars, bool strict, bool json)
{
    struct session s;
    session_init(&s, strict);
    s.json = json;
    int rc = vars ? session_load_vars(&s, vars) : 0;
    if (rc) {
        session_fini(&s);
        return rc;
    }
    if (expr) {
        rc = run_line(&s, expr, strlen(expr), NULL);
    } else if (file && strcmp(file, "-") != 0) {
        FILE *f = fopen(file, "r");
        if (!f) {
            fprintf(stderr, "sluice: cannot open %s\n", file);
            rc = 2;
        } else {
            rc = run_stream(&s, f, file);
            fclose(f);
        }
    } else if (!file && isatty(STDIN_FILENO)) {
        rc = repl(&s);
    } else {
        rc = run_stream(&s, stdin, "<stdin>");
    }
    session_fini(&s);
    return rc;
}

void sl_cmd_stellar_usage(FILE *f)
{
    fprintf(
        f,
        "usage: sluice stellar [--vars JSON] [--strict] [--json]     REPL, or stdin by line\n"
        "       sluice stellar -e EXPR [--vars JSON] [--strict] [--json]\n"
        "       sluice stellar -f FILE [--vars JSON] [--strict] [--json]\n"
        "       sluice stellar --functions\n"
        "       sluice stellar --test FILE...\n"
        "       sluice explain EXPR\n"
        "options: --store URL   profile store read by PROFILE_GET / PROFILE_VERBOSE\n"
        "                       (sqlite:PATH, e.g. sqlite:profiles.db, or postgres://host/db)\n");
}

int sl_cmd_stellar(int argc, char **argv)
{
    const char *expr = NULL, *file = NULL, *vars = NULL, *store_url = NULL;
    bool strict = false, json = false, functions = false;
    int test_from = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-e") == 0 && i + 1 < argc) {
            expr = argv[++i];
        } else if (strcmp(a, "-f") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(a, "--vars") == 0 && i + 1 < argc) {
            vars = argv[++i];
        } else if (strcmp(a, "--store") == 0 && i + 1 < argc) {
            store_url = argv[++i];
        } else if (strcmp(a, "--strict") == 0) {
            strict = true;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--functions") == 0) {
            functions = true;
        } else if (strcmp(a, "--test") == 0) {
            test_from = i + 1;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sl_cmd_stellar_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sluice: stellar: unknown or incomplete argument '%s'\n", a);
            sl_cmd_stellar_usage(stderr);
            return 2;
        }
    }
    if ((expr != NULL) + (file != NULL) + functions + (test_from != 0) > 1) {
        fprintf(stderr, "sluice: stellar: -e, -f, --functions and --test exclude each other\n");
        return 2;
    }
    if (functions)
        return list_functions(stdout, NULL);
    if (test_from && test_from >= argc) {
        fprintf(stderr, "sluice: stellar --test needs at least one FILE\n");
        return 2;
    }
    struct sl_store *store = NULL;
    if (store_url) {
        struct sl_diag d;
        sl_diag_init(&d);
        if (sl_store_open(store_url, &store, &d)) {
            fprintf(stderr, "sluice: stellar: %s\n", d.msg);
            return 2;
        }
        sl_store_set_default(store);
    }
    int rc = test_from ? run_tests(argc - test_from, argv + test_from)
                       : run_session(expr, file, vars, strict, json);
    if (store) {
        sl_store_set_default(NULL);
        sl_store_close(store);
    }
    return rc;
}

int sl_cmd_explain(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sluice explain EXPR\n");
        return 2;
    }
    /* the arguments joined by spaces: `sluice explain 1 + 2` works unquoted */
    struct sl_buf src;
    sl_buf_init(&src, MAX_LINE);
    for (int i = 2; i < argc; i++) {
        if ((i > 2 && sl_buf_putc(&src, ' ')) || sl_buf_puts(&src, argv[i])) {
            fprintf(stderr, "sluice: explain: expression too long\n");
            sl_buf_fini(&src);
            return 2;
        }
    }
    const char *text = src.ptr ? src.ptr : "";
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_stellar_prog *p = NULL;
    int rc = sl_stellar_compile(text, src.len, NULL, &p, &d);
    if (rc) {
        if (d.col) {
            fprintf(stderr, "sluice: column %d: %s\n", width(text, d.col - 1) + 1, d.msg);
            show_caret(stderr, "  ", text, src.len, d.col - 1);
        } else {
            fprintf(stderr, "sluice: %s\n", d.msg);
        }
        sl_buf_fini(&src);
        return 1;
    }
    struct sl_buf out;
    sl_buf_init(&out, 64u << 20);
    rc = sl_stellar_disasm(p, &out);
    if (rc) {
        fprintf(stderr, "sluice: explain: %s\n", sl_strerror(rc));
    } else {
        printf("; %s%s\n", text, sl_stellar_is_const(p) ? "   (constant)" : "");
        fputs(out.ptr ? out.ptr : "", stdout);
    }
    sl_buf_fini(&out);
    sl_stellar_free(p);
    sl_buf_fini(&src);
    return rc ? 1 : 0;
}
