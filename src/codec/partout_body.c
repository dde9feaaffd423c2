/*
 * partout_body.c — Partout `POST /events` and `POST /event` bodies (see partout_body.h).
 *
 * DESIGN: the JSON codec parses the body into a value tree (strings stay views into the
 * input); one recursive walk over the fixed shape agent → modules → objects → messages checks
 * types, limits and the sums, decodes base64 keys and appends the leaves to an array that
 * doubles in the arena. The JSON path of an error is rebuilt from the keys of the walk's
 * current position only when there is an error, so the good path formats nothing.
 */
#include "codec/partout_body.h"

#include "base/alloc.h"
#include "codec/json.h"
#include "core/value.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { D_AGENT = 1, D_MODULE, D_OBJECT, D_MSG };

/* The walk's position: the keys as written in the body, for error paths. */
struct walk {
    struct sl_arena *a;
    const struct sl_partout_limits *lim;
    struct sl_partout_body *out;
    struct sl_diag *d;
    bool b64_all;
    struct sl_str raw[D_MSG + 1]; /* raw[D_MODULE..D_MSG]: the current keys */
    uint32_t cap;
};

static const char *const child_key[] = {NULL, "modules", "objects", "messages", NULL};

static int fail(struct walk *w, int depth, const char *tail, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(struct walk *w, int depth, const char *tail, int err, const char *fmt, ...)
{
    char path[400];
    size_t n = (size_t)snprintf(path, sizeof(path), "$.agent");
    for (int i = D_MODULE; i <= depth && n < sizeof(path); i++)
        n += (size_t)snprintf(path + n, sizeof(path) - n, ".%s.%.*s", child_key[i - 1],
                              (int)(w->raw[i].len > 100 ? 100 : w->raw[i].len), w->raw[i].ptr);
    if (tail && n < sizeof(path))
        snprintf(path + n, sizeof(path) - n, ".%s", tail);
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sl_diag_set(w->d, err, "%s: %s", path, msg);
}

static int b64v(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int sl_partout_b64_decode(struct sl_arena *a, const char *p, size_t n, struct sl_str *out)
{
    while (n && p[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return SL_EINVAL;
    char *o = sl_arena_alloc_bytes(a, n / 4 * 3 + 3);
    if (!o)
        return SL_ENOMEM;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64v((unsigned char)p[i]);
        if (v < 0)
            return SL_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (char)((acc >> bits) & 0xff);
        }
    }
    out->ptr = o;
    out->len = k;
    return 0;
}

/* A count: a non-negative integer. */
static int get_count(struct walk *w, int depth, const struct sl_value *v, uint64_t *out)
{
    if (v->type != SL_V_INT || v->u.i < 0)
        return fail(w, depth, "count", SL_ETYPE, "expected a non-negative integer");
    *out = (uint64_t)v->u.i;
    return 0;
}

/* Decode (when base64) and bound a key. */
static int key_of(struct walk *w, int depth, struct sl_str raw, struct sl_str *out)
{
    static const struct sl_str pre = {"b64:", 4};
    bool b64 = w->b64_all && depth >= D_OBJECT;
    struct sl_str k = raw;
    if (sl_str_starts_with(raw, pre)) {
        b64 = true;
        k.ptr += 4;
        k.len -= 4;
    }
    if (b64) {
        int rc = sl_partout_b64_decode(w->a, k.ptr, k.len, &k);
        if (rc == SL_ENOMEM)
            return sl_diag_set(w->d, rc, "$: out of memory");
        if (rc)
            return fail(w, depth, NULL, SL_EINVAL, "invalid base64 key");
    }
    if (k.len == 0)
        return fail(w, depth, NULL, SL_EINVAL, "empty key");
    if (k.len > w->lim->max_key_len)
        return fail(w, depth, NULL, SL_ELIMIT, "key longer than max_key_len (%u bytes)",
                    w->lim->max_key_len);
    *out = k;
    return 0;
}

static int push_leaf(struct walk *w, int depth, const struct sl_str keys[], struct sl_str level,
                     uint64_t count)
{
    struct sl_partout_body *b = w->out;
    if (b->nleaves >= w->lim->max_leaves)
        return fail(w, depth, NULL, SL_ELIMIT, "more than max_leaves (%u) leaf counts",
                    w->lim->max_leaves);
    if (b->nleaves == w->cap) {
        uint32_t cap = w->cap ? w->cap * 2 : 16;
        struct sl_partout_leaf *n = sl_arena_alloc(w->a, cap * sizeof(*n));
        if (!n)
            return sl_diag_set(w->d, SL_ENOMEM, "$: out of memory");
        if (b->nleaves)
            memcpy(n, b->leaves, b->nleaves * sizeof(*n));
        b->leaves = n;
        w->cap = cap;
    }
    if (b->total > UINT64_MAX / 2 - count)
        return fail(w, depth, "count", SL_ERANGE, "the counts of the body add up past 2^63");
    struct sl_partout_leaf *l = &b->leaves[b->nleaves++];
    memset(l, 0, sizeof(*l));
    if (depth >= D_MODULE)
        l->module = keys[D_MODULE];
    if (depth >= D_OBJECT)
        l->object = keys[D_OBJECT];
    if (depth >= D_MSG)
        l->msg = keys[D_MSG];
    l->level = level;
    l->count = count;
    l->depth = depth;
    b->total += count;
    return 0;
}

/* Walk one node (agent, module, object or message) whose value is v. *sum gets its count. */
static int walk_node(struct walk *w, int depth, const struct sl_value *v, struct sl_str keys[],
                     uint64_t *sum)
{
    if (v->type != SL_V_MAP)
        return fail(w, depth, NULL, SL_ETYPE, "expected an object, not %s",
                    sl_vtype_name((enum sl_vtype)v->type));
    const struct sl_value *cnt = sl_value_map_get(v, sl_str_c("count"));
    const struct sl_value *kids =
        depth < D_MSG ? sl_value_map_get(v, sl_str_c(child_key[depth])) : NULL;
    uint64_t own = 0;
    int rc;
    if (cnt && (rc = get_count(w, depth, cnt, &own)))
        return rc;
    struct sl_str level = {NULL, 0};
    if (depth == D_MSG) {
        const struct sl_value *lv = sl_value_map_get(v, sl_str_c("level"));
        if (lv && lv->type == SL_V_STRING) {
            if (lv->len == 0 || lv->len > 32)
                return fail(w, depth, "level", SL_EINVAL, "expected a level of 1..32 bytes");
            level = sl_value_as_str(lv);
        } else if (lv && lv->type != SL_V_NULL) {
            return fail(w, depth, "level", SL_ETYPE, "expected a string (error|info)");
        }
    }
    if (!kids || kids->type == SL_V_NULL) {
        if (!cnt)
            return fail(w, depth, depth < D_MSG ? NULL : "count", SL_EINVAL,
                        depth < D_MSG ? "expected count or %s" : "expected count",
                        depth < D_MSG ? child_key[depth] : "");
        *sum = own;
        if (own == 0)
            return 0; /* nothing happened: no event (an alive notice) */
        return push_leaf(w, depth, keys, level, own);
    }
    if (kids->type != SL_V_MAP)
        return fail(w, depth, child_key[depth], SL_ETYPE, "expected an object, not %s",
                    sl_vtype_name((enum sl_vtype)kids->type));
    uint64_t total = 0;
    for (uint32_t i = 0; i < kids->len; i++) {
        const struct sl_kv *kv = &kids->u.map[i];
        w->raw[depth + 1] = kv->key;
        if ((rc = key_of(w, depth + 1, kv->key, &keys[depth + 1])))
            return rc;
        uint64_t s = 0;
        if ((rc = walk_node(w, depth + 1, &kv->val, keys, &s)))
            return rc;
        total += s; /* bounded: push_leaf keeps the body's total under 2^63 */
    }
    if (cnt && own != total)
        return fail(w, depth, "count", SL_EINVAL, "%llu does not equal the sum of its %s (%llu)",
                    (unsigned long long)own, child_key[depth], (unsigned long long)total);
    *sum = total;
    return 0;
}

static int opt_str(struct walk *w, const struct sl_value *agent, const char *key,
                   struct sl_str *out)
{
    const struct sl_value *v = sl_value_map_get(agent, sl_str_c(key));
    out->ptr = NULL;
    out->len = 0;
    if (!v || v->type == SL_V_NULL)
        return 0;
    if (v->type != SL_V_STRING)
        return fail(w, D_AGENT, key, SL_ETYPE, "expected a string");
    if (v->len > w->lim->max_key_len)
        return fail(w, D_AGENT, key, SL_ELIMIT, "longer than max_key_len (%u bytes)",
                    w->lim->max_key_len);
    *out = sl_value_as_str(v);
    return 0;
}

static void limits_of(const struct sl_partout_limits *in, struct sl_partout_limits *lim)
{
    *lim = in ? *in : (struct sl_partout_limits){0};
    if (!lim->max_leaves)
        lim->max_leaves = 10000;
    if (!lim->max_key_len)
        lim->max_key_len = 1024;
    if (!lim->max_depth)
        lim->max_depth = 10;
}

static int parse_json(struct sl_arena *a, const char *p, size_t n,
                      const struct sl_partout_limits *lim, struct sl_value *root, struct sl_diag *d)
{
    struct sl_json_opts jo = {.max_depth = lim->max_depth, .max_len = n + 1};
    struct sl_diag jd;
    sl_diag_init(&jd);
    int rc = sl_json_parse_value(a, p, n, &jo, root, &jd);
    if (rc)
        return sl_diag_set(d, rc, "$: invalid JSON at byte %lld: %s", (long long)jd.offset, jd.msg);
    if (root->type != SL_V_MAP)
        return sl_diag_set(d, SL_ETYPE, "$: expected an object, not %s",
                           sl_vtype_name((enum sl_vtype)root->type));
    return 0;
}

static int period_of(struct walk *w, const struct sl_value *v, const char *where)
{
    if (!v || v->type == SL_V_NULL)
        return 0;
    if (v->type != SL_V_INT || v->u.i < 0)
        return sl_diag_set(w->d, SL_ETYPE, "%s: expected a non-negative integer", where);
    w->out->period_secs = v->u.i;
    return 0;
}

static int encoding_of(struct walk *w, const struct sl_value *v, const char *where)
{
    if (!v || v->type == SL_V_NULL)
        return 0;
    if (v->type == SL_V_STRING && sl_str_eq_c(sl_value_as_str(v), "base64")) {
        w->b64_all = true;
        return 0;
    }
    if (v->type == SL_V_STRING && sl_str_eq_c(sl_value_as_str(v), "raw"))
        return 0;
    return sl_diag_set(w->d, SL_EINVAL, "%s: expected \"raw\" or \"base64\"", where);
}

int sl_partout_body_parse(struct sl_arena *a, const char *p, size_t n,
                          const struct sl_partout_limits *lim_in, struct sl_partout_body *out,
                          struct sl_diag *d)
{
    struct sl_partout_limits lim;
    limits_of(lim_in, &lim);
    memset(out, 0, sizeof(*out));
    out->period_secs = -1;
    struct sl_value root;
    int rc = parse_json(a, p, n, &lim, &root, d);
    if (rc)
        return rc;
    struct walk w = {.a = a, .lim = &lim, .out = out, .d = d};
    const struct sl_value *agent = sl_value_map_get(&root, sl_str_c("agent"));
    if (!agent)
        return sl_diag_set(d, SL_EINVAL, "$.agent: missing");
    if (agent->type != SL_V_MAP)
        return sl_diag_set(d, SL_ETYPE, "$.agent: expected an object, not %s",
                           sl_vtype_name((enum sl_vtype)agent->type));
    if ((rc = period_of(&w, sl_value_map_get(&root, sl_str_c("period_secs")), "$.period_secs")) ||
        (rc = period_of(&w, sl_value_map_get(agent, sl_str_c("period_secs")),
                        "$.agent.period_secs")) ||
        (rc = encoding_of(&w, sl_value_map_get(&root, sl_str_c("key_encoding")),
                          "$.key_encoding")) ||
        (rc = encoding_of(&w, sl_value_map_get(agent, sl_str_c("key_encoding")),
                          "$.agent.key_encoding")))
        return rc;
    const struct sl_value *uuid = sl_value_map_get(agent, sl_str_c("uuid"));
    if (!uuid)
        return sl_diag_set(d, SL_EINVAL, "$.agent.uuid: missing");
    if (uuid->type != SL_V_STRING || uuid->len == 0)
        return sl_diag_set(d, SL_ETYPE, "$.agent.uuid: expected a non-empty string");
    if (uuid->len > lim.max_key_len)
        return sl_diag_set(d, SL_ELIMIT, "$.agent.uuid: longer than max_key_len (%u bytes)",
                           lim.max_key_len);
    out->uuid = sl_value_as_str(uuid);
    if ((rc = opt_str(&w, agent, "hostname", &out->hostname)) ||
        (rc = opt_str(&w, agent, "arch", &out->arch)) ||
        (rc = opt_str(&w, agent, "platform", &out->platform)) ||
        (rc = opt_str(&w, agent, "os_release", &out->os_release)) ||
        (rc = opt_str(&w, agent, "os_family", &out->os_family)) ||
        (rc = opt_str(&w, agent, "os_dist_name", &out->os_dist_name)) ||
        (rc = opt_str(&w, agent, "os_dist_version_id", &out->os_dist_version_id)))
        return rc;
    struct sl_str keys[D_MSG + 1] = {{0}};
    uint64_t sum = 0;
    return walk_node(&w, D_AGENT, agent, keys, &sum);
}

static int legacy_str(const struct sl_value *root, const char *key, struct sl_str *out,
                      const struct sl_partout_limits *lim, bool required, struct sl_diag *d)
{
    const struct sl_value *v = sl_value_map_get(root, sl_str_c(key));
    if (!v || v->type == SL_V_NULL) {
        if (required)
            return sl_diag_set(d, SL_EINVAL, "$.%s: missing", key);
        return 0;
    }
    if (v->type != SL_V_STRING)
        return sl_diag_set(d, SL_ETYPE, "$.%s: expected a string", key);
    if (v->len > lim->max_key_len)
        return sl_diag_set(d, SL_ELIMIT, "$.%s: longer than max_key_len (%u bytes)", key,
                           lim->max_key_len);
    if (v->len)
        *out = sl_value_as_str(v);
    return 0;
}

int sl_partout_legacy_parse(struct sl_arena *a, const char *p, size_t n,
                            const struct sl_partout_limits *lim_in, struct sl_partout_body *out,
                            struct sl_diag *d)
{
    struct sl_partout_limits lim;
    limits_of(lim_in, &lim);
    memset(out, 0, sizeof(*out));
    out->period_secs = -1;
    struct sl_value root;
    int rc = parse_json(a, p, n, &lim, &root, d);
    if (rc)
        return rc;
    struct sl_partout_leaf *l = sl_arena_alloc(a, sizeof(*l));
    if (!l)
        return sl_diag_set(d, SL_ENOMEM, "$: out of memory");
    memset(l, 0, sizeof(*l));
    l->module = sl_str_c("unknown");
    l->object = sl_str_c("unknown");
    if ((rc = legacy_str(&root, "agent_uuid", &out->uuid, &lim, false, d)) ||
        (rc = legacy_str(&root, "hostname", &out->hostname, &lim, false, d)) ||
        (rc = legacy_str(&root, "module", &l->module, &lim, false, d)) ||
        (rc = legacy_str(&root, "object", &l->object, &lim, false, d)) ||
        (rc = legacy_str(&root, "msg", &l->msg, &lim, true, d)))
        return rc;
    if (!l->msg.len)
        return sl_diag_set(d, SL_EINVAL, "$.msg: expected a non-empty string");
    l->count = 1;
    l->depth = D_MSG;
    out->leaves = l;
    out->nleaves = 1;
    out->total = 1;
    return 0;
}
