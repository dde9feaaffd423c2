/*
 * csvparse.h — one CSV record (RFC 4180) split into fields. Pure; thread-safe.
 * (The CSV writer is the csv sink's own, src/io/out_csv.c.)
 */
#ifndef SL_CODEC_CSVPARSE_H
#define SL_CODEC_CSVPARSE_H

#include "base/arena.h"
#include "base/err.h"
#include "base/str.h"

#include <stddef.h>
#include <stdint.h>

/* Called for each field (index from 0); a nonzero return stops the parse and is returned. */
typedef int (*sl_csvparse_fn)(void *ud, uint32_t index, struct sl_str field);

#define SL_CSVPARSE_MAX_FIELDS 65536u

/*
 * Split the record p[0..n) (a trailing CR and/or LF is ignored) on `delim`. A field that
 * starts with `quote` is quoted: it ends at a quote not followed by another one, a doubled
 * quote inside stands for one (the unescaped copy goes to arena a; other fields are views
 * into p), and it may hold delimiters and line breaks. An empty record is one empty field.
 * Returns the number of fields, or SL_EPARSE (an unterminated quoted field, or text after a
 * closing quote; d->offset is the byte, d->msg says which), SL_E2BIG (too many fields),
 * SL_ENOMEM, or what fn returned.
 */
int sl_csvparse(char delim, char quote, const char *p, size_t n, struct sl_arena *a,
                sl_csvparse_fn fn, void *ud, struct sl_diag *d);

#endif
