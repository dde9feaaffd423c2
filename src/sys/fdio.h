/*
 * fdio.h — small file-descriptor and path helpers.
 */
#ifndef SL_SYS_FDIO_H
#define SL_SYS_FDIO_H

#include <stddef.h>

/* Write all n bytes, retrying on EINTR and short writes. 0 or -errno. */
int sl_fd_write_all(int fd, const void *p, size_t n);

/* Create the directories above `path` (mkdir -p of its dirname). 0 or -errno. */
int sl_fs_mkdir_parents(const char *path);
/* Could `path` be opened for appending? An existing path must be a writable file; else the
 * deepest existing directory above it must be writable. Creates nothing. 0 or -errno. */
int sl_fs_check_writable(const char *path);

#endif
