/*
 * diskbuf.c — the segment log behind disk-buffered sinks (see diskbuf.h for the format and
 * the contract).
 *
 * DESIGN: the writer owns its segment's descriptor and writes with pwrite at `woff` outside
 * the lock; only the new end (woff, wseg) is published under the lock, so the reader never
 * sees a half-written record and never waits for a write or an fsync. The reader owns its
 * own descriptor and cursor. Records read but not acknowledged sit in a ring of tickets in
 * read order; an ack marks its entry done and the read pointer moves over the done prefix,
 * which makes acks in any order (Kafka delivery reports) safe. A nack cancels its entry and
 * all later ones (their records are read again: the reader rewinds), so the pointer never
 * passes a record that still has to be delivered. Counts of buffered records and bytes drop
 * when the pointer passes a record, not at the ack, so a rewind cannot count a record twice.
 */
#include "state/diskbuf.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/outage.h"
#include "sys/thread.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SEG_HDR   16u
#define REC_HDR   8u
#define RING_CAP  8192u
#define SLOT_LEN  32u
#define NO_TICKET UINT64_MAX

static const char SEG_MAGIC[8] = {'S', 'L', 'D', 'B', 'S', 'E', 'G', '1'};

enum { E_INFLIGHT, E_DONE, E_CANCELLED };

struct entry {
    uint64_t ticket;
    uint64_t seg, start, end;
    uint8_t state;
};

struct sl_diskbuf {
    struct sl_diskbuf_opts o;
    char *dir, *name;
    int dir_fd, lock_fd, ack_fd;
    struct sl_mutex lock;
    struct sl_cond cond; /* guarded_by: lock — data appended, room made, wake */
    /* writer (writer thread; wseg/woff published under lock) */
    int wfd;
    uint64_t wseg, woff; /* guarded_by: lock (written by the writer only) */
    uint64_t unsynced, unsynced_bytes;
    int64_t last_sync_ns;
    int64_t last_ack_sync_ns; /* guarded_by: lock */
    atomic_bool roll_next;    /* after a failed fsync: new data goes to a new segment */
    atomic_uint_fast64_t nwrites, nfsyncs;
    struct sl_outage wfail; /* writer thread: appends failing (disk full), logged per episode */
    atomic_bool failing;    /* the last append failed to write (stats) */
    /* reader (reader thread) */
    int rfd;
    uint64_t rfd_seg, rfd_size; /* segment open in rfd; its size when not the write one */
    uint64_t rseg, roff;
    /* tickets, pointer, counts: guarded_by: lock */
    struct entry *ring;
    uint64_t head, tail; /* tickets [head, tail) are in the ring */
    uint64_t rewind;     /* first ticket to read again, or NO_TICKET */
    bool woken;
    uint64_t aseg, aoff, aseq; /* persisted read pointer */
    bool ack_dirty;
    uint64_t first_seg; /* oldest segment on disk */
    uint64_t disk_bytes, records, bytes;
    uint64_t appended, acked, dropped, corrupt, truncated, write_errors, segments;
    int64_t recover_ns;
};

const char *sl_diskbuf_sync_name(enum sl_diskbuf_sync s)
{
    static const char *const names[] = {
#define SL_DB_SYNC_NAME(n, s) s,
        SL_DISKBUF_SYNCS(SL_DB_SYNC_NAME)
#undef SL_DB_SYNC_NAME
    };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static uint32_t rec_check(const void *p, uint32_t n)
{
    return (uint32_t)sl_hash64_seed(p, n, 0x51d0b0f5ull ^ n);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void seg_path(const struct sl_diskbuf *db, uint64_t id, char *out, size_t n)
{
    snprintf(out, n, "%s/seg-%016" PRIx64 ".log", db->dir, id);
}

/* Writer thread: an append could not write segment `seg` (err: the errno). Counted; logged
 * with the path and the reason once per episode (a full disk retries for as long as it is
 * full: one line, a reminder a minute, and one when writes succeed again). */
static void write_failed(struct sl_diskbuf *db, uint64_t seg, int err)
{
    sl_mutex_lock(&db->lock);
    db->write_errors++;
    sl_mutex_unlock(&db->lock);
    atomic_store(&db->failing, true);
    if (sl_outage_fail(&db->wfail, sl_clock_mono_ns())) {
        char path[4200];
        seg_path(db, seg, path, sizeof path);
        sl_error(db->name,
                 "disk buffer: cannot write %s: %s; input held back and retried until it "
                 "succeeds (%" PRIu64 " failed attempts so far)",
                 path, strerror(err ? err : EIO), db->wfail.failures);
    }
}

/* Writer thread: an append succeeded; ends a failure episode. */
static void write_ok(struct sl_diskbuf *db)
{
    uint64_t failures;
    int64_t lasted;
    if (sl_outage_ok(&db->wfail, sl_clock_mono_ns(), &failures, &lasted)) {
        atomic_store(&db->failing, false);
        sl_info(db->name,
                "disk buffer %s: writes succeed again after %.1f s (%" PRIu64 " failed attempts)",
                db->dir, (double)lasted / 1e9, failures);
    }
}

/* ---------------------------------------------------------------- faults and I/O */

static int data_pwrite(struct sl_diskbuf *db, int fd, const struct iovec *iov, int cnt,
                       uint64_t off)
{
    uint64_t nth = atomic_fetch_add(&db->nwrites, 1) + 1;
    if (db->o.faults && db->o.faults->fail_write_nth == nth) {
        /* half of the first piece reaches the file, like a disk that filled up */
        ssize_t w = pwrite(fd, iov[0].iov_base, iov[0].iov_len / 2, (off_t)off);
        (void)w;
        errno = ENOSPC;
        return SL_EIO;
    }
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    struct iovec v[3];
    sl_assert(cnt <= 3);
    memcpy(v, iov, (size_t)cnt * sizeof(*v));
    size_t done = 0;
    int first = 0;
    while (done < total) {
        ssize_t w = pwritev(fd, v + first, cnt - first, (off_t)(off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return SL_EIO;
        done += (size_t)w;
        size_t k = (size_t)w;
        while (first < cnt && k >= v[first].iov_len) {
            k -= v[first].iov_len;
            first++;
        }
        if (first < cnt) {
            v[first].iov_base = (char *)v[first].iov_base + k;
            v[first].iov_len -= k;
        }
    }
    return 0;
}

static int do_fsync(struct sl_diskbuf *db, int fd)
{
    uint64_t nth = atomic_fetch_add(&db->nfsyncs, 1) + 1;
    if (db->o.faults && db->o.faults->fail_fsync_nth == nth) {
        errno = EIO;
        return SL_EIO;
    }
    return fdatasync(fd) == 0 ? 0 : SL_EIO;
}

/* ---------------------------------------------------------------- read pointer */

/* guarded_by: lock */
static void write_pointer(struct sl_diskbuf *db)
{
    uint8_t slot[SLOT_LEN] = {0};
    db->aseq++;
    put64(slot, db->aseq);
    put64(slot + 8, db->aseg);
    put64(slot + 16, db->aoff);
    put32(slot + 24, rec_check(slot, 24));
    if (pwrite(db->ack_fd, slot, SLOT_LEN, (off_t)((db->aseq & 1) * SLOT_LEN)) != SLOT_LEN)
        db->write_errors++; /* only duplicates at the next start: the old pointer stays */
    db->ack_dirty = true;
}

static void read_pointer(struct sl_diskbuf *db)
{
    uint8_t buf[2 * SLOT_LEN];
    ssize_t n = pread(db->ack_fd, buf, sizeof buf, 0);
    for (int i = 0; i < 2; i++) {
        const uint8_t *s = buf + i * SLOT_LEN;
        if (n < (ssize_t)((i + 1) * SLOT_LEN) || get32(s + 24) != rec_check(s, 24))
            continue;
        if (get64(s) >= db->aseq) {
            db->aseq = get64(s);
            db->aseg = get64(s + 8);
            db->aoff = get64(s + 16);
        }
    }
}

/* ---------------------------------------------------------------- recovery */

/* Is there a whole valid record at off in m[0..size)? Its total length in *len. */
static bool valid_at(const uint8_t *m, uint64_t size, uint64_t off, uint64_t *len)
{
    if (off + REC_HDR > size)
        return false;
    uint32_t n = get32(m + off);
    if (n == 0 || n > size - off - REC_HDR)
        return false;
    if (get32(m + off + 4) != rec_check(m + off + REC_HDR, n))
        return false;
    *len = REC_HDR + (uint64_t)n;
    return true;
}

/* First offset >= from holding a valid record, or size. */
static uint64_t resync(const uint8_t *m, uint64_t size, uint64_t from)
{
    uint64_t len;
    for (uint64_t o = from; o + REC_HDR <= size; o++)
        if (valid_at(m, size, o, &len))
            return o;
    return size;
}

struct scan {
    uint64_t valid_end; /* after the last valid record */
    uint64_t records, bytes;
};

/* Scan one segment file; count records at offsets >= count_from. Corrupt regions are
 * counted and logged; a tail that does not parse is left to the caller. */
static int scan_segment(struct sl_diskbuf *db, uint64_t id, int fd, uint64_t size,
                        uint64_t count_from, struct scan *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->valid_end = SEG_HDR;
    if (size <= SEG_HDR)
        return 0;
    uint8_t *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return SL_ESYS;
    uint64_t off = SEG_HDR, len;
    while (off < size) {
        if (valid_at(m, size, off, &len)) {
            if (off >= count_from) {
                sc->records++;
                sc->bytes += len;
            }
            off += len;
            sc->valid_end = off;
            continue;
        }
        uint64_t next = resync(m, size, off + 1);
        if (next >= size)
            break; /* the rest does not parse: a torn tail (the caller decides) */
        db->corrupt++;
        sl_warn(db->name,
                "disk buffer: corrupted record in segment %016" PRIx64 " at byte %" PRIu64
                ": %" PRIu64 " bytes skipped",
                id, off, next - off);
        off = next;
    }
    munmap(m, size);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int list_segments(struct sl_diskbuf *db, uint64_t **ids, size_t *count)
{
    DIR *dir = opendir(db->dir);
    if (!dir)
        return SL_ESYS;
    size_t n = 0, cap = 0;
    uint64_t *v = NULL;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        unsigned long long id;
        char tail[8];
        if (strlen(e->d_name) != 24 || sscanf(e->d_name, "seg-%16llx.%3s", &id, tail) != 2 ||
            strcmp(tail, "log") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nv = sl_realloc(v, cap * sizeof(*v));
            if (!nv) {
                sl_free(v);
                closedir(dir);
                return SL_ENOMEM;
            }
            v = nv;
        }
        v[n++] = id;
    }
    closedir(dir);
    if (n)
        qsort(v, n, sizeof(*v), cmp_u64);
    *ids = v;
    *count = n;
    return 0;
}

static int new_segment(struct sl_diskbuf *db, uint64_t id)
{
    char path[4200];
    seg_path(db, id, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return SL_ESYS;
    uint8_t hdr[SEG_HDR];
    memcpy(hdr, SEG_MAGIC, 8);
    put64(hdr + 8, id);
    struct iovec iov = {hdr, SEG_HDR};
    int old = db->wfd;
    db->wfd = fd;
    int rc = data_pwrite(db, fd, &iov, 1, 0);
    if (rc == 0)
        rc = do_fsync(db, db->dir_fd); /* the name is durable before records are */
    if (rc) {
        int err = errno;
        close(fd);
        unlink(path);
        db->wfd = old;
        errno = err; /* for the caller's message */
        return rc;
    }
    if (old >= 0)
        close(old);
    sl_mutex_lock(&db->lock);
    db->wseg = id;
    db->woff = SEG_HDR;
    db->disk_bytes += SEG_HDR;
    db->segments++;
    sl_mutex_unlock(&db->lock);
    return 0;
}

static int mkdirs(const char *dir)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return SL_E2BIG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return SL_ESYS;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return SL_ESYS;
    return 0;
}

static int recover(struct sl_diskbuf *db, struct sl_diag *d)
{
    uint64_t *ids = NULL;
    size_t n = 0;
    int rc = list_segments(db, &ids, &n);
    if (rc)
        return sl_diag_set(d, rc, "disk buffer %s: cannot list segments: %s", db->dir,
                           strerror(errno));
    read_pointer(db);
    uint64_t last = db->aseg;
    bool have_first = false;
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        seg_path(db, ids[i], path, sizeof path);
        if (ids[i] > last)
            last = ids[i];
        if (ids[i] < db->aseg) { /* wholly acknowledged (deletion was cut short) */
            unlink(path);
            continue;
        }
        int fd = open(path, O_RDWR | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            if (fd >= 0)
                close(fd);
            rc = sl_diag_set(d, SL_ESYS, "disk buffer: cannot open %s: %s", path, strerror(errno));
            goto out;
        }
        uint64_t size = (uint64_t)st.st_size;
        uint8_t hdr[SEG_HDR];
        if (size < SEG_HDR || pread(fd, hdr, SEG_HDR, 0) != SEG_HDR ||
            memcmp(hdr, SEG_MAGIC, 8) != 0) {
            /* created but never written (a crash between open and the header), or not ours */
            if (size > SEG_HDR) {
                db->corrupt++;
                sl_warn(db->name, "disk buffer: segment %s has no valid header: skipped", path);
            }
            close(fd);
            if (size <= SEG_HDR)
                unlink(path);
            continue;
        }
        struct scan sc;
        uint64_t count_from = ids[i] == db->aseg ? db->aoff : 0;
        rc = scan_segment(db, ids[i], fd, size, count_from, &sc);
        if (rc) {
            close(fd);
            sl_diag_set(d, rc, "disk buffer: cannot map %s", path);
            goto out;
        }
        if (sc.valid_end < size) {
            /* a torn tail: the last write of a crashed run (in older segments too: their
             * records were written before the next segment started, so nothing follows) */
            db->truncated += size - sc.valid_end;
            sl_warn(db->name,
                    "disk buffer: torn tail in segment %016" PRIx64 " at byte %" PRIu64 ": %" PRIu64
                    " bytes truncated",
                    ids[i], sc.valid_end, size - sc.valid_end);
            if (ftruncate(fd, (off_t)sc.valid_end) != 0 || fdatasync(fd) != 0) {
                close(fd);
                rc = sl_diag_set(d, SL_EIO, "disk buffer: cannot truncate %s: %s", path,
                                 strerror(errno));
                goto out;
            }
            size = sc.valid_end;
        }
        close(fd);
        if (sc.records == 0) { /* all acknowledged (or nothing valid): nothing to keep */
            unlink(path);
            continue;
        }
        if (!have_first) {
            db->first_seg = ids[i];
            have_first = true;
        }
        db->records += sc.records;
        db->bytes += sc.bytes;
        db->disk_bytes += size;
        db->segments++;
    }
    /* the reader starts at the pointer (or the oldest segment after it) */
    if (!have_first || db->first_seg > db->aseg) {
        db->rseg = have_first ? db->first_seg : last + 1;
        db->roff = SEG_HDR;
    } else {
        db->rseg = db->aseg;
        db->roff = db->aoff < SEG_HDR ? SEG_HDR : db->aoff;
    }
    if (!have_first)
        db->first_seg = last + 1;
    rc = new_segment(db, last + 1);
    if (rc)
        sl_diag_set(d, rc, "disk buffer %s: cannot create a segment: %s", db->dir, strerror(errno));
out:
    sl_free(ids);
    return rc;
}

int sl_diskbuf_open(const struct sl_diskbuf_opts *o, struct sl_diskbuf **out, struct sl_diag *d)
{
    int64_t t0 = sl_clock_mono_ns();
    struct sl_diskbuf *db = sl_calloc(1, sizeof(*db));
    if (!db)
        return SL_ENOMEM;
    db->o = *o;
    db->dir_fd = db->lock_fd = db->ack_fd = db->wfd = db->rfd = -1;
    db->rewind = NO_TICKET;
    db->dir = sl_strdup(o->dir);
    db->name = sl_strdup(o->name ? o->name : "diskbuf");
    db->ring = sl_calloc(RING_CAP, sizeof(*db->ring));
    sl_mutex_init(&db->lock);
    sl_cond_init(&db->cond);
    int rc = 0;
    if (!db->dir || !db->name || !db->ring) {
        rc = SL_ENOMEM;
        goto fail;
    }
    if (!db->o.max_size)
        db->o.max_size = (uint64_t)1 << 30;
    if (!db->o.segment_size)
        db->o.segment_size = (uint64_t)64 << 20;
    if (db->o.segment_size > db->o.max_size / 4)
        db->o.segment_size = db->o.max_size / 4;
    if (db->o.segment_size < (64u << 10))
        db->o.segment_size = 64u << 10;
    if (db->o.segment_size > ((uint64_t)1 << 31))
        db->o.segment_size = (uint64_t)1 << 31;
    if (!db->o.sync_every)
        db->o.sync_every = 64;
    if (!db->o.sync_bytes)
        db->o.sync_bytes = (uint64_t)8 << 20;
    if (!db->o.sync_interval_ns)
        db->o.sync_interval_ns = 1000000000;
    if ((rc = mkdirs(db->dir)) != 0) {
        sl_diag_set(d, rc, "disk buffer: cannot create directory %s: %s", db->dir, strerror(errno));
        goto fail;
    }
    char path[4200];
    db->dir_fd = open(db->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    snprintf(path, sizeof path, "%s/lock", db->dir);
    db->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    snprintf(path, sizeof path, "%s/ack", db->dir);
    db->ack_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (db->dir_fd < 0 || db->lock_fd < 0 || db->ack_fd < 0) {
        rc = sl_diag_set(d, SL_ESYS, "disk buffer: cannot open %s: %s", db->dir, strerror(errno));
        goto fail;
    }
    if (flock(db->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        sl_diag_hint(d, "give each disk-buffered sink its own buffer path");
        rc = sl_diag_set(d, SL_EEXIST, "disk buffer %s is in use by another process or sink",
                         db->dir);
        goto fail;
    }
    if ((rc = recover(db, d)) != 0)
        goto fail;
    db->last_sync_ns = sl_clock_mono_ns();
    db->recover_ns = db->last_sync_ns - t0;
    if (db->records)
        sl_info(db->name,
                "disk buffer %s: %" PRIu64 " records (%" PRIu64 " bytes) to deliver, recovered "
                "in %.3f s",
                db->dir, db->records, db->bytes, (double)db->recover_ns / 1e9);
    *out = db;
    return 0;
fail:
    sl_diskbuf_close(db);
    return rc;
}

void sl_diskbuf_close(struct sl_diskbuf *db)
{
    if (!db)
        return;
    if (db->wfd >= 0) {
        if (db->unsynced)
            (void)do_fsync(db, db->wfd);
        close(db->wfd);
    }
    if (db->ack_fd >= 0) {
        if (db->ack_dirty)
            (void)do_fsync(db, db->ack_fd);
        close(db->ack_fd);
    }
    if (db->rfd >= 0)
        close(db->rfd);
    if (db->dir_fd >= 0)
        close(db->dir_fd);
    if (db->lock_fd >= 0)
        close(db->lock_fd); /* releases the flock */
    sl_cond_fini(&db->cond);
    sl_mutex_fini(&db->lock);
    sl_free(db->ring);
    sl_free(db->dir);
    sl_free(db->name);
    sl_free(db);
}

/* ---------------------------------------------------------------- writer */

/* Any thread. The read pointer at most once a second: losing its last updates only means
 * duplicates after a crash, and its fsync doubled the cost of a group commit. */
static void sync_pointer(struct sl_diskbuf *db)
{
    int64_t now = sl_clock_mono_ns();
    sl_mutex_lock(&db->lock);
    bool dirty = db->ack_dirty && now - db->last_ack_sync_ns >= 1000000000;
    if (dirty) {
        db->ack_dirty = false;
        db->last_ack_sync_ns = now;
    }
    sl_mutex_unlock(&db->lock);
    if (dirty)
        (void)do_fsync(db, db->ack_fd);
}

int sl_diskbuf_sync_begin(struct sl_diskbuf *db, int *fd)
{
    *fd = -1;
    if (!db->unsynced)
        return 0;
    *fd = dup(db->wfd);
    if (*fd < 0)
        return sl_diskbuf_sync(db) ? SL_EIO : 0; /* no descriptor to spare: sync here */
    db->unsynced = 0;
    db->unsynced_bytes = 0;
    db->last_sync_ns = sl_clock_mono_ns();
    return 0;
}

int sl_diskbuf_sync_finish(struct sl_diskbuf *db, int fd)
{
    int rc = 0;
    if (fd >= 0) {
        rc = do_fsync(db, fd);
        if (rc) {
            sl_mutex_lock(&db->lock);
            db->write_errors++;
            sl_mutex_unlock(&db->lock);
            sl_error(db->name, "disk buffer: fsync failed: %s", strerror(errno ? errno : EIO));
            atomic_store(&db->roll_next, true);
        }
        close(fd);
    }
    sync_pointer(db);
    return rc;
}

int sl_diskbuf_sync(struct sl_diskbuf *db)
{
    int rc = 0;
    if (db->unsynced) {
        rc = do_fsync(db, db->wfd);
        if (rc) {
            sl_mutex_lock(&db->lock);
            db->write_errors++;
            sl_mutex_unlock(&db->lock);
            sl_error(db->name, "disk buffer: fsync failed: %s", strerror(errno ? errno : EIO));
            atomic_store(&db->roll_next, true); /* what the kernel dropped is unknown */
        }
        db->unsynced = 0;
        db->unsynced_bytes = 0;
    }
    sync_pointer(db);
    db->last_sync_ns = sl_clock_mono_ns();
    return rc;
}

uint64_t sl_diskbuf_unsynced(const struct sl_diskbuf *db)
{
    return db->unsynced;
}

int sl_diskbuf_sync_due(struct sl_diskbuf *db, int64_t now_ns, int64_t *next_ns)
{
    int rc = 0;
    bool due = false;
    if (db->o.sync == SL_DISKBUF_SYNC_INTERVAL)
        due = now_ns - db->last_sync_ns >= db->o.sync_interval_ns;
    else if (db->o.sync == SL_DISKBUF_SYNC_BATCH)
        due = db->unsynced >= db->o.sync_every || db->unsynced_bytes >= db->o.sync_bytes;
    if (due && (db->unsynced || db->ack_dirty))
        rc = sl_diskbuf_sync(db);
    else if (due)
        db->last_sync_ns = now_ns;
    if (next_ns)
        *next_ns = db->o.sync == SL_DISKBUF_SYNC_INTERVAL
                       ? db->last_sync_ns + db->o.sync_interval_ns
                       : INT64_MAX;
    return rc;
}

static void drop_segments(struct sl_diskbuf *db);

int sl_diskbuf_append(struct sl_diskbuf *db, const void *p, size_t n, int64_t wait_ns)
{
    /* a record larger than a segment gets a segment of its own; only one that could never
     * fit max_size is refused */
    if (n == 0 || n > db->o.max_size - 2 * SEG_HDR - REC_HDR || n > UINT32_MAX / 2)
        return SL_E2BIG;
    uint64_t need = REC_HDR + n;
    /* room: what is on disk, plus a new segment's header if this one rolls */
    sl_mutex_lock(&db->lock);
    int64_t deadline = wait_ns < 0 ? INT64_MAX : sl_clock_mono_ns() + wait_ns;
    while (db->disk_bytes + need + SEG_HDR > db->o.max_size) {
        if (db->aseg == db->wseg && db->aoff >= db->woff && db->woff > SEG_HDR &&
            db->head == db->tail) {
            /* full of records that are all acknowledged, in the segment being written
             * (which is never deleted): start a new one, move the pointer there and delete
             * the old one. Large records with a small max_size waited forever here. */
            sl_mutex_unlock(&db->lock);
            int rc = db->unsynced ? sl_diskbuf_sync(db) : 0;
            if (rc == 0 && (rc = new_segment(db, db->wseg + 1)) != 0)
                write_failed(db, db->wseg + 1, errno);
            if (rc)
                return SL_EIO;
            sl_mutex_lock(&db->lock);
            db->aseg = db->wseg;
            db->aoff = SEG_HDR;
            write_pointer(db);
            drop_segments(db);
            continue;
        }
        if (db->o.when_full == SL_DISKBUF_DROP_NEWEST) {
            db->dropped++;
            sl_mutex_unlock(&db->lock);
            return SL_ELIMIT;
        }
        if (wait_ns == 0 || sl_clock_mono_ns() >= deadline) {
            sl_mutex_unlock(&db->lock);
            return SL_EAGAIN;
        }
        if (wait_ns < 0)
            sl_cond_wait(&db->cond, &db->lock);
        else
            sl_cond_wait_until(&db->cond, &db->lock, deadline);
    }
    uint64_t woff = db->woff;
    sl_mutex_unlock(&db->lock);
    int rc;
    if (atomic_load(&db->roll_next) || (woff > SEG_HDR && woff + need > db->o.segment_size)) {
        if (db->unsynced && (rc = sl_diskbuf_sync(db)) != 0)
            return rc;
        if ((rc = new_segment(db, db->wseg + 1)) != 0) {
            write_failed(db, db->wseg + 1, errno);
            return SL_EIO;
        }
        atomic_store(&db->roll_next, false);
        woff = SEG_HDR;
    }
    uint8_t hdr[REC_HDR];
    put32(hdr, (uint32_t)n);
    put32(hdr + 4, rec_check(p, (uint32_t)n));
    struct iovec iov[2] = {{hdr, REC_HDR}, {(void *)p, n}};
    rc = data_pwrite(db, db->wfd, iov, 2, woff);
    if (rc) {
        /* nothing of the record counts: cut what reached the file (the next append writes
         * over it anyway, and recovery would truncate it as a torn tail; on a full disk the
         * cut gives the space back) */
        int err = errno;
        if (ftruncate(db->wfd, (off_t)woff) != 0)
            atomic_store(&db->roll_next, true);
        write_failed(db, db->wseg, err);
        return rc;
    }
    write_ok(db);
    sl_mutex_lock(&db->lock);
    db->woff = woff + need;
    db->disk_bytes += need;
    db->records++;
    db->bytes += need;
    db->appended++;
    sl_cond_broadcast(&db->cond);
    sl_mutex_unlock(&db->lock);
    db->unsynced++;
    db->unsynced_bytes += need;
    if (db->o.sync == SL_DISKBUF_SYNC_ALWAYS ||
        (db->o.sync == SL_DISKBUF_SYNC_BATCH &&
         (db->unsynced >= db->o.sync_every || db->unsynced_bytes >= db->o.sync_bytes)))
        return sl_diskbuf_sync(db);
    return 0;
}

/* ---------------------------------------------------------------- reader and acks */

/* guarded_by: lock. Delete segments before the pointer (never the one being written). */
static void drop_segments(struct sl_diskbuf *db)
{
    while (db->first_seg < db->aseg && db->first_seg < db->wseg) {
        char path[4200];
        seg_path(db, db->first_seg, path, sizeof path);
        struct stat st;
        if (stat(path, &st) == 0) {
            uint64_t sz = (uint64_t)st.st_size;
            if (unlink(path) == 0) {
                db->disk_bytes -= sz < db->disk_bytes ? sz : db->disk_bytes;
                db->segments--;
            }
        }
        db->first_seg++;
    }
    sl_cond_broadcast(&db->cond);
}

void sl_diskbuf_ack(struct sl_diskbuf *db, uint64_t ticket, bool ok)
{
    sl_mutex_lock(&db->lock);
    if (ticket < db->head || ticket >= db->tail) {
        sl_mutex_unlock(&db->lock);
        return;
    }
    struct entry *e = &db->ring[ticket % RING_CAP];
    if (e->ticket != ticket || e->state != E_INFLIGHT) {
        sl_mutex_unlock(&db->lock);
        return;
    }
    if (!ok) {
        if (db->rewind == NO_TICKET || ticket < db->rewind)
            db->rewind = ticket;
        sl_cond_broadcast(&db->cond);
        sl_mutex_unlock(&db->lock);
        return;
    }
    e->state = E_DONE;
    bool moved = false;
    while (db->head < db->tail) {
        struct entry *h = &db->ring[db->head % RING_CAP];
        if (h->state == E_INFLIGHT || (db->rewind != NO_TICKET && db->head >= db->rewind))
            break;
        if (h->state == E_DONE) {
            uint64_t len = h->end - h->start;
            db->records -= db->records ? 1 : 0;
            db->bytes -= len < db->bytes ? len : db->bytes;
            db->acked++;
            db->aseg = h->seg;
            db->aoff = h->end;
            moved = true;
        }
        db->head++;
    }
    if (moved) {
        write_pointer(db);
        if (db->o.sync == SL_DISKBUF_SYNC_ALWAYS && do_fsync(db, db->ack_fd) == 0)
            db->ack_dirty = false;
        drop_segments(db);
    }
    sl_cond_broadcast(&db->cond);
    sl_mutex_unlock(&db->lock);
}

void sl_diskbuf_wake(struct sl_diskbuf *db)
{
    sl_mutex_lock(&db->lock);
    db->woken = true;
    sl_cond_broadcast(&db->cond);
    sl_mutex_unlock(&db->lock);
}

/* Reader thread: make rfd the segment `seg`; its size when it is not the write segment. */
static int open_read(struct sl_diskbuf *db, uint64_t seg, uint64_t wseg)
{
    if (db->rfd >= 0 && db->rfd_seg == seg && (seg == wseg || db->rfd_size))
        return 0;
    if (db->rfd >= 0)
        close(db->rfd);
    db->rfd = -1;
    char path[4200];
    seg_path(db, seg, path, sizeof path);
    db->rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (db->rfd < 0)
        return SL_ENOENT;
    db->rfd_seg = seg;
    db->rfd_size = 0;
    if (seg != wseg) {
        struct stat st;
        if (fstat(db->rfd, &st) != 0)
            return SL_EIO;
        db->rfd_size = (uint64_t)st.st_size;
    }
    return 0;
}

/* Reader thread: the offset of the next valid record at or after off in rfd, or end. */
static uint64_t read_resync(struct sl_diskbuf *db, uint64_t off, uint64_t end)
{
    uint8_t *m = mmap(NULL, end, PROT_READ, MAP_PRIVATE, db->rfd, 0);
    if (m == MAP_FAILED)
        return end;
    uint64_t next = resync(m, end, off + 1);
    munmap(m, end);
    return next;
}

int sl_diskbuf_read(struct sl_diskbuf *db, void **p, size_t *n, uint64_t *ticket, int64_t wait_ns)
{
    int64_t deadline = wait_ns < 0 ? INT64_MAX : sl_clock_mono_ns() + wait_ns;
    sl_mutex_lock(&db->lock);
    for (;;) {
        if (db->rewind != NO_TICKET) {
            struct entry *e = &db->ring[db->rewind % RING_CAP];
            db->rseg = e->seg;
            db->roff = e->start;
            for (uint64_t t = db->rewind; t < db->tail; t++)
                db->ring[t % RING_CAP].state = E_CANCELLED;
            db->rewind = NO_TICKET;
            /* the pointer may move over the cancelled entries now */
            while (db->head < db->tail && db->ring[db->head % RING_CAP].state == E_CANCELLED)
                db->head++;
        }
        uint64_t wseg = db->wseg, woff = db->woff;
        bool room = db->tail - db->head < RING_CAP;
        bool data = db->rseg < wseg || (db->rseg == wseg && db->roff < woff);
        if (room && data) {
            sl_mutex_unlock(&db->lock);
            int rc = open_read(db, db->rseg, wseg);
            if (rc == SL_ENOENT && db->rseg < wseg) { /* a segment removed at recovery */
                db->rseg++;
                db->roff = SEG_HDR;
                sl_mutex_lock(&db->lock);
                continue;
            }
            if (rc)
                return rc;
            uint64_t end = db->rseg == wseg ? woff : db->rfd_size;
            if (db->roff + REC_HDR > end) {
                if (db->rseg == wseg) { /* the write segment moved on meanwhile */
                    sl_mutex_lock(&db->lock);
                    if (db->wseg == wseg)
                        goto empty;
                    continue;
                }
                db->rseg++;
                db->roff = SEG_HDR;
                sl_mutex_lock(&db->lock);
                continue;
            }
            uint8_t hdr[REC_HDR];
            if (pread(db->rfd, hdr, REC_HDR, (off_t)db->roff) != REC_HDR)
                return SL_EIO;
            uint32_t len = get32(hdr);
            void *buf = NULL;
            bool ok = len > 0 && len <= end - db->roff - REC_HDR;
            if (ok) {
                buf = sl_malloc(len);
                if (!buf)
                    return SL_ENOMEM;
                ok = pread(db->rfd, buf, len, (off_t)(db->roff + REC_HDR)) == (ssize_t)len &&
                     get32(hdr + 4) == rec_check(buf, len);
            }
            if (!ok) {
                /* found at open (and logged there) unless the disk changed since */
                sl_free(buf);
                uint64_t next = read_resync(db, db->roff, end);
                sl_debug(db->name, "disk buffer: skipping %" PRIu64 " bad bytes in %016" PRIx64,
                         next - db->roff, db->rseg);
                db->roff = next;
                sl_mutex_lock(&db->lock);
                continue;
            }
            sl_mutex_lock(&db->lock);
            uint64_t t = db->tail++;
            struct entry *e = &db->ring[t % RING_CAP];
            *e = (struct entry){t, db->rseg, db->roff, db->roff + REC_HDR + len, E_INFLIGHT};
            db->roff += REC_HDR + len;
            sl_mutex_unlock(&db->lock);
            *p = buf;
            *n = len;
            *ticket = t;
            return 0;
        }
    empty:
        if (db->woken || wait_ns == 0 || sl_clock_mono_ns() >= deadline) {
            db->woken = false;
            sl_mutex_unlock(&db->lock);
            return SL_EAGAIN;
        }
        if (wait_ns < 0)
            sl_cond_wait(&db->cond, &db->lock);
        else
            sl_cond_wait_until(&db->cond, &db->lock, deadline);
    }
}

void sl_diskbuf_stats(struct sl_diskbuf *db, struct sl_diskbuf_stats *s)
{
    sl_mutex_lock(&db->lock);
    s->records = db->records;
    s->bytes = db->bytes;
    s->disk_bytes = db->disk_bytes;
    s->appended = db->appended;
    s->acked = db->acked;
    s->dropped = db->dropped;
    s->corrupt = db->corrupt;
    s->truncated = db->truncated;
    s->segments = db->segments;
    s->write_errors = db->write_errors;
    s->recover_ns = db->recover_ns;
    s->write_failing = atomic_load(&db->failing);
    sl_mutex_unlock(&db->lock);
    s->fsyncs = atomic_load(&db->nfsyncs);
}
