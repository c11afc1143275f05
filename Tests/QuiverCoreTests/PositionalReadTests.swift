import Foundation
import Glibc
@testable import QuiverCore
import QuiverTesting
import Testing

/// The one "read these bytes at this offset" loop: full buffers, short only at the end of the file, partial reads
/// continued, failures named with their errno and offset.
@Suite("Positional read")
struct PositionalReadTests {
    @Test("fills a buffer from any offset, short only at the end of the file")
    func fillsAndStopsAtEnd() throws {
        let directory = try Fixtures.temporaryDirectory("quiver-pread")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bytes.bin").path
        let bytes = HashingInputs.bytes(100_003, seed: 11)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
        defer { buffer.deallocate() }
        for (offset, count) in [(0, 65_536), (1, 4_096), (99_000, 1_003), (34_467, 65_536), (12_345, 1)] {
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[..<count])
            let read = try PositionalRead.fill(piece, from: fd, at: Int64(offset))
            #expect(read == count, "offset \(offset)")
            #expect(Array(piece) == Array(bytes[offset ..< offset + count]), "offset \(offset)")
        }
        // Across the end: what there is, then nothing.
        #expect(try PositionalRead.fill(buffer, from: fd, at: 99_000) == 1_003)
        #expect(Array(buffer[..<1_003]) == Array(bytes[99_000...]))
        #expect(try PositionalRead.fill(buffer, from: fd, at: 100_003) == 0)
        #expect(try PositionalRead.fill(buffer, from: fd, at: 1 << 40) == 0)
        #expect(try PositionalRead.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[..<0]), from: fd, at: 0) == 0)
    }

    @Test("a file that answers a page per call is read whole: partial reads are continued")
    func continuesPartialReads() throws {
        // /proc's generated files (seq_file) return at most a page or so per read, however much is asked for.
        let fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        let single = pread(fd, buffer.baseAddress, buffer.count, 0)
        try #require(single > 0)
        let filled = try PositionalRead.fill(buffer, from: fd, at: 0)
        #expect(filled > single, "one pread gave \(single) bytes; the loop must go on to the end (\(filled))")
        #expect(filled < buffer.count)
        let text = String(decoding: buffer[..<filled], as: UTF8.self)
        #expect(text.hasSuffix("\n"), "ends with a whole line, at the end of the file")
        #expect(text.contains("[stack]"))
    }

    @Test("failures carry errno and the offset: a FIFO, a directory, no descriptor")
    func failuresAreNamed() throws {
        let directory = try Fixtures.temporaryDirectory("quiver-pread-bad")
        defer { try? FileManager.default.removeItem(at: directory) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4_096, alignment: 16)
        defer { buffer.deallocate() }

        let fifo = directory.appendingPathComponent("fifo").path
        try #require(mkfifo(fifo, 0o600) == 0)
        let fifoFD = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        try #require(fifoFD >= 0)
        defer { close(fifoFD) }
        #expect(throws: PositionalReadError(errno: ESPIPE, offset: 7)) { try PositionalRead.fill(buffer, from: fifoFD, at: 7) }

        let dirFD = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(dirFD >= 0)
        defer { close(dirFD) }
        #expect(throws: PositionalReadError(errno: EISDIR, offset: 0)) { try PositionalRead.fill(buffer, from: dirFD, at: 0) }

        // Not a descriptor at all (a closed one's number could be reused by a test running beside this one).
        do {
            try PositionalRead.fill(buffer, from: -1, at: 3)
            Issue.record("descriptor -1 was read")
        } catch {
            #expect(error == PositionalReadError(errno: EBADF, offset: 3))
            #expect(error.message == String(cString: strerror(EBADF)))
        }
    }

    @Test("writes whole buffers at an offset or at the descriptor's position; failures carry errno")
    func writesWholeBuffers() throws {
        let directory = try Fixtures.temporaryDirectory("quiver-pwrite")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("out.bin").path
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        let head = HashingInputs.bytes(70_001, seed: 3)
        let tail = HashingInputs.bytes(5_000, seed: 4)
        try head.withUnsafeBytes { try PositionalWrite.all($0, to: fd) }
        try tail.withUnsafeBytes { try PositionalWrite.all($0, to: fd, at: 100_000) }
        try head.withUnsafeBytes { try PositionalWrite.all(UnsafeRawBufferPointer(rebasing: $0[..<10]), to: fd) }
        let written = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(written.count == 105_000)
        #expect(Array(written[0..<70_001]) == head)
        #expect(Array(written[70_001..<70_011]) == Array(head[..<10]), "the position moved on by the first write only")
        #expect(written[70_011..<100_000].allSatisfy { $0 == 0 })
        #expect(Array(written[100_000...]) == tail)

        let readOnly = open(path, O_RDONLY | O_CLOEXEC)
        try #require(readOnly >= 0)
        defer { close(readOnly) }
        #expect(throws: PositionalWriteError(errno: EBADF)) { try head.withUnsafeBytes { try PositionalWrite.all($0, to: readOnly, at: 0) } }
        #expect(throws: PositionalWriteError(errno: EBADF)) { try head.withUnsafeBytes { try PositionalWrite.all($0, to: -1) } }
    }
}
