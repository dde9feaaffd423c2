/*
 * parquet.h — a Parquet file writer over sluice values and events.
 *
 * Debian ships no C Parquet library, so sluice writes its own: the subset of the Apache
 * Parquet format that analytics readers (DuckDB, Spark, Athena, pandas/pyarrow) read, written
 * exactly. A file is `PAR1`, row groups of column chunks (an optional dictionary page, then
 * data pages v1), the Thrift compact-protocol FileMetaData, its length, `PAR1`.
 *
 * Schema: a tree of fields. Leaves are the kinds below (physical type + logical annotation);
 * groups nest fields (an optional group adds a definition level); lists use the three-level
 * form `<rep> group name (LIST) { repeated group list { <rep> element } }`. A schema is
 * declared (sl_pq_schema_add, or sl_pq_schema_parse from the JSON text of a YAML tree), or
 * inferred by the writer from the events it buffers before its first row group (see
 * sl_pq_writer_new).
 *
 * Values map onto leaves like this (anything else is rejected with the field and the reason):
 *   bool            bool
 *   int8..uint64    int (range checked)
 *   double          double, int
 *   string          string, ip (textual); int, double, bool, timestamp as their text
 *   json            anything, written as JSON text
 *   bytes           string, bytes;  fixed: string or bytes of exactly fixed_len bytes
 *   timestamp_us/ns timestamp; double or int = seconds since the epoch (Zeek's `ts`)
 *   date            timestamp (its UTC day), int (days since the epoch)
 *   group           map (keys are field names; missing keys are nulls)
 *   list            list
 * Null or missing values need an optional field (or any ancestor optional: the null lands
 * at that ancestor's level).
 *
 * Encodings: PLAIN; RLE/bit-packed hybrid for levels and booleans; RLE_DICTIONARY for
 * strings (string, json, bytes) and integers, falling back to PLAIN for the whole column
 * chunk when the dictionary grows past dict_max_bytes / dict_max_count, or when its first
 * 4,096 values are more than 90% distinct / first 32,768 more than half. Statistics per
 * column chunk: null_count, min_value/max_value (byte arrays up to 64 bytes; longer bounds are
 * left out), nan_count for doubles. Codecs: UNCOMPRESSED, SNAPPY, GZIP, ZSTD.
 *
 * Memory: a writer holds one row group in memory (values encoded PLAIN or as dictionary
 * indices, plus levels) and cuts it when its estimate passes row_group_bytes; every row is
 * also capped (SL_E2BIG). So memory per open file is about row_group_bytes + the dictionaries.
 *
 * Threads: a writer belongs to one thread. Schemas are immutable once given to a writer.
 */
#ifndef SL_CODEC_PARQUET_H
#define SL_CODEC_PARQUET_H

#include "base/err.h"
#include "core/event.h"
#include "core/value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Field kinds: name in schemas, Parquet physical type. */
#define SL_PQ_KINDS(X)                                                                             \
    X(BOOL, "bool")                                                                                \
    X(INT8, "int8")                                                                                \
    X(INT16, "int16")                                                                              \
    X(INT32, "int32")                                                                              \
    X(INT64, "int64")                                                                              \
    X(UINT8, "uint8")                                                                              \
    X(UINT16, "uint16")                                                                            \
    X(UINT32, "uint32")                                                                            \
    X(UINT64, "uint64")                                                                            \
    X(DOUBLE, "double")                                                                            \
    X(STRING, "string")                                                                            \
    X(JSON, "json")                                                                                \
    X(BYTES, "bytes")                                                                              \
    X(FIXED, "fixed")                                                                              \
    X(TS_US, "timestamp_us")                                                                       \
    X(TS_NS, "timestamp_ns")                                                                       \
    X(DATE, "date")                                                                                \
    X(GROUP, "group")                                                                              \
    X(LIST, "list")

enum sl_pq_kind {
#define SL_PQ_KIND_ENUM(n, s) SL_PQ_##n,
    SL_PQ_KINDS(SL_PQ_KIND_ENUM)
#undef SL_PQ_KIND_ENUM
        SL_PQ__KIND_COUNT
};

#define SL_PQ_CODECS(X)                                                                            \
    X(UNCOMPRESSED, "uncompressed", 0)                                                             \
    X(SNAPPY, "snappy", 1)                                                                         \
    X(GZIP, "gzip", 2)                                                                             \
    X(ZSTD, "zstd", 6)

enum sl_pq_codec {
#define SL_PQ_CODEC_ENUM(n, s, id) SL_PQ_CODEC_##n,
    SL_PQ_CODECS(SL_PQ_CODEC_ENUM)
#undef SL_PQ_CODEC_ENUM
        SL_PQ__CODEC_COUNT
};

#define SL_PQ_MAX_DEPTH  16   /* nesting of groups and lists */
#define SL_PQ_MAX_FIELDS 4096 /* schema nodes */
#define SL_PQ_ROOT       (-1)

const char *sl_pq_kind_name(enum sl_pq_kind k);
/* Kind by name ("string", "timestamp_us", also "struct" for group). -1 when unknown. */
int sl_pq_kind_parse(const char *name, size_t len);
const char *sl_pq_codec_name(enum sl_pq_codec c);
int sl_pq_codec_parse(const char *name);

/* ---- schemas */
struct sl_pq_schema;
struct sl_pq_schema *sl_pq_schema_new(void);
void sl_pq_schema_free(struct sl_pq_schema *s);
/*
 * Add a field under `parent` (SL_PQ_ROOT, a GROUP, or a LIST: a list takes exactly one child,
 * its element, whose name is ignored). fixed_len only for FIXED (1..65536). Returns the new
 * node's id (>= 0), or SL_EINVAL (bad parent, duplicate name, bad fixed_len) / SL_ELIMIT.
 */
int sl_pq_schema_add(struct sl_pq_schema *s, int parent, const char *name, enum sl_pq_kind k,
                     bool optional, uint32_t fixed_len);
/*
 * Parse a schema from JSON text (the form a YAML `schema:` tree or a schema_file takes):
 *   {"ts": "timestamp_us", "uid": "string!", "id": {"orig_h": "string"}, "tags": ["string"]}
 * A string names a leaf kind ("fixed(16)" for FIXED), a trailing "!" makes it required; an
 * object is an optional group (required: {"!": true, ...} is not supported: groups are
 * optional); a one-element array is an optional list of that element. 0 or SL_EPARSE /
 * SL_EINVAL with d set.
 */
int sl_pq_schema_parse(const char *json, size_t len, struct sl_pq_schema **out, struct sl_diag *d);
/* Number of top-level fields and leaf columns. */
uint32_t sl_pq_schema_fields(const struct sl_pq_schema *s);
uint32_t sl_pq_schema_columns(const struct sl_pq_schema *s);
/* Render the schema back as JSON text (the sl_pq_schema_parse form). */
int sl_pq_schema_to_json(const struct sl_pq_schema *s, struct sl_buf *out);

/* ---- writers */
struct sl_pq_opts {
    enum sl_pq_codec codec;
    uint64_t row_group_bytes; /* 0: 64 MiB (estimate of buffered data) */
    uint32_t page_bytes;      /* 0: 1 MiB (uncompressed values per data page) */
    uint32_t page_rows;       /* 0: 20000 levels per data page */
    uint32_t dict_max_bytes;  /* 0: 1 MiB of dictionary entries per column chunk */
    uint32_t dict_max_count;  /* 0: 65536 entries */
    int zstd_level;           /* 0: 3 */
    uint32_t infer_max_rows;  /* schema inference: rows buffered before the schema is fixed
                                 (0: until the first row group is cut) */
};

/* Where file bytes go: all n bytes or a negative SL_E* code. */
typedef int (*sl_pq_write_fn)(void *ctx, const void *p, size_t n);

/* Why a row was rejected: the field path ("id.orig_h", "tags[2]") and the reason. */
struct sl_pq_reject {
    char field[128];
    char reason[160];
};

struct sl_pq_writer;
/*
 * New writer. `schema` (the writer takes it; NULL: infer from the events appended before the
 * first row group is cut, see docs/components/parquet.md). Bytes go to fn(ctx) as they are
 * produced; `PAR1` is written at once. Aborts on OOM (fixed size).
 */
struct sl_pq_writer *sl_pq_writer_new(struct sl_pq_schema *schema, const struct sl_pq_opts *o,
                                      sl_pq_write_fn fn, void *ctx);
/* Add a key-value pair to the footer (copied). 0 or SL_ENOMEM. */
int sl_pq_writer_kv(struct sl_pq_writer *w, const char *key, const char *value);
/*
 * Append one row: vals[i] is the value of top-level field i (schema order); NULL or a null
 * value for a missing one. Needs a schema (declared, or already inferred). 0; SL_ETYPE /
 * SL_ERANGE / SL_EUTF8 with *rej filled for a row that does not fit (nothing is written);
 * SL_E2BIG (the row is too large); SL_EIO etc. from the write function; after an I/O or
 * memory error the writer is failed and every later call returns that error.
 */
int sl_pq_write_row(struct sl_pq_writer *w, const struct sl_value *const *vals,
                    struct sl_pq_reject *rej);
/* Append one event (top-level fields by name). Errors as sl_pq_write_row. */
int sl_pq_append_event(struct sl_pq_writer *w, const struct sl_event *ev, struct sl_pq_reject *rej);
/* Called per rejected event of sl_pq_append (index in the batch). */
typedef void (*sl_pq_reject_fn)(void *ctx, uint32_t index, const struct sl_pq_reject *rej);
/*
 * Append every event of a batch; events that do not fit are passed to on_reject (may be
 * NULL) and skipped. Returns the number of events written (>= 0) or a negative error that
 * failed the writer.
 */
int64_t sl_pq_append(struct sl_pq_writer *w, const struct sl_batch *b, sl_pq_reject_fn on_reject,
                     void *ctx);
/* Cut the row group now (no-op when empty). */
int sl_pq_writer_flush(struct sl_pq_writer *w);
/* Write the last row group and the footer. The writer must still be freed. 0 or error. */
int sl_pq_writer_close(struct sl_pq_writer *w);
void sl_pq_writer_free(struct sl_pq_writer *w);

/* Rows appended (written or buffered), bytes handed to fn so far, bytes buffered. */
uint64_t sl_pq_writer_rows(const struct sl_pq_writer *w);
uint64_t sl_pq_writer_bytes(const struct sl_pq_writer *w);
uint64_t sl_pq_writer_buffered(const struct sl_pq_writer *w);
/* Row groups written so far. */
uint32_t sl_pq_writer_row_groups(const struct sl_pq_writer *w);
/* The schema (declared or inferred; NULL while still inferring). */
const struct sl_pq_schema *sl_pq_writer_schema(const struct sl_pq_writer *w);

/* A write function for a file descriptor (ctx: pointer to the int fd). */
int sl_pq_write_fd(void *ctx, const void *p, size_t n);

#endif
