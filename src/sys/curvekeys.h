/*
 * curvekeys.h — CurveZMQ keys as text: Z85 (RFC 32), hex-encoded Z85 and plain hex.
 *
 * A CurveZMQ key is 32 bytes. People write it three ways, all accepted on input:
 *   - 40 characters of Z85 (libzmq's own form: zmq_curve_keypair, ZMQ_CURVE_*KEY);
 *   - 80 hex digits: the 40 Z85 characters hex-encoded, as the original aggregator's
 *     --secretKey / --publicKey take them (the seed's example keys);
 *   - 64 hex digits: the raw 32 bytes.
 * The length tells the forms apart. Surrounding white space is ignored.
 *
 * DESIGN: self-contained (no libzmq), so config checks and unit tests need no socket
 * library; Z85 is a few lines. Any thread.
 */
#ifndef SL_SYS_CURVEKEYS_H
#define SL_SYS_CURVEKEYS_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

#define SL_CURVEKEY_LEN 32u
/* Enough for the longest text form (80 hex digits) and a NUL. */
#define SL_CURVEKEY_TEXT_MAX 81u

enum sl_curvekey_form {
    SL_CURVEKEY_Z85,     /* 40 chars */
    SL_CURVEKEY_HEX_Z85, /* 80 hex digits, upper case (the aggregator's form) */
    SL_CURVEKEY_HEX,     /* 64 hex digits, lower case */
};

/* Parse a key in any of the three forms into key[32]. 0, or SL_EINVAL with d->msg saying
 * what is wrong (d may be NULL). */
int sl_curvekey_parse(const char *text, size_t len, uint8_t key[SL_CURVEKEY_LEN],
                      struct sl_diag *d);
/* Write key in `form` as a NUL-terminated string; out must hold SL_CURVEKEY_TEXT_MAX. */
void sl_curvekey_format(const uint8_t key[SL_CURVEKEY_LEN], enum sl_curvekey_form form,
                        char out[SL_CURVEKEY_TEXT_MAX]);

/* Z85: len a multiple of 4 (encode) or 5 (decode). Encode writes len * 5 / 4 chars and a NUL;
 * decode writes len * 4 / 5 bytes and returns SL_EINVAL on a character outside the alphabet
 * or a group that overflows 32 bits. */
int sl_z85_encode(const uint8_t *in, size_t len, char *out);
int sl_z85_decode(const char *in, size_t len, uint8_t *out);

#endif
