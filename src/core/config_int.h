/*
 * config_int.h — what config.c shares with the other parts of configuration loading
 * (config_cluster.c). Private to src/core.
 */
#ifndef SL_CORE_CONFIG_INT_H
#define SL_CORE_CONFIG_INT_H

#include "core/config.h"

#include <yaml.h>

yaml_node_t *sl_cfg_node(const struct sl_config *cfg, int id);
/* A scalar's text, NULL for other nodes. */
const char *sl_cfg_scalar(const yaml_node_t *n);
/* Point d at n's position in the file. */
void sl_cfg_diag_at(struct sl_diag *d, const struct sl_config *cfg, const yaml_node_t *n);
/* n's text with ${VAR} expanded (heap, the caller frees). */
int sl_cfg_expand_env(const struct sl_config *cfg, const yaml_node_t *n, char **out,
                      struct sl_diag *d);
bool sl_cfg_valid_name(const char *s);

/* config_cluster.c */
int sl_cfg_parse_cluster(struct sl_config *cfg, yaml_node_t *k, yaml_node_t *v, struct sl_diag *d);
void sl_cfg_free_cluster(struct sl_config_cluster *cl);
/* Turn each `repartition` transform into a kafka sink and a kafka source (after every group
 * is parsed). */
int sl_cfg_expand_repartition(struct sl_config *cfg, struct sl_diag *d);

#endif
