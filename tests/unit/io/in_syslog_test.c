/*
 * in_syslog_test.c — the `syslog` source through the real runtime: the events of TCP
 * (LF and octet-counted on one connection) and UDP messages field by field, malformed and
 * over-long messages as events with parse_error, and no heap allocation per message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../testkit.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"
#include "sys/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int free_port(void)
{
    int fd = sl_net_listen_tcp("127.0.0.1", 0, 1);
    assert_true(fd >= 0);
    int port = sl_net_local_port(fd);
    close(fd);
    return port;
}

static struct sl_pipeline *start(int port, const char *extra, const char *sink,
                                 struct sl_config **cfg)
{
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  s: {type: syslog, listen: \"127.0.0.1:%d\", udp: \"127.0.0.1:%d\"%s}\n"
             "sinks:\n  out: {type: %s, inputs: [s]}\n",
             port, port, extra, sink);
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_config_load_string(yaml, strlen(yaml), "t.yaml", cfg, &d))
        fail_msg("config: %s", d.msg);
    struct sl_pipeline_opts o = {.workers = 1, .queue_batches = 4};
    struct sl_pipeline *p = sl_pipeline_new(*cfg, &o, &d);
    if (!p)
        fail_msg("pipeline: %s", d.msg);
    assert_int_equal(sl_pipeline_start(p), 0);
    return p;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        assert_true(k > 0);
        p += k;
        n -= (size_t)k;
    }
}

static void wait_events(struct sl_pipeline *p, uint64_t n)
{
    struct sl_component *s = sl_pipeline_find(p, "s");
    for (int i = 0; i < 3000 && atomic_load(&s->m.events_out) < n; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&s->m.events_out), n);
}

static void test_fields(void **state)
{
    (void)state;
    int port = free_port();
    struct sl_config *cfg;
    struct sl_pipeline *p = start(port, ", max_message: 100", "collect", &cfg);
    int fd = sl_net_connect_tcp("127.0.0.1", (uint16_t)port);
    assert_true(fd >= 0);
    const char *tcp = "<165>1 2003-10-11T22:14:15.003Z mymachine evntslog - ID47 [ex@1 "
                      "iut=\"3\" q=\"a\\\"b\"] \xEF\xBB\xBFhello\n"
                      "38 <86>Mar 10 11:58:01 web01 sshd[42]: hi"
                      "garbage\n"
                      "<13>1 - h a - - - "
                      "0123456789012345678901234567890123456789012345678901234567890123456789012345"
                      "67890123456789\n";
    send_all(fd, tcp, strlen(tcp));
    close(fd);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char *dg = "<11>Mar  9 06:25:01 host CRON[123]: udp\n";
    assert_true(sendto(u, dg, strlen(dg), 0, (struct sockaddr *)&a, sizeof(a)) > 0);
    close(u);
    wait_events(p, 5);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000));
    struct collect *c = sl_pipeline_find(p, "out")->state;
    const char *t = c->text.ptr;
    static const char *const want[] = {
        "{\"facility\":20,\"facility_name\":\"local4\",\"severity\":5,\"severity_name\":"
        "\"notice\",\"timestamp\":\"2003-10-11T22:14:15.003000000Z\",\"host\":\"mymachine\","
        "\"app\":\"evntslog\",\"msgid\":\"ID47\",\"sd\":{\"ex@1\":{\"iut\":\"3\",\"q\":"
        "\"a\\\"b\"}},\"message\":\"hello\",\"peer\":\"127.0.0.1:",
        "{\"facility\":10,\"facility_name\":\"authpriv\",\"severity\":6,\"severity_name\":"
        "\"info\",\"timestamp\":\"",
        "\"host\":\"web01\",\"app\":\"sshd\",\"procid\":\"42\",\"message\":\"hi\",\"peer\":",
        "{\"message\":\"garbage\",\"peer\":\"127.0.0.1:",
        "\"parse_error\":true,\"parse_error_reason\":\"not syslog: no PRI and no "
        "timestamp\",\"parse_error_offset\":0}",
        "\"message\":\"<13>1 - h a - - - "
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901\","
        "\"peer\":\"127.0.0.1:",
        "\"parse_error\":true,\"parse_error_reason\":\"message longer than max_message "
        "(truncated)\",\"parse_error_offset\":100}",
        "{\"facility\":1,\"facility_name\":\"user\",\"severity\":3,\"severity_name\":\"err\","
        "\"timestamp\":\"",
        "\"host\":\"host\",\"app\":\"CRON\",\"procid\":\"123\",\"message\":\"udp\",\"peer\":"
        "\"127.0.0.1:",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(t, want[i]))
            fail_msg("missing %s\nin\n%s", want[i], t);
    assert_int_equal(c->events, 5);
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

static void test_no_heap_allocation_per_message(void **state)
{
    (void)state;
    int port = free_port();
    struct sl_config *cfg;
    struct sl_pipeline *p = start(port, "", "\"null\"", &cfg);
    const size_t n = 100000;
    struct sl_buf in;
    sl_buf_init(&in, 0);
    for (size_t i = 0; i < n; i++) {
        if (i % 2)
            sl_buf_appendf(&in,
                           "<165>1 2024-03-10T11:00:00.%06zuZ h%zu app 77 ID [x@1 a=\"%zu\" "
                           "b=\"q\\\"\"] message %zu\n",
                           i, i % 10, i, i);
        else
            sl_buf_appendf(&in, "%s", "<13>Mar 10 11:00:00 host tag[1]: bsd message\n");
    }
    uint64_t a0 = sl_alloc_count();
    int fd = sl_net_connect_tcp("127.0.0.1", (uint16_t)port);
    assert_true(fd >= 0);
    send_all(fd, in.ptr, in.len);
    close(fd);
    wait_events(p, n);
    uint64_t allocs = sl_alloc_count() - a0;
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000));
    sl_pipeline_free(p);
    sl_config_free(cfg);
    sl_buf_fini(&in);
    print_message("%llu allocations for %zu messages\n", (unsigned long long)allocs, n);
    assert_true(allocs * 50 < n);
}

/* A connection that closes inside an octet-counted frame: what arrived is an event flagged
 * parse_error (docs/components/syslog-source.md, "Framing"), not a well-formed message. */
static void test_octet_frame_cut_by_close(void **state)
{
    (void)state;
    int port = free_port();
    struct sl_config *cfg;
    struct sl_pipeline *p = start(port, ", framing: octet", "collect", &cfg);
    int fd = sl_net_connect_tcp("127.0.0.1", (uint16_t)port);
    assert_true(fd >= 0);
    const char *tcp = "100 <13>1 2024-03-10T11:00:00Z host app - - - rm -rf /tmp/x";
    send_all(fd, tcp, strlen(tcp));
    close(fd);
    wait_events(p, 1);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000));
    struct collect *c = sl_pipeline_find(p, "out")->state;
    const char *t = c->text.ptr;
    if (!strstr(t, "\"parse_error\":true") || strstr(t, "\"host\":\"host\""))
        fail_msg("a frame cut short is not flagged:\n%s", t);
    if (!strstr(t, "\"message\":\"<13>1 2024-03-10T11:00:00Z host app - - - rm -rf /tmp/x\""))
        fail_msg("the raw frame is not the message:\n%s", t);
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Out of file descriptors (clients waiting in the backlog, accept() fails with EMFILE): the
 * level-triggered listener must not make the source thread spin on accept(). */
static void test_fd_exhaustion_does_not_spin(void **state)
{
    (void)state;
    int port = free_port();
    struct sl_config *cfg;
    struct sl_pipeline *p = start(port, "", "collect", &cfg);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* the clients live in another process: only the server runs out of descriptors */
        /* only async-signal-safe calls after fork() in a threaded process (no getaddrinfo) */
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        for (int i = 0; i < 64; i++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
                _exit(1);
        }
        char x = 1;
        if (write(ready[1], &x, 1) != 1)
            _exit(1);
        sleep(20); /* killed long before, unless the test failed on the way */
        _exit(0);
    }
    close(ready[1]);
    struct rlimit low = old;
    low.rlim_cur = (rlim_t)open_fds() + 8;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    char x;
    assert_int_equal(read(ready[0], &x, 1), 1);
    usleep(300 * 1000); /* the server accepts what it can */
    double c0 = cpu_s();
    usleep(500 * 1000);
    double used = cpu_s() - c0;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(ready[0]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000));
    sl_pipeline_free(p);
    sl_config_free(cfg);
    print_message("%.3f s of CPU in 0.5 s while out of descriptors\n", used);
    assert_true(used < 0.15);
}

int main(void)
{
    sl_core_init();
    static const struct sl_component_ops *types[64];
    size_t n = 0;
    for (const struct sl_component_ops *const *t = sl_io_builtins(); *t && n < 62; t++)
        types[n++] = *t;
    types[n++] = &collect_ops;
    types[n] = NULL;
    sl_registry_set(types);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_no_heap_allocation_per_message),
        cmocka_unit_test(test_fd_exhaustion_does_not_spin),
        cmocka_unit_test(test_octet_frame_cut_by_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
