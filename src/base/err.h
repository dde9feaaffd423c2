/*
 * err.h — error codes and diagnostics.
 *
 * Every fallible function returns 0 or a negative SL_E* code. The codes come from one
 * X-macro table so the enum and sl_strerror() cannot drift apart. Context that a code
 * cannot carry (file:line:col, byte offset, field) goes into a caller's struct sl_diag.
 */
#ifndef SL_BASE_ERR_H
#define SL_BASE_ERR_H

#include <stddef.h>
#include <stdint.h>

#define SL_ERRORS(X)                                                                               \
    X(EAGAIN, "would block (queue full)")                                                          \
    X(ENOMEM, "out of memory")                                                                     \
    X(E2BIG, "too large")                                                                          \
    X(EINVAL, "invalid argument")                                                                  \
    X(EPARSE, "parse error")                                                                       \
    X(EIO, "input/output error")                                                                   \
    X(ENOENT, "not found")                                                                         \
    X(EEXIST, "already exists")                                                                    \
    X(ECLOSED, "closed")                                                                           \
    X(ETIMEDOUT, "timed out")                                                                      \
    X(EDEPTH, "nesting too deep")                                                                  \
    X(EUTF8, "invalid UTF-8")                                                                      \
    X(ECONFIG, "configuration error")                                                              \
    X(ETYPE, "wrong type")                                                                         \
    X(ERANGE, "out of range")                                                                      \
    X(ESYS, "system call failed")                                                                  \
    X(ELIMIT, "limit reached")                                                                     \
    X(EEVAL, "evaluation error")

enum sl_err {
    SL_OK = 0,
    SL_E__FIRST = -1000,
#define SL_ERR_ENUM(name, msg) SL_##name,
    SL_ERRORS(SL_ERR_ENUM)
#undef SL_ERR_ENUM
        SL_E__LAST
};

/* Name of an SL_E* code (or of a negated errno, for codes above -1000). Never NULL. */
const char *sl_strerror(int err);

/*
 * Context of an error, filled by the function that fails. Callers own it (usually on the
 * stack). `line`/`col` are 1-based (0: unknown); `offset` is a byte offset (-1: unknown).
 */
struct sl_diag {
    char file[256];
    uint32_t line;
    uint32_t col;
    int64_t offset;
    char msg[512];
    char hint[256];
};

void sl_diag_init(struct sl_diag *d);
/* Set the message (printf format). Returns `err` so callers can `return sl_diag_set(...)`. */
int sl_diag_set(struct sl_diag *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sl_diag_hint(struct sl_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Render "file:line:col: msg (hint: ...)" into out. */
void sl_diag_format(const struct sl_diag *d, char *out, size_t out_len);

#endif
