import Foundation
import Glibc
import QuiverCore
import QuiverTesting
import Testing

@Suite("Child processes")
struct ChildProcessTests {
    @Test("a child gets standard input, output and error and nothing else this process has open, close-on-exec or not")
    func onlyTheStandardDescriptorsReachTheChild() throws {
        let directory = try Fixtures.temporaryDirectory("quiver-child")
        defer { try? FileManager.default.removeItem(at: directory) }
        // A file open for writing without O_CLOEXEC, on a descriptor number no shell takes for itself.
        let path = directory.appendingPathComponent("open-for-writing").path
        let opened = open(path, O_WRONLY | O_CREAT, 0o600)
        try #require(opened >= 0)
        let high: Int32 = 217
        try #require(dup2(opened, high) == high)
        close(opened)
        defer { close(high) }
        #expect(fcntl(high, F_GETFD) & FD_CLOEXEC == 0)

        let outcome = try ChildProcess.run("/bin/sh", ["-c", "ls /proc/$$/fd"])
        #expect(outcome.status == 0)
        let descriptors = Set(outcome.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) })
        #expect(descriptors.isSuperset(of: [0, 1, 2]))
        #expect(!descriptors.contains(Int(high)), "the child holds \(path) open for writing: \(descriptors.sorted())")
    }
}
