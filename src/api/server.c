/*
 * server.c — the HTTP API server (see server.h).
 *
 * DESIGN: libmicrohttpd with its internal polling thread (epoll): the API serves a few
 * scrapes a minute, so one thread is plenty, and it never touches a worker. Every response
 * is rendered from the pipeline's atomic counters at request time.
 *
 *   GET /health           200 {"status":"ok"}
 *   GET /metrics          200 Prometheus text exposition 0.0.4
 *   GET /api/v1/pipeline  200 graph and counters as JSON
 *   GET /api/v1/cluster  the nodes sharing this node's `cluster:` section (io/cluster.h)
 *   GET /api/v1/profiles[/{profile}[/{entity}]]  the profile store (profiles_api.c)
 *   POST /ksql, /query, /query-stream  ksqlDB's REST API on the sql transform (ksql_api.c)
 *   GET /console/, /api/v1/console/...  the web console and its data (console.c)
 *   other paths 404, other methods 405 (JSON error bodies)
 *
 * Security (io/httpd.h): with `tokens`, every request but /health and /metrics (unless
 * open_metrics: false) needs a token, else 401; with tls_ca, a client certificate that does
 * not verify gets 403. TLS and connection limits come from the same options.
 */
#include "api/server.h"

#include "api/console.h"
#include "api/ksql_api.h"
#include "api/partout_api.h"
#include "api/profiles_api.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "io/cluster.h"
#include "io/httpd.h"
#include "sys/net.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sl_api_server {
    struct sl_httpd *h;
    struct sl_pipeline *pipe;
    struct sl_console *console;
    bool open_metrics;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             struct sl_buf *body)
{
    size_t len = 0;
    char *p = sl_buf_steal(body, &len);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, p ? p : sl_xstrdup(""), sl_free);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    struct sl_api_server *s = cls;
    (void)version;
    if (!*con_cls) { /* the first call of a request: its client and token */
        if (!sl_httpd_client_cert_ok(s->h, conn))
            return sl_httpd_error(conn, MHD_HTTP_FORBIDDEN, "client certificate refused");
        bool open = s->open_metrics && (!strcmp(url, "/health") || !strcmp(url, "/metrics"));
        bool asset = false; /* the console's files: its login prompt must load */
        if (!open && !(sl_console_match(url, &asset) && asset)) {
            enum sl_auth a = sl_httpd_authorize(s->h, conn, NULL);
            if (a != SL_AUTH_OK)
                return sl_httpd_refuse(conn, a);
        }
    }
    if (sl_ksql_api_match(url))
        return (enum MHD_Result)sl_ksql_api_handle(s->pipe, conn, url, method, upload, upload_len,
                                                   con_cls);
    bool asset;
    if (sl_console_match(url, &asset)) {
        if (*upload_len) { /* drain any body before answering */
            *upload_len = 0;
            return MHD_YES;
        }
        return sl_console_handle(s->console, conn, url, method);
    }
    struct sl_buf b;
    sl_buf_init(&b, 64u << 20);
    bool known = strcmp(url, "/health") == 0 || strcmp(url, "/metrics") == 0 ||
                 strcmp(url, "/api/v1/pipeline") == 0 || strcmp(url, "/api/v1/cluster") == 0 ||
                 sl_api_profiles_match(url) || sl_api_partout_match(url);
    if (!known) {
        sl_buf_appendf(
            &b,
            "{\"error\":\"not found\",\"paths\":[\"/health\",\"/metrics\","
            "\"/api/v1/pipeline\",\"/api/v1/profiles\",\"/api/v1/partout\",\"/ksql\",\"/query\","
            "\"/query-stream\",\"/console/\",\"/api/v1/console\"]}\n");
        return reply(conn, MHD_HTTP_NOT_FOUND, "application/json", &b);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        /* drain any body before answering */
        if (*upload_len) {
            *upload_len = 0;
            return MHD_YES;
        }
        sl_buf_puts(&b, "{\"error\":\"method not allowed\"}\n");
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", &b);
    }
    if (strcmp(url, "/health") == 0) {
        sl_buf_puts(&b, "{\"status\":\"ok\"}\n");
        return reply(conn, MHD_HTTP_OK, "application/json", &b);
    }
    if (strcmp(url, "/api/v1/cluster") == 0) {
        struct sl_cluster *cl = sl_cluster_default();
        if (!cl) {
            sl_buf_puts(&b, "{\"error\":\"this node has no cluster section\"}\n");
            return reply(conn, MHD_HTTP_NOT_FOUND, "application/json", &b);
        }
        sl_cluster_json(cl, &b);
        return reply(conn, MHD_HTTP_OK, "application/json", &b);
    }
    if (strcmp(url, "/metrics") == 0) {
        sl_pipeline_metrics_prom(s->pipe, &b);
        return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b);
    }
    if (sl_api_profiles_match(url)) {
        unsigned st = sl_api_profiles_get(
            sl_store_default(), url,
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from"),
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "to"),
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "groups"), &b);
        return reply(conn, st, "application/json", &b);
    }
    if (sl_api_partout_match(url)) {
        unsigned st = sl_api_partout_get(
            sl_partout_store_default(), url,
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from"),
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "to"),
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "level"), &b);
        return reply(conn, st, "application/json", &b);
    }
    sl_pipeline_metrics_json(s->pipe, &b);
    sl_buf_putc(&b, '\n');
    return reply(conn, MHD_HTTP_OK, "application/json", &b);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    sl_ksql_api_completed(con_cls);
}

struct sl_api_server *sl_api_server_start(const char *listen, const struct sl_config_api *sec,
                                          struct sl_pipeline *p, struct sl_diag *d)
{
    struct sl_api_server *s = sl_xcalloc(1, sizeof(*s));
    s->pipe = p;
    s->open_metrics = !sec || sec->open_metrics;
    struct sl_httpd_opts o = {
        .what = "api", .listen = listen, .max_connections = 64, .timeout_secs = 30, .backlog = 64};
    if (sec) {
        o.tokens = sec->tokens;
        o.tls_cert = sec->tls_cert;
        o.tls_key = sec->tls_key;
        o.tls_ca = sec->tls_ca;
        o.require_client_cert = sec->require_client_cert;
        if (sec->max_connections)
            o.max_connections = (unsigned)sec->max_connections;
        o.max_per_ip = (unsigned)sec->max_per_ip;
    }
    if (sl_console_new(p, sec ? sec->samples : 0, &s->console, d)) {
        sl_free(s);
        return NULL;
    }
    const char *bad = NULL;
    if (sl_httpd_start(&o, handle, s, completed, NULL, &s->h, &bad, d)) {
        sl_console_free(s->console);
        sl_free(s);
        return NULL;
    }
    return s;
}

void sl_api_server_stop(struct sl_api_server *s)
{
    if (!s)
        return;
    sl_httpd_stop(s->h);
    sl_console_free(s->console);
    sl_free(s);
}

int sl_api_server_port(const struct sl_api_server *s)
{
    return sl_httpd_port(s->h);
}
