import Foundation
import Testing
@testable import QuiverCore

/// `FileAllocation.reserve`: the file grows to the length asked, reads as zeros, and its blocks are allocated (not
/// a sparse file); a bad descriptor is an errno, not a crash.
@Suite("File allocation")
struct FileAllocationTests {
    @Test func reservesTheBlocksOfTheWholeLength() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("allocation-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        let fd = open(url.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        #expect(fd >= 0)
        defer { close(fd) }
        let length: Int64 = (8 << 20) + 4097
        let result = FileAllocation.reserve(fd: fd, length: length)
        var info = stat()
        #expect(fstat(fd, &info) == 0)
        if result == EOPNOTSUPP {
            // A file system that cannot allocate ahead (the caller then sizes the file sparse): nothing changed.
            #expect(info.st_size == 0)
            return
        }
        #expect(result == 0)
        #expect(Int64(info.st_size) == length)
        // Allocated, not sparse: at least the length's 512-byte blocks.
        #expect(Int64(info.st_blocks) * 512 >= length)
        var buffer = [UInt8](repeating: 0xFF, count: 4096)
        #expect(pread(fd, &buffer, buffer.count, off_t(length - 4096)) == 4096)
        #expect(buffer.allSatisfy { $0 == 0 })
    }

    @Test func aBadDescriptorIsAnErrno() {
        #expect(FileAllocation.reserve(fd: -1, length: 4096) == EBADF)
    }
}
