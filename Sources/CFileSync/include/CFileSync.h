#ifndef QUIVER_CFILESYNC_H
#define QUIVER_CFILESYNC_H
// sync_file_range(2) is a GNU extension the Swift Glibc module does not export.

/// Starts writing back the dirty pages of [offset, offset + length) of `fd` without waiting for them (Linux's
/// sync_file_range with SYNC_FILE_RANGE_WRITE), so a later fsync has little left to wait for. Returns 0, or -1
/// with errno set; elsewhere a no-op returning 0. It is no durability guarantee: fsync still is.
int quiver_start_writeback(int fd, long long offset, long long length);

#endif
