/*
 * in_http.c — the `http` source: POST NDJSON (or one JSON array of objects) to `path`.
 *
 *   200 {"accepted":N,"errors":0}                      every record taken
 *   400 {"accepted":N,"errors":M,"error":"...","line":L} the good records are taken, the bad
 *                                                       ones go to <name>.errors
 *   413 body larger than max_body (discarded as it arrives, never buffered)
 *   429 the pipeline is full (Retry-After: 1): this body's remaining events are not taken
 *   503 the source is stopping;  405 other methods on `path`;  404 other paths
 *   401 / 403 with `tokens` (a tokens file) and no or a wrong token, or a refused client
 *       certificate (tls_ca); TLS and connection limits: io/httpd.h
 *   With `ack: true` the answer waits until every sink made the body's events durable (a
 *   disk buffer counts: core/sinkbuf.h): 200 then means delivered, 503 that a sink failed
 *   them, 504 that `ack_timeout` passed first (the events may still arrive: resend for
 *   at-least-once). The waiting holds one of `threads` HTTP threads.
 *
 * DESIGN: libmicrohttpd with its internal epoll thread and a pool of two threads: request
 * handling is short (parse into a batch, try to queue it), so a small pool keeps up, and it
 * never waits on the pipeline: sl_source_try_emit() turns a full pipeline into 429 so the
 * client backs off instead of the server buffering. A body of more than one batch (about
 * 1,000 lines) is queued batch by batch; if the pipeline fills half-way, the answer is 429
 * with "accepted" telling how many records were taken (the client may resend the rest).
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"
#include "core/component.h"
#include "io/httpd.h"
#include "io/linereader.h"
#include "sys/thread.h"

#include <microhttpd.h>
#include <unistd.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

struct http_conf {
    char *listen;
    char *path;
    uint64_t max_body;
    uint64_t max_line;
    char *tokens;
    struct sl_httpd_conf net;
    bool ack;
    int64_t ack_timeout_ns;
    int64_t threads;
};

/* `ack: true`: one token for a request's batches; the waiting handler and the last hold's
 * release meet under `m`, and whichever of them comes second frees it (a handler that timed
 * out leaves it to the sinks). */
struct req_ack {
    struct sl_ack ack;
    struct sl_mutex m;
    struct sl_cond cv;
    bool done, abandoned;
};

static void req_ack_free(struct req_ack *t)
{
    sl_cond_fini(&t->cv);
    sl_mutex_fini(&t->m);
    sl_free(t);
}

static void req_ack_done(void *arg)
{
    struct req_ack *t = arg;
    sl_mutex_lock(&t->m);
    t->done = true;
    bool mine = t->abandoned;
    sl_cond_signal(&t->cv);
    sl_mutex_unlock(&t->m);
    if (mine)
        req_ack_free(t);
}

/* Release the handler's hold and wait. 1: delivered, 0: a sink failed, -1: timed out (then
 * the token belongs to the sinks). */
static int req_ack_wait(struct req_ack *t, int64_t timeout_ns)
{
    int64_t deadline = sl_clock_mono_ns() + timeout_ns;
    sl_ack_release(&t->ack, true);
    sl_mutex_lock(&t->m);
    while (!t->done)
        if (sl_cond_wait_until(&t->cv, &t->m, deadline) == SL_ETIMEDOUT && !t->done)
            break;
    bool done = t->done;
    if (!done)
        t->abandoned = true;
    sl_mutex_unlock(&t->m);
    if (!done)
        return -1;
    int rc = sl_ack_failed(&t->ack) ? 0 : 1;
    req_ack_free(t);
    return rc;
}

struct http_state {
    struct sl_httpd *h;
    atomic_uint_fast64_t requests, rejected;
};

struct request {
    struct sl_buf body;
    bool too_large;
    /* what the line reader produced for this body */
    struct sl_batch **batches;
    size_t nbatches;
    struct sl_batch **errs;
    size_t nerrs;
    uint64_t errors;
    char first_error[512];
    int64_t first_line;
};

static int collect(void *arg, struct sl_batch *b, bool is_errors)
{
    struct request *rq = arg;
    struct sl_batch ***list = is_errors ? &rq->errs : &rq->batches;
    size_t *n = is_errors ? &rq->nerrs : &rq->nbatches;
    if (is_errors) {
        rq->errors += b->count;
        if (!rq->first_error[0] && b->count) {
            const struct sl_value *m = sl_event_get(&b->events[0], SL_SYM_ERROR);
            const struct sl_value *l = sl_event_get(&b->events[0], SL_SYM_LINE);
            rq->first_line = l && l->type == SL_V_INT ? l->u.i : 0;
            snprintf(rq->first_error, sizeof(rq->first_error), "line %lld: %.*s",
                     (long long)rq->first_line, m ? (int)m->len : 0, m ? m->u.s : "");
        }
    }
    *list = sl_xrealloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = b;
    return 0;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, struct sl_buf *b,
                               bool retry_after)
{
    size_t len = 0;
    char *p = sl_buf_steal(b, &len);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, p ? p : sl_xstrdup(""), sl_free);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (retry_after)
        MHD_add_response_header(r, "Retry-After", "1");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result simple(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    struct sl_buf b;
    sl_buf_init(&b, 4096);
    sl_buf_appendf(&b, "{\"error\":\"%s\"}\n", msg);
    return respond(conn, status, &b, status == 429 || status == 503);
}

/* A JSON array body: each element must be an object. */
static void parse_array(struct sl_component *c, struct request *rq)
{
    struct sl_batch *b = sl_batch_new();
    char *copy = sl_batch_copy(b, rq->body.ptr, rq->body.len);
    struct sl_value v;
    struct sl_diag d;
    sl_diag_init(&d);
    if (!copy || sl_json_parse_value(&b->arena, copy, rq->body.len, NULL, &v, &d)) {
        char msg[700];
        snprintf(msg, sizeof(msg), "invalid JSON at byte %lld: %s", (long long)d.offset,
                 copy ? d.msg : "out of memory");
        struct sl_batch *e = sl_batch_new();
        sl_error_event(e, c->name, msg, rq->body.ptr, rq->body.len, "http", 1, d.offset);
        collect(rq, e, true);
        sl_batch_unref(b);
        return;
    }
    b->bytes = rq->body.len;
    int64_t now = sl_clock_wall_ns();
    for (uint32_t i = 0; i < v.len; i++) {
        const struct sl_value *el = &v.u.list[i];
        if (el->type != SL_V_MAP) {
            char msg[128];
            snprintf(msg, sizeof(msg), "array element %u is a %s, not an object", i + 1,
                     sl_vtype_name((enum sl_vtype)el->type));
            struct sl_batch *e = sl_batch_new();
            sl_error_event(e, c->name, msg, NULL, 0, "http", (int64_t)i + 1, -1);
            collect(rq, e, true);
            continue;
        }
        struct sl_event *ev = sl_batch_push(b);
        if (!ev)
            break;
        ev->ts_ns = now;
        for (uint32_t k = 0; k < el->len; k++) {
            sl_sym sym = sl_sym_intern(el->u.map[k].key.ptr, el->u.map[k].key.len);
            if (sym)
                sl_event_set(b, ev, sym, el->u.map[k].val);
        }
    }
    collect(rq, b, false);
}

static void parse_body(struct sl_component *c, struct request *rq)
{
    struct http_conf *cf = c->conf;
    size_t i = 0;
    while (i < rq->body.len && (rq->body.ptr[i] == ' ' || rq->body.ptr[i] == '\n' ||
                                rq->body.ptr[i] == '\r' || rq->body.ptr[i] == '\t'))
        i++;
    if (i < rq->body.len && rq->body.ptr[i] == '[') {
        parse_array(c, rq);
        return;
    }
    struct sl_linereader_opts o = {
        .format = SL_LINES_JSON, .max_line = cf->max_line, .where = "http"};
    struct sl_linereader *r = sl_linereader_new(c, &o);
    sl_linereader_set_emit(r, collect, rq);
    sl_linereader_feed(r, rq->body.ptr, rq->body.len);
    sl_linereader_finish(r);
    sl_linereader_free(r);
}

static void free_request(struct request *rq)
{
    for (size_t i = 0; i < rq->nbatches; i++)
        sl_batch_unref(rq->batches[i]);
    for (size_t i = 0; i < rq->nerrs; i++)
        sl_batch_unref(rq->errs[i]);
    sl_free(rq->batches);
    sl_free(rq->errs);
    sl_buf_fini(&rq->body);
    sl_free(rq);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    struct sl_component *c = cls;
    struct http_conf *cf = c->conf;
    struct http_state *s = c->state;
    struct request *rq = *con_cls;
    if (!rq) {
        /* first call: headers only; the client's certificate and token first */
        if (!sl_httpd_client_cert_ok(s->h, conn)) {
            atomic_fetch_add_explicit(&s->rejected, 1, memory_order_relaxed);
            return sl_httpd_error(conn, MHD_HTTP_FORBIDDEN, "client certificate refused");
        }
        enum sl_auth a = sl_httpd_authorize(s->h, conn, NULL);
        if (a != SL_AUTH_OK) {
            atomic_fetch_add_explicit(&s->rejected, 1, memory_order_relaxed);
            return sl_httpd_refuse(conn, a);
        }
        rq = sl_xcalloc(1, sizeof(*rq));
        sl_buf_init(&rq->body, cf->max_body);
        *con_cls = rq;
        atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
        return MHD_YES;
    }
    if (*upload_len) {
        if (!rq->too_large && sl_buf_append(&rq->body, upload, *upload_len))
            rq->too_large = true; /* discard the rest as it arrives */
        *upload_len = 0;
        return MHD_YES;
    }
    if (strcmp(url, cf->path) != 0)
        return simple(conn, MHD_HTTP_NOT_FOUND, "not found");
    if (strcmp(method, "POST") != 0)
        return simple(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
    if (sl_source_stopping(c)) {
        atomic_fetch_add_explicit(&s->rejected, 1, memory_order_relaxed);
        return simple(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping");
    }
    if (rq->too_large) {
        atomic_fetch_add_explicit(&s->rejected, 1, memory_order_relaxed);
        struct sl_buf b;
        sl_buf_init(&b, 4096);
        sl_buf_appendf(&b, "{\"error\":\"body larger than max_body (%llu bytes)\"}\n",
                       (unsigned long long)cf->max_body);
        return respond(conn, MHD_HTTP_CONTENT_TOO_LARGE, &b, false);
    }
    parse_body(c, rq);
    uint64_t accepted = 0;
    bool full = false;
    struct req_ack *t = NULL;
    if (cf->ack) {
        t = sl_xcalloc(1, sizeof *t);
        sl_mutex_init(&t->m);
        sl_cond_init(&t->cv);
        sl_ack_init(&t->ack, req_ack_done, t);
    }
    for (size_t i = 0; i < rq->nbatches; i++) {
        struct sl_batch *b = rq->batches[i];
        uint32_t n = b->count;
        if (t && !full)
            sl_batch_set_ack(b, &t->ack);
        if (!full && sl_source_try_emit(c, b) == 0) {
            rq->batches[i] = NULL;
            accepted += n;
        } else {
            full = true;
        }
    }
    /* dead letters of the records that were read */
    for (size_t i = 0; i < rq->nerrs && !full; i++) {
        struct sl_batch *e = rq->errs[i];
        rq->errs[i] = NULL;
        if (t)
            sl_batch_set_ack(e, &t->ack);
        sl_source_emit_errors(c, e);
    }
    /* batches not taken (429) still hold the token: freed with the request, after the wait */
    int delivered = 1;
    if (t) {
        for (size_t i = 0; i < rq->nbatches; i++) {
            sl_batch_unref(rq->batches[i]);
            rq->batches[i] = NULL;
        }
        delivered = req_ack_wait(t, cf->ack_timeout_ns);
    }
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    unsigned status = MHD_HTTP_OK;
    if (delivered <= 0) {
        status = delivered ? MHD_HTTP_GATEWAY_TIMEOUT : MHD_HTTP_SERVICE_UNAVAILABLE;
        atomic_fetch_add_explicit(&s->rejected, 1, memory_order_relaxed);
        sl_buf_appendf(&b, "{\"accepted\":%llu,\"error\":\"%s\"}\n", (unsigned long long)accepted,
                       delivered ? "not confirmed by the sinks within ack_timeout: resend"
                                 : "a sink could not deliver these events: resend");
    } else if (full) {
        status = MHD_HTTP_TOO_MANY_REQUESTS;
        atomic_fetch_add_explicit(&s->rejected, 1, memory_order_relaxed);
        sl_buf_appendf(&b, "{\"accepted\":%llu,\"error\":\"pipeline full, retry later\"}\n",
                       (unsigned long long)accepted);
    } else if (rq->errors) {
        status = MHD_HTTP_BAD_REQUEST;
        sl_buf_appendf(&b, "{\"accepted\":%llu,\"errors\":%llu", (unsigned long long)accepted,
                       (unsigned long long)rq->errors);
        if (rq->first_error[0]) {
            sl_buf_puts(&b, ",\"error\":");
            sl_json_write_string(&b, rq->first_error, strlen(rq->first_error));
            sl_buf_appendf(&b, ",\"line\":%lld", (long long)rq->first_line);
        }
        sl_buf_puts(&b, "}\n");
    } else {
        sl_buf_appendf(&b, "{\"accepted\":%llu,\"errors\":0}\n", (unsigned long long)accepted);
    }
    return respond(conn, status, &b, full || delivered <= 0);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    if (*con_cls)
        free_request(*con_cls);
    *con_cls = NULL;
}

static int http_init(struct sl_component *c, struct sl_diag *d)
{
    struct http_conf *cf = c->conf;
    if (cf->path[0] != '/') {
        sl_component_diag_opt(c, "path", d);
        sl_diag_hint(d, "paths start with '/'");
        return sl_diag_set(d, SL_ECONFIG, "http '%s': invalid path", c->name);
    }
    struct http_state *s = sl_xcalloc(1, sizeof(*s));
    c->state = s;
    char what[160];
    snprintf(what, sizeof what, "http '%s'", c->name);
    struct sl_httpd_opts o = {.what = what,
                              .listen = cf->listen,
                              .tokens = cf->tokens,
                              .threads = (unsigned)cf->threads,
                              .timeout_secs = 60};
    sl_httpd_opts_set(&o, &cf->net);
    const char *bad = NULL;
    int rc = sl_httpd_start(&o, handle, c, completed, NULL, &s->h, &bad, d);
    if (rc)
        sl_component_diag_opt(c, bad ? bad : "listen", d);
    return rc;
}

static int http_run(struct sl_component *c)
{
    struct http_state *s = c->state;
    sl_info(c->name, "listening on port %d%s", sl_httpd_port(s->h),
            sl_httpd_tls(s->h) ? " (HTTPS)" : "");
    while (!sl_source_stopping(c)) {
        struct pollfd pfd = {.fd = sl_source_stop_fd(c), .events = POLLIN};
        poll(&pfd, 1, 500);
    }
    /* requests in flight finish (they see "stopping" and answer 503 or are queued) */
    sl_httpd_stop(s->h);
    s->h = NULL;
    sl_info(c->name, "stopped: %llu requests, %llu rejected",
            (unsigned long long)atomic_load(&s->requests),
            (unsigned long long)atomic_load(&s->rejected));
    return 0;
}

static void http_fini(struct sl_component *c)
{
    struct http_state *s = c->state;
    if (!s)
        return;
    sl_httpd_stop(s->h);
    sl_free(s);
}

static const struct sl_option http_opts[] = {
    {"listen", SL_OPT_STRING, NULL, offsetof(struct http_conf, listen),
     "address to listen on, \"host:port\"", NULL, 0, 0, SL_OPT_REQUIRED},
    {"path", SL_OPT_STRING, "/", offsetof(struct http_conf, path), "URL path that takes POSTs",
     NULL, 0, 0, 0},
    {"max_body", SL_OPT_SIZE, "10MiB", offsetof(struct http_conf, max_body),
     "larger bodies are answered 413", NULL, 0, 0, 0},
    {"max_line", SL_OPT_SIZE, "1MiB", offsetof(struct http_conf, max_line),
     "longer NDJSON lines become dead letters", NULL, 0, 0, 0},
    {"tokens", SL_OPT_STRING, NULL, offsetof(struct http_conf, tokens),
     "file of \"<name> <token>\" lines, re-read when it changes: requests need one "
     "(Authorization: Bearer, or X-Api-Key)",
     NULL, 0, 0, 0},
    SL_HTTPD_OPTIONS(struct http_conf, net),
    {"ack", SL_OPT_BOOL, "false", offsetof(struct http_conf, ack),
     "answer only once every sink made the events durable (200), or failed them (503), or "
     "ack_timeout passed (504)",
     NULL, 0, 0, 0},
    {"ack_timeout", SL_OPT_DURATION, "30s", offsetof(struct http_conf, ack_timeout_ns),
     "with ack: how long an answer waits for the sinks", NULL, 0, 0, 0},
    {"threads", SL_OPT_INT, "2", offsetof(struct http_conf, threads),
     "HTTP threads (with ack each waiting request holds one)", NULL, 1, 256, 0},
    {0},
};

const struct sl_component_ops sl_in_http_ops = {
    .type = "http",
    .kind = SL_KIND_SOURCE,
    .summary = "POST NDJSON or a JSON array; 200/400 with counts, 413, 429 under back-pressure",
    .options = http_opts,
    .conf_len = sizeof(struct http_conf),
    .init = http_init,
    .fini = http_fini,
    .run = http_run,
};
