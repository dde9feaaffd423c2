/*
 * plugins.c — the list of built-in component types.
 *
 * Each plugin file defines one `const struct sl_component_ops sl_<kind>_<type>_ops`. The
 * declarations are weak so that a build with a plugin compiled out still links; a missing
 * plugin is simply absent from the registry.
 */
#include "io/plugins.h"

#define SL_PLUGINS(X)                                                                              \
    X(sl_in_file_ops)                                                                              \
    X(sl_in_stdin_ops)                                                                             \
    X(sl_in_generator_ops)                                                                         \
    X(sl_in_tcp_ops)                                                                               \
    X(sl_in_http_ops)                                                                              \
    X(sl_in_partout_ops)                                                                           \
    X(sl_in_zmq_ops)                                                                               \
    X(sl_in_commands_ops)                                                                          \
    X(sl_in_kafka_ops)                                                                             \
    X(sl_in_amqp_ops)                                                                              \
    X(sl_in_syslog_ops)                                                                            \
    X(sl_xf_filter_ops)                                                                            \
    X(sl_xf_eval_ops)                                                                              \
    X(sl_xf_profiler_ops)                                                                          \
    X(sl_xf_dns_ops)                                                                               \
    X(sl_xf_sql_ops)                                                                               \
    X(sl_xf_parse_ops)                                                                             \
    X(sl_xf_aggregate_ops)                                                                         \
    X(sl_xf_kmeans_ops)                                                                            \
    X(sl_out_console_ops)                                                                          \
    X(sl_out_file_ops)                                                                             \
    X(sl_out_csv_ops)                                                                              \
    X(sl_out_parquet_ops)                                                                          \
    X(sl_out_receiver_ops)                                                                         \
    X(sl_out_kafka_ops)                                                                            \
    X(sl_out_amqp_ops)                                                                             \
    X(sl_out_postgres_ops)                                                                         \
    X(sl_out_sqlite_ops)                                                                           \
    X(sl_out_partout_ops)                                                                          \
    X(sl_out_syslog_ops)                                                                           \
    X(sl_out_elasticsearch_ops)                                                                    \
    X(sl_out_null_ops)

#define SL_PLUGIN_DECL(name) extern const struct sl_component_ops name __attribute__((weak));
SL_PLUGINS(SL_PLUGIN_DECL)
#undef SL_PLUGIN_DECL

const struct sl_component_ops *const *sl_io_builtins(void)
{
    static const struct sl_component_ops *list[64];
    static int done;
    if (!done) {
        int n = 0;
#define SL_PLUGIN_ADD(name)                                                                        \
    if (&name)                                                                                     \
        list[n++] = &name;
        SL_PLUGINS(SL_PLUGIN_ADD)
#undef SL_PLUGIN_ADD
        list[n] = NULL;
        done = 1;
    }
    return list;
}
