/*
 * dsdoc.c — dataShark's output record and document (see dsdoc.h).
 *
 * DESIGN: nothing is allocated per record. The metadata is walked in place — the map at
 * `metadata_field`, or the event's own fields minus the key's and the score's — twice for
 * the JSON document: once to find metadata keys that replace title/timestamp/pkey/score in
 * place (Python's dict.update, without a duplicate key), once to write the others. Sorting
 * (the CSV layout) sorts the caller's array of views.
 */
#include "codec/dsdoc.h"

#include "base/alloc.h"
#include "codec/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TS_FORMAT "%Y-%m-%d %H:%M:%S"

int sl_dsdoc_init(struct sl_dsdoc *d, const struct sl_dsdoc_conf *cf)
{
    memset(d, 0, sizeof(*d));
    int rc;
    if ((rc = sl_path_init(&d->key, cf->key_field ? cf->key_field : "key")) != 0 ||
        (rc = sl_path_init(&d->score, cf->score_field ? cf->score_field : "score")) != 0 ||
        (rc = sl_path_init(&d->meta, cf->metadata_field ? cf->metadata_field : "metadata")) != 0)
        goto fail;
    d->title = sl_strdup(cf->title ? cf->title : "");
    d->pkey = sl_strdup(cf->pkey ? cf->pkey : "source_ip");
    d->score_name = sl_strdup(cf->score ? cf->score : "anomaly_score");
    d->ts_format = sl_strdup(cf->timestamp_format ? cf->timestamp_format : DEFAULT_TS_FORMAT);
    if (!d->title || !d->pkey || !d->score_name || !d->ts_format) {
        rc = SL_ENOMEM;
        goto fail;
    }
    d->timestamp_event = cf->timestamp_event;
    d->utc = cf->utc;
    return 0;
fail:
    sl_dsdoc_fini(d);
    return rc == SL_E2BIG ? SL_EINVAL : rc;
}

void sl_dsdoc_fini(struct sl_dsdoc *d)
{
    sl_path_fini(&d->key);
    sl_path_fini(&d->score);
    sl_path_fini(&d->meta);
    sl_free(d->title);
    sl_free(d->pkey);
    sl_free(d->score_name);
    sl_free(d->ts_format);
    memset(d, 0, sizeof(*d));
}

const struct sl_value *sl_dsdoc_key(const struct sl_dsdoc *d, const struct sl_event *ev)
{
    return sl_path_get(&d->key, ev);
}

const struct sl_value *sl_dsdoc_score(const struct sl_dsdoc *d, const struct sl_event *ev)
{
    return sl_path_get(&d->score, ev);
}

/* A top-level field that is the key or the score itself (not a map that contains one). */
static bool is_record_field(const struct sl_dsdoc *d, sl_sym sym)
{
    return sym == d->key.full || sym == d->score.full || sym == d->meta.full;
}

/* Walk the metadata: calls fn for each entry in order; stops when fn returns false. */
typedef bool (*kv_fn)(void *arg, struct sl_str key, const struct sl_value *val);

static void walk_meta(const struct sl_dsdoc *d, const struct sl_event *ev, kv_fn fn, void *arg)
{
    const struct sl_value *m = sl_path_get(&d->meta, ev);
    if (m) {
        if (m->type == SL_V_MAP) {
            for (uint32_t i = 0; i < m->len; i++)
                if (!fn(arg, m->u.map[i].key, &m->u.map[i].val))
                    return;
        } else if (m->type != SL_V_NULL) {
            fn(arg, sl_str_c(d->meta.text), m);
        }
        return;
    }
    for (uint32_t i = 0; i < ev->count; i++) {
        if (is_record_field(d, ev->fields[i].sym))
            continue;
        if (!fn(arg, sl_sym_name(ev->fields[i].sym), &ev->fields[i].val))
            return;
    }
}

struct collect {
    struct sl_dsdoc_kv *out;
    size_t cap, n;
};

static bool collect_kv(void *arg, struct sl_str key, const struct sl_value *val)
{
    struct collect *c = arg;
    if (c->n < c->cap) {
        c->out[c->n].key = key;
        c->out[c->n].val = val;
    }
    c->n++;
    return true;
}

static int kv_cmp(const void *a, const void *b)
{
    const struct sl_dsdoc_kv *x = a, *y = b;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int r = n ? memcmp(x->key.ptr, y->key.ptr, n) : 0;
    if (r)
        return r;
    return x->key.len < y->key.len ? -1 : x->key.len > y->key.len;
}

size_t sl_dsdoc_metadata(const struct sl_dsdoc *d, const struct sl_event *ev, bool sorted,
                         struct sl_dsdoc_kv *out, size_t cap)
{
    struct collect c = {.out = out, .cap = cap};
    walk_meta(d, ev, collect_kv, &c);
    size_t filled = c.n < cap ? c.n : cap;
    if (sorted && filled > 1)
        qsort(out, filled, sizeof(*out), kv_cmp);
    return c.n;
}

size_t sl_dsdoc_strftime(const char *fmt, int64_t ts_ns, bool utc, char *out, size_t out_len)
{
    if (!out_len)
        return 0;
    out[0] = 0;
    int64_t secs = ts_ns / 1000000000;
    int64_t ns = ts_ns % 1000000000;
    if (ns < 0) {
        ns += 1000000000;
        secs--;
    }
    /* %f is not strftime's: substitute the microseconds first ("%%f" stays literal) */
    char f[256];
    size_t o = 0;
    for (const char *p = fmt; *p; p++) {
        if (p[0] == '%' && p[1] == 'f') {
            if (o + 7 > sizeof(f))
                return 0;
            snprintf(f + o, 7, "%06d", (int)(ns / 1000));
            o += 6;
            p++;
            continue;
        }
        if (o + 3 > sizeof(f))
            return 0;
        if (p[0] == '%' && p[1]) {
            f[o++] = *p++;
        }
        f[o++] = *p;
    }
    f[o] = 0;
    time_t t = (time_t)secs;
    struct tm tm;
    if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)))
        return 0;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    /* the format is the user's (a config option), checked when the sink starts */
    return strftime(out, out_len, f, &tm);
#pragma GCC diagnostic pop
}

size_t sl_dsdoc_time(const struct sl_dsdoc *d, const struct sl_event *ev, int64_t now_ns, char *out,
                     size_t out_len)
{
    return sl_dsdoc_strftime(d->ts_format, d->timestamp_event ? ev->ts_ns : now_ns, d->utc, out,
                             out_len);
}

/* The four leading members and metadata values that replace them. */
struct head {
    struct sl_str name[4];
    const struct sl_value *over[4];
};

static bool find_over(void *arg, struct sl_str key, const struct sl_value *val)
{
    struct head *h = arg;
    for (int i = 0; i < 4; i++)
        if (sl_str_eq(key, h->name[i]))
            h->over[i] = val; /* the last one wins, as in dict.update */
    return true;
}

struct wr {
    struct head *h;
    struct sl_buf *out;
    int rc;
};

static bool write_rest(void *arg, struct sl_str key, const struct sl_value *val)
{
    struct wr *w = arg;
    for (int i = 0; i < 4; i++)
        if (sl_str_eq(key, w->h->name[i]))
            return true;
    if ((w->rc = sl_buf_putc(w->out, ',')) != 0 ||
        (w->rc = sl_json_write_string(w->out, key.ptr, key.len)) != 0 ||
        (w->rc = sl_buf_putc(w->out, ':')) != 0 || (w->rc = sl_json_write_value(w->out, val)) != 0)
        return false;
    return true;
}

static int write_member(struct sl_buf *out, bool first, struct sl_str name,
                        const struct sl_value *v)
{
    int rc;
    if ((!first && (rc = sl_buf_putc(out, ',')) != 0) ||
        (rc = sl_json_write_string(out, name.ptr, name.len)) != 0 ||
        (rc = sl_buf_putc(out, ':')) != 0)
        return rc;
    if (!v)
        return sl_buf_append(out, "null", 4);
    return sl_json_write_value(out, v);
}

int sl_dsdoc_write_json(const struct sl_dsdoc *d, const struct sl_event *ev, int64_t now_ns,
                        struct sl_buf *out)
{
    char ts[128];
    size_t tslen = sl_dsdoc_time(d, ev, now_ns, ts, sizeof(ts));
    struct sl_value vt = {.type = SL_V_STRING, .len = (uint32_t)strlen(d->title), .u.s = d->title};
    struct sl_value vts = {.type = SL_V_STRING, .len = (uint32_t)tslen, .u.s = ts};
    struct head h = {
        .name = {sl_str_c("title"), sl_str_c("timestamp"), sl_str_c(d->pkey),
                 sl_str_c(d->score_name)},
    };
    walk_meta(d, ev, find_over, &h);
    const struct sl_value *vals[4] = {&vt, &vts, sl_dsdoc_key(d, ev), sl_dsdoc_score(d, ev)};
    size_t mark = out->len;
    int rc = sl_buf_putc(out, '{');
    for (int i = 0; i < 4 && !rc; i++) {
        /* pkey or score named "title" (or each other): written once, the later part wins */
        bool dup = false;
        for (int j = i + 1; j < 4; j++)
            dup |= sl_str_eq(h.name[i], h.name[j]);
        if (dup)
            continue;
        rc = write_member(out, out->len == mark + 1, h.name[i], h.over[i] ? h.over[i] : vals[i]);
    }
    if (!rc) {
        struct wr w = {.h = &h, .out = out};
        walk_meta(d, ev, write_rest, &w);
        rc = w.rc;
    }
    if (!rc)
        rc = sl_buf_putc(out, '}');
    if (rc) {
        out->len = mark;
        if (out->ptr)
            out->ptr[mark] = 0;
    }
    return rc;
}
