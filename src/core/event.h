/*
 * event.h — events and batches.
 *
 * An event is an event time plus a small array of (symbol, value) fields. Nested JSON stays
 * nested (map values). Events travel in batches of about a thousand (SL_BATCH_EVENTS) or
 * 1 MiB of input (SL_BATCH_BYTES). A batch owns an arena: field arrays, decoded strings and
 * copied input all live in it and are released together. A batch handed to several consumers
 * is reference counted and then read-only; a stage that changes a shared batch works on
 * sl_batch_own()'s copy.
 *
 * Threads: a batch belongs to one thread at a time (the one that popped it from a queue);
 * only the reference count is atomic.
 */
#ifndef SL_CORE_EVENT_H
#define SL_CORE_EVENT_H

#include "base/arena.h"
#include "core/ack.h"
#include "core/symbol.h"
#include "core/value.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SL_BATCH_EVENTS 1024u
#define SL_BATCH_BYTES  (1u << 20)

struct sl_field {
    sl_sym sym;
    uint32_t _pad;
    struct sl_value val;
};

struct sl_event {
    int64_t ts_ns; /* event time, ns since the epoch */
    struct sl_field *fields;
    uint32_t count;
    uint32_t cap;
};

/* Where a batch's events were read, for stages that keep state per input partition
 * (core/partstate.h): a source that reads partitioned input (kafka) sets it on each batch it
 * emits; topic 0 means none. seq numbers a partition's non-empty batches 1, 2, ... within
 * one assignment (epoch), so that a stage can apply them in the order they were read. */
struct sl_batch_origin {
    uint32_t topic; /* sl_partstate_topic_id(); 0: not from a partitioned source */
    int32_t partition;
    uint32_t epoch;
    uint32_t seq;
};

struct sl_batch {
    struct sl_arena arena;
    struct sl_event *events; /* heap array, grows */
    uint32_t count;
    uint32_t cap;
    uint32_t port;  /* output port the batch leaves from: SL_PORT(node, index) */
    uint32_t flags; /* SL_BATCH_*: control batches carry no events */
    uint64_t bytes; /* input bytes this batch represents */
    atomic_uint refs;
    struct sl_batch *parent; /* memory this batch's views point into (sl_batch_own) */
    void **adopted;          /* heap blocks freed with the batch */
    uint32_t adopted_count;
    uint32_t adopted_cap;
    struct sl_ack *ack;            /* delivery token this batch holds (core/ack.h), or NULL */
    struct sl_batch_origin origin; /* kept by sl_batch_own() */
};

/* Each component has SL_PORTS output ports: 0 main, 1 errors (`<name>.errors`), 2.. the named
 * outputs a transform declares (`<name>.triage`). */
#define SL_PORTS               4u
#define SL_PORT(node, index)   ((uint32_t)(node)*SL_PORTS + (uint32_t)(index))
#define SL_PORT_NODE(port)     ((port) / SL_PORTS)
#define SL_PORT_INDEX(port)    ((port) % SL_PORTS)
#define SL_PORT_IS_ERROR(port) (SL_PORT_INDEX(port) == 1u)
#define SL_BATCH_TICK          1u /* control: run the target transform's tick() */
#define SL_BATCH_FLUSH         2u /* control: the sink flushes now (sl_source_flush_sinks) */

/* New empty batch with one reference. Aborts on OOM (fixed size). */
struct sl_batch *sl_batch_new(void);
void sl_batch_ref(struct sl_batch *b);
/* Drop a reference; frees the batch (and its arena and parent reference) at zero. */
void sl_batch_unref(struct sl_batch *b);
/* Append an empty event (no fields, ts 0). NULL on OOM (events array capped at 1M). */
struct sl_event *sl_batch_push(struct sl_batch *b);
/* Attach a delivery token (core/ack.h): the batch takes a hold, released when it is freed.
 * A batch carries at most one token; b must have none. */
void sl_batch_set_ack(struct sl_batch *b, struct sl_ack *a);
/* Drop the last event (a parse that failed half-way). */
void sl_batch_pop(struct sl_batch *b);
/* True when the batch reached SL_BATCH_EVENTS or SL_BATCH_BYTES. */
static inline bool sl_batch_full(const struct sl_batch *b)
{
    return b->count >= SL_BATCH_EVENTS || b->bytes >= SL_BATCH_BYTES;
}
/* Free `p` (from sl_malloc) together with the batch. 0 or SL_ENOMEM (p is then freed). */
int sl_batch_adopt(struct sl_batch *b, void *p);
/* Copy bytes into the batch arena (input lines that parsed views will point into). */
char *sl_batch_copy(struct sl_batch *b, const char *p, size_t n);
/*
 * Return a batch the caller may change: `b` itself when it holds the only reference, else a
 * copy whose event and field arrays are new (values still view the original, which the copy
 * keeps a reference to). Consumes the caller's reference to b. NULL on OOM.
 */
struct sl_batch *sl_batch_own(struct sl_batch *b);
/* Keep only the events for which keep[i] is true, in order. */
void sl_batch_compact(struct sl_batch *b, const bool *keep);

/* Field lookup (linear scan, events have a few dozen fields at most). NULL when absent. */
const struct sl_value *sl_event_get(const struct sl_event *ev, sl_sym sym);
/* Set (replace or append) a field; the field array grows in the batch arena. 0 / SL_ENOMEM. */
int sl_event_set(struct sl_batch *b, struct sl_event *ev, sl_sym sym, struct sl_value val);
/* Set with a string copied into the batch arena. */
int sl_event_set_str(struct sl_batch *b, struct sl_event *ev, sl_sym sym, const char *p, size_t n);

/*
 * A field path: "a.b.c" reaches into nested maps. A name that exists literally as a field
 * (Zeek's "id.orig_h") wins over the nested reading. Compile once, use per event.
 */
struct sl_path {
    sl_sym full;  /* the whole text as one field name */
    sl_sym first; /* first segment */
    uint32_t nrest;
    struct sl_str rest[8]; /* further segments (point into `text`) */
    char *text;
};
int sl_path_init(struct sl_path *p, const char *text);
void sl_path_fini(struct sl_path *p);
const struct sl_value *sl_path_get(const struct sl_path *p, const struct sl_event *ev);

/*
 * Dead letters: append to `errs` an event that describes a bad record:
 *   error (message), component, raw (the record's bytes, truncated at 64 KiB, may be NULL),
 *   where (file path, peer address or other origin, may be NULL), line (>0 to include),
 *   offset (>=0 to include). Strings are copied into errs' arena. 0 or SL_ENOMEM.
 */
int sl_error_event(struct sl_batch *errs, const char *component, const char *msg, const char *raw,
                   size_t raw_len, const char *where, int64_t line, int64_t offset);
/* Dead letter for an event that a transform or sink rejected: the event goes as a map. */
int sl_error_event_for(struct sl_batch *errs, const char *component, const char *msg,
                       const struct sl_event *ev);

/* Well-known symbols, interned at start-up by sl_core_init(). */
extern sl_sym SL_SYM_ERROR, SL_SYM_COMPONENT, SL_SYM_RAW, SL_SYM_WHERE, SL_SYM_LINE, SL_SYM_OFFSET,
    SL_SYM_EVENT, SL_SYM_MESSAGE, SL_SYM_TIMESTAMP;
/* Once, before anything else in core is used. */
void sl_core_init(void);

#endif
