/*
 * syslog_blast.c — a fast syslog sender for bench/bench_syslog.sh: builds N messages in
 * memory first (half RFC 5424 with structured data, half RFC 3164, LF-framed or RFC 6587
 * octet-counted), then writes them to host:port over C connections (one thread each), so
 * the sender costs little more than the kernel's copy.
 *
 *   syslog_blast HOST PORT N [CONNECTIONS=1] [lf|octet]    send, print "sent=N seconds=S
 *                                                           start=EPOCH" (start: wall clock
 *                                                           when sending began)
 *   syslog_blast --discard N [CONNECTIONS=1] [lf|octet]     send to a receiver that only
 *                                                           reads (how fast the sender is)
 */
#include "sys/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct job {
    const char *host;
    uint16_t port;
    char *buf;
    size_t len;
    int rc;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *send_all(void *arg)
{
    struct job *j = arg;
    int fd = sl_net_connect_tcp(j->host, j->port);
    if (fd < 0) {
        fprintf(stderr, "connect %s:%u: %s\n", j->host, j->port, strerror(-fd));
        j->rc = 1;
        return NULL;
    }
    size_t off = 0;
    while (off < j->len) {
        size_t chunk = j->len - off < (1u << 20) ? j->len - off : (1u << 20);
        ssize_t n = write(fd, j->buf + off, chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("write");
            j->rc = 1;
            break;
        }
        off += (size_t)n;
    }
    close(fd);
    return NULL;
}

/* message i of connection c, into out; its length */
static int message(char *out, size_t cap, long i, int c)
{
    static const char *const apps[] = {"sshd", "nginx", "kernel", "CRON", "postfix"};
    const char *app = apps[i % 5];
    int pri = (int)(8 * (i % 24) + i % 8);
    if (i % 2 == 0)
        return snprintf(out, cap,
                        "<%d>1 2024-03-10T11:%02ld:%02ld.%06ldZ host%02d.example.com %s %ld ID%ld "
                        "[meta@32473 seq=\"%ld\" conn=\"%d\"] GET /index.html?q=%ld HTTP/1.1 "
                        "200 512 user=alice",
                        pri, (i / 60) % 60, i % 60, i % 1000000, c, app, 1000 + i % 9000, i % 50, i,
                        c, i);
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    return snprintf(out, cap,
                    "<%d>%s %2ld %02ld:%02ld:%02ld host%02d %s[%ld]: Accepted publickey for bob "
                    "from 10.1.%ld.%ld port %ld ssh2 seq=%ld",
                    pri, mon[(i / 86400) % 3], 1 + i % 28, (i / 3600) % 24, (i / 60) % 60, i % 60,
                    c, app, 1000 + i % 9000, (i / 256) % 256, i % 256, 1024 + i % 60000, i);
}

static char *build(long from, long to, int c, int octet, size_t *len)
{
    size_t cap = (size_t)(to - from) * 260 + 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    char m[512];
    for (long i = from; i < to; i++) {
        int k = message(m, sizeof(m), i, c);
        if (cap - n < (size_t)k + 16) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        if (octet)
            n += (size_t)snprintf(buf + n, cap - n, "%d %s", k, m);
        else {
            memcpy(buf + n, m, (size_t)k);
            n += (size_t)k;
            buf[n++] = '\n';
        }
    }
    *len = n;
    return buf;
}

static void *discard(void *arg)
{
    int *lfd = arg;
    char *b = malloc(1 << 20);
    for (;;) {
        int fd = accept(*lfd, NULL, NULL);
        if (fd < 0)
            break;
        while (read(fd, b, 1 << 20) > 0) {
        }
        close(fd);
    }
    free(b);
    return NULL;
}

int main(int argc, char **argv)
{
    int disc = argc > 1 && strcmp(argv[1], "--discard") == 0;
    int base = disc ? 2 : 3;
    if (argc < base + 1) {
        fprintf(stderr, "usage: syslog_blast HOST PORT N [CONNECTIONS] [lf|octet]\n"
                        "       syslog_blast --discard N [CONNECTIONS] [lf|octet]\n");
        return 2;
    }
    const char *host = disc ? "127.0.0.1" : argv[1];
    long port = disc ? 0 : strtol(argv[2], NULL, 10);
    long n = strtol(argv[base], NULL, 10);
    int conns = argc > base + 1 ? (int)strtol(argv[base + 1], NULL, 10) : 1;
    int octet = argc > base + 2 && strcmp(argv[base + 2], "octet") == 0;
    if (conns < 1 || conns > 256 || n < 1)
        return 2;
    pthread_t dt;
    int lfd = -1;
    if (disc) {
        lfd = sl_net_listen_tcp("127.0.0.1", 0, 512);
        sl_net_set_nonblock(lfd, 0);
        port = sl_net_local_port(lfd);
        pthread_create(&dt, NULL, discard, &lfd);
    }
    struct job *jobs = calloc((size_t)conns, sizeof(*jobs));
    pthread_t *th = calloc((size_t)conns, sizeof(*th));
    size_t total = 0;
    for (int c = 0; c < conns; c++) {
        jobs[c].host = host;
        jobs[c].port = (uint16_t)port;
        jobs[c].buf = build(n * c / conns, n * (c + 1) / conns, c, octet, &jobs[c].len);
        if (!jobs[c].buf)
            return 1;
        total += jobs[c].len;
    }
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    double t0 = now_s();
    for (int c = 0; c < conns; c++)
        pthread_create(&th[c], NULL, send_all, &jobs[c]);
    int rc = 0;
    for (int c = 0; c < conns; c++) {
        pthread_join(th[c], NULL);
        rc |= jobs[c].rc;
        free(jobs[c].buf);
    }
    double dt_s = now_s() - t0;
    /* start: when the first byte went out (wall clock, after the messages were built) */
    printf("sent=%ld bytes=%zu seconds=%.3f msgs_per_s=%.0f start=%lld.%09ld\n", n, total, dt_s,
           (double)n / dt_s, (long long)wall.tv_sec, wall.tv_nsec);
    free(jobs);
    free(th);
    return rc;
}
