/*
 * in_kafka.c — the `kafka` source: a consumer-group member that turns records into events
 * and commits their offsets only once every sink made them durable.
 *
 * Records: `format: json` parses each line of a record's value as one JSON object (a record
 * usually holds one); `lines` makes each line a `message` string; `raw` makes the whole value
 * one `message`. A record that does not parse becomes a dead letter (`<name>.errors`) whose
 * `where` is "topic[partition]@offset". Event time is the record's timestamp (else arrival).
 * With `metadata: true` each event also gets @kafka.topic, @kafka.partition, @kafka.offset,
 * @kafka.key (string, absent when the record has none), @kafka.timestamp and @kafka.headers
 * (a map of strings, absent when there are none).
 *
 * DESIGN. Delivery (core/ack.h): events are batched per partition, and each batch emitted is
 * a `struct rec` holding its offset range and a delivery token. The partition keeps its recs
 * in offset order; when the token at the head is done the partition's committable offset
 * moves past it. Commits go out (asynchronously) every `commit_interval`, synchronously when
 * partitions are let go. A failed token (a sink could not write) makes the partition seek back
 * to the rec's first offset and read again, `max_retries` times; then the range is skipped
 * with an error in the log (the sink counted and dead-lettered the events it rejected).
 * `max_inflight` bounds the batches emitted and not yet acknowledged: it bounds what a crash
 * re-delivers (each uncommitted batch at most once more) and the memory in flight.
 *
 * Rebalance: when partitions are revoked, their partial batches are emitted, the sinks are
 * asked to flush, and the source waits (at most `drain_timeout`) until the sinks acknowledged
 * every batch of those partitions, commits, and only then lets them go; what did not finish
 * in time is re-read by the next owner (at-least-once). Eager and cooperative assignment
 * protocols are both followed. Shutdown does the same for every partition.
 *
 * Partition-scoped state (core/partstate.h): when a stage downstream keeps state per input
 * partition (the profiler with a changelog), every batch carries its origin (topic id,
 * partition, assignment epoch, sequence number) and every event @kafka.offset. Before a newly
 * assigned partition is read the stages restore their state and say which offset they need;
 * reading starts at the lowest of that and the committed offset. After the drain of a revoked
 * partition (and on shutdown) the stages snapshot and drop it.
 *
 * Threads: every librdkafka call is made on the source thread (the rebalance callback runs
 * inside rd_kafka_consume_batch_queue there). Tokens are released on worker and sink threads;
 * their notify function only writes an eventfd that the source's poll() wakes on, next to the
 * consumer queue's own wake-up pipe and the pipeline's stop fd.
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/evbin.h"
#include "codec/json.h"
#include "core/component.h"
#include "core/partstate.h"
#include "core/pipeline.h"
#include "io/kafka_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { FMT_JSON, FMT_LINES, FMT_RAW, FMT_EVBIN };

struct kin_conf {
    char *brokers;
    struct sl_strlist topics;
    char *group;
    int offset_reset;
    int format;
    bool metadata;
    struct sl_strmap librdkafka;
    int64_t batch_events;
    int64_t linger_ns;
    int64_t max_inflight;
    int64_t commit_interval_ns;
    int64_t drain_timeout_ns;
    int64_t max_retries;
    char *message_field;
};

struct part;

/* One emitted batch: its offsets and its delivery token. It counts against max_inflight
 * until the commit past it is confirmed by the coordinator, so what a crash re-delivers is
 * at most max_inflight batches. */
struct rec {
    struct sl_ack ack;
    struct part *part; /* NULL once the partition let it go (it is then only freed) */
    int64_t first, last;
    struct rec *next;                /* the partition's FIFO */
    struct rec *all_next, *all_prev; /* every rec not freed */
};

struct tcount {
    char *topic;
    int32_t count;  /* 0: never learned */
    uint32_t round; /* the assignment that asked last */
};

struct part {
    char *topic;
    int32_t partition;
    struct rec *head, *tail;   /* emitted, not yet acknowledged, in offset order */
    struct rec *dhead, *dtail; /* acknowledged, waiting for their commit to be confirmed */
    int64_t next_commit;       /* offset to commit (last acknowledged + 1); -1: nothing yet */
    int64_t committed;         /* last offset sent in a commit */
    struct sl_batch *b, *errs;
    int64_t b_first, b_last;
    bool b_any;
    int64_t b_started_ns;
    int64_t retry_first; /* offset of the rec that failed last, and how often */
    uint32_t retries;
    bool eof;
    uint32_t topic_id, epoch, seq; /* batch origins (partition-scoped state) */
    struct part *next;
};

struct kin {
    struct sl_component *c;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    rd_kafka_queue_t *cq; /* results of asynchronous commits (served without consuming) */
    int io_pipe[2];       /* librdkafka writes here when the consumer queue gets something */
    int ack_fd;           /* eventfd: a token finished */
    struct part *parts;
    struct rec *all;
    uint32_t inflight; /* recs not freed: emitted and not yet committed */
    uint32_t building; /* partitions with a batch being built (a rec to be) */
    /* the partition of the last record (records come in runs of one partition) */
    const rd_kafka_topic_t *last_rkt;
    int32_t last_partition;
    struct part *last_part;
    uint64_t records; /* taken so far, and when the first and the last were */
    int64_t first_ns, last_ns;
    /* records taken from librdkafka that wait for room under max_inflight (in order) */
    rd_kafka_message_t *held[1024];
    size_t nheld, held_pos;
    int64_t last_commit_ns;
    bool assigned_once;
    /* a commit came back "rebalance in progress" and the rebalance has not reached this
     * member yet: max_inflight must not stop the reading that serves it (see kin_run) */
    bool rebalancing;
    bool partstate;     /* a stage keeps state per partition: origins, @kafka.offset */
    char strategy[128]; /* partition.assignment.strategy */
    bool range;         /* ... is range first: partition p of every topic goes to one member */
    /* the partition counts learned at assignments, the last known one kept for an assignment
     * that cannot fetch it: a count that drops to 0 would move the sql transform's tasks to
     * other changelog keys (state rebuilt from the start of the partitions, results emitted
     * again) and separate the topics of a join */
    struct tcount *counts;
    size_t ncounts;
    uint32_t round; /* assignments that learned counts */
    bool closing;   /* in rd_kafka_consumer_close() */
    sl_sym s_msg, s_topic, s_part, s_off, s_key, s_ts, s_hdr;
    struct sl_log_limit lim;
    char group[256];
};

#define READ_MAX 1024

static const struct sl_option kin_opts[] = {
    {"brokers", SL_OPT_STRING, NULL, offsetof(struct kin_conf, brokers),
     "bootstrap servers, \"host:port,host:port\" (default: cluster.brokers)", NULL, 0, 0,
     SL_OPT_REQUIRED | SL_OPT_FROM_CLUSTER},
    {"topics", SL_OPT_STRING_LIST, NULL, offsetof(struct kin_conf, topics),
     "topics to read; a name starting with ^ is a regular expression", NULL, 0, 0, SL_OPT_REQUIRED},
    {"group", SL_OPT_STRING, NULL, offsetof(struct kin_conf, group),
     "consumer group (default: <cluster.group>.<source name>, without a cluster section "
     "sluice-<config file name>.<source name>)",
     NULL, 0, 0, SL_OPT_FROM_CLUSTER},
    {"offset_reset", SL_OPT_ENUM, "earliest", offsetof(struct kin_conf, offset_reset),
     "where a partition without a committed offset starts", "earliest|latest", 0, 0, 0},
    {"format", SL_OPT_ENUM, "json", offsetof(struct kin_conf, format),
     "json: each line of a record is a JSON object; lines: each line is a `message`; raw: the "
     "whole record is a `message`; evbin: sluice's binary events (the kafka sink's `format: "
     "evbin`, a repartition topic)",
     "json|lines|raw|evbin", 0, 0, 0},
    {"metadata", SL_OPT_BOOL, "false", offsetof(struct kin_conf, metadata),
     "add @kafka.topic, @kafka.partition, @kafka.offset, @kafka.key, @kafka.timestamp and "
     "@kafka.headers to each event",
     NULL, 0, 0, 0},
    {"librdkafka", SL_OPT_STRING_MAP, NULL, offsetof(struct kin_conf, librdkafka),
     "librdkafka properties passed through (security.protocol, sasl.*, ssl.*, ...)", NULL, 0, 0, 0},
    {"batch_events", SL_OPT_INT, "1024", offsetof(struct kin_conf, batch_events),
     "events per batch at most (a batch holds one partition's records)", NULL, 1, SL_BATCH_EVENTS,
     0},
    {"linger", SL_OPT_DURATION, "50ms", offsetof(struct kin_conf, linger_ns),
     "emit a partial batch after this long", NULL, 0, 0, 0},
    {"max_inflight", SL_OPT_INT, "32", offsetof(struct kin_conf, max_inflight),
     "batches emitted and not yet committed (acknowledged by the sinks, then the commit "
     "confirmed); reading waits beyond, so a crash re-delivers at most this many batches",
     NULL, 1, 100000, 0},
    {"commit_interval", SL_OPT_DURATION, "500ms", offsetof(struct kin_conf, commit_interval_ns),
     "how often acknowledged offsets are committed", NULL, 0, 0, 0},
    {"drain_timeout", SL_OPT_DURATION, "10s", offsetof(struct kin_conf, drain_timeout_ns),
     "on a rebalance or shutdown, how long to wait for the sinks to acknowledge what is in "
     "flight before letting partitions go (the rest is read again by their next owner)",
     NULL, 0, 0, 0},
    {"max_retries", SL_OPT_INT, "3", offsetof(struct kin_conf, max_retries),
     "a batch a sink failed to write is read again this many times, then skipped (logged)", NULL, 0,
     1000, 0},
    {"message_field", SL_OPT_STRING, "message", offsetof(struct kin_conf, message_field),
     "field that holds the text (format: lines, raw)", NULL, 0, 0, 0},
    {0},
};

/* ---------------------------------------------------------------- recs and partitions */

static void ack_notify(void *arg)
{
    struct kin *s = arg;
    uint64_t one = 1;
    ssize_t w = write(s->ack_fd, &one, sizeof one);
    (void)w;
}

static void rec_free(struct kin *s, struct rec *r)
{
    if (r->all_prev)
        r->all_prev->all_next = r->all_next;
    else
        s->all = r->all_next;
    if (r->all_next)
        r->all_next->all_prev = r->all_prev;
    sl_free(r);
}

static struct part *part_find(struct kin *s, const char *topic, int32_t partition)
{
    for (struct part *p = s->parts; p; p = p->next)
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return p;
    return NULL;
}

/* The partition of record m (NULL: not assigned). */
static struct part *part_of(struct kin *s, const rd_kafka_message_t *m)
{
    if (m->rkt != s->last_rkt || m->partition != s->last_partition) {
        s->last_part = part_find(s, rd_kafka_topic_name(m->rkt), m->partition);
        s->last_rkt = m->rkt;
        s->last_partition = m->partition;
    }
    return s->last_part;
}

static struct part *part_add(struct kin *s, const char *topic, int32_t partition)
{
    struct part *p = part_find(s, topic, partition);
    if (p)
        return p;
    p = sl_xcalloc(1, sizeof *p);
    p->topic = sl_xstrdup(topic);
    p->partition = partition;
    p->next_commit = -1;
    p->committed = -1;
    p->retry_first = -1;
    p->next = s->parts;
    s->parts = p;
    s->last_rkt = NULL; /* part_of() looks again */
    return p;
}

/* Forget what is being built (it will be read again). */
static void part_drop_building(struct kin *s, struct part *p)
{
    if (p->b_any)
        s->building--;
    sl_batch_unref(p->b);
    sl_batch_unref(p->errs);
    p->b = p->errs = NULL;
    p->b_any = false;
}

/* Let go of a partition: its recs in flight are only freed when done, never committed. */
static void part_remove(struct kin *s, struct part *p)
{
    for (struct rec *r = p->head; r; r = r->next)
        r->part = NULL;
    for (struct rec *r = p->dhead; r; r = r->next)
        r->part = NULL;
    part_drop_building(s, p);
    struct part **pp = &s->parts;
    while (*pp != p)
        pp = &(*pp)->next;
    *pp = p->next;
    s->last_rkt = NULL;
    sl_free(p->topic);
    sl_free(p);
}

/* Emit the partition's batch being built (and its dead letters) as one rec. */
static int part_emit(struct kin *s, struct part *p)
{
    if (!p->b_any)
        return 0;
    struct rec *r = sl_xcalloc(1, sizeof *r);
    sl_ack_init(&r->ack, ack_notify, s);
    r->part = p;
    r->first = p->b_first;
    r->last = p->b_last;
    if (p->tail)
        p->tail->next = r;
    else
        p->head = r;
    p->tail = r;
    r->all_next = s->all;
    if (s->all)
        s->all->all_prev = r;
    s->all = r;
    s->inflight++;
    struct sl_batch *b = p->b, *errs = p->errs;
    p->b = p->errs = NULL;
    p->b_any = false;
    s->building--;
    int rc = 0;
    if (errs) {
        sl_batch_set_ack(errs, &r->ack);
        sl_source_emit_errors(s->c, errs);
    }
    if (b) {
        if (b->count && p->topic_id)
            b->origin = (struct sl_batch_origin){p->topic_id, p->partition, p->epoch, ++p->seq};
        sl_batch_set_ack(b, &r->ack);
        rc = sl_source_emit(s->c, b);
    }
    sl_ack_release(&r->ack, true);
    return rc;
}

static int emit_all(struct kin *s, bool only_lingering)
{
    int64_t now = sl_clock_mono_ns();
    const struct kin_conf *cf = s->c->conf;
    for (struct part *p = s->parts; p; p = p->next) {
        if (!p->b_any || (only_lingering && now - p->b_started_ns < cf->linger_ns))
            continue;
        int rc = part_emit(s, p);
        if (rc)
            return rc;
    }
    return 0;
}

/* Forget the records of p that wait in s->held (p is read again from an earlier offset). */
static void drop_held(struct kin *s, struct part *p)
{
    for (size_t i = s->held_pos; i < s->nheld; i++) {
        rd_kafka_message_t *m = s->held[i];
        if (m && m->partition == p->partition && !strcmp(rd_kafka_topic_name(m->rkt), p->topic)) {
            rd_kafka_message_destroy(m);
            s->held[i] = NULL;
        }
    }
}

static void seek_back(struct kin *s, struct part *p, int64_t offset)
{
    p->eof = false;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(s->rk, l, 5000);
    if (e) {
        sl_error(s->c->name, "%s[%d]: seek to %lld failed: %s", p->topic, (int)p->partition,
                 (long long)offset, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/*
 * Move each partition's commit point past the recs done at its head; free done recs that
 * were let go. may_seek: a failed rec makes its partition read again (not while letting go).
 */
static void reap(struct kin *s, bool may_seek)
{
    uint64_t v;
    ssize_t rd = read(s->ack_fd, &v, sizeof v);
    (void)rd;
    const struct kin_conf *cf = s->c->conf;
    for (struct part *p = s->parts; p; p = p->next) {
        struct rec *r;
        while ((r = p->head) && sl_ack_done(&r->ack)) {
            if (sl_ack_failed(&r->ack)) {
                if (!may_seek)
                    break; /* not committed: the next owner reads it again */
                p->retries = p->retry_first == r->first ? p->retries + 1 : 1;
                p->retry_first = r->first;
                if (p->retries <= (uint32_t)cf->max_retries) {
                    sl_log_ratelimited(&s->lim, 5, SL_LOG_WARN, s->c->name,
                                       "%s[%d]: a sink failed to write offsets %lld..%lld; "
                                       "reading them again (%u of %lld)",
                                       p->topic, (int)p->partition, (long long)r->first,
                                       (long long)r->last, p->retries, (long long)cf->max_retries);
                    for (struct rec *x = p->head; x; x = x->next)
                        x->part = NULL;
                    p->head = p->tail = NULL;
                    part_drop_building(s, p);
                    drop_held(s, p);
                    seek_back(s, p, r->first);
                    break;
                }
                sl_error(s->c->name,
                         "%s[%d]: offsets %lld..%lld failed %u times; skipped (the sinks counted "
                         "them as errors)",
                         p->topic, (int)p->partition, (long long)r->first, (long long)r->last,
                         p->retries);
            }
            p->next_commit = r->last + 1;
            p->head = r->next;
            if (!p->head)
                p->tail = NULL;
            r->next = NULL;
            if (p->dtail)
                p->dtail->next = r;
            else
                p->dhead = r;
            p->dtail = r;
        }
    }
    for (struct rec *r = s->all, *nx; r; r = nx) {
        nx = r->all_next;
        if (!r->part && sl_ack_done(&r->ack)) {
            s->inflight--;
            rec_free(s, r);
        }
    }
}

/* The coordinator has offset `offset` of p: the recs below it are committed. */
static void confirm(struct kin *s, const char *topic, int32_t partition, int64_t offset)
{
    struct part *p = part_find(s, topic, partition);
    struct rec *r;
    while (p && (r = p->dhead) && r->last < offset) {
        p->dhead = r->next;
        if (!p->dhead)
            p->dtail = NULL;
        r->part = NULL; /* freed by reap() */
    }
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque);

/* Commit what moved. only: just this partition list (letting go), synchronously. */
static void commit(struct kin *s, bool sync, const rd_kafka_topic_partition_list_t *only)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (struct part *p = s->parts; p; p = p->next) {
        /* a synchronous commit sends again what an asynchronous one may still carry (it may
         * yet fail: a rebalance starting) */
        if (p->next_commit < 0 || (!sync && p->next_commit == p->committed))
            continue;
        if (only && !rd_kafka_topic_partition_list_find(only, p->topic, p->partition))
            continue;
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->next_commit;
        p->committed = p->next_commit;
    }
    if (l->cnt) {
        rd_kafka_resp_err_t e = sync ? rd_kafka_commit(s->rk, l, 0)
                                     : rd_kafka_commit_queue(s->rk, l, s->cq, commit_cb, s->c);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            sl_log_ratelimited(&s->lim, 5, SL_LOG_WARN, s->c->name, "commit failed: %s",
                               rd_kafka_err2str(e));
            for (struct part *p = s->parts; p; p = p->next)
                if (rd_kafka_topic_partition_list_find(l, p->topic, p->partition))
                    p->committed = -1;
        } else if (sync) {
            for (int i = 0; i < l->cnt; i++)
                confirm(s, l->elems[i].topic, l->elems[i].partition, l->elems[i].offset);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    s->last_commit_ns = sl_clock_mono_ns();
}

/* A commit that failed (a rebalance in progress, a coordinator moving) is sent again with
 * the next one: the partition forgets that it was committed. */
static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct sl_component *c = opaque;
    struct kin *s = c->state;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &offsets->elems[i];
        rd_kafka_resp_err_t pe = err ? err : e->err;
        if (!pe) {
            confirm(s, e->topic, e->partition, e->offset);
            s->rebalancing = false; /* (a cooperative rebalance may not call this member) */
            continue;
        }
        if (pe == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
            pe == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION) {
            s->rebalancing = true; /* sent again after the rebalance, if still ours */
        } else {
            sl_log_ratelimited(&s->lim, 5, SL_LOG_WARN, c->name,
                               "offset commit of %s[%d] failed: %s (will retry)", e->topic,
                               (int)e->partition, rd_kafka_err2str(pe));
        }
        struct part *p = part_find(s, e->topic, e->partition);
        if (p && p->committed == e->offset)
            p->committed = -1;
    }
}

/* Wait until every rec of the partitions in l (NULL: all) is done, at most drain_timeout. */
static void drain(struct kin *s, const rd_kafka_topic_partition_list_t *l)
{
    const struct kin_conf *cf = s->c->conf;
    for (struct part *p = s->parts; p; p = p->next)
        if (!l || rd_kafka_topic_partition_list_find(l, p->topic, p->partition))
            part_emit(s, p);
    sl_source_flush_sinks(s->c);
    int64_t deadline = sl_clock_mono_ns() + cf->drain_timeout_ns;
    for (;;) {
        reap(s, false);
        bool busy = false;
        for (struct part *p = s->parts; p && !busy; p = p->next)
            if (!l || rd_kafka_topic_partition_list_find(l, p->topic, p->partition))
                for (struct rec *r = p->head; r && !busy; r = r->next)
                    busy = !sl_ack_done(&r->ack); /* a failed one is done: not committed */
        if (!busy)
            break;
        int64_t left = deadline - sl_clock_mono_ns();
        if (left <= 0) {
            sl_warn(s->c->name,
                    "drain: the sinks did not acknowledge everything within drain_timeout; "
                    "the rest will be read again");
            break;
        }
        struct pollfd pfd = {.fd = s->ack_fd, .events = POLLIN};
        poll(&pfd, 1, (int)(left / 1000000 > 100 ? 100 : left / 1000000 + 1));
    }
}

/* The partitions this member holds now, for /api/v1/cluster. Not while closing: inside the
 * revoke that rd_kafka_consumer_close() runs, rd_kafka_memberid() waits for librdkafka's main
 * thread, which waits for the close: the source hung there (gdb: rebalance_cb ->
 * publish_assignment -> rd_kafka_memberid, in tests/integ/cluster_profiles.sh and kafka.sh). */
static void publish_assignment(struct kin *s)
{
    if (s->closing) {
        sl_kafka_assignment_clear(s->c->name);
        return;
    }
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(s->rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    char *member = rd_kafka_memberid(s->rk);
    sl_kafka_assignment_set(s->c->name, ((const struct kin_conf *)s->c->conf)->group, member, l);
    if (member)
        rd_kafka_mem_free(s->rk, member);
    rd_kafka_topic_partition_list_destroy(l);
}

/* The partition count of `topic` in md, 0 when it is not there. */
static int32_t md_partitions(const struct rd_kafka_metadata *md, const char *topic)
{
    for (int i = 0; md && i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0 && !md->topics[i].err)
            return md->topics[i].partition_cnt;
    return 0;
}

/* The partition count of every topic in parts that s->counts does not have from this round:
 * one metadata request per topic, naming it (a consumer does not create topics by asking,
 * unlike a request for all of them on a large cluster: one per rebalance, megabytes). A
 * request that fails keeps the last count, with a warning. */
static void learn_counts(struct kin *s, const rd_kafka_topic_partition_list_t *parts)
{
    s->round++;
    for (int i = 0; i < parts->cnt; i++) {
        const char *t = parts->elems[i].topic;
        struct tcount *tc = NULL;
        for (size_t k = 0; k < s->ncounts && !tc; k++)
            if (strcmp(s->counts[k].topic, t) == 0)
                tc = &s->counts[k];
        if (tc && tc->round == s->round)
            continue;
        if (!tc) {
            s->counts = sl_xrealloc(s->counts, (s->ncounts + 1) * sizeof *s->counts);
            tc = &s->counts[s->ncounts++];
            *tc = (struct tcount){sl_xstrdup(t), 0, 0};
        }
        tc->round = s->round;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->rk, t, NULL);
        rd_kafka_resp_err_t e =
            rkt ? rd_kafka_metadata(s->rk, 0, rkt, &md, 10000) : rd_kafka_last_error();
        int32_t n = e ? 0 : md_partitions(md, t);
        if (md)
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
        if (n > 0)
            tc->count = n;
        else if (tc->count)
            sl_warn(s->c->name, "%s: partition count not fetched (%s): %d, as before", t,
                    e ? rd_kafka_err2str(e) : "not in the metadata", (int)tc->count);
        else
            sl_warn(s->c->name,
                    "%s: partition count not known (%s): the sql transform keeps its state per "
                    "topic and partition, not per co-partitioned task",
                    t, e ? rd_kafka_err2str(e) : "not in the metadata");
    }
}

static int32_t count_of(const struct kin *s, const char *topic)
{
    for (size_t k = 0; k < s->ncounts; k++)
        if (strcmp(s->counts[k].topic, topic) == 0)
            return s->counts[k].count;
    return 0;
}

/* Newly assigned partitions: the stages that keep state per partition restore it; a
 * partition is read from the lowest of the committed offset and what they need. The stages
 * that ask are told each topic's partition count: the sql transform keeps one state per
 * partition number across topics with the same count (co-partitioned topics, as ksqlDB's
 * tasks). Only the range assignor gives partition p of every subscribed topic to one member:
 * with another, no count (state per topic and partition). */
static void assign_state(struct kin *s, rd_kafka_topic_partition_list_t *parts)
{
    const struct kin_conf *cf = s->c->conf;
    bool counts = s->range && sl_partstate_wants_counts(s->c->pipe);
    if (counts)
        learn_counts(s, parts);
    /* every assigned topic named first: the sql transform seeds a task's other topics from its
     * checkpoint when the first of them arrives, and seeds only topics this process reads */
    for (int i = 0; i < parts->cnt; i++)
        (void)sl_partstate_topic_id(parts->elems[i].topic);
    rd_kafka_topic_partition_list_t *cl = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t e = rd_kafka_committed(s->rk, cl, 10000);
    if (e)
        sl_warn(s->c->name,
                "committed offsets not known (%s): partitions with state start from the "
                "beginning",
                rd_kafka_err2str(e));
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *el = &parts->elems[i];
        struct part *p = part_find(s, el->topic, el->partition);
        struct sl_partstate_part pp = {
            .topic = el->topic,
            .partition = el->partition,
            .topic_id = sl_partstate_topic_id(el->topic),
            .partitions = counts ? count_of(s, el->topic) : 0,
            .group = s->group,
            .source = s->c->name,
            .brokers = cf->brokers,
        };
        int64_t need = sl_partstate_assigned(s->c->pipe, &pp);
        if (p) {
            p->topic_id = pp.topic_id;
            p->epoch = pp.epoch;
            p->seq = 0;
        }
        if (need < 0)
            continue;
        int64_t committed = e ? RD_KAFKA_OFFSET_INVALID : cl->elems[i].offset;
        int64_t start;
        if (committed >= 0)
            start = committed < need ? committed : need;
        else if (e || !cf->offset_reset)
            start = RD_KAFKA_OFFSET_BEGINNING;
        else
            start = need;
        el->offset = start;
        sl_info(s->c->name,
                "%s[%d]: the stages' state needs offset %lld on, committed %lld: reading from %lld",
                el->topic, (int)el->partition, (long long)need, (long long)committed,
                (long long)start);
    }
    rd_kafka_topic_partition_list_destroy(cl);
}

/* The partitions in l (NULL: all) are let go: the stages snapshot and drop their state. */
static void revoke_state(struct kin *s, const rd_kafka_topic_partition_list_t *l, bool lost)
{
    const struct kin_conf *cf = s->c->conf;
    for (struct part *p = s->parts; p; p = p->next) {
        if (!p->epoch || (l && !rd_kafka_topic_partition_list_find(l, p->topic, p->partition)))
            continue;
        struct sl_partstate_part pp = {
            .topic = p->topic,
            .partition = p->partition,
            .topic_id = p->topic_id,
            .epoch = p->epoch,
            .group = s->group,
            .source = s->c->name,
            .brokers = cf->brokers,
        };
        sl_partstate_revoked(s->c->pipe, &pp, lost);
        p->epoch = 0;
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct sl_component *c = opaque;
    struct kin *s = c->state;
    s->rebalancing = false;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++)
            part_add(s, parts->elems[i].topic, parts->elems[i].partition);
        s->assigned_once = true;
        sl_info(c->name, "assigned %d partition(s)", parts->cnt);
        if (s->partstate)
            assign_state(s, parts);
        rd_kafka_error_t *e = NULL;
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        if (e) {
            sl_error(c->name, "assign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        publish_assignment(s);
        return;
    }
    /* revoked (or an error): finish what is in flight, commit, let go */
    bool lost = rd_kafka_assignment_lost(rk);
    if (!lost) {
        drain(s, parts);
        commit(s, true, parts);
    }
    if (s->partstate)
        revoke_state(s, parts, lost);
    for (int i = 0; i < parts->cnt; i++) {
        struct part *p = part_find(s, parts->elems[i].topic, parts->elems[i].partition);
        if (p)
            part_remove(s, p);
    }
    sl_info(c->name, "%s %d partition(s)", lost ? "lost" : "revoked", parts->cnt);
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e)
            rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk, NULL);
    }
    publish_assignment(s);
}

/* ---------------------------------------------------------------- records to events */

static void dead_letter(struct kin *s, struct part *p, const rd_kafka_message_t *m, const char *msg,
                        int64_t line)
{
    if (!p->errs)
        p->errs = sl_batch_new();
    char where[400];
    snprintf(where, sizeof where, "%s[%d]@%lld", p->topic, (int)p->partition, (long long)m->offset);
    sl_error_event(p->errs, s->c->name, msg, m->payload, m->len, where, line, m->offset);
    p->errs->bytes += m->len;
}

static int add_metadata(struct kin *s, struct sl_batch *b, struct sl_event *ev, struct part *p,
                        const rd_kafka_message_t *m, int64_t ts_ns)
{
    int rc = 0;
    rc |= sl_event_set(b, ev, s->s_topic, sl_value_str(p->topic, strlen(p->topic)));
    rc |= sl_event_set(b, ev, s->s_part, sl_value_int(p->partition));
    rc |= sl_event_set(b, ev, s->s_off, sl_value_int(m->offset));
    rc |= sl_event_set(b, ev, s->s_ts, sl_value_ts(ts_ns));
    if (m->key)
        rc |= sl_event_set_str(b, ev, s->s_key, m->key, m->key_len);
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR && h) {
        size_t n = rd_kafka_header_cnt(h);
        struct sl_kv *kv = n ? sl_arena_alloc(&b->arena, n * sizeof *kv) : NULL;
        size_t k = 0;
        for (size_t i = 0; kv && i < n; i++) {
            const char *name;
            const void *val;
            size_t len;
            if (rd_kafka_header_get_all(h, i, &name, &val, &len))
                break;
            char *kc = sl_batch_copy(b, name, strlen(name));
            char *vc = val ? sl_batch_copy(b, val, len) : NULL;
            if (!kc || (val && !vc))
                return SL_ENOMEM;
            kv[k].key = sl_str_make(kc, strlen(name));
            kv[k].val = val ? sl_value_str(vc, len) : sl_value_null();
            k++;
        }
        if (k) {
            struct sl_value mv = {.type = SL_V_MAP, .len = (uint32_t)k};
            mv.u.map = kv;
            rc |= sl_event_set(b, ev, s->s_hdr, mv);
        }
    }
    return rc ? SL_ENOMEM : 0;
}

/* One line (or the whole record, raw) into b as an event; false: it became a dead letter. */
static bool take_one(struct kin *s, struct part *p, const rd_kafka_message_t *m, const char *lp,
                     size_t ln, int64_t line, int64_t ts_ns)
{
    const struct kin_conf *cf = s->c->conf;
    struct sl_batch *b = p->b;
    struct sl_event *ev = NULL;
    if (cf->format == FMT_JSON) {
        struct sl_diag d;
        d.offset = -1;
        d.msg[0] = 0;
        if (sl_json_parse_event(b, lp, ln, NULL, &d)) {
            char msg[600];
            snprintf(msg, sizeof msg, "invalid JSON at byte %lld%s: %s",
                     (long long)(d.offset > 0 ? d.offset : 0), line > 0 ? " of the line" : "",
                     d.msg);
            dead_letter(s, p, m, msg, line);
            return false;
        }
        ev = &b->events[b->count - 1];
    } else {
        ev = sl_batch_push(b);
        if (!ev || sl_event_set(b, ev, s->s_msg, sl_value_str(lp, ln))) {
            if (ev)
                sl_batch_pop(b);
            dead_letter(s, p, m, "out of memory", line);
            return false;
        }
    }
    ev->ts_ns = ts_ns;
    if (cf->metadata ? add_metadata(s, b, ev, p, m, ts_ns) != 0
                     : s->partstate && sl_event_set(b, ev, s->s_off, sl_value_int(m->offset))) {
        sl_batch_pop(b);
        dead_letter(s, p, m, "out of memory", line);
        return false;
    }
    return true;
}

/* An evbin record (events with their own times; strings stay in the batch's copy of it). A
 * record that does not decode is a dead letter as a whole: what it decoded is taken back. */
static void take_evbin(struct kin *s, struct part *p, const rd_kafka_message_t *m, const char *copy,
                       size_t len)
{
    const struct kin_conf *cf = s->c->conf;
    struct sl_batch *b = p->b;
    uint32_t before = b->count;
    uint64_t bytes = b->bytes;
    struct sl_diag d;
    d.offset = -1;
    d.msg[0] = 0;
    if (!len || sl_evbin_decode_view(copy, len, b, &d)) {
        while (b->count > before)
            sl_batch_pop(b);
        b->bytes = bytes;
        char msg[600];
        snprintf(msg, sizeof msg, "invalid evbin record at byte %lld: %s",
                 (long long)(d.offset > 0 ? d.offset : 0), len ? d.msg : "empty");
        dead_letter(s, p, m, msg, -1);
        return;
    }
    for (uint32_t i = before; (cf->metadata || s->partstate) && i < b->count; i++) {
        if (cf->metadata ? add_metadata(s, b, &b->events[i], p, m, b->events[i].ts_ns) != 0
                         : sl_event_set(b, &b->events[i], s->s_off, sl_value_int(m->offset))) {
            while (b->count > i)
                sl_batch_pop(b);
            dead_letter(s, p, m, "out of memory", -1);
            return;
        }
    }
}

/* One record into the partition's batch (events, or dead letters). */
static void take(struct kin *s, struct part *p, const rd_kafka_message_t *m)
{
    const struct kin_conf *cf = s->c->conf;
    if (!p->b)
        p->b = sl_batch_new();
    if (!p->b_any) {
        p->b_first = m->offset;
        p->b_started_ns = sl_clock_mono_ns();
        s->building++;
    }
    p->b_any = true;
    p->b_last = m->offset;
    struct sl_batch *b = p->b;
    rd_kafka_timestamp_type_t tt;
    int64_t ts_ms = rd_kafka_message_timestamp(m, &tt);
    int64_t ts_ns = ts_ms >= 0 ? ts_ms * 1000000 : sl_clock_wall_ns();
    size_t len = m->payload ? m->len : 0;
    char *copy = len ? sl_batch_copy(b, m->payload, len) : NULL;
    if (len && !copy) {
        dead_letter(s, p, m, "out of memory: batch arena full", -1);
        return;
    }
    b->bytes += len;
    if (cf->format == FMT_RAW) {
        take_one(s, p, m, copy ? copy : "", len, -1, ts_ns);
        return;
    }
    if (cf->format == FMT_EVBIN) {
        take_evbin(s, p, m, copy, len);
        return;
    }
    /* json and lines: each non-blank line is an event; line numbers only when there are
     * several lines */
    bool multi = len && memchr(copy, '\n', len) != NULL;
    bool any = false;
    int64_t line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *lp = copy + pos;
        const char *nl = memchr(lp, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - lp) : len - pos;
        pos += n + 1;
        line++;
        if (n && lp[n - 1] == '\r')
            n--;
        size_t i = 0;
        while (i < n && (lp[i] == ' ' || lp[i] == '\t'))
            i++;
        if (i == n)
            continue;
        any = true;
        take_one(s, p, m, lp, n, multi ? line : -1, ts_ns);
    }
    if (!any && cf->format == FMT_JSON)
        dead_letter(s, p, m, "empty record (format: json)", -1);
}

/* ---------------------------------------------------------------- lifecycle */

static int kin_init(struct sl_component *c, struct sl_diag *d)
{
    struct kin_conf *cf = c->conf;
    struct kin *s = sl_xcalloc(1, sizeof *s);
    c->state = s;
    s->c = c;
    s->io_pipe[0] = s->io_pipe[1] = -1;
    s->ack_fd = -1;
    if (cf->topics.count == 0) {
        sl_component_diag_opt(c, "topics", d);
        return sl_diag_set(d, SL_ECONFIG, "kafka '%s': topics is empty", c->name);
    }
    if (cf->group) {
        snprintf(s->group, sizeof s->group, "%s", cf->group);
    } else {
        const char *path = sl_pipeline_config_path(c->pipe);
        const char *base = path ? strrchr(path, '/') : NULL;
        base = base ? base + 1 : path ? path : "pipeline";
        size_t n = strcspn(base, ".");
        snprintf(s->group, sizeof s->group, "sluice-%.*s.%s", (int)n, base, c->name);
    }
    s->s_msg = sl_sym_intern_c(cf->message_field);
    s->s_topic = sl_sym_intern_c("@kafka.topic");
    s->s_part = sl_sym_intern_c("@kafka.partition");
    s->s_off = sl_sym_intern_c("@kafka.offset");
    s->s_key = sl_sym_intern_c("@kafka.key");
    s->s_ts = sl_sym_intern_c("@kafka.timestamp");
    s->s_hdr = sl_sym_intern_c("@kafka.headers");
    const struct sl_kafka_setting settings[] = {
        {"bootstrap.servers", cf->brokers, false},
        {"group.id", s->group, false},
        {"auto.offset.reset", cf->offset_reset ? "latest" : "earliest", false},
        {"enable.auto.commit", "false", true},
        {"enable.auto.offset.store", "false", true},
        {"enable.partition.eof", "true", true},
        {"session.timeout.ms", "10000", false},
        /* librdkafka 2.0 stops fetching while its local queue holds queued.min.messages or
         * queued.max.messages.kbytes, and fetches again only a second later: a consumer that
         * drains the queue faster than that waits. Measured on 300,000 records of 270 B:
         * 20,000 -> 50 k records/s, the default 100,000 -> 285 k/s, 1,000,000 -> 2.1 M/s. */
        {"queued.min.messages", "1000000", false},
        {"queued.max.messages.kbytes", "262144", false},
        {"client.id", "sluice", false},
        {NULL, NULL, false},
    };
    rd_kafka_conf_t *conf = sl_kafka_conf_new(c, settings, &cf->librdkafka, "librdkafka", d);
    if (!conf)
        return SL_ECONFIG;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    size_t ssz = sizeof s->strategy;
    if (rd_kafka_conf_get(conf, "partition.assignment.strategy", s->strategy, &ssz) !=
        RD_KAFKA_CONF_OK)
        s->strategy[0] = 0;
    s->range =
        strncmp(s->strategy, "range", 5) == 0 && (s->strategy[5] == 0 || s->strategy[5] == ',');
    char err[512];
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!s->rk) {
        rd_kafka_conf_destroy(conf);
        sl_component_diag_opt(c, "brokers", d);
        return sl_diag_set(d, SL_ECONFIG, "kafka '%s': %s", c->name, err);
    }
    rd_kafka_poll_set_consumer(s->rk);
    s->q = rd_kafka_queue_get_consumer(s->rk);
    if (pipe2(s->io_pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
        (s->ack_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        return sl_diag_set(d, SL_EIO, "kafka '%s': %s", c->name, strerror(errno));
    }
    rd_kafka_queue_io_event_enable(s->q, s->io_pipe[1], "1", 1);
    s->cq = rd_kafka_queue_new(s->rk);
    rd_kafka_queue_io_event_enable(s->cq, s->io_pipe[1], "1", 1);
    return 0;
}

static void kin_fini(struct sl_component *c)
{
    struct kin *s = c->state;
    if (!s)
        return;
    sl_kafka_assignment_clear(c->name);
    while (s->parts)
        part_remove(s, s->parts);
    /* the pipeline has ended and the sinks' fini ran before (sl_pipeline_free): every token is
     * done. One that is not would be released later into freed memory: keep it. */
    size_t kept = 0;
    for (struct rec *r = s->all, *nx; r; r = nx) {
        nx = r->all_next;
        if (sl_ack_done(&r->ack))
            rec_free(s, r);
        else
            kept++;
    }
    if (kept)
        sl_warn(c->name, "%zu batch(es) still held by a sink at the end (not freed)", kept);
    for (size_t k = 0; k < s->ncounts; k++)
        sl_free(s->counts[k].topic);
    sl_free(s->counts);
    if (s->q)
        rd_kafka_queue_destroy(s->q);
    if (s->cq)
        rd_kafka_queue_destroy(s->cq);
    if (s->rk)
        rd_kafka_destroy(s->rk);
    for (int i = 0; i < 2; i++)
        if (s->io_pipe[i] >= 0)
            close(s->io_pipe[i]);
    if (s->ack_fd >= 0)
        close(s->ack_fd);
    sl_free(s);
}

static bool all_eof(struct kin *s)
{
    if (!s->assigned_once || !s->parts)
        return false;
    for (struct part *p = s->parts; p; p = p->next)
        if (!p->eof || p->b_any)
            return false;
    return true;
}

static int kin_run(struct sl_component *c)
{
    struct kin *s = c->state;
    const struct kin_conf *cf = c->conf;
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new((int)cf->topics.count);
    for (size_t i = 0; i < cf->topics.count; i++)
        rd_kafka_topic_partition_list_add(tl, cf->topics.items[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(s->rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    if (e) {
        sl_error(c->name, "subscribe: %s", rd_kafka_err2str(e));
        return SL_EIO;
    }
    sl_info(c->name, "consumer group %s", s->group);
    s->partstate = sl_partstate_active(c->pipe);
    if (s->partstate && !s->range)
        sl_info(c->name,
                "partition.assignment.strategy %s does not give partition p of every topic to "
                "one member: stages keep their state per topic and partition (a sql join across "
                "topics needs range, librdkafka's default)",
                s->strategy);
    int rc = 0;
    bool once = sl_source_once(c);
    bool more = false; /* the last call returned records: the queue may hold more */
    while (!sl_source_stopping(c) && rc == 0) {
        rd_kafka_queue_poll_callback(s->cq, 0); /* commit results: confirm() */
        reap(s, true);
        if (sl_clock_mono_ns() - s->last_commit_ns >= cf->commit_interval_ns)
            commit(s, false, NULL);
        if (once && all_eof(s) && s->held_pos == s->nheld)
            break; /* the drain below waits for the acknowledgements and commits */
        /* batches emitted and not committed, and those being built, stay within
         * max_inflight: that is what bounds what a crash re-delivers. Not while a rebalance
         * waits for this member: its commits fail until the rebalance callback has run, and
         * that runs only inside the consume call below, so holding back would stall the
         * group and spin here (seen with three nodes joining one after another); the
         * partitions let go are read again by their next owner from the last commit. */
        bool full = !s->rebalancing && s->inflight + s->building >= (uint32_t)cf->max_inflight;
        if (full)
            commit(s, false, NULL); /* what waits for a commit: commit it now */
        if (full && s->inflight == 0) {
            /* every slot is a batch being built: hand them over, or nothing moves */
            rc = emit_all(s, false);
            if (rc)
                break;
        }
        full = !s->rebalancing && s->inflight + s->building >= (uint32_t)cf->max_inflight;
        bool pending = s->held_pos < s->nheld;
        struct pollfd pfd[3] = {
            {.fd = s->io_pipe[0], .events = POLLIN}, /* records, or commit results */
            {.fd = s->ack_fd, .events = POLLIN},
            {.fd = sl_source_stop_fd(c), .events = POLLIN},
        };
        int timeout = cf->linger_ns / 1000000 > 0 ? (int)(cf->linger_ns / 1000000) : 1;
        if (timeout > 100)
            timeout = 100;
        /* librdkafka writes the pipe only when its queue goes from empty to non-empty, and a
         * call may return less than it holds: call again without waiting until a call comes
         * back empty (measured: waiting here made the source 38 k, then 195-490 k records/s
         * from run to run) */
        poll(pfd, 3, (more || pending) && !full ? 0 : timeout);
        char drainbuf[64];
        while (read(s->io_pipe[0], drainbuf, sizeof drainbuf) > 0) {
        }
        if (full)
            continue;
        ssize_t n = 0;
        if (!pending) {
            /* the pipe said there is something, or the timeout passed: a rebalance or an
             * error may be waiting, and the call serves them */
            n = rd_kafka_consume_batch_queue(s->q, 0, s->held, READ_MAX);
            more = n > 0;
            s->nheld = n > 0 ? (size_t)n : 0;
            s->held_pos = 0;
        }
        for (; s->held_pos < s->nheld && rc == 0; s->held_pos++) {
            rd_kafka_message_t *m = s->held[s->held_pos];
            if (!m) {
                continue; /* dropped by a seek back */
            } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                struct part *p = part_find(s, rd_kafka_topic_name(m->rkt), m->partition);
                if (p)
                    p->eof = true;
            } else if (m->err) {
                sl_log_ratelimited(&s->lim, 5, SL_LOG_WARN, c->name, "consumer: %s",
                                   rd_kafka_message_errstr(m));
                char fatal[256];
                if (rd_kafka_fatal_error(s->rk, fatal, sizeof fatal)) {
                    sl_error(c->name, "fatal: %s", fatal);
                    rc = SL_EIO;
                }
            } else {
                struct part *p = part_of(s, m);
                if (p && !p->b_any && !s->rebalancing &&
                    s->inflight + s->building >= (uint32_t)cf->max_inflight)
                    break; /* no room for another batch: the rest waits, in order */
                if (p) {
                    p->eof = false;
                    take(s, p, m);
                    s->last_ns = sl_clock_mono_ns();
                    if (!s->records++)
                        s->first_ns = s->last_ns;
                    if (p->b && (p->b->count >= (uint32_t)cf->batch_events ||
                                 p->b->bytes >= SL_BATCH_BYTES))
                        rc = part_emit(s, p);
                }
            }
            rd_kafka_message_destroy(m);
        }
        if (rc == 0)
            rc = emit_all(s, n > 0 || s->held_pos < s->nheld);
    }
    if (s->records) {
        double secs = (double)(s->last_ns - s->first_ns) / 1e9;
        sl_info(c->name, "read %llu records in %.3f s from the first to the last (%.0f/s)",
                (unsigned long long)s->records, secs, secs > 0 ? (double)s->records / secs : 0);
    }
    for (; s->held_pos < s->nheld; s->held_pos++) /* not taken: read again later */
        if (s->held[s->held_pos])
            rd_kafka_message_destroy(s->held[s->held_pos]);
    s->nheld = s->held_pos = 0;
    /* stopping (or input ended in --once): hand over what is built, wait for the sinks,
     * commit, leave the group */
    drain(s, NULL);
    commit(s, true, NULL);
    if (s->partstate)
        revoke_state(s, NULL, false); /* before leaving: the next owner restores it */
    s->closing = true;
    rd_kafka_consumer_close(s->rk);
    return rc == SL_ECLOSED ? 0 : rc;
}

const struct sl_component_ops sl_in_kafka_ops = {
    .type = "kafka",
    .kind = SL_KIND_SOURCE,
    .summary = "records from Kafka topics (consumer group); offsets committed once the sinks "
               "acknowledged them",
    .options = kin_opts,
    .conf_len = sizeof(struct kin_conf),
    .init = kin_init,
    .fini = kin_fini,
    .run = kin_run,
};
