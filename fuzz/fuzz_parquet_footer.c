/*
 * fuzz_parquet_footer.c — libFuzzer target for the Parquet footer check and the Thrift
 * compact reader under it (codec/parquet_footer.h, codec/thrift_compact.h).
 *
 * Each input is checked three times: as a whole file in memory (magics, footer length,
 * FileMetaData), as the same file through an fd (a memfd: the pread variant must give the
 * same answer, message and facts), and as a bare FileMetaData (so mutations reach the reader
 * without having to keep the framing intact). Neither may crash, leak, read out of bounds or take
 * more than linear time; an error always comes with a message; a success must be coherent (counts
 * bounded by the input, kept key-value pairs NUL-terminated). The seed corpus
 * (fuzz/corpus/parquet_footer/) holds tiny files from sluice's own writer, their truncations and
 * bare footers.
 */
#include "codec/parquet_footer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void coherent(int rc, const struct sl_parquet_footer_info *info, const struct sl_diag *d,
                     size_t size)
{
    if (rc) {
        if (!d->msg[0])
            abort(); /* an error always says why */
        return;
    }
    if (info->num_rows < 0 || info->schema_count == 0 || info->schema_count > size ||
        info->row_group_count > size || info->kv_count > size)
        abort();
    for (uint32_t i = 0; i < info->kv_count && i < SL_PQF_KV_MAX; i++)
        if (strnlen(info->kv[i].key, SL_PQF_KEY_MAX) == SL_PQF_KEY_MAX ||
            strnlen(info->kv[i].value, SL_PQF_VALUE_MAX) == SL_PQF_VALUE_MAX)
            abort();
    if (strnlen(info->created_by, sizeof(info->created_by)) == sizeof(info->created_by))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_parquet_footer_info info;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_parquet_footer_check(data, size, &info, &d);
    coherent(rc, &info, &d, size);
    if (!rc && (info.file_len != size || (size_t)info.footer_len + 12 > size))
        abort();
    static int mfd = -2;
    if (mfd == -2)
        mfd = memfd_create("fuzz_parquet_footer", 0);
    if (mfd >= 0 && ftruncate(mfd, 0) == 0 &&
        (size == 0 || pwrite(mfd, data, size, 0) == (ssize_t)size)) {
        struct sl_parquet_footer_info info_fd;
        struct sl_diag d_fd;
        sl_diag_init(&d_fd);
        int rc_fd = sl_parquet_footer_check_fd(mfd, &info_fd, &d_fd);
        if (rc_fd != rc || strcmp(d_fd.msg, d.msg) != 0 ||
            (!rc && memcmp(&info_fd, &info, sizeof(info)) != 0))
            abort(); /* the two variants disagree */
    }
    sl_diag_init(&d);
    info.file_len = 0;
    rc = sl_parquet_footer_decode(data, size, 0, &info, &d);
    coherent(rc, &info, &d, size);
    return 0;
}
