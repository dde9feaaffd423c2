/*
 * fdio.c — file-descriptor helpers (see fdio.h).
 */
#include "sys/fdio.h"

#include <errno.h>
#include <unistd.h>

int sl_fd_write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}
