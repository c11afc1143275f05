import Testing
@testable import QuiverCore

@Suite("Allocator tuning")
struct AllocatorTuningTests {
    /// On glibc (every machine Quiver supports) the allocator takes the setting. The C shim once compiled its
    /// fallback because it tested `__GLIBC__` before including a libc header, and merges silently kept paging.
    @Test func glibcTakesTheThresholds() {
        #if os(Linux)
        #expect(AllocatorTuning.keepFreedMemoryForReuse())
        #endif
    }
}
