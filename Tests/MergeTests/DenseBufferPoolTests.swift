import Testing
@testable import Merge

@Suite("DenseBufferPool")
struct DenseBufferPoolTests {
    @Test func aBufferOfTheSameSizeIsTakenBack() {
        let pool = DenseBufferPool()
        var first = pool.take(count: 1000)
        #expect(first.count == 1000)
        first[0] = 42
        let address = first.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        pool.recycle(first)
        #expect(pool.keptCount == 1)
        let again = pool.take(count: 1000)
        #expect(again.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == address)
        #expect(pool.keptCount == 0)
    }

    @Test func aTakeOfAnotherSizeFreesOneKeptBufferSoKeptAndInUseNeverGrow() {
        let pool = DenseBufferPool()
        pool.recycle(pool.take(count: 10))
        // A take of another size frees the kept buffer and allocates: one kept, not two.
        pool.recycle(pool.take(count: 20))
        #expect(pool.keptCount == 1)
        let other = pool.take(count: 30)
        #expect(other.count == 30)
        #expect(pool.keptCount == 0)
        pool.recycle(other)
        let a = pool.take(count: 30), b = pool.take(count: 30)
        #expect(a.count == 30 && b.count == 30)
        #expect(pool.keptCount == 0)
    }
}
