#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include "CFileSync.h"
#if defined(__linux__)
#include <sys/vfs.h>
#endif

int quiver_lease_take(int fd) {
#if defined(__linux__)
    if (fcntl(fd, F_SETSIG, SIGURG) != 0) return errno;
    if (fcntl(fd, F_SETLEASE, F_RDLCK) != 0) return errno;
    (void)fcntl(fd, F_SETOWN, 0);
    return 0;
#else
    (void)fd;
    return ENOTSUP;
#endif
}

int quiver_lease_holds(int fd) {
#if defined(__linux__)
    return fcntl(fd, F_GETLEASE) == F_RDLCK;
#else
    (void)fd;
    return 0;
#endif
}

void quiver_lease_release(int fd) {
#if defined(__linux__)
    (void)fcntl(fd, F_SETLEASE, F_UNLCK);
#else
    (void)fd;
#endif
}

long long quiver_file_system_type(int fd) {
#if defined(__linux__)
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    return (long long)(unsigned int)info.f_type;
#else
    (void)fd;
    errno = ENOTSUP;
    return -1;
#endif
}
