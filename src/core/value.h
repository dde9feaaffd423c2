/*
 * value.h — the value model: what a field of an event can hold.
 *
 * DESIGN: a 24-byte tagged union. Strings and bytes are views (pointer + 32-bit length) into
 * memory owned by someone else, normally the arena of the batch that carries the event, so
 * copying a value never copies its bytes. Lists and maps point to arrays in the same arena.
 * Map keys are plain strings (not symbols): nested keys of hostile input must not grow the
 * global symbol table. Objects (statistics sketches, models) are reference counted and typed
 * by an ops table. `flags` carries a subtype where the languages need one (the Java width of
 * a Stellar number, the family of an IP).
 */
#ifndef SL_CORE_VALUE_H
#define SL_CORE_VALUE_H

#include "base/buf.h"
#include "base/str.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SL_VTYPES(X)                                                                               \
    X(NULL, "null")                                                                                \
    X(BOOL, "bool")                                                                                \
    X(INT, "int")                                                                                  \
    X(DOUBLE, "double")                                                                            \
    X(STRING, "string")                                                                            \
    X(BYTES, "bytes")                                                                              \
    X(TS, "timestamp")                                                                             \
    X(IP, "ip")                                                                                    \
    X(LIST, "list")                                                                                \
    X(MAP, "map")                                                                                  \
    X(OBJECT, "object")

enum sl_vtype {
#define SL_VT_ENUM(n, s) SL_V_##n,
    SL_VTYPES(SL_VT_ENUM)
#undef SL_VT_ENUM
        SL_V__COUNT
};

/* flags for SL_V_IP */
#define SL_VF_IP4 0x01u
#define SL_VF_IP6 0x02u
/* flags for SL_V_INT / SL_V_DOUBLE: Java width (Stellar numeric promotion); 0 = default */
#define SL_VF_I32 0x10u /* Integer */
#define SL_VF_F32 0x20u /* Float */

struct sl_value;
struct sl_kv;
struct sl_object;

struct sl_object_type {
    const char *name;
    void (*free)(struct sl_object *o);
    /* Render as JSON (a summary is fine). */
    int (*to_json)(const struct sl_object *o, struct sl_buf *out);
};

struct sl_object {
    const struct sl_object_type *type;
    atomic_uint refs;
};

struct sl_value {
    uint8_t type;  /* enum sl_vtype */
    uint8_t flags; /* SL_VF_* */
    uint16_t _pad;
    uint32_t len; /* STRING/BYTES: bytes; LIST/MAP: element count */
    union {
        bool b;
        int64_t i;
        double d;
        int64_t ts_ns;  /* nanoseconds since the epoch, UTC */
        const char *s;  /* STRING/BYTES: not NUL-terminated */
        uint8_t ip[16]; /* v4 in the first 4 bytes */
        struct sl_value *list;
        struct sl_kv *map;
        struct sl_object *obj;
    } u;
};

struct sl_kv {
    struct sl_str key;
    struct sl_value val;
};

_Static_assert(sizeof(struct sl_value) == 24, "value must stay 24 bytes");

static inline struct sl_value sl_value_null(void)
{
    struct sl_value v = {.type = SL_V_NULL};
    return v;
}
static inline struct sl_value sl_value_bool(bool b)
{
    struct sl_value v = {.type = SL_V_BOOL};
    v.u.b = b;
    return v;
}
static inline struct sl_value sl_value_int(int64_t i)
{
    struct sl_value v = {.type = SL_V_INT};
    v.u.i = i;
    return v;
}
static inline struct sl_value sl_value_double(double d)
{
    struct sl_value v = {.type = SL_V_DOUBLE};
    v.u.d = d;
    return v;
}
/* The bytes are not copied: they must outlive the value (batch memory). */
static inline struct sl_value sl_value_str(const char *p, size_t n)
{
    struct sl_value v = {.type = SL_V_STRING, .len = (uint32_t)n};
    v.u.s = p;
    return v;
}
static inline struct sl_value sl_value_ts(int64_t ns)
{
    struct sl_value v = {.type = SL_V_TS};
    v.u.ts_ns = ns;
    return v;
}
static inline struct sl_str sl_value_as_str(const struct sl_value *v)
{
    return sl_str_make(v->u.s, v->len);
}

const char *sl_vtype_name(enum sl_vtype t);
/* Parse a textual IPv4/IPv6 address into an SL_V_IP value. 0 or SL_EINVAL. */
int sl_value_ip_parse(struct sl_str s, struct sl_value *out);
/* Textual form of an IP value ("10.0.0.1", "2001:db8::1"). Returns the length. */
size_t sl_value_ip_format(const struct sl_value *v, char *out, size_t out_len);
/* Deep equality (lists, maps in order, objects by identity). */
bool sl_value_equal(const struct sl_value *a, const struct sl_value *b);
/*
 * Text of a scalar for regex matching, CSV cells and templates: strings as they are, numbers
 * and booleans as JSON writes them, timestamps RFC 3339, IPs textual. Lists, maps and objects
 * render as JSON. `scratch` holds rendered text; the view points into it or into the value.
 */
struct sl_str sl_value_to_text(const struct sl_value *v, struct sl_buf *scratch);
/* Map lookup by key (linear: event maps are small). NULL when absent or v is not a map. */
const struct sl_value *sl_value_map_get(const struct sl_value *v, struct sl_str key);

/* Deep copy of v into arena a (strings, lists, maps copied; objects shared, not
 * referenced). 0 or SL_ENOMEM. */
struct sl_arena;
int sl_value_copy(struct sl_arena *a, const struct sl_value *v, struct sl_value *out);

void sl_object_ref(struct sl_object *o);
void sl_object_unref(struct sl_object *o);

#endif
