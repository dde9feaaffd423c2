/*
 * out_csv.c — the `csv` sink (dataShark's CSV output): one row per event with the listed
 * columns, RFC 4180 quoting, a header row when the file is new.
 *
 * Options as dataShark names them: `path`, `separator`, `quote_char`, plus `columns` (field
 * paths, "a.b" reaches nested maps) and `header`. A cell is quoted when it contains the
 * separator, the quote character, CR or LF, or starts or ends with a space; quote characters
 * inside are doubled. Rows end with CRLF, as RFC 4180 and Python's csv module write them.
 * Missing fields are empty cells; maps and lists are written as their JSON text.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "core/component.h"
#include "io/outfile.h"

#include <stddef.h>
#include <string.h>

struct csv_conf {
    char *path;
    char *separator;
    char *quote_char;
    struct sl_strlist columns;
    bool header;
};

struct csv_state {
    struct sl_outfile f;
    struct sl_path *cols;
    size_t ncols;
    char sep, quote;
    struct sl_buf out;
    struct sl_buf scratch;
    struct sl_log_limit lim;
};

static int one_byte(struct sl_component *c, const char *key, const char *v, char *out,
                    struct sl_diag *d)
{
    if (strlen(v) != 1 || v[0] == '\r' || v[0] == '\n') {
        sl_component_diag_opt(c, key, d);
        sl_diag_hint(d, "a single character such as \",\" or \";\" or \"\\t\"");
        return sl_diag_set(d, SL_ECONFIG, "csv '%s': %s must be one character", c->name, key);
    }
    *out = v[0];
    return 0;
}

static void csv_fini(struct sl_component *c)
{
    struct csv_state *s = c->state;
    if (!s)
        return;
    sl_outfile_finish(&s->f);
    for (size_t i = 0; i < s->ncols; i++)
        sl_path_fini(&s->cols[i]);
    sl_free(s->cols);
    sl_buf_fini(&s->out);
    sl_buf_fini(&s->scratch);
    sl_free(s);
    c->state = NULL;
}

static int csv_init(struct sl_component *c, struct sl_diag *d)
{
    struct csv_conf *cf = c->conf;
    struct csv_state *s = sl_xcalloc(1, sizeof(*s));
    c->state = s;
    sl_buf_init(&s->out, 512u << 20);
    sl_buf_init(&s->scratch, 64u << 20);
    int rc = one_byte(c, "separator", cf->separator, &s->sep, d);
    rc = rc ? rc : one_byte(c, "quote_char", cf->quote_char, &s->quote, d);
    if (rc)
        return rc;
    if (s->sep == s->quote) {
        sl_component_diag_opt(c, "quote_char", d);
        sl_diag_hint(d, "use different characters");
        return sl_diag_set(d, SL_ECONFIG, "csv '%s': separator and quote_char are the same",
                           c->name);
    }
    if (!cf->columns.count) {
        sl_component_diag_opt(c, "columns", d);
        sl_diag_hint(d, "columns: [ts, \"id.orig_h\", proto]");
        return sl_diag_set(d, SL_ECONFIG, "csv '%s': no columns", c->name);
    }
    s->ncols = cf->columns.count;
    s->cols = sl_xcalloc(s->ncols, sizeof(*s->cols));
    for (size_t i = 0; i < s->ncols; i++) {
        if (sl_path_init(&s->cols[i], cf->columns.items[i])) {
            sl_component_diag_opt(c, "columns", d);
            return sl_diag_set(d, SL_ECONFIG, "csv '%s': invalid column '%s'", c->name,
                               cf->columns.items[i]);
        }
    }
    sl_outfile_init(&s->f, cf->path, 0, 0, false);
    rc = sl_outfile_check(&s->f);
    if (rc) {
        sl_component_diag_opt(c, "path", d);
        sl_diag_hint(d, "check that the directory is writable");
        return sl_diag_set(d, SL_ECONFIG, "csv '%s': cannot write %s: %s", c->name, s->f.final,
                           sl_strerror(rc));
    }
    return 0;
}

static int cell(struct csv_state *s, struct sl_str v)
{
    bool q = v.len && (v.ptr[0] == ' ' || v.ptr[v.len - 1] == ' ');
    for (size_t i = 0; i < v.len && !q; i++) {
        char ch = v.ptr[i];
        q = ch == s->sep || ch == s->quote || ch == '\r' || ch == '\n';
    }
    if (!q)
        return sl_buf_append(&s->out, v.ptr, v.len);
    int rc = sl_buf_putc(&s->out, s->quote);
    for (size_t i = 0; i < v.len && !rc; i++) {
        if (v.ptr[i] == s->quote)
            rc = sl_buf_putc(&s->out, s->quote);
        rc = rc ? rc : sl_buf_putc(&s->out, v.ptr[i]);
    }
    return rc ? rc : sl_buf_putc(&s->out, s->quote);
}

static int csv_write(struct sl_component *c, struct sl_batch *b)
{
    struct csv_conf *cf = c->conf;
    struct csv_state *s = c->state;
    bool fresh = false;
    int rc = sl_outfile_open(&s->f, &fresh);
    if (rc)
        goto fail;
    sl_buf_reset(&s->out);
    if (fresh && cf->header && s->f.bytes == 0) {
        for (size_t k = 0; k < s->ncols && !rc; k++) {
            if (k)
                rc = sl_buf_putc(&s->out, s->sep);
            rc = rc ? rc : cell(s, sl_str_c(cf->columns.items[k]));
        }
        rc = rc ? rc : sl_buf_append(&s->out, "\r\n", 2);
    }
    for (uint32_t i = 0; i < b->count && !rc; i++) {
        for (size_t k = 0; k < s->ncols && !rc; k++) {
            if (k)
                rc = sl_buf_putc(&s->out, s->sep);
            const struct sl_value *v = sl_path_get(&s->cols[k], &b->events[i]);
            if (v && v->type != SL_V_NULL && !rc)
                rc = cell(s, sl_value_to_text(v, &s->scratch));
        }
        rc = rc ? rc : sl_buf_append(&s->out, "\r\n", 2);
    }
    if (!rc)
        rc = sl_outfile_write(&s->f, s->out.ptr, s->out.len);
    if (!rc) {
        atomic_fetch_add_explicit(&c->m.bytes_out, s->out.len, memory_order_relaxed);
        return 0;
    }
fail:
    sl_log_ratelimited(&s->lim, 2, SL_LOG_ERROR, c->name, "writing %s: %s", s->f.final,
                       sl_strerror(rc));
    return rc;
}

static const struct sl_option csv_opts[] = {
    {"path", SL_OPT_STRING, NULL, offsetof(struct csv_conf, path),
     "output file (appended to; strftime parts rendered in UTC)", NULL, 0, 0, SL_OPT_REQUIRED},
    {"columns", SL_OPT_STRING_LIST, NULL, offsetof(struct csv_conf, columns),
     "field paths, one per column", NULL, 0, 0, SL_OPT_REQUIRED},
    {"separator", SL_OPT_STRING, ",", offsetof(struct csv_conf, separator), "cell separator", NULL,
     0, 0, 0},
    {"quote_char", SL_OPT_STRING, "\"", offsetof(struct csv_conf, quote_char), "quote character",
     NULL, 0, 0, 0},
    {"header", SL_OPT_BOOL, "true", offsetof(struct csv_conf, header),
     "write the column names as the first row of a new file", NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_out_csv_ops = {
    .type = "csv",
    .kind = SL_KIND_SINK,
    .summary = "write CSV rows (RFC 4180 quoting, dataShark's csv output options)",
    .options = csv_opts,
    .conf_len = sizeof(struct csv_conf),
    .init = csv_init,
    .fini = csv_fini,
    .write = csv_write,
};
