/*
 * parquet_footer.c — Parquet framing and FileMetaData checks (see parquet_footer.h).
 *
 * DESIGN: one pass over the footer with the pull reader of thrift_compact.h; the fields the
 * check needs are decoded where they stand, everything else is skipped by type, so a footer
 * written by a newer writer (more fields, new structs) still passes. The reader checks every
 * length and count against the bytes left, so a hostile footer costs at most one pass over
 * its own bytes.
 */
#include "codec/parquet_footer.h"

#include "base/alloc.h"
#include "codec/thrift_compact.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set d (may be NULL) with the byte offset `at`; returns err. */
__attribute__((format(printf, 4, 5))) static int fail(struct sl_diag *d, int err, int64_t at,
                                                      const char *fmt, ...)
{
    if (!d)
        return err;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    d->offset = at;
    return sl_diag_set(d, err, "%s", msg);
}

static int want_type(struct sl_tcr *r, uint64_t at, const char *name, int id, enum sl_tc_type got,
                     enum sl_tc_type want)
{
    if (got == want)
        return 0;
    return sl_tcr_fail(r, SL_EPARSE, at, "field %s (%d) is %s, expected %s", name, id,
                       sl_tc_type_name(got), sl_tc_type_name(want));
}

/* A list field whose elements must be structs; returns the count. */
static int struct_list(struct sl_tcr *r, const char *name, uint32_t *count)
{
    uint64_t at = sl_tcr_offset(r);
    enum sl_tc_type et;
    int rc = sl_tcr_list(r, &et, count);
    if (rc)
        return rc;
    if (et != SL_TC_STRUCT)
        return sl_tcr_fail(r, SL_EPARSE, at, "%s is a list of %s, expected structs", name,
                           sl_tc_type_name(et));
    return 0;
}

static void copy_text(char *dst, size_t cap, const uint8_t *p, size_t n, bool *truncated)
{
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(dst, p, k);
    dst[k] = 0;
    if (k < n && truncated)
        *truncated = true;
}

/* Where the column chunks must lie: after the leading magic, before the footer. */
struct bounds {
    uint64_t data_end; /* offset of the footer */
    uint32_t group;
    uint32_t column;
    uint64_t chunks;
};

/* ColumnMetaData: the chunk's first page (dictionary_page_offset (11) when present, else
 * data_page_offset (9), required) and its total_compressed_size (7, required). */
static int column_meta(struct sl_tcr *r, struct bounds *b)
{
    uint64_t at = sl_tcr_offset(r);
    int rc = sl_tcr_struct_begin(r);
    if (rc)
        return rc;
    int16_t last = 0, id;
    enum sl_tc_type t;
    int64_t data_off = -1, dict_off = -1, size = -1;
    for (;;) {
        uint64_t fat = sl_tcr_offset(r);
        if ((rc = sl_tcr_field(r, &last, &id, &t)) != 0 || t == 0)
            break;
        int64_t *dst = id == 7 ? &size : id == 9 ? &data_off : id == 11 ? &dict_off : NULL;
        if (dst) {
            if ((rc = want_type(r, fat, id == 7 ? "total_compressed_size" : "page offset", id, t,
                                SL_TC_I64)) != 0 ||
                (rc = sl_tcr_i64(r, dst)) != 0)
                break;
        } else if ((rc = sl_tcr_skip(r, t, false)) != 0) {
            break;
        }
    }
    sl_tcr_struct_end(r);
    if (rc)
        return rc;
    if (data_off < 0 || size < 0)
        return sl_tcr_fail(r, SL_EPARSE, at,
                           "row group %u column %u: no data_page_offset or total_compressed_size",
                           b->group, b->column);
    /* some writers put 0 for "no dictionary" */
    int64_t start = dict_off > 0 && dict_off < data_off ? dict_off : data_off;
    if (start < 4 || (uint64_t)start > b->data_end ||
        (uint64_t)size > b->data_end - (uint64_t)start)
        return sl_tcr_fail(r, SL_EPARSE, at,
                           "row group %u column %u: chunk at bytes %lld..%lld is outside the "
                           "data (bytes 4..%llu)",
                           b->group, b->column, (long long)start,
                           (long long)start + (long long)size, (unsigned long long)b->data_end);
    return 0;
}

/* ColumnChunk: file_path (1: the chunk lives in another file: not checked), meta_data (3). */
static int column_chunk(struct sl_tcr *r, struct bounds *b)
{
    int rc = sl_tcr_struct_begin(r);
    if (rc)
        return rc;
    int16_t last = 0, id;
    enum sl_tc_type t;
    bool external = false, have_meta = false;
    size_t meta_pos = 0;
    for (;;) {
        if ((rc = sl_tcr_field(r, &last, &id, &t)) != 0 || t == 0)
            break;
        if (id == 1 && t == SL_TC_BINARY)
            external = true;
        if (id == 3 && t == SL_TC_STRUCT) {
            have_meta = true;
            meta_pos = r->pos;
        }
        if ((rc = sl_tcr_skip(r, t, false)) != 0)
            break;
    }
    if (!rc && have_meta && !external) {
        /* read the ColumnMetaData now that file_path is known (fields may come in any order) */
        size_t end = r->pos;
        r->pos = meta_pos;
        rc = column_meta(r, b);
        r->pos = end;
        b->chunks++;
    }
    sl_tcr_struct_end(r);
    return rc;
}

/* RowGroup: columns (1: each chunk within the data) and num_rows (3, i64, required). */
static int row_group(struct sl_tcr *r, uint32_t index, int64_t *rows, struct bounds *b)
{
    uint64_t at = sl_tcr_offset(r);
    int rc = sl_tcr_struct_begin(r);
    if (rc)
        return rc;
    int16_t last = 0, id;
    enum sl_tc_type t;
    bool have = false;
    b->group = index;
    for (;;) {
        uint64_t fat = sl_tcr_offset(r);
        if ((rc = sl_tcr_field(r, &last, &id, &t)) != 0 || t == 0)
            break;
        if (id == 1 && t == SL_TC_LIST) {
            uint32_t n;
            if ((rc = struct_list(r, "RowGroup.columns", &n)) != 0)
                break;
            for (uint32_t i = 0; i < n && !rc; i++) {
                b->column = i;
                rc = column_chunk(r, b);
            }
            if (rc)
                break;
        } else if (id == 3) {
            if ((rc = want_type(r, fat, "RowGroup.num_rows", 3, t, SL_TC_I64)) != 0 ||
                (rc = sl_tcr_i64(r, rows)) != 0)
                break;
            if (*rows < 0) {
                rc = sl_tcr_fail(r, SL_EPARSE, fat, "row group %u: negative num_rows %lld", index,
                                 (long long)*rows);
                break;
            }
            have = true;
        } else if ((rc = sl_tcr_skip(r, t, false)) != 0) {
            break;
        }
    }
    sl_tcr_struct_end(r);
    if (!rc && !have)
        rc = sl_tcr_fail(r, SL_EPARSE, at, "row group %u has no num_rows", index);
    return rc;
}

/* KeyValue: key (1, required), value (2). */
static int key_value(struct sl_tcr *r, struct sl_parquet_kv *kv)
{
    uint64_t at = sl_tcr_offset(r);
    int rc = sl_tcr_struct_begin(r);
    if (rc)
        return rc;
    int16_t last = 0, id;
    enum sl_tc_type t;
    bool have_key = false;
    for (;;) {
        uint64_t fat = sl_tcr_offset(r);
        if ((rc = sl_tcr_field(r, &last, &id, &t)) != 0 || t == 0)
            break;
        if (id == 1 || id == 2) {
            const uint8_t *p;
            size_t n;
            if ((rc = want_type(r, fat, id == 1 ? "KeyValue.key" : "KeyValue.value", id, t,
                                SL_TC_BINARY)) != 0 ||
                (rc = sl_tcr_binary(r, &p, &n)) != 0)
                break;
            if (id == 1)
                have_key = true;
            else if (kv)
                kv->has_value = true;
            if (kv && id == 1)
                copy_text(kv->key, sizeof(kv->key), p, n, &kv->truncated);
            else if (kv)
                copy_text(kv->value, sizeof(kv->value), p, n, &kv->truncated);
        } else if ((rc = sl_tcr_skip(r, t, false)) != 0) {
            break;
        }
    }
    sl_tcr_struct_end(r);
    if (!rc && !have_key)
        rc = sl_tcr_fail(r, SL_EPARSE, at, "key_value_metadata entry without a key");
    return rc;
}

int sl_parquet_footer_decode(const uint8_t *footer, size_t len, uint64_t base,
                             struct sl_parquet_footer_info *out, struct sl_diag *d)
{
    struct sl_parquet_footer_info tmp;
    struct sl_parquet_footer_info *info = out ? out : &tmp;
    uint64_t file_len = out ? out->file_len : 0;
    memset(info, 0, sizeof(*info));
    info->file_len = file_len;
    info->footer_len = (uint32_t)len;
    struct sl_tcr r;
    sl_tcr_init(&r, footer, len, base, "FileMetaData", d);
    int rc = sl_tcr_struct_begin(&r);
    if (rc)
        return rc;
    enum { F_VERSION = 1, F_SCHEMA = 2, F_ROWS = 4, F_GROUPS = 8 };
    unsigned seen = 0;
    int64_t group_rows = 0;
    struct bounds bounds = {.data_end = base};
    int16_t last = 0, id;
    enum sl_tc_type t;
    for (;;) {
        uint64_t at = sl_tcr_offset(&r);
        if ((rc = sl_tcr_field(&r, &last, &id, &t)) != 0)
            return rc;
        if (t == 0)
            break;
        uint32_t n;
        switch (id) {
        case 1:
            if ((rc = want_type(&r, at, "version", 1, t, SL_TC_I32)) != 0 ||
                (rc = sl_tcr_i32(&r, &info->version)) != 0)
                return rc;
            seen |= F_VERSION;
            break;
        case 2:
            if ((rc = want_type(&r, at, "schema", 2, t, SL_TC_LIST)) != 0 ||
                (rc = struct_list(&r, "schema", &n)) != 0)
                return rc;
            if (n == 0)
                return sl_tcr_fail(&r, SL_EPARSE, at, "empty schema (no root element)");
            for (uint32_t i = 0; i < n; i++)
                if ((rc = sl_tcr_skip(&r, SL_TC_STRUCT, true)) != 0)
                    return rc;
            info->schema_count = n;
            seen |= F_SCHEMA;
            break;
        case 3:
            if ((rc = want_type(&r, at, "num_rows", 3, t, SL_TC_I64)) != 0 ||
                (rc = sl_tcr_i64(&r, &info->num_rows)) != 0)
                return rc;
            if (info->num_rows < 0)
                return sl_tcr_fail(&r, SL_EPARSE, at, "negative num_rows %lld",
                                   (long long)info->num_rows);
            seen |= F_ROWS;
            break;
        case 4:
            if ((rc = want_type(&r, at, "row_groups", 4, t, SL_TC_LIST)) != 0 ||
                (rc = struct_list(&r, "row_groups", &n)) != 0)
                return rc;
            for (uint32_t i = 0; i < n; i++) {
                int64_t rows = 0;
                if ((rc = row_group(&r, i, &rows, &bounds)) != 0)
                    return rc;
                if (rows > INT64_MAX - group_rows)
                    return sl_tcr_fail(&r, SL_EPARSE, at, "row group rows overflow");
                group_rows += rows;
            }
            info->row_group_count = n;
            seen |= F_GROUPS;
            break;
        case 5:
            if ((rc = want_type(&r, at, "key_value_metadata", 5, t, SL_TC_LIST)) != 0 ||
                (rc = struct_list(&r, "key_value_metadata", &n)) != 0)
                return rc;
            for (uint32_t i = 0; i < n; i++) {
                struct sl_parquet_kv *kv =
                    info->kv_count < SL_PQF_KV_MAX ? &info->kv[info->kv_count] : NULL;
                if ((rc = key_value(&r, kv)) != 0)
                    return rc;
                info->kv_count++;
            }
            break;
        case 6: {
            const uint8_t *p;
            size_t len6;
            if ((rc = want_type(&r, at, "created_by", 6, t, SL_TC_BINARY)) != 0 ||
                (rc = sl_tcr_binary(&r, &p, &len6)) != 0)
                return rc;
            copy_text(info->created_by, sizeof(info->created_by), p, len6, NULL);
            break;
        }
        default:
            if ((rc = sl_tcr_skip(&r, t, false)) != 0)
                return rc;
        }
    }
    sl_tcr_struct_end(&r);
    info->column_chunk_count = bounds.chunks;
    static const struct {
        unsigned bit;
        const char *name;
    } required[] = {{F_VERSION, "version (1)"},
                    {F_SCHEMA, "schema (2)"},
                    {F_ROWS, "num_rows (3)"},
                    {F_GROUPS, "row_groups (4)"}};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!(seen & required[i].bit))
            return sl_tcr_fail(&r, SL_EPARSE, base, "missing required field %s", required[i].name);
    if (group_rows != info->num_rows)
        return sl_tcr_fail(&r, SL_EPARSE, base, "row groups hold %lld rows but num_rows says %lld",
                           (long long)group_rows, (long long)info->num_rows);
    /* Bytes after the struct are allowed: files with an encrypted column and a plaintext
     * footer append the footer's signature there. */
    return 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Framing: the magics and the footer length. Sets *flen. */
static int frame(const uint8_t head[4], const uint8_t tail[8], uint64_t len, uint32_t *flen,
                 struct sl_diag *d)
{
    if (len < 12)
        return fail(d, SL_EPARSE, 0, "file of %llu bytes is too short for Parquet (at least 12)",
                    (unsigned long long)len);
    if (memcmp(head, "PAR1", 4) != 0)
        return fail(d, SL_EPARSE, 0, "no PAR1 magic at byte 0 (not a Parquet file)");
    if (memcmp(tail + 4, "PARE", 4) == 0)
        return fail(d, SL_EPARSE, (int64_t)len - 4,
                    "encrypted footer (PARE) at byte %llu is not supported",
                    (unsigned long long)len - 4);
    if (memcmp(tail + 4, "PAR1", 4) != 0)
        return fail(d, SL_EPARSE, (int64_t)len - 4,
                    "no PAR1 magic at the end (byte %llu): truncated or not Parquet",
                    (unsigned long long)len - 4);
    *flen = le32(tail);
    if ((uint64_t)*flen > len - 12)
        return fail(d, SL_EPARSE, (int64_t)len - 8, "footer length %u exceeds file size %llu",
                    *flen, (unsigned long long)len);
    if (*flen == 0)
        return fail(d, SL_EPARSE, (int64_t)len - 8, "empty footer (length 0 at byte %llu)",
                    (unsigned long long)len - 8);
    return 0;
}

int sl_parquet_footer_check(const uint8_t *buf, size_t len, struct sl_parquet_footer_info *out,
                            struct sl_diag *d)
{
    uint32_t flen = 0;
    int rc = frame(buf, len >= 8 ? buf + len - 8 : buf, len, &flen, d);
    if (rc)
        return rc;
    struct sl_parquet_footer_info tmp;
    struct sl_parquet_footer_info *info = out ? out : &tmp;
    info->file_len = len;
    size_t start = len - 8 - flen;
    return sl_parquet_footer_decode(buf + start, flen, start, info, d);
}

static int pread_all(int fd, void *p, size_t n, uint64_t off, struct sl_diag *d)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)p + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (d) {
                d->offset = (int64_t)(off + got);
                sl_diag_set(d, SL_EIO, "read at byte %llu: %s", (unsigned long long)(off + got),
                            k < 0 ? strerror(errno) : "unexpected end of file");
            }
            return SL_EIO;
        }
        got += (size_t)k;
    }
    return 0;
}

int sl_parquet_footer_check_fd(int fd, struct sl_parquet_footer_info *out, struct sl_diag *d)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return d ? sl_diag_set(d, SL_EIO, "fstat: %s", strerror(errno)) : SL_EIO;
    uint64_t len = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    uint8_t head[4] = {0}, tail[8] = {0};
    int rc;
    if (len >= 12 && ((rc = pread_all(fd, head, 4, 0, d)) != 0 ||
                      (rc = pread_all(fd, tail, 8, len - 8, d)) != 0))
        return rc;
    uint32_t flen = 0;
    if ((rc = frame(head, tail, len, &flen, d)) != 0)
        return rc;
    if (flen > SL_PQF_FOOTER_MAX_LEN)
        return fail(d, SL_E2BIG, (int64_t)len - 8, "footer length %u exceeds the limit %u", flen,
                    SL_PQF_FOOTER_MAX_LEN);
    uint8_t *footer = sl_malloc(flen);
    if (!footer)
        return d ? sl_diag_set(d, SL_ENOMEM, "footer of %u bytes: out of memory", flen) : SL_ENOMEM;
    uint64_t start = len - 8 - flen;
    if (!(rc = pread_all(fd, footer, flen, start, d))) {
        struct sl_parquet_footer_info tmp;
        struct sl_parquet_footer_info *info = out ? out : &tmp;
        info->file_len = len;
        rc = sl_parquet_footer_decode(footer, flen, start, info, d);
    }
    sl_free(footer);
    return rc;
}

const char *sl_parquet_footer_kv(const struct sl_parquet_footer_info *info, const char *key)
{
    uint32_t n = info->kv_count < SL_PQF_KV_MAX ? info->kv_count : SL_PQF_KV_MAX;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(info->kv[i].key, key) == 0)
            return info->kv[i].has_value ? info->kv[i].value : "";
    return NULL;
}
