/*
 * fuzz_diskbuf_recover.c — libFuzzer target for the disk buffer's recovery and reader
 * (state/diskbuf.h): bytes become a segment file, the buffer is opened (recovered), every
 * record is read and acknowledged, and a second open must find nothing left to deliver.
 *
 * Input: byte 0 = flags. bit 0: the bytes after the flags are records [u32 len][u32 any]
 * [payload] whose checks the harness fixes up while they fit (so the fuzzer reaches valid
 * records, then garbage: torn tails, corrupt middles); without it the bytes go in raw. bit 1:
 * the first 64 bytes are the `ack` file (the read pointer's two slots). The segment header
 * is always written by the harness.
 */
#include "base/alloc.h"
#include "base/hash.h"
#include "state/diskbuf.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void rmrf(const char *d)
{
    DIR *h = opendir(d);
    if (!h)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(h)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        unlink(p);
    }
    closedir(h);
    rmdir(d);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        abort();
    if (n && write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[128];
    if (!dir[0])
        snprintf(dir, sizeof dir, "/tmp/sl_fuzz_diskbuf_%d", (int)getpid());
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    rmrf(dir);
    mkdir(dir, 0755);
    char path[256];
    if ((flags & 2) && size >= 64) {
        snprintf(path, sizeof path, "%s/ack", dir);
        write_file(path, data, 64);
        data += 64;
        size -= 64;
    }
    uint8_t *seg = malloc(16 + size);
    memcpy(seg, "SLDBSEG1\x01\0\0\0\0\0\0\0", 16);
    memcpy(seg + 16, data, size);
    size_t total = 16 + size;
    if (flags & 1) {
        for (size_t off = 16; off + 8 <= total;) {
            uint32_t n = (uint32_t)seg[off] | (uint32_t)seg[off + 1] << 8 |
                         (uint32_t)seg[off + 2] << 16 | (uint32_t)seg[off + 3] << 24;
            if (n == 0 || n > total - off - 8)
                break;
            put32(seg + off + 4, (uint32_t)sl_hash64_seed(seg + off + 8, n, 0x51d0b0f5ull ^ n));
            off += 8 + n;
        }
    }
    snprintf(path, sizeof path, "%s/seg-0000000000000001.log", dir);
    write_file(path, seg, total);
    free(seg);
    struct sl_diskbuf_opts o = {.dir = dir, .name = "fuzz", .sync = SL_DISKBUF_SYNC_INTERVAL};
    struct sl_diskbuf *db = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_diskbuf_open(&o, &db, &d) != 0)
        return 0;
    struct sl_diskbuf_stats st;
    sl_diskbuf_stats(db, &st);
    uint64_t want = st.records, got = 0;
    void *p;
    size_t n;
    uint64_t t;
    while (sl_diskbuf_read(db, &p, &n, &t, 0) == 0) {
        if (n == 0 || n > total)
            abort();
        sl_free(p);
        sl_diskbuf_ack(db, t, true);
        got++;
    }
    /* the open scan and the reader agree on what is there (a hostile read pointer may point
     * into a record's middle, where the two may resynchronise differently) */
    sl_diskbuf_stats(db, &st);
    if (!(flags & 2) && (got != want || st.records != 0))
        abort();
    sl_diskbuf_close(db);
    if (sl_diskbuf_open(&o, &db, &d) != 0)
        abort();
    if (sl_diskbuf_read(db, &p, &n, &t, 0) != SL_EAGAIN)
        abort();
    sl_diskbuf_close(db);
    rmrf(dir);
    return 0;
}
