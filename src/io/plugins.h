/*
 * plugins.h — the built-in component types.
 */
#ifndef SL_IO_PLUGINS_H
#define SL_IO_PLUGINS_H

#include "core/component.h"

/* NULL-terminated list of every component type compiled in. */
const struct sl_component_ops *const *sl_io_builtins(void);

#endif
