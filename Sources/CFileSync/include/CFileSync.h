#ifndef QUIVER_CFILESYNC_H
#define QUIVER_CFILESYNC_H
// File calls the Swift Glibc module does not export (GNU extensions): sync_file_range(2), fallocate(2), leases
// (fcntl F_SETLEASE) with the file system's type (fstatfs), and closing descriptors in a spawned child.
#include <spawn.h>

/// Starts writing back the dirty pages of [offset, offset + length) of `fd` without waiting for them (Linux's
/// sync_file_range with SYNC_FILE_RANGE_WRITE), so a later fsync has little left to wait for. Returns 0, or -1
/// with errno set; elsewhere a no-op returning 0. It is no durability guarantee: fsync still is.
int quiver_start_writeback(int fd, long long offset, long long length);

/// Allocates the blocks of `fd`'s first `length` bytes (Linux's fallocate, mode 0: the file grows to `length`,
/// reading as zeros). Returns 0, or the errno (EOPNOTSUPP where the file system or the platform cannot; it never
/// falls back to writing zeros, as posix_fallocate does).
int quiver_allocate(int fd, long long length);

/// Takes a read lease on `fd` (opened read-only), its break signalled with SIGURG (ignored unless asked for) to no
/// process: Linux's fcntl F_SETSIG, F_SETLEASE F_RDLCK, then F_SETOWN 0. Returns 0, or the errno (EAGAIN: the
/// file is open for writing somewhere; EACCES: not the caller's file; EINVAL: leases unsupported there). Elsewhere
/// ENOTSUP.
int quiver_lease_take(int fd);

/// Whether `fd`'s read lease still stands: 1 when F_GETLEASE says F_RDLCK (no break begun), else 0.
int quiver_lease_holds(int fd);

/// Gives `fd`'s lease up (F_SETLEASE F_UNLCK).
void quiver_lease_release(int fd);

/// The `statfs` magic number of the file system `fd` is on, or -1 with errno set.
long long quiver_file_system_type(int fd);

/// Adds to `actions` the closing of every descriptor from `from` up in the child (glibc's
/// posix_spawn_file_actions_addclosefrom_np, 2.34 and later). Returns 0, or the errno (ENOSYS where it is missing).
int quiver_spawn_close_from(posix_spawn_file_actions_t *actions, int from);

#endif
