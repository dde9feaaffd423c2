/*
 * parquet_int.h — internals shared by parquet.c (the writer) and parquet_schema.c (schemas,
 * their JSON form, inference). Not for other modules.
 */
#ifndef SL_CODEC_PARQUET_INT_H
#define SL_CODEC_PARQUET_INT_H

#include "codec/parquet.h"

struct pq_node {
    char *name;
    uint8_t kind; /* enum sl_pq_kind */
    bool optional;
    uint32_t fixed_len;
    int parent;
    int *kids;
    uint32_t nkids, cap_kids;
    /* set by sl_pq__schema_finish() */
    uint16_t def; /* definition level when this node's value is present */
    uint16_t rep; /* repetition level of this node's entries (lists above it) */
    int col;      /* leaf: column index; else -1 */
};

struct sl_pq_schema {
    struct pq_node *nodes;
    uint32_t count, cap;
    int *top; /* top-level node ids, in order */
    uint32_t ntop, cap_top;
    int *cols; /* leaf node ids, depth-first */
    uint32_t ncols;
    bool finished;
};

static inline bool sl_pq__is_leaf(enum sl_pq_kind k)
{
    return k != SL_PQ_GROUP && k != SL_PQ_LIST;
}

/* Compute levels and the column order. Idempotent. 0 or SL_EINVAL (a list without element,
 * a schema without columns). */
int sl_pq__schema_finish(struct sl_pq_schema *s);

/*
 * Inference: the schema of `count` rows, each a MAP value (an event's fields). Columns in
 * first-seen order, all optional: bool; int64; double (int and double seen); timestamp_us;
 * bytes; json (a map or list seen); string otherwise (strings, IPs, mixed scalars).
 */
struct sl_pq_schema *sl_pq__schema_infer(const struct sl_value *rows, size_t count);

#endif
