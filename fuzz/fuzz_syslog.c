/*
 * fuzz_syslog.c — libFuzzer target for the syslog parser (codec/syslog.h).
 *
 * The first byte picks the format (auto, 3164, 5424), a small max_len and a "now" near New
 * Year, so limits and the year inference are reached by short inputs. Checks: every view
 * lies inside the input; the return code agrees with parse_error; an error keeps the raw
 * input as the message and an offset within it; PRI fields in range; SD indexes consistent;
 * unescaping never writes more than the value's length.
 */
#include "base/str.h"
#include "codec/syslog.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void inside(struct sl_str s, const char *p, size_t n)
{
    if (!s.len)
        return;
    if (s.ptr < p || s.ptr + s.len > p + n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sl_syslog_msg m;
    uint8_t sel = size ? data[0] : 0;
    size_t n = size ? size - 1 : 0;
    /* a heap copy of its own so ASan sees a read past the end */
    char *p = malloc(n ? n : 1);
    if (!p)
        return 0;
    memcpy(p, data + (size ? 1 : 0), n);
    struct sl_syslog_opts o = {.format = (enum sl_syslog_format)(sel % 3),
                               .now_ns = (sel & 4) ? 1704067170LL * 1000000000LL /* 2023-12-31 */
                                                   : 1710072000LL * 1000000000LL,
                               .future_days = (sel >> 3) & 7,
                               .tz_offset_s = (sel & 64) ? -5 * 3600 : 0,
                               .max_len = (sel & 128) ? 64 : 0};
    int rc = sl_syslog_parse(p, n, &o, &m);
    if ((rc != 0) != m.parse_error)
        abort();
    if (m.parse_error && (!m.error || m.error_offset > n || (m.msg.len && m.msg.ptr != p)))
        abort();
    if (m.facility < -1 || m.facility > 23 || m.severity < -1 || m.severity > 7)
        abort();
    inside(m.ts_text, p, n);
    inside(m.host, p, n);
    inside(m.app, p, n);
    inside(m.procid, p, n);
    inside(m.msgid, p, n);
    inside(m.sd_text, p, n);
    inside(m.msg, p, n);
    if (m.sd_count > SL_SYSLOG_MAX_SD_ELEMS || m.param_count > SL_SYSLOG_MAX_SD_PARAMS)
        abort();
    uint32_t total = 0;
    for (uint32_t i = 0; i < m.sd_count; i++) {
        const struct sl_syslog_sd_elem *e = &m.sd[i];
        inside(e->id, p, n);
        if (e->first != total || e->first + e->count > m.param_count)
            abort();
        total += e->count;
        for (uint32_t j = 0; j < e->count; j++) {
            const struct sl_syslog_sd_param *pa = &m.params[e->first + j];
            inside(pa->name, p, n);
            inside(pa->value, p, n);
            char *out = malloc(pa->value.len ? pa->value.len : 1);
            if (!out)
                abort();
            if (sl_syslog_sd_unescape(pa->value, out) > pa->value.len)
                abort();
            free(out);
        }
    }
    if (!m.parse_error && total != m.param_count)
        abort();
    free(p);
    return 0;
}
