/*
 * fuzz_sql_serde.c — libFuzzer target for SQL row (de)serialisation (src/sql/sql_serde.c).
 *
 * Every input is parsed as JSON and decoded against a fixed schema with every scalar type and
 * nested STRUCT / ARRAY / MAP columns. A decoded row must encode to JSON that parses and
 * decodes again to the same encoding (a fixed point after one round); a failure must say
 * which column, or that the record is not an object. ASan catches reads outside the input.
 */
#include "base/arena.h"
#include "base/buf.h"
#include "codec/json.h"
#include "sql/sql_serde.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct sl_sql_type T_INT = {.kind = SL_SQL_T_INT};
static struct sl_sql_type T_BIGINT = {.kind = SL_SQL_T_BIGINT};
static struct sl_sql_type T_DOUBLE = {.kind = SL_SQL_T_DOUBLE};
static struct sl_sql_type T_STRING = {.kind = SL_SQL_T_STRING};
static struct sl_sql_type T_BOOL = {.kind = SL_SQL_T_BOOLEAN};
static struct sl_sql_type T_TS = {.kind = SL_SQL_T_TIMESTAMP};
static struct sl_sql_type T_BYTES = {.kind = SL_SQL_T_BYTES};
static struct sl_sql_type T_DEC = {.kind = SL_SQL_T_DECIMAL, .precision = 9, .scale = 2};
static struct sl_sql_type T_ARR_STR = {.kind = SL_SQL_T_ARRAY, .elem = &T_STRING};
static struct sl_sql_type T_ARR_INT = {.kind = SL_SQL_T_ARRAY, .elem = &T_INT};
static struct sl_sql_tfield IN_F[] = {{"X", &T_DOUBLE}};
static struct sl_sql_type T_IN = {.kind = SL_SQL_T_STRUCT, .fields = IN_F, .nfields = 1};
static struct sl_sql_tfield S_F[] = {{"A", &T_INT}, {"B", &T_ARR_STR}, {"In", &T_IN}};
static struct sl_sql_type T_S = {.kind = SL_SQL_T_STRUCT, .fields = S_F, .nfields = 3};
static struct sl_sql_type T_M = {.kind = SL_SQL_T_MAP, .key = &T_STRING, .elem = &T_ARR_INT};
static struct sl_sql_tfield E_F[] = {{"A", &T_INT}, {"B", &T_STRING}};
static struct sl_sql_type T_E = {.kind = SL_SQL_T_STRUCT, .fields = E_F, .nfields = 2};
static struct sl_sql_type T_L = {.kind = SL_SQL_T_ARRAY, .elem = &T_E};

static const struct sl_sql_column COLS[] = {
    {"NAME", &T_STRING}, {"PID", &T_INT}, {"BIG", &T_BIGINT},  {"D", &T_DOUBLE},
    {"B", &T_BOOL},      {"TS", &T_TS},   {"BYTES", &T_BYTES}, {"Key", &T_STRING},
    {"S", &T_S},         {"M", &T_M},     {"L", &T_L},         {"DEC", &T_DEC},
};
#define NCOLS (sizeof COLS / sizeof COLS[0])

/* parse + decode + encode; 0 with the row's JSON in out, else the decode's result */
static int cycle(const char *p, size_t n, struct sl_buf *out)
{
    struct sl_json_opts o = {.max_depth = 32, .max_len = 1 << 20};
    struct sl_arena a;
    sl_arena_init(&a, 4096, 0);
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_value v, row[NCOLS];
    char err[256];
    int rc = sl_json_parse_value(&a, p, n, &o, &v, &d);
    if (rc) {
        sl_arena_fini(&a);
        return 2; /* not JSON: the parser's business (fuzz_json) */
    }
    rc = sl_sql_decode_row(&v, COLS, NCOLS, &a, row, err, sizeof err);
    if (rc < 0) {
        if (rc != SL_EINVAL && rc != SL_ENOMEM)
            abort();
        if (rc == SL_EINVAL && strncmp(err, "column '", 8) != 0 &&
            strncmp(err, "expected a JSON object", 22) != 0)
            abort(); /* every failure says where */
    } else {
        if (sl_sql_encode_row(COLS, row, NCOLS, out))
            abort();
        if (rc == 1)
            for (size_t i = 0; i < NCOLS; i++)
                if (row[i].type != SL_V_NULL)
                    abort();
    }
    sl_arena_fini(&a);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy so ASan sees reads past the end exactly */
    char *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    struct sl_buf first, second;
    sl_buf_init(&first, 0);
    sl_buf_init(&second, 0);
    if (cycle(p, size, &first) == 0) {
        /* our own output decodes again, to the same text */
        if (cycle(first.ptr, first.len, &second) != 0)
            abort();
        if (first.len != second.len || memcmp(first.ptr, second.ptr, first.len) != 0)
            abort();
    }
    sl_buf_fini(&second);
    sl_buf_fini(&first);
    free(p);
    return 0;
}
