/*
 * out_csv.c — the `csv` sink (dataShark's CSV output): one row per event with the listed
 * columns, RFC 4180 quoting, a header row when the file is new.
 *
 * Options keep dataShark's names: `path`, `separator` (default ","), `quote_char` (default
 * '"'), plus `columns` (field paths: "a.b" reaches nested maps, a field literally named
 * "id.orig_h" wins) and `header`. Cells:
 *   - a missing or null field is an empty cell;
 *   - strings are written as they are; numbers, booleans (true/false), timestamps (RFC 3339)
 *     and IPs as their text (sl_value_to_text); maps and lists as their JSON text;
 *   - a cell is quoted when it contains the separator, the quote character, CR or LF, or
 *     starts or ends with a space or tab; quote characters inside are doubled. A row of one
 *     empty cell is written as `""` so that readers do not take it for a blank line (Python's
 *     csv module does the same).
 * Rows end with CRLF ("\r\n"), as RFC 4180 and Python's csv module (dataShark) write them.
 *
 * The file is appended to (dataShark appends too); the header is written only when the file
 * is empty, so a restart does not repeat it. Missing directories are created.
 *
 * `layout: datashark` writes dataShark's own rows instead of `columns`: the time the row is
 * written (or the event time), the record's key and score, then its metadata values sorted
 * by key (codec/dsdoc.h), cells as Python's csv module wrote them (doubles with a decimal
 * point, True/False, None as empty); no header, since the column count varies.
 *
 * DESIGN: sink thread only. The file opens lazily at the first event (`sluice check` creates
 * nothing; init only checks that it could). A batch is rendered into one buffer and written
 * with one write(2); a failed write is undone with ftruncate() so no torn row remains, and
 * the batch is reported as failed. Each flush (every second) checks that `path` still names
 * the open file: when logrotate moved or removed it, the next batch opens a new file (with a
 * header).
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/outage.h"
#include "codec/dsdoc.h"
#include "codec/json.h"
#include "core/component.h"
#include "sys/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct csv_conf {
    char *path;
    char *separator;
    char *quote_char;
    struct sl_strlist columns;
    bool header;
    int layout; /* 0 columns, 1 datashark */
    char *key_field, *score_field, *metadata_field;
    int timestamp_source; /* 0 now, 1 event */
    char *timestamp_format;
    int timezone; /* 0 local, 1 utc */
};

struct csv_sink {
    int fd; /* -1: not open */
    dev_t dev;
    ino_t ino;
    uint64_t file_bytes;
    struct sl_path *cols;
    size_t ncols;
    char sep, quote;
    struct sl_buf out;
    struct sl_buf scratch; /* text of one cell */
    struct sl_log_limit lim;
    struct sl_outage wfail; /* writes failing (disk full): logged once per episode */
    /* layout: datashark */
    bool datashark;
    struct sl_dsdoc doc;
    struct sl_dsdoc_kv *kv;
    size_t kv_cap;
};

#define OUT_MAX     ((size_t)512 << 20)
#define SCRATCH_MAX ((size_t)64 << 20)
#define WRITE_AT    ((size_t)8 << 20)

static const struct sl_option csv_opts[] = {
    {"path", SL_OPT_STRING, NULL, offsetof(struct csv_conf, path),
     "output file (appended to; created with its directories)", NULL, 0, 0, SL_OPT_REQUIRED},
    {"columns", SL_OPT_STRING_LIST, NULL, offsetof(struct csv_conf, columns),
     "field paths, one per column (\"a.b\" reaches nested maps); required unless layout: "
     "datashark",
     NULL, 0, 0, 0},
    {"separator", SL_OPT_STRING, ",", offsetof(struct csv_conf, separator),
     "cell separator (one byte)", NULL, 0, 0, 0},
    {"quote_char", SL_OPT_STRING, "\"", offsetof(struct csv_conf, quote_char),
     "quote character (one byte)", NULL, 0, 0, 0},
    {"header", SL_OPT_BOOL, "true", offsetof(struct csv_conf, header),
     "write the column names as the first row of a new (empty) file", NULL, 0, 0, 0},
    {"layout", SL_OPT_ENUM, "columns", offsetof(struct csv_conf, layout),
     "columns, or datashark: time, key, score, metadata values sorted by key (no header)",
     "columns|datashark", 0, 0, 0},
    {"key_field", SL_OPT_STRING, "key", offsetof(struct csv_conf, key_field),
     "datashark: field path of the record's key", NULL, 0, 0, 0},
    {"score_field", SL_OPT_STRING, "score", offsetof(struct csv_conf, score_field),
     "datashark: field path of the record's score", NULL, 0, 0, 0},
    {"metadata_field", SL_OPT_STRING, "metadata", offsetof(struct csv_conf, metadata_field),
     "datashark: field path of the metadata map (absent: the other top-level fields)", NULL, 0, 0,
     0},
    {"timestamp_source", SL_OPT_ENUM, "now", offsetof(struct csv_conf, timestamp_source),
     "datashark: the time column is when the row is written, or the event time", "now|event", 0, 0,
     0},
    {"timestamp_format", SL_OPT_STRING, "%Y-%m-%d %H:%M:%S",
     offsetof(struct csv_conf, timestamp_format), "datashark: strftime format of the time column",
     NULL, 0, 0, 0},
    {"timezone", SL_OPT_ENUM, "local", offsetof(struct csv_conf, timezone),
     "datashark: of the time column", "local|utc", 0, 0, 0},
    {0},
};

/* Append one cell, quoted when needed. `alone`: the row has this one cell only. */
static int put_cell(struct csv_sink *s, struct sl_str v, bool alone)
{
    bool q = alone && v.len == 0;
    if (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t' || v.ptr[v.len - 1] == ' ' ||
                  v.ptr[v.len - 1] == '\t'))
        q = true;
    for (size_t i = 0; i < v.len && !q; i++) {
        char ch = v.ptr[i];
        q = ch == s->sep || ch == s->quote || ch == '\r' || ch == '\n';
    }
    if (!q)
        return sl_buf_append(&s->out, v.ptr, v.len);
    int rc = sl_buf_putc(&s->out, s->quote);
    size_t from = 0;
    for (size_t i = 0; i < v.len && !rc; i++) {
        if (v.ptr[i] != s->quote)
            continue;
        /* copy up to and including the quote, then double it */
        rc = sl_buf_append(&s->out, v.ptr + from, i + 1 - from);
        if (!rc)
            rc = sl_buf_putc(&s->out, s->quote);
        from = i + 1;
    }
    if (!rc)
        rc = sl_buf_append(&s->out, v.ptr + from, v.len - from);
    return rc ? rc : sl_buf_putc(&s->out, s->quote);
}

static int put_value(struct csv_sink *s, const struct sl_value *v, bool alone)
{
    if (!v || v->type == SL_V_NULL)
        return put_cell(s, sl_str_make("", 0), alone);
    if (v->type == SL_V_MAP || v->type == SL_V_LIST) {
        sl_buf_reset(&s->scratch);
        int rc = sl_json_write_value(&s->scratch, v);
        if (rc)
            return rc;
        return put_cell(s, sl_str_make(s->scratch.ptr, s->scratch.len), alone);
    }
    return put_cell(s, sl_value_to_text(v, &s->scratch), alone);
}

/* A cell as Python's csv module wrote dataShark's values (str() of each). */
static int put_value_py(struct csv_sink *s, const struct sl_value *v)
{
    if (!v || v->type == SL_V_NULL)
        return put_cell(s, sl_str_make("", 0), false);
    if (v->type == SL_V_BOOL)
        return put_cell(s, sl_str_c(v->u.b ? "True" : "False"), false);
    if (v->type == SL_V_DOUBLE) {
        /* the JSON writer keeps a decimal point or an exponent, as Python's repr does */
        sl_buf_reset(&s->scratch);
        int rc = sl_json_write_value(&s->scratch, v);
        if (rc)
            return rc;
        return put_cell(s, sl_str_make(s->scratch.ptr, s->scratch.len), false);
    }
    return put_value(s, v, false);
}

/* One dataShark row: time, key, score, metadata values sorted by key. */
static int put_datashark_row(struct csv_sink *s, const struct sl_event *ev, int64_t now_ns)
{
    char ts[128];
    size_t tslen = sl_dsdoc_time(&s->doc, ev, now_ns, ts, sizeof(ts));
    int rc = put_cell(s, sl_str_make(ts, tslen), false);
    if (!rc)
        rc = sl_buf_putc(&s->out, s->sep);
    if (!rc)
        rc = put_value_py(s, sl_dsdoc_key(&s->doc, ev));
    if (!rc)
        rc = sl_buf_putc(&s->out, s->sep);
    if (!rc)
        rc = put_value_py(s, sl_dsdoc_score(&s->doc, ev));
    if (rc)
        return rc;
    size_t n = sl_dsdoc_metadata(&s->doc, ev, true, s->kv, s->kv_cap);
    if (n > s->kv_cap) {
        if (n > 65536)
            return SL_E2BIG;
        s->kv_cap = n;
        s->kv = sl_xrealloc(s->kv, n * sizeof(*s->kv));
        n = sl_dsdoc_metadata(&s->doc, ev, true, s->kv, s->kv_cap);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        rc = sl_buf_putc(&s->out, s->sep);
        if (!rc)
            rc = put_value_py(s, s->kv[i].val);
    }
    return rc ? rc : sl_buf_append(&s->out, "\r\n", 2);
}

static int put_header(const struct csv_conf *cf, struct csv_sink *s)
{
    int rc = 0;
    for (size_t k = 0; k < s->ncols && !rc; k++) {
        if (k)
            rc = sl_buf_putc(&s->out, s->sep);
        if (!rc)
            rc = put_cell(s, sl_str_c(cf->columns.items[k]), s->ncols == 1);
    }
    return rc ? rc : sl_buf_append(&s->out, "\r\n", 2);
}

static int open_file(struct sl_component *c, struct csv_sink *s)
{
    const struct csv_conf *cf = c->conf;
    int rc = sl_fs_mkdir_parents(cf->path);
    if (rc)
        return rc;
    s->fd = open(cf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->fd < 0)
        return -errno;
    struct stat st;
    if (fstat(s->fd, &st) < 0) {
        rc = -errno;
        close(s->fd);
        s->fd = -1;
        return rc;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->file_bytes = (uint64_t)st.st_size;
    return 0;
}

static void close_file(struct csv_sink *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* Write the buffer: all or nothing. */
static int emit(struct sl_component *c, struct csv_sink *s)
{
    int rc = sl_fd_write_all(s->fd, s->out.ptr, s->out.len);
    if (rc) {
        if (ftruncate(s->fd, (off_t)s->file_bytes) < 0)
            sl_error(c->name, "cannot truncate %s after a failed write: %s",
                     ((const struct csv_conf *)c->conf)->path, sl_strerror(-errno));
    } else {
        s->file_bytes += s->out.len;
        atomic_fetch_add_explicit(&c->m.bytes_out, s->out.len, memory_order_relaxed);
    }
    sl_buf_reset(&s->out);
    return rc;
}

static int csv_write(struct sl_component *c, struct sl_batch *b)
{
    const struct csv_conf *cf = c->conf;
    struct csv_sink *s = c->state;
    int rc = 0;
    if (!b->count)
        return 0;
    if (s->fd < 0 && (rc = open_file(c, s)) != 0)
        goto out;
    sl_buf_reset(&s->out);
    if (cf->header && !s->datashark && s->file_bytes == 0 && (rc = put_header(cf, s)) != 0)
        goto out;
    int64_t now_ns = s->datashark ? sl_clock_wall_ns() : 0;
    for (uint32_t i = 0; i < b->count && !rc; i++) {
        size_t mark = s->out.len;
        int erc = 0;
        if (s->datashark)
            erc = put_datashark_row(s, &b->events[i], now_ns);
        for (size_t k = 0; k < s->ncols && !erc; k++) {
            if (k)
                erc = sl_buf_putc(&s->out, s->sep);
            if (!erc)
                erc = put_value(s, sl_path_get(&s->cols[k], &b->events[i]), s->ncols == 1);
        }
        if (!erc && !s->datashark)
            erc = sl_buf_append(&s->out, "\r\n", 2);
        if (erc) {
            /* a row too large to render: skip it, keep the others */
            s->out.len = mark;
            if (s->out.ptr)
                s->out.ptr[mark] = 0;
            atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
            sl_log_ratelimited(&s->lim, 2, SL_LOG_ERROR, c->name, "row not written: %s",
                               sl_strerror(erc));
            continue;
        }
        if (s->out.len >= WRITE_AT)
            rc = emit(c, s);
    }
    if (!rc && s->out.len)
        rc = emit(c, s);
out:
    sl_buf_reset(&s->out);
    uint64_t failures;
    int64_t lasted;
    if (rc && sl_outage_fail(&s->wfail, sl_clock_mono_ns()))
        sl_error(c->name, "cannot write %s: %s; batches fail until it can", cf->path,
                 sl_strerror(rc));
    else if (!rc && sl_outage_ok(&s->wfail, sl_clock_mono_ns(), &failures, &lasted))
        sl_info(c->name, "writes to %s succeed again after %.1f s (%llu failed batches)", cf->path,
                (double)lasted / 1e9, (unsigned long long)failures);
    return rc;
}

static int csv_flush(struct sl_component *c)
{
    const struct csv_conf *cf = c->conf;
    struct csv_sink *s = c->state;
    if (s->fd < 0)
        return 0;
    struct stat st;
    if (stat(cf->path, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
        sl_info(c->name, "%s was moved or removed: starting a new file", cf->path);
        close_file(s);
    }
    return 0;
}

static void csv_fini(struct sl_component *c)
{
    struct csv_sink *s = c->state;
    if (!s)
        return;
    close_file(s);
    for (size_t i = 0; i < s->ncols; i++)
        sl_path_fini(&s->cols[i]);
    sl_free(s->cols);
    if (s->datashark)
        sl_dsdoc_fini(&s->doc);
    sl_free(s->kv);
    sl_buf_fini(&s->out);
    sl_buf_fini(&s->scratch);
    sl_free(s);
    c->state = NULL;
}

static int one_byte(struct sl_component *c, const char *key, const char *v, char *out,
                    struct sl_diag *d)
{
    if (strlen(v) != 1 || v[0] == '\r' || v[0] == '\n') {
        sl_component_diag_opt(c, key, d);
        sl_diag_hint(d, "one character (byte) such as \",\" \";\" \"|\" or \"\\t\"");
        return sl_diag_set(d, SL_ECONFIG,
                           "csv sink '%s': %s must be one byte, not CR or LF, "
                           "got \"%s\"",
                           c->name, key, v);
    }
    *out = v[0];
    return 0;
}

static int csv_init(struct sl_component *c, struct sl_diag *d)
{
    const struct csv_conf *cf = c->conf;
    struct csv_sink *s = sl_xcalloc(1, sizeof(*s));
    s->fd = -1;
    sl_buf_init(&s->out, OUT_MAX);
    sl_buf_init(&s->scratch, SCRATCH_MAX);
    c->state = s;
    int rc;
    if ((rc = one_byte(c, "separator", cf->separator, &s->sep, d)) != 0 ||
        (rc = one_byte(c, "quote_char", cf->quote_char, &s->quote, d)) != 0)
        goto fail;
    if (s->sep == s->quote) {
        sl_component_diag_opt(c, "quote_char", d);
        sl_diag_hint(d, "the separator and the quote character must differ");
        rc = sl_diag_set(d, SL_ECONFIG, "csv sink '%s': separator and quote_char are both '%c'",
                         c->name, s->sep);
        goto fail;
    }
    if (cf->layout == 1) {
        if (cf->columns.count) {
            sl_component_diag_opt(c, "columns", d);
            sl_diag_hint(d, "layout: datashark writes time, key, score and the metadata values");
            rc = sl_diag_set(d, SL_ECONFIG, "csv sink '%s': columns with layout: datashark",
                             c->name);
            goto fail;
        }
        struct sl_dsdoc_conf dc = {
            .key_field = cf->key_field,
            .score_field = cf->score_field,
            .metadata_field = cf->metadata_field,
            .timestamp_format = cf->timestamp_format,
            .timestamp_event = cf->timestamp_source == 1,
            .utc = cf->timezone == 1,
        };
        if ((rc = sl_dsdoc_init(&s->doc, &dc)) != 0) {
            sl_component_diag_opt(c, "key_field", d);
            sl_diag_hint(d, "a field path has at most 9 dot-separated parts");
            rc =
                sl_diag_set(d, SL_ECONFIG,
                            "csv sink '%s': bad key_field, score_field or metadata_field", c->name);
            goto fail;
        }
        s->datashark = true;
    } else if (!cf->columns.count) {
        sl_component_diag_opt(c, "columns", d);
        sl_diag_hint(d, "e.g. columns: [ts, \"id.orig_h\", proto], or layout: datashark");
        rc = sl_diag_set(d, SL_ECONFIG, "csv sink '%s': no columns", c->name);
        goto fail;
    }
    s->cols = sl_xcalloc(cf->columns.count, sizeof(*s->cols));
    for (size_t i = 0; i < cf->columns.count; i++) {
        rc = sl_path_init(&s->cols[i], cf->columns.items[i]);
        s->ncols = i + 1;
        if (rc) {
            sl_component_diag_opt(c, "columns", d);
            sl_diag_hint(d, "a field path has at most 9 dot-separated parts");
            rc = sl_diag_set(d, SL_ECONFIG, "csv sink '%s': bad column '%s': %s", c->name,
                             cf->columns.items[i], sl_strerror(rc));
            goto fail;
        }
    }
    if (!cf->path[0] || cf->path[strlen(cf->path) - 1] == '/' ||
        (rc = sl_fs_check_writable(cf->path)) != 0) {
        sl_component_diag_opt(c, "path", d);
        sl_diag_hint(d, "a file in a writable directory (missing directories are created)");
        rc = sl_diag_set(d, SL_ECONFIG, "csv sink '%s': cannot write \"%s\"%s%s", c->name, cf->path,
                         rc ? ": " : "", rc ? sl_strerror(rc) : "");
        goto fail;
    }
    return 0;
fail:
    csv_fini(c);
    return rc;
}

const struct sl_component_ops sl_out_csv_ops = {
    .type = "csv",
    .kind = SL_KIND_SINK,
    .summary = "write CSV rows (RFC 4180 quoting, CRLF; dataShark's csv output options)",
    .options = csv_opts,
    .conf_len = sizeof(struct csv_conf),
    .init = csv_init,
    .fini = csv_fini,
    .write = csv_write,
    .flush = csv_flush,
};
