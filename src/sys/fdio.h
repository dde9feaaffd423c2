/*
 * fdio.h — small file-descriptor and path helpers.
 */
#ifndef SL_SYS_FDIO_H
#define SL_SYS_FDIO_H

#include "base/buf.h"

#include <stddef.h>
#include <sys/stat.h>

/* Write all n bytes, retrying on EINTR and short writes. 0 or -errno. */
int sl_fd_write_all(int fd, const void *p, size_t n);

/* Read the whole file at path into out (reset first; a NUL is kept after out->len) and its
 * fstat into *st. 0, SL_E2BIG (larger than max), SL_ENOMEM, or -errno. For small files a
 * process re-reads when they change (tokens, keys, PEM, command sets). */
int sl_fs_read_small(const char *path, size_t max, struct sl_buf *out, struct stat *st);

/* Create the directories above `path` (mkdir -p of its dirname); the parent of each one
 * created is fsynced. 0 or -errno. */
int sl_fs_mkdir_parents(const char *path);
/* Could `path` be opened for appending? An existing path must be a writable file; else the
 * deepest existing directory above it must be writable. Creates nothing. 0 or -errno. */
int sl_fs_check_writable(const char *path);

/* rename(from, to) that never replaces `to`: renameat2(RENAME_NOREPLACE); on a file system
 * without it link + unlink (link fails on an existing name too); without hard links a check
 * then rename (racy, the best there is). 0, or -errno (-EEXIST: the name is taken). */
int sl_fs_rename_noreplace(const char *from, const char *to);

enum sl_fs_variant {
    SL_FS_VARIANT_END,  /* to.1, to.2, ... (rotated NDJSON files) */
    SL_FS_VARIANT_STEM, /* name-1.ext, name-2.ext, ... (finished Parquet files) */
};
/* Rename from to `to`, or, while that is taken, to its first free variant (up to 100,000);
 * the name used goes into used[used_len]. 0 or -errno. */
int sl_fs_rename_unique(const char *from, const char *to, enum sl_fs_variant how, char *used,
                        size_t used_len);

#endif
