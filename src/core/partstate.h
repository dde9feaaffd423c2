/*
 * partstate.h — partition-scoped state: how stateful stages (the profiler) learn which input
 * partitions this node owns, so that a node taking a partition over can restore the state the
 * previous owner built from it.
 *
 * DESIGN. A source that reads partitioned input from a consumer group (the kafka source) is the
 * only one that knows when a partition arrives or leaves. Stages that keep state per input
 * partition register a pair of hooks for their pipeline at init; the source calls them on its
 * own thread:
 *   - assigned(partition) before it reads a newly assigned partition: the stage restores what
 *     it kept for that partition (a changelog snapshot) and answers the offset from which it
 *     needs the partition read, its snapshot's next offset; the source starts at the lowest of
 *     the committed offset and every stage's answer, and the stage skips the events below its
 *     own (they are in its state already);
 *   - revoked(partition) once the source's drain of the partition finished (every batch it
 *     emitted from the partition has passed the transforms and the sinks acknowledged it): the
 *     stage writes a final snapshot and drops the partition's state. `lost` (the group took the
 *     partition away without a drain) drops it without a snapshot: the next owner restores the
 *     last periodic one.
 * Each assignment of a partition gets a new epoch; the source marks every batch with its
 * origin (core/event.h: topic id, partition, epoch, sequence number) so that a stage applies a
 * partition's batches in the order they were read even when several workers carry them, and
 * drops a batch of an epoch that is over.
 *
 * Threads: register/unregister on the main thread (component init/fini); the rest on any
 * thread (the hooks run under the registry's lock, one at a time).
 */
#ifndef SL_CORE_PARTSTATE_H
#define SL_CORE_PARTSTATE_H

#include <stdbool.h>
#include <stdint.h>

struct sl_pipeline;

/* A partition as the hooks see it. The strings are the source's, valid during the call. */
struct sl_partstate_part {
    const char *topic;
    int32_t partition;
    uint32_t topic_id;  /* sl_partstate_topic_id(topic) */
    uint32_t epoch;     /* this assignment (set by sl_partstate_assigned) */
    int32_t partitions; /* the topic's partition count; 0 when the source could not learn it */
    const char *group;  /* the source's consumer group */
    const char *source; /* the source component's name */
    const char *brokers;
};

#define SL_PARTSTATE_NONE (-1) /* assigned(): no offset needed before the committed one */

struct sl_partstate_ops {
    /* Restore the partition's state; return the next input offset the state does not include
     * (its snapshot's), or SL_PARTSTATE_NONE. A failure to restore is the stage's to log; it
     * then starts empty and answers NONE. */
    int64_t (*assigned)(void *ud, const struct sl_partstate_part *pp);
    /* The partition is let go: snapshot (unless lost) and drop its state. */
    void (*revoked)(void *ud, const struct sl_partstate_part *pp, bool lost);
    /* The stage groups partitions by their topic's partition count (pp->partitions): the
     * source then learns the counts at each assignment (a metadata request per topic). */
    bool partition_counts;
};

/* Register a stage's hooks for pipeline pipe (the ops and ud outlive the registration). */
void sl_partstate_register(const struct sl_pipeline *pipe, const struct sl_partstate_ops *ops,
                           void *ud);
/* Remove every registration of ud. */
void sl_partstate_unregister(void *ud);
/* True when a stage of pipe keeps partition-scoped state (the source then marks its batches
 * and puts @kafka.offset on every event). */
bool sl_partstate_active(const struct sl_pipeline *pipe);
/* True when a stage of pipe wants pp->partitions (ops.partition_counts). */
bool sl_partstate_wants_counts(const struct sl_pipeline *pipe);

/* Source side: a new epoch into pp->epoch, then every stage's assigned(); returns the lowest
 * answer, or SL_PARTSTATE_NONE. */
int64_t sl_partstate_assigned(const struct sl_pipeline *pipe, struct sl_partstate_part *pp);
/* Source side: every stage's revoked(). */
void sl_partstate_revoked(const struct sl_pipeline *pipe, const struct sl_partstate_part *pp,
                          bool lost);

/* How far a state has read one input topic: the first offset (of the partition a task holds)
 * that it does not include. Checkpoints carry one per topic of their task. */
struct sl_partstate_offset {
    const char *topic;
    int64_t next; /* >= 0 */
};
#define SL_PARTSTATE_MAX_OFFSETS 4096u
#define SL_PARTSTATE_MAX_NAME    1024u

struct sl_buf;
struct sl_binrd;
struct sl_diag;
/* Append a count and the offsets (name, offset each) to b (a capped buffer). 0, SL_EINVAL (a
 * negative offset, an empty name or one too long, more than SL_PARTSTATE_MAX_OFFSETS),
 * SL_ENOMEM / SL_E2BIG. */
int sl_partstate_offsets_put(struct sl_buf *b, const struct sl_partstate_offset *offs, uint32_t n);
/* Read what sl_partstate_offsets_put() wrote (untrusted: r fails on a bad list, a topic twice
 * included): one allocation with the names inside it (sl_free), NULL when there are none. */
struct sl_partstate_offset *sl_partstate_offsets_get(struct sl_binrd *r, uint32_t *count);

/* The head of a stage's checkpoint: a 4-byte magic, a u32 version, the input offsets. */
int sl_partstate_head_put(struct sl_buf *b, const char magic[4], uint32_t version,
                          const struct sl_partstate_offset *offs, uint32_t n);
/* Read a head (r fails on another magic or version: "not <what> (bad magic)", "an unknown
 * version"); the offsets as sl_partstate_offsets_get gives them. */
struct sl_partstate_offset *sl_partstate_head_get(struct sl_binrd *r, const char magic[4],
                                                  uint32_t version, const char *what,
                                                  uint32_t *count);
/* The end of reading a checkpoint: rc (the decoder's error, 0 if none) or r's failure, or bytes
 * left after the end, into d as "<what>: <reason> at byte N" (or sl_strerror(rc)). 0 when
 * all is well. */
int sl_partstate_read_end(struct sl_binrd *r, int rc, const char *what, struct sl_diag *d);

/* A small stable number (>= 1) for a topic name, the same for the process's lifetime; 0 when the
 * table (4096 names) is full. */
uint32_t sl_partstate_topic_id(const char *topic);
/* The id of a topic already named by sl_partstate_topic_id(), 0 for one never named (the table
 * is not added to: for names read from untrusted input, e.g. a checkpoint). */
uint32_t sl_partstate_topic_find(const char *topic);
/* The name of a topic id, NULL for an unknown one. */
const char *sl_partstate_topic_name(uint32_t id);

#endif
