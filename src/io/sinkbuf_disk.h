/*
 * sinkbuf_disk.h — the disk store for sinks' `buffer: {type: disk}` (core/sinkbuf.h):
 * codec/evbin records in a state/diskbuf segment log. The app installs it at start-up with
 * sl_sinkbuf_set_store(&sl_io_sinkbuf_disk).
 */
#ifndef SL_IO_SINKBUF_DISK_H
#define SL_IO_SINKBUF_DISK_H

#include "core/sinkbuf.h"

extern const struct sl_sinkbuf_store_ops sl_io_sinkbuf_disk;

#endif
