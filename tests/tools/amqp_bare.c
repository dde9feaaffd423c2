/*
 * amqp_bare.c — bare librabbitmq clients: the baseline of bench/bench_amqp.sh, and a fast
 * queue filler for it.
 *
 *   amqp_bare publish URL QUEUE COUNT [SIZE] [--persistent]
 *       Declare QUEUE (durable), publish COUNT JSON messages {"seq":i,...} of about SIZE
 *       (200) bytes through the default exchange with publisher confirms, waiting for the
 *       confirms after every 1,024 messages (what the sluice sink does per batch). Prints
 *       `seconds=S msgs_per_s=R` on stdout.
 *   amqp_bare consume URL QUEUE COUNT [PREFETCH]
 *       Consume COUNT messages with manual acks (basic.ack multiple every 1,024), prefetch
 *       PREFETCH (2048); nothing is done with a message. Prints `seconds=S msgs_per_s=R`.
 *   amqp_bare count URL QUEUE
 *       Print the number of ready messages in QUEUE.
 *   amqp_bare wait-empty URL QUEUE [TIMEOUT_S]
 *       Poll (every 20 ms) until QUEUE has no ready message; print the seconds it took.
 */
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die_rpc(amqp_connection_state_t st, const char *what)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(st);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return;
    fprintf(stderr, "amqp_bare: %s failed (reply type %d, %s)\n", what, (int)r.reply_type,
            r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? amqp_error_string2(r.library_error)
                                                            : "broker error");
    exit(1);
}

static amqp_connection_state_t open_conn(const char *url_in)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s", url_in);
    struct amqp_connection_info ci;
    if (amqp_parse_url(url, &ci)) {
        fprintf(stderr, "amqp_bare: bad url %s\n", url_in);
        exit(2);
    }
    amqp_connection_state_t st = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(st);
    if (!s || amqp_socket_open(s, ci.host, ci.port)) {
        fprintf(stderr, "amqp_bare: cannot connect to %s:%d\n", ci.host, ci.port);
        exit(1);
    }
    amqp_rpc_reply_t r = amqp_login(st, ci.vhost && *ci.vhost ? ci.vhost : "/", 0, 131072, 0,
                                    AMQP_SASL_METHOD_PLAIN, ci.user, ci.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        fprintf(stderr, "amqp_bare: login failed\n");
        exit(1);
    }
    amqp_channel_open(st, 1);
    die_rpc(st, "channel.open");
    return st;
}

static void close_conn(amqp_connection_state_t st)
{
    amqp_channel_close(st, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(st, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(st);
}

/* Wait until every message up to `last` is confirmed. */
static void wait_confirms(amqp_connection_state_t st, uint64_t last)
{
    uint64_t confirmed = 0;
    while (confirmed < last) {
        amqp_frame_t f;
        if (amqp_simple_wait_frame(st, &f) != AMQP_STATUS_OK) {
            fprintf(stderr, "amqp_bare: connection lost waiting for confirms\n");
            exit(1);
        }
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            const amqp_basic_ack_t *a = f.payload.method.decoded;
            if (a->delivery_tag > confirmed)
                confirmed = a->delivery_tag;
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            fprintf(stderr, "amqp_bare: nacked\n");
            exit(1);
        }
    }
    amqp_maybe_release_buffers(st);
}

static int do_publish(const char *url, const char *queue, long n, int size, int persistent)
{
    amqp_connection_state_t st = open_conn(url);
    amqp_queue_declare(st, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, amqp_empty_table);
    die_rpc(st, "queue.declare");
    amqp_confirm_select(st, 1);
    die_rpc(st, "confirm.select");
    amqp_basic_properties_t p;
    memset(&p, 0, sizeof(p));
    p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.content_type = amqp_cstring_bytes("application/json");
    p.delivery_mode = persistent ? 2 : 1;
    char pad[4096];
    int padn = size > 120 ? size - 120 : 1;
    if (padn >= (int)sizeof(pad))
        padn = (int)sizeof(pad) - 1;
    memset(pad, 'x', (size_t)padn);
    pad[padn] = 0;
    char body[8192];
    double t0 = now_s();
    uint64_t seq = 0;
    for (long i = 0; i < n; i++) {
        int len = snprintf(body, sizeof(body),
                           "{\"seq\":%ld,\"proto\":\"tcp\",\"src\":\"10.0.%ld.%ld\",\"port\":%ld,"
                           "\"pad\":\"%s\"}",
                           i, (i / 256) % 256, i % 256, 1024 + i % 60000, pad);
        amqp_bytes_t b = {(size_t)len, body};
        if (amqp_basic_publish(st, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 0, 0, &p, b)) {
            fprintf(stderr, "amqp_bare: publish failed\n");
            return 1;
        }
        seq++;
        if (seq % 1024 == 0)
            wait_confirms(st, seq);
    }
    wait_confirms(st, seq);
    double secs = now_s() - t0;
    printf("seconds=%.3f msgs_per_s=%.0f\n", secs, (double)n / secs);
    close_conn(st);
    return 0;
}

static int do_consume(const char *url, const char *queue, long n, int prefetch)
{
    amqp_connection_state_t st = open_conn(url);
    amqp_basic_qos(st, 1, 0, (uint16_t)prefetch, 0);
    die_rpc(st, "basic.qos");
    amqp_basic_consume(st, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    die_rpc(st, "basic.consume");
    double t0 = now_s();
    long got = 0;
    uint64_t last = 0;
    while (got < n) {
        amqp_envelope_t env;
        amqp_maybe_release_buffers(st);
        amqp_rpc_reply_t r = amqp_consume_message(st, &env, NULL, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            fprintf(stderr, "amqp_bare: consume failed after %ld\n", got);
            return 1;
        }
        last = env.delivery_tag;
        got++;
        if (got % 1024 == 0)
            amqp_basic_ack(st, 1, last, 1);
        amqp_destroy_envelope(&env);
    }
    amqp_basic_ack(st, 1, last, 1);
    double secs = now_s() - t0;
    printf("seconds=%.3f msgs_per_s=%.0f\n", secs, (double)n / secs);
    close_conn(st);
    return 0;
}

static long ready(amqp_connection_state_t st, const char *queue)
{
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(st, 1, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
    die_rpc(st, "queue.declare (passive)");
    return (long)ok->message_count;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "publish"))
        return do_publish(argv[2], argv[3], strtol(argv[4], NULL, 10),
                          argc > 5 && argv[5][0] != '-' ? (int)strtol(argv[5], NULL, 10) : 200,
                          !strcmp(argv[argc - 1], "--persistent"));
    if (argc >= 5 && !strcmp(argv[1], "consume"))
        return do_consume(argv[2], argv[3], strtol(argv[4], NULL, 10),
                          argc > 5 ? (int)strtol(argv[5], NULL, 10) : 2048);
    if (argc == 4 && !strcmp(argv[1], "count")) {
        amqp_connection_state_t st = open_conn(argv[2]);
        printf("%ld\n", ready(st, argv[3]));
        close_conn(st);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "wait-empty")) {
        double limit = argc > 4 ? strtod(argv[4], NULL) : 300;
        amqp_connection_state_t st = open_conn(argv[2]);
        double t0 = now_s();
        while (ready(st, argv[3]) > 0) {
            if (now_s() - t0 > limit) {
                fprintf(stderr, "amqp_bare: %s not empty after %.0f s\n", argv[3], limit);
                return 1;
            }
            usleep(20000);
        }
        printf("%.3f\n", now_s() - t0);
        close_conn(st);
        return 0;
    }
    fprintf(stderr, "usage: amqp_bare publish|consume|count|wait-empty URL QUEUE ...\n");
    return 2;
}
