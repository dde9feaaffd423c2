/*
 * changelog.c — checkpoints of partition-scoped state in a compacted Kafka topic (see
 * changelog.h; the record layouts are in state/statecodec.c).
 *
 * DESIGN: one idempotent producer (acks=all) for writes and one assign-only consumer (never
 * subscribed, never committing: it joins no group) for restores, both made at open. A write
 * produces the chunks and then the header to one partition, then waits for every delivery
 * report: only then is the generation the one a restore finds. A restore asks the partition's
 * watermarks, reads from the low one to the high one, and feeds the records of its key to the
 * reassembly in statecodec.c (the newest record of a key wins, as compaction would leave it).
 */
#include "io/changelog.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/str.h"
#include "io/kafka_conf.h"
#include "state/statecodec.h"
#include "sys/thread.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#define WRITE_TIMEOUT_MS 30000
#define READ_TIMEOUT_MS  60000

struct sl_changelog {
    struct sl_component *c;
    rd_kafka_t *prod, *cons;
    char *topic;
    int32_t partitions;
    struct sl_mutex lock; /* one write or restore at a time */
};

struct wr {
    uint32_t pending, failed;
    char err[256];
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct wr *w = m->_private;
    if (!w)
        return;
    if (m->err) {
        w->failed++;
        snprintf(w->err, sizeof w->err, "%s", rd_kafka_err2str(m->err));
    }
    w->pending--;
}

static int create_topic(struct sl_changelog *cl, int partitions, struct sl_diag *d)
{
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(cl->topic, partitions, -1, err, sizeof err);
    if (!nt)
        return sl_diag_set(d, SL_EIO, "changelog %s: %s", cl->topic, err);
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t *q = rd_kafka_queue_new(cl->prod);
    rd_kafka_AdminOptions_t *o =
        rd_kafka_AdminOptions_new(cl->prod, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(o, 10000, err, sizeof err);
    rd_kafka_AdminOptions_set_request_timeout(o, 15000, err, sizeof err);
    rd_kafka_CreateTopics(cl->prod, &nt, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
    int rc = 0;
    if (!ev) {
        rc = sl_diag_set(d, SL_ETIMEDOUT, "changelog %s: no answer to CreateTopics in 20 s",
                         cl->topic);
    } else if (rd_kafka_event_error(ev)) {
        rc = sl_diag_set(d, SL_EIO, "changelog %s: %s", cl->topic, rd_kafka_event_error_string(ev));
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **r =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n && !rc; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(r[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                rc = sl_diag_set(d, SL_EIO, "changelog %s: %s", cl->topic, rd_kafka_err2str(e));
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

int sl_changelog_open(struct sl_component *c, const char *brokers, const char *topic,
                      int partitions, struct sl_changelog **out, struct sl_diag *d)
{
    struct sl_changelog *cl = sl_xcalloc(1, sizeof *cl);
    sl_mutex_init(&cl->lock);
    cl->c = c;
    cl->topic = sl_xstrdup(topic);
    int rc = 0;
    const struct sl_kafka_setting ps[] = {
        {"bootstrap.servers", brokers, false},
        {"acks", "all", true},
        {"enable.idempotence", "true", true},
        {"linger.ms", "5", false},
        /* every record gets its delivery report within the write's wait */
        {"message.timeout.ms", "20000", false},
        {"request.timeout.ms", "10000", false},
        {"message.max.bytes", "2000000", false},
        {"client.id", "sluice-changelog", false},
        {NULL, NULL, false},
    };
    rd_kafka_conf_t *pc = sl_kafka_conf_new(c, ps, NULL, "changelog", d);
    if (!pc) {
        rc = SL_ECONFIG;
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
    char err[512];
    cl->prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    if (!cl->prod) {
        rd_kafka_conf_destroy(pc);
        rc = sl_diag_set(d, SL_ECONFIG, "changelog producer: %s", err);
        goto fail;
    }
    const struct sl_kafka_setting cs[] = {
        {"bootstrap.servers", brokers, false},
        {"group.id", "sluice-changelog-restore", false}, /* assign() only: never joins */
        {"enable.auto.commit", "false", true},
        {"enable.auto.offset.store", "false", true},
        {"enable.partition.eof", "false", true},
        {"auto.offset.reset", "earliest", true},
        /* a read assigns one partition, reads it to its high watermark and unassigns it. The
         * fetch it leaves parked at the broker (no new data: the broker holds it up to
         * fetch.wait.max.ms, default 500) delays the next read's ListOffsets on that connection,
         * since a broker answers a connection's requests in order: about 540 ms for the read
         * that followed another on the same broker (measured with cluster_sql_join.sh) */
        {"fetch.wait.max.ms", "10", true},
        {"client.id", "sluice-changelog", false},
        {NULL, NULL, false},
    };
    rd_kafka_conf_t *cc = sl_kafka_conf_new(c, cs, NULL, "changelog", d);
    if (!cc) {
        rc = SL_ECONFIG;
        goto fail;
    }
    cl->cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    if (!cl->cons) {
        rd_kafka_conf_destroy(cc);
        rc = sl_diag_set(d, SL_ECONFIG, "changelog consumer: %s", err);
        goto fail;
    }
    int have = sl_kafka_topic_partitions(cl->prod, topic);
    if (have <= 0) {
        if ((rc = create_topic(cl, partitions > 0 ? partitions : 1, d)))
            goto fail;
        for (int i = 0; i < 50 && have <= 0; i++) { /* metadata catches up */
            have = sl_kafka_topic_partitions(cl->prod, topic);
            if (have <= 0)
                poll(NULL, 0, 100);
        }
        if (have <= 0) {
            rc = sl_diag_set(d, SL_EIO, "changelog %s: created, but not in the metadata", topic);
            goto fail;
        }
        sl_info(c->name, "changelog topic %s created (%d partitions, compacted)", topic, have);
    }
    cl->partitions = have;
    *out = cl;
    return 0;
fail:
    sl_changelog_close(cl);
    return rc;
}

void sl_changelog_close(struct sl_changelog *cl)
{
    if (!cl)
        return;
    if (cl->prod) {
        rd_kafka_flush(cl->prod, 10000);
        rd_kafka_destroy(cl->prod);
    }
    if (cl->cons) {
        rd_kafka_consumer_close(cl->cons);
        rd_kafka_destroy(cl->cons);
    }
    sl_mutex_fini(&cl->lock);
    sl_free(cl->topic);
    sl_free(cl);
}

const char *sl_changelog_topic(const struct sl_changelog *cl)
{
    return cl->topic;
}

static int produce(struct sl_changelog *cl, int32_t part, const char *key, size_t klen,
                   const void *val, size_t vlen, struct wr *w)
{
    for (int tries = 0;; tries++) {
        w->pending++;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            cl->prod, RD_KAFKA_V_TOPIC(cl->topic), RD_KAFKA_V_PARTITION(part),
            RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
        if (!e)
            return 0;
        w->pending--;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 300) {
            snprintf(w->err, sizeof w->err, "%s", rd_kafka_err2str(e));
            return SL_EIO;
        }
        rd_kafka_poll(cl->prod, 10);
    }
}

int sl_changelog_write(struct sl_changelog *cl, const char *key, int32_t partition,
                       uint64_t generation, const void *data, size_t len, struct sl_diag *d)
{
    if (len > SL_SC_MAX_STATE)
        return sl_diag_set(d, SL_E2BIG, "changelog: state of %s is %zu bytes (limit %u)", key, len,
                           SL_SC_MAX_STATE);
    int32_t part = partition >= 0 ? partition % cl->partitions : 0;
    struct sl_sc_header h = {
        .generation = generation,
        .chunks = (uint32_t)((len + SL_SC_MAX_CHUNK - 1) / SL_SC_MAX_CHUNK),
        .length = len,
        .checksum = 0,
    };
    h.checksum = sl_hash64(data, len);
    struct sl_buf b;
    sl_buf_init(&b, SL_SC_MAX_CHUNK + 64);
    /* on the heap: if the brokers never answer, reports may come after the write gave up */
    struct wr *wp = sl_xcalloc(1, sizeof *wp);
    char ck[SL_SC_MAX_KEY + 1];
    int rc = 0;
    sl_mutex_lock(&cl->lock);
    for (uint32_t i = 0; i < h.chunks && !rc; i++) {
        size_t off = (size_t)i * SL_SC_MAX_CHUNK;
        size_t n = len - off < SL_SC_MAX_CHUNK ? len - off : SL_SC_MAX_CHUNK;
        size_t kl = sl_sc_chunk_key(ck, sizeof ck, key, generation, i);
        sl_buf_reset(&b);
        if (!kl)
            rc = sl_diag_set(d, SL_E2BIG, "changelog: key %s too long", key);
        else if ((rc = sl_sc_put_chunk(&b, generation, i, (const char *)data + off, n)))
            sl_diag_set(d, rc, "changelog: chunk of %s: %s", key, sl_strerror(rc));
        else if ((rc = produce(cl, part, ck, kl, b.ptr, b.len, wp)))
            sl_diag_set(d, rc, "changelog %s: %s", cl->topic, wp->err);
    }
    if (!rc) {
        sl_buf_reset(&b);
        rc = sl_sc_put_header(&b, &h);
        if (!rc && (rc = produce(cl, part, key, strlen(key), b.ptr, b.len, wp)))
            sl_diag_set(d, rc, "changelog %s: %s", cl->topic, wp->err);
    }
    /* wait for every delivery report, also after a failure (message.timeout.ms bounds it) */
    int64_t deadline = sl_clock_mono_ns() + (int64_t)WRITE_TIMEOUT_MS * 1000000;
    while (wp->pending && sl_clock_mono_ns() < deadline)
        rd_kafka_poll(cl->prod, 50);
    if (wp->pending) {
        rd_kafka_purge(cl->prod, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        deadline = sl_clock_mono_ns() + (int64_t)WRITE_TIMEOUT_MS * 1000000;
        while (wp->pending && sl_clock_mono_ns() < deadline)
            rd_kafka_poll(cl->prod, 50);
        if (!rc)
            rc = sl_diag_set(d, SL_ETIMEDOUT, "changelog %s: not acknowledged in %d s", cl->topic,
                             WRITE_TIMEOUT_MS / 1000);
    }
    if (!rc && wp->failed)
        rc = sl_diag_set(d, SL_EIO, "changelog %s: %u record(s) not written: %s", cl->topic,
                         wp->failed, wp->err);
    if (wp->pending) /* reports still to come refer to it: kept (logged) */
        sl_warn(cl->c->name, "changelog %s: %u delivery report(s) never came", cl->topic,
                wp->pending);
    else
        sl_free(wp);
    sl_mutex_unlock(&cl->lock);
    sl_buf_fini(&b);
    return rc;
}

int sl_changelog_read(struct sl_changelog *cl, const char *key, int32_t partition, void **out,
                      size_t *len, uint64_t *generation, struct sl_diag *d)
{
    *out = NULL;
    *len = 0;
    *generation = 0;
    int32_t part = partition >= 0 ? partition % cl->partitions : 0;
    size_t klen = strlen(key);
    sl_mutex_lock(&cl->lock);
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(cl->cons, cl->topic, part, &lo, &hi, 10000);
    if (e) {
        sl_mutex_unlock(&cl->lock);
        return sl_diag_set(d, SL_EIO, "changelog %s[%d]: %s", cl->topic, (int)part,
                           rd_kafka_err2str(e));
    }
    if (hi <= lo) {
        sl_mutex_unlock(&cl->lock);
        return SL_ENOENT;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, cl->topic, part)->offset = lo;
    e = rd_kafka_assign(cl->cons, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        sl_mutex_unlock(&cl->lock);
        return sl_diag_set(d, SL_EIO, "changelog %s[%d]: assign: %s", cl->topic, (int)part,
                           rd_kafka_err2str(e));
    }
    struct sl_sc_state st;
    sl_sc_state_init(&st);
    uint64_t bad = 0;
    int rc = 0;
    int64_t deadline = sl_clock_mono_ns() + (int64_t)READ_TIMEOUT_MS * 1000000;
    int64_t next = lo;
    while (next < hi) {
        if (sl_clock_mono_ns() > deadline) {
            rc = sl_diag_set(d, SL_ETIMEDOUT, "changelog %s[%d]: read %lld of %lld..%lld in %d s",
                             cl->topic, (int)part, (long long)next, (long long)lo, (long long)hi,
                             READ_TIMEOUT_MS / 1000);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cl->cons, 200);
        if (!m)
            continue;
        if (m->err) {
            sl_debug(cl->c->name, "changelog read: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        next = m->offset + 1;
        if (m->key && m->key_len >= klen && !memcmp(m->key, key, klen)) {
            const char *suffix = (const char *)m->key + klen;
            size_t sl = m->key_len - klen;
            if (sl == 0 || suffix[0] == '#') {
                struct sl_diag rd;
                memset(&rd, 0, sizeof rd);
                int frc =
                    sl_sc_state_feed(&st, suffix, sl, m->payload, m->payload ? m->len : 0, &rd);
                if (frc == SL_ENOMEM || frc == SL_E2BIG) {
                    rc = sl_diag_set(d, frc, "%s", rd.msg);
                    rd_kafka_message_destroy(m);
                    break;
                }
                if (frc) {
                    bad++;
                    sl_warn(cl->c->name, "changelog %s[%d]@%lld (%s): %s", cl->topic, (int)part,
                            (long long)m->offset, key, rd.msg);
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(cl->cons, NULL);
    if (!rc) {
        rc = sl_sc_state_finish(&st, out, len, d);
        if (!rc)
            *generation = st.h.generation;
    }
    sl_sc_state_fini(&st);
    sl_mutex_unlock(&cl->lock);
    (void)bad;
    return rc;
}

int sl_changelog_open_opt(struct sl_component *c, const struct sl_strmap *opt,
                          const struct sl_partstate_part *pp, char *topic, size_t topic_cap,
                          struct sl_changelog **out, struct sl_diag *d)
{
    const char *brokers = pp->brokers, *named = NULL;
    int64_t parts = 6;
    for (size_t i = 0; opt && i < opt->count; i++) {
        const struct sl_strmap_item *it = &opt->items[i];
        if (!strcmp(it->key, "brokers"))
            brokers = it->val;
        else if (!strcmp(it->key, "topic"))
            named = it->val;
        else if (!strcmp(it->key, "partitions") && sl_str_to_i64(sl_str_c(it->val), &parts))
            parts = -1; /* not a number: refused below */
        else
            sl_warn(c->name, "changelog: unknown key '%s' ignored", it->key);
    }
    if (named)
        snprintf(topic, topic_cap, "%s", named);
    else
        snprintf(topic, topic_cap, "%s-%s-changelog", pp->group ? pp->group : "sluice", c->name);
    if (!brokers)
        return sl_diag_set(d, SL_ECONFIG, "no brokers");
    if (parts < 1 || parts > 100000)
        return sl_diag_set(d, SL_ECONFIG, "bad partitions");
    return sl_changelog_open(c, brokers, topic, (int)parts, out, d);
}

void sl_changelog_key(char *key, size_t cap, uint32_t topic_id, int32_t partition)
{
    const char *t = sl_partstate_topic_name(topic_id);
    snprintf(key, cap, "%s/%d", t ? t : "?", (int)partition);
}
