#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include "CFileSync.h"

int quiver_allocate(int fd, long long length) {
#if defined(__linux__)
    return fallocate(fd, 0, 0, (off_t)length) == 0 ? 0 : errno;
#else
    (void)fd; (void)length;
    return EOPNOTSUPP;
#endif
}

int quiver_start_writeback(int fd, long long offset, long long length) {
#if defined(__linux__)
    return sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}
