/*
 * pushgw.c — the Prometheus push gateway client (see pushgw.h).
 *
 * DESIGN: one thread per pusher, sleeping on a condition variable until the next interval
 * or a stop request, so a stop wakes it at once for the final push. The body is rendered from
 * the pipeline's atomic counters (sl_pipeline_metrics_prom() and the components' stats()),
 * like a /metrics scrape, so pushing never takes a lock a worker holds. One curl easy handle
 * lives on that thread and keeps its connection between pushes. PUT replaces every metric
 * of the group, so a metric that disappears from the pipeline disappears from the gateway.
 *
 * The aggregator's names come first: the JVM aggregator pushed exactly these, and dashboards
 * built on it keep working. They are sums over components, found by stat name, so a component
 * type merged later (the `receiver` sink's uploads and spool) is counted without an edit here.
 *
 * The gateway rejects a push that names a metric family twice (HTTP 400, "second TYPE line"),
 * so the rendered body goes through a pass that keeps only the first family of a name.
 */
#include "api/pushgw.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "sys/thread.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_BODY_LEN  (64u << 20)
#define MAX_REPLY_LEN 512

struct sl_pushgw {
    struct sl_pipeline *pipe;
    char *url; /* the full push URL */
    int64_t interval_ns;
    struct sl_thread thread;
    struct sl_mutex lock;
    struct sl_cond cond;
    bool stopping; /* guarded_by: lock */
    atomic_uint_fast64_t pushes, failures;
    /* the pusher thread's own */
    CURL *curl;
    struct sl_log_limit limit;
    bool failing;
};

/* ---- URL */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void put_label(struct sl_buf *out, const char *label, const char *value)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(value);
    if (n == 0 || strchr(value, '/')) {
        /* RFC 4648 §5 alphabet; the gateway needs "=" for an empty value */
        sl_buf_appendf(out, "/%s@base64/", label);
        if (n == 0)
            sl_buf_putc(out, '=');
        const unsigned char *s = (const unsigned char *)value;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)s[i] << 16;
            if (i + 1 < n)
                v |= (uint32_t)s[i + 1] << 8;
            if (i + 2 < n)
                v |= s[i + 2];
            sl_buf_putc(out, b64[(v >> 18) & 63]);
            sl_buf_putc(out, b64[(v >> 12) & 63]);
            if (i + 1 < n)
                sl_buf_putc(out, b64[(v >> 6) & 63]);
            if (i + 2 < n)
                sl_buf_putc(out, b64[v & 63]);
        }
        return;
    }
    sl_buf_appendf(out, "/%s/", label);
    for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
        if (unreserved(*s))
            sl_buf_putc(out, (char)*s);
        else
            sl_buf_appendf(out, "%%%02X", *s);
    }
}

int sl_pushgw_url(const char *base, const char *job, const char *instance, struct sl_buf *out)
{
    const char *sep = strstr(base, "://");
    if (sep && strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        return SL_EINVAL;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    if (!sep)
        sl_buf_puts(out, "http://");
    size_t host_at = sep ? (size_t)(sep - base) + 3 : 0;
    if (n <= host_at)
        return SL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)base[i] <= ' ')
            return SL_EINVAL;
    sl_buf_append(out, base, n);
    sl_buf_puts(out, "/metrics");
    put_label(out, "job", job);
    put_label(out, "instance", instance);
    return 0;
}

/* ---- body */

double sl_pushgw_stat_sum(const struct sl_pipeline *p, const char *name)
{
    struct sl_comp_stat st[SL_COMP_STATS_MAX];
    double sum = 0;
    for (uint32_t i = 0; i < sl_pipeline_count(p); i++) {
        struct sl_component *c = sl_pipeline_component(p, i);
        if (!c->ops->stats)
            continue;
        size_t k = c->ops->stats(c, st);
        for (size_t j = 0; j < k && j < SL_COMP_STATS_MAX; j++)
            if (strcmp(st[j].name, name) == 0)
                sum += st[j].value;
    }
    return sum;
}

static void family(struct sl_buf *out, const char *name, const char *help, bool gauge, double v)
{
    sl_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name,
                   gauge ? "gauge" : "counter", name, v);
}

/* Name of the family a "# HELP name ..." or "# TYPE name ..." line declares (NULL for other
 * lines), with its length. */
static const char *declared(const char *line, size_t len, size_t *name_len)
{
    if (len < 8 || (strncmp(line, "# HELP ", 7) != 0 && strncmp(line, "# TYPE ", 7) != 0))
        return NULL;
    const char *s = line + 7, *e = s;
    while (e < line + len && *e != ' ')
        e++;
    *name_len = (size_t)(e - s);
    return s;
}

/* Keep the first family of each name: the gateway refuses a body that repeats one. */
static void dedup_families(const char *in, size_t len, struct sl_buf *out)
{
    struct sl_buf seen; /* "\nname\n" per family */
    sl_buf_init(&seen, MAX_BODY_LEN);
    sl_buf_putc(&seen, '\n');
    char cur[256] = "";
    bool skip = false;
    for (size_t at = 0; at < len;) {
        const char *line = in + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t ll = nl ? (size_t)(nl - line) : len - at;
        at += ll + (nl != NULL);
        size_t nlen;
        const char *name = declared(line, ll, &nlen);
        if (name && nlen < sizeof cur - 2 &&
            !(strlen(cur) == nlen && memcmp(cur, name, nlen) == 0)) {
            char key[260];
            snprintf(key, sizeof key, "\n%.*s\n", (int)nlen, name);
            skip = memmem(seen.ptr, seen.len, key, strlen(key)) != NULL;
            if (!skip) {
                sl_buf_append(&seen, key + 1, strlen(key) - 1);
                memcpy(cur, name, nlen);
                cur[nlen] = 0;
            }
        }
        if (!skip) {
            sl_buf_append(out, line, ll);
            sl_buf_putc(out, '\n');
        }
    }
    sl_buf_fini(&seen);
}

void sl_pushgw_render(const struct sl_pipeline *p, struct sl_buf *out)
{
    struct sl_buf b;
    sl_buf_init(&b, MAX_BODY_LEN);
    struct sl_pipeline_totals t;
    sl_pipeline_totals(p, &t);
    family(&b, "parquet_data", "summary parquet data size in bytes successfully written", false,
           sl_pushgw_stat_sum(p, "sluice_parquet_bytes_written_total"));
    family(&b, "parquet_writers", "simultaneously existing parquet writers", true,
           sl_pushgw_stat_sum(p, "sluice_parquet_open_writers"));
    family(&b, "uploads", "simultaneous uploads to receiver", true,
           sl_pushgw_stat_sum(p, "sluice_receiver_uploads_in_flight"));
    family(&b, "zmq", "ZMQ messages received", false, sl_pushgw_stat_sum(p, "sluice_zmq_messages"));
    family(&b, "errors", "errors counted by every component (bad records, failed writes)", false,
           (double)t.errors);
    family(&b, "spool_bytes", "bytes of finished files waiting in the upload spool", true,
           sl_pushgw_stat_sum(p, "sluice_receiver_spool_bytes"));
    sl_pipeline_metrics_prom(p, &b);
    dedup_families(b.ptr ? b.ptr : "", b.len, out);
    sl_buf_fini(&b);
}

/* ---- the pusher thread */

static size_t keep_reply(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sl_buf *r = ud;
    size_t n = size * nmemb;
    if (r->len < MAX_REPLY_LEN)
        sl_buf_append(r, ptr, n < MAX_REPLY_LEN - r->len ? n : MAX_REPLY_LEN - r->len);
    return n;
}

static void push(struct sl_pushgw *g, bool final)
{
    struct sl_buf body, reply;
    sl_buf_init(&body, MAX_BODY_LEN);
    sl_buf_init(&reply, MAX_REPLY_LEN + 1);
    sl_pushgw_render(g->pipe, &body);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: text/plain; version=0.0.4");
    hdr = curl_slist_append(hdr, "Expect:");
    long timeout_ms = (long)(g->interval_ns / 1000000);
    timeout_ms = timeout_ms < 2000 ? 2000 : timeout_ms > 10000 ? 10000 : timeout_ms;
    CURL *c = g->curl;
    curl_easy_setopt(c, CURLOPT_URL, g->url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.ptr ? body.ptr : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_reply);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "sluice/" SL_VERSION);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    if (rc == CURLE_OK && status >= 200 && status < 300) {
        atomic_fetch_add_explicit(&g->pushes, 1, memory_order_relaxed);
        if (g->failing)
            sl_info("push_gateway", "pushing to %s again", g->url);
        else if (final)
            sl_debug("push_gateway", "final push to %s", g->url);
        g->failing = false;
    } else {
        atomic_fetch_add_explicit(&g->failures, 1, memory_order_relaxed);
        g->failing = true;
        /* the reply is one line of text: keep the log line on one line */
        for (size_t i = 0; i < reply.len; i++)
            if ((unsigned char)reply.ptr[i] < ' ')
                reply.ptr[i] = ' ';
        if (rc != CURLE_OK)
            sl_log_ratelimited(&g->limit, 1, SL_LOG_WARN, "push_gateway", "%spush to %s failed: %s",
                               final ? "final " : "", g->url, curl_easy_strerror(rc));
        else
            sl_log_ratelimited(&g->limit, 1, SL_LOG_WARN, "push_gateway",
                               "%spush to %s failed: HTTP %ld %.*s", final ? "final " : "", g->url,
                               status, (int)reply.len, reply.ptr ? reply.ptr : "");
    }
    sl_buf_fini(&reply);
    sl_buf_fini(&body);
}

static void *pusher(void *arg)
{
    struct sl_pushgw *g = arg;
    int64_t next = sl_clock_mono_ns() + g->interval_ns;
    for (;;) {
        sl_mutex_lock(&g->lock);
        while (!g->stopping && sl_clock_mono_ns() < next)
            sl_cond_wait_until(&g->cond, &g->lock, next);
        bool stop = g->stopping;
        sl_mutex_unlock(&g->lock);
        push(g, stop);
        if (stop)
            break;
        int64_t now = sl_clock_mono_ns();
        next += g->interval_ns;
        if (next <= now) /* a slow push: skip the ticks it missed */
            next = now + g->interval_ns;
    }
    return NULL;
}

struct sl_pushgw *sl_pushgw_start(const struct sl_config_pushgw *cfg, struct sl_pipeline *p,
                                  struct sl_diag *d)
{
    char host[256] = "sluice";
    const char *instance = cfg->instance;
    if (!instance) {
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "sluice");
        host[sizeof host - 1] = 0;
        instance = host;
    }
    struct sl_buf url;
    sl_buf_init(&url, 1 << 16);
    if (!cfg->url || sl_pushgw_url(cfg->url, cfg->job ? cfg->job : "sluice", instance, &url)) {
        sl_buf_fini(&url);
        sl_diag_hint(d, "write push_gateway: {url: \"http://localhost:9091\"} (or host:port)");
        sl_diag_set(d, SL_ECONFIG, "push_gateway.url: not an http(s) URL: \"%s\"",
                    cfg->url ? cfg->url : "");
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sl_buf_fini(&url);
        sl_diag_set(d, SL_ESYS, "push_gateway: libcurl initialisation failed");
        return NULL;
    }
    struct sl_pushgw *g = sl_xcalloc(1, sizeof *g);
    g->pipe = p;
    g->url = sl_buf_steal(&url, NULL);
    g->interval_ns = cfg->interval_ns > 0 ? cfg->interval_ns : 10 * (int64_t)1000000000;
    g->curl = curl_easy_init();
    sl_mutex_init(&g->lock);
    sl_cond_init(&g->cond);
    int rc = g->curl ? sl_thread_start(&g->thread, "push_gateway", pusher, g) : SL_ENOMEM;
    if (rc) {
        sl_diag_set(d, SL_ESYS, "push_gateway: cannot start: %s", sl_strerror(rc));
        sl_cond_fini(&g->cond);
        sl_mutex_fini(&g->lock);
        if (g->curl)
            curl_easy_cleanup(g->curl);
        sl_free(g->url);
        sl_free(g);
        curl_global_cleanup();
        return NULL;
    }
    return g;
}

void sl_pushgw_stop(struct sl_pushgw *g)
{
    if (!g)
        return;
    sl_mutex_lock(&g->lock);
    g->stopping = true;
    sl_cond_signal(&g->cond);
    sl_mutex_unlock(&g->lock);
    sl_thread_join(&g->thread);
    sl_info("push_gateway", "stopped: %llu pushes, %llu failed",
            (unsigned long long)atomic_load(&g->pushes),
            (unsigned long long)atomic_load(&g->failures));
    curl_easy_cleanup(g->curl);
    sl_cond_fini(&g->cond);
    sl_mutex_fini(&g->lock);
    sl_free(g->url);
    sl_free(g);
    curl_global_cleanup();
}

uint64_t sl_pushgw_pushes(const struct sl_pushgw *g)
{
    return atomic_load(&((struct sl_pushgw *)g)->pushes);
}

uint64_t sl_pushgw_failures(const struct sl_pushgw *g)
{
    return atomic_load(&((struct sl_pushgw *)g)->failures);
}
