import Foundation
import QuiverCore
import Testing

/// What a killed process left in a scratch or temporary-sibling directory is removed by the next process; what a
/// live process is using is not.
@Suite("ScratchSpace")
struct ScratchSpaceTests {
    /// The pid of a process that has exited (and been reaped), so no process has it for a while.
    static func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func abandonedScratchDirectoriesAreSweptLiveOnesKept() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("scratch-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: parent) }
        let dead = parent.appendingPathComponent("quiver-merge-\(try Self.deadPID())-\(UUID().uuidString)")
        let live = parent.appendingPathComponent("quiver-merge-\(getpid())-\(UUID().uuidString)")
        let foreign = parent.appendingPathComponent("quiver-notes")
        for url in [dead, live, foreign] { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        try Data(repeating: 1, count: 1024).write(to: dead.appendingPathComponent("input.safetensors"))

        let fresh = try ScratchSpace.create("merge", in: parent)
        #expect(!FileManager.default.fileExists(atPath: dead.path), "the killed process's inputs are gone")
        #expect(FileManager.default.fileExists(atPath: live.path) && FileManager.default.fileExists(atPath: foreign.path))
        #expect(fresh.lastPathComponent.hasPrefix("quiver-merge-\(getpid())-"))
    }

    @Test func aKilledWritersTemporarySiblingIsRemovedByTheNextWrite() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: parent) }
        let leftover = parent.appendingPathComponent(".adapter.tmp-\(try Self.deadPID())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: leftover, withIntermediateDirectories: true)
        try AtomicDirectory.write(to: parent.appendingPathComponent("adapter")) { directory in
            try Data("{}".utf8).write(to: directory.appendingPathComponent("adapter_config.json"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["adapter"])
    }
}
