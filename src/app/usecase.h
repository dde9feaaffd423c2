/*
 * usecase.h — dataShark use cases (`.conf`, ConfigObj INI) mapped onto a sluice pipeline.
 *
 * A use case is dataShark's `.conf` file plus, in place of its PySpark `code` file, a YAML
 * file of sluice transforms (`<stem>.yaml` beside the .conf, or the file its `transforms` key
 * names). Loading one checks the .conf (type, input, [in_*], [log_filter], output, [out_*])
 * and the transforms file, and generates its part of a pipeline config: a source for the
 * input, a `filter` for [log_filter], the transforms, and a sink for the output (or the
 * dataShark debug printer). Several use cases generate one config, each with its component
 * names prefixed by its own stem (`wordcount-words`), so they run side by side in one process.
 *
 * Every line of the generated YAML remembers where it came from (.conf key, transforms file
 * node): sl_usecase_gen_map() rewrites a diagnostic about the generated text to that place,
 * so an error in a sink option still names `wordcount.conf:10:9`. docs/usecases.md describes
 * the mapping key by key. Main thread only.
 */
#ifndef SL_APP_USECASE_H
#define SL_APP_USECASE_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>

struct sl_usecase;
struct sl_usecase_gen;
struct sl_component_ops;

/* Read and check the use case at conf_path and generate its part of the pipeline. With
 * `debug`, the output is dataShark's debug print on stdout instead of [out_*]. On error, d has
 * the file:line:col (.conf or transforms file) and the return is SL_ECONFIG, SL_EPARSE (the
 * INI itself), SL_ENOENT (a file missing) or SL_ENOMEM. */
int sl_usecase_load(const char *conf_path, bool debug, struct sl_usecase **out, struct sl_diag *d);
void sl_usecase_free(struct sl_usecase *u);
const char *sl_usecase_name(const struct sl_usecase *u);    /* `name` */
const char *sl_usecase_path(const struct sl_usecase *u);    /* the .conf */
const char *sl_usecase_xf_path(const struct sl_usecase *u); /* the transforms file */
bool sl_usecase_enabled(const struct sl_usecase *u);        /* enabled = true, exactly */
bool sl_usecase_streaming(const struct sl_usecase *u);      /* type = streaming */
/* Warnings found while loading (keys dataShark has but sluice ignores), one per line; "" if
 * none. */
const char *sl_usecase_notes(const struct sl_usecase *u);

/* Only the .conf's `enabled` (dataShark's production mode reads nothing else before it
 * decides): true when the file parses and says `enabled = true`. */
bool sl_usecase_conf_enabled(const char *conf_path, struct sl_diag *d);

/* One pipeline config for n use cases (which must outlive the result). */
int sl_usecase_generate(struct sl_usecase *const *ucs, size_t n, struct sl_usecase_gen **out);
void sl_usecase_gen_free(struct sl_usecase_gen *g);
/* The generated YAML (NUL-terminated) and the name it is loaded under. */
const char *sl_usecase_gen_yaml(const struct sl_usecase_gen *g, size_t *len);
const char *sl_usecase_gen_name(const struct sl_usecase_gen *g);
/* If d points into the generated YAML, point it at the .conf or transforms file line the
 * generated line came from. */
void sl_usecase_gen_map(const struct sl_usecase_gen *g, struct sl_diag *d);

/* The `datashark_debug` sink (usecase_debug.c): dataShark's debug print; registered by
 * sl_cmd_usecase only. */
extern const struct sl_component_ops sl_usecase_debug_ops;

/* `sluice usecase run|check DIR|FILE [--debug]`. Exit status 0, 1 (runtime), 2 (config). */
int sl_cmd_usecase(int argc, char **argv);

#endif
