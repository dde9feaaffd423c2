/*
 * curvekeys.c — CurveZMQ key text forms (see curvekeys.h).
 *
 * DESIGN: Z85 per ZeroMQ RFC 32 (big-endian groups of 4 bytes as 5 base-85 digits). Parsing
 * decides the form by length only, so a Z85 key that happens to be all hex digits (40
 * characters) is still read as Z85.
 */
#include "sys/curvekeys.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                ".-:+=^!/*?&<>()[]{}@%$#";

static int z85_value(unsigned char ch)
{
    const char *p = ch ? strchr(z85_chars, ch) : NULL;
    return p ? (int)(p - z85_chars) : -1;
}

int sl_z85_encode(const uint8_t *in, size_t len, char *out)
{
    if (len % 4)
        return SL_EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = (uint32_t)in[i] << 24 | (uint32_t)in[i + 1] << 16 | (uint32_t)in[i + 2] << 8 |
                     in[i + 3];
        for (int k = 4; k >= 0; k--) {
            out[o + (size_t)k] = z85_chars[v % 85];
            v /= 85;
        }
        o += 5;
    }
    out[o] = 0;
    return 0;
}

int sl_z85_decode(const char *in, size_t len, uint8_t *out)
{
    if (len % 5)
        return SL_EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 5) {
        uint64_t v = 0;
        for (size_t k = 0; k < 5; k++) {
            int d = z85_value((unsigned char)in[i + k]);
            if (d < 0)
                return SL_EINVAL;
            v = v * 85 + (uint64_t)d;
        }
        if (v > UINT32_MAX)
            return SL_EINVAL;
        out[o++] = (uint8_t)(v >> 24);
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    return 0;
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decode 2n hex digits into n bytes; false on a non-hex character. */
static bool unhex(const char *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(in[2 * i]), lo = hex_digit(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static void put_hex(const uint8_t *in, size_t n, bool upper, char *out)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int bad(struct sl_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct sl_diag *d, const char *fmt, ...)
{
    if (d) {
        char msg[sizeof(d->msg)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        sl_diag_set(d, SL_EINVAL, "%s", msg);
    }
    return SL_EINVAL;
}

int sl_curvekey_parse(const char *text, size_t len, uint8_t key[SL_CURVEKEY_LEN], struct sl_diag *d)
{
    while (len && (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')) {
        text++;
        len--;
    }
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n' ||
                   text[len - 1] == '\r'))
        len--;
    char z85[41];
    switch (len) {
    case 40:
        memcpy(z85, text, 40);
        break;
    case 80: {
        uint8_t ascii[40];
        if (!unhex(text, 40, ascii))
            return bad(d, "a key of %zu characters must be hex-encoded Z85 (0-9, a-f)", len);
        memcpy(z85, ascii, 40);
        break;
    }
    case 64:
        if (!unhex(text, 32, key))
            return bad(d, "a key of %zu characters must be hex (0-9, a-f)", len);
        return 0;
    default:
        return bad(d,
                   "a CurveZMQ key is 40 characters of Z85, 80 hex digits (hex-encoded Z85) or "
                   "64 hex digits, not %zu characters",
                   len);
    }
    if (sl_z85_decode(z85, 40, key))
        return bad(d, "not a valid Z85 key (%zu characters)", len);
    return 0;
}

void sl_curvekey_format(const uint8_t key[SL_CURVEKEY_LEN], enum sl_curvekey_form form,
                        char out[SL_CURVEKEY_TEXT_MAX])
{
    char z85[41];
    switch (form) {
    case SL_CURVEKEY_Z85:
        sl_z85_encode(key, SL_CURVEKEY_LEN, out);
        break;
    case SL_CURVEKEY_HEX_Z85:
        sl_z85_encode(key, SL_CURVEKEY_LEN, z85);
        put_hex((const uint8_t *)z85, 40, true, out);
        break;
    case SL_CURVEKEY_HEX:
        put_hex(key, SL_CURVEKEY_LEN, false, out);
        break;
    }
}
