/*
 * fuzz_config.c — libFuzzer target for the YAML config loader and option parsing.
 *
 * Any input must either load or fail with a diagnostic that has a message; options of every
 * type are parsed through a component type that declares one option of each kind.
 */
#include "base/alloc.h"
#include "core/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct any_conf {
    char *s;
    int64_t i;
    bool b;
    double d;
    int64_t dur;
    uint64_t size;
    int e;
    struct sl_strlist l;
    struct sl_strmap m;
};

static const struct sl_option any_opts[] = {
    {"s", SL_OPT_STRING, "x", offsetof(struct any_conf, s), "", NULL, 0, 0, 0},
    {"i", SL_OPT_INT, "1", offsetof(struct any_conf, i), "", NULL, 0, 100, 0},
    {"b", SL_OPT_BOOL, "true", offsetof(struct any_conf, b), "", NULL, 0, 0, 0},
    {"d", SL_OPT_DOUBLE, "0.5", offsetof(struct any_conf, d), "", NULL, 0, 0, 0},
    {"dur", SL_OPT_DURATION, "1s", offsetof(struct any_conf, dur), "", NULL, 0, 0, 0},
    {"size", SL_OPT_SIZE, "1KiB", offsetof(struct any_conf, size), "", NULL, 0, 0, 0},
    {"e", SL_OPT_ENUM, "a", offsetof(struct any_conf, e), "", "a|b|c", 0, 0, 0},
    {"l", SL_OPT_STRING_LIST, NULL, offsetof(struct any_conf, l), "", NULL, 0, 0, 0},
    {"m", SL_OPT_STRING_MAP, NULL, offsetof(struct any_conf, m), "", NULL, 0, 0, 0},
    {0},
};

static const struct sl_component_ops any_ops = {.type = "any",
                                                .kind = SL_KIND_SOURCE,
                                                .options = any_opts,
                                                .conf_len = sizeof(struct any_conf)};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_config *cfg = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_config_load_string((const char *)data, size, "fuzz.yaml", &cfg, &d)) {
        if (!d.msg[0])
            abort();
        return 0;
    }
    for (size_t i = 0; i < cfg->ncomps; i++) {
        struct sl_component c;
        memset(&c, 0, sizeof(c));
        c.ops = &any_ops;
        sl_diag_init(&d);
        int rc = sl_config_apply_options(cfg, i, &c, &d);
        if (rc && !d.msg[0])
            abort();
        sl_config_free_options(&any_ops, c.conf);
        sl_free(c.opt_pos);
    }
    sl_config_free(cfg);
    return 0;
}
