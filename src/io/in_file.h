/*
 * in_file.h — test hooks of the `file` source (in_file.c).
 */
#ifndef SL_IO_IN_FILE_H
#define SL_IO_IN_FILE_H

#include <stdint.h>

/* Fault injection for the checkpoint writer (tests only). Counts run over every checkpoint
 * save of the process from the call that installs them: the Nth allocation while building
 * the file fails (SL_ENOMEM), the Nth write(2) writes half its bytes and fails with ENOSPC
 * (a disk that filled up), the Nth fsync fails with EIO, the Nth rename fails with ENOSPC.
 * 0: never. Each fires once. */
struct sl_in_file_faults {
    uint64_t fail_alloc_nth;
    uint64_t fail_write_nth;
    uint64_t fail_fsync_nth;
    uint64_t fail_rename_nth;
};

/* Install faults (copied) and reset the counts; NULL removes them. Call while no file source
 * runs. */
void sl_in_file_set_faults(const struct sl_in_file_faults *f);
/* How many injected faults fired since the last sl_in_file_set_faults. Any thread. */
uint64_t sl_in_file_faults_fired(void);

#endif
