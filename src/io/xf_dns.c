/*
 * xf_dns.c — the `dns` transform: reverse-resolve IP fields into host-name fields.
 *
 *   transforms:
 *     names:
 *       type: dns
 *       inputs: [conn]
 *       server: 10.0.0.53:53          # the aggregator's --dns; default: /etc/resolv.conf
 *       fields: {origIp: origH, respIp: respH}   # the default
 *       ttl: 1h
 *       negative_ttl: 5m
 *       parallelism: 10
 *       timeout: 2s
 *       retries: 2
 *
 * For each event and each `ipField: hostField` pair, when the IP field holds an address (an
 * IP value or its text) and the host field is absent or empty, the PTR name of the address is
 * written to the host field. An address without a name (NXDOMAIN, no PTR) or whose lookup
 * timed out or failed leaves the host field as it was, and is counted
 * (sluice_dns_unresolved_fields_total). Events leave in the order they arrived.
 *
 * DESIGN: a worker never waits for DNS. process() fills what the cache knows (one lock per
 * batch). A batch that still misses names, or that arrives while earlier batches wait, is
 * parked at the tail of a FIFO of pending batches, and each missing address becomes a lookup
 * (deduplicated: all batches waiting for one address share it). A resolver thread of the
 * transform's own runs c-ares (poll over ares_getsock + an eventfd for new work), at most
 * `parallelism` lookups in flight; each answer goes to the cache and counts down the batches
 * waiting for it. Completed batches leave from the head of the FIFO only, so order is kept:
 * from tick() (every 5 ms), from process() (a worker that finds the head ready sends it on),
 * and from finish(), which waits for every lookup to end (answer, c-ares timeout, or failure)
 * so nothing accepted is lost at shutdown. The FIFO is bounded (`max_pending` events): when
 * it is full process() waits for room, sending ready batches itself meanwhile — back-pressure,
 * never a wait for a DNS answer on an otherwise idle pipeline.
 * One emitter at a time (emit_lock) pops the head after its downstream has run, so a batch
 * returned straight from process() (all cached, nothing pending) cannot overtake a parked one.
 * With several workers, batches processed at the same moment have no order between them
 * (as everywhere in the pipeline); a batch never overtakes one that was parked before it.
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/map.h"
#include "core/component.h"
#include "core/event.h"
#include "core/pipeline.h"
#include "state/dnscache.h"
#include "sys/thread.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define KEY_LEN 17 /* family (4 or 6) + 16 address bytes */

struct dns_conf {
    char *server;
    struct sl_strmap fields;
    int64_t ttl_ns;
    int64_t negative_ttl_ns;
    int64_t cache_size;
    int64_t parallelism;
    int64_t timeout_ns;
    int64_t retries;
    int64_t max_pending;
    int64_t backoff_ns;
};

static const struct sl_option dns_opts[] = {
    {"server", SL_OPT_STRING, NULL, offsetof(struct dns_conf, server),
     "DNS server(s) as ip[:port] (comma-separated; IPv6 as [addr]:port); default: the "
     "system's /etc/resolv.conf",
     NULL, 0, 0, 0},
    {"fields", SL_OPT_STRING_MAP, NULL, offsetof(struct dns_conf, fields),
     "ipField -> hostField pairs to resolve (default: origIp: origH, respIp: respH)", NULL, 0, 0,
     0},
    {"ttl", SL_OPT_DURATION, "1h", offsetof(struct dns_conf, ttl_ns),
     "how long a name found is cached", NULL, 0, 0, 0},
    {"negative_ttl", SL_OPT_DURATION, "5m", offsetof(struct dns_conf, negative_ttl_ns),
     "how long 'no name' (NXDOMAIN, no PTR record) is cached", NULL, 0, 0, 0},
    {"cache_size", SL_OPT_INT, "100000", offsetof(struct dns_conf, cache_size),
     "entries the cache holds; beyond it the least recently used goes", NULL, 1, 1 << 28, 0},
    {"parallelism", SL_OPT_INT, "10", offsetof(struct dns_conf, parallelism),
     "lookups in flight at most", NULL, 1, 10000, 0},
    {"timeout", SL_OPT_DURATION, "2s", offsetof(struct dns_conf, timeout_ns),
     "first try's timeout (c-ares doubles it on each retry)", NULL, 0, 0, 0},
    {"retries", SL_OPT_INT, "2", offsetof(struct dns_conf, retries),
     "tries after the first before a lookup counts as timed out", NULL, 0, 10, 0},
    {"max_pending", SL_OPT_INT, "65536", offsetof(struct dns_conf, max_pending),
     "events held waiting for lookups; when full, the pipeline waits (back-pressure)", NULL, 1,
     1 << 24, 0},
    {"backoff", SL_OPT_DURATION, "5s", offsetof(struct dns_conf, backoff_ns),
     "after `parallelism` lookups in a row time out, the server counts as down this long: "
     "lookups queued meanwhile end at once unresolved (counted as skipped); 0: never",
     NULL, 0, 0, 0},
    {0},
};

/* A lookup ended without asking the server (it is down): see `backoff`. */
#define STATUS_SKIPPED (-1000)

/* One address being resolved; shared by every slot of every batch waiting for it. */
struct lookup {
    uint8_t key[KEY_LEN];
    int done;   /* guarded_by: lock */
    int status; /* ARES_* once done */
    char *name; /* the answer (NULL: none); immutable once done */
    size_t name_len;
    uint32_t refs;         /* guarded_by: lock: slots + 1 while not done */
    struct pend **waiters; /* guarded_by: lock: one entry per waiting slot */
    uint32_t nwaiters, capwaiters;
    struct lookup *qnext; /* start queue */
    struct dns *d;
};

struct slot {
    uint32_t ev;
    sl_sym host;
    struct lookup *lk;
};

/* A parked batch. */
struct pend {
    struct sl_batch *b;
    struct slot *slots;
    uint32_t nslots;
    uint32_t missing; /* guarded_by: lock: slots whose lookup is not done */
    struct pend *next;
};

struct field_map {
    struct sl_path ip;
    sl_sym host;
};

struct miss {
    uint32_t ev;
    sl_sym host;
    uint8_t key[KEY_LEN];
};

struct worker {
    struct miss *miss;
    size_t cap;
};

struct dns_stats {
    uint64_t lookups, resolved, not_found, timeouts, failures, unresolved_fields, invalid, skipped;
};

struct dns {
    struct field_map *fields;
    uint32_t nfields;
    int64_t ttl_ns, neg_ttl_ns;
    uint32_t parallelism;
    uint64_t max_pending;
    int64_t backoff_ns;
    struct worker *workers;
    uint32_t nworkers;

    struct sl_mutex lock;
    struct sl_cond cond;          /* a batch became ready, or room was made */
    struct sl_dnscache *cache;    /* guarded_by: lock */
    struct sl_hmap lookups;       /* guarded_by: lock: key -> struct lookup * (not done) */
    struct lookup *qhead, *qtail; /* guarded_by: lock: lookups not yet started */
    uint32_t inflight;            /* guarded_by: lock */
    struct pend *head, *tail;     /* guarded_by: lock */
    uint64_t pending_events;      /* guarded_by: lock */
    uint32_t pending_batches;     /* guarded_by: lock */
    struct dns_stats st;          /* guarded_by: lock */
    bool stop;                    /* guarded_by: lock */
    struct sl_log_limit fail_lim; /* guarded_by: lock */
    uint32_t timeouts_in_row;     /* guarded_by: lock */
    int64_t down_until;           /* guarded_by: lock: monotonic ns */

    struct sl_mutex emit_lock; /* one emitter at a time: the FIFO's head leaves in order */

    ares_channel chan; /* resolver thread only, after init */
    bool chan_ok;
    int wake_fd;
    struct sl_thread thread;
    bool ares_lib;
    const char *name;
};

/* ---------------------------------------------------------------- helpers */

static void wake(struct dns *d)
{
    uint64_t one = 1;
    ssize_t n = write(d->wake_fd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is already non-zero, the thread wakes anyway */
}

static void lookup_unref(struct lookup *lk) /* lock held */
{
    if (--lk->refs == 0) {
        sl_free(lk->name);
        sl_free(lk->waiters);
        sl_free(lk);
    }
}

/* The cache key of an IP field's value; false when it holds no address. */
static bool ip_key(const struct sl_value *v, uint8_t key[KEY_LEN])
{
    struct sl_value ip;
    if (!v)
        return false;
    if (v->type == SL_V_IP) {
        ip = *v;
    } else if (v->type == SL_V_STRING) {
        if (sl_value_ip_parse(sl_value_as_str(v), &ip) != 0)
            return false;
    } else {
        return false;
    }
    memset(key, 0, KEY_LEN);
    key[0] = (ip.flags & SL_VF_IP6) ? 6 : 4;
    memcpy(key + 1, ip.u.ip, key[0] == 4 ? 4 : 16);
    return true;
}

static bool host_set(const struct sl_event *ev, sl_sym host)
{
    const struct sl_value *v = sl_event_get(ev, host);
    return v && v->type != SL_V_NULL && !(v->type == SL_V_STRING && v->len == 0);
}

/* ---------------------------------------------------------------- resolver thread */

/* The PTR query name of a key: "4.3.2.1.in-addr.arpa" or the nibbles of ip6.arpa. */
static void ptr_name(const uint8_t key[KEY_LEN], char *out, size_t len)
{
    const uint8_t *a = key + 1;
    if (key[0] == 4) {
        snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 15; i >= 0; i--) {
        out[o++] = hex[a[i] & 15];
        out[o++] = '.';
        out[o++] = hex[a[i] >> 4];
        out[o++] = '.';
    }
    snprintf(out + o, len - o, "ip6.arpa");
}

/* A query's end (resolver thread). ares_query keeps the status apart: NXDOMAIN or an empty
 * answer is "no name" (cached as such), a timeout or a failure is not cached.
 * (ares_gethostbyaddr turns every failure into ARES_ENOTFOUND: a dead server would be
 * cached as "no name".) */
static void on_ptr(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct lookup *lk = arg;
    struct dns *d = lk->d;
    struct hostent *h = NULL;
    if (status == ARES_SUCCESS) {
        status = ares_parse_ptr_reply(abuf, alen, lk->key + 1, lk->key[0] == 4 ? 4 : 16,
                                      lk->key[0] == 4 ? AF_INET : AF_INET6, &h);
        if (status == ARES_SUCCESS && (!h || !h->h_name || !h->h_name[0]))
            status = ARES_ENODATA;
    }
    size_t len = status == ARES_SUCCESS ? strlen(h->h_name) : 0;
    char *copy = status == ARES_SUCCESS ? sl_strndup(h->h_name, len) : NULL;
    if (h)
        ares_free_hostent(h);
    int64_t now = sl_clock_mono_ns();
    sl_mutex_lock(&d->lock);
    lk->status = status;
    if (status != ARES_ETIMEOUT && status != STATUS_SKIPPED) /* the server answers */
        d->timeouts_in_row = 0;
    if (copy) {
        lk->name = copy;
        lk->name_len = len;
        d->st.resolved++;
        if (d->ttl_ns > 0)
            (void)sl_dnscache_put(d->cache, lk->key, KEY_LEN, copy, len, now + d->ttl_ns);
    } else if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
        d->st.not_found++;
        if (d->neg_ttl_ns > 0)
            (void)sl_dnscache_put(d->cache, lk->key, KEY_LEN, NULL, 0, now + d->neg_ttl_ns);
    } else if (status == ARES_ETIMEOUT) {
        d->st.timeouts++;
        if (++d->timeouts_in_row >= d->parallelism && d->backoff_ns > 0 && now >= d->down_until) {
            d->down_until = now + d->backoff_ns;
            sl_warn(d->name,
                    "%u lookups in a row timed out: the DNS server counts as down for %" PRId64
                    " ms (lookups meanwhile are skipped)",
                    d->timeouts_in_row, d->backoff_ns / 1000000);
        }
    } else if (status == STATUS_SKIPPED) {
        d->st.skipped++;
    } else {
        d->st.failures++;
        sl_log_ratelimited(&d->fail_lim, 1, SL_LOG_WARN, d->name, "reverse lookup failed: %s",
                           ares_strerror(status));
    }
    lk->done = 1;
    d->inflight--;
    (void)sl_hmap_del(&d->lookups, sl_str_make((const char *)lk->key, KEY_LEN));
    bool ready = false;
    for (uint32_t i = 0; i < lk->nwaiters; i++)
        ready |= --lk->waiters[i]->missing == 0;
    lk->nwaiters = 0;
    if (ready)
        sl_cond_broadcast(&d->cond);
    lookup_unref(lk);
    sl_mutex_unlock(&d->lock);
    (void)timeouts;
}

static void start_queued(struct dns *d)
{
    struct lookup *batch[64];
    for (;;) {
        uint32_t n = 0;
        sl_mutex_lock(&d->lock);
        bool down = d->down_until && sl_clock_mono_ns() < d->down_until;
        while (d->qhead && (down || d->inflight < d->parallelism) && n < 64) {
            struct lookup *lk = d->qhead;
            d->qhead = lk->qnext;
            if (!d->qhead)
                d->qtail = NULL;
            d->inflight++;
            d->st.lookups += !down;
            batch[n++] = lk;
        }
        sl_mutex_unlock(&d->lock);
        if (!n)
            return;
        for (uint32_t i = 0; i < n; i++) { /* the callback may run right here */
            if (down) {
                on_ptr(batch[i], STATUS_SKIPPED, 0, NULL, 0);
                continue;
            }
            char qname[80];
            ptr_name(batch[i]->key, qname, sizeof qname);
            ares_query(d->chan, qname, 1 /* C_IN */, 12 /* T_PTR */, on_ptr, batch[i]);
        }
    }
}

static void *resolver_main(void *arg)
{
    struct dns *d = arg;
    for (;;) {
        sl_mutex_lock(&d->lock);
        bool stop = d->stop;
        sl_mutex_unlock(&d->lock);
        if (stop)
            break;
        start_queued(d);
        struct pollfd pfd[1 + ARES_GETSOCK_MAXNUM];
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        int bits = ares_getsock(d->chan, socks, ARES_GETSOCK_MAXNUM);
        nfds_t n = 0;
        pfd[n++] = (struct pollfd){.fd = d->wake_fd, .events = POLLIN};
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short ev = 0;
            /* ARES_GETSOCK_WRITABLE shifts a signed 1 by 31 for the last socket: UB */
            if ((unsigned)bits & (1u << i))
                ev |= POLLIN;
            if ((unsigned)bits & (1u << (i + ARES_GETSOCK_MAXNUM)))
                ev |= POLLOUT;
            if (ev)
                pfd[n++] = (struct pollfd){.fd = socks[i], .events = ev};
        }
        struct timeval maxtv = {1, 0}, tv;
        struct timeval *tvp = ares_timeout(d->chan, &maxtv, &tv);
        int ms = (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
        int rc = poll(pfd, n, ms);
        if (rc < 0 && errno != EINTR) {
            sl_error(d->name, "poll: %s", strerror(errno));
            continue;
        }
        if (rc > 0 && (pfd[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t r = read(d->wake_fd, &v, sizeof v);
            (void)r;
        }
        for (nfds_t i = 1; rc > 0 && i < n; i++) {
            short re = pfd[i].revents;
            if (!re)
                continue;
            ares_process_fd(d->chan,
                            re & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD,
                            re & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD);
        }
        ares_process_fd(d->chan, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
    }
    /* callbacks with ARES_EDESTRUCTION for what is still in flight (only on a failed init) */
    ares_destroy(d->chan);
    d->chan_ok = false;
    return NULL;
}

/* ---------------------------------------------------------------- set-up */

static void dns_fini(struct sl_component *c)
{
    struct dns *d = c->state;
    if (!d)
        return;
    if (d->thread.started) {
        sl_mutex_lock(&d->lock);
        d->stop = true;
        sl_mutex_unlock(&d->lock);
        wake(d);
        sl_thread_join(&d->thread);
    } else if (d->chan_ok) {
        ares_destroy(d->chan);
    }
    /* batches still parked (an aborted run): dropped, said so */
    while (d->head) {
        struct pend *p = d->head;
        d->head = p->next;
        sl_error(c->name, "%u events dropped at shutdown while waiting for DNS", p->b->count);
        for (uint32_t i = 0; i < p->nslots; i++)
            lookup_unref(p->slots[i].lk);
        sl_batch_unref(p->b);
        sl_free(p->slots);
        sl_free(p);
    }
    while (d->qhead) { /* never started */
        struct lookup *lk = d->qhead;
        d->qhead = lk->qnext;
        lookup_unref(lk);
    }
    sl_hmap_fini(&d->lookups);
    if (d->wake_fd >= 0)
        close(d->wake_fd);
    if (d->ares_lib)
        ares_library_cleanup();
    for (uint32_t i = 0; i < d->nfields; i++)
        sl_path_fini(&d->fields[i].ip);
    sl_free(d->fields);
    for (uint32_t i = 0; i < d->nworkers; i++)
        sl_free(d->workers[i].miss);
    sl_free(d->workers);
    sl_dnscache_free(d->cache);
    sl_mutex_fini(&d->lock);
    sl_mutex_fini(&d->emit_lock);
    sl_cond_fini(&d->cond);
    sl_free(d);
    c->state = NULL;
}

static int add_field(struct sl_component *c, struct dns *d, const char *ip, const char *host,
                     struct sl_diag *diag)
{
    struct field_map *f = &d->fields[d->nfields];
    if (!host[0] || sl_path_init(&f->ip, ip) != 0) {
        sl_component_diag_opt(c, "fields", diag);
        return sl_diag_set(diag, SL_ECONFIG, "dns: bad field pair '%s: %s'", ip, host);
    }
    f->host = sl_sym_intern_c(host);
    d->nfields++;
    return 0;
}

static int dns_init(struct sl_component *c, struct sl_diag *diag)
{
    const struct dns_conf *cf = c->conf;
    struct dns *d = sl_xcalloc(1, sizeof *d);
    c->state = d;
    d->name = c->name;
    d->wake_fd = -1;
    sl_mutex_init(&d->lock);
    sl_mutex_init(&d->emit_lock);
    sl_cond_init(&d->cond);
    sl_hmap_init(&d->lookups);
    int rc = 0;
    size_t nf = cf->fields.count ? cf->fields.count : 2;
    d->fields = sl_xcalloc(nf, sizeof *d->fields);
    if (cf->fields.count) {
        for (size_t i = 0; i < cf->fields.count; i++)
            if ((rc = add_field(c, d, cf->fields.items[i].key, cf->fields.items[i].val, diag)))
                goto fail;
    } else if ((rc = add_field(c, d, "origIp", "origH", diag)) ||
               (rc = add_field(c, d, "respIp", "respH", diag))) {
        goto fail;
    }
    d->ttl_ns = cf->ttl_ns;
    d->neg_ttl_ns = cf->negative_ttl_ns;
    d->parallelism = (uint32_t)cf->parallelism;
    d->max_pending = (uint64_t)cf->max_pending;
    d->backoff_ns = cf->backoff_ns;
    d->cache = sl_dnscache_new((size_t)cf->cache_size);
    int workers = c->pipe ? sl_pipeline_workers(c->pipe) : 1;
    d->nworkers = workers > 0 ? (uint32_t)workers : 1;
    d->workers = sl_xcalloc(d->nworkers, sizeof *d->workers);

    int arc = ares_library_init(ARES_LIB_INIT_ALL);
    if (arc != ARES_SUCCESS) {
        rc = sl_diag_set(diag, SL_EIO, "dns: c-ares: %s", ares_strerror(arc));
        goto fail;
    }
    d->ares_lib = true;
    struct ares_options o;
    memset(&o, 0, sizeof o);
    int64_t tms = cf->timeout_ns / 1000000;
    o.timeout = (int)(tms < 1 ? 1 : tms > 600000 ? 600000 : tms);
    o.tries = (int)cf->retries + 1;
    arc = ares_init_options(&d->chan, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (arc != ARES_SUCCESS) {
        rc = sl_diag_set(diag, SL_EIO, "dns: c-ares: %s", ares_strerror(arc));
        goto fail;
    }
    d->chan_ok = true;
    if (cf->server && (arc = ares_set_servers_ports_csv(d->chan, cf->server)) != ARES_SUCCESS) {
        sl_component_diag_opt(c, "server", diag);
        sl_diag_hint(diag, "an IP address with an optional port: 10.0.0.53, 10.0.0.53:5353, "
                           "[2001:db8::53]:53; several separated by commas");
        rc = sl_diag_set(diag, SL_ECONFIG, "dns: bad server '%s': %s", cf->server,
                         ares_strerror(arc));
        goto fail;
    }
    d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->wake_fd < 0) {
        rc = sl_diag_set(diag, SL_EIO, "dns: eventfd: %s", strerror(errno));
        goto fail;
    }
    if ((rc = sl_thread_start(&d->thread, "sl-dns", resolver_main, d))) {
        rc = sl_diag_set(diag, SL_EIO, "dns: cannot start the resolver thread");
        goto fail;
    }
    return 0;
fail:
    dns_fini(c);
    return rc;
}

/* ---------------------------------------------------------------- emitting */

/* Write the answers of a ready batch into its events. Runs without the lock: the lookups of
 * a ready batch are done, and their results no longer change. */
static uint64_t fill(struct pend *p)
{
    uint64_t unresolved = 0;
    for (uint32_t i = 0; i < p->nslots; i++) {
        const struct slot *s = &p->slots[i];
        struct sl_event *ev = &p->b->events[s->ev];
        if (!s->lk->name) {
            unresolved++;
            continue;
        }
        if (!host_set(ev, s->host) &&
            sl_event_set_str(p->b, ev, s->host, s->lk->name, s->lk->name_len) != 0)
            unresolved++;
    }
    return unresolved;
}

/* Send the ready batches at the head of the FIFO, in order. `wait`: take the emit lock even
 * when another thread holds it (finish); else leave the work to that thread. */
static void emit_ready(struct dns *d, struct sl_xf_ctx *x, bool wait)
{
    if (wait)
        sl_mutex_lock(&d->emit_lock);
    else if (!sl_mutex_trylock(&d->emit_lock))
        return;
    for (;;) {
        sl_mutex_lock(&d->lock);
        struct pend *p = d->head;
        if (!p || p->missing) {
            sl_mutex_unlock(&d->lock);
            break;
        }
        sl_mutex_unlock(&d->lock);
        uint64_t unresolved = fill(p);
        struct sl_batch *b = p->b;
        uint32_t n = b->count;
        p->b = NULL;
        sl_mutex_lock(&d->lock);
        d->st.unresolved_fields += unresolved;
        for (uint32_t i = 0; i < p->nslots; i++)
            lookup_unref(p->slots[i].lk);
        sl_mutex_unlock(&d->lock);
        sl_xf_emit(x, 0, b); /* the head stays until its downstream ran */
        sl_mutex_lock(&d->lock);
        d->head = p->next;
        if (!d->head)
            d->tail = NULL;
        d->pending_events -= n;
        d->pending_batches--;
        sl_cond_broadcast(&d->cond);
        sl_mutex_unlock(&d->lock);
        sl_free(p->slots);
        sl_free(p);
    }
    sl_mutex_unlock(&d->emit_lock);
}

/* ---------------------------------------------------------------- processing */

static struct lookup *lookup_for(struct dns *d, const uint8_t key[KEY_LEN], bool *queued)
{
    uint64_t v;
    struct sl_str k = sl_str_make((const char *)key, KEY_LEN);
    if (sl_hmap_get(&d->lookups, k, &v))
        return (struct lookup *)(uintptr_t)v;
    struct lookup *lk = sl_calloc(1, sizeof *lk);
    if (!lk)
        return NULL;
    memcpy(lk->key, key, KEY_LEN);
    lk->d = d;
    lk->refs = 1; /* until done */
    if (sl_hmap_put(&d->lookups, k, (uint64_t)(uintptr_t)lk) != 0) {
        sl_free(lk);
        return NULL;
    }
    if (d->qtail)
        d->qtail->qnext = lk;
    else
        d->qhead = lk;
    d->qtail = lk;
    *queued = true;
    return lk;
}

static bool add_waiter(struct lookup *lk, struct pend *p)
{
    if (lk->nwaiters == lk->capwaiters) {
        uint32_t cap = lk->capwaiters ? lk->capwaiters * 2 : 4;
        void *w = sl_realloc(lk->waiters, cap * sizeof *lk->waiters);
        if (!w)
            return false;
        lk->waiters = w;
        lk->capwaiters = cap;
    }
    lk->waiters[lk->nwaiters++] = p;
    return true;
}

static struct sl_batch *dns_process(struct sl_component *c, struct sl_batch *b, struct sl_xf_ctx *x)
{
    struct dns *d = c->state;
    struct worker *w = &d->workers[x->worker < d->nworkers ? x->worker : 0];
    uint32_t n = b->count;
    size_t need = (size_t)n * d->nfields;
    if (need > w->cap) {
        void *m = sl_realloc(w->miss, need * sizeof *w->miss);
        if (!m) {
            sl_error(c->name, "out of memory: %u events passed without names", n);
            return b;
        }
        w->miss = m;
        w->cap = need;
    }
    /* room first: back-pressure, sending what is ready meanwhile */
    sl_mutex_lock(&d->lock);
    while (d->pending_events && d->pending_events + n > d->max_pending) {
        sl_mutex_unlock(&d->lock);
        emit_ready(d, x, false);
        sl_mutex_lock(&d->lock);
        if (d->pending_events && d->pending_events + n > d->max_pending)
            (void)sl_cond_wait_until(&d->cond, &d->lock, sl_clock_mono_ns() + 10000000);
    }
    /* the cache */
    int64_t now = sl_clock_mono_ns();
    size_t nmiss = 0;
    uint64_t invalid = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct sl_event *ev = &b->events[i];
        for (uint32_t k = 0; k < d->nfields; k++) {
            const struct field_map *f = &d->fields[k];
            const struct sl_value *v = sl_path_get(&f->ip, ev);
            struct miss *m = &w->miss[nmiss];
            if (!v || v->type == SL_V_NULL || host_set(ev, f->host))
                continue;
            if (!ip_key(v, m->key)) {
                invalid++;
                continue;
            }
            struct sl_str name;
            enum sl_dnscache_result r = sl_dnscache_get(d->cache, m->key, KEY_LEN, now, &name);
            if (r == SL_DNSCACHE_HIT) {
                if (sl_event_set_str(b, ev, f->host, name.ptr, name.len) != 0)
                    d->st.unresolved_fields++;
            } else if (r == SL_DNSCACHE_NEGATIVE) {
                d->st.unresolved_fields++;
            } else {
                m->ev = i;
                m->host = f->host;
                nmiss++;
            }
        }
    }
    d->st.invalid += invalid;
    if (!nmiss && !d->head) { /* the common case with a warm cache */
        sl_mutex_unlock(&d->lock);
        return b;
    }
    /* park */
    struct pend *p = sl_calloc(1, sizeof *p);
    struct slot *slots = nmiss ? sl_calloc(nmiss, sizeof *slots) : NULL;
    if (!p || (nmiss && !slots)) {
        sl_mutex_unlock(&d->lock);
        sl_free(p);
        sl_free(slots);
        sl_error(c->name, "out of memory: %u events passed without names", n);
        return b; /* may overtake parked batches: only on OOM */
    }
    p->b = b;
    p->slots = slots;
    bool queued = false;
    for (size_t i = 0; i < nmiss; i++) {
        struct lookup *lk = lookup_for(d, w->miss[i].key, &queued);
        if (!lk || !add_waiter(lk, p)) {
            d->st.unresolved_fields++;
            continue;
        }
        lk->refs++;
        slots[p->nslots++] = (struct slot){w->miss[i].ev, w->miss[i].host, lk};
        p->missing++;
    }
    if (d->tail)
        d->tail->next = p;
    else
        d->head = p;
    d->tail = p;
    d->pending_events += n;
    d->pending_batches++;
    sl_mutex_unlock(&d->lock);
    if (queued)
        wake(d);
    emit_ready(d, x, false);
    return NULL;
}

static void dns_tick(struct sl_component *c, struct sl_xf_ctx *x, int64_t now_ns)
{
    emit_ready(c->state, x, false);
}

/* End of input: wait for every lookup (answer, timeout, failure), then send everything. */
static void dns_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    struct dns *d = c->state;
    for (;;) {
        emit_ready(d, x, true);
        sl_mutex_lock(&d->lock);
        bool empty = !d->head;
        if (!empty && d->head->missing)
            (void)sl_cond_wait_until(&d->cond, &d->lock, sl_clock_mono_ns() + 50000000);
        sl_mutex_unlock(&d->lock);
        if (empty)
            break;
    }
    sl_mutex_lock(&d->lock);
    struct dns_stats s = d->st;
    struct sl_dnscache_stats cs;
    sl_dnscache_get_stats(d->cache, &cs);
    sl_mutex_unlock(&d->lock);
    sl_info(c->name,
            "lookups=%" PRIu64 " resolved=%" PRIu64 " not_found=%" PRIu64 " timeouts=%" PRIu64
            " failures=%" PRIu64 " skipped=%" PRIu64 " cache_hits=%" PRIu64
            " cache_negative_hits=%" PRIu64 " cache_misses=%" PRIu64 " unresolved_fields=%" PRIu64
            " invalid=%" PRIu64,
            s.lookups, s.resolved, s.not_found, s.timeouts, s.failures, s.skipped, cs.hits,
            cs.negative_hits, cs.misses, s.unresolved_fields, s.invalid);
}

static size_t dns_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct dns *d = c->state;
    if (!d)
        return 0;
    sl_mutex_lock(&d->lock);
    struct dns_stats s = d->st;
    struct sl_dnscache_stats cs;
    sl_dnscache_get_stats(d->cache, &cs);
    uint64_t pev = d->pending_events, pb = d->pending_batches, infl = d->inflight;
    sl_mutex_unlock(&d->lock);
    size_t n = 0;
#define STAT(nm, hp, g, v) out[n++] = (struct sl_comp_stat){nm, hp, g, (double)(v)}
    STAT("sluice_dns_lookups_total", "Reverse lookups sent to the DNS server.", false, s.lookups);
    STAT("sluice_dns_resolved_total", "Lookups answered with a name.", false, s.resolved);
    STAT("sluice_dns_not_found_total", "Lookups answered with no name (NXDOMAIN, no PTR).", false,
         s.not_found);
    STAT("sluice_dns_timeouts_total", "Lookups that timed out after every retry.", false,
         s.timeouts);
    STAT("sluice_dns_skipped_total", "Lookups not sent while the server counted as down.", false,
         s.skipped);
    STAT("sluice_dns_failures_total", "Lookups that failed otherwise (refused, server error).",
         false, s.failures);
    STAT("sluice_dns_cache_hits_total", "Addresses named from the cache.", false, cs.hits);
    STAT("sluice_dns_cache_negative_hits_total", "Addresses known from the cache to have no name.",
         false, cs.negative_hits);
    STAT("sluice_dns_cache_misses_total", "Addresses not in the cache (or expired).", false,
         cs.misses);
    STAT("sluice_dns_unresolved_fields_total",
         "Host fields left empty: no name, timeout or failure.", false, s.unresolved_fields);
    STAT("sluice_dns_invalid_total", "IP fields that held no address.", false, s.invalid);
    STAT("sluice_dns_cache_entries", "Entries in the cache.", true, cs.entries);
    STAT("sluice_dns_pending_events", "Events waiting for lookups.", true, pev);
    STAT("sluice_dns_pending_batches", "Batches waiting for lookups.", true, pb);
    STAT("sluice_dns_inflight", "Lookups in flight.", true, infl);
#undef STAT
    return n;
}

const struct sl_component_ops sl_xf_dns_ops = {
    .type = "dns",
    .kind = SL_KIND_TRANSFORM,
    .summary = "reverse DNS: IP fields to host names (c-ares, TTL cache, order kept)",
    .options = dns_opts,
    .conf_len = sizeof(struct dns_conf),
    .init = dns_init,
    .fini = dns_fini,
    .process = dns_process,
    .tick = dns_tick,
    .tick_interval_ns = 5000000,
    .finish = dns_finish,
    .stats = dns_stats,
};
