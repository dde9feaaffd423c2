/*
 * usecase_debug.c — the `datashark_debug` sink: what dataShark's standalone debug mode
 * (`standalone.sh -d`) printed instead of calling the output plugin.
 *
 *   mode: batch   print(dataRDD.collect())  -> one line at the end of the input:
 *                 [(u'all', 20), (u'moreover,', 1), ...]
 *   mode: stream  dataRDD.pprint()          -> per batch of results:
 *                 -------------------------------------------
 *                 Time: 2016-10-14 13:01:39
 *                 -------------------------------------------
 *                 (u'10.0.0.66', 211.43, {'cluster': 1, 'twoxx': 212, 'nxx': 3})
 *                 ...                        (when more than 10)
 *                 <blank line>
 *   mode: record  one record per line (an [out_*] section's `debug = true`)
 *
 * A record with `key` and `score` fields is printed as dataShark's tuple (key, score[,
 * metadata]), in Python 2's repr; any other event as a dict. It is registered only for
 * `sluice usecase` (usecase_cmd.c), not among the built-in components.
 *
 * DESIGN: the sink thread owns everything; batch mode keeps the rendered records (capped at
 * 256 MiB, then it prints what it has and says so) and prints them in finish().
 */
#include "app/usecase.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "core/component.h"
#include "core/event.h"
#include "core/symbol.h"
#include "core/value.h"
#include "sys/fdio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { MODE_BATCH, MODE_STREAM, MODE_RECORD };

struct dbg_conf {
    int mode;
    char *title;
};

struct dbg {
    struct sl_buf all; /* batch mode: rendered records, ", "-separated */
    size_t nrec;
    bool truncated;
    sl_sym key, score, metadata;
};

#define ALL_MAX ((size_t)256 << 20)

static const struct sl_option dbg_opts[] = {
    {"mode", SL_OPT_ENUM, "stream", offsetof(struct dbg_conf, mode),
     "batch: one list at the end (collect()); stream: a block per batch (pprint()); record: a "
     "line per record",
     "batch|stream|record", 0, 0, 0},
    {"title", SL_OPT_STRING, "", offsetof(struct dbg_conf, title), "the use case's name", NULL, 0,
     0, 0},
    {0},
};

/* Python 2's repr of a (unicode) string: u'...' (or u"..." when it holds ' and no "). */
static int py_str(struct sl_buf *b, const char *s, size_t n, bool unicode)
{
    bool sq = memchr(s, '\'', n) != NULL, dq = memchr(s, '"', n) != NULL;
    char q = sq && !dq ? '"' : '\'';
    int rc = unicode ? sl_buf_putc(b, 'u') : 0;
    if (!rc)
        rc = sl_buf_putc(b, q);
    for (size_t i = 0; i < n && !rc;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp = c;
        size_t len = 1;
        if (c >= 0x80 && unicode) { /* decode UTF-8; a bad byte shows as \xNN */
            size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
            if (need && i + need <= n) {
                cp = c & (0xFF >> (need + 1));
                bool ok = true;
                for (size_t k = 1; k < need; k++) {
                    unsigned char cc = (unsigned char)s[i + k];
                    ok &= (cc & 0xC0) == 0x80;
                    cp = (cp << 6) | (cc & 0x3F);
                }
                if (ok)
                    len = need;
                else
                    cp = c;
            }
        }
        if (cp == '\\' || cp == (uint32_t)q)
            rc = sl_buf_appendf(b, "\\%c", (char)cp);
        else if (cp == '\n')
            rc = sl_buf_puts(b, "\\n");
        else if (cp == '\r')
            rc = sl_buf_puts(b, "\\r");
        else if (cp == '\t')
            rc = sl_buf_puts(b, "\\t");
        else if (cp < 0x20 || (cp >= 0x7f && cp < 0x100))
            rc = sl_buf_appendf(b, "\\x%02x", cp);
        else if (cp >= 0x10000)
            rc = sl_buf_appendf(b, "\\U%08x", cp);
        else if (cp >= 0x100)
            rc = sl_buf_appendf(b, "\\u%04x", cp);
        else
            rc = sl_buf_putc(b, (char)cp);
        i += len;
    }
    return rc ? rc : sl_buf_putc(b, q);
}

/* Python's repr of a float (float_repr_style 'short'): the fewest digits that read back the
 * same; fixed notation for decimal exponents -4..15 (with ".0" when integral), else
 * "1.5e-07" / "1e+16". */
static int py_float(struct sl_buf *b, double d)
{
    if (isnan(d))
        return sl_buf_puts(b, "nan");
    if (isinf(d))
        return sl_buf_puts(b, d < 0 ? "-inf" : "inf");
    char tmp[48];
    int p;
    for (p = 1; p < 17; p++) {
        snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
    const char *e = strchr(tmp, 'e');
    long x = e ? strtol(e + 1, NULL, 10) : 0;
    if (x < -4 || x >= 16)
        return sl_buf_puts(b, tmp);
    int decimals = (p - 1) - (int)x;
    if (decimals <= 0) {
        snprintf(tmp, sizeof(tmp), "%.0f.0", d);
        return sl_buf_puts(b, tmp);
    }
    snprintf(tmp, sizeof(tmp), "%.*f", decimals, d);
    return sl_buf_puts(b, tmp);
}

static int py_value(struct sl_buf *b, const struct sl_value *v, int depth)
{
    if (depth > 32)
        return sl_buf_puts(b, "...");
    switch (v->type) {
    case SL_V_NULL:
        return sl_buf_puts(b, "None");
    case SL_V_BOOL:
        return sl_buf_puts(b, v->u.b ? "True" : "False");
    case SL_V_INT:
        return sl_buf_appendf(b, "%lld", (long long)v->u.i);
    case SL_V_DOUBLE:
        return py_float(b, v->u.d);
    case SL_V_STRING:
        return py_str(b, v->u.s, v->len, true);
    case SL_V_BYTES:
        return py_str(b, v->u.s, v->len, false);
    case SL_V_LIST: {
        int rc = sl_buf_putc(b, '[');
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (i)
                rc = sl_buf_puts(b, ", ");
            if (!rc)
                rc = py_value(b, &v->u.list[i], depth + 1);
        }
        return rc ? rc : sl_buf_putc(b, ']');
    }
    case SL_V_MAP: {
        int rc = sl_buf_putc(b, '{');
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (i)
                rc = sl_buf_puts(b, ", ");
            if (!rc)
                rc = py_str(b, v->u.map[i].key.ptr, v->u.map[i].key.len, false);
            if (!rc)
                rc = sl_buf_puts(b, ": ");
            if (!rc)
                rc = py_value(b, &v->u.map[i].val, depth + 1);
        }
        return rc ? rc : sl_buf_putc(b, '}');
    }
    default: { /* timestamps, IPs, objects: their text */
        struct sl_buf scratch;
        sl_buf_init(&scratch, 0);
        struct sl_str s = sl_value_to_text(v, &scratch);
        int rc = py_str(b, s.ptr, s.len, true);
        sl_buf_fini(&scratch);
        return rc;
    }
    }
}

/* One record: dataShark's tuple when it has key and score, else a dict of its fields. */
static int py_record(struct dbg *s, struct sl_buf *b, const struct sl_event *ev)
{
    const struct sl_value *k = s->key ? sl_event_get(ev, s->key) : NULL;
    const struct sl_value *sc = s->score ? sl_event_get(ev, s->score) : NULL;
    if (k && sc) {
        const struct sl_value *md = s->metadata ? sl_event_get(ev, s->metadata) : NULL;
        int rc = sl_buf_putc(b, '(');
        if (!rc)
            rc = py_value(b, k, 0);
        if (!rc)
            rc = sl_buf_puts(b, ", ");
        if (!rc)
            rc = py_value(b, sc, 0);
        if (!rc && md) {
            rc = sl_buf_puts(b, ", ");
            if (!rc)
                rc = py_value(b, md, 0);
        }
        return rc ? rc : sl_buf_putc(b, ')');
    }
    int rc = sl_buf_putc(b, '{');
    for (uint32_t i = 0; i < ev->count && !rc; i++) {
        struct sl_str name = sl_sym_name(ev->fields[i].sym);
        if (i)
            rc = sl_buf_puts(b, ", ");
        if (!rc)
            rc = py_str(b, name.ptr, name.len, false);
        if (!rc)
            rc = sl_buf_puts(b, ": ");
        if (!rc)
            rc = py_value(b, &ev->fields[i].val, 1);
    }
    return rc ? rc : sl_buf_putc(b, '}');
}

static int dbg_init(struct sl_component *c, struct sl_diag *d)
{
    (void)d;
    struct dbg *s = sl_xcalloc(1, sizeof(*s));
    sl_buf_init(&s->all, ALL_MAX);
    s->key = sl_sym_intern_c("key");
    s->score = sl_sym_intern_c("score");
    s->metadata = sl_sym_intern_c("metadata");
    c->state = s;
    return 0;
}

static void dbg_fini(struct sl_component *c)
{
    struct dbg *s = c->state;
    if (!s)
        return;
    sl_buf_fini(&s->all);
    sl_free(s);
    c->state = NULL;
}

static int out(struct sl_component *c, const struct sl_buf *b)
{
    if (!b->len)
        return 0;
    int rc = sl_fd_write_all(STDOUT_FILENO, b->ptr, b->len);
    if (!rc)
        atomic_fetch_add_explicit(&c->m.bytes_out, b->len, memory_order_relaxed);
    return rc;
}

static int dbg_write(struct sl_component *c, struct sl_batch *b)
{
    const struct dbg_conf *cf = c->conf;
    struct dbg *s = c->state;
    if (cf->mode == MODE_BATCH) {
        for (uint32_t i = 0; i < b->count && !s->truncated; i++) {
            size_t mark = s->all.len;
            int rc = s->nrec ? sl_buf_puts(&s->all, ", ") : 0;
            if (!rc)
                rc = py_record(s, &s->all, &b->events[i]);
            if (rc) { /* past the cap: keep what fits, say so at the end */
                s->all.len = mark;
                s->truncated = true;
                break;
            }
            s->nrec++;
        }
        return 0;
    }
    struct sl_buf o;
    sl_buf_init(&o, 0);
    int rc = 0;
    if (cf->mode == MODE_STREAM) {
        char when[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        rc = sl_buf_appendf(&o,
                            "-------------------------------------------\nTime: %s\n"
                            "-------------------------------------------\n",
                            when);
        for (uint32_t i = 0; i < b->count && i < 10 && !rc; i++) {
            rc = py_record(s, &o, &b->events[i]);
            if (!rc)
                rc = sl_buf_putc(&o, '\n');
        }
        if (!rc && b->count > 10)
            rc = sl_buf_puts(&o, "...\n");
        if (!rc)
            rc = sl_buf_putc(&o, '\n');
    } else {
        for (uint32_t i = 0; i < b->count && !rc; i++) {
            rc = py_record(s, &o, &b->events[i]);
            if (!rc)
                rc = sl_buf_putc(&o, '\n');
        }
    }
    if (!rc)
        rc = out(c, &o);
    sl_buf_fini(&o);
    return rc;
}

static void dbg_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    (void)x;
    const struct dbg_conf *cf = c->conf;
    struct dbg *s = c->state;
    if (cf->mode != MODE_BATCH)
        return;
    struct sl_buf o;
    sl_buf_init(&o, 0);
    sl_buf_putc(&o, '[');
    sl_buf_append(&o, s->all.ptr ? s->all.ptr : "", s->all.len);
    sl_buf_puts(&o, "]\n");
    out(c, &o);
    sl_buf_fini(&o);
    if (s->truncated)
        sl_warn(c->name, "%s: output cut at 256 MiB (%zu records printed)", cf->title, s->nrec);
}

const struct sl_component_ops sl_usecase_debug_ops = {
    .type = "datashark_debug",
    .kind = SL_KIND_SINK,
    .summary = "print results as dataShark's debug mode did (sluice usecase --debug)",
    .options = dbg_opts,
    .conf_len = sizeof(struct dbg_conf),
    .init = dbg_init,
    .fini = dbg_fini,
    .write = dbg_write,
    .finish = dbg_finish,
};
