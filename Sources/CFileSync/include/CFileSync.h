#ifndef QUIVER_CFILESYNC_H
#define QUIVER_CFILESYNC_H
// sync_file_range(2) and fallocate(2) are GNU extensions the Swift Glibc module does not export.

/// Starts writing back the dirty pages of [offset, offset + length) of `fd` without waiting for them (Linux's
/// sync_file_range with SYNC_FILE_RANGE_WRITE), so a later fsync has little left to wait for. Returns 0, or -1
/// with errno set; elsewhere a no-op returning 0. It is no durability guarantee: fsync still is.
int quiver_start_writeback(int fd, long long offset, long long length);

/// Allocates the blocks of `fd`'s first `length` bytes (Linux's fallocate, mode 0: the file grows to `length`,
/// reading as zeros). Returns 0, or the errno (EOPNOTSUPP where the file system or the platform cannot; it never
/// falls back to writing zeros, as posix_fallocate does).
int quiver_allocate(int fd, long long length);

#endif
