/*
 * ksql_api.h — ksqlDB's REST API on the API listener: POST /ksql (statements), POST /query
 * (a push query streamed as ksqlDB's chunked JSON array) and POST /query-stream (the newer
 * delimited format: a header object, then one JSON array per row, a line each).
 *
 * The JSON shaping functions are pure (unit-tested in tests/unit/api/ksql_api_test.c); the
 * handler runs statements on the pipeline's `sql` transform (io/xf_sql.h).
 */
#ifndef SL_API_KSQL_API_H
#define SL_API_KSQL_API_H

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "core/pipeline.h"
#include "io/xf_sql.h"

#include <stdbool.h>
#include <stddef.h>

#define SL_KSQL_BAD_STATEMENT  40001
#define SL_KSQL_QUERY_ENDPOINT 40002

/* A request body {"ksql"|"sql": "...", "streamsProperties"|"properties": {k: v}}: views into
 * arena a. 0 or SL_EPARSE/SL_EINVAL with d->msg. */
struct sl_ksql_req {
    const char *ksql;
    size_t ksql_len;
    struct sl_xf_sql_prop *props;
    uint32_t nprops;
};
int sl_ksql_parse_body(const char *body, size_t len, struct sl_arena *a, struct sl_ksql_req *out,
                       struct sl_diag *d);

/* Result objects of /ksql (each appends one JSON object) */
void sl_ksql_json_status(struct sl_buf *b, const char *text, const struct sl_sql_stmt *st,
                         const char *message, const char *query_id);
void sl_ksql_json_sources(struct sl_buf *b, const char *text, bool tables,
                          const struct sl_sqlcat_source *s, uint32_t n);
void sl_ksql_json_queries(struct sl_buf *b, const char *text, const struct sl_sqlcat_query *q,
                          uint32_t n);
void sl_ksql_json_description(struct sl_buf *b, const char *text, const struct sl_sqlcat_source *s);
void sl_ksql_json_properties(struct sl_buf *b, const char *text, const char *message);
/* {"@type":"statement_error","error_code":..,"message":..,"statementText":..,"entities":[..]}
 * (entities: the JSON of the objects before, without brackets; may be NULL) */
void sl_ksql_json_error(struct sl_buf *b, int code, const char *message, const char *text,
                        const char *entities);

/* The values of a record in the order of `out`'s fields: key columns from the key, the rest
 * from the value (NULL when absent). Appends a JSON array. */
void sl_ksql_json_row(struct sl_buf *b, const struct sl_sqlcat_source *out,
                      const struct sl_sql_record *r);
/* /query's header element {"header":{"queryId":..,"schema":"`A` STRING, ..",
 * "columnNames":[..],"columnTypes":[..]}}, and /query-stream's {"queryId":..,
 * "columnNames":[..],"columnTypes":[..]} */
void sl_ksql_json_header(struct sl_buf *b, const struct sl_sqlcat_source *out, bool stream_fmt);

/* ---- the HTTP side (server.c) */
struct MHD_Connection;
/* True for /ksql, /query, /query-stream. */
bool sl_ksql_api_match(const char *url);
/* The MHD access handler for those paths (returns an enum MHD_Result). MHD thread. */
int sl_ksql_api_handle(struct sl_pipeline *p, struct MHD_Connection *conn, const char *url,
                       const char *method, const char *upload, size_t *upload_len, void **con_cls);
/* MHD's request-completed notification: frees what the handler kept in *con_cls. */
void sl_ksql_api_completed(void **con_cls);

#endif
