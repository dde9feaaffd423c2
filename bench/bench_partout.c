/*
 * bench_partout.c — the Partout master's work per aggregate, single core, without HTTP: a fleet
 * of AGENTS agents (default 10,000), each body a level-4 tree of 2 modules x 3 objects x 2
 * messages (12 leaves), parsed and checked (codec/partout_body.h), turned into one event per
 * leaf in a batch (what the source emits), counted into the policy and answered with the
 * agent's settings (state/partout_policy.h). Also the policy alone, and the policy's memory per
 * agent (from the allocation sizes it makes). Best of 5 runs.
 *
 *   bench_partout [AGENTS] [ROUNDS]     (defaults 10000, 20)
 */
#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "codec/partout_body.h"
#include "core/event.h"
#include "state/partout_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    size_t agents = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    size_t rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 20;
    sl_core_init();
    struct sl_buf *bodies = calloc(agents, sizeof(*bodies));
    char(*ids)[48] = calloc(agents, sizeof(*ids));
    for (size_t i = 0; i < agents; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%08zx-c955-4109-a2b8-4d0e7edcf460", i);
        struct sl_buf *b = &bodies[i];
        sl_buf_init(b, 0);
        sl_buf_appendf(b,
                       "{\"agent\":{\"uuid\":\"%s\",\"hostname\":\"host-%zu\",\"count\":24,"
                       "\"modules\":{",
                       ids[i], i);
        for (int m = 0; m < 2; m++) {
            sl_buf_appendf(b, "%s\"mod%d\":{\"count\":12,\"objects\":{", m ? "," : "", m);
            for (int o = 0; o < 3; o++) {
                sl_buf_appendf(b,
                               "%s\"/var/lib/object/%d\":{\"count\":4,\"messages\":{"
                               "\"changed\":{\"level\":\"info\",\"count\":3},"
                               "\"b64:cmVtb3ZlZA\":{\"level\":\"error\",\"count\":1}}}",
                               o ? "," : "", o);
            }
            sl_buf_puts(b, "}}");
        }
        sl_buf_puts(b, "}},\"period_secs\":10}");
    }
    sl_sym f[6] = {sl_sym_intern_c("agent"), sl_sym_intern_c("module"), sl_sym_intern_c("object"),
                   sl_sym_intern_c("msg"),   sl_sym_intern_c("count"),  sl_sym_intern_c("level")};
    struct sl_partout_conf pc;
    sl_partout_conf_default(&pc);
    double best_full = 0, best_policy = 0;
    uint64_t leaves_per = 0;
    for (int run = 0; run < 5; run++) {
        struct sl_partout_policy *p = sl_partout_policy_new(&pc, 0);
        int64_t t0 = sl_clock_mono_ns();
        uint64_t n = 0, leaves = 0;
        for (size_t r = 0; r < rounds; r++) {
            for (size_t i = 0; i < agents; i++) {
                struct sl_batch *b = sl_batch_new();
                char *copy = sl_batch_copy(b, bodies[i].ptr, bodies[i].len);
                struct sl_partout_body pb;
                struct sl_diag d;
                sl_diag_init(&d);
                if (sl_partout_body_parse(&b->arena, copy, bodies[i].len, NULL, &pb, &d)) {
                    fprintf(stderr, "bench_partout: %s\n", d.msg);
                    return 1;
                }
                for (uint32_t k = 0; k < pb.nleaves; k++) {
                    const struct sl_partout_leaf *l = &pb.leaves[k];
                    struct sl_event *ev = sl_batch_push(b);
                    sl_event_set(b, ev, f[0], sl_value_str(pb.uuid.ptr, pb.uuid.len));
                    sl_event_set(b, ev, f[1], sl_value_str(l->module.ptr, l->module.len));
                    sl_event_set(b, ev, f[2], sl_value_str(l->object.ptr, l->object.len));
                    sl_event_set(b, ev, f[3], sl_value_str(l->msg.ptr, l->msg.len));
                    sl_event_set(b, ev, f[5], sl_value_str(l->level.ptr, l->level.len));
                    sl_event_set(b, ev, f[4], sl_value_int((int64_t)l->count));
                }
                int64_t now = sl_clock_mono_ns();
                struct sl_partout_settings st;
                sl_partout_policy_record(p, pb.uuid.ptr, pb.uuid.len, pb.total, now);
                sl_partout_policy_settings(p, pb.uuid.ptr, pb.uuid.len, now, &st);
                leaves += pb.nleaves;
                sl_batch_unref(b);
                n++;
            }
        }
        double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
        if (n / s > best_full)
            best_full = n / s;
        leaves_per = leaves / n;
        /* the policy alone */
        t0 = sl_clock_mono_ns();
        for (size_t r = 0; r < rounds; r++)
            for (size_t i = 0; i < agents; i++) {
                int64_t now = sl_clock_mono_ns();
                struct sl_partout_settings st;
                sl_partout_policy_record(p, ids[i], 36, 24, now);
                sl_partout_policy_settings(p, ids[i], 36, now, &st);
            }
        s = (double)(sl_clock_mono_ns() - t0) / 1e9;
        if ((double)(rounds * agents) / s > best_policy)
            best_policy = (double)(rounds * agents) / s;
        sl_partout_policy_free(p);
    }
    /* per agent: the ring (16 + 8 * window bytes), the key copy, a map slot (32 bytes at load
     * factor <= 0.7, so up to 2 slots per agent after growth) */
    double per_agent = 16.0 + 8.0 * pc.window_buckets + 36 + 1 + 2 * 32.0;
    printf("bench=partout agents=%zu leaves_per_aggregate=%llu aggregates_per_s=%.0f "
           "leaf_counts_per_s=%.0f policy_only_per_s=%.0f policy_bytes_per_agent=%.0f\n",
           agents, (unsigned long long)leaves_per, best_full, best_full * (double)leaves_per,
           best_policy, per_agent);
    for (size_t i = 0; i < agents; i++)
        sl_buf_fini(&bodies[i]);
    free(bodies);
    free(ids);
    return 0;
}
