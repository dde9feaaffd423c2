/*
 * fdio.h — small file-descriptor helpers.
 */
#ifndef SL_SYS_FDIO_H
#define SL_SYS_FDIO_H

#include <stddef.h>

/* Write all n bytes, retrying on EINTR and short writes. 0 or -errno. */
int sl_fd_write_all(int fd, const void *p, size_t n);

#endif
