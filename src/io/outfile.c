/*
 * outfile.c — rotating output files (see outfile.h).
 */
#include "io/outfile.h"

#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void sl_outfile_init(struct sl_outfile *f, const char *tmpl, uint64_t rotate_bytes,
                     int64_t rotate_interval, bool fsync)
{
    memset(f, 0, sizeof(*f));
    f->tmpl = tmpl;
    f->rotate_bytes = rotate_bytes;
    f->rotate_interval = rotate_interval;
    f->fsync = fsync;
    f->fd = -1;
}

static bool rotating(const struct sl_outfile *f)
{
    return f->rotate_bytes || f->rotate_interval;
}

static int mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp)
        return 0;
    *slash = 0;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Render the template; with rotation insert -YYYYmmddTHHMMSS-seq before the extension. */
static void render(struct sl_outfile *f, int64_t now_ns)
{
    time_t t = (time_t)(now_ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[4096];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    /* the template is the user's path; strftime reads only the struct tm */
    size_t blen = strftime(base, sizeof(base), f->tmpl, &tm);
#pragma GCC diagnostic pop
    if (blen == 0)
        snprintf(base, sizeof(base), "%s", f->tmpl);
    if (!rotating(f)) {
        snprintf(f->final, sizeof(f->final), "%s", base);
        return;
    }
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
    const char *slash = strrchr(base, '/');
    const char *dot = strrchr(slash ? slash : base, '.');
    if (!dot || dot == (slash ? slash + 1 : base))
        dot = base + strlen(base);
    snprintf(f->final, sizeof(f->final), "%.*s-%s-%u%s", (int)(dot - base), base, stamp, f->seq,
             dot);
}

int sl_outfile_open(struct sl_outfile *f, bool *fresh)
{
    if (f->fd >= 0) {
        if (fresh)
            *fresh = f->fresh;
        return 0;
    }
    render(f, sl_clock_wall_ns());
    f->seq++;
    int rc = mkdirs(f->final);
    if (rc)
        return rc;
    const char *path = f->final;
    if (rotating(f)) {
        snprintf(f->tmp, sizeof(f->tmp), "%s.tmp", f->final);
        path = f->tmp;
    }
    f->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (f->fd < 0)
        return -errno;
    struct stat st;
    f->fresh = fstat(f->fd, &st) == 0 && st.st_size == 0;
    f->bytes = 0;
    f->opened_at = sl_clock_mono_ns();
    if (fresh)
        *fresh = f->fresh;
    return 0;
}

int sl_outfile_finish(struct sl_outfile *f)
{
    if (f->fd < 0)
        return 0;
    int rc = 0;
    if (f->fsync && fdatasync(f->fd) < 0)
        rc = -errno;
    if (close(f->fd) < 0 && !rc)
        rc = -errno;
    f->fd = -1;
    if (!rotating(f))
        return rc;
    char dst[4200];
    snprintf(dst, sizeof(dst), "%s", f->final);
    struct stat st;
    for (int i = 1; stat(dst, &st) == 0 && i < 100000; i++)
        snprintf(dst, sizeof(dst), "%s.%d", f->final, i);
    if (rename(f->tmp, dst) < 0) {
        rc = -errno;
        sl_error("outfile", "cannot rename %s to %s: %s", f->tmp, dst, strerror(errno));
    }
    return rc;
}

int sl_outfile_write(struct sl_outfile *f, const char *p, size_t n)
{
    int rc = sl_outfile_open(f, NULL);
    if (rc)
        return rc;
    while (n) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
        f->bytes += (uint64_t)w;
    }
    if (f->rotate_bytes && f->bytes >= f->rotate_bytes)
        return sl_outfile_finish(f);
    return 0;
}

int sl_outfile_tick(struct sl_outfile *f)
{
    if (f->fd < 0)
        return 0;
    if (f->rotate_interval && sl_clock_mono_ns() - f->opened_at >= f->rotate_interval)
        return sl_outfile_finish(f);
    if (f->fsync && fdatasync(f->fd) < 0)
        return -errno;
    return 0;
}

int sl_outfile_check(struct sl_outfile *f)
{
    render(f, sl_clock_wall_ns());
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", f->final);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    /* walk up to the deepest directory that exists: that one must be writable */
    struct stat st;
    while (stat(dir, &st) != 0) {
        char *up = strrchr(dir, '/');
        if (!up) {
            snprintf(dir, sizeof(dir), ".");
            break;
        }
        if (up == dir) {
            dir[1] = 0;
            break;
        }
        *up = 0;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return -ENOTDIR;
    if (access(dir, W_OK) != 0)
        return -errno;
    return 0;
}
