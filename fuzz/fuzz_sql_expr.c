/*
 * fuzz_sql_expr.c — libFuzzer target for SQL expression typing, lowering and evaluation
 * (sql_expr.c, lang/fn_sql.c) on whatever the SQL parser accepts.
 *
 * The input is one expression. What parses is compiled against a fixed scope (typed columns
 * of every kind, one untyped); a compile error must carry a message and a line; what compiles
 * is evaluated over a fixed row, as a value, as a predicate and in 0.6 mode. Evaluation may
 * fail only with an error code and a message.
 */
#include "base/arena.h"
#include "lang/stellar.h"
#include "lang/sval.h"
#include "sql/sql_expr.h"
#include "sql/sql_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct sl_sql_type t_int = {.kind = SL_SQL_T_INT};
static struct sl_sql_type t_bigint = {.kind = SL_SQL_T_BIGINT};
static struct sl_sql_type t_double = {.kind = SL_SQL_T_DOUBLE};
static struct sl_sql_type t_string = {.kind = SL_SQL_T_STRING};
static struct sl_sql_type t_arr = {.kind = SL_SQL_T_ARRAY, .elem = &t_string};
static struct sl_sql_type t_map = {.kind = SL_SQL_T_MAP, .key = &t_string, .elem = &t_int};
static struct sl_sql_tfield st_fields[] = {{"F0", &t_int}, {"NM", &t_string}};
static struct sl_sql_type t_struct = {.kind = SL_SQL_T_STRUCT, .fields = st_fields, .nfields = 2};

#define NC 8
static const char *const names[NC] = {"A", "B", "X", "NAME", "ARR", "M", "ST", "U"};
static struct sl_sql_type *const types[NC] = {&t_int, &t_bigint, &t_double, &t_string,
                                              &t_arr, &t_map,    &t_struct, NULL};
static struct sl_value row[NC];
static struct sl_stellar_vm *vm;

static int column(void *ud, const struct sl_sql_expr *col, struct sl_sql_slot *out,
                  struct sl_diag *d)
{
    for (uint32_t i = 0; i < NC; i++)
        if (col->name && !strcmp(names[i], col->name)) {
            out->slot = i;
            out->type = types[i];
            return 0;
        }
    return sl_diag_set(d, SL_ENOENT, "column cannot be resolved");
}

static void setup(void)
{
    static struct sl_value arr[3];
    static struct sl_kv mkv[1], skv[2];
    row[0] = sl_sv_int(7);
    row[1] = sl_sv_long(1271678417000);
    row[2] = sl_sv_double(2.5);
    row[3] = sl_value_str("x.av\xc3\xa9r", 7);
    arr[0] = sl_value_str("a", 1);
    arr[1] = sl_value_null();
    arr[2] = sl_value_str("", 0);
    row[4] = (struct sl_value){.type = SL_V_LIST, .len = 3};
    row[4].u.list = arr;
    mkv[0].key = sl_str_make("status", 6);
    mkv[0].val = sl_sv_int(3);
    row[5] = (struct sl_value){.type = SL_V_MAP, .len = 1};
    row[5].u.map = mkv;
    skv[0].key = sl_str_make("F0", 2);
    skv[0].val = sl_sv_int(42);
    skv[1].key = sl_str_make("NM", 2);
    skv[1].val = sl_value_str("bob", 3);
    row[6] = (struct sl_value){.type = SL_V_MAP, .len = 2};
    row[6].u.map = skv;
    row[7] = sl_value_null();
    vm = sl_stellar_vm_new();
    sl_stellar_vm_set_now(vm, 1472131630748);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vm)
        setup();
    if (size > 4096)
        return 0;
    struct sl_arena a;
    sl_arena_init(&a, 4096, 16u << 20);
    struct sl_sql_expr *e;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_sql_parse_expr((const char *)data, size, &a, &e, &d)) {
        sl_arena_fini(&a);
        return 0;
    }
    for (int mode = 0; mode < 3; mode++) {
        struct sl_sql_scope scope = {.column = column, .compat06 = mode == 2};
        struct sl_stellar_prog *p;
        const struct sl_sql_type *t;
        sl_diag_init(&d);
        int rc = sl_sql_expr_compile(e, &scope, mode == 1, &a, &p, &t, &d);
        if (rc) {
            if (!d.msg[0] || !d.line)
                abort(); /* every error says what and where */
            continue;
        }
        if (!t)
            abort();
        struct sl_value v;
        rc = sl_sql_eval(vm, p, row, NC, &a, &v);
        if (rc && !sl_stellar_vm_error(vm)[0])
            abort();
        bool b;
        (void)sl_sql_eval_bool(vm, p, row, 2, &a, &b); /* a short row: NULL slots */
        sl_stellar_vm_release(vm);
        sl_stellar_free(p);
    }
    sl_arena_fini(&a);
    return 0;
}
