import Foundation
import Glibc
import QuiverCore
import QuiverTesting
import Testing

/// Read leases on real files in the temporary directory (a local file system on the machines the tests run on):
/// what breaks one, what refuses one, and that letting go is seen by the kernel.
@Suite("File lease")
struct FileLeaseTests {
    /// A file of a few bytes in a fresh directory.
    static func file(_ contents: String = "weights") throws -> (directory: URL, path: String) {
        let directory = try Fixtures.temporaryDirectory("quiver-lease")
        let url = directory.appendingPathComponent("adapter_model.safetensors")
        try Data(contents.utf8).write(to: url)
        return (directory, url.path)
    }

    /// The leases the kernel lists for the file at `path` (`/proc/locks`: `N: LEASE ACTIVE READ pid MAJ:MIN:INODE ...`).
    static func leases(on path: String) throws -> Int {
        var status = stat()
        try #require(stat(path, &status) == 0)
        let locks = try String(contentsOfFile: "/proc/locks", encoding: .utf8)
        return locks.split(separator: "\n").filter { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.contains("LEASE") && fields.contains { $0.hasSuffix(":\(status.st_ino)") }
        }.count
    }

    @Test("a lease is granted on a regular file, listed by the kernel while held, and gone once released or dropped")
    func grantedAndReleased() throws {
        let (directory, path) = try Self.file()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lease = try #require(FileLease.take(path: path))
        #expect(lease.isIntact)
        #expect(try Self.leases(on: path) == 1)
        lease.release()
        #expect(!lease.isIntact)
        #expect(try Self.leases(on: path) == 0)
        lease.release()  // idempotent

        do {
            let dropped = try #require(FileLease.take(path: path))
            #expect(dropped.isIntact)
            #expect(try Self.leases(on: path) == 1)
        }
        #expect(try Self.leases(on: path) == 0, "the last reference gone, the lease is given up")
    }

    @Test("opening the file for writing breaks the lease: the writer gets in within a poll, and the lease says so", arguments: [false, true])
    func writerBreaksIt(changes: Bool) throws {
        let (directory, path) = try Self.file()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lease = try #require(FileLease.take(path: path))
        let started = Date()
        let writer = open(path, O_WRONLY | O_CLOEXEC)
        try #require(writer >= 0, "the writer's open failed: \(String(cString: strerror(errno)))")
        // The kernel would keep a writer waiting for /proc/sys/fs/lease-break-time (45 s by default).
        #expect(-started.timeIntervalSinceNow < 10, "the writer waited \(-started.timeIntervalSinceNow) s for the lease")
        if changes { #expect(pwrite(writer, "W", 1, 0) == 1) }
        close(writer)
        #expect(!lease.isIntact, "a lease a writer came through must not claim the file unchanged")
        #expect(try Self.leases(on: path) == 0)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == (changes ? "Weights" : "weights"))
    }

    @Test("truncating the file breaks the lease")
    func truncateBreaksIt() throws {
        let (directory, path) = try Self.file()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lease = try #require(FileLease.take(path: path))
        #expect(truncate(path, 3) == 0)
        #expect(!lease.isIntact)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 3)
    }

    @Test("no lease on a file open for writing, on another file than the one identified, on a FIFO, a directory or a missing path")
    func refused() throws {
        let (directory, path) = try Self.file()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A writer that has the file open already could write at any time: no lease can vouch for it.
        let writer = open(path, O_WRONLY | O_CLOEXEC)
        try #require(writer >= 0)
        #expect(FileLease.take(path: path) == nil)
        close(writer)

        // The identity of the file first read; the path then renamed over by another file.
        let first = try #require(FileLease.take(path: path))
        let identity = first.identity
        first.release()
        let other = directory.appendingPathComponent("other")
        try Data("other".utf8).write(to: other)
        #expect(rename(other.path, path) == 0)
        #expect(FileLease.take(path: path, expecting: identity) == nil)
        let current = try #require(FileLease.take(path: path))
        #expect(current.identity != identity)
        #expect(FileLease.take(path: path, expecting: current.identity) != nil, "two read leases on one file")

        let fifo = directory.appendingPathComponent("fifo").path
        try #require(mkfifo(fifo, 0o600) == 0)
        #expect(FileLease.take(path: fifo) == nil)
        #expect(FileLease.take(path: directory.path) == nil)
        #expect(FileLease.take(path: directory.appendingPathComponent("missing").path) == nil)
    }
}
