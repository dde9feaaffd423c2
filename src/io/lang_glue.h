/*
 * lang_glue.h — what transforms share to run Stellar over events: compiling an expression
 * from the config with a precise error, per-worker VMs, setting and removing field paths.
 */
#ifndef SL_IO_LANG_GLUE_H
#define SL_IO_LANG_GLUE_H

#include "core/component.h"
#include "core/event.h"
#include "lang/stellar.h"

/*
 * Compile `text`, written in the config at line:col (0: the option's own position, from
 * sl_component_diag_opt(c, opt)). On error: d holds the config file, the line, the column of
 * the offending character in the file when the expression sits on one line, a message naming
 * the option and the column inside the expression, and a caret hint. SL_ECONFIG.
 */
int sl_io_compile_expr(struct sl_component *c, const char *opt, uint32_t line, uint32_t col,
                       const char *text, bool predicate, struct sl_stellar_prog **out,
                       struct sl_diag *d);

/* Set the field at `path` ("a.b" builds or updates the nested map a; a field literally named
 * "a.b" is set as is). Maps are rebuilt in the batch arena. 0 or SL_ENOMEM / SL_ETYPE (an
 * intermediate value is not a map). */
int sl_io_set_path(struct sl_batch *b, struct sl_event *ev, const struct sl_path *path,
                   struct sl_value v);
/* Remove the field at `path` (a nested key: the map is rebuilt without it). Absent: no-op. */
int sl_io_remove_path(struct sl_batch *b, struct sl_event *ev, const struct sl_path *path);

/* A value an event may keep: objects (sketches, lambdas) become their JSON text in the batch
 * arena, since the VM releases them after the evaluation. */
int sl_io_keepable(struct sl_batch *b, struct sl_value *v);

#endif
