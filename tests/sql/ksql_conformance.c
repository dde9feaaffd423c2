/*
 * ksql_conformance.c — runs ksqlDB's own query-validation cases
 * (../shared/conformance/ksql_cases.jsonl) through sluice's SQL engine and prints the pass
 * rate and every failing case.
 *
 *   ksql_conformance FILE [--floor N] [--verbose] [--only SUBSTRING]
 *
 * For each case: a new engine (compat 0.6 for the `legacy_with_key` category), the
 * statements in order, the inputs pushed in order (timestamp 0 when absent), and every record
 * the queries write collected per topic. A case passes when, for every topic its `outputs`
 * name, the records written to that topic are exactly the expected ones in order: key, value
 * (JSON compared by value: 1 and 1.0 are equal, objects by members), timestamp when the case
 * gives one, window bounds and type when it gives them. Exit status 1 when fewer cases pass
 * than the floor (tests/sql/ksql_conformance_floor.txt; `make test` passes it).
 */
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "codec/json.h"
#include "sql/sql_engine.h"
#include "sql/sql_serde.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct got {
    char *topic;
    json_t *key, *value;
    long long ts;
    bool windowed, session;
    long long ws, we;
};

struct run {
    struct got *g;
    size_t n, cap;
};

static json_t *to_json(const struct sl_value *v)
{
    struct sl_buf b;
    sl_buf_init(&b, 64u << 20);
    sl_sql_encode_value(v, &b);
    json_error_t err;
    json_t *j = json_loadb(b.ptr ? b.ptr : "null", b.ptr ? b.len : 4, JSON_DECODE_ANY, &err);
    sl_buf_fini(&b);
    return j ? j : json_null();
}

static void on_emit(void *ud, const struct sl_sql_record *r)
{
    struct run *run = ud;
    if (run->n == run->cap) {
        run->cap = run->cap ? 2 * run->cap : 16;
        run->g = realloc(run->g, run->cap * sizeof *run->g);
    }
    struct got *g = &run->g[run->n++];
    g->topic = strdup(r->topic);
    g->key = to_json(r->key);
    g->value = to_json(r->value);
    g->ts = r->ts_ms;
    g->windowed = r->windowed;
    g->session = r->session;
    g->ws = r->window_start_ms;
    g->we = r->window_end_ms;
}

static bool json_same(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x == y || fabs(x - y) <= 1e-9 * fmax(fabs(x), fabs(y));
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v)
        {
            json_t *w = json_object_get(b, k);
            if (!w || !json_same(v, w))
                return false;
        }
        return true;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_same(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    return json_equal(a, b);
}

static int to_value(json_t *j, struct sl_arena *a, struct sl_value *out)
{
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s)
        return SL_ENOMEM;
    struct sl_diag d;
    sl_diag_init(&d);
    /* parsed values are views into the text: the text lives in the arena */
    size_t n = strlen(s);
    char *t = sl_arena_strndup(a, s, n);
    free(s);
    if (!t)
        return SL_ENOMEM;
    return sl_json_parse_value(a, t, n, NULL, out, &d);
}

static void print_json(const char *label, json_t *j)
{
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    fprintf(stderr, "      %s %s\n", label, s ? s : "?");
    free(s);
}

/* 0 pass, 1 fail (reason printed when verbose) */
static int run_case(json_t *c, bool verbose, char *why, size_t why_len)
{
    const char *cat = json_string_value(json_object_get(c, "category"));
    struct sl_sql_engine_opts o = {.compat06 = cat && strcmp(cat, "legacy_with_key") == 0};
    struct run run = {0};
    struct sl_sql_engine *e = sl_sql_engine_new(&o, on_emit, &run);
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    int result = 1;
    json_t *stmts = json_object_get(c, "statements");
    struct sl_buf script;
    sl_buf_init(&script, 16u << 20);
    for (size_t i = 0; i < json_array_size(stmts); i++) {
        sl_buf_puts(&script, json_string_value(json_array_get(stmts, i)));
        sl_buf_putc(&script, '\n');
    }
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_sql_engine_exec(e, script.ptr, script.len, NULL, &d)) {
        snprintf(why, why_len, "statements refused: %d:%d: %s%s", d.line, d.col, d.msg, d.hint);
        goto out;
    }
    json_t *inputs = json_object_get(c, "inputs");
    for (size_t i = 0; i < json_array_size(inputs); i++) {
        json_t *in = json_array_get(inputs, i);
        struct sl_value k = sl_value_null(), v = sl_value_null();
        json_t *jk = json_object_get(in, "key"), *jv = json_object_get(in, "value");
        if (jk && to_value(jk, &a, &k)) {
            snprintf(why, why_len, "input %zu: bad key", i);
            goto out;
        }
        if (jv && to_value(jv, &a, &v)) {
            snprintf(why, why_len, "input %zu: bad value", i);
            goto out;
        }
        json_t *ts = json_object_get(in, "timestamp");
        sl_sql_engine_push(e, json_string_value(json_object_get(in, "topic")), &k, &v,
                           ts ? (int64_t)json_integer_value(ts) : 0);
    }
    /* compare per topic */
    json_t *outputs = json_object_get(c, "outputs");
    result = 0;
    const char *topics[64];
    size_t nt = 0;
    for (size_t i = 0; i < json_array_size(outputs); i++) {
        const char *t = json_string_value(json_object_get(json_array_get(outputs, i), "topic"));
        bool seen = false;
        for (size_t k = 0; k < nt; k++)
            seen |= strcmp(topics[k], t) == 0;
        if (!seen && nt < 64)
            topics[nt++] = t;
    }
    for (size_t ti = 0; ti < nt && !result; ti++) {
        size_t gi = 0;
        for (size_t i = 0; i < json_array_size(outputs) && !result; i++) {
            json_t *x = json_array_get(outputs, i);
            if (strcmp(json_string_value(json_object_get(x, "topic")), topics[ti]) != 0)
                continue;
            while (gi < run.n && strcmp(run.g[gi].topic, topics[ti]) != 0)
                gi++;
            if (gi >= run.n) {
                snprintf(why, why_len, "topic %s: expected output %zu missing", topics[ti], i);
                result = 1;
                if (verbose)
                    print_json("expected", x);
                break;
            }
            struct got *g = &run.g[gi++];
            json_t *xk = json_object_get(x, "key"), *xv = json_object_get(x, "value");
            json_t *xts = json_object_get(x, "timestamp"), *xw = json_object_get(x, "window");
            bool ok = json_same(xk ? xk : json_null(), g->key) &&
                      json_same(xv ? xv : json_null(), g->value);
            if (ok && xts && json_integer_value(xts) != g->ts)
                ok = false;
            if (ok && xw) {
                json_t *ty = json_object_get(xw, "type");
                bool ses = ty && strcmp(json_string_value(ty), "session") == 0;
                ok = g->windowed && json_integer_value(json_object_get(xw, "start")) == g->ws &&
                     json_integer_value(json_object_get(xw, "end")) == g->we && ses == g->session;
            }
            if (!ok) {
                snprintf(why, why_len, "topic %s: output %zu differs", topics[ti], i);
                result = 1;
                if (verbose) {
                    print_json("expected", x);
                    json_t *gj = json_pack("{s:O,s:O,s:I}", "key", g->key, "value", g->value,
                                           "timestamp", (json_int_t)g->ts);
                    if (g->windowed)
                        json_object_set_new(gj, "window",
                                            json_pack("{s:I,s:I,s:s}", "start", (json_int_t)g->ws,
                                                      "end", (json_int_t)g->we, "type",
                                                      g->session ? "session" : "time"));
                    print_json("got     ", gj);
                    json_decref(gj);
                }
            }
        }
        if (!result) {
            while (gi < run.n && strcmp(run.g[gi].topic, topics[ti]) != 0)
                gi++;
            if (gi < run.n) {
                snprintf(why, why_len, "topic %s: more outputs than expected", topics[ti]);
                result = 1;
                if (verbose) {
                    json_t *gj = json_pack("{s:O,s:O,s:I}", "key", run.g[gi].key, "value",
                                           run.g[gi].value, "timestamp", (json_int_t)run.g[gi].ts);
                    print_json("extra   ", gj);
                    json_decref(gj);
                }
            }
        }
    }
out:
    sl_buf_fini(&script);
    for (size_t i = 0; i < run.n; i++) {
        free(run.g[i].topic);
        json_decref(run.g[i].key);
        json_decref(run.g[i].value);
    }
    free(run.g);
    sl_arena_fini(&a);
    sl_sql_engine_free(e);
    return result;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *only = NULL;
    long floor_ = -1;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--floor") == 0 && i + 1 < argc)
            floor_ = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--verbose") == 0)
            verbose = true;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: ksql_conformance FILE [--floor N] [--verbose] [--only S]\n");
        return 2;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    long pass = 0, total = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *c = json_loads(line, 0, &err);
        if (!c)
            continue;
        const char *name = json_string_value(json_object_get(c, "name"));
        if (only && (!name || !strstr(name, only))) {
            json_decref(c);
            continue;
        }
        total++;
        char why[1024] = "";
        if (verbose)
            fprintf(stderr, "== %s\n", name);
        if (run_case(c, verbose, why, sizeof why) == 0)
            pass++;
        else
            printf("FAIL [%s] %s: %s\n", json_string_value(json_object_get(c, "category")), name,
                   why);
        json_decref(c);
    }
    free(line);
    fclose(f);
    printf("ksql conformance: %ld/%ld cases pass (%.1f%%)\n", pass, total,
           total ? 100.0 * (double)pass / (double)total : 0.0);
    if (floor_ >= 0 && pass < floor_) {
        printf("below the floor of %ld\n", floor_);
        return 1;
    }
    return 0;
}
