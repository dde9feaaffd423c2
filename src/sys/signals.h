/*
 * signals.h — process signals: SIGINT/SIGTERM request a graceful stop; a second one exits
 * at once. SIGPIPE is ignored (sockets report EPIPE instead).
 */
#ifndef SL_SYS_SIGNALS_H
#define SL_SYS_SIGNALS_H

/* Install the handlers. Main thread, once, before other threads start. */
void sl_signals_install(void);
/* Number of stop signals received so far (async-signal-safe counter). */
int sl_signals_stop_requested(void);
/* An fd that becomes readable on the first stop signal (for poll/epoll). */
int sl_signals_fd(void);

#endif
