import CAllocator

/// How the C allocator keeps memory a command has freed.
///
/// glibc's defaults return freed memory to the kernel eagerly: blocks of 128 KiB and more (the threshold then
/// grows with what is freed) are mapped one by one and unmapped when freed, and the top of each heap is trimmed
/// once 128 KiB of it are free. A merge allocates and frees a module's factors, masks and results over and over;
/// each time the memory went back, the next module's buffers were fresh pages again, faulted in and zeroed by the
/// kernel (43,000 page faults in a 130 ms merge of 3 × 40 MB inputs, and a third of its CPU time in the kernel).
/// Kept, the same pages serve module after module (7,000 faults).
public enum AllocatorTuning {
    /// Keeps freed memory for reuse in this process: blocks under 32 MiB come from the heaps (larger ones are still
    /// mapped on their own and returned when freed), and a heap's free top is returned only beyond 256 MiB. For
    /// commands that run to completion and exit (the memory is returned then); not for the long-running server,
    /// whose idle footprint should shrink back.
    /// Returns whether the allocator took the setting (glibc only).
    @discardableResult
    public static func keepFreedMemoryForReuse() -> Bool {
        quiver_malloc_thresholds(32 << 20, 256 << 20) == 1
    }
}
