/*
 * event.c — events, batches, paths and dead-letter events (see event.h).
 */
#include "core/event.h"

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

#include <pthread.h>
#include <string.h>

#define ARENA_CHUNK (1024u * 1024u)
#define ARENA_MAX   ((size_t)256 << 20)
#define EVENTS_MAX  (1u << 20)

sl_sym SL_SYM_ERROR, SL_SYM_COMPONENT, SL_SYM_RAW, SL_SYM_WHERE, SL_SYM_LINE, SL_SYM_OFFSET,
    SL_SYM_EVENT, SL_SYM_MESSAGE, SL_SYM_TIMESTAMP;

void sl_core_init(void)
{
    if (SL_SYM_ERROR)
        return;
    SL_SYM_ERROR = sl_sym_intern_c("error");
    SL_SYM_COMPONENT = sl_sym_intern_c("component");
    SL_SYM_RAW = sl_sym_intern_c("raw");
    SL_SYM_WHERE = sl_sym_intern_c("where");
    SL_SYM_LINE = sl_sym_intern_c("line");
    SL_SYM_OFFSET = sl_sym_intern_c("offset");
    SL_SYM_EVENT = sl_sym_intern_c("event");
    SL_SYM_MESSAGE = sl_sym_intern_c("message");
    SL_SYM_TIMESTAMP = sl_sym_intern_c("timestamp");
}

/*
 * Freed batches go to a small pool and come back with their first arena chunk and their
 * events array, so a steady stream allocates nothing and touches no fresh pages per batch
 * (measured: page faults on fresh 256 KiB chunks were 3-5% of a JSON parse). Under
 * AddressSanitizer the pool is off, so use-after-free of a batch stays detectable.
 */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_MAX 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_MAX 0
#endif
#endif
#ifndef POOL_MAX
#define POOL_MAX 32
#endif

#if POOL_MAX > 0
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sl_batch *pool[POOL_MAX]; /* guarded_by: pool_lock */
static unsigned pool_count;             /* guarded_by: pool_lock */
#endif

struct sl_batch *sl_batch_new(void)
{
    struct sl_batch *b = NULL;
#if POOL_MAX > 0
    pthread_mutex_lock(&pool_lock);
    if (pool_count)
        b = pool[--pool_count];
    pthread_mutex_unlock(&pool_lock);
#endif
    if (!b) {
        b = sl_xcalloc(1, sizeof(*b));
        sl_arena_init(&b->arena, ARENA_CHUNK, ARENA_MAX);
    }
    atomic_init(&b->refs, 1);
    return b;
}

static bool pool_put(struct sl_batch *b)
{
#if POOL_MAX > 0
    if (b->cap > SL_BATCH_EVENTS * 2)
        return false;
    sl_arena_reset(&b->arena);
    b->count = 0;
    b->port = 0;
    b->flags = 0;
    b->bytes = 0;
    b->parent = NULL;
    b->adopted_count = 0;
    b->ack = NULL;
    b->origin = (struct sl_batch_origin){0};
    bool ok = false;
    pthread_mutex_lock(&pool_lock);
    if (pool_count < POOL_MAX) {
        pool[pool_count++] = b;
        ok = true;
    }
    pthread_mutex_unlock(&pool_lock);
    return ok;
#else
    (void)b;
    return false;
#endif
}

void sl_batch_ref(struct sl_batch *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void sl_batch_unref(struct sl_batch *b)
{
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (uint32_t i = 0; i < b->adopted_count; i++)
        sl_free(b->adopted[i]);
    struct sl_batch *parent = b->parent;
    struct sl_ack *ack = b->ack;
    if (!pool_put(b)) {
        sl_arena_fini(&b->arena);
        sl_free(b->events);
        sl_free(b->adopted);
        sl_free(b);
    }
    sl_ack_release(ack, true);
    sl_batch_unref(parent);
}

void sl_batch_set_ack(struct sl_batch *b, struct sl_ack *a)
{
    sl_assert(!b->ack);
    if (!a)
        return;
    sl_ack_hold(a);
    b->ack = a;
}

struct sl_event *sl_batch_push(struct sl_batch *b)
{
    if (b->count == b->cap) {
        if (b->cap >= EVENTS_MAX)
            return NULL;
        uint32_t cap = b->cap ? b->cap * 2 : SL_BATCH_EVENTS;
        struct sl_event *e = sl_realloc(b->events, (size_t)cap * sizeof(*e));
        if (!e)
            return NULL;
        b->events = e;
        b->cap = cap;
    }
    struct sl_event *ev = &b->events[b->count++];
    memset(ev, 0, sizeof(*ev));
    return ev;
}

void sl_batch_pop(struct sl_batch *b)
{
    if (b->count)
        b->count--;
}

int sl_batch_adopt(struct sl_batch *b, void *p)
{
    if (b->adopted_count == b->adopted_cap) {
        uint32_t cap = b->adopted_cap ? b->adopted_cap * 2 : 4;
        void **a = sl_realloc(b->adopted, cap * sizeof(void *));
        if (!a) {
            sl_free(p);
            return SL_ENOMEM;
        }
        b->adopted = a;
        b->adopted_cap = cap;
    }
    b->adopted[b->adopted_count++] = p;
    return 0;
}

char *sl_batch_copy(struct sl_batch *b, const char *p, size_t n)
{
    char *d = sl_arena_alloc_bytes(&b->arena, n);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

struct sl_batch *sl_batch_own(struct sl_batch *b)
{
    if (atomic_load_explicit(&b->refs, memory_order_acquire) == 1)
        return b;
    struct sl_batch *c = sl_batch_new();
    c->port = b->port;
    c->bytes = b->bytes;
    c->origin = b->origin;
    c->parent = b; /* takes over the caller's reference */
    sl_batch_set_ack(c, b->ack);
    if (b->count) {
        c->events = sl_malloc((size_t)b->count * sizeof(struct sl_event));
        if (!c->events)
            goto fail;
        c->cap = c->count = b->count;
        for (uint32_t i = 0; i < b->count; i++) {
            const struct sl_event *src = &b->events[i];
            struct sl_event *dst = &c->events[i];
            *dst = *src;
            dst->cap = src->count;
            if (src->count) {
                dst->fields = sl_arena_alloc(&c->arena, src->count * sizeof(struct sl_field));
                if (!dst->fields)
                    goto fail;
                memcpy(dst->fields, src->fields, src->count * sizeof(struct sl_field));
            }
        }
    }
    return c;
fail:
    sl_batch_unref(c);
    return NULL;
}

void sl_batch_compact(struct sl_batch *b, const bool *keep)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        if (keep[i]) {
            if (i != j)
                b->events[j] = b->events[i];
            j++;
        }
    }
    b->count = j;
}

const struct sl_value *sl_event_get(const struct sl_event *ev, sl_sym sym)
{
    for (uint32_t i = 0; i < ev->count; i++)
        if (ev->fields[i].sym == sym)
            return &ev->fields[i].val;
    return NULL;
}

int sl_event_set(struct sl_batch *b, struct sl_event *ev, sl_sym sym, struct sl_value val)
{
    for (uint32_t i = 0; i < ev->count; i++) {
        if (ev->fields[i].sym == sym) {
            ev->fields[i].val = val;
            return 0;
        }
    }
    if (ev->count == ev->cap) {
        uint32_t cap = ev->cap ? ev->cap * 2 : 8;
        struct sl_field *f = sl_arena_alloc(&b->arena, cap * sizeof(*f));
        if (!f)
            return SL_ENOMEM;
        if (ev->count)
            memcpy(f, ev->fields, ev->count * sizeof(*f));
        ev->fields = f;
        ev->cap = cap;
    }
    ev->fields[ev->count].sym = sym;
    ev->fields[ev->count]._pad = 0;
    ev->fields[ev->count].val = val;
    ev->count++;
    return 0;
}

int sl_event_set_str(struct sl_batch *b, struct sl_event *ev, sl_sym sym, const char *p, size_t n)
{
    char *d = sl_batch_copy(b, p, n);
    if (!d && n)
        return SL_ENOMEM;
    return sl_event_set(b, ev, sym, sl_value_str(d, n));
}

int sl_path_init(struct sl_path *p, const char *text)
{
    memset(p, 0, sizeof(*p));
    p->text = sl_strdup(text);
    if (!p->text)
        return SL_ENOMEM;
    size_t n = strlen(text);
    p->full = sl_sym_intern(text, n);
    const char *dot = memchr(text, '.', n);
    if (!dot)
        return p->full ? 0 : SL_ELIMIT;
    p->first = sl_sym_intern(text, (size_t)(dot - text));
    const char *s = p->text + (dot - text) + 1;
    const char *end = p->text + n;
    while (s <= end) {
        const char *d = memchr(s, '.', (size_t)(end - s));
        const char *e = d ? d : end;
        if (p->nrest == sizeof(p->rest) / sizeof(p->rest[0]))
            return SL_E2BIG;
        p->rest[p->nrest++] = sl_str_make(s, (size_t)(e - s));
        if (!d)
            break;
        s = d + 1;
    }
    return 0;
}

void sl_path_fini(struct sl_path *p)
{
    sl_free(p->text);
    p->text = NULL;
}

const struct sl_value *sl_path_get(const struct sl_path *p, const struct sl_event *ev)
{
    const struct sl_value *v = sl_event_get(ev, p->full);
    if (v || !p->nrest)
        return v;
    v = sl_event_get(ev, p->first);
    for (uint32_t i = 0; v && i < p->nrest; i++)
        v = sl_value_map_get(v, p->rest[i]);
    return v;
}

#define RAW_MAX (64u * 1024u)

int sl_error_event(struct sl_batch *errs, const char *component, const char *msg, const char *raw,
                   size_t raw_len, const char *where, int64_t line, int64_t offset)
{
    struct sl_event *ev = sl_batch_push(errs);
    if (!ev)
        return SL_ENOMEM;
    int rc = 0;
    rc |= sl_event_set_str(errs, ev, SL_SYM_ERROR, msg, strlen(msg));
    rc |= sl_event_set_str(errs, ev, SL_SYM_COMPONENT, component, strlen(component));
    if (where)
        rc |= sl_event_set_str(errs, ev, SL_SYM_WHERE, where, strlen(where));
    if (line > 0)
        rc |= sl_event_set(errs, ev, SL_SYM_LINE, sl_value_int(line));
    if (offset >= 0)
        rc |= sl_event_set(errs, ev, SL_SYM_OFFSET, sl_value_int(offset));
    if (raw) {
        size_t n = raw_len > RAW_MAX ? RAW_MAX : raw_len;
        rc |= sl_event_set_str(errs, ev, SL_SYM_RAW, raw, n);
    }
    errs->bytes += raw_len;
    if (rc) {
        sl_batch_pop(errs);
        return SL_ENOMEM;
    }
    return 0;
}

int sl_error_event_for(struct sl_batch *errs, const char *component, const char *msg,
                       const struct sl_event *src)
{
    int rc = sl_error_event(errs, component, msg, NULL, 0, NULL, 0, -1);
    if (rc)
        return rc;
    struct sl_event *ev = &errs->events[errs->count - 1];
    /* the original event as a map; strings are copied so the dead letter stands alone */
    struct sl_kv *kv = sl_arena_alloc(&errs->arena, (src->count ? src->count : 1) * sizeof(*kv));
    if (!kv)
        goto fail;
    for (uint32_t i = 0; i < src->count; i++) {
        struct sl_str name = sl_sym_name(src->fields[i].sym);
        kv[i].key = name; /* symbol names live for the process */
        if (sl_value_copy(&errs->arena, &src->fields[i].val, &kv[i].val))
            goto fail;
    }
    struct sl_value m = {.type = SL_V_MAP, .len = src->count};
    m.u.map = kv;
    if (sl_event_set(errs, ev, SL_SYM_EVENT, m))
        goto fail;
    ev->ts_ns = src->ts_ns;
    return 0;
fail:
    sl_batch_pop(errs);
    return SL_ENOMEM;
}
