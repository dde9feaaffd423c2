/*
 * config.h — the YAML configuration: loading, `${ENV}` substitution, option parsing.
 *
 * A config names components in three groups (`sources`, `transforms`, `sinks`); each
 * transform and sink lists its `inputs`. Top-level settings: `api: {listen: "host:port"}`,
 * `workers`, `queue_batches`, `log_level`, `profile_store`, `push_gateway: {url, job, instance,
 * interval}`, `cluster: {brokers, group, node_id}`. Every scalar may use `${NAME}` or
 * `${NAME:-default}`; an unset variable without a default is an error at its line:col; `$${` is a
 * literal `${`. Errors carry file:line:col (1-based) and a one-line hint.
 */
#ifndef SL_CORE_CONFIG_H
#define SL_CORE_CONFIG_H

#include "base/err.h"
#include "core/component.h"
#include "core/sinkbuf.h"

#include <stddef.h>
#include <stdint.h>

struct sl_config_input {
    char *name; /* "comp" or "comp.errors" */
    uint32_t line, col;
};

struct sl_config_comp {
    char *name;
    enum sl_kind kind;
    char *type;
    uint32_t line, col; /* the component's key */
    uint32_t type_line, type_col;
    struct sl_config_input *inputs;
    size_t ninputs;
    struct sl_sinkbuf_conf buffer; /* sinks: `buffer:` (core/sinkbuf.h); memory by default */
    int node;                      /* private: YAML mapping node */
};

/* `push_gateway:` (api/pushgw.h). */
struct sl_config_pushgw {
    char *url;           /* NULL: no push gateway; "host:port" means http://host:port */
    char *job;           /* "sluice" */
    char *instance;      /* NULL: the host name */
    int64_t interval_ns; /* 10 s */
    uint32_t line, col;  /* the push_gateway key */
};

/* `api:` besides listen. */
struct sl_config_api {
    char *tokens;                      /* tokens file: every path but the open ones needs one */
    char *tls_cert, *tls_key, *tls_ca; /* HTTPS; tls_ca: client certificates */
    bool require_client_cert;
    bool open_metrics; /* /health and /metrics without a token (default true) */
    int64_t max_connections, max_per_ip;
    int64_t samples;    /* events kept per component for the console (0: none; api/console.h) */
    uint32_t line, col; /* the api key */
};

/* `cluster:` (docs/cluster.md): the Kafka cluster and consumer group this node shares with
 * the others running the same file. */
struct sl_config_cluster {
    char *brokers;              /* NULL: no cluster section */
    char *group;                /* consumer group prefix; "sluice" */
    char *node_id;              /* this node's name; default the host name */
    char *status_topic;         /* compacted topic of member statuses; "<group>.cluster" */
    int64_t status_interval_ns; /* how often this node publishes its status; 2 s */
    uint32_t line, col;         /* the cluster key */
};

struct sl_config {
    char *path;
    void *doc; /* private: yaml_document_t */
    struct sl_config_comp *comps;
    size_t ncomps;
    char *api_listen;         /* NULL: no API server */
    struct sl_config_api api; /* the rest of `api:` (io/httpd.h; docs/api.md "Security") */
    int64_t workers;          /* 0: default */
    int64_t queue_batches;
    char *log_level; /* NULL: default */
    /* `profile_store: URL`: the store PROFILE_GET reads and profilers without their own
     * `store:` write (the app opens it); NULL: none */
    char *profile_store;
    uint32_t profile_store_line, profile_store_col;
    struct sl_config_pushgw push_gateway;
    struct sl_config_cluster cluster;
};

int sl_config_load_file(const char *path, struct sl_config **out, struct sl_diag *d);
/* `name` is used as the file name in diagnostics. */
int sl_config_load_string(const char *text, size_t len, const char *name, struct sl_config **out,
                          struct sl_diag *d);
void sl_config_free(struct sl_config *cfg);

/* Parse component i's options into c->conf (allocated here, zeroed, defaults applied) and
 * c->opt_pos. Errors at the option's line:col. */
int sl_config_apply_options(const struct sl_config *cfg, size_t i, struct sl_component *c,
                            struct sl_diag *d);
/* Free what option parsing allocated inside conf, then conf itself. */
void sl_config_free_options(const struct sl_component_ops *ops, void *conf);
/* Parse one option value from text into conf (used for defaults and by tests). */
int sl_config_parse_option_text(const struct sl_option *o, const char *text, void *conf,
                                struct sl_diag *d);

#endif
