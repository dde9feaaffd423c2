/*
 * out_elasticsearch.c — the `elasticsearch` sink: documents through the `_bulk` API
 * (dataShark's [out_elasticsearch]; docs/components/elasticsearch.md).
 *
 * Write path. Each event becomes an action line and a document (codec/es_bulk.h,
 * codec/dsdoc.h), appended to a pending queue; a request goes out when the queue holds
 * `bulk_count` documents or `bulk_bytes`, and at each flush (every 250 ms). The sink holds
 * each batch's delivery token until every document of the batch was indexed or sent to
 * `<name>.errors`, so a source commits only then (at-least-once).
 *
 * Failures. A request that fails as a whole (connection, timeout, HTTP 429/5xx, an answer that
 * is not a bulk response, or whose items do not match) is sent again after a bounded
 * exponential back-off with full jitter; while backing off, write() returns at once until the
 * queue reaches 4 × bulk_bytes, then waits (back-pressure). In a 2xx answer each item decides
 * its document: 2xx done; 429/503 retried alone after its own back-off; any other status
 * rejected to `.errors` with the error type and reason. `max_retries` bounds both kinds.
 *
 * DESIGN: one easy handle on the sink's thread (libcurl keeps the connection alive); a
 * request blocks the thread for at most `timeout`, which is the sink's back-pressure. The
 * queue is one text buffer plus an array of (offset, length) records in order; after each
 * request the finished records are dropped and the rest moved to the front, which copies only
 * the few that wait for a retry.
 *
 * Threads: the sink's thread only; stats() reads atomics.
 */
#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/dsdoc.h"
#include "codec/es_bulk.h"
#include "codec/json.h"
#include "core/component.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

struct es_conf {
    char *host;
    int64_t port;
    char *url, *username, *password, *api_key, *tls_ca;
    bool tls_verify, gzip;
    int64_t timeout, connect_timeout;
    char *index_name, *doc_type, *id_field, *pipeline;
    int op_type; /* 0 index, 1 create */
    uint64_t bulk_bytes;
    int64_t bulk_count;
    uint64_t max_document_size;
    int64_t retry_initial, retry_max, max_retries, drain_timeout;
    int document; /* 0 datashark, 1 event */
    char *title, *pkey, *score, *key_field, *score_field, *metadata_field;
    int timestamp_source;
    char *timestamp_format;
    int timezone;
};

#define O(f) offsetof(struct es_conf, f)
static const struct sl_option es_opts[] = {
    {"host", SL_OPT_STRING, "127.0.0.1", O(host), "node host (when url is not set)", NULL, 0, 0, 0},
    {"port", SL_OPT_INT, "9200", O(port), "node port (when url is not set)", NULL, 1, 65535, 0},
    {"url", SL_OPT_STRING, NULL, O(url),
     "node URL, http:// or https://, optionally with a path prefix; /_bulk is appended", NULL, 0, 0,
     0},
    {"username", SL_OPT_STRING, NULL, O(username), "basic authentication user", NULL, 0, 0, 0},
    {"password", SL_OPT_STRING, NULL, O(password), "basic authentication password", NULL, 0, 0, 0},
    {"api_key", SL_OPT_STRING, NULL, O(api_key), "sent as Authorization: ApiKey <api_key>", NULL, 0,
     0, 0},
    {"tls_ca", SL_OPT_STRING, NULL, O(tls_ca), "CA certificates (PEM) for https", NULL, 0, 0, 0},
    {"tls_verify", SL_OPT_BOOL, "true", O(tls_verify), "verify the certificate and host name", NULL,
     0, 0, 0},
    {"gzip", SL_OPT_BOOL, "false", O(gzip), "gzip the request body", NULL, 0, 0, 0},
    {"timeout", SL_OPT_DURATION, "60s", O(timeout), "a request at most this long", NULL, 0, 0, 0},
    {"connect_timeout", SL_OPT_DURATION, "10s", O(connect_timeout), "connecting at most", NULL, 0,
     0, 0},
    {"index_name", SL_OPT_STRING, "usecase", O(index_name),
     "index; strftime parts rendered from each event's time (UTC)", NULL, 0, 0, 0},
    {"doc_type", SL_OPT_STRING, NULL, O(doc_type), "_type (Elasticsearch <= 6)", NULL, 0, 0, 0},
    {"id_field", SL_OPT_STRING, NULL, O(id_field),
     "field path whose value is the _id (retries then overwrite)", NULL, 0, 0, 0},
    {"op_type", SL_OPT_ENUM, "index", O(op_type), "bulk action", "index|create", 0, 0, 0},
    {"pipeline", SL_OPT_STRING, NULL, O(pipeline), "ingest pipeline", NULL, 0, 0, 0},
    {"bulk_bytes", SL_OPT_SIZE, "5MiB", O(bulk_bytes), "NDJSON bytes per request at most", NULL, 0,
     0, 0},
    {"bulk_count", SL_OPT_INT, "1000", O(bulk_count), "documents per request at most", NULL, 1,
     100000, 0},
    {"max_document_size", SL_OPT_SIZE, "10MiB", O(max_document_size),
     "a larger document goes to .errors", NULL, 0, 0, 0},
    {"retry_initial", SL_OPT_DURATION, "100ms", O(retry_initial),
     "back-off after the first failure (doubled, full jitter)", NULL, 0, 0, 0},
    {"retry_max", SL_OPT_DURATION, "30s", O(retry_max), "back-off cap", NULL, 0, 0, 0},
    {"max_retries", SL_OPT_INT, "0", O(max_retries),
     "give a document up (to .errors) after this many retries; 0: never", NULL, 0, 1000000, 0},
    {"drain_timeout", SL_OPT_DURATION, "30s", O(drain_timeout),
     "at shutdown, keep retrying this long", NULL, 0, 0, 0},
    {"document", SL_OPT_ENUM, "datashark", O(document),
     "datashark document, or the whole event as JSON", "datashark|event", 0, 0, 0},
    {"title", SL_OPT_STRING, "Use Case", O(title), "datashark: the title value", NULL, 0, 0, 0},
    {"pkey", SL_OPT_STRING, "source_ip", O(pkey), "datashark: the key's name", NULL, 0, 0, 0},
    {"score", SL_OPT_STRING, "anomaly_score", O(score), "datashark: the score's name", NULL, 0, 0,
     0},
    {"key_field", SL_OPT_STRING, "key", O(key_field), "field path of the record's key", NULL, 0, 0,
     0},
    {"score_field", SL_OPT_STRING, "score", O(score_field), "field path of the record's score",
     NULL, 0, 0, 0},
    {"metadata_field", SL_OPT_STRING, "metadata", O(metadata_field),
     "field path of the metadata map (absent: the other top-level fields)", NULL, 0, 0, 0},
    {"timestamp_source", SL_OPT_ENUM, "now", O(timestamp_source),
     "datashark timestamp: indexing time or event time", "now|event", 0, 0, 0},
    {"timestamp_format", SL_OPT_STRING, "%Y-%m-%d %H:%M:%S", O(timestamp_format),
     "strftime format of timestamp (%f: microseconds)", NULL, 0, 0, 0},
    {"timezone", SL_OPT_ENUM, "local", O(timezone), "of timestamp", "local|utc", 0, 0, 0},
    {0},
};
#undef O

#define DATA_MAX_CAP ((size_t)1 << 30)
#define RESP_MAX     ((size_t)256 << 20)

/* The documents of one batch: its delivery token goes when the last one is done. */
struct es_bref {
    struct sl_ack *hold;
    uint32_t left;
    bool failed;
};

struct es_doc {
    size_t off;       /* in data: action line, then the document line */
    uint32_t len;     /* both lines, newlines included */
    uint32_t act_len; /* the action line's length */
    uint32_t tries;   /* retries so far */
    int64_t due_at;   /* mono ns: not before */
    struct es_bref *br;
    bool done;
};

struct es_sink {
    struct sl_component *c;
    const struct es_conf *cf;
    struct sl_dsdoc doc;
    struct sl_path id_path;
    bool has_id;
    const char *op;
    char *bulk_url;

    CURL *h;
    struct curl_slist *headers;
    struct sl_buf body, gz, resp;
    struct sl_arena arena; /* response decoding */

    struct sl_buf data; /* pending: action + document lines */
    struct es_doc *docs;
    size_t ndocs, docs_cap;
    size_t *sel;
    size_t nsel, sel_cap;
    uint64_t eff_bulk_bytes; /* halved after a 413 */

    struct sl_buf scratch;
    char index_buf[512];
    int64_t index_sec; /* second index_buf was rendered for; INT64_MIN: none */
    size_t index_len;

    uint32_t failures; /* consecutive failed requests */
    int64_t backoff_until;
    int64_t stopping_since;
    uint64_t rnd;
    struct sl_batch *errs;
    char errmsg[CURL_ERROR_SIZE];
    struct sl_log_limit lim, elim;
    atomic_uint_fast64_t requests, retries, item_retries, rejected;
};

/* ------------------------------------------------------------------ helpers */

static int64_t backoff_ns(struct es_sink *s, uint32_t failures)
{
    int64_t init = s->cf->retry_initial, max = s->cf->retry_max > init ? s->cf->retry_max : init;
    int64_t cap = init;
    for (uint32_t i = 1; i < failures && cap < max; i++)
        cap *= 2;
    if (cap > max)
        cap = max;
    s->rnd ^= s->rnd << 13;
    s->rnd ^= s->rnd >> 7;
    s->rnd ^= s->rnd << 17;
    /* full jitter, never below a tenth of the cap */
    return cap / 10 + (int64_t)(s->rnd % (uint64_t)(cap - cap / 10 + 1));
}

static size_t on_body(char *p, size_t sz, size_t nm, void *arg)
{
    struct sl_buf *b = arg;
    return sl_buf_append(b, p, sz * nm) ? 0 : sz * nm;
}

static void doc_done(struct es_sink *s, struct es_doc *d, bool ok)
{
    d->done = true;
    struct es_bref *br = d->br;
    d->br = NULL;
    if (!br)
        return;
    if (!ok)
        br->failed = true;
    if (--br->left == 0) {
        sl_ack_release(br->hold, !br->failed);
        sl_free(br);
    }
}

/* Send document d to .errors (done: its batch may be acknowledged). */
static void reject(struct es_sink *s, struct es_doc *d, const char *msg)
{
    if (!s->errs)
        s->errs = sl_batch_new();
    const char *doc = s->data.ptr + d->off + d->act_len;
    size_t doc_len = d->len - d->act_len - 1;
    /* where: the action line (index and id), without its newline */
    char where[1024];
    int an = (int)(d->act_len > 1 ? d->act_len - 1 : 0);
    snprintf(where, sizeof(where), "%.*s", an, s->data.ptr + d->off);
    sl_error_event(s->errs, s->c->name, msg, doc, doc_len, where, -1, -1);
    atomic_fetch_add_explicit(&s->rejected, 1, memory_order_relaxed);
    sl_log_ratelimited(&s->elim, 2, SL_LOG_WARN, s->c->name, "document rejected: %s", msg);
    doc_done(s, d, true);
}

static void emit_errors(struct es_sink *s)
{
    if (s->errs) {
        sl_sink_emit_errors(s->c, s->errs); /* counts them as the sink's errors */
        s->errs = NULL;
    }
}

/* Drop finished documents; move the rest (and their text) to the front. */
static void compact(struct es_sink *s)
{
    size_t w = 0, pos = 0;
    for (size_t i = 0; i < s->ndocs; i++) {
        struct es_doc d = s->docs[i];
        if (d.done)
            continue;
        if (d.off != pos)
            memmove(s->data.ptr + pos, s->data.ptr + d.off, d.len);
        d.off = pos;
        pos += d.len;
        s->docs[w++] = d;
    }
    s->ndocs = w;
    s->data.len = pos;
    if (s->data.ptr)
        s->data.ptr[pos] = 0;
}

/* ------------------------------------------------------------------ one request */

enum { REQ_OK, REQ_RETRY };

static int gzip_body(struct es_sink *s)
{
    sl_buf_reset(&s->gz);
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return SL_ENOMEM;
    size_t bound = deflateBound(&z, (uLong)s->body.len);
    int rc = sl_buf_reserve(&s->gz, bound);
    if (!rc) {
        z.next_in = (Bytef *)s->body.ptr;
        z.avail_in = (uInt)s->body.len;
        z.next_out = (Bytef *)s->gz.ptr;
        z.avail_out = (uInt)bound;
        rc = deflate(&z, Z_FINISH) == Z_STREAM_END ? 0 : SL_EIO;
        if (!rc)
            s->gz.len = z.total_out;
    }
    deflateEnd(&z);
    return rc;
}

/* Apply the answer's items to the selected documents. REQ_RETRY when it is not usable. */
static int apply_items(struct es_sink *s, int64_t now)
{
    sl_arena_reset(&s->arena);
    struct sl_es_bulk_resp r;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc =
        sl_es_bulk_parse(&s->arena, s->resp.ptr ? s->resp.ptr : "", s->resp.len, s->nsel, &r, &d);
    if (rc || r.count != s->nsel) {
        sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, s->c->name,
                           "unusable bulk answer (%s); sending the request again",
                           rc ? d.msg : "its items do not match the request");
        return REQ_RETRY;
    }
    char msg[1024];
    for (size_t i = 0; i < s->nsel; i++) {
        struct es_doc *doc = &s->docs[s->sel[i]];
        const struct sl_es_item *it = &r.items[i];
        if (it->status >= 200 && it->status < 300) {
            doc_done(s, doc, true);
            continue;
        }
        if (it->status == 429 || it->status == 503) {
            doc->tries++;
            if (s->cf->max_retries && doc->tries > (uint32_t)s->cf->max_retries) {
                snprintf(msg, sizeof(msg), "elasticsearch %d %.*s: %.*s (gave up after %u tries)",
                         it->status, (int)it->type.len, it->type.ptr, (int)it->reason.len,
                         it->reason.ptr, doc->tries);
                reject(s, doc, msg);
                continue;
            }
            doc->due_at = now + backoff_ns(s, doc->tries);
            atomic_fetch_add_explicit(&s->item_retries, 1, memory_order_relaxed);
            continue;
        }
        snprintf(msg, sizeof(msg), "elasticsearch %d %.*s: %.*s", it->status, (int)it->type.len,
                 it->type.ptr, (int)it->reason.len, it->reason.ptr);
        reject(s, doc, msg);
    }
    return REQ_OK;
}

/* Choose the due documents for one request. False when none is due. */
static bool select_docs(struct es_sink *s, int64_t now)
{
    s->nsel = 0;
    sl_buf_reset(&s->body);
    uint64_t bytes = 0;
    for (size_t i = 0; i < s->ndocs; i++) {
        struct es_doc *d = &s->docs[i];
        if (d->done || d->due_at > now)
            continue;
        if (s->nsel && (s->nsel >= (size_t)s->cf->bulk_count || bytes + d->len > s->eff_bulk_bytes))
            break;
        if (s->nsel == s->sel_cap) {
            s->sel_cap = s->sel_cap ? s->sel_cap * 2 : 1024;
            s->sel = sl_xrealloc(s->sel, s->sel_cap * sizeof(*s->sel));
        }
        s->sel[s->nsel++] = i;
        bytes += d->len;
    }
    if (!s->nsel)
        return false;
    if (sl_buf_reserve(&s->body, (size_t)bytes))
        return false;
    for (size_t i = 0; i < s->nsel; i++) {
        const struct es_doc *d = &s->docs[s->sel[i]];
        memcpy(s->body.ptr + s->body.len, s->data.ptr + d->off, d->len);
        s->body.len += d->len;
    }
    s->body.ptr[s->body.len] = 0;
    return true;
}

/* A whole request failed: retry its documents later (or give them up). */
static void request_failed(struct es_sink *s, int64_t now, const char *why)
{
    s->failures++;
    s->backoff_until = now + backoff_ns(s, s->failures);
    atomic_fetch_add_explicit(&s->retries, 1, memory_order_relaxed);
    sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, s->c->name,
                       "bulk request of %zu documents failed: %s; retrying in %lld ms", s->nsel,
                       why, (long long)((s->backoff_until - now) / 1000000));
    if (!s->cf->max_retries)
        return;
    char msg[512];
    for (size_t i = 0; i < s->nsel; i++) {
        struct es_doc *d = &s->docs[s->sel[i]];
        if (++d->tries > (uint32_t)s->cf->max_retries) {
            snprintf(msg, sizeof(msg), "gave up after %u tries: %s", d->tries, why);
            reject(s, d, msg);
        }
    }
}

/* Send one request of due documents, unless backing off. True when one was sent. */
static bool send_round(struct es_sink *s)
{
    int64_t now = sl_clock_mono_ns();
    if (now < s->backoff_until || !select_docs(s, now))
        return false;
    const char *body = s->body.ptr;
    size_t body_len = s->body.len;
    if (s->cf->gzip) {
        if (gzip_body(s) == 0) {
            body = s->gz.ptr;
            body_len = s->gz.len;
        } else {
            request_failed(s, now, "cannot compress the request");
            return true;
        }
    }
    sl_buf_reset(&s->resp);
    s->errmsg[0] = 0;
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
    CURLcode cc = curl_easy_perform(s->h);
    now = sl_clock_mono_ns();
    long status = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    char why[CURL_ERROR_SIZE + 64];
    if (cc != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", s->errmsg[0] ? s->errmsg : curl_easy_strerror(cc));
        request_failed(s, now, why);
    } else if (status < 200 || status >= 300) {
        /* whole-request errors: the body says why ({"error":{"type","reason"}}) */
        int n = (int)(s->resp.len > 300 ? 300 : s->resp.len);
        snprintf(why, sizeof(why), "HTTP %ld: %.*s", status, n, s->resp.ptr ? s->resp.ptr : "");
        if (status == 413 && s->eff_bulk_bytes > 1024)
            s->eff_bulk_bytes /= 2; /* too large: smaller requests (one document at least) */
        if (status != 429 && status < 500)
            sl_log_ratelimited(&s->elim, 1, SL_LOG_ERROR, s->c->name,
                               "the node refused the request: %s", why);
        request_failed(s, now, why);
    } else if (apply_items(s, now) == REQ_RETRY) {
        request_failed(s, now, "unusable answer");
    } else {
        s->failures = 0;
        atomic_fetch_add_explicit(&s->c->m.bytes_out, body_len, memory_order_relaxed);
    }
    compact(s);
    emit_errors(s);
    return true;
}

static void fail_all(struct es_sink *s, const char *why)
{
    size_t n = 0;
    for (size_t i = 0; i < s->ndocs; i++)
        if (!s->docs[i].done) {
            doc_done(s, &s->docs[i], false);
            n++;
        }
    if (n) {
        atomic_fetch_add_explicit(&s->c->m.errors, n, memory_order_relaxed);
        sl_error(s->c->name, "%zu documents not indexed: %s", n, why);
    }
    compact(s);
}

static bool stop_expired(struct es_sink *s)
{
    if (!sl_source_stopping(s->c))
        return false;
    int64_t now = sl_clock_mono_ns();
    if (!s->stopping_since)
        s->stopping_since = now;
    return now - s->stopping_since >= s->cf->drain_timeout;
}

static void nap_until_due(struct es_sink *s)
{
    int64_t now = sl_clock_mono_ns(), next = s->backoff_until;
    if (next <= now) {
        next = INT64_MAX;
        for (size_t i = 0; i < s->ndocs; i++)
            if (!s->docs[i].done && s->docs[i].due_at < next)
                next = s->docs[i].due_at;
    }
    int64_t ns = next - now;
    if (ns > 100000000)
        ns = 100000000;
    if (ns < 1000000)
        ns = 1000000;
    struct timespec ts = {0, (long)ns};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ rendering */

static struct sl_str index_for(struct es_sink *s, int64_t ts_ns)
{
    int64_t sec = ts_ns / 1000000000;
    if (sec != s->index_sec) {
        s->index_len =
            sl_dsdoc_strftime(s->cf->index_name, ts_ns, true, s->index_buf, sizeof(s->index_buf));
        s->index_sec = sec;
    }
    return sl_str_make(s->index_buf, s->index_len);
}

/* Append event ev's action and document lines to data. NULL, or why it cannot be sent. */
static const char *render(struct es_sink *s, const struct sl_event *ev, int64_t now_wall,
                          uint32_t *act_len)
{
    size_t mark = s->data.len;
    struct sl_str id, *idp = NULL;
    if (s->has_id) {
        const struct sl_value *v = sl_path_get(&s->id_path, ev);
        if (v && v->type != SL_V_NULL) {
            if (v->type == SL_V_MAP || v->type == SL_V_LIST)
                return "id_field is not a scalar";
            id = sl_value_to_text(v, &s->scratch);
            if (!id.len || id.len > 512)
                return "id_field is empty or longer than 512 bytes";
            idp = &id;
        }
    }
    struct sl_str index = index_for(s, ev->ts_ns ? ev->ts_ns : now_wall);
    if (!index.len)
        return "index_name renders empty";
    int rc = sl_es_bulk_action(&s->data, s->op, index, s->cf->doc_type, idp);
    if (rc)
        goto fail;
    *act_len = (uint32_t)(s->data.len - mark);
    rc = s->cf->document == 0 ? sl_dsdoc_write_json(&s->doc, ev, now_wall, &s->data)
                              : sl_json_write_event(&s->data, ev);
    if (!rc)
        rc = sl_buf_putc(&s->data, '\n');
    if (!rc && s->data.len - mark - *act_len > s->cf->max_document_size + 1)
        rc = SL_E2BIG;
    if (!rc)
        return NULL;
fail:
    s->data.len = mark;
    if (s->data.ptr)
        s->data.ptr[mark] = 0;
    return rc == SL_E2BIG ? "document larger than max_document_size" : "cannot render the document";
}

/* ------------------------------------------------------------------ sink ops */

static uint64_t pending_bytes(const struct es_sink *s)
{
    return s->data.len;
}

static int es_write(struct sl_component *c, struct sl_batch *b)
{
    struct es_sink *s = c->state;
    if (!b->count)
        return 0;
    int64_t now_wall = sl_clock_wall_ns(), now = sl_clock_mono_ns();
    /* back-pressure: at most 4 x bulk_bytes wait here */
    while (pending_bytes(s) >= 4 * s->cf->bulk_bytes && s->ndocs) {
        if (!send_round(s)) {
            if (stop_expired(s)) {
                fail_all(s, "stopping, and drain_timeout passed");
                break;
            }
            nap_until_due(s);
        }
    }
    struct es_bref *br = sl_xcalloc(1, sizeof(*br));
    for (uint32_t i = 0; i < b->count; i++) {
        uint32_t act_len = 0;
        size_t off = s->data.len;
        const char *why = render(s, &b->events[i], now_wall, &act_len);
        if (why) {
            if (!s->errs)
                s->errs = sl_batch_new();
            sl_error_event_for(s->errs, c->name, why, &b->events[i]);
            sl_log_ratelimited(&s->elim, 2, SL_LOG_WARN, c->name, "record not sent: %s", why);
            continue;
        }
        if (s->ndocs == s->docs_cap) {
            s->docs_cap = s->docs_cap ? s->docs_cap * 2 : 1024;
            s->docs = sl_xrealloc(s->docs, s->docs_cap * sizeof(*s->docs));
        }
        s->docs[s->ndocs++] = (struct es_doc){.off = off,
                                              .len = (uint32_t)(s->data.len - off),
                                              .act_len = act_len,
                                              .due_at = now,
                                              .br = br};
        br->left++;
    }
    if (s->errs) {
        sl_sink_emit_errors(c, s->errs);
        s->errs = NULL;
    }
    if (br->left)
        br->hold = sl_sink_hold(b);
    else
        sl_free(br);
    /* full requests go now; the rest at the next flush */
    while ((s->ndocs >= (size_t)s->cf->bulk_count || pending_bytes(s) >= s->eff_bulk_bytes) &&
           send_round(s))
        ;
    return 0;
}

static int es_flush(struct sl_component *c)
{
    struct es_sink *s = c->state;
    while (s->ndocs && send_round(s))
        ;
    if (s->ndocs && stop_expired(s))
        fail_all(s, "stopping, and drain_timeout passed");
    return 0;
}

static void es_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    (void)x;
    struct es_sink *s = c->state;
    int64_t deadline = sl_clock_mono_ns() + s->cf->drain_timeout;
    while (s->ndocs && sl_clock_mono_ns() < deadline) {
        if (!send_round(s))
            nap_until_due(s);
    }
    fail_all(s, "drain_timeout passed at shutdown");
}

static size_t es_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct es_sink *s = c->state;
    if (!s)
        return 0;
    out[0] = (struct sl_comp_stat){"sluice_es_requests_total", "bulk requests sent", false,
                                   (double)atomic_load(&s->requests)};
    out[1] = (struct sl_comp_stat){"sluice_es_retries_total", "bulk requests that failed whole",
                                   false, (double)atomic_load(&s->retries)};
    out[2] = (struct sl_comp_stat){"sluice_es_item_retries_total",
                                   "documents retried after an item 429/503", false,
                                   (double)atomic_load(&s->item_retries)};
    out[3] = (struct sl_comp_stat){"sluice_es_rejected_total", "documents sent to .errors", false,
                                   (double)atomic_load(&s->rejected)};
    return 4;
}

static void es_fini(struct sl_component *c)
{
    struct es_sink *s = c->state;
    if (!s)
        return;
    for (size_t i = 0; i < s->ndocs; i++)
        if (!s->docs[i].done)
            doc_done(s, &s->docs[i], false);
    if (s->errs)
        sl_batch_unref(s->errs);
    if (s->h) {
        curl_easy_cleanup(s->h);
        curl_global_cleanup();
    }
    curl_slist_free_all(s->headers);
    sl_dsdoc_fini(&s->doc);
    sl_path_fini(&s->id_path);
    sl_buf_fini(&s->body);
    sl_buf_fini(&s->gz);
    sl_buf_fini(&s->resp);
    sl_buf_fini(&s->data);
    sl_buf_fini(&s->scratch);
    sl_arena_fini(&s->arena);
    sl_free(s->docs);
    sl_free(s->sel);
    sl_free(s->bulk_url);
    sl_free(s);
    c->state = NULL;
}

static int opt_err(struct sl_component *c, struct sl_diag *d, const char *key, const char *hint,
                   const char *msg)
{
    sl_component_diag_opt(c, key, d);
    if (hint)
        sl_diag_hint(d, "%s", hint);
    return sl_diag_set(d, SL_ECONFIG, "elasticsearch sink '%s': %s", c->name, msg);
}

static int setup_curl(struct sl_component *c, struct es_sink *s, struct sl_diag *d)
{
    const struct es_conf *cf = s->cf;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    s->h = curl_easy_init();
    if (!s->h) {
        curl_global_cleanup();
        return opt_err(c, d, "url", NULL, "cannot create a libcurl handle");
    }
    s->headers = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
    s->headers = curl_slist_append(s->headers, "Expect:");
    if (cf->gzip)
        s->headers = curl_slist_append(s->headers, "Content-Encoding: gzip");
    if (cf->api_key) {
        struct sl_buf h;
        sl_buf_init(&h, 8192);
        if (sl_buf_appendf(&h, "Authorization: ApiKey %s", cf->api_key) == 0)
            s->headers = curl_slist_append(s->headers, h.ptr);
        sl_buf_fini(&h);
    }
    CURL *h = s->h;
    curl_easy_setopt(h, CURLOPT_URL, s->bulk_url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s->resp);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errmsg);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(cf->timeout / 1000000));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(cf->connect_timeout / 1000000));
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* the answer may come compressed */
    if (cf->username) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, cf->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, cf->password ? cf->password : "");
    }
    if (cf->tls_ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, cf->tls_ca);
    if (!cf->tls_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return 0;
}

static int es_init(struct sl_component *c, struct sl_diag *d)
{
    const struct es_conf *cf = c->conf;
    struct es_sink *s = sl_xcalloc(1, sizeof(*s));
    c->state = s;
    s->c = c;
    s->cf = cf;
    s->index_sec = INT64_MIN;
    s->rnd = (uint64_t)sl_clock_wall_ns() ^ (uint64_t)(uintptr_t)s ^ 0x9E3779B97F4A7C15ull;
    if (!s->rnd)
        s->rnd = 1;
    sl_buf_init(&s->body, DATA_MAX_CAP);
    sl_buf_init(&s->gz, DATA_MAX_CAP);
    sl_buf_init(&s->resp, RESP_MAX);
    /* pending documents: 4 x bulk_bytes before write() waits, plus one batch */
    sl_buf_init(&s->data, (size_t)4 * (size_t)cf->bulk_bytes + DATA_MAX_CAP);
    sl_buf_init(&s->scratch, (size_t)1 << 20);
    sl_arena_init(&s->arena, 64 << 10, RESP_MAX * 2);
    s->op = cf->op_type ? "create" : "index";
    char msg[512];
    int rc;

    if (cf->url) {
        if (strncmp(cf->url, "http://", 7) != 0 && strncmp(cf->url, "https://", 8) != 0) {
            rc = opt_err(c, d, "url", "e.g. http://127.0.0.1:9200", "url must be http or https");
            goto fail;
        }
        struct sl_buf u;
        sl_buf_init(&u, 8192);
        size_t n = strlen(cf->url);
        while (n && cf->url[n - 1] == '/')
            n--;
        sl_buf_append(&u, cf->url, n);
        sl_buf_puts(&u, "/_bulk");
        s->bulk_url = sl_buf_steal(&u, NULL);
    } else {
        struct sl_buf u;
        sl_buf_init(&u, 8192);
        bool v6 = strchr(cf->host, ':') != NULL;
        sl_buf_appendf(&u, "http://%s%s%s:%lld/_bulk", v6 ? "[" : "", cf->host, v6 ? "]" : "",
                       (long long)cf->port);
        s->bulk_url = sl_buf_steal(&u, NULL);
    }
    if (!s->bulk_url) {
        rc = opt_err(c, d, "url", NULL, "url too long");
        goto fail;
    }
    if (cf->pipeline) {
        char *esc = curl_easy_escape(NULL, cf->pipeline, 0);
        struct sl_buf u;
        sl_buf_init(&u, 16384);
        sl_buf_appendf(&u, "%s?pipeline=%s", s->bulk_url, esc ? esc : "");
        curl_free(esc);
        sl_free(s->bulk_url);
        s->bulk_url = sl_buf_steal(&u, NULL);
    }
    if (cf->bulk_bytes < 1024 || cf->bulk_bytes > ((uint64_t)256 << 20)) {
        rc = opt_err(c, d, "bulk_bytes", "between 1KiB and 256MiB", "bulk_bytes out of range");
        goto fail;
    }
    s->eff_bulk_bytes = cf->bulk_bytes;
    if (cf->max_document_size < 64 || cf->max_document_size > ((uint64_t)256 << 20)) {
        rc = opt_err(c, d, "max_document_size", "between 64 bytes and 256MiB",
                     "max_document_size out of range");
        goto fail;
    }
    if (cf->retry_initial < 10000000) {
        rc = opt_err(c, d, "retry_initial", NULL, "retry_initial must be at least 10ms");
        goto fail;
    }
    if (!cf->index_name[0] || strlen(cf->index_name) > 255) {
        rc = opt_err(c, d, "index_name", NULL, "index_name must have 1 to 255 characters");
        goto fail;
    }
    if (!!cf->username != !!cf->password && !cf->username) {
        rc = opt_err(c, d, "password", NULL, "password without username");
        goto fail;
    }
    struct sl_dsdoc_conf dc = {
        .title = cf->title,
        .pkey = cf->pkey,
        .score = cf->score,
        .key_field = cf->key_field,
        .score_field = cf->score_field,
        .metadata_field = cf->metadata_field,
        .timestamp_format = cf->timestamp_format,
        .timestamp_event = cf->timestamp_source == 1,
        .utc = cf->timezone == 1,
    };
    if ((rc = sl_dsdoc_init(&s->doc, &dc)) != 0) {
        rc = opt_err(c, d, "key_field", "a field path has at most 9 dot-separated parts",
                     "bad key_field, score_field or metadata_field");
        goto fail;
    }
    if (cf->id_field) {
        if (sl_path_init(&s->id_path, cf->id_field)) {
            snprintf(msg, sizeof(msg), "bad id_field \"%s\"", cf->id_field);
            rc = opt_err(c, d, "id_field", "a field path has at most 9 dot-separated parts", msg);
            goto fail;
        }
        s->has_id = true;
    }
    if ((rc = setup_curl(c, s, d)) != 0)
        goto fail;
    return 0;
fail:
    es_fini(c);
    return rc;
}

const struct sl_component_ops sl_out_elasticsearch_ops = {
    .type = "elasticsearch",
    .kind = SL_KIND_SINK,
    .summary = "index documents through Elasticsearch's _bulk API (dataShark's documents)",
    .options = es_opts,
    .conf_len = sizeof(struct es_conf),
    .init = es_init,
    .fini = es_fini,
    .write = es_write,
    .flush = es_flush,
    .finish = es_finish,
    .stats = es_stats,
    .flush_interval_ns = 250000000,
};
