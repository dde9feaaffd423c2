/*
 * kv.h — key=value text (`src=10.0.0.1 dst=10.0.0.2 msg="port scan"`), as firewalls, Zeek
 * notices and Logstash's kv filter write it. Pure; thread-safe.
 */
#ifndef SL_CODEC_KV_H
#define SL_CODEC_KV_H

#include "base/arena.h"
#include "base/err.h"
#include "base/str.h"

#include <stddef.h>

struct sl_kvparse_opts {
    const char *field_split; /* bytes that separate pairs; a run of them is one separator */
    const char *value_split; /* bytes that separate a key from its value (the first one) */
    const char *quotes;      /* bytes that may quote a value; "" for none */
};

/* Called for each pair; a nonzero return stops the parse and is returned. */
typedef int (*sl_kvparse_fn)(void *ud, struct sl_str key, struct sl_str val);

/*
 * Parse p[0..n). A token without a value separator is skipped (as Logstash does), so is a
 * pair with an empty key. A quoted value ends at the same quote not preceded by `\`; inside
 * it `\<quote>` and `\\` stand for the character (the unescaped copy goes to arena a; values
 * without escapes are views into p). Returns the number of pairs (>= 0), or SL_EPARSE for an
 * unterminated quote (d->offset: the byte where the quote opens; d->msg), SL_ENOMEM, or what
 * fn returned.
 */
int sl_kvparse(const struct sl_kvparse_opts *o, const char *p, size_t n, struct sl_arena *a,
               sl_kvparse_fn fn, void *ud, struct sl_diag *d);

#endif
