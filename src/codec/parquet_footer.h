/*
 * parquet_footer.h — checks that bytes are a structurally sound Parquet file and reads the
 * few facts of its footer that a receiver needs (row count, key-value metadata, writer).
 *
 * A Parquet file is `PAR1`, data, the Thrift compact FileMetaData, its length (4 bytes LE),
 * `PAR1`. The check verifies both magics, that the footer length fits the file, and decodes
 * FileMetaData with the schema-less compact reader of thrift_compact.h: version (1), schema
 * (2: element count), num_rows (3), row_groups (4: count; their num_rows must add up to
 * num_rows; every column chunk stored in this file must lie between the leading magic and
 * the footer), key_value_metadata (5: the first SL_PQF_KV_MAX pairs copied), created_by (6).
 * Other fields (column_orders, encryption...) are skipped, whatever their type. Pages and
 * column chunks are not read: this proves the file is complete and its footer coherent, not
 * that every page decodes.
 *
 * Errors are SL_EPARSE (SL_EDEPTH, SL_E2BIG, SL_EIO for the fd variant) with one line in
 * d->msg that says what and where, e.g. "footer length 999999 exceeds file size 1200" or
 * "FileMetaData: truncated varint at byte 523" (byte offsets are offsets in the file).
 *
 * Thread-safe (no shared state); the fd variant allocates the footer (capped).
 */
#ifndef SL_CODEC_PARQUET_FOOTER_H
#define SL_CODEC_PARQUET_FOOTER_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_PQF_KV_MAX         16           /* key-value pairs copied */
#define SL_PQF_KEY_MAX        128          /* bytes kept of a key (NUL included) */
#define SL_PQF_VALUE_MAX      512          /* bytes kept of a value (NUL included) */
#define SL_PQF_FOOTER_MAX_LEN (256u << 20) /* larger footers are refused (SL_E2BIG) */

struct sl_parquet_kv {
    char key[SL_PQF_KEY_MAX];
    char value[SL_PQF_VALUE_MAX];
    bool truncated; /* key or value longer than kept */
    bool has_value; /* KeyValue.value is optional */
};

struct sl_parquet_footer_info {
    uint64_t file_len;
    uint32_t footer_len;
    int32_t version;
    uint32_t schema_count; /* schema elements, the root included */
    int64_t num_rows;
    uint32_t row_group_count;
    uint64_t column_chunk_count; /* chunks checked to lie within the data (not external) */
    uint32_t kv_count;           /* pairs in the file (kv[] holds the first SL_PQF_KV_MAX) */
    struct sl_parquet_kv kv[SL_PQF_KV_MAX];
    char created_by[128]; /* "" when absent; truncated when longer */
};

/*
 * Check a whole file in memory. `out` (may be NULL) is filled on success. 0 or an error with
 * d (may be NULL) set.
 */
int sl_parquet_footer_check(const uint8_t *buf, size_t len, struct sl_parquet_footer_info *out,
                            struct sl_diag *d);
/*
 * The same for an open file: reads the first 4 bytes, the last 8, then the footer (pread: the
 * file offset is not moved), so a big file costs a few reads. SL_EIO on a read error.
 */
int sl_parquet_footer_check_fd(int fd, struct sl_parquet_footer_info *out, struct sl_diag *d);
/*
 * Decode a FileMetaData alone (bytes of the footer; `base` is its offset in the file, for
 * messages). What the two functions above do after the framing checks.
 */
int sl_parquet_footer_decode(const uint8_t *footer, size_t len, uint64_t base,
                             struct sl_parquet_footer_info *out, struct sl_diag *d);
/* The value of key `key` among the copied pairs, or NULL. */
const char *sl_parquet_footer_kv(const struct sl_parquet_footer_info *info, const char *key);

#endif
