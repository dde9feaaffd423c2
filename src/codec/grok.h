/*
 * grok.h — grok patterns (Logstash's `%{NAME:field:type}` syntax) compiled into one PCRE2
 * regular expression plus the list of captures it carries.
 *
 * This module only rewrites text: it does not call PCRE2, so it stays a pure codec. The
 * caller compiles sl_grok.regex (PCRE2_UTF | PCRE2_DUPNAMES) and maps the group names back to
 * fields: every `%{NAME:field}` becomes the named group `_g<i>` where i indexes `caps`.
 * Named groups written by hand in a pattern (`(?<user>\w+)`) stay as they are; the caller
 * treats a group name that does not start with `_g` as a field name.
 *
 * Thread-safety: a library is built once and then read-only; compiling reads it.
 */
#ifndef SL_CODEC_GROK_H
#define SL_CODEC_GROK_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_GROK_MAX_DEPTH     64         /* nested %{} expansions */
#define SL_GROK_MAX_CAPTURES  1000       /* %{NAME:field} per compiled pattern */
#define SL_GROK_MAX_REGEX_LEN (1u << 20) /* expanded regex */
#define SL_GROK_MAX_DEFS      4096       /* user definitions */

struct sl_grok_lib;

struct sl_grok_capture {
    char *field; /* as written, `[a][b]` rewritten to `a.b` */
    char *type;  /* text after the second ':' ("int", "timestamp:%d/%b/%Y"), or NULL */
};

struct sl_grok {
    char *regex; /* NUL-terminated */
    size_t regex_len;
    struct sl_grok_capture *caps;
    uint32_t ncaps;
};

/* A library holding the built-in patterns. Aborts on OOM (fixed size). */
struct sl_grok_lib *sl_grok_lib_new(void);
void sl_grok_lib_free(struct sl_grok_lib *lib);
/* Add (or override) a definition. Names are [A-Za-z0-9_]+. 0, SL_EINVAL (bad name, with
 * d->msg), SL_E2BIG (too many). The strings are copied. */
int sl_grok_lib_add(struct sl_grok_lib *lib, const char *name, const char *pattern,
                    struct sl_diag *d);
/* Built-in pattern i (0..): its name and definition; false past the end. */
bool sl_grok_builtin(size_t i, const char **name, const char **pattern);

/*
 * Expand `pat` (len bytes) against lib into out (caller storage, sl_grok_fini it, also after
 * an error). Errors: SL_EPARSE (unknown pattern name, unterminated %{, bad field or type:
 * d->col is the 1-based column in pat, d->msg names the problem), SL_E2BIG (depth, size or
 * capture limits: a recursive definition ends here), SL_ENOMEM.
 */
int sl_grok_compile(const struct sl_grok_lib *lib, const char *pat, size_t len, struct sl_grok *out,
                    struct sl_diag *d);
void sl_grok_fini(struct sl_grok *g);

#endif
