/*
 * fdio.c — file-descriptor helpers (see fdio.h).
 */
#include "sys/fdio.h"

#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

int sl_fs_mkdir_parents(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(dir, 0755) < 0) {
            if (errno != EEXIST)
                return -errno;
        } else {
            /* a new directory is an entry of its parent: durable once the parent is synced
             * (a file renamed into it later would otherwise hang on a lost directory) */
            char *slash = strrchr(dir, '/');
            int pfd;
            if (!slash || slash == dir) {
                pfd = open(slash ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            } else {
                *slash = 0;
                pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                *slash = '/';
            }
            int rc = 0;
            if (pfd < 0 || fsync(pfd) < 0)
                rc = -errno;
            if (pfd >= 0)
                close(pfd);
            if (rc)
                return rc;
        }
        *p = '/';
    }
    return 0;
}

int sl_fs_check_writable(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return -EISDIR;
        return access(path, W_OK) == 0 ? 0 : -errno;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            snprintf(dir, sizeof(dir), ".");
        else if (slash == dir)
            dir[1] = 0;
        else
            *slash = 0;
        if (stat(dir, &st) == 0)
            break;
        if (errno != ENOENT || !slash || slash == dir)
            return -errno;
    }
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    return access(dir, W_OK | X_OK) == 0 ? 0 : -errno;
}

int sl_fs_rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    if (link(from, to) == 0)
        return unlink(from) == 0 ? 0 : -errno;
    if (errno == EEXIST)
        return -EEXIST;
    /* neither (some FUSE and network filesystems): check, then rename. Not atomic against
     * other processes; one lock makes it so against this process's other threads (the
     * receiver's pool, two sinks) */
    static pthread_mutex_t fallback = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&fallback);
    struct stat st;
    int rc = stat(to, &st) == 0 ? -EEXIST : rename(from, to) == 0 ? 0 : -errno;
    pthread_mutex_unlock(&fallback);
    return rc;
}

int sl_fs_rename_unique(const char *from, const char *to, enum sl_fs_variant how, char *used,
                        size_t used_len)
{
    const char *slash = strrchr(to, '/');
    const char *dot = strrchr(to, '.');
    size_t stem = how == SL_FS_VARIANT_STEM && dot && (!slash || dot > slash + 1)
                      ? (size_t)(dot - to)
                      : strlen(to);
    for (unsigned k = 0; k < 100000; k++) {
        int n = k == 0 ? snprintf(used, used_len, "%s", to)
                : how == SL_FS_VARIANT_END
                    ? snprintf(used, used_len, "%s.%u", to, k)
                    : snprintf(used, used_len, "%.*s-%u%s", (int)stem, to, k, to + stem);
        if (n < 0 || (size_t)n >= used_len)
            return -ENAMETOOLONG;
        int rc = sl_fs_rename_noreplace(from, used);
        if (rc != -EEXIST)
            return rc;
    }
    return -EEXIST;
}

int sl_fs_read_small(const char *path, size_t max, struct sl_buf *out, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (fstat(fd, st) != 0) {
        rc = -errno;
        goto done;
    }
    if ((uint64_t)st->st_size > max) {
        rc = SL_E2BIG;
        goto done;
    }
    sl_buf_reset(out);
    char tmp[65536];
    for (;;) {
        ssize_t k = read(fd, tmp, sizeof(tmp));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        if (k == 0)
            break;
        if ((rc = sl_buf_append(out, tmp, (size_t)k)) != 0)
            break;
    }
    if (!rc && sl_buf_putc(out, '\0') == 0)
        out->len--;
done:
    close(fd);
    return rc;
}
