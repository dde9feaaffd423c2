/*
 * outfile.h — an output file with rotation and atomic finish, shared by the `file` and `csv`
 * sinks (sink thread only).
 *
 * DESIGN: without rotation the file is written in place (append), so `tail -f` works and a
 * restart continues it. With rotation (by size and/or age) each file is written as
 * `<name>.tmp` and renamed to `<name>` when finished, so a reader never sees a half-written
 * file under its final name; a final name that already exists gets `.1`, `.2`, ... appended,
 * never overwritten. The path is a strftime template rendered in UTC when a file opens;
 * missing directories are created.
 */
#ifndef SL_IO_OUTFILE_H
#define SL_IO_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_outfile {
    const char *tmpl;
    uint64_t rotate_bytes;   /* 0: never */
    int64_t rotate_interval; /* ns, 0: never */
    bool fsync;
    /* private */
    int fd;
    char final[4096];
    char tmp[4100];
    uint64_t bytes;
    int64_t opened_at;
    uint32_t seq;
    bool fresh; /* the file was empty when opened (for CSV headers) */
};

void sl_outfile_init(struct sl_outfile *f, const char *tmpl, uint64_t rotate_bytes,
                     int64_t rotate_interval, bool fsync);
/* Check (without creating anything) that the file could be created. 0 or -errno. */
int sl_outfile_check(struct sl_outfile *f);
/* Open the current file if none is open. *fresh tells whether it is empty. 0 or -errno. */
int sl_outfile_open(struct sl_outfile *f, bool *fresh);
/* Write all bytes; rotates afterwards when a limit is reached. 0 or -errno. */
int sl_outfile_write(struct sl_outfile *f, const char *p, size_t n);
/* Periodic: fsync if asked, rotate by age. */
int sl_outfile_tick(struct sl_outfile *f);
/* Close and (when rotating) rename to the final name. */
int sl_outfile_finish(struct sl_outfile *f);

#endif
