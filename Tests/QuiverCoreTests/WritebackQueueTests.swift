import Foundation
import Glibc
@testable import QuiverCore
import QuiverTesting
import Testing

/// The queue that starts a file's disk writes on a thread of its own: started by the first range, stopped by
/// `finish()` whatever is pending, never in the writers' way.
@Suite("Writeback queue")
struct WritebackQueueTests {
    /// A file of `size` seeded bytes, open for writing, in a fresh directory.
    static func file(size: Int) throws -> (directory: URL, path: String, fd: Int32, bytes: [UInt8]) {
        let directory = try Fixtures.temporaryDirectory("quiver-writeback")
        let path = directory.appendingPathComponent("weights.bin").path
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(fd >= 0)
        let bytes = HashingInputs.bytes(size, seed: UInt64(size))
        try #require(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } == size)
        return (directory, path, fd, bytes)
    }

    @Test("no thread until the first range; finish stops it, is idempotent, and later ranges are ignored")
    func lifecycle() throws {
        let (directory, _, fd, _) = try Self.file(size: 1 << 20)
        defer { close(fd); try? FileManager.default.removeItem(at: directory) }
        let idle = WritebackQueue(fd: fd)
        #expect(!idle.isRunning, "a queue nobody submitted to has no thread")
        idle.finish()
        idle.submit(offset: 0, length: 4096)
        #expect(!idle.isRunning, "a finished queue starts nothing")

        let queue = WritebackQueue(fd: fd)
        queue.submit(offset: 0, length: 0)
        #expect(!queue.isRunning, "an empty range is not a range")
        queue.submit(offset: 0, length: 1 << 20)
        #expect(queue.isRunning)
        queue.finish()
        #expect(!queue.isRunning)
        queue.finish()
        queue.submit(offset: 0, length: 1 << 20)
        #expect(!queue.isRunning)
    }

    @Test("ranges submitted from many writers at once, finished mid-way, leave the file as written and flushable")
    func manyWritersThenFinish() throws {
        let size = 8 << 20
        let (directory, path, fd, bytes) = try Self.file(size: size)
        defer { close(fd); try? FileManager.default.removeItem(at: directory) }
        let queue = WritebackQueue(fd: fd)
        // Four writers, each submitting 4 KiB ranges of its quarter, thousands pending while finish comes.
        let quarter = Int64(size / 4)
        _ = try ParallelMap.run(count: 5, workers: 5) { writer in
            if writer == 4 {
                usleep(2_000)
                queue.finish()
                return
            }
            for page in 0..<(Int(quarter) / 4096) {
                queue.submit(offset: Int64(writer) * quarter + Int64(page) * 4096, length: 4096)
            }
        }
        queue.finish()
        #expect(!queue.isRunning)
        #expect(fsync(fd) == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes))
    }
}
