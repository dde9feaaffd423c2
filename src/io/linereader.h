/*
 * linereader.h — turns a byte stream into events, one per line (JSON lines or raw lines).
 *
 * Used by the file, stdin, tcp and http sources (one reader per file, connection or body;
 * the thread that feeds it owns it, no locking inside). Complete lines are copied into the
 * current batch's arena and parsed there, so events point into batch memory; a full batch
 * (SL_BATCH_EVENTS or SL_BATCH_BYTES) is handed to sl_source_emit() (or to the function set
 * with sl_linereader_set_emit), which may block: that is back-pressure. Bad lines (malformed
 * JSON, over-long lines) become dead letters (sl_error_event) with `where`, the line number
 * and the byte offset where the line starts; they are handed over with the next batch.
 *
 * Lines: a trailing \r is stripped; blank lines (spaces, tabs, \r only) are skipped but
 * numbered; a line longer than max_line is a dead letter (its first max_line bytes) and the
 * rest up to the next newline is skipped. Event time (ts_ns): the arrival time, read once per
 * feed() call. b->bytes counts the input bytes (see linereader.c on dead letters).
 */
#ifndef SL_IO_LINEREADER_H
#define SL_IO_LINEREADER_H

#include "core/component.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SL_LINES_ZEEK: Zeek TSV or JSON logs, typed by #path or the file name (codec/zeek.h); the
 * reader keeps the TSV header state; event time from `ts` when there is one. */
enum sl_line_format { SL_LINES_JSON, SL_LINES_RAW, SL_LINES_ZEEK };

struct sl_linereader_opts {
    enum sl_line_format format;
    size_t max_line;       /* 0: 1 MiB */
    sl_sym message_field;  /* raw lines go here; 0: "message" */
    const char *where;     /* origin for dead letters (file path, peer); copied */
    uint64_t first_line;   /* line number of the first line fed (0: 1) */
    uint64_t first_offset; /* byte offset of the first byte fed (resume positions) */
};

/* Takes the reference to b in every case (also when it fails). is_errors: a batch of dead
 * letters. A non-zero return (SL_ECLOSED, SL_EAGAIN...) is passed back by feed/finish/flush,
 * which then stop: the caller decides (give up, answer 503...). */
typedef int (*sl_linereader_emit_fn)(void *arg, struct sl_batch *b, bool is_errors);

struct sl_linereader;

/* c: the source (name for dead letters, counters, default emit). Aborts on OOM (small). */
struct sl_linereader *sl_linereader_new(struct sl_component *c, const struct sl_linereader_opts *o);
/* Drops what was not emitted (call finish first to hand it over). NULL is a no-op. */
void sl_linereader_free(struct sl_linereader *r);
/* Replace sl_source_emit / sl_source_emit_errors (tests, HTTP). */
void sl_linereader_set_emit(struct sl_linereader *r, sl_linereader_emit_fn fn, void *arg);
/* Feed bytes (any split). Returns 0, or what the emit function returned (SL_ECLOSED...). */
int sl_linereader_feed(struct sl_linereader *r, const char *p, size_t n);
/* End of stream: a last line without newline counts; everything pending is emitted. */
int sl_linereader_finish(struct sl_linereader *r);
/* Emit the partial batch now (idle flush). */
int sl_linereader_flush(struct sl_linereader *r);
/* Number of the last complete line seen (first_line - 1 before any). */
uint64_t sl_linereader_lines(const struct sl_linereader *r);
/* Byte offset just past the last complete line consumed (for resume positions). */
uint64_t sl_linereader_offset(const struct sl_linereader *r);
/* Byte offset just past the last line handed to a batch (an event, a dead letter or a blank
 * line), and the number of the line after it: where a reader that resumes after everything
 * emitted so far starts (the file source's checkpoints; inside an emit function these are
 * the position after the batch being emitted). A partial line fed is not included. */
uint64_t sl_linereader_taken(const struct sl_linereader *r, uint64_t *next_line);
/* Events and dead letters produced so far. */
uint64_t sl_linereader_events(const struct sl_linereader *r);
uint64_t sl_linereader_errors(const struct sl_linereader *r);

#endif
