/*
 * out_partout.c — the `partout` sink: the agent side of Partout's event throttling
 * (docs/partout.md "Agent side"). Every event it receives is one count (or `count_field`'s
 * value) in a tree agent → module → object → message; every `aggregate_period_secs` (± half
 * of `aggregate_period_splay` of it) the tree goes to the master as one `POST /events` body,
 * and the master's answer sets the next period, splay and level.
 *
 * What the master answers decides the detail: at level 4 the tree keeps messages, at 3 it
 * stops at objects, at 2 at modules, at 1 and 0 only the agent's count is kept (level 0 is
 * "the same content as level 1" in the seed). Counts are summed upward, so every inner
 * count equals the sum of its children, as the master's parser requires.
 *
 * DESIGN. One thread: the sink's. write() adds a batch to the tree and takes a hold on its
 * delivery token (core/ack.h); flush(), called every 25 ms by the core, posts when the period
 * is due, synchronously through one reused curl easy handle (keep-alive). A post carries the
 * whole tree, so a post that fails (no connection, 429, 5xx, 401/403) leaves the tree and the
 * holds where they are; what arrives meanwhile is added, and the next attempt (after a
 * back-off: doubling, "equal jitter", capped) sends the sum. On 200 the tree is cleared and
 * every hold released as delivered; on 400 or 413 (the body will never be taken) the counts
 * are dropped, counted and logged, and the holds released as failed.
 *   The tree is bounded by `max_leaves` distinct keys (module, object and message nodes; a
 * body's leaves are never more than its keys, so the master's max_leaves of the same value
 * is never exceeded). A key that would make a new node past the cap is folded into its
 * parent: the parent's own count grows, and that parent is sent as a leaf (its total, its
 * children's detail dropped for that post). Nothing is lost; each folded count is counted
 * (sluice_partout_agent_folded) and logged. The same rule serves a level raised while
 * coarser counts wait: a node holding counts of its own is a leaf in the next post.
 *   Jitter: the next post is due period * (1 + splay * (u - 0.5)) after the one before,
 * u uniform in [0, 1): ±splay/2 of the period, as the seed meant (Partout's agent computed
 * period² · splay, a defect: systems.md §1.1). When nothing was counted in a period, nothing
 * is posted, except the alive notice ({"agent": {..., "count": 0}}) once
 * notify_alive_period_secs passed without an accepted post.
 *   Relay (uuid_field): each event counts for the agent its field names, each agent has its
 * own tree, settings, schedule and back-off, and posts its own body (only uuid and hostname:
 * the rest of the agent block describes this machine). At most max_agents relayed agents are
 * kept; a new one replaces one with nothing pending, else its counts go to this sink's own
 * agent (counted, logged). A batch's token is held once by every agent it counted for.
 * Posts are sequential: a relay of many agents behind a slow master waits per agent.
 *   Shutdown: finish() posts what is left at once and retries for up to drain_timeout; what
 * cannot be delivered then is logged and counted as lost. Counts live in memory only: a crash
 * loses the tree; the holds keep sources that commit (Kafka, AMQP, file with acks) from
 * committing what was not accepted, so those re-read it after a restart.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "codec/json.h"
#include "core/component.h"
#include "core/event.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_MAX ((size_t)64 << 10)
#define BODY_MAX   ((size_t)256 << 20)

struct pa_conf {
    char *url;
    char *api_key;
    int auth; /* 0 x-api-key, 1 bearer */
    char *uuid, *hostname, *arch, *platform, *os_release, *os_family, *os_dist_name,
        *os_dist_version_id;
    char *uuid_field, *hostname_field;
    char *module_field, *object_field, *msg_field, *level_field, *count_field;
    int key_encoding; /* 0 auto, 1 base64, 2 raw */
    int64_t period_ns;
    double splay;
    int64_t level;
    int64_t alive_ns;
    int64_t max_leaves, max_key_len, max_agents;
    int64_t timeout_ns, retry_initial_ns, retry_max_ns, drain_timeout_ns;
    bool tls_verify;
    char *ca_file, *tls_cert, *tls_key;
};

static const struct sl_option pa_opts[] = {
    {"url", SL_OPT_STRING, NULL, offsetof(struct pa_conf, url),
     "the master's POST /events URL (http:// or https://)", NULL, 0, 0, SL_OPT_REQUIRED},
    {"api_key", SL_OPT_STRING, NULL, offsetof(struct pa_conf, api_key),
     "API key sent with every post (the master's keys file)", NULL, 0, 0, 0},
    {"auth_header", SL_OPT_ENUM, "x-api-key", offsetof(struct pa_conf, auth),
     "how the key goes: x-api-key (X-Api-Key: <key>) or bearer (Authorization: Bearer <key>)",
     "x-api-key|bearer", 0, 0, 0},
    {"uuid", SL_OPT_STRING, NULL, offsetof(struct pa_conf, uuid),
     "agent uuid (default: /etc/machine-id, else the host name)", NULL, 0, 0, 0},
    {"hostname", SL_OPT_STRING, NULL, offsetof(struct pa_conf, hostname),
     "agent hostname (default: uname nodename)", NULL, 0, 0, 0},
    {"arch", SL_OPT_STRING, NULL, offsetof(struct pa_conf, arch),
     "agent arch (default: uname machine, x86_64 as x64 and aarch64 as arm64, as Partout's)", NULL,
     0, 0, 0},
    {"platform", SL_OPT_STRING, NULL, offsetof(struct pa_conf, platform),
     "agent platform (default: uname sysname, lower case)", NULL, 0, 0, 0},
    {"os_release", SL_OPT_STRING, NULL, offsetof(struct pa_conf, os_release),
     "agent os_release (default: uname release)", NULL, 0, 0, 0},
    {"os_family", SL_OPT_STRING, NULL, offsetof(struct pa_conf, os_family),
     "agent os_family (default: null)", NULL, 0, 0, 0},
    {"os_dist_name", SL_OPT_STRING, NULL, offsetof(struct pa_conf, os_dist_name),
     "agent os_dist_name (default: null)", NULL, 0, 0, 0},
    {"os_dist_version_id", SL_OPT_STRING, NULL, offsetof(struct pa_conf, os_dist_version_id),
     "agent os_dist_version_id (default: null)", NULL, 0, 0, 0},
    {"uuid_field", SL_OPT_STRING, NULL, offsetof(struct pa_conf, uuid_field),
     "relay: field (path) with the uuid of the agent an event belongs to (unset or absent: "
     "this sink's uuid)",
     NULL, 0, 0, 0},
    {"hostname_field", SL_OPT_STRING, NULL, offsetof(struct pa_conf, hostname_field),
     "relay: field (path) with the hostname of a relayed agent (its first event's)", NULL, 0, 0, 0},
    {"max_agents", SL_OPT_INT, "1000", offsetof(struct pa_conf, max_agents),
     "relay: agents kept at once; past it an idle one is replaced, else counts go to this sink's "
     "own uuid (counted)",
     NULL, 1, 1000000, 0},
    {"module_field", SL_OPT_STRING, "module", offsetof(struct pa_conf, module_field),
     "field (path) with the module name; absent: \"unknown\"", NULL, 0, 0, 0},
    {"object_field", SL_OPT_STRING, "object", offsetof(struct pa_conf, object_field),
     "field (path) with the object; absent: \"unknown\"", NULL, 0, 0, 0},
    {"msg_field", SL_OPT_STRING, "msg", offsetof(struct pa_conf, msg_field),
     "field (path) with the message; absent: \"unknown\"", NULL, 0, 0, 0},
    {"level_field", SL_OPT_STRING, "level", offsetof(struct pa_conf, level_field),
     "field (path) with the event's level: \"error\" is error, anything else info", NULL, 0, 0, 0},
    {"count_field", SL_OPT_STRING, NULL, offsetof(struct pa_conf, count_field),
     "field (path) with a non-negative integer count per event (unset or absent: 1)", NULL, 0, 0,
     0},
    {"key_encoding", SL_OPT_ENUM, "auto", offsetof(struct pa_conf, key_encoding),
     "object and message keys: auto (\"b64:\" base64 when not printable ASCII or starting with "
     "b64:), base64 (always), raw",
     "auto|base64|raw", 0, 0, 0},
    {"period", SL_OPT_DURATION, "5s", offsetof(struct pa_conf, period_ns),
     "aggregate period until the master answers (Partout's agent default)", NULL, 0, 0, 0},
    {"splay", SL_OPT_DOUBLE, "0.05", offsetof(struct pa_conf, splay),
     "jitter until the master answers: each period is period * (1 +- splay/2)", NULL, 0, 0, 0},
    {"level", SL_OPT_INT, "4", offsetof(struct pa_conf, level),
     "aggregation level until the master answers", NULL, 0, 4, 0},
    {"alive_period", SL_OPT_DURATION, "1d", offsetof(struct pa_conf, alive_ns),
     "alive notice after this long without an accepted post, until the master answers", NULL, 0, 0,
     0},
    {"max_leaves", SL_OPT_INT, "10000", offsetof(struct pa_conf, max_leaves),
     "distinct keys (module, object, message nodes) kept; past it counts fold into the parent",
     NULL, 1, 10000000, 0},
    {"max_key_len", SL_OPT_INT, "1024", offsetof(struct pa_conf, max_key_len),
     "bytes of a key kept (longer keys are cut; the master's max_key_len)", NULL, 1, 65536, 0},
    {"timeout", SL_OPT_DURATION, "10s", offsetof(struct pa_conf, timeout_ns),
     "a post that is not answered in this long fails (connecting: at most 5s)", NULL, 0, 0, 0},
    {"retry_initial", SL_OPT_DURATION, "1s", offsetof(struct pa_conf, retry_initial_ns),
     "back-off after the first failed post (doubles per failure, jittered)", NULL, 0, 0, 0},
    {"retry_max", SL_OPT_DURATION, "60s", offsetof(struct pa_conf, retry_max_ns),
     "back-off at most", NULL, 0, 0, 0},
    {"drain_timeout", SL_OPT_DURATION, "10s", offsetof(struct pa_conf, drain_timeout_ns),
     "at shutdown, keep trying to post what is left this long", NULL, 0, 0, 0},
    {"tls_verify", SL_OPT_BOOL, "true", offsetof(struct pa_conf, tls_verify),
     "verify the master's certificate and host name", NULL, 0, 0, 0},
    {"ca_file", SL_OPT_STRING, NULL, offsetof(struct pa_conf, ca_file),
     "CA certificates (PEM) to verify the master with, instead of the system's", NULL, 0, 0, 0},
    {"tls_cert", SL_OPT_STRING, NULL, offsetof(struct pa_conf, tls_cert),
     "client certificate (PEM) for a master with tls_ca", NULL, 0, 0, 0},
    {"tls_key", SL_OPT_STRING, NULL, offsetof(struct pa_conf, tls_key),
     "private key (PEM) of tls_cert", NULL, 0, 0, 0},
    {0},
};

/* A module, object or message node; the root is the agent. */
struct pa_node {
    char *key;
    size_t key_len;
    uint64_t own;        /* counts that stopped here (coarser level, or folded) */
    uint64_t total;      /* own + the children's totals */
    bool error;          /* a message node: some event had level "error" */
    struct sl_hmap kids; /* key -> struct pa_node * */
};

/* One agent: this sink's own (self), or one relayed (uuid_field). */
struct pa_agent {
    char *uuid;
    char *hostname; /* relayed: from hostname_field; NULL: none */
    bool self;
    struct pa_node root;
    uint32_t nnodes;     /* below the root */
    uint64_t folded_now; /* counts folded into this tree */
    uint64_t hold_seq;   /* the batch whose token this agent holds last */
    struct sl_ack **holds;
    size_t nholds, cap_holds;

    /* the master's settings for this agent (the configured ones until it answers) */
    int64_t period_ns;
    double splay;
    int level;
    int64_t alive_ns;

    int64_t next_post_at; /* monotonic */
    int64_t last_ok_at;
    uint32_t failures;
};

struct pa_sink {
    struct sl_component *c;
    const struct pa_conf *cf;
    struct pa_agent **agents; /* [0] is self */
    uint32_t nagents;
    struct sl_hmap by_uuid; /* relayed uuid -> index into agents */
    uint64_t nnodes;        /* over all agents */
    uint64_t batch_seq;
    struct sl_path f_uuid, f_hostname, f_module, f_object, f_msg, f_level, f_count;
    bool have_uuid, have_hostname, have_count;
    char *hostname, *arch, *platform, *os_release;
    struct sl_buf scratch, keys, body, answer;
    struct curl_slist *headers;
    CURL *easy;
    char err[CURL_ERROR_SIZE];
    uint64_t rng;
    struct sl_log_limit lim, fold_lim, agent_lim;

    atomic_uint_fast64_t posts, post_failures, counts_posted, pending, folded, dropped, lost,
        alives, g_level, g_period, g_agents, agents_folded;
};

static uint64_t next_rand(struct pa_sink *s)
{
    /* splitmix64 */
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* period * (1 + splay * (u - 0.5)), u in [0, 1): ±splay/2 of the period. */
static int64_t jittered(struct pa_sink *s, const struct pa_agent *a)
{
    double u = (double)(next_rand(s) >> 11) / 9007199254740992.0;
    double p = (double)a->period_ns * (1.0 + a->splay * (u - 0.5));
    return p < 1e6 ? 1000000 : (int64_t)p;
}

/* Equal jitter: uniform in [cap/2, cap], cap = min(max, initial * 2^(failures-1)). */
static int64_t backoff(struct pa_sink *s, const struct pa_agent *a)
{
    int64_t initial = s->cf->retry_initial_ns > 10000000 ? s->cf->retry_initial_ns : 10000000;
    int64_t max = s->cf->retry_max_ns > initial ? s->cf->retry_max_ns : initial;
    int64_t cap = initial;
    for (uint32_t i = 1; i < a->failures && cap < max; i++)
        cap = cap > max / 2 ? max : cap * 2;
    return cap / 2 + (int64_t)(next_rand(s) % ((uint64_t)(cap / 2) + 1));
}

/* ---- the tree */

static void node_fini(struct pa_node *n)
{
    size_t it = 0;
    struct sl_str k;
    uint64_t v;
    while (sl_hmap_next(&n->kids, &it, &k, &v)) {
        struct pa_node *kid = (struct pa_node *)(uintptr_t)v;
        node_fini(kid);
        sl_free(kid);
    }
    sl_hmap_fini(&n->kids);
    sl_free(n->key);
}

static void agent_clear(struct pa_sink *s, struct pa_agent *a)
{
    atomic_fetch_sub_explicit(&s->pending, a->root.total, memory_order_relaxed);
    node_fini(&a->root);
    memset(&a->root, 0, sizeof(a->root));
    sl_hmap_init(&a->root.kids);
    s->nnodes -= a->nnodes;
    a->nnodes = 0;
    a->folded_now = 0;
}

/* Add n counts under keys[0..nkeys-1] (module, object, msg). */
static void tree_add(struct pa_sink *s, struct pa_agent *a, const struct sl_str *keys, int nkeys,
                     bool error, uint64_t n)
{
    struct pa_node *path[4];
    int depth = 0;
    path[depth++] = &a->root;
    for (int i = 0; i < nkeys; i++) {
        struct pa_node *at = path[depth - 1];
        uint64_t v;
        if (sl_hmap_get(&at->kids, keys[i], &v)) {
            path[depth++] = (struct pa_node *)(uintptr_t)v;
            continue;
        }
        if (s->nnodes >= (uint64_t)s->cf->max_leaves) {
            atomic_fetch_add_explicit(&s->folded, n, memory_order_relaxed);
            a->folded_now += n;
            sl_log_ratelimited(&s->fold_lim, 1, SL_LOG_WARN, s->c->name,
                               "max_leaves (%lld) keys kept: %llu counts folded into the parent",
                               (long long)s->cf->max_leaves, (unsigned long long)n);
            break;
        }
        struct pa_node *kid = sl_xcalloc(1, sizeof(*kid));
        kid->key = sl_xstrndup(keys[i].ptr, keys[i].len);
        kid->key_len = keys[i].len;
        sl_hmap_init(&kid->kids);
        if (sl_hmap_put(&at->kids, sl_str_make(kid->key, kid->key_len), (uintptr_t)kid)) {
            /* no memory for the slot: fold, as past the cap */
            node_fini(kid);
            sl_free(kid);
            atomic_fetch_add_explicit(&s->folded, n, memory_order_relaxed);
            a->folded_now += n;
            break;
        }
        s->nnodes++;
        a->nnodes++;
        path[depth++] = kid;
    }
    path[depth - 1]->own += n;
    if (error && depth == 4)
        path[3]->error = true;
    for (int i = 0; i < depth; i++)
        path[i]->total += n;
    atomic_fetch_add_explicit(&s->pending, n, memory_order_relaxed);
}

/* ---- the body */

static bool needs_b64(const char *p, size_t n)
{
    if (n >= 4 && memcmp(p, "b64:", 4) == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] >= 0x7f)
            return true;
    return false;
}

static int put_b64(struct sl_buf *b, const char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = sl_buf_reserve(b, 4 + (n + 2) / 3 * 4 + 2);
    if (rc)
        return rc;
    sl_buf_append(b, "\"b64:", 5);
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8 | u[i + 2];
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63]};
        sl_buf_append(b, q, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)u[i] << 16 | (i + 1 < n ? (uint32_t)u[i + 1] << 8 : 0);
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=', '='};
        sl_buf_append(b, q, 4);
    }
    return sl_buf_putc(b, '"');
}

static int put_key(struct pa_sink *s, const struct pa_node *n, int depth)
{
    /* module keys stay raw unless they must be encoded (the seed's module names are raw) */
    bool b64 = s->cf->key_encoding == 1 && depth >= 3;
    if (s->cf->key_encoding != 2 && needs_b64(n->key, n->key_len))
        b64 = true;
    return b64 ? put_b64(&s->body, n->key, n->key_len)
               : sl_json_write_string(&s->body, n->key, n->key_len);
}

static const char *const child_name[] = {NULL, "modules", "objects", "messages"};

/* Write n's members after its "{": count, and children when n is not a leaf at `level`.
 * depth: 1 agent, 2 module, 3 object, 4 message. */
static int put_node(struct pa_sink *s, const struct pa_node *n, int depth, int level)
{
    struct sl_buf *b = &s->body;
    int rc = 0;
    if (depth == 4)
        rc = sl_buf_appendf(b, "\"level\":\"%s\",", n->error ? "error" : "info");
    if (!rc)
        rc = sl_buf_appendf(b, "\"count\":%llu", (unsigned long long)n->total);
    bool leaf = depth >= 4 || depth >= level || n->own || !n->kids.count;
    if (rc || leaf)
        return rc;
    if ((rc = sl_buf_appendf(b, ",\"%s\":{", child_name[depth])))
        return rc;
    size_t it = 0;
    struct sl_str k;
    uint64_t v;
    bool first = true;
    while (!rc && sl_hmap_next(&n->kids, &it, &k, &v)) {
        const struct pa_node *kid = (const struct pa_node *)(uintptr_t)v;
        if (!first)
            rc = sl_buf_putc(b, ',');
        first = false;
        if (!rc)
            rc = put_key(s, kid, depth + 1);
        if (!rc)
            rc = sl_buf_append(b, ":{", 2);
        if (!rc)
            rc = put_node(s, kid, depth + 1, level);
        if (!rc)
            rc = sl_buf_putc(b, '}');
    }
    return rc ? rc : sl_buf_putc(b, '}');
}

static int put_str_field(struct sl_buf *b, const char *name, const char *val)
{
    int rc = sl_buf_appendf(b, ",\"%s\":", name);
    if (rc)
        return rc;
    return val ? sl_json_write_string(b, val, strlen(val)) : sl_buf_puts(b, "null");
}

static int build_body(struct pa_sink *s, const struct pa_agent *a)
{
    const struct pa_conf *cf = s->cf;
    struct sl_buf *b = &s->body;
    sl_buf_reset(b);
    int rc = sl_buf_puts(b, "{\"agent\":{\"uuid\":");
    if (!rc)
        rc = sl_json_write_string(b, a->uuid, strlen(a->uuid));
    if (a->self) {
        if (!rc)
            rc = put_str_field(b, "hostname", s->hostname);
        if (!rc)
            rc = put_str_field(b, "arch", s->arch);
        if (!rc)
            rc = put_str_field(b, "platform", s->platform);
        if (!rc)
            rc = put_str_field(b, "os_release", s->os_release);
        if (!rc)
            rc = put_str_field(b, "os_family", cf->os_family);
        if (!rc)
            rc = put_str_field(b, "os_dist_name", cf->os_dist_name);
        if (!rc)
            rc = put_str_field(b, "os_dist_version_id", cf->os_dist_version_id);
    } else if (a->hostname && !rc) {
        rc = put_str_field(b, "hostname", a->hostname);
    }
    if (!rc)
        rc = sl_buf_putc(b, ',');
    if (!rc)
        rc = put_node(s, &a->root, 1, a->level);
    if (!rc)
        rc = sl_buf_appendf(b, "},\"period_secs\":%lld}",
                            (long long)((a->period_ns + 500000000) / 1000000000));
    return rc;
}

/* ---- posting */

static size_t on_answer(char *p, size_t size, size_t nmemb, void *arg)
{
    struct sl_buf *b = arg;
    size_t n = size * nmemb;
    if (b->len < ANSWER_MAX)
        sl_buf_append(b, p, n < ANSWER_MAX - b->len ? n : ANSWER_MAX - b->len);
    return n;
}

/* Take the master's settings from a 200 answer (fields missing or out of range are kept). */
static void obey(struct pa_sink *s, struct pa_agent *a)
{
    struct sl_arena ar;
    sl_arena_init(&ar, 4096, ANSWER_MAX * 4);
    struct sl_value v;
    struct sl_json_opts jo = {.max_depth = 8, .max_len = ANSWER_MAX + 1};
    if (sl_json_parse_value(&ar, s->answer.ptr ? s->answer.ptr : "", s->answer.len, &jo, &v,
                            NULL) == 0) {
        const struct sl_value *x;
        double d;
#define NUM(name)                                                                                  \
    ((x = sl_value_map_get(&v, sl_str_c(name))) &&                                                 \
     (x->type == SL_V_INT || x->type == SL_V_DOUBLE) &&                                            \
     ((d = x->type == SL_V_INT ? (double)x->u.i : x->u.d), 1))
        if (NUM("aggregate_period_secs") && d >= 1 && d <= 366 * 86400.0)
            a->period_ns = (int64_t)(d * 1e9);
        if (NUM("aggregate_period_splay") && d >= 0 && d <= 1)
            a->splay = d;
        if (NUM("aggregate_level") && d >= 0 && d <= 4 && a->level != (int)d) {
            sl_info(s->c->name, "the master sets aggregate_level %d (was %d) for %s", (int)d,
                    a->level, a->uuid);
            a->level = (int)d;
        }
        if (NUM("notify_alive_period_secs") && d >= 1 && d <= 3650 * 86400.0)
            a->alive_ns = (int64_t)(d * 1e9);
#undef NUM
    }
    sl_arena_fini(&ar);
    if (a->self) {
        atomic_store_explicit(&s->g_level, (uint64_t)a->level, memory_order_relaxed);
        atomic_store_explicit(&s->g_period, (uint64_t)(a->period_ns / 1000000000),
                              memory_order_relaxed);
    }
}

static void release_holds(struct pa_agent *a, bool ok)
{
    for (size_t i = 0; i < a->nholds; i++)
        sl_ack_release(a->holds[i], ok);
    a->nholds = 0;
}

enum { POST_OK, POST_RETRY, POST_DROPPED };

/* Post the tree (or an alive notice when it is empty). Sink thread. */
static int post(struct pa_sink *s, struct pa_agent *a)
{
    const char *name = s->c->name;
    uint64_t total = a->root.total;
    int rc = build_body(s, a);
    if (rc) {
        /* only a body past BODY_MAX gets here: it will not shrink by waiting */
        sl_error(name, "body not built: %s; %llu counts dropped", sl_strerror(rc),
                 (unsigned long long)total);
        atomic_fetch_add_explicit(&s->dropped, total, memory_order_relaxed);
        release_holds(a, false);
        agent_clear(s, a);
        return POST_DROPPED;
    }
    sl_buf_reset(&s->answer);
    s->err[0] = 0;
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body.ptr);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len);
    CURLcode cc = curl_easy_perform(s->easy);
    long code = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    int64_t now = sl_clock_mono_ns();
    if (code == 200) {
        atomic_fetch_add_explicit(&s->posts, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->counts_posted, total, memory_order_relaxed);
        if (!total)
            atomic_fetch_add_explicit(&s->alives, 1, memory_order_relaxed);
        if (a->failures)
            sl_info(name, "the master at %s takes posts again (%llu counts sent)", s->cf->url,
                    (unsigned long long)total);
        if (a->folded_now)
            sl_warn(name,
                    "this aggregate carried %llu of its %llu counts folded into a parent: more "
                    "than max_leaves (%lld) distinct keys in one period",
                    (unsigned long long)a->folded_now, (unsigned long long)total,
                    (long long)s->cf->max_leaves);
        a->failures = 0;
        a->last_ok_at = now;
        obey(s, a);
        release_holds(a, true);
        agent_clear(s, a);
        return POST_OK;
    }
    int alen = (int)(s->answer.len < 200 ? s->answer.len : 200);
    const char *ans = s->answer.ptr ? s->answer.ptr : "";
    if (code == 400 || code == 413) {
        sl_error(name,
                 "the master refused the aggregate of %s (HTTP %ld: %.*s): %llu counts dropped",
                 a->uuid, code, alen, ans, (unsigned long long)total);
        atomic_fetch_add_explicit(&s->dropped, total, memory_order_relaxed);
        release_holds(a, false);
        agent_clear(s, a);
        a->failures = 0;
        return POST_DROPPED;
    }
    a->failures++;
    atomic_fetch_add_explicit(&s->post_failures, 1, memory_order_relaxed);
    if (cc != CURLE_OK)
        sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, name,
                           "post of %s to %s failed: %s; %llu counts kept for the next post",
                           a->uuid, s->cf->url, s->err[0] ? s->err : curl_easy_strerror(cc),
                           (unsigned long long)total);
    else
        sl_log_ratelimited(&s->lim, 1, code == 401 || code == 403 ? SL_LOG_ERROR : SL_LOG_WARN,
                           name,
                           "post of %s to %s: HTTP %ld %.*s; %llu counts kept for the next post",
                           a->uuid, s->cf->url, code, alen, ans, (unsigned long long)total);
    return POST_RETRY;
}

/* Post a's tree when due. Sink thread. */
static void agent_flush(struct pa_sink *s, struct pa_agent *a, int64_t now)
{
    if (now < a->next_post_at)
        return;
    /* nothing happened this period: no post, unless the alive notice is due (this sink's own
     * agent only: a relayed agent says it is alive itself) */
    if (!a->root.total && (!a->self || now - a->last_ok_at < a->alive_ns)) {
        a->next_post_at += jittered(s, a);
        if (a->next_post_at < now)
            a->next_post_at = now + jittered(s, a);
        return;
    }
    if (post(s, a) == POST_RETRY) {
        a->next_post_at = sl_clock_mono_ns() + backoff(s, a);
        return;
    }
    /* the cadence keeps to the schedule, not to when the answer came */
    a->next_post_at += jittered(s, a);
    now = sl_clock_mono_ns();
    if (a->next_post_at < now)
        a->next_post_at = now + jittered(s, a);
}

static int pa_flush(struct sl_component *c)
{
    struct pa_sink *s = c->state;
    int64_t now = sl_clock_mono_ns();
    for (uint32_t i = 0; i < s->nagents; i++)
        agent_flush(s, s->agents[i], now);
    return 0;
}

/* ---- the sink */

/* The text of a key field into s->keys (appended); its length. "unknown" when absent. */
static size_t key_of(struct pa_sink *s, const struct sl_path *p, const struct sl_event *ev)
{
    const struct sl_value *v = sl_path_get(p, ev);
    struct sl_str t = sl_str_c("unknown");
    if (v && v->type != SL_V_NULL) {
        sl_buf_reset(&s->scratch);
        t = sl_value_to_text(v, &s->scratch);
        if (t.len > (size_t)s->cf->max_key_len)
            t.len = (size_t)s->cf->max_key_len;
        if (!t.len)
            t = sl_str_c("unknown");
    }
    if (sl_buf_append(&s->keys, t.ptr, t.len))
        return 0;
    return t.len;
}

static struct pa_agent *agent_new(struct pa_sink *s, const char *uuid, size_t uuid_len, bool self)
{
    const struct pa_conf *cf = s->cf;
    struct pa_agent *a = sl_xcalloc(1, sizeof(*a));
    a->uuid = sl_xstrndup(uuid, uuid_len);
    a->self = self;
    sl_hmap_init(&a->root.kids);
    a->period_ns = cf->period_ns;
    a->splay = cf->splay;
    a->level = (int)cf->level;
    a->alive_ns = cf->alive_ns;
    a->last_ok_at = sl_clock_mono_ns();
    a->next_post_at = a->last_ok_at + jittered(s, a);
    return a;
}

static void agent_free(struct pa_sink *s, struct pa_agent *a)
{
    release_holds(a, false);
    sl_free(a->holds);
    agent_clear(s, a);
    node_fini(&a->root);
    sl_free(a->hostname);
    sl_free(a->uuid);
    sl_free(a);
}

/* The agent an event counts for: this sink's own, or (uuid_field) a relayed one, made on
 * first sight. Past max_agents an idle relayed agent (nothing pending) is replaced; when none
 * is idle the event counts for this sink's own agent (counted, logged). */
static struct pa_agent *agent_of(struct pa_sink *s, const struct sl_event *ev)
{
    struct pa_agent *self = s->agents[0];
    if (!s->have_uuid)
        return self;
    const struct sl_value *v = sl_path_get(&s->f_uuid, ev);
    if (!v || v->type == SL_V_NULL)
        return self;
    sl_buf_reset(&s->scratch);
    struct sl_str u = sl_value_to_text(v, &s->scratch);
    if (!u.len || u.len > (size_t)s->cf->max_key_len || sl_str_eq_c(u, self->uuid))
        return self;
    uint64_t idx;
    if (sl_hmap_get(&s->by_uuid, u, &idx))
        return s->agents[idx];
    uint32_t slot = s->nagents;
    if (s->nagents >= (uint64_t)s->cf->max_agents + 1) {
        for (slot = 1; slot < s->nagents; slot++)
            if (!s->agents[slot]->root.total && !s->agents[slot]->nholds)
                break;
        if (slot == s->nagents) {
            atomic_fetch_add_explicit(&s->agents_folded, 1, memory_order_relaxed);
            sl_log_ratelimited(&s->agent_lim, 1, SL_LOG_WARN, s->c->name,
                               "max_agents (%lld) relayed agents busy: counts of %.*s go to %s",
                               (long long)s->cf->max_agents, (int)u.len, u.ptr, self->uuid);
            return self;
        }
        struct pa_agent *old = s->agents[slot];
        sl_hmap_del(&s->by_uuid, sl_str_c(old->uuid));
        agent_free(s, old);
    }
    struct pa_agent *a = agent_new(s, u.ptr, u.len, false);
    if (sl_hmap_put(&s->by_uuid, sl_str_c(a->uuid), slot)) {
        agent_free(s, a);
        if (slot < s->nagents) { /* the replaced agent's slot must not dangle */
            struct pa_agent *last = s->agents[--s->nagents];
            if (slot < s->nagents) {
                s->agents[slot] = last;
                sl_hmap_put(&s->by_uuid, sl_str_c(last->uuid), slot); /* a replace */
            }
        }
        return self;
    }
    if (s->have_hostname) {
        const struct sl_value *h = sl_path_get(&s->f_hostname, ev);
        if (h && h->type == SL_V_STRING && h->len && h->len <= (size_t)s->cf->max_key_len)
            a->hostname = sl_xstrndup(h->u.s, h->len);
    }
    if (slot == s->nagents) {
        s->agents = sl_xrealloc(s->agents, (s->nagents + 1) * sizeof(*s->agents));
        s->nagents++;
    }
    s->agents[slot] = a;
    atomic_store_explicit(&s->g_agents, s->nagents, memory_order_relaxed);
    return a;
}

static int pa_write(struct sl_component *c, struct sl_batch *b)
{
    struct pa_sink *s = c->state;
    s->batch_seq++;
    for (uint32_t i = 0; i < b->count; i++) {
        const struct sl_event *ev = &b->events[i];
        uint64_t n = 1;
        if (s->have_count) {
            const struct sl_value *v = sl_path_get(&s->f_count, ev);
            if (v && v->type == SL_V_INT && v->u.i >= 0)
                n = (uint64_t)v->u.i;
        }
        if (!n)
            continue;
        struct pa_agent *a = agent_of(s, ev);
        int nkeys = a->level >= 4 ? 3 : a->level >= 2 ? a->level - 1 : 0;
        /* keys are gathered in s->keys first: a view into scratch would move */
        struct sl_str keys[3];
        size_t lens[3];
        const struct sl_path *paths[3] = {&s->f_module, &s->f_object, &s->f_msg};
        sl_buf_reset(&s->keys);
        for (int k = 0; k < nkeys; k++)
            lens[k] = key_of(s, paths[k], ev);
        size_t off = 0;
        for (int k = 0; k < nkeys; k++) {
            keys[k] = sl_str_make(s->keys.ptr ? s->keys.ptr + off : "", lens[k]);
            off += lens[k];
        }
        bool error = false;
        if (nkeys == 3) {
            const struct sl_value *lv = sl_path_get(&s->f_level, ev);
            error = lv && lv->type == SL_V_STRING && lv->len == 5 && !memcmp(lv->u.s, "error", 5);
        }
        tree_add(s, a, keys, nkeys, error, n);
        /* the batch's token is held by every agent it counted for, once */
        if (b->ack && a->hold_seq != s->batch_seq) {
            a->hold_seq = s->batch_seq;
            if (a->nholds == a->cap_holds) {
                a->cap_holds = a->cap_holds ? 2 * a->cap_holds : 64;
                a->holds = sl_xrealloc(a->holds, a->cap_holds * sizeof(*a->holds));
            }
            a->holds[a->nholds++] = sl_sink_hold(b);
        }
    }
    return pa_flush(c);
}

static void pa_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    (void)x;
    struct pa_sink *s = c->state;
    if (!s)
        return;
    int64_t deadline = sl_clock_mono_ns() + s->cf->drain_timeout_ns;
    for (uint32_t i = 0; i < s->nagents; i++) {
        struct pa_agent *a = s->agents[i];
        while (a->root.total) {
            if (post(s, a) != POST_RETRY)
                break;
            int64_t wait = backoff(s, a);
            if (sl_clock_mono_ns() + wait > deadline) {
                sl_error(c->name,
                         "stopping: the master did not take the last aggregate of %s in %lld "
                         "ms: %llu counts lost",
                         a->uuid, (long long)(s->cf->drain_timeout_ns / 1000000),
                         (unsigned long long)a->root.total);
                atomic_fetch_add_explicit(&s->lost, a->root.total, memory_order_relaxed);
                release_holds(a, false);
                agent_clear(s, a);
                break;
            }
            struct timespec ts = {(time_t)(wait / 1000000000), (long)(wait % 1000000000)};
            nanosleep(&ts, NULL);
        }
    }
}

static size_t pa_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct pa_sink *s = c->state;
    if (!s)
        return 0;
    static const struct {
        const char *name, *help;
        bool gauge;
    } defs[] = {
        {"sluice_partout_agent_posts", "aggregates the master accepted", false},
        {"sluice_partout_agent_post_failures", "posts that failed and will be retried", false},
        {"sluice_partout_agent_counts_posted", "counts in accepted aggregates", false},
        {"sluice_partout_agent_counts_pending", "counts waiting for the next post", true},
        {"sluice_partout_agent_folded", "counts folded into a parent past max_leaves", false},
        {"sluice_partout_agent_dropped", "counts in aggregates the master refused (400/413)",
         false},
        {"sluice_partout_agent_lost", "counts not delivered at shutdown", false},
        {"sluice_partout_agent_alive_notices", "alive notices accepted", false},
        {"sluice_partout_agent_level", "aggregation level in force", true},
        {"sluice_partout_agent_period_seconds", "aggregate period in force", true},
        {"sluice_partout_agent_agents", "agents kept (this one and relayed ones)", true},
        {"sluice_partout_agent_agents_folded", "events of relayed agents past max_agents", false},
    };
    atomic_uint_fast64_t *vals[] = {&s->posts,    &s->post_failures, &s->counts_posted,
                                    &s->pending,  &s->folded,        &s->dropped,
                                    &s->lost,     &s->alives,        &s->g_level,
                                    &s->g_period, &s->g_agents,      &s->agents_folded};
    size_t n = sizeof(defs) / sizeof(defs[0]);
    for (size_t i = 0; i < n; i++)
        out[i] = (struct sl_comp_stat){defs[i].name, defs[i].help, defs[i].gauge,
                                       (double)atomic_load_explicit(vals[i], memory_order_relaxed)};
    return n;
}

static void pa_fini(struct sl_component *c)
{
    struct pa_sink *s = c->state;
    if (!s)
        return;
    uint64_t left = atomic_load_explicit(&s->pending, memory_order_relaxed);
    if (left)
        sl_warn(c->name, "%llu counts were never posted", (unsigned long long)left);
#define V(f) (unsigned long long)atomic_load_explicit(&s->f, memory_order_relaxed)
    sl_info(c->name,
            "stopped: %llu aggregates accepted, %llu counts posted, %llu folded, %llu dropped, "
            "%llu lost, %llu failed posts, %llu alive notices",
            V(posts), V(counts_posted), V(folded), V(dropped), V(lost), V(post_failures),
            V(alives));
#undef V
    for (uint32_t i = 0; i < s->nagents; i++)
        agent_free(s, s->agents[i]);
    sl_free(s->agents);
    sl_hmap_fini(&s->by_uuid);
    if (s->easy)
        curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->headers);
    sl_path_fini(&s->f_module);
    sl_path_fini(&s->f_object);
    sl_path_fini(&s->f_msg);
    sl_path_fini(&s->f_level);
    sl_path_fini(&s->f_count);
    sl_path_fini(&s->f_uuid);
    sl_path_fini(&s->f_hostname);
    sl_buf_fini(&s->scratch);
    sl_buf_fini(&s->keys);
    sl_buf_fini(&s->body);
    sl_buf_fini(&s->answer);
    sl_free(s->hostname);
    sl_free(s->arch);
    sl_free(s->platform);
    sl_free(s->os_release);
    sl_free(s);
    c->state = NULL;
}

static char *default_uuid(const char *hostname)
{
    char buf[128];
    FILE *f = fopen("/etc/machine-id", "r");
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        n--;
    return n ? sl_xstrndup(buf, n) : sl_xstrdup(hostname);
}

static int pa_init(struct sl_component *c, struct sl_diag *d)
{
    const struct pa_conf *cf = c->conf;
    int rc = 0;
    if (strncmp(cf->url, "http://", 7) != 0 && strncmp(cf->url, "https://", 8) != 0) {
        sl_component_diag_opt(c, "url", d);
        sl_diag_hint(d, "e.g. url: \"https://master.example.com:10443/events\"");
        return sl_diag_set(d, SL_ECONFIG,
                           "partout sink '%s': url must start with http:// or "
                           "https://",
                           c->name);
    }
    bool bearer = cf->auth == 1;
    if (cf->period_ns < 1000000000LL || cf->splay < 0 || cf->splay > 1 ||
        cf->alive_ns < 1000000000LL) {
        sl_component_diag_opt(c,
                              cf->period_ns < 1000000000LL  ? "period"
                              : cf->alive_ns < 1000000000LL ? "alive_period"
                                                            : "splay",
                              d);
        return sl_diag_set(d, SL_ECONFIG,
                           "period and alive_period must be at least 1s, splay in "
                           "[0, 1]");
    }
    if ((cf->tls_cert != NULL) != (cf->tls_key != NULL)) {
        sl_component_diag_opt(c, cf->tls_cert ? "tls_key" : "tls_cert", d);
        return sl_diag_set(d, SL_ECONFIG, "tls_cert and tls_key go together");
    }
    const char *files[] = {cf->ca_file, cf->tls_cert, cf->tls_key};
    const char *fopts[] = {"ca_file", "tls_cert", "tls_key"};
    for (int i = 0; i < 3; i++) {
        if (files[i] && access(files[i], R_OK) < 0) {
            sl_component_diag_opt(c, fopts[i], d);
            return sl_diag_set(d, SL_ECONFIG, "partout sink '%s': cannot read %s", c->name,
                               files[i]);
        }
    }
    struct pa_sink *s = sl_xcalloc(1, sizeof(*s));
    s->c = c;
    s->cf = cf;
    c->state = s;
    sl_hmap_init(&s->by_uuid);
    sl_buf_init(&s->scratch, 1 << 20);
    sl_buf_init(&s->keys, 4 << 20);
    sl_buf_init(&s->body, BODY_MAX);
    sl_buf_init(&s->answer, ANSWER_MAX + 1);
    const char *fields[] = {cf->module_field, cf->object_field, cf->msg_field, cf->level_field};
    struct sl_path *paths[] = {&s->f_module, &s->f_object, &s->f_msg, &s->f_level};
    for (int i = 0; i < 4; i++)
        if ((rc = sl_path_init(paths[i], fields[i])))
            goto fail;
    if (cf->count_field) {
        if ((rc = sl_path_init(&s->f_count, cf->count_field)))
            goto fail;
        s->have_count = true;
    }
    if (cf->uuid_field) {
        if ((rc = sl_path_init(&s->f_uuid, cf->uuid_field)))
            goto fail;
        s->have_uuid = true;
    }
    if (cf->hostname_field) {
        if ((rc = sl_path_init(&s->f_hostname, cf->hostname_field)))
            goto fail;
        s->have_hostname = true;
    }

    struct utsname u;
    if (uname(&u) < 0)
        memset(&u, 0, sizeof(u));
    s->hostname = sl_xstrdup(cf->hostname ? cf->hostname : u.nodename);
    const char *arch = u.machine;
    if (!strcmp(arch, "x86_64"))
        arch = "x64";
    else if (!strcmp(arch, "aarch64"))
        arch = "arm64";
    else if (arch[0] == 'i' && strlen(arch) == 4 && !strcmp(arch + 2, "86"))
        arch = "ia32";
    s->arch = sl_xstrdup(cf->arch ? cf->arch : arch);
    s->platform = sl_xstrdup(cf->platform ? cf->platform : u.sysname);
    if (!cf->platform)
        for (char *p = s->platform; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    s->os_release = sl_xstrdup(cf->os_release ? cf->os_release : u.release);
    s->rng = (uint64_t)sl_clock_wall_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)s;
    char *self_uuid = cf->uuid ? sl_xstrdup(cf->uuid) : default_uuid(s->hostname);
    s->agents = sl_xmalloc(sizeof(*s->agents));
    s->agents[0] = agent_new(s, self_uuid, strlen(self_uuid), true);
    s->nagents = 1;
    sl_free(self_uuid);
    atomic_store_explicit(&s->g_level, (uint64_t)cf->level, memory_order_relaxed);
    atomic_store_explicit(&s->g_period, (uint64_t)(cf->period_ns / 1000000000),
                          memory_order_relaxed);
    atomic_store_explicit(&s->g_agents, 1, memory_order_relaxed);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    s->headers = curl_slist_append(NULL, "Content-Type: application/json");
    s->headers = curl_slist_append(s->headers, "Expect:");
    if (cf->api_key) {
        struct sl_buf h;
        sl_buf_init(&h, 8192);
        if ((rc = sl_buf_appendf(&h, "%s%s",
                                 bearer ? "Authorization: Bearer " : "X-Api-Key: ", cf->api_key))) {
            sl_buf_fini(&h);
            goto fail;
        }
        s->headers = curl_slist_append(s->headers, h.ptr);
        sl_buf_fini(&h);
    }
    s->easy = curl_easy_init();
    if (!s->headers || !s->easy) {
        rc = SL_ENOMEM;
        goto fail;
    }
    CURL *e = s->easy;
    long timeout_ms = (long)(cf->timeout_ns / 1000000);
    curl_easy_setopt(e, CURLOPT_URL, cf->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &s->answer);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms > 0 && timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, cf->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, cf->tls_verify ? 2L : 0L);
    if (cf->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, cf->ca_file);
    if (cf->tls_cert) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, cf->tls_cert);
        curl_easy_setopt(e, CURLOPT_SSLKEY, cf->tls_key);
    }
    sl_info(c->name, "agent %s posts to %s: level %d, every %.1f s +-%.0f%%/2%s",
            s->agents[0]->uuid, cf->url, (int)cf->level, (double)cf->period_ns / 1e9,
            cf->splay * 100, s->have_uuid ? " (and relays the agents of uuid_field)" : "");
    return 0;
fail:
    pa_fini(c);
    return sl_diag_set(d, rc, "partout sink '%s': %s", c->name, sl_strerror(rc));
}

const struct sl_component_ops sl_out_partout_ops = {
    .type = "partout",
    .kind = SL_KIND_SINK,
    .summary = "Partout agent: count events agent/module/object/message and post the aggregate "
               "to a master every period, at the level it answers",
    .options = pa_opts,
    .conf_len = sizeof(struct pa_conf),
    .init = pa_init,
    .fini = pa_fini,
    .write = pa_write,
    .flush = pa_flush,
    .finish = pa_finish,
    .stats = pa_stats,
    .flush_interval_ns = 25000000,
};
