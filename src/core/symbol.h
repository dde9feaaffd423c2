/*
 * symbol.h — interned field names.
 *
 * DESIGN: one process-wide table. A symbol is a small integer (1..SL_SYM_MAX); 0 means "no
 * symbol". Names live in pages that never move, so sl_sym_name() reads without a lock.
 * Interning takes a lock only on a miss of a per-thread direct-mapped cache, so a parser that
 * sees the same keys over and over pays one hash and one compare per key. The table is capped
 * (hostile input with random keys must not eat memory): past the cap sl_sym_intern() returns 0
 * and the caller reports the record as bad.
 */
#ifndef SL_CORE_SYMBOL_H
#define SL_CORE_SYMBOL_H

#include "base/str.h"

#include <stdint.h>

#define SL_SYM_MAX (1u << 20)

typedef uint32_t sl_sym;

/* Intern a name (thread-safe). 0 when the table is full or the name is longer than 64 KiB. */
sl_sym sl_sym_intern(const char *p, size_t n);
static inline sl_sym sl_sym_intern_c(const char *s)
{
    return sl_sym_intern(s, strlen(s));
}
/* Find without inserting; 0 when unknown. */
sl_sym sl_sym_lookup(const char *p, size_t n);
/* Name of a symbol (thread-safe, lock-free). Empty view for 0 or unknown ids. */
struct sl_str sl_sym_name(sl_sym s);
uint32_t sl_sym_count(void);

#endif
