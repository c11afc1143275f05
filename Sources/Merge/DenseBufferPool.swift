import Synchronization

/// Dense-update buffers handed from one module to the next within one merge.
///
/// glibc serves every block of 32 MiB or more (its largest mmap threshold) with a fresh mapping and unmaps it on
/// free, so each module's dense update (64 MB for a 4096×4096 projection) would be new pages that the kernel faults
/// in and zeroes as the combiner first writes them. Here a finished module's buffer is kept, and the next module
/// of the same size takes it back. Each take removes one kept buffer (one of the size asked for, else any, which
/// is freed), so buffers in use and kept together never outnumber the merge's workers, and memory never exceeds
/// what the workers would hold without the pool. The contents of a taken buffer are unspecified: its taker
/// overwrites every entry.
final class DenseBufferPool: Sendable {
    private let kept = Mutex<[[Float]]>([])

    init() {}

    /// A buffer of exactly `count` floats, contents unspecified.
    func take(count: Int) -> [Float] {
        let reused: [Float]? = kept.withLock { kept in
            if let index = kept.firstIndex(where: { $0.count == count }) { return kept.remove(at: index) }
            if !kept.isEmpty { kept.removeFirst() }
            return nil
        }
        return reused ?? [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    /// Keeps `buffer` for a later ``take(count:)``; the caller no longer uses it.
    func recycle(_ buffer: [Float]) {
        kept.withLock { $0.append(buffer) }
    }

    /// How many buffers are kept (for tests).
    var keptCount: Int { kept.withLock { $0.count } }
}
