/*
 * kafkatool.c — a Kafka mock cluster and bare librdkafka clients, for the integration tests
 * and the benchmarks (no Kafka broker is packaged for Debian; librdkafka's mock cluster is).
 *
 *   kafkatool mock [-b BROKERS] [-t TOPIC:PARTITIONS[:REPLICAS]]...
 *       Start a mock cluster of BROKERS (3) brokers on loopback, create the topics, print the
 *       bootstrap servers on one line, then serve until stdin ends (or SIGTERM). Commands on
 *       stdin: "down N" / "up N" take broker N down or up (an outage).
 *   kafkatool produce -B BOOTSTRAP -t TOPIC -n COUNT [-s SIZE] [-k KEYS] [-f START]
 *       Produce COUNT JSON records {"seq":i,"key":"k<i%KEYS>","pad":"..."} (SIZE bytes of
 *       record in all, about), keyed by "k<i%KEYS>", acks=all; print the rate.
 *   kafkatool consume -B BOOTSTRAP -t TOPIC -n COUNT [-g GROUP] [-i IDLE_MS] [-p] [-e]
 *       Read COUNT records (or until IDLE_MS without one) from the beginning; -p prints each
 *       value on a line; -e asks for end-of-partition events, as the kafka source does;
 *       -X key=value sets a librdkafka property. Prints the count and the rate on stderr.
 *   kafkatool count -B BOOTSTRAP -t TOPIC
 *       Print "records=N start=S": the sum over the topic's partitions of the high watermark
 *       (records ever appended to a fresh topic) and of the low one (the mock cluster may
 *       move a log's start after a broker outage, so a consumer cannot count those).
 * The produce/consume modes are the bare-client baseline of bench/bench_kafka.sh: they do
 * nothing per record but hand it to (or take it from) librdkafka.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafkatool: %s=%s: %s\n", k, v, err);
        exit(2);
    }
}

static int mock(int argc, char **argv)
{
    int brokers = 3;
    const char *topics[32];
    int ntopics = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-b") && i + 1 < argc)
            brokers = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc && ntopics < 32)
            topics[ntopics++] = argv[++i];
    }
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "log_level", "3");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafkatool: %s\n", err);
        return 2;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "kafkatool: cannot start the mock cluster\n");
        return 2;
    }
    for (int i = 0; i < ntopics; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s", topics[i]);
        int parts = 1, replicas = brokers < 3 ? 1 : 3;
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = 0;
            char *end;
            parts = (int)strtol(colon + 1, &end, 10);
            if (*end == ':')
                replicas = (int)strtol(end + 1, NULL, 10);
        }
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, name, parts, replicas);
        if (e) {
            fprintf(stderr, "kafkatool: topic %s: %s\n", name, rd_kafka_err2str(e));
            return 2;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char line[128];
    while (!stop && fgets(line, sizeof line, stdin)) {
        int id;
        if (sscanf(line, "down %d", &id) == 1)
            rd_kafka_mock_broker_set_down(mc, id);
        else if (sscanf(line, "up %d", &id) == 1)
            rd_kafka_mock_broker_set_up(mc, id);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

static long delivered, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        failed++;
    else
        delivered++;
}

static int produce(int argc, char **argv)
{
    const char *bootstrap = NULL, *topic = NULL;
    long count = 1000, size = 100, keys = 64, start = 0;
    int lines = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-l"))
            lines = 1;
        else if (i + 1 >= argc)
            break;
        else if (!strcmp(argv[i], "-B"))
            bootstrap = argv[++i];
        else if (!strcmp(argv[i], "-t"))
            topic = argv[++i];
        else if (!strcmp(argv[i], "-n"))
            count = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-s"))
            size = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-k"))
            keys = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-f"))
            start = strtol(argv[++i], NULL, 10);
    }
    if (!bootstrap || !topic || keys < 1)
        return 2;
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "acks", "all");
    set(conf, "enable.idempotence", "true");
    set(conf, "linger.ms", "5");
    set(conf, "queue.buffering.max.messages", "1000000");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafkatool: %s\n", err);
        return 2;
    }
    char pad[65536];
    long padn = size > 40 ? size - 40 : 1;
    if (padn >= (long)sizeof pad)
        padn = (long)sizeof pad - 1;
    memset(pad, 'x', (size_t)padn);
    pad[padn] = 0;
    double t0 = now_s();
    char line[65536];
    while (lines && fgets(line, sizeof line, stdin)) {
        size_t n = strcspn(line, "\n");
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(line, n),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        if (e) {
            fprintf(stderr, "kafkatool: produce: %s\n", rd_kafka_err2str(e));
            return 1;
        }
    }
    for (long i = start; !lines && i < start + count; i++) {
        char val[65600], key[32];
        int kn = snprintf(key, sizeof key, "k%ld", i % keys);
        int vn =
            snprintf(val, sizeof val, "{\"seq\":%ld,\"key\":\"%s\",\"pad\":\"%s\"}", i, key, pad);
        for (;;) {
            rd_kafka_resp_err_t e =
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)kn),
                                  RD_KAFKA_V_VALUE(val, (size_t)vn),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (e) {
                fprintf(stderr, "kafkatool: produce: %s\n", rd_kafka_err2str(e));
                return 1;
            }
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    while (rd_kafka_outq_len(rk) > 0 && !stop)
        rd_kafka_poll(rk, 50);
    double dt = now_s() - t0;
    fprintf(stderr, "produced=%ld failed=%ld seconds=%.3f rate=%.0f\n", delivered, failed, dt,
            (double)delivered / dt);
    rd_kafka_destroy(rk);
    return failed ? 1 : 0;
}

static int consume(int argc, char **argv)
{
    const char *bootstrap = NULL, *topic = NULL, *group = "kafkatool";
    long count = 1000, idle_ms = 10000;
    int print = 0, eof = 0;
    const char *extra[16];
    int nextra = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-p"))
            print = 1;
        else if (!strcmp(argv[i], "-e"))
            eof = 1;
        else if (i + 1 >= argc)
            break;
        else if (!strcmp(argv[i], "-B"))
            bootstrap = argv[++i];
        else if (!strcmp(argv[i], "-t"))
            topic = argv[++i];
        else if (!strcmp(argv[i], "-n"))
            count = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-g"))
            group = argv[++i];
        else if (!strcmp(argv[i], "-i"))
            idle_ms = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-X") && nextra < 16)
            extra[nextra++] = argv[++i];
    }
    if (!bootstrap || !topic)
        return 2;
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "group.id", group);
    for (int i = 0; i < nextra; i++) {
        char kv[256];
        snprintf(kv, sizeof kv, "%s", extra[i]);
        char *eq = strchr(kv, '=');
        if (eq) {
            *eq = 0;
            set(conf, kv, eq + 1);
        }
    }
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "enable.auto.commit", "false");
    if (eof) /* the kafka source's settings */
        set(conf, "enable.partition.eof", "true");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafkatool: %s\n", err);
        return 2;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tl, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    long got = 0, errs = 0;
    double t0 = 0, last = now_s();
    rd_kafka_message_t *msgs[1024];
    while (got < count && !stop && (now_s() - last) * 1000 < (double)idle_ms) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 100, msgs, 1024);
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && errs++ < 5)
                fprintf(stderr, "kafkatool: consume: %s\n", rd_kafka_message_errstr(m));
            if (!m->err) {
                if (!t0)
                    t0 = now_s();
                got++;
                last = now_s();
                if (print)
                    printf("%.*s\n", (int)m->len, (const char *)m->payload);
            }
            rd_kafka_message_destroy(m);
        }
    }
    double dt = t0 ? now_s() - t0 : 0;
    fflush(stdout);
    if (got < count) { /* say where each partition stands, to tell missing from unreadable */
        rd_kafka_topic_partition_list_t *as = NULL;
        if (!rd_kafka_assignment(rk, &as) && as) {
            rd_kafka_position(rk, as);
            for (int i = 0; i < as->cnt; i++) {
                int64_t lo = -1, hi = -1;
                rd_kafka_query_watermark_offsets(rk, as->elems[i].topic, as->elems[i].partition,
                                                 &lo, &hi, 2000);
                fprintf(stderr, "kafkatool: %s[%d] position %lld, watermarks %lld..%lld\n",
                        as->elems[i].topic, (int)as->elems[i].partition,
                        (long long)as->elems[i].offset, (long long)lo, (long long)hi);
            }
            rd_kafka_topic_partition_list_destroy(as);
        }
    }
    fprintf(stderr, "consumed=%ld seconds=%.3f rate=%.0f\n", got, dt, dt > 0 ? got / dt : 0);
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got >= count ? 0 : 1;
}

static int count(int argc, char **argv)
{
    const char *bootstrap = NULL, *topic = NULL;
    for (int i = 0; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "-B"))
            bootstrap = argv[++i];
        else if (!strcmp(argv[i], "-t"))
            topic = argv[++i];
    }
    if (!bootstrap || !topic)
        return 2;
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafkatool: %s\n", err);
        return 2;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "kafkatool: metadata of %s: %s\n", topic,
                rd_kafka_err2str(e               ? e
                                 : md->topic_cnt ? md->topics[0].err
                                                 : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        return 1;
    }
    long long records = 0, start = 0;
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(rk, topic, md->topics[0].partitions[i].id, &lo, &hi,
                                             5000);
        if (e) {
            fprintf(stderr, "kafkatool: watermarks: %s\n", rd_kafka_err2str(e));
            return 1;
        }
        records += hi;
        start += lo;
    }
    printf("records=%lld start=%lld\n", records, start);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        fprintf(stderr, "usage: kafkatool mock|produce|consume|count ...\n");
        return 2;
    }
    if (!strcmp(argv[1], "mock"))
        return mock(argc - 2, argv + 2);
    if (!strcmp(argv[1], "produce"))
        return produce(argc - 2, argv + 2);
    if (!strcmp(argv[1], "consume"))
        return consume(argc - 2, argv + 2);
    if (!strcmp(argv[1], "count"))
        return count(argc - 2, argv + 2);
    fprintf(stderr, "kafkatool: unknown mode %s\n", argv[1]);
    return 2;
}
