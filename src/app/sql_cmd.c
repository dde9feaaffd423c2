/*
 * sql_cmd.c — `sluice sql` (see sql_cmd.h).
 *
 *   sluice sql [--server http://HOST:PORT] [--transform NAME]
 *
 * Statements end at ';' and may span lines. Shell commands (at the start of a statement):
 *   .push TOPIC {json}    feed one record to TOPIC (standalone)
 *   .load TOPIC FILE      feed every JSON line of FILE (standalone)
 *   .help  .quit
 * Push queries (SELECT ... EMIT CHANGES) print an aligned table: the header once, then a row
 * per result. Remote: until LIMIT or Ctrl-C. Standalone: as pushed records produce them.
 *
 * DESIGN: the standalone engine is driven with sl_sqlcat_run (io/xf_sql.h), so statement
 * results and push-query columns are the same the REST API reports; remote mode is a libcurl
 * client of /ksql and /query whose response is read line by line as it streams.
 */
#include "app/sql_cmd.h"

#include "api/ksql_api.h"
#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "codec/json.h"
#include "io/xf_sql.h"

#include <curl/curl.h>
#include <errno.h>
#include <histedit.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define COLW 18

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- table printing */

static void print_cell(const char *s, size_t n)
{
    printf("|%-*.*s", COLW, (int)n, s);
}

static void print_rule(uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        putchar('+');
        for (int k = 0; k < COLW; k++)
            putchar('-');
    }
    printf("+\n");
}

static void print_header(const char *const *names, uint32_t n)
{
    print_rule(n);
    for (uint32_t i = 0; i < n; i++)
        print_cell(names[i], strlen(names[i]));
    printf("|\n");
    print_rule(n);
}

/* a JSON array's elements as cells (strings without quotes) */
static void print_row_values(const struct sl_value *arr)
{
    struct sl_buf b;
    sl_buf_init(&b, 1u << 20);
    for (uint32_t i = 0; arr->type == SL_V_LIST && i < arr->len; i++) {
        const struct sl_value *v = &arr->u.list[i];
        sl_buf_reset(&b);
        if (v->type == SL_V_STRING)
            sl_buf_append(&b, v->u.s, v->len);
        else
            sl_json_write_value(&b, v);
        print_cell(b.ptr ? b.ptr : "", b.len);
    }
    printf("|\n");
    fflush(stdout);
    sl_buf_fini(&b);
}

static const struct sl_value *jget(const struct sl_value *m, const char *k)
{
    if (!m || m->type != SL_V_MAP)
        return NULL;
    for (uint32_t i = 0; i < m->len; i++)
        if (sl_str_eq_c(m->u.map[i].key, k))
            return &m->u.map[i].val;
    return NULL;
}

/* ---- standalone */

struct pq {
    struct sl_sqlcat_source out;
    int64_t limit, printed;
};

struct local {
    struct sl_sql_engine *e;
    struct pq **pqs;
    uint32_t npqs;
    int failed;
};

static void local_emit(void *ud, const struct sl_sql_record *r)
{
    struct local *L = ud;
    for (uint32_t i = 0; i < L->npqs; i++) {
        struct pq *q = L->pqs[i];
        if (strcmp(q->out.topic, r->topic) != 0 || (q->limit >= 0 && q->printed >= q->limit))
            continue;
        struct sl_buf b;
        sl_buf_init(&b, 16u << 20);
        sl_ksql_json_row(&b, &q->out, r);
        struct sl_arena a;
        sl_arena_init(&a, 4096, 16u << 20);
        struct sl_value v;
        if (!sl_json_parse_value(&a, b.ptr, b.len, NULL, &v, NULL))
            print_row_values(&v);
        sl_arena_fini(&a);
        sl_buf_fini(&b);
        q->printed++;
        if (q->limit >= 0 && q->printed >= q->limit)
            printf("Limit Reached\n");
    }
}

static int local_cb(void *ud, struct sl_sql_engine *e, const struct sl_sqlcat_result *r)
{
    struct local *L = ud;
    if (r->rc) {
        fprintf(stderr, "error: %u:%u: %s%s\n", r->d->line, r->d->col, r->d->msg, r->d->hint);
        L->failed = 1;
        return 1;
    }
    if (r->st->kind == SL_SQL_S_SELECT && r->query_id) {
        struct pq *q = sl_xcalloc(1, sizeof *q);
        if (sl_sqlcat_query_output(e, r->query_id, &q->out)) {
            sl_free(q);
            return 0;
        }
        q->limit = r->st->query ? r->st->query->limit : -1;
        const char **names = sl_xcalloc(q->out.nfields + 1, sizeof *names);
        for (uint32_t i = 0; i < q->out.nfields; i++)
            names[i] = q->out.fields[i].name;
        print_header(names, q->out.nfields);
        sl_free(names);
        L->pqs = sl_xrealloc(L->pqs, (L->npqs + 1) * sizeof *L->pqs);
        L->pqs[L->npqs++] = q;
        return 0;
    }
    if (*r->message)
        printf("%s\n", r->message);
    return 0;
}

static void local_push(struct local *L, const char *topic, const char *json, size_t n)
{
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    struct sl_value v;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_json_parse_value(&a, json, n, NULL, &v, &d)) {
        fprintf(stderr, "error: not JSON: %s\n", d.msg);
        L->failed = 1;
    } else {
        const struct sl_value *ts = jget(&v, "ROWTIME");
        sl_sql_engine_push(L->e, topic, NULL, &v, ts && ts->type == SL_V_INT ? ts->u.i : 0);
    }
    sl_arena_fini(&a);
}

/* ---- remote */

struct remote {
    const char *server;
    const char *transform;
    CURL *curl;
    int failed;
};

struct stream {
    struct sl_buf line;
    bool header;
    int status;
};

static void remote_line(struct stream *s, const char *p, size_t n)
{
    /* /query elements: "[{header}", ",\n{row}" ... strip separators */
    while (n && (*p == '[' || *p == ',' || *p == ' '))
        p++, n--;
    while (n && (p[n - 1] == ']' || p[n - 1] == ',' || p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    if (!n)
        return;
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    struct sl_value v;
    if (!sl_json_parse_value(&a, p, n, NULL, &v, NULL)) {
        const struct sl_value *h = jget(&v, "header"), *row = jget(&v, "row");
        const struct sl_value *fm = jget(&v, "finalMessage"), *err = jget(&v, "message");
        if (h) {
            const struct sl_value *cn = jget(h, "columnNames");
            uint32_t k = cn && cn->type == SL_V_LIST ? cn->len : 0;
            char **names = sl_xcalloc(k + 1, sizeof *names);
            for (uint32_t i = 0; i < k; i++)
                names[i] = cn->u.list[i].type == SL_V_STRING
                               ? sl_xstrndup(cn->u.list[i].u.s, cn->u.list[i].len)
                               : sl_xstrdup("?");
            print_header((const char *const *)names, k);
            for (uint32_t i = 0; i < k; i++)
                sl_free(names[i]);
            sl_free(names);
        } else if (row) {
            const struct sl_value *cols = jget(row, "columns");
            if (cols)
                print_row_values(cols);
        } else if (fm && fm->type == SL_V_STRING) {
            printf("%.*s\n", (int)fm->len, fm->u.s);
        } else if (err && err->type == SL_V_STRING) {
            fprintf(stderr, "error: %.*s\n", (int)err->len, err->u.s);
        }
    }
    sl_arena_fini(&a);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct stream *s = ud;
    size_t n = size * nmemb;
    for (size_t i = 0; i < n; i++) {
        if (ptr[i] == '\n') {
            remote_line(s, s->line.ptr ? s->line.ptr : "", s->line.len);
            sl_buf_reset(&s->line);
        } else if (sl_buf_putc(&s->line, ptr[i])) {
            return 0;
        }
    }
    return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)ud, (void)a, (void)b, (void)c, (void)d;
    return interrupted ? 1 : 0;
}

static int post(struct remote *R, const char *path, const char *stmt, struct sl_buf *resp,
                struct stream *st)
{
    struct sl_buf body, url;
    sl_buf_init(&body, 8u << 20);
    sl_buf_init(&url, 8192);
    sl_buf_puts(&body, "{\"ksql\":");
    sl_json_write_string(&body, stmt, strlen(stmt));
    sl_buf_puts(&body, ",\"streamsProperties\":{}}");
    sl_buf_appendf(&url, "%s%s%s%s", R->server, path, R->transform ? "?transform=" : "",
                   R->transform ? R->transform : "");
    CURL *c = R->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url.ptr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.ptr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, st);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    (void)resp;
    interrupted = 0;
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdr);
    sl_buf_fini(&body);
    sl_buf_fini(&url);
    if (st->line.len) {
        remote_line(st, st->line.ptr, st->line.len);
        sl_buf_reset(&st->line);
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return 0;
    if (rc != CURLE_OK) {
        fprintf(stderr, "error: %s: %s\n", R->server, curl_easy_strerror(rc));
        return 1;
    }
    return code == 200 ? 0 : 1;
}

/* /ksql's answer: a status message, a listing, or an error */
static void print_entity(const struct sl_value *o)
{
    const struct sl_value *t = jget(o, "@type");
    if (!t || t->type != SL_V_STRING)
        return;
    struct sl_str ty = {t->u.s, t->len};
    if (sl_str_eq_c(ty, "currentStatus")) {
        const struct sl_value *m = jget(jget(o, "commandStatus"), "message");
        if (m && m->type == SL_V_STRING)
            printf("%.*s\n", (int)m->len, m->u.s);
    } else if (sl_str_eq_c(ty, "streams") || sl_str_eq_c(ty, "tables")) {
        const struct sl_value *l = jget(o, sl_str_eq_c(ty, "streams") ? "streams" : "tables");
        const char *names[] = {"Name", "Topic", "Format"};
        print_header(names, 3);
        for (uint32_t i = 0; l && l->type == SL_V_LIST && i < l->len; i++) {
            const char *k[] = {"name", "topic", "valueFormat"};
            for (int j = 0; j < 3; j++) {
                const struct sl_value *v = jget(&l->u.list[i], k[j]);
                if (v && v->type == SL_V_STRING)
                    print_cell(v->u.s, v->len);
                else
                    print_cell("", 0);
            }
            printf("|\n");
        }
    } else if (sl_str_eq_c(ty, "statement_error") || sl_str_eq_c(ty, "generic_error")) {
        const struct sl_value *m = jget(o, "message");
        if (m && m->type == SL_V_STRING)
            fprintf(stderr, "error: %.*s\n", (int)m->len, m->u.s);
    } else {
        struct sl_buf b;
        sl_buf_init(&b, 64u << 20);
        sl_json_write_value(&b, o);
        printf("%.*s\n", (int)b.len, b.ptr ? b.ptr : "");
        sl_buf_fini(&b);
    }
}

struct collect {
    struct sl_buf all;
};

static size_t on_collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct collect *c = ud;
    return sl_buf_append(&c->all, ptr, size * nmemb) ? 0 : size * nmemb;
}

static int remote_exec(struct remote *R, const char *stmt, bool select)
{
    if (select) {
        struct stream st = {0};
        sl_buf_init(&st.line, 64u << 20);
        int rc = post(R, "/query", stmt, NULL, &st);
        sl_buf_fini(&st.line);
        return rc;
    }
    struct collect c;
    sl_buf_init(&c.all, 64u << 20);
    struct sl_buf body;
    sl_buf_init(&body, 8u << 20);
    sl_buf_puts(&body, "{\"ksql\":");
    sl_json_write_string(&body, stmt, strlen(stmt));
    sl_buf_puts(&body, ",\"streamsProperties\":{}}");
    struct sl_buf url;
    sl_buf_init(&url, 8192);
    sl_buf_appendf(&url, "%s/ksql%s%s", R->server, R->transform ? "?transform=" : "",
                   R->transform ? R->transform : "");
    CURL *cu = R->curl;
    curl_easy_reset(cu);
    curl_easy_setopt(cu, CURLOPT_URL, url.ptr);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body.ptr);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_collect);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, &c);
    CURLcode rc = curl_easy_perform(cu);
    long code = 0;
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
    int ret = 0;
    if (rc != CURLE_OK) {
        fprintf(stderr, "error: %s: %s\n", R->server, curl_easy_strerror(rc));
        ret = 1;
    } else {
        struct sl_arena a;
        sl_arena_init(&a, 4096, 64u << 20);
        struct sl_value v;
        if (!sl_json_parse_value(&a, c.all.ptr ? c.all.ptr : "", c.all.len, NULL, &v, NULL)) {
            if (v.type == SL_V_LIST)
                for (uint32_t i = 0; i < v.len; i++)
                    print_entity(&v.u.list[i]);
            else
                print_entity(&v);
        }
        sl_arena_fini(&a);
        ret = code == 200 ? 0 : 1;
    }
    sl_buf_fini(&url);
    sl_buf_fini(&body);
    sl_buf_fini(&c.all);
    return ret;
}

/* ---- the shell */

struct shell {
    struct local *L;  /* standalone */
    struct remote *R; /* --server */
};

static bool starts_ci(const char *s, const char *w)
{
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    return strncasecmp(s, w, strlen(w)) == 0;
}

static void help(void)
{
    printf("Statements end with ';' and may span lines.\n"
           "  .push TOPIC {json}   feed one record (standalone)\n"
           "  .load TOPIC FILE     feed a file of JSON lines (standalone)\n"
           "  .help  .quit (or Ctrl-D)\n");
}

static int dot_command(struct shell *sh, char *line)
{
    char *p = line;
    while (*p == ' ')
        p++;
    if (strncmp(p, ".quit", 5) == 0 || strncmp(p, ".exit", 5) == 0)
        return -1;
    if (strncmp(p, ".help", 5) == 0) {
        help();
        return 0;
    }
    bool push = strncmp(p, ".push ", 6) == 0, load = strncmp(p, ".load ", 6) == 0;
    if ((push || load) && !sh->L) {
        fprintf(stderr, "error: .push/.load feed the standalone engine (not --server)\n");
        return 1;
    }
    if (push || load) {
        p += 6;
        while (*p == ' ')
            p++;
        char *topic = p;
        while (*p && *p != ' ')
            p++;
        if (*p)
            *p++ = 0;
        while (*p == ' ')
            p++;
        size_t n = strlen(p);
        while (n && (p[n - 1] == '\n' || p[n - 1] == ' '))
            p[--n] = 0;
        if (push) {
            local_push(sh->L, topic, p, n);
            return 0;
        }
        FILE *f = fopen(p, "r");
        if (!f) {
            fprintf(stderr, "error: cannot open %s\n", p);
            return 1;
        }
        char buf[65536];
        while (fgets(buf, sizeof buf, f))
            if (buf[0] != '\n')
                local_push(sh->L, topic, buf, strlen(buf));
        fclose(f);
        return 0;
    }
    fprintf(stderr, "error: unknown command %s (.help)\n", p);
    return 1;
}

/* true when text holds a complete statement: ends with ';' outside quotes */
static bool complete(const char *s, size_t n)
{
    char q = 0;
    size_t last = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (q) {
            if (c == q)
                q = 0;
        } else if (c == '\'' || c == '"' || c == '`') {
            q = c;
        } else if (c == '-' && i + 1 < n && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
        } else if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
            last = i;
            any = true;
        }
    }
    return !q && any && s[last] == ';';
}

static int run_stmt(struct shell *sh, const char *text)
{
    if (sh->R)
        return remote_exec(sh->R, text, starts_ci(text, "SELECT"));
    struct sl_diag d;
    sl_diag_init(&d);
    sh->L->failed = 0;
    int rc = sl_sqlcat_run(sh->L->e, text, strlen(text), true, local_cb, sh->L, &d);
    if (rc && !sh->L->failed)
        fprintf(stderr, "error: %u:%u: %s%s\n", d.line, d.col, d.msg, d.hint);
    fflush(stdout);
    return rc ? 1 : 0;
}

static char *prompt_main(EditLine *el)
{
    (void)el;
    static char p[] = "sql> ";
    return p;
}

static char *prompt_cont(EditLine *el)
{
    (void)el;
    static char p[] = "   > ";
    return p;
}

static int loop(struct shell *sh, bool tty)
{
    EditLine *el = NULL;
    History *h = NULL;
    HistEvent ev;
    char histfile[PATH_MAX] = "";
    struct sigaction old_sa;
    if (tty) {
        el = el_init("sluice-sql", stdin, stdout, stderr);
        h = history_init();
        history(h, &ev, H_SETSIZE, 1000);
        const char *home = getenv("HOME");
        if (home && *home) {
            snprintf(histfile, sizeof histfile, "%s/.sluice_sql_history", home);
            history(h, &ev, H_LOAD, histfile);
        }
        el_set(el, EL_EDITOR, "emacs");
        el_set(el, EL_PROMPT, prompt_main);
        el_set(el, EL_HIST, history, h);
        el_set(el, EL_SIGNAL, 1);
        el_source(el, NULL);
        printf("sluice sql (%s). Statements end with ';'. .help for help, Ctrl-D to leave.\n",
               sh->R ? sh->R->server : "standalone engine");
    }
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    struct sl_buf stmt;
    sl_buf_init(&stmt, 4u << 20);
    char buf[65536];
    int status = 0;
    for (;;) {
        const char *line;
        if (tty) {
            int count = 0;
            el_set(el, EL_PROMPT, stmt.len ? prompt_cont : prompt_main);
            errno = 0;
            line = el_gets(el, &count);
            if (!line && errno == EINTR && interrupted) {
                interrupted = 0;
                sl_buf_reset(&stmt);
                printf("^C\n");
                continue;
            }
            if (!line || count <= 0)
                break;
        } else {
            line = fgets(buf, sizeof buf, stdin);
            if (!line)
                break;
        }
        if (!stmt.len) {
            const char *p = line;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '\n' || !*p)
                continue;
            if (*p == '.') {
                char *copy = sl_xstrdup(p);
                int rc = dot_command(sh, copy);
                sl_free(copy);
                if (rc < 0)
                    break;
                if (rc)
                    status = 1;
                if (tty)
                    history(h, &ev, H_ENTER, line);
                continue;
            }
        }
        if (sl_buf_puts(&stmt, line)) {
            fprintf(stderr, "error: statement too long\n");
            sl_buf_reset(&stmt);
            continue;
        }
        if (!complete(stmt.ptr, stmt.len))
            continue;
        if (tty) {
            while (stmt.len && stmt.ptr[stmt.len - 1] == '\n')
                stmt.ptr[--stmt.len] = 0;
            history(h, &ev, H_ENTER, stmt.ptr);
        }
        if (run_stmt(sh, stmt.ptr))
            status = 1;
        sl_buf_reset(&stmt);
    }
    if (stmt.len && !tty) {
        fprintf(stderr, "error: statement without ';' at the end of input\n");
        status = 1;
    }
    sl_buf_fini(&stmt);
    sigaction(SIGINT, &old_sa, NULL);
    if (tty) {
        putchar('\n');
        if (*histfile)
            history(h, &ev, H_SAVE, histfile);
        history_end(h);
        el_end(el);
    }
    return tty ? 0 : status;
}

void sl_cmd_sql_usage(FILE *f)
{
    fprintf(f, "usage: sluice sql [--server http://HOST:PORT] [--transform NAME]\n"
               "  an interactive SQL shell: statements end with ';'. With --server, statements\n"
               "  go to a running sluice's /ksql and SELECT ... EMIT CHANGES to /query (rows\n"
               "  until LIMIT or Ctrl-C); alone, a standalone engine fed with\n"
               "  .push TOPIC {json} and .load TOPIC FILE.\n");
}

int sl_cmd_sql(int argc, char **argv)
{
    const char *server = NULL, *transform = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            server = argv[++i];
        } else if (strcmp(argv[i], "--transform") == 0 && i + 1 < argc) {
            transform = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            sl_cmd_sql_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sluice sql: unknown argument '%s'\n", argv[i]);
            sl_cmd_sql_usage(stderr);
            return 2;
        }
    }
    struct shell sh = {0};
    struct local L = {0};
    struct remote R = {0};
    int rc;
    if (server) {
        char *s = sl_xstrdup(server);
        size_t n = strlen(s);
        while (n && s[n - 1] == '/')
            s[--n] = 0;
        R.server = s;
        R.transform = transform;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        R.curl = curl_easy_init();
        sh.R = &R;
        rc = loop(&sh, isatty(STDIN_FILENO));
        curl_easy_cleanup(R.curl);
        curl_global_cleanup();
        sl_free(s);
    } else {
        L.e = sl_sql_engine_new(NULL, local_emit, &L);
        sh.L = &L;
        rc = loop(&sh, isatty(STDIN_FILENO));
        for (uint32_t i = 0; i < L.npqs; i++) {
            sl_sqlcat_source_fini(&L.pqs[i]->out);
            sl_free(L.pqs[i]);
        }
        sl_free(L.pqs);
        sl_sql_engine_free(L.e);
    }
    return rc;
}
