/*
 * httpd.h — what every HTTP listener of sluice shares (the API, the http and partout
 * sources): listening, TLS with optional client certificates, bearer tokens from a file
 * re-read when it changes, connection limits, timeouts.
 *
 * DESIGN: a thin layer over libmicrohttpd. sl_httpd_start() checks the options, reads the PEM
 * files, binds (a port of 0 picks a free one) and starts the daemon with the caller's handler;
 * the handler calls sl_httpd_authorize() where a request needs a token (the caller decides
 * which paths are open: the API keeps /health and /metrics open unless told otherwise).
 *
 * Tokens file (`tokens:`): one "<name> <token>" per line, '#' comments, blank lines ignored;
 * the name is who the token belongs to (logged; for Partout the agent's uuid, "*" for any).
 * The file is checked for changes at most once a second and re-read when it changed; a bad
 * new file is logged and the old tokens stay. Tokens are compared in constant time. A token
 * comes in `Authorization: Bearer <token>` or `X-Api-Key: <token>`.
 *
 * Nothing listens beyond loopback unless configured: the caller's `listen` is required and
 * used as given.
 */
#ifndef SL_IO_HTTPD_H
#define SL_IO_HTTPD_H

#include "base/err.h"
#include "base/str.h"
#include "core/component.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- tokens */

struct sl_tokens;

/* Load the tokens file at path. 0, or SL_EIO / SL_EPARSE (FILE:LINE) / SL_E2BIG in d. */
int sl_tokens_open(const char *path, const char *who, struct sl_tokens **out, struct sl_diag *d);
void sl_tokens_close(struct sl_tokens *t); /* NULL is fine */
size_t sl_tokens_count(struct sl_tokens *t);

enum sl_auth {
    SL_AUTH_OK,
    SL_AUTH_MISSING,   /* no token in the request: 401 */
    SL_AUTH_UNKNOWN,   /* a token the file does not have: 401 */
    SL_AUTH_FORBIDDEN, /* a known token given to someone else than `name`: 403 */
};

/* Is token known (name NULL), or given to `name` or to "*"? *who (may be NULL) gets the
 * token's name (static until the next reload: copy it) when known. Any thread. */
enum sl_auth sl_tokens_check(struct sl_tokens *t, const char *token, const struct sl_str *name,
                             const char **who);

/* The request's token (Authorization: Bearer, or X-Api-Key), or NULL. */
const char *sl_httpd_token_of(struct MHD_Connection *conn);

/* ---- listener */

struct sl_httpd_opts {
    const char *what;               /* for messages: "api", "http source 'in'" */
    const char *listen;             /* "host:port" */
    const char *tls_cert, *tls_key; /* PEM files: HTTPS */
    const char *tls_ca;             /* PEM file: client certificates checked against it */
    bool require_client_cert;       /* with tls_ca: a client without a certificate is refused */
    const char *tokens;             /* tokens file; NULL: no tokens */
    unsigned threads;               /* 0: one internal thread; else a pool */
    unsigned max_connections;       /* 0: 256 */
    unsigned max_per_ip;            /* 0: no per-address limit */
    unsigned timeout_secs;          /* idle connections closed after it (0: 60) */
    unsigned backlog;               /* 0: 512 */
};

/* The options of every HTTP source, embedded in its conf as `struct sl_httpd_conf net;` with
 * SL_HTTPD_OPTIONS(struct my_conf, net) in its option table (docs/components/sources.md
 * "Listener security"). */
struct sl_httpd_conf {
    char *tls_cert, *tls_key, *tls_ca;
    int tls_client_cert; /* 0: optional, 1: required */
    int64_t max_connections, max_per_ip;
};

#define SL_HTTPD_OPTIONS(type, m)                                                                  \
    {"tls_cert",                                                                                   \
     SL_OPT_STRING,                                                                                \
     NULL,                                                                                         \
     offsetof(type, m.tls_cert),                                                                   \
     "PEM certificate (chain): serve HTTPS",                                                       \
     NULL,                                                                                         \
     0,                                                                                            \
     0,                                                                                            \
     0},                                                                                           \
        {"tls_key",                                                                                \
         SL_OPT_STRING,                                                                            \
         NULL,                                                                                     \
         offsetof(type, m.tls_key),                                                                \
         "PEM private key of tls_cert",                                                            \
         NULL,                                                                                     \
         0,                                                                                        \
         0,                                                                                        \
         0},                                                                                       \
        {"tls_ca",                                                                                 \
         SL_OPT_STRING,                                                                            \
         NULL,                                                                                     \
         offsetof(type, m.tls_ca),                                                                 \
         "PEM CA(s): ask clients for certificates and check them against these",                   \
         NULL,                                                                                     \
         0,                                                                                        \
         0,                                                                                        \
         0},                                                                                       \
        {"tls_client_cert",                                                                        \
         SL_OPT_ENUM,                                                                              \
         "optional",                                                                               \
         offsetof(type, m.tls_client_cert),                                                        \
         "with tls_ca: optional (a certificate given must verify) or required",                    \
         "optional|required",                                                                      \
         0,                                                                                        \
         0,                                                                                        \
         0},                                                                                       \
        {"max_connections",                                                                        \
         SL_OPT_INT,                                                                               \
         "256",                                                                                    \
         offsetof(type, m.max_connections),                                                        \
         "connections at once (more wait in the kernel's backlog)",                                \
         NULL,                                                                                     \
         1,                                                                                        \
         100000,                                                                                   \
         0},                                                                                       \
    {                                                                                              \
        "max_per_ip", SL_OPT_INT, "0", offsetof(type, m.max_per_ip),                               \
            "connections at once from one client address (0: no limit)", NULL, 0, 100000, 0        \
    }

/* Copy the shared options into o (listen, tokens, what, threads stay the caller's). */
void sl_httpd_opts_set(struct sl_httpd_opts *o, const struct sl_httpd_conf *cf);

struct sl_httpd;

/* Start serving: h(cls, ...) answers requests, done(done_cls, ...) (may be NULL) runs when one
 * ends. *out is set before the first request can reach h, so a handler may read the caller's
 * copy of it. Errors: "<what>: ..." in d; *bad_opt (may be NULL) gets the key of the option at
 * fault ("listen", "tls_key", "tokens"...) for file:line:col. */
int sl_httpd_start(const struct sl_httpd_opts *o, MHD_AccessHandlerCallback h, void *cls,
                   MHD_RequestCompletedCallback done, void *done_cls, struct sl_httpd **out,
                   const char **bad_opt, struct sl_diag *d);
void sl_httpd_stop(struct sl_httpd *s); /* NULL is fine */
int sl_httpd_port(const struct sl_httpd *s);
bool sl_httpd_tls(const struct sl_httpd *s);
struct sl_tokens *sl_httpd_tokens(struct sl_httpd *s); /* NULL without `tokens` */

/* With tls_ca: the client's certificate, when presented (always, when required), verifies
 * against the CA. True when the connection may go on. */
bool sl_httpd_client_cert_ok(struct sl_httpd *s, struct MHD_Connection *conn);

/* Authorize a request against the tokens (always OK without a tokens file). */
enum sl_auth sl_httpd_authorize(struct sl_httpd *s, struct MHD_Connection *conn, const char **who);

/* Queue a JSON error answer {"error": msg} with `status` (401 adds WWW-Authenticate: Bearer,
 * 429 and 503 add Retry-After: 1). */
enum MHD_Result sl_httpd_error(struct MHD_Connection *conn, unsigned status, const char *msg);
/* The answer for a failed authorization (401 or 403). */
enum MHD_Result sl_httpd_refuse(struct MHD_Connection *conn, enum sl_auth a);

#endif
