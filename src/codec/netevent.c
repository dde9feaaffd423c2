/*
 * netevent.c — network events as FlatBuffers: verifier+decoder and encoder (see netevent.h,
 * schemas/netevent.fbs, docs/netevent.md).
 *
 * DESIGN: the schema is data here (one field table per FlatBuffers table, in slot order); a
 * unit test parses schemas/netevent.fbs and checks it against these tables, so the two cannot
 * drift. Decoding is one pass that verifies each field (flatbuf.h) just before it is read and
 * collects (symbol, value) pairs on the stack; strings stay views into the input until the
 * whole buffer has verified, then the frame is copied once into the batch arena and the views
 * are moved onto the copy (so the caller may free its buffer, and a bad buffer costs the batch
 * nothing). Field symbols are interned once per process. The encoder writes front to back
 * (vtable, table, then what the table points to, patching the offsets), which the format
 * allows since uoffsets only have to point forward; it is for tools and tests, not the hot
 * path.
 */
#include "codec/netevent.h"

#include "base/alloc.h"
#include "base/log.h"
#include "codec/flatbuf.h"
#include "codec/netevent_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define F(n, k)                                                                                    \
    {                                                                                              \
#n, SL_NE_K_##k                                                                            \
    }

static const struct sl_netevent__field common_fields[] = {
    F(ts, TIME),    F(uid, STR),      F(collectorId, STR), F(origIp, STR), F(origPort, U16),
    F(respIp, STR), F(respPort, U16), F(proto, STR),       F(origH, STR),  F(respH, STR),
};
static const struct sl_netevent__field general_fields[] = {
    F(service, STR),     F(duration, F64),       F(origBytes, U64),   F(respBytes, U64),
    F(connState, STR),   F(localOrig, BOOL),     F(localResp, BOOL),  F(missedBytes, U64),
    F(history, STR),     F(origPkts, U64),       F(origIpBytes, U64), F(respPkts, U64),
    F(respIpBytes, U64), F(tunnelParents, VSTR), F(origL2Addr, STR),  F(respL2Addr, STR),
    F(ipProto, U64),
};
static const struct sl_netevent__field ftp_fields[] = {
    F(user, STR),
    F(password, STR),
    F(command, STR),
    F(arg, STR),
    F(mimeType, STR),
    F(fileSize, U64),
    F(replyCode, U64),
    F(replyMsg, STR),
    F(dataChannelPassive, BOOL),
    F(dataChannelOrigH, STR),
    F(dataChannelRespH, STR),
    F(dataChannelRespP, U16),
    F(fuid, STR),
};
static const struct sl_netevent__field http_fields[] = {
    F(transDepth, U64),
    F(method, STR),
    F(host, STR),
    F(uri, STR),
    F(referrer, STR),
    F(version, STR),
    F(userAgent, STR),
    F(origin, STR),
    F(requestBodyLen, U64),
    F(responseBodyLen, U64),
    F(statusCode, U64),
    F(statusMsg, STR),
    F(infoCode, U64),
    F(infoMsg, STR),
    F(tags, VSTR),
    F(username, STR),
    F(password, STR),
    F(proxied, VSTR),
    F(origFuids, VSTR),
    F(origFilenames, VSTR),
    F(origMimeTypes, VSTR),
    F(respFuids, VSTR),
    F(respFilenames, VSTR),
    F(respMimeTypes, VSTR),
    F(clientHeaderNames, VSTR),
    F(serverHeaderNames, VSTR),
};
static const struct sl_netevent__field ldap_fields[] = {
    F(messageId, I64),         F(version, I64),    F(opcode, STR),      F(result, STR),
    F(diagnosticMessage, STR), F(object, STR),     F(argument, STR),    F(scope, STR),
    F(derefAliases, STR),      F(baseObject, STR), F(resultCount, U64), F(filter, STR),
    F(attributes, VSTR),
};
static const struct sl_netevent__field smb_fields[] = {
    F(fuid, STR),          F(action, STR),        F(path, STR),           F(name, STR),
    F(size, U64),          F(prevName, STR),      F(timesModified, TIME), F(timesAccessed, TIME),
    F(timesCreated, TIME), F(timesChanged, TIME), F(service, STR),        F(nativeFileSystem, STR),
    F(shareType, STR),
};
static const struct sl_netevent__field smtp_fields[] = {
    F(transDepth, U64),
    F(helo, STR),
    F(mailfrom, STR),
    F(rcptto, VSTR),
    F(date, STR),
    F(from, STR),
    F(to, VSTR),
    F(cc, VSTR),
    F(replyTo, STR),
    F(msgId, STR),
    F(inReplyTo, STR),
    F(subject, STR),
    F(xOriginatingIp, STR),
    F(firstReceived, STR),
    F(secondReceived, STR),
    F(lastReply, STR),
    F(path, VSTR),
    F(userAgent, STR),
    F(tls, BOOL),
    F(fuids, VSTR),
    F(isWebmail, BOOL),
};
static const struct sl_netevent__field tds_fields[] = {
    F(command, STR), F(procedureName, STR), F(parameters, VSTR), F(headerType, STR), F(query, STR),
};
static const struct sl_netevent__field dce_rpc_fields[] = {
    F(rtt, F64),
    F(namedPipe, STR),
    F(endpoint, STR),
    F(operation, STR),
};
static const struct sl_netevent__field telnet_fields[] = {
    F(user, STR),     F(clientUser, STR), F(password, STR), F(terminalType, STR),
    F(success, BOOL), F(confused, BOOL),  F(duration, F64), F(lines, VSTR),
};
static const struct sl_netevent__field system_stats_fields[] = {
    F(peer, STR),
    F(mem, U64),
    F(pktsProc, U64),
    F(bytesRecv, U64),
    F(pktsDropped, U64),
    F(pktsLink, U64),
    F(pktLag, F64),
    F(pktsFiltered, U64),
    F(eventsProc, U64),
    F(eventsQueued, U64),
    F(activeTcpConns, U64),
    F(activeUdpConns, U64),
    F(activeIcmpConns, U64),
    F(tcpConns, U64),
    F(udpConns, U64),
    F(icmpConns, U64),
    F(timers, U64),
    F(activeTimers, U64),
    F(files, U64),
    F(activeFiles, U64),
    F(dnsRequests, U64),
    F(activeDnsRequests, U64),
    F(reassemTcpSize, U64),
    F(reassemFileSize, U64),
    F(reassemFragSize, U64),
    F(reassemUnknownSize, U64),
};
#undef F

#define T(fbs, root, arr)                                                                          \
    {                                                                                              \
        fbs, root, arr, sizeof(arr) / sizeof(arr[0])                                               \
    }
static const struct sl_netevent__table tables[SL_NETEVENT__COUNT] = {
    T("NetEvent", NULL, common_fields),
    T("GeneralData", "general", general_fields),
    T("FtpData", "ftp", ftp_fields),
    T("HttpData", "http", http_fields),
    T("LdapData", "ldap", ldap_fields),
    T("SmbData", "smb", smb_fields),
    T("SmtpData", "smtp", smtp_fields),
    T("TdsData", "tds", tds_fields),
    T("DceRpcData", "dceRpc", dce_rpc_fields),
    T("TelnetData", "telnet", telnet_fields),
    T("SystemStatsData", "systemStats", system_stats_fields),
};
#undef T

#define MAX_TABLE_FIELDS 32u
#define MAX_EVENT_FIELDS (1u + SL_NE_COMMON_COUNT + MAX_TABLE_FIELDS)
#define MAX_LIST_COUNT   65536u /* elements of one vector: bounds the arena a message costs */
#define MAX_DEPTH        2u     /* NetEvent -> type table */

static sl_sym syms[SL_NETEVENT__COUNT][MAX_TABLE_FIELDS];
static sl_sym sym_type;
static pthread_once_t syms_once = PTHREAD_ONCE_INIT;

static void intern_syms(void)
{
    for (unsigned t = 0; t < SL_NETEVENT__COUNT; t++) {
        sl_assert(tables[t].count <= MAX_TABLE_FIELDS);
        for (uint32_t i = 0; i < tables[t].count; i++)
            syms[t][i] = sl_sym_intern_c(tables[t].fields[i].name);
    }
    sym_type = sl_sym_intern_c("type");
}

static const char *const type_names[SL_NETEVENT__COUNT] = {NULL,
#define SL_NE_NAME(n) #n,
                                                           SL_NETEVENT_TYPES(SL_NE_NAME)
#undef SL_NE_NAME
};

static const uint8_t type_lens[SL_NETEVENT__COUNT] = {0,
#define SL_NE_LEN(n) sizeof(#n) - 1,
                                                      SL_NETEVENT_TYPES(SL_NE_LEN)
#undef SL_NE_LEN
};

const char *sl_netevent_type_name(enum sl_netevent_type t)
{
    if ((unsigned)t == 0 || (unsigned)t >= SL_NETEVENT__COUNT)
        return NULL;
    return type_names[t];
}

enum sl_netevent_type sl_netevent_type_of(const char *name, size_t len)
{
    for (unsigned t = 1; t < SL_NETEVENT__COUNT; t++)
        if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0)
            return (enum sl_netevent_type)t;
    return SL_NETEVENT_NONE;
}

bool sl_aggregator_id_ok(const char *id, size_t len)
{
    if (len < 1 || len > 128)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool table_has(const struct sl_netevent__table *tb, const char *name, size_t len)
{
    for (uint32_t i = 0; i < tb->count; i++)
        if (strlen(tb->fields[i].name) == len && memcmp(tb->fields[i].name, name, len) == 0)
            return true;
    return false;
}

bool sl_netevent_has_field(enum sl_netevent_type t, const char *name, size_t len)
{
    if (table_has(&tables[0], name, len))
        return true;
    return (unsigned)t > 0 && (unsigned)t < SL_NETEVENT__COUNT && table_has(&tables[t], name, len);
}

const struct sl_netevent__table *sl_netevent__table(unsigned index)
{
    return index < SL_NETEVENT__COUNT ? &tables[index] : NULL;
}

const char *sl_netevent__kind_fbs(unsigned kind)
{
    static const char *const names[] = {
#define SL_NE_KIND_NAME(n, s) s,
        SL_NE_KINDS(SL_NE_KIND_NAME)
#undef SL_NE_KIND_NAME
    };
    return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : NULL;
}

/* ---- decoding */

struct dec {
    struct sl_flatbuf fb;
    struct sl_batch *b;
    struct sl_field f[MAX_EVENT_FIELDS];
    uint32_t n;
    int64_t ts;
    bool has_ts;
    const char *field; /* the field being read, for errors */
    const char *msg;   /* our own message when not the verifier's */
    size_t msg_off;
};

static int dec_fail(struct dec *x, size_t off, const char *msg)
{
    x->msg = msg;
    x->msg_off = off;
    return -1;
}

/* Set the next field in place, member by member: building a struct sl_value on the stack and
 * copying it made every field a store-forwarding stall (byte stores read back as one 16-byte
 * load; perf showed read_fields at 63% of bench_netevent, 1.07 M events/s). */
static inline struct sl_value *next_val(struct dec *x, sl_sym sym, uint8_t type, uint32_t len)
{
    struct sl_field *f = &x->f[x->n++];
    f->sym = sym;
    f->_pad = 0;
    f->val.type = type;
    f->val.flags = 0;
    f->val._pad = 0;
    f->val.len = len;
    return &f->val;
}

static int read_fields(struct dec *x, const struct sl_flatbuf_table *t, unsigned ti)
{
    const struct sl_netevent__table *td = &tables[ti];
    const uint8_t *buf = x->fb.buf;
    for (uint32_t i = 0; i < td->count; i++) {
        const struct sl_netevent__field *fd = &td->fields[i];
        sl_sym sym = syms[ti][i];
        uint32_t p;
        x->field = fd->name;
        switch (fd->kind) {
        case SL_NE_K_BOOL:
            if (sl_flatbuf_scalar(&x->fb, t, i, 1, &p))
                return -1;
            if (p)
                next_val(x, sym, SL_V_BOOL, 0)->u.b = buf[p] != 0;
            break;
        case SL_NE_K_U16:
            if (sl_flatbuf_scalar(&x->fb, t, i, 2, &p))
                return -1;
            if (p)
                next_val(x, sym, SL_V_INT, 0)->u.i = sl_flatbuf_u16(buf + p);
            break;
        case SL_NE_K_I64:
        case SL_NE_K_U64:
        case SL_NE_K_TIME: {
            if (sl_flatbuf_scalar(&x->fb, t, i, 8, &p))
                return -1;
            if (!p)
                break;
            uint64_t u = sl_flatbuf_u64(buf + p);
            if (fd->kind == SL_NE_K_U64 && u > (uint64_t)INT64_MAX)
                return dec_fail(x, p, "value out of range (above 2^63-1)");
            next_val(x, sym, fd->kind == SL_NE_K_TIME ? SL_V_TS : SL_V_INT, 0)->u.i = (int64_t)u;
            if (ti == 0 && i == 0) {
                x->ts = (int64_t)u;
                x->has_ts = true;
            }
            break;
        }
        case SL_NE_K_F64: {
            if (sl_flatbuf_scalar(&x->fb, t, i, 8, &p))
                return -1;
            if (!p)
                break;
            uint64_t u = sl_flatbuf_u64(buf + p);
            double d;
            memcpy(&d, &u, sizeof(d));
            next_val(x, sym, SL_V_DOUBLE, 0)->u.d = d;
            break;
        }
        case SL_NE_K_STR: {
            const char *s;
            uint32_t n;
            if (sl_flatbuf_ref(&x->fb, t, i, &p))
                return -1;
            if (!p)
                break;
            if (sl_flatbuf_string(&x->fb, p, &s, &n))
                return -1;
            next_val(x, sym, SL_V_STRING, n)->u.s = s;
            break;
        }
        case SL_NE_K_VSTR: {
            uint32_t count, data;
            if (sl_flatbuf_ref(&x->fb, t, i, &p))
                return -1;
            if (!p)
                break;
            if (sl_flatbuf_vector(&x->fb, p, 4, &count, &data))
                return -1;
            if (count > MAX_LIST_COUNT)
                return dec_fail(x, p, "vector too long");
            struct sl_value *list = NULL;
            if (count) {
                list = sl_arena_alloc(&x->b->arena, count * sizeof(*list));
                if (!list)
                    return dec_fail(x, p, "out of memory");
            }
            for (uint32_t k = 0; k < count; k++) {
                uint32_t sp, n;
                const char *s;
                if (sl_flatbuf_deref(&x->fb, data + 4 * k, &sp) ||
                    sl_flatbuf_string(&x->fb, sp, &s, &n))
                    return -1;
                list[k] = sl_value_str(s, n);
            }
            next_val(x, sym, SL_V_LIST, count)->u.list = list;
            break;
        }
        default:
            return dec_fail(x, 0, "internal: unknown field kind");
        }
    }
    x->field = NULL;
    return 0;
}

/* Move string views from the verified frame onto its copy. */
static void rebase(struct sl_value *v, const uint8_t *from, const char *to)
{
    if (v->type == SL_V_STRING) {
        v->u.s = to + ((const uint8_t *)v->u.s - from);
    } else if (v->type == SL_V_LIST) {
        for (uint32_t k = 0; k < v->len; k++)
            rebase(&v->u.list[k], from, to);
    }
}

/* One frame: buf[0, len) with the root offset at `at`; errors report offsets + base. */
static int decode_frame(const uint8_t *buf, size_t len, uint32_t at, size_t base,
                        struct sl_batch *b, struct sl_diag *d)
{
    pthread_once(&syms_once, intern_syms);
    struct dec x;
    x.b = b;
    x.n = 0;
    x.has_ts = false;
    x.ts = 0;
    x.field = NULL;
    x.msg = NULL;
    x.msg_off = 0;
    if (len > SL_NETEVENT_MAX_BYTES) {
        if (d)
            d->offset = (int64_t)base;
        return sl_diag_set(d, SL_EPARSE, "FlatBuffer of %zu bytes, more than %u", len,
                           SL_NETEVENT_MAX_BYTES);
    }
    sl_flatbuf_init(&x.fb, buf, len, MAX_DEPTH);
    struct sl_flatbuf_table root, tt;
    enum sl_netevent_type type = SL_NETEVENT_NONE;
    if (sl_flatbuf_root(&x.fb, at, &root))
        goto fail;
    x.f[0].sym = sym_type;
    x.f[0]._pad = 0;
    x.n = 1;
    if (read_fields(&x, &root, 0))
        goto fail;
    for (unsigned ti = 1; ti < SL_NETEVENT__COUNT; ti++) {
        uint32_t p;
        x.field = tables[ti].root_field;
        if (sl_flatbuf_ref(&x.fb, &root, SL_NE_COMMON_COUNT + ti - 1, &p))
            goto fail;
        if (!p)
            continue;
        if (type != SL_NETEVENT_NONE) {
            dec_fail(&x, p, "more than one type table");
            goto fail;
        }
        type = (enum sl_netevent_type)ti;
        if (sl_flatbuf_table(&x.fb, p, 2, &tt) || read_fields(&x, &tt, ti))
            goto fail;
    }
    if (type == SL_NETEVENT_NONE) {
        x.field = NULL;
        dec_fail(&x, root.pos, "no type table (general, ftp, http, ...)");
        goto fail;
    }
    x.f[0].val.type = SL_V_STRING;
    x.f[0].val.flags = 0;
    x.f[0].val._pad = 0;
    x.f[0].val.len = type_lens[type];
    x.f[0].val.u.s = type_names[type];

    char *copy = sl_batch_copy(b, (const char *)buf, len);
    struct sl_field *fields = sl_arena_alloc(&b->arena, x.n * sizeof(*fields));
    if (!copy || !fields)
        return sl_diag_set(d, SL_ENOMEM, "out of memory decoding a network event");
    struct sl_event *ev = sl_batch_push(b);
    if (!ev)
        return sl_diag_set(d, SL_ENOMEM, "out of memory decoding a network event");
    for (uint32_t i = 1; i < x.n; i++)
        rebase(&x.f[i].val, buf, copy);
    memcpy(fields, x.f, x.n * sizeof(*fields));
    ev->fields = fields;
    ev->count = ev->cap = x.n;
    ev->ts_ns = x.has_ts ? x.ts : 0;
    return 0;

fail:
    if (d) {
        const char *msg = x.msg ? x.msg : x.fb.err;
        size_t off = x.msg ? x.msg_off : x.fb.err_off;
        d->offset = (int64_t)(base + off);
        if (x.field)
            sl_diag_set(d, SL_EPARSE, "bad FlatBuffer at byte %zu, field %s: %s", base + off,
                        x.field, msg ? msg : "?");
        else
            sl_diag_set(d, SL_EPARSE, "bad FlatBuffer at byte %zu: %s", base + off,
                        msg ? msg : "?");
    }
    return SL_EPARSE;
}

int sl_netevent_decode(const uint8_t *buf, size_t len, struct sl_batch *b, struct sl_diag *d)
{
    return decode_frame(buf, len, 0, 0, b, d);
}

/* True when msg is exactly a run of size-prefixed frames (each at least a root offset, a
 * vtable and a table: 12 bytes). */
static bool is_prefixed_run(const uint8_t *msg, size_t len)
{
    size_t p = 0;
    if (len < 4)
        return false;
    while (p < len) {
        if (len - p < 4)
            return false;
        uint64_t n = sl_flatbuf_u32(msg + p);
        if (n < 12 || n > len - p - 4)
            return false;
        p += 4 + (size_t)n;
    }
    return p == len;
}

int sl_netevent_decode_message(const uint8_t *msg, size_t len, struct sl_batch *b, size_t *consumed,
                               struct sl_diag *d)
{
    *consumed = 0;
    if (!is_prefixed_run(msg, len)) {
        int rc = decode_frame(msg, len, 0, 0, b, d);
        if (rc == 0)
            *consumed = len;
        return rc;
    }
    size_t p = 0;
    while (p < len) {
        size_t n = 4 + (size_t)sl_flatbuf_u32(msg + p);
        /* alignment is relative to the frame's length prefix, as FlatBuffers builds it */
        int rc = decode_frame(msg + p, n, 4, p, b, d);
        if (rc) {
            /* a plain buffer that happens to look like a run of frames */
            if (p == 0 && rc == SL_EPARSE) {
                struct sl_diag d2;
                sl_diag_init(&d2);
                if (decode_frame(msg, len, 0, 0, b, &d2) == 0) {
                    *consumed = len;
                    return 0;
                }
            }
            return rc;
        }
        p += n;
        *consumed = p;
    }
    return 0;
}

/* ---- encoding */

struct enc_entry {
    uint32_t slot;
    uint8_t kind;
    uint8_t size;
    uint32_t off; /* in the table */
    const struct sl_value *v;
    uint64_t bits;  /* scalar bits, little-endian order applied on write */
    unsigned child; /* TABLE: type index */
};

struct enc {
    struct sl_buf *out;
    size_t base; /* frame start in out */
    const struct sl_event *ev;
    struct sl_diag *d;
};

static int pad_to(struct enc *e, size_t align, size_t rem)
{
    static const char zeros[8];
    size_t at = (e->out->len - e->base) % align;
    size_t n = (rem + align - at) % align;
    return n ? sl_buf_append(e->out, zeros, n) : 0;
}

static void put_at(struct enc *e, size_t pos, uint64_t v, unsigned size)
{
    uint8_t *p = (uint8_t *)e->out->ptr + pos;
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int put_u32(struct enc *e, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return sl_buf_append(e->out, b, 4);
}

static const char *vt_name(const struct sl_value *v)
{
    return sl_vtype_name((enum sl_vtype)v->type);
}

static int enc_fail(struct enc *e, const char *field, const char *want, const struct sl_value *v)
{
    return sl_diag_set(e->d, SL_EINVAL, "field %s: expected %s, got %s", field, want, vt_name(v));
}

/* Scalar conversions; strings and lists are checked here too, written later. */
static int enc_value(struct enc *e, const char *name, struct enc_entry *x)
{
    const struct sl_value *v = x->v;
    switch (x->kind) {
    case SL_NE_K_BOOL:
        if (v->type != SL_V_BOOL)
            return enc_fail(e, name, "a bool", v);
        x->bits = v->u.b;
        return 0;
    case SL_NE_K_U16:
    case SL_NE_K_I64:
    case SL_NE_K_U64: {
        int64_t i;
        if (v->type == SL_V_INT)
            i = v->u.i;
        else if (v->type == SL_V_DOUBLE && v->u.d == floor(v->u.d) && fabs(v->u.d) < 9.2e18)
            i = (int64_t)v->u.d;
        else
            return enc_fail(e, name, "an integer", v);
        if ((x->kind == SL_NE_K_U16 && (i < 0 || i > 65535)) || (x->kind == SL_NE_K_U64 && i < 0))
            return sl_diag_set(e->d, SL_EINVAL, "field %s: %lld out of range", name, (long long)i);
        x->bits = (uint64_t)i;
        return 0;
    }
    case SL_NE_K_TIME:
        if (v->type == SL_V_TS || v->type == SL_V_INT) {
            x->bits = (uint64_t)v->u.i;
        } else if (v->type == SL_V_DOUBLE && isfinite(v->u.d) && fabs(v->u.d) < 9.2e9) {
            /* seconds, as Zeek writes them: to the microsecond (Zeek's precision) */
            double s = floor(v->u.d);
            x->bits = (uint64_t)((int64_t)s * 1000000000 + llround((v->u.d - s) * 1e6) * 1000);
        } else {
            return enc_fail(e, name, "a timestamp", v);
        }
        return 0;
    case SL_NE_K_F64: {
        double dv;
        if (v->type == SL_V_DOUBLE)
            dv = v->u.d;
        else if (v->type == SL_V_INT)
            dv = (double)v->u.i;
        else
            return enc_fail(e, name, "a number", v);
        memcpy(&x->bits, &dv, sizeof(dv));
        return 0;
    }
    case SL_NE_K_STR:
        if (v->type == SL_V_IP)
            return 0;
        if (v->type != SL_V_STRING)
            return enc_fail(e, name, "a string", v);
        if (!sl_flatbuf_utf8_valid(v->u.s, v->len))
            return sl_diag_set(e->d, SL_EINVAL, "field %s: not valid UTF-8", name);
        return 0;
    case SL_NE_K_VSTR:
        if (v->type == SL_V_STRING || v->type == SL_V_IP)
            return 0;
        if (v->type != SL_V_LIST)
            return enc_fail(e, name, "a list of strings", v);
        for (uint32_t k = 0; k < v->len; k++) {
            const struct sl_value *el = &v->u.list[k];
            if (el->type == SL_V_IP)
                continue;
            if (el->type != SL_V_STRING)
                return enc_fail(e, name, "a list of strings", el);
            if (!sl_flatbuf_utf8_valid(el->u.s, el->len))
                return sl_diag_set(e->d, SL_EINVAL, "field %s: not valid UTF-8", name);
        }
        return 0;
    default:
        return sl_diag_set(e->d, SL_EINVAL, "internal: unknown kind");
    }
}

static int write_string(struct enc *e, const struct sl_value *v, size_t ref_pos)
{
    char ip[64];
    const char *s;
    size_t n;
    if (v->type == SL_V_IP) {
        n = sl_value_ip_format(v, ip, sizeof(ip));
        s = ip;
    } else {
        s = v->u.s;
        n = v->len;
    }
    int rc = pad_to(e, 4, 0);
    if (rc)
        return rc;
    size_t pos = e->out->len;
    if ((rc = put_u32(e, (uint32_t)n)) || (rc = sl_buf_append(e->out, s, n)) ||
        (rc = sl_buf_putc(e->out, 0)))
        return rc;
    put_at(e, ref_pos, pos - ref_pos, 4);
    return 0;
}

static int write_table(struct enc *e, unsigned ti, unsigned child, size_t *table_pos);

static int write_refs(struct enc *e, struct enc_entry *x, size_t tpos)
{
    size_t ref = tpos + x->off;
    int rc;
    if (x->kind == SL_NE_K_STR)
        return write_string(e, x->v, ref);
    if (x->kind == SL_NE_K_TABLE) {
        size_t cpos;
        if ((rc = write_table(e, x->child, 0, &cpos)))
            return rc;
        put_at(e, ref, cpos - ref, 4);
        return 0;
    }
    /* VSTR */
    const struct sl_value *v = x->v;
    uint32_t count = v->type == SL_V_LIST ? v->len : 1;
    const struct sl_value *els = v->type == SL_V_LIST ? v->u.list : v;
    if ((rc = pad_to(e, 4, 0)))
        return rc;
    size_t vpos = e->out->len;
    if ((rc = put_u32(e, count)))
        return rc;
    for (uint32_t k = 0; k < count; k++)
        if ((rc = put_u32(e, 0)))
            return rc;
    put_at(e, ref, vpos - ref, 4);
    for (uint32_t k = 0; k < count; k++)
        if ((rc = write_string(e, &els[k], vpos + 4 + 4 * (size_t)k)))
            return rc;
    return 0;
}

/* Table `ti` of the event (ti 0: the root, whose type table is `child`). */
static int write_table(struct enc *e, unsigned ti, unsigned child, size_t *table_pos)
{
    const struct sl_netevent__table *td = &tables[ti];
    struct enc_entry ent[MAX_TABLE_FIELDS + 1];
    uint32_t n = 0, nslots = 0;
    struct sl_value ts_val;
    int rc;
    for (uint32_t i = 0; i < td->count; i++) {
        const struct sl_value *v = sl_event_get(e->ev, syms[ti][i]);
        if (ti == 0 && i == 0 && (!v || v->type == SL_V_NULL) && e->ev->ts_ns) {
            ts_val = sl_value_ts(e->ev->ts_ns);
            v = &ts_val;
        }
        if (!v || v->type == SL_V_NULL)
            continue;
        struct enc_entry *x = &ent[n];
        x->slot = i;
        x->kind = td->fields[i].kind;
        x->v = v;
        x->bits = 0;
        x->child = 0;
        x->size = x->kind == SL_NE_K_BOOL                               ? 1
                  : x->kind == SL_NE_K_U16                              ? 2
                  : (x->kind == SL_NE_K_STR || x->kind == SL_NE_K_VSTR) ? 4
                                                                        : 8;
        if ((rc = enc_value(e, td->fields[i].name, x)))
            return rc;
        n++;
        nslots = i + 1;
    }
    if (ti == 0) {
        struct enc_entry *x = &ent[n++];
        x->slot = SL_NE_COMMON_COUNT + child - 1;
        x->kind = SL_NE_K_TABLE;
        x->size = 4;
        x->v = NULL;
        x->child = child;
        nslots = x->slot + 1;
    }
    /* vtable */
    if ((rc = pad_to(e, 2, 0)))
        return rc;
    size_t vt = e->out->len;
    uint32_t vt_len = 4 + 2 * nslots;
    for (uint32_t i = 0; i < vt_len; i += 2)
        if ((rc = sl_buf_append(e->out, "\0\0", 2)))
            return rc;
    /* table at 4 mod 8, so that its 8-byte fields (first, after the soffset) are aligned */
    if ((rc = pad_to(e, 8, 4)))
        return rc;
    size_t tpos = e->out->len;
    uint32_t cur = 4;
    static const uint8_t sizes[] = {8, 4, 2, 1};
    for (unsigned s = 0; s < 4; s++)
        for (uint32_t k = 0; k < n; k++)
            if (ent[k].size == sizes[s]) {
                ent[k].off = cur;
                cur += sizes[s];
            }
    if ((rc = sl_buf_reserve(e->out, cur)))
        return rc;
    memset(e->out->ptr + tpos, 0, cur);
    e->out->len += cur;
    e->out->ptr[e->out->len] = 0;
    put_at(e, tpos, tpos - vt, 4);
    put_at(e, vt, vt_len, 2);
    put_at(e, vt + 2, cur, 2);
    for (uint32_t k = 0; k < n; k++) {
        put_at(e, vt + 4 + 2 * ent[k].slot, ent[k].off, 2);
        if (ent[k].size != 4)
            put_at(e, tpos + ent[k].off, ent[k].bits, ent[k].size);
    }
    for (uint32_t k = 0; k < n; k++)
        if (ent[k].size == 4 && (rc = write_refs(e, &ent[k], tpos)))
            return rc;
    *table_pos = tpos;
    return 0;
}

int sl_netevent_encode(const struct sl_event *ev, bool size_prefix, struct sl_buf *out,
                       struct sl_diag *d)
{
    pthread_once(&syms_once, intern_syms);
    const struct sl_value *tv = sl_event_get(ev, sym_type);
    if (!tv || tv->type != SL_V_STRING)
        return sl_diag_set(d, SL_EINVAL, "field type: missing or not a string");
    enum sl_netevent_type type = sl_netevent_type_of(tv->u.s, tv->len);
    if (type == SL_NETEVENT_NONE)
        return sl_diag_set(d, SL_EINVAL, "field type: unknown network-event type '%.*s'",
                           (int)(tv->len > 64 ? 64 : tv->len), tv->u.s);
    struct enc e = {.out = out, .base = out->len, .ev = ev, .d = d};
    size_t root_at = out->len + (size_prefix ? 4 : 0);
    size_t tpos;
    int rc;
    if ((size_prefix && (rc = put_u32(&e, 0))) || (rc = put_u32(&e, 0)) ||
        (rc = write_table(&e, 0, type, &tpos)) || (rc = pad_to(&e, 8, 0)))
        goto fail;
    if (out->len - e.base > SL_NETEVENT_MAX_BYTES) {
        rc = sl_diag_set(d, SL_EINVAL, "network event of %zu bytes, more than %u",
                         out->len - e.base, SL_NETEVENT_MAX_BYTES);
        goto fail;
    }
    put_at(&e, root_at, tpos - root_at, 4);
    if (size_prefix)
        put_at(&e, e.base, out->len - e.base - 4, 4);
    return 0;
fail:
    if (rc != SL_EINVAL)
        sl_diag_set(d, rc, "encoding a network event: %s", sl_strerror(rc));
    out->len = e.base;
    if (out->ptr)
        out->ptr[e.base] = 0;
    return rc;
}
