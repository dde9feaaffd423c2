/*
 * in_partout.c — the `partout` source: the Partout master. Agents POST hierarchical counts
 * (agent → module → object → message) and are told, in every answer, how often to post and at
 * which aggregation level (docs/partout.md; the policy is state/partout_policy.h, the body
 * codec/partout_body.h).
 *
 *   POST /events  the seed's body   200 {"aggregate_period_secs":P,"aggregate_period_splay":S,
 *                                        "aggregate_level":L,"notify_alive_period_secs":A,
 *                                        "accepted":leaves,"count":sum}
 *                                   400 {"error":"$.agent...: expected ...", + the settings}
 *   POST /event   legacy {hostname, agent_uuid, module, object, msg}    200 text "received"
 *   401 no api key / an unknown one;  403 a key not given to this agent, or a client
 *   certificate that does not verify;  413 body past max_body;  429 pipeline full (the counts
 *   are not taken and not counted in Em: the agent keeps them for its next post);  503 stopping;
 *   405 other methods;  404 other paths.
 *
 * Every accepted aggregate becomes one event per non-zero leaf count, with the fields
 *   agent, hostname, module, object, msg, level (the message's), detail (1..4: the depth of the
 *   leaf), count, period (the body's period_secs, else the period the agent was last told)
 * so the sum of `count` over the events emitted equals the sum inside the accepted aggregates.
 *
 * DESIGN: in_http's shape (libmicrohttpd, internal epoll thread + a small pool, bodies
 * collected capped in an sl_buf, sl_source_try_emit so a full pipeline is a 429, never a
 * wait). Nothing is shared with in_http in code: its body handling (NDJSON lines through the
 * line reader) and its answers have nothing in common with this one beyond a dozen lines of
 * MHD boilerplate. A body becomes one batch (up to max_leaves events, 10,000 by default), so
 * an aggregate is accepted or refused whole. The policy sits behind one mutex: a request
 * holds it for a hash lookup and a few additions.
 *
 * The listener is io/httpd.h, as for the API and the http source. Auth: `keys` names its
 * tokens file, "<agent uuid> <api key>" lines ("*" for any agent; '#' comments), re-read when
 * it changes; the key comes in `X-Api-Key` or `Authorization: Bearer`, and must be given to
 * the agent the body names. TLS (tls_cert + tls_key); with tls_ca, client certificates are
 * asked for and checked against it (tls_client_cert: optional | required).
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"
#include "codec/partout_body.h"
#include "core/component.h"
#include "io/httpd.h"
#include "state/partout_policy.h"
#include "state/partout_store.h"
#include "sys/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct partout_conf {
    char *listen;
    char *path;        /* /events */
    char *legacy_path; /* /event */
    char *keys;
    struct sl_httpd_conf net; /* TLS, client certificates, connection limits (io/httpd.h) */
    uint64_t max_body;
    int64_t max_leaves, max_key_len, max_depth;
    double divisor;
    int64_t period_min_ns, period_max_ns;
    double t_obj, t_mod, t_uuid, t_max;
    int64_t window_ns, bucket_ns;
    double splay;
    int64_t alive_ns;
    bool per_agent;
    int64_t max_agents;
    int64_t threads;
    char *store; /* partout_store.h: every accepted aggregate */
};

enum {
    ST_REQUESTS,
    ST_AGGREGATES,
    ST_LEAVES,
    ST_COUNTS,
    ST_BAD,
    ST_UNAUTH,
    ST_FORBIDDEN,
    ST_TOO_LARGE,
    ST_FULL,
    ST_LEGACY,
    ST__COUNT
};

struct partout_state {
    struct sl_httpd *h;
    struct sl_partout_conf pc;
    struct sl_partout_limits lim;
    sl_sym f_agent, f_hostname, f_module, f_object, f_msg, f_level, f_detail, f_count, f_period;
    atomic_uint_fast64_t st[ST__COUNT];
    struct sl_mutex lock;
    struct sl_partout_policy *policy; /* guarded_by: lock */
    struct sl_partout_store *store;   /* NULL: no `store:` */
};

struct request {
    struct sl_buf body;
    bool too_large;
};

static void bump(struct partout_state *s, int i)
{
    atomic_fetch_add_explicit(&s->st[i], 1, memory_order_relaxed);
}

/* ---------------------------------------------------------------- answers */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, struct sl_buf *b,
                               const char *type)
{
    size_t len = 0;
    char *p = sl_buf_steal(b, &len);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, p ? p : sl_xstrdup(""), sl_free);
    MHD_add_response_header(r, "Content-Type", type);
    if (status == MHD_HTTP_TOO_MANY_REQUESTS || status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, "Retry-After", "1");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result error_answer(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    struct sl_buf b;
    sl_buf_init(&b, 8192);
    sl_buf_puts(&b, "{\"error\":");
    sl_json_write_string(&b, msg, strlen(msg));
    sl_buf_puts(&b, "}\n");
    return respond(conn, status, &b, "application/json");
}

static void put_settings(struct sl_buf *b, const struct sl_partout_settings *st)
{
    sl_buf_appendf(b,
                   "\"aggregate_period_secs\":%lld,\"aggregate_period_splay\":%g,"
                   "\"aggregate_level\":%d,\"notify_alive_period_secs\":%lld",
                   (long long)st->period_secs, st->splay, st->level, (long long)st->alive_secs);
}

/* An error that still carries settings (400, 429): the master's own (level(Em), Ps(Em)), so an
 * agent whose post was refused still learns how loud the fleet is. */
static enum MHD_Result settings_error(struct sl_component *c, struct MHD_Connection *conn,
                                      unsigned status, const char *msg)
{
    struct partout_state *s = c->state;
    struct sl_partout_settings st;
    sl_mutex_lock(&s->lock);
    sl_partout_policy_settings(s->policy, NULL, 0, sl_clock_mono_ns(), &st);
    sl_mutex_unlock(&s->lock);
    st.level = st.master_level;
    st.period_secs = st.master_period_secs;
    struct sl_buf b;
    sl_buf_init(&b, 8192);
    sl_buf_puts(&b, "{\"error\":");
    sl_json_write_string(&b, msg, strlen(msg));
    sl_buf_putc(&b, ',');
    put_settings(&b, &st);
    sl_buf_puts(&b, "}\n");
    return respond(conn, status, &b, "application/json");
}

/* ---------------------------------------------------------------- requests */

static void dead_letter(struct sl_component *c, const char *msg, const struct sl_buf *body,
                        const char *where)
{
    struct sl_batch *e = sl_batch_new();
    sl_error_event(e, c->name, msg, body->ptr, body->len, where, 0, -1);
    sl_source_emit_errors(c, e);
}

/* Turn the leaves into events of batch b (whose arena holds what they point to). */
static int build_events(struct partout_state *s, struct sl_batch *b,
                        const struct sl_partout_body *pb, int64_t period)
{
    int64_t now = sl_clock_wall_ns();
    for (uint32_t i = 0; i < pb->nleaves; i++) {
        const struct sl_partout_leaf *l = &pb->leaves[i];
        struct sl_event *ev = sl_batch_push(b);
        if (!ev)
            return SL_ENOMEM;
        ev->ts_ns = now;
        int rc = 0;
        if (pb->uuid.len)
            rc |= sl_event_set(b, ev, s->f_agent, sl_value_str(pb->uuid.ptr, pb->uuid.len));
        if (pb->hostname.ptr)
            rc |= sl_event_set(b, ev, s->f_hostname,
                               sl_value_str(pb->hostname.ptr, pb->hostname.len));
        if (l->module.ptr)
            rc |= sl_event_set(b, ev, s->f_module, sl_value_str(l->module.ptr, l->module.len));
        if (l->object.ptr)
            rc |= sl_event_set(b, ev, s->f_object, sl_value_str(l->object.ptr, l->object.len));
        if (l->msg.ptr)
            rc |= sl_event_set(b, ev, s->f_msg, sl_value_str(l->msg.ptr, l->msg.len));
        if (l->level.ptr)
            rc |= sl_event_set(b, ev, s->f_level, sl_value_str(l->level.ptr, l->level.len));
        rc |= sl_event_set(b, ev, s->f_detail, sl_value_int(l->depth));
        rc |= sl_event_set(b, ev, s->f_count, sl_value_int((int64_t)l->count));
        rc |= sl_event_set(b, ev, s->f_period, sl_value_int(period));
        if (rc)
            return SL_ENOMEM;
    }
    return 0;
}

static enum MHD_Result answer_accepted(struct sl_component *c, struct MHD_Connection *conn,
                                       struct sl_batch *b, uint32_t nev, uint64_t total,
                                       const char *uuid, size_t uuid_len, bool legacy,
                                       const struct sl_partout_body *pb, int64_t period);

static enum MHD_Result handle_post(struct sl_component *c, struct MHD_Connection *conn,
                                   struct request *rq, bool legacy)
{
    struct partout_state *s = c->state;
    const char *where = legacy ? "partout POST /event" : "partout POST /events";
    const char *key = sl_httpd_token_of(conn);
    struct sl_tokens *tok = sl_httpd_tokens(s->h); /* the keys file, re-read when it changes */
    if (tok) {
        enum sl_auth a = sl_tokens_check(tok, key, NULL, NULL);
        if (a != SL_AUTH_OK) {
            bump(s, ST_UNAUTH);
            return error_answer(conn, MHD_HTTP_UNAUTHORIZED,
                                a == SL_AUTH_MISSING ? "missing api key (X-Api-Key)"
                                                     : "unknown api key");
        }
    }
    struct sl_batch *b = sl_batch_new();
    char *copy = sl_batch_copy(b, rq->body.ptr ? rq->body.ptr : "", rq->body.len);
    struct sl_partout_body pb;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc;
    if (!copy)
        rc = sl_diag_set(&d, SL_ENOMEM, "$: out of memory");
    else if (legacy)
        rc = sl_partout_legacy_parse(&b->arena, copy, rq->body.len, &s->lim, &pb, &d);
    else
        rc = sl_partout_body_parse(&b->arena, copy, rq->body.len, &s->lim, &pb, &d);
    if (rc) {
        sl_batch_unref(b);
        bump(s, ST_BAD);
        dead_letter(c, d.msg, &rq->body, where);
        return settings_error(c, conn, MHD_HTTP_BAD_REQUEST, d.msg);
    }
    if (tok) {
        /* an anonymous legacy event needs a key given to any agent ("*"): no name is "" */
        struct sl_str none = sl_str_make("", 0);
        enum sl_auth a = sl_tokens_check(tok, key, pb.uuid.len ? &pb.uuid : &none, NULL);
        if (a != SL_AUTH_OK) {
            sl_batch_unref(b);
            bump(s, ST_FORBIDDEN);
            return error_answer(conn, MHD_HTTP_FORBIDDEN,
                                "this api key is not given to this agent");
        }
    }
    struct sl_partout_settings before;
    sl_mutex_lock(&s->lock);
    sl_partout_policy_settings(s->policy, pb.uuid.ptr, pb.uuid.len, sl_clock_mono_ns(), &before);
    sl_mutex_unlock(&s->lock);
    int64_t period = pb.period_secs >= 0 ? pb.period_secs : before.period_secs;
    b->bytes = rq->body.len;
    if (build_events(s, b, &pb, period)) {
        sl_batch_unref(b);
        bump(s, ST_BAD);
        return error_answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    uint32_t nev = b->count;
    /* once emitted, b (and pb, which points into it) belongs to the pipeline: keep copies */
    uint64_t total = pb.total;
    char uuid_buf[256];
    size_t uuid_len = pb.uuid.len;
    char *uuid = uuid_len < sizeof(uuid_buf) ? uuid_buf : sl_xmalloc(uuid_len + 1);
    if (uuid_len)
        memcpy(uuid, pb.uuid.ptr, uuid_len);
    if (s->store)
        sl_batch_ref(b); /* keeps pb valid for the store once the pipeline owns b */
    enum MHD_Result ret = answer_accepted(c, conn, b, nev, total, uuid, uuid_len, legacy,
                                          s->store ? &pb : NULL, period);
    if (s->store)
        sl_batch_unref(b);
    if (uuid != uuid_buf)
        sl_free(uuid);
    return ret;
}

/* Emit b (nev events, total counts; consumed), count it into Em and answer. */
static enum MHD_Result answer_accepted(struct sl_component *c, struct MHD_Connection *conn,
                                       struct sl_batch *b, uint32_t nev, uint64_t total,
                                       const char *uuid, size_t uuid_len, bool legacy,
                                       const struct sl_partout_body *pb, int64_t period)
{
    struct partout_state *s = c->state;
    if (nev) {
        if (sl_source_stopping(c)) {
            sl_batch_unref(b);
            return error_answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping");
        }
        if (sl_source_try_emit(c, b) != 0) {
            sl_batch_unref(b);
            bump(s, ST_FULL);
            return settings_error(c, conn, MHD_HTTP_TOO_MANY_REQUESTS,
                                  "pipeline full, retry later");
        }
    } else {
        sl_batch_unref(b);
    }
    /* accepted: count it into Em, then answer with the settings that follow */
    struct sl_partout_settings st;
    sl_mutex_lock(&s->lock);
    int64_t now = sl_clock_mono_ns();
    sl_partout_policy_record(s->policy, uuid, uuid_len, total, now);
    sl_partout_policy_settings(s->policy, uuid, uuid_len, now, &st);
    sl_mutex_unlock(&s->lock);
    if (pb && sl_partout_store_put(s->store, pb, period, st.level, st.period_secs))
        sl_warn(c->name, "partout store %s: an aggregate was not stored",
                sl_partout_store_path(s->store));
    bump(s, legacy ? ST_LEGACY : ST_AGGREGATES);
    atomic_fetch_add_explicit(&s->st[ST_LEAVES], nev, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->st[ST_COUNTS], total, memory_order_relaxed);
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    if (legacy) {
        sl_buf_puts(&out, "received");
        return respond(conn, MHD_HTTP_OK, &out, "text/plain");
    }
    sl_buf_putc(&out, '{');
    put_settings(&out, &st);
    sl_buf_appendf(&out, ",\"accepted\":%u,\"count\":%llu}\n", nev, (unsigned long long)total);
    return respond(conn, MHD_HTTP_OK, &out, "application/json");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    struct sl_component *c = cls;
    struct partout_conf *cf = c->conf;
    struct partout_state *s = c->state;
    struct request *rq = *con_cls;
    if (!rq) {
        rq = sl_xcalloc(1, sizeof(*rq));
        sl_buf_init(&rq->body, cf->max_body);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            int64_t n;
            if (sl_str_to_i64(sl_str_c(cl), &n) == 0 && n > 0 && (uint64_t)n > cf->max_body)
                rq->too_large = true;
        }
        *con_cls = rq;
        bump(s, ST_REQUESTS);
        return MHD_YES;
    }
    if (*upload_len) {
        if (!rq->too_large && sl_buf_append(&rq->body, upload, *upload_len))
            rq->too_large = true; /* discard the rest as it arrives */
        *upload_len = 0;
        return MHD_YES;
    }
    bool legacy = strcmp(url, cf->legacy_path) == 0;
    if (!legacy && strcmp(url, cf->path) != 0)
        return error_answer(conn, MHD_HTTP_NOT_FOUND, "not found");
    if (strcmp(method, "POST") != 0)
        return error_answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
    if (!sl_httpd_client_cert_ok(s->h, conn)) {
        bump(s, ST_FORBIDDEN);
        return error_answer(conn, MHD_HTTP_FORBIDDEN, "client certificate missing or not trusted");
    }
    if (sl_source_stopping(c))
        return error_answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping");
    if (rq->too_large) {
        bump(s, ST_TOO_LARGE);
        char msg[96];
        snprintf(msg, sizeof(msg), "body larger than max_body (%llu bytes)",
                 (unsigned long long)cf->max_body);
        return error_answer(conn, MHD_HTTP_CONTENT_TOO_LARGE, msg);
    }
    return handle_post(c, conn, rq, legacy);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct request *rq = *con_cls;
    if (rq) {
        sl_buf_fini(&rq->body);
        sl_free(rq);
    }
    *con_cls = NULL;
}

/* ---------------------------------------------------------------- lifecycle */

/* A restart keeps the estimator: the counts of the last window, from the store. */
static int replay_one(void *ud, struct sl_str agent, int64_t at_ms, uint64_t count)
{
    struct partout_state *s = ud;
    int64_t ago_ns = (sl_clock_wall_ns() / 1000000 - at_ms) * 1000000;
    sl_partout_policy_record(s->policy, agent.ptr, agent.len, count,
                             sl_clock_mono_ns() - (ago_ns > 0 ? ago_ns : 0));
    return 0;
}

static int init_inner(struct sl_component *c, struct sl_diag *d)
{
    struct partout_conf *cf = c->conf;
    if (cf->path[0] != '/' || cf->legacy_path[0] != '/') {
        sl_component_diag_opt(c, cf->path[0] != '/' ? "path" : "legacy_path", d);
        sl_diag_hint(d, "paths start with '/'");
        return sl_diag_set(d, SL_ECONFIG, "partout '%s': invalid path", c->name);
    }
    struct partout_state *s = sl_xcalloc(1, sizeof(*s));
    c->state = s;
    sl_mutex_init(&s->lock);
    struct sl_partout_conf *pc = &s->pc;
    sl_partout_conf_default(pc);
    pc->divisor = cf->divisor;
    pc->period_min_secs = cf->period_min_ns / 1000000000LL;
    pc->period_max_secs = cf->period_max_ns / 1000000000LL;
    pc->t_obj = cf->t_obj;
    pc->t_mod = cf->t_mod;
    pc->t_uuid = cf->t_uuid;
    pc->t_max = cf->t_max;
    pc->bucket_ns = cf->bucket_ns;
    pc->window_buckets = cf->bucket_ns > 0 && cf->window_ns >= cf->bucket_ns &&
                                 cf->window_ns / cf->bucket_ns <= SL_PARTOUT_MAX_BUCKETS
                             ? (uint32_t)(cf->window_ns / cf->bucket_ns)
                             : 0;
    pc->splay = cf->splay;
    pc->alive_secs = cf->alive_ns / 1000000000LL;
    pc->per_agent = cf->per_agent;
    pc->max_agents = (uint32_t)cf->max_agents;
    struct sl_diag pd;
    sl_diag_init(&pd);
    if (sl_partout_conf_check(pc, &pd)) {
        sl_component_diag_opt(c, NULL, d);
        sl_diag_hint(d, "window must be a whole number of buckets (at most %u)",
                     SL_PARTOUT_MAX_BUCKETS);
        return sl_diag_set(d, SL_ECONFIG, "partout '%s': %s", c->name, pd.msg);
    }
    s->lim.max_leaves = (uint32_t)cf->max_leaves;
    s->lim.max_key_len = (uint32_t)cf->max_key_len;
    s->lim.max_depth = (uint32_t)cf->max_depth;
    /* with a store, the window before now is replayed from it (replay_one): room for it */
    int64_t window_ns = cf->store ? (int64_t)pc->window_buckets * pc->bucket_ns : 0;
    s->policy = sl_partout_policy_new(pc, sl_clock_mono_ns() - window_ns);
    s->f_agent = sl_sym_intern_c("agent");
    s->f_hostname = sl_sym_intern_c("hostname");
    s->f_module = sl_sym_intern_c("module");
    s->f_object = sl_sym_intern_c("object");
    s->f_msg = sl_sym_intern_c("msg");
    s->f_level = sl_sym_intern_c("level");
    s->f_detail = sl_sym_intern_c("detail");
    s->f_count = sl_sym_intern_c("count");
    s->f_period = sl_sym_intern_c("period");
    if (cf->store) {
        int rc = sl_partout_store_open(cf->store, NULL, &s->store, d);
        if (rc) {
            sl_component_diag_opt(c, "store", d);
            return rc;
        }
        sl_partout_store_set_default(s->store); /* GET /api/v1/partout on the API listener */
        sl_partout_store_replay(s->store, sl_clock_wall_ns() / 1000000 - window_ns / 1000000,
                                replay_one, s);
    }
    char what[160];
    snprintf(what, sizeof what, "partout '%s'", c->name);
    struct sl_httpd_opts o = {.what = what,
                              .listen = cf->listen,
                              .tokens = cf->keys,
                              .threads = (unsigned)cf->threads,
                              .timeout_secs = 60};
    sl_httpd_opts_set(&o, &cf->net);
    const char *bad = NULL;
    int rc = sl_httpd_start(&o, handle, c, completed, NULL, &s->h, &bad, d);
    if (rc) {
        sl_component_diag_opt(c, !bad ? "listen" : !strcmp(bad, "tokens") ? "keys" : bad, d);
        return rc;
    }
    return 0;
}

static void partout_fini(struct sl_component *c);

/* An init that fails frees what it built (fini is not called then). */
static int partout_init(struct sl_component *c, struct sl_diag *d)
{
    int rc = init_inner(c, d);
    if (rc) {
        partout_fini(c);
        c->state = NULL;
    }
    return rc;
}

static int partout_run(struct sl_component *c)
{
    struct partout_state *s = c->state;
    sl_info(c->name, "listening on port %d%s", sl_httpd_port(s->h),
            sl_httpd_tls(s->h) ? " (HTTPS)" : "");
    while (!sl_source_stopping(c)) {
        struct pollfd pfd = {.fd = sl_source_stop_fd(c), .events = POLLIN};
        poll(&pfd, 1, 500);
    }
    sl_httpd_stop(s->h);
    s->h = NULL;
    sl_info(c->name, "stopped: %llu requests, %llu aggregates, %llu counts, %llu bad",
            (unsigned long long)atomic_load(&s->st[ST_REQUESTS]),
            (unsigned long long)atomic_load(&s->st[ST_AGGREGATES]),
            (unsigned long long)atomic_load(&s->st[ST_COUNTS]),
            (unsigned long long)atomic_load(&s->st[ST_BAD]));
    return 0;
}

static void partout_fini(struct sl_component *c)
{
    struct partout_state *s = c->state;
    if (!s)
        return;
    sl_httpd_stop(s->h);
    if (s->store) { /* after the daemon: no put is in flight */
        if (sl_partout_store_default() == s->store)
            sl_partout_store_set_default(NULL);
        sl_partout_store_close(s->store);
    }
    sl_partout_policy_free(s->policy);
    sl_mutex_fini(&s->lock);
    sl_free(s);
}

static size_t partout_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct partout_state *s = c->state;
    if (!s)
        return 0;
    static const struct {
        const char *name, *help;
    } names[ST__COUNT] = {
        {"sluice_partout_requests", "HTTP requests"},
        {"sluice_partout_aggregates", "aggregates accepted (POST /events)"},
        {"sluice_partout_leaves", "events emitted (one per leaf count)"},
        {"sluice_partout_counts", "sum of the counts accepted"},
        {"sluice_partout_bad_requests", "bodies answered 400"},
        {"sluice_partout_unauthorized", "requests answered 401"},
        {"sluice_partout_forbidden", "requests answered 403"},
        {"sluice_partout_too_large", "bodies answered 413"},
        {"sluice_partout_pipeline_full", "requests answered 429"},
        {"sluice_partout_legacy_events", "legacy POST /event accepted"},
    };
    size_t n = 0;
    for (int i = 0; i < ST__COUNT && n < SL_COMP_STATS_MAX - 2; i++)
        out[n++] = (struct sl_comp_stat){names[i].name, names[i].help, false,
                                         (double)atomic_load(&s->st[i])};
    sl_mutex_lock(&s->lock);
    int64_t now = sl_clock_mono_ns();
    double em = sl_partout_policy_em(s->policy, now);
    uint32_t agents = sl_partout_policy_active(s->policy, now);
    sl_mutex_unlock(&s->lock);
    out[n++] = (struct sl_comp_stat){"sluice_partout_events_per_minute",
                                     "Em, the master's events per minute", true, em};
    out[n++] = (struct sl_comp_stat){"sluice_partout_agents", "agents seen in the window", true,
                                     (double)agents};
    if (s->store && n + 4 <= SL_COMP_STATS_MAX) {
        struct sl_partout_store_stats ss;
        sl_partout_store_get_stats(s->store, &ss);
        out[n++] =
            (struct sl_comp_stat){"sluice_partout_store_leaves",
                                  "leaf counts committed to the store", false, (double)ss.leaves};
        out[n++] = (struct sl_comp_stat){"sluice_partout_store_commits",
                                         "store transactions committed or failed", false,
                                         (double)ss.commits};
        out[n++] = (struct sl_comp_stat){"sluice_partout_store_commit_errors",
                                         "store commits that failed (retried)", false,
                                         (double)ss.commit_errors};
        out[n++] =
            (struct sl_comp_stat){"sluice_partout_store_rolled",
                                  "rows rolled up into a coarser tier", false, (double)ss.rolled};
    }
    return n;
}

static const struct sl_option partout_opts[] = {
    {"listen", SL_OPT_STRING, NULL, offsetof(struct partout_conf, listen),
     "address to listen on, \"host:port\" (Partout used 10443)", NULL, 0, 0, SL_OPT_REQUIRED},
    {"path", SL_OPT_STRING, "/events", offsetof(struct partout_conf, path),
     "URL path of aggregates (POST)", NULL, 0, 0, 0},
    {"legacy_path", SL_OPT_STRING, "/event", offsetof(struct partout_conf, legacy_path),
     "URL path of single legacy events (POST), answered \"received\"", NULL, 0, 0, 0},
    {"keys", SL_OPT_STRING, NULL, offsetof(struct partout_conf, keys),
     "file of \"<agent uuid or *> <api key>\" lines, re-read when it changes; unset: no keys", NULL,
     0, 0, 0},
    SL_HTTPD_OPTIONS(struct partout_conf, net),
    {"max_body", SL_OPT_SIZE, "1MiB", offsetof(struct partout_conf, max_body),
     "larger bodies are answered 413", NULL, 0, 0, 0},
    {"max_leaves", SL_OPT_INT, "10000", offsetof(struct partout_conf, max_leaves),
     "leaf counts per body (a body with more is answered 400)", NULL, 1, 1000000, 0},
    {"max_key_len", SL_OPT_INT, "1024", offsetof(struct partout_conf, max_key_len),
     "bytes of a uuid, module, object or message key (decoded)", NULL, 1, 65536, 0},
    {"max_depth", SL_OPT_INT, "10", offsetof(struct partout_conf, max_depth),
     "JSON nesting of a body (the full tree needs 8)", NULL, 8, 64, 0},
    {"divisor", SL_OPT_DOUBLE, "100", offsetof(struct partout_conf, divisor), "D: Ps = int(Em / D)",
     NULL, 0, 0, 0},
    {"period_min", SL_OPT_DURATION, "10s", offsetof(struct partout_conf, period_min_ns),
     "Pmin: the shortest period agents are told", NULL, 0, 0, 0},
    {"period_max", SL_OPT_DURATION, "1h", offsetof(struct partout_conf, period_max_ns),
     "Pmax: the longest period agents are told", NULL, 0, 0, 0},
    {"t_obj", SL_OPT_DOUBLE, "500", offsetof(struct partout_conf, t_obj),
     "Tobj: from this Em, level 3 (counts by object)", NULL, 0, 0, 0},
    {"t_mod", SL_OPT_DOUBLE, "2000", offsetof(struct partout_conf, t_mod),
     "Tmod: from this Em, level 2 (counts by module)", NULL, 0, 0, 0},
    {"t_uuid", SL_OPT_DOUBLE, "5000", offsetof(struct partout_conf, t_uuid),
     "Tuuid: from this Em, level 1 (counts by agent)", NULL, 0, 0, 0},
    {"t_max", SL_OPT_DOUBLE, "10000", offsetof(struct partout_conf, t_max),
     "Tmax: from this Em, level 0 (alive notices)", NULL, 0, 0, 0},
    {"window", SL_OPT_DURATION, "5m", offsetof(struct partout_conf, window_ns),
     "the sliding window Em is averaged over (a whole number of buckets)", NULL, 0, 0, 0},
    {"bucket", SL_OPT_DURATION, "1m", offsetof(struct partout_conf, bucket_ns),
     "bucket of the window; Em is always per minute", NULL, 0, 0, 0},
    {"splay", SL_OPT_DOUBLE, "0.05", offsetof(struct partout_conf, splay),
     "aggregate_period_splay told to agents (jitter: +-splay/2 of the period)", NULL, 0, 0, 0},
    {"alive_period", SL_OPT_DURATION, "1d", offsetof(struct partout_conf, alive_ns),
     "notify_alive_period_secs told to agents", NULL, 0, 0, 0},
    {"per_agent", SL_OPT_BOOL, "true", offsetof(struct partout_conf, per_agent),
     "per-agent share: quiet agents keep more detail than the master's level", NULL, 0, 0, 0},
    {"max_agents", SL_OPT_INT, "100000", offsetof(struct partout_conf, max_agents),
     "agents tracked one by one; more get the master's settings", NULL, 1, 100000000, 0},
    {"threads", SL_OPT_INT, "2", offsetof(struct partout_conf, threads), "HTTP worker threads",
     NULL, 1, 64, 0},
    {"store", SL_OPT_STRING, NULL, offsetof(struct partout_conf, store),
     "where every accepted aggregate is kept with hourly/daily/weekly roll-ups: a SQLite "
     "file, or postgres://user@host:port/db shared by several masters (GET /api/v1/partout, "
     "sluice partout)",
     NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_in_partout_ops = {
    .type = "partout",
    .kind = SL_KIND_SOURCE,
    .summary = "Partout master: POST /events aggregates -> one event per leaf count; answers "
               "each agent its period, splay, level",
    .options = partout_opts,
    .conf_len = sizeof(struct partout_conf),
    .init = partout_init,
    .fini = partout_fini,
    .run = partout_run,
    .stats = partout_stats,
};
