/*
 * signals.c — stop signals (see signals.h).
 */
#include "sys/signals.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static volatile sig_atomic_t n_stops;
static int sig_fd = -1;

static void on_stop(int sig)
{
    (void)sig;
    int saved = errno; /* the interrupted code may be reading errno */
    n_stops++;
    if (n_stops >= 2) {
        static const char msg[] = "sluice: second signal, exiting now\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)w;
        _exit(130);
    }
    uint64_t one = 1;
    ssize_t w = write(sig_fd, &one, sizeof(one));
    (void)w;
    errno = saved;
}

void sl_signals_install(void)
{
    sig_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int sl_signals_stop_requested(void)
{
    return (int)n_stops;
}

int sl_signals_fd(void)
{
    return sig_fd;
}
