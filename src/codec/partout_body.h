/*
 * partout_body.h — the body of a Partout agent's `POST /events` (and of the legacy
 * `POST /event`), parsed and checked into a flat list of leaf counts.
 *
 * The body (the seed's, docs/partout.md):
 *   {"agent": {"uuid": "...", "hostname": "...", "arch": ..., "platform": ..., "os_release": ...,
 *              "os_family": ..., "os_dist_name": ..., "os_dist_version_id": ...,
 *              "count": n,
 *              "modules": {"<module>": {"count": n,
 *                  "objects": {"<object>": {"count": n,
 *                      "messages": {"<msg>": {"level": "error"|"info", "count": n}}}}}}},
 *    "period_secs": n}
 * The tree stops at the depth of the agent's aggregation level (level 3 has no `messages`,
 * 2 no `objects`, 0 and 1 no `modules`). A leaf is the deepest node present; its `count` is
 * required. An inner node's `count` may be left out; when given it must equal the sum of its
 * children (Partout's agent sums upward), so "the counts inside an aggregate" has one meaning.
 * `period_secs` may also sit inside `agent`. Unknown keys are ignored.
 *
 * Keys: object and message keys may be base64 (the seed's `object_name_base64`). A key that
 * starts with "b64:" is base64 (standard or URL-safe alphabet, padding optional) after the
 * prefix; with `"key_encoding": "base64"` (top level or in `agent`) every object and message
 * key is base64 (a "b64:" prefix is then optional). Otherwise keys are raw. Module keys are
 * raw unless they carry the prefix. Decoded keys may be any bytes.
 *
 * Errors name the JSON path of the offending value, keys as written in the body:
 *   "$.agent.modules.fs.objects./etc/passwd.messages.changed.count: expected a non-negative
 *    integer"
 * Thread-safe (no shared state).
 */
#ifndef SL_CODEC_PARTOUT_BODY_H
#define SL_CODEC_PARTOUT_BODY_H

#include "base/arena.h"
#include "base/err.h"
#include "base/str.h"

#include <stdint.h>

struct sl_partout_limits {
    uint32_t max_leaves;  /* leaf counts per body (0: 10000) */
    uint32_t max_key_len; /* bytes of a uuid, module, object or message key, decoded (0: 1024) */
    uint32_t max_depth;   /* JSON nesting (0: 10; the full tree needs 8) */
};

struct sl_partout_leaf {
    struct sl_str module, object, msg; /* len 0 and ptr NULL above the leaf's depth */
    struct sl_str level;               /* the message's level ("error", "info"); NULL: none */
    uint64_t count;
    int depth; /* 1 agent, 2 module, 3 object, 4 message */
};

struct sl_partout_body {
    struct sl_str uuid;
    /* the agent's description; ptr NULL when absent or null */
    struct sl_str hostname, arch, platform, os_release, os_family, os_dist_name, os_dist_version_id;
    int64_t period_secs; /* -1: absent */
    uint64_t total;      /* sum of the leaf counts */
    struct sl_partout_leaf *leaves;
    uint32_t nleaves;
};

/*
 * Parse and check a `POST /events` body (p, n: not NUL-terminated). Everything out points to
 * lives in arena a or in p (which must outlive out). 0, or SL_EPARSE (not JSON), SL_ETYPE /
 * SL_EINVAL (wrong shape or value), SL_ELIMIT (a limit), SL_EDEPTH, SL_E2BIG, SL_EUTF8,
 * SL_ENOMEM; d->msg then starts with the JSON path ("$" for the whole body).
 */
int sl_partout_body_parse(struct sl_arena *a, const char *p, size_t n,
                          const struct sl_partout_limits *lim, struct sl_partout_body *out,
                          struct sl_diag *d);

/*
 * Parse a legacy `POST /event` body {hostname?, agent_uuid?, module, object, msg} into out with
 * one leaf of count 1 at depth 4 (level NULL). Missing module/object become "unknown" (as
 * Partout's agent did); msg is required. Same errors as above.
 */
int sl_partout_legacy_parse(struct sl_arena *a, const char *p, size_t n,
                            const struct sl_partout_limits *lim, struct sl_partout_body *out,
                            struct sl_diag *d);

/* Decode base64 (standard or URL-safe, padding optional) into arena a. 0, SL_EINVAL, SL_ENOMEM. */
int sl_partout_b64_decode(struct sl_arena *a, const char *p, size_t n, struct sl_str *out);

#endif
