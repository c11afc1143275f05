#ifndef QUIVER_CALLOCATOR_H
#define QUIVER_CALLOCATOR_H
// mallopt(3) is a glibc extension the Swift Glibc module does not export.

/// Sets glibc malloc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD (bytes). Returns 1 when both were accepted; elsewhere
/// (not glibc) a no-op returning 0.
int quiver_malloc_thresholds(int mmap_threshold, int trim_threshold);

#endif
