/*
 * component.h — what a source, transform or sink is, and the registry of component types.
 *
 * DESIGN (after Fluent Bit's plugins): a component type is a const ops struct plus a
 * declarative option table. The core parses and validates options from the config into the
 * type's conf struct (`conf_len` bytes, zeroed, defaults applied), and `sluice help <type>`
 * prints the table; the plugin never sees YAML. Each instance gets:
 *   - SOURCE: its own thread running ops->run(); it builds batches and hands them over with
 *     sl_source_emit() (waits while the pipeline is full: back-pressure) or
 *     sl_source_try_emit() (SL_EAGAIN instead of waiting: HTTP answers 503). Bad records go
 *     to sl_source_emit_errors() as dead-letter events (see sl_error_event()).
 *   - TRANSFORM: ops->process() on any worker thread, one batch at a time, run to completion.
 *     It owns the batch it is given (already made private) and returns the batch for its main
 *     output: the same one, changed; or another one (then it unrefs the input); or NULL for
 *     "nothing" (then it unrefs the input). Bad events go to sl_xf_errors(x).
 *     Instances are shared by workers: per-instance state must be read-only after init or
 *     per-worker (x->worker) or locked.
 *   - SINK: its own thread calling ops->write() per batch and ops->flush() every
 *     `flush_interval_ns` and at the end. A sink never takes ownership of the batch.
 * Every component also has an error output `<name>.errors` that others may list as an input.
 */
#ifndef SL_CORE_COMPONENT_H
#define SL_CORE_COMPONENT_H

#include "base/err.h"
#include "core/event.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_kind { SL_KIND_SOURCE, SL_KIND_TRANSFORM, SL_KIND_SINK };

enum sl_opt_type {
    SL_OPT_STRING,      /* char * (owned by the component, freed by core) */
    SL_OPT_INT,         /* int64_t; bounded by [min, max] when min < max */
    SL_OPT_BOOL,        /* bool */
    SL_OPT_DOUBLE,      /* double */
    SL_OPT_DURATION,    /* int64_t nanoseconds; "250ms", "10s", "5m", "1h", "1d" */
    SL_OPT_SIZE,        /* uint64_t bytes; "64KiB", "10MB", "1GiB" */
    SL_OPT_ENUM,        /* int: index into `choices` ("json|lines") */
    SL_OPT_STRING_LIST, /* struct sl_strlist (a YAML sequence, or one string) */
    SL_OPT_STRING_MAP,  /* struct sl_strmap (a YAML mapping of strings, order kept) */
    SL_OPT_TREE,        /* struct sl_tree_opt: any YAML value, as JSON text */
};

#define SL_OPT_REQUIRED 1u
/* Not set: taken from the top-level `cluster:` section when there is one (`brokers`; `group`
 * becomes "<cluster.group>.<component name>"). */
#define SL_OPT_FROM_CLUSTER 2u

struct sl_option {
    const char *key;
    enum sl_opt_type type;
    const char *def; /* default as text (parsed like config text); NULL: none */
    size_t offset;   /* into the conf struct */
    const char *help;
    const char *choices; /* SL_OPT_ENUM */
    int64_t min, max;    /* SL_OPT_INT */
    unsigned flags;
};

struct sl_strlist {
    char **items;
    size_t count;
};

struct sl_strmap_item {
    char *key;
    char *val;
    uint32_t line, col; /* position of the value in the config file */
};

struct sl_strmap {
    struct sl_strmap_item *items;
    size_t count;
};

/*
 * A YAML subtree as JSON text (SL_OPT_TREE), for structures a plugin parses itself (inline
 * Metron profiles). Every scalar starts a line of its own in `json`, and lines[i] / cols[i]
 * give the YAML position of JSON line i + 1, so an error found in the JSON maps back to the
 * config (sl_tree_opt_pos). Plain YAML scalars that read as JSON numbers, true, false or
 * null stay literals; everything else becomes a JSON string.
 */
struct sl_tree_opt {
    char *json; /* NULL when the option is not set */
    size_t len;
    uint32_t *lines, *cols;
    uint32_t nlines;
};
/* Map a line:col of t->json back to the config file's line:col. */
void sl_tree_opt_pos(const struct sl_tree_opt *t, uint32_t *line, uint32_t *col);

/* Where an option's value was written (for errors raised by init). */
struct sl_opt_pos {
    uint32_t line, col;
    bool set; /* present in the config (not a default) */
};

struct sl_component;
struct sl_pipeline;

/* A metric of a component type's own (profiler entities, late events), for /metrics. */
struct sl_comp_stat {
    const char *name; /* "sluice_profiler_entities" */
    const char *help;
    bool gauge; /* else a counter */
    double value;
};
#define SL_COMP_STATS_MAX 16

struct sl_xf_ctx {
    struct sl_batch *errors; /* dead letters of this call; created lazily by sl_xf_errors() */
    struct sl_ack *ack;      /* delivery token of the batch being processed (core/ack.h):
                              * batches emitted during process() take a hold on it */
    uint32_t worker;         /* 0..workers-1 */
    struct sl_component *comp;
    struct sl_pipeline *pipe;
};
/* The error batch of this call (created on first use). NULL on OOM. */
struct sl_batch *sl_xf_errors(struct sl_xf_ctx *x);
/* Send b on output `port` of the transform now (0: main; 2 + i: ops->outputs[i]), from
 * process(), tick() or finish(): downstream components run before this returns. Consumes b.
 * For outputs that can grow without bound (a flush of every entity), emit full batches as
 * they fill. */
void sl_xf_emit(struct sl_xf_ctx *x, unsigned port, struct sl_batch *b);

struct sl_component_ops {
    const char *type; /* "file", "filter", "csv" */
    enum sl_kind kind;
    const char *summary;             /* one line for `sluice help` */
    const struct sl_option *options; /* terminated by an entry with key == NULL */
    size_t conf_len;
    /* Check options and prepare (open files, compile regexes). Errors: set d (the core adds
     * file:line:col of the component, or of an option via sl_component_diag_opt()). */
    int (*init)(struct sl_component *c, struct sl_diag *d);
    void (*fini)(struct sl_component *c);
    /* SOURCE: runs on the source's own thread until input ends (finite sources) or
     * sl_source_stopping(). Return 0, or a negative code for a fatal error (logged). */
    int (*run)(struct sl_component *c);
    /* TRANSFORM */
    struct sl_batch *(*process)(struct sl_component *c, struct sl_batch *b, struct sl_xf_ctx *x);
    /* Optional: named outputs besides main and errors (NULL-terminated, at most
     * SL_PORTS - 2), read as `<name>.<output>`. */
    const char *const *outputs;
    /* Optional: called every tick_interval_ns on some worker (concurrently with process()
     * on others), to close periods or expire state; emits with sl_xf_emit(). */
    void (*tick)(struct sl_component *c, struct sl_xf_ctx *x, int64_t now_ns);
    int64_t tick_interval_ns; /* 0: 1 s */
    /* Optional: called once when all input has been processed (end of input, shutdown), after
     * every upstream transform finished, before the sinks flush: emit what is held.
     * SINK (x is NULL): on the sink's thread after its last write, before its last flush:
     * close what is open (files), so the run's final counts are known before the pipeline is
     * freed (the push gateway's final push reads them). */
    void (*finish)(struct sl_component *c, struct sl_xf_ctx *x);
    bool output_optional; /* the main output may go unused (state kept in a store) */
    /* Optional: fill up to SL_COMP_STATS_MAX metrics of the component's own; any thread. */
    size_t (*stats)(struct sl_component *c, struct sl_comp_stat *out);
    /* SINK: write one batch (do not keep it). A negative return counts the batch's events as
     * errors. */
    int (*write)(struct sl_component *c, struct sl_batch *b);
    int (*flush)(struct sl_component *c);
    int64_t flush_interval_ns; /* 0: 1 s */
    /* SINK: takes no event inputs (config `inputs` must be absent); it is fed by another
     * component through a side channel (the `receiver` sink gets the finished files of a
     * `parquet` sink through its hook). The pipeline inits such a sink after, closes its
     * thread after, and finis it after every other component, so the components it reads
     * from exist when it starts and have handed over their last output when it ends. */
    bool no_inputs;
    /* no_inputs sinks, optional: what feeds it, for `sluice check` ("files of parquet") */
    void (*fed_by)(const struct sl_component *c, char *out, size_t n);
};

struct sl_comp_metrics {
    atomic_uint_fast64_t events_in;
    atomic_uint_fast64_t events_out;
    atomic_uint_fast64_t errors;  /* bad records (sent to .errors) */
    atomic_uint_fast64_t dropped; /* filtered out or otherwise not forwarded, by design */
    atomic_uint_fast64_t bytes_in;
    atomic_uint_fast64_t bytes_out;
    /* sources: the size of the whole input when known in advance (files read once), so
     * `run --once` can show progress; 0 when unknown */
    atomic_uint_fast64_t bytes_total;
};

struct sl_component {
    const struct sl_component_ops *ops;
    char *name;
    void *conf;                 /* the options struct (ops->conf_len bytes) */
    void *state;                /* the component's own */
    struct sl_opt_pos *opt_pos; /* one per option of ops->options */
    uint32_t id;                /* node index in the pipeline */
    uint32_t line, col;         /* where the component is declared */
    struct sl_pipeline *pipe;
    struct sl_comp_metrics m;
};

/* ---- registry */
/* Install the list of component types (NULL-terminated, static). Once, at start-up; the app
 * passes sl_io_builtins(). */
void sl_registry_set(const struct sl_component_ops *const *list);
/* All built-in component types (NULL-terminated). */
const struct sl_component_ops *const *sl_registry_all(void);
const struct sl_component_ops *sl_registry_find(const char *type, enum sl_kind kind);
/* Any kind. */
const struct sl_component_ops *sl_registry_find_any(const char *type);
const char *sl_kind_name(enum sl_kind k);
/* Write `sluice help <type>` text. */
void sl_registry_help(const struct sl_component_ops *ops, struct sl_buf *out);

/* Fill d with file:line:col of option `key` of c (or of the component when unset). */
void sl_component_diag_opt(const struct sl_component *c, const char *key, struct sl_diag *d);
/* Was option `key` given in the config (not left to its default)? */
bool sl_component_opt_set(const struct sl_component *c, const char *key);

/* ---- for sources (source thread only) */
/* Hand a batch to the pipeline; waits while the pipeline is full. Consumes the reference.
 * Counts events_out / bytes_in. 0, or SL_ECLOSED when the pipeline is gone (batch freed). */
int sl_source_emit(struct sl_component *c, struct sl_batch *b);
/* Like sl_source_emit but SL_EAGAIN (reference kept by the caller) when full. Any thread. */
int sl_source_try_emit(struct sl_component *c, struct sl_batch *b);
/* Hand over dead letters (events made with sl_error_event); counts them as errors. */
int sl_source_emit_errors(struct sl_component *c, struct sl_batch *errs);
bool sl_source_stopping(const struct sl_component *c);

/* Ask every sink to flush now (a control message through the sink queues, behind what is
 * queued): a source that waits for acks before it lets go of input (a Kafka rebalance)
 * calls this so sinks that ack at flush do not keep it waiting a whole flush interval.
 * Any thread; never blocks (a full sink queue is busy anyway and is skipped). */
void sl_source_flush_sinks(struct sl_component *c);

/* ---- for sinks (the sink's thread, from write() or flush()) */
/* A sink that makes a batch durable after write() returns (a delivery report, a file
 * closed later, an fsync at flush) takes a hold on the batch's delivery token here and
 * releases it with sl_ack_release(hold, ok) once durable (or failed). NULL when the batch
 * carries no token (then there is nothing to release). Sinks that are durable when write()
 * returns do nothing. */
struct sl_ack *sl_sink_hold(struct sl_batch *b);
/* Dead letters of a sink (events it could not write: a Parquet schema mismatch), made with
 * sl_error_event_for(): delivered to the sinks that list `<name>.errors` (only sinks may),
 * counted as the sink's errors; logged when nothing reads them. Consumes errs. 0 or
 * SL_ECLOSED. */
int sl_sink_emit_errors(struct sl_component *c, struct sl_batch *errs);
/* fd readable once stopping (for a source's own poll/epoll loop). Shared by all sources:
 * never read from it, only wait for readability. */
int sl_source_stop_fd(const struct sl_component *c);
/* Ask the whole pipeline to stop, as SIGTERM does (sl_pipeline_stop): every source sees
 * sl_source_stopping(), the queues drain, the sinks flush, and `sluice run` exits 0 once
 * sl_pipeline_wait() returns. For sources that take a stop command from the outside (the
 * zmq source's shutdown socket). Any thread; returns at once. */
void sl_source_request_stop(struct sl_component *c);
/* True in `--once` mode: read finite input to its end, do not tail or wait for more. */
bool sl_source_once(const struct sl_component *c);

#endif
