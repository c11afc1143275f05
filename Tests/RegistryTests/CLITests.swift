import Foundation
import QuiverCLI
import QuiverTesting
import Testing

/// The commands end to end, as `quiver` parses and runs them (local blob store, scratch database), in this process
/// through `QuiverProgram.run`, the same path the executable takes.
@Suite("quiver registry commands", .serialized)
struct CLITests {
    /// Runs a command line that must succeed.
    private func run(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let status = QuiverProgram.run(arguments)
        try #require(status == 0, "quiver \(arguments.joined(separator: " ")) exited \(status)", sourceLocation: sourceLocation)
    }

    /// The exit status of a command line.
    private func status(_ arguments: [String]) -> Int32 {
        QuiverProgram.run(arguments)
    }

    @Test func registerMergeRefuseLineageAuditVerify() throws {
        let database = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: database) }
        let blobs = try Fixtures.temporaryDirectory("cli-blobs")
        defer { try? FileManager.default.removeItem(at: blobs) }
        let common = ["--database-url", database, "--blob-store", blobs.path, "--actor", "cli-user"]
        let adapters = Fixtures.peftGolden.appendingPathComponent("adapters")
        try run(["register", adapters.appendingPathComponent("a1").path, "--name", "tone", "--tag", "team=nlp"] + common)
        try run(["register", adapters.appendingPathComponent("a2").path, "--name", "json"] + common)
        try run(["register", adapters.appendingPathComponent("a4").path, "--name", "wide"] + common)
        try run(["list", "--rank", "8", "--tag", "team=nlp"] + common)
        try run(["merge", "--method", "ties", "--density", "0.5", "--into", "blend", "tone", "json"] + common)
        // A refused merge exits with status 2.
        #expect(status(["merge", "--method", "ties", "--density", "0.5", "--into", "bad", "tone", "wide"] + common) == 2)
        try run(["merge", "--async", "--method", "linear", "--into", "queued", "tone", "json@1"] + common)
        try run(["worker", "--once", "--worker-id", "cli-worker"] + common)
        try run(["job", "show", "1"] + common)
        try run(["lineage", "blend", "--format", "dot"] + common)
        try run(["lineage", "tone", "--down"] + common)
        try run(["audit", "blend", "--json"] + common)
        try run(["verify", "blend"] + common)
        try run(["eval", "record", "tone", "--suite", "style", "--metric", "acc", "--value", "0.8"] + common)
        // Promotion to the protected alias without evaluations is refused (2).
        #expect(status(["alias", "set", "blend", "production", "1"] + common) == 2)
        try run(["alias", "set", "blend", "production", "1", "--force"] + common)
        try run(["policy", "set", "max_merged_rank", "64"] + common)
        try run(["policy", "show"] + common)
        try run(["show", "blend@production"] + common)
        try run(["gc", "--grace", "1h", "--dry-run"] + common)
        let out = try Fixtures.temporaryDirectory("cli-pull").appendingPathComponent("blend")
        try run(["pull", "blend@production", "--output", out.path] + common)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("adapter_model.safetensors").path))
        let rows = try TestPostgres.psql(database, "SELECT count(*) FROM adapter_versions WHERE kind = 'merged' AND created_by = 'cli-user'")
        #expect(rows.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
    }

    @Test func gcAbortsStaleTemporaryFilesOfALocalStore() throws {
        let database = try TestPostgres.createScratchDatabase()
        defer { try? TestPostgres.dropDatabase(url: database) }
        let blobs = try Fixtures.temporaryDirectory("cli-gc-blobs")
        defer { try? FileManager.default.removeItem(at: blobs) }
        let common = ["--database-url", database, "--blob-store", blobs.path, "--actor", "cli-user"]
        try run(["register", Fixtures.peftGolden.appendingPathComponent("adapters/a1").path, "--name", "tone"] + common)
        // A write a crashed process left behind two hours ago, and one still being written.
        let stale = blobs.appendingPathComponent("sha256/.tmp-crashed")
        let live = blobs.appendingPathComponent("sha256/.tmp-live")
        try Data(repeating: 9, count: 4096).write(to: stale)
        try Data(repeating: 8, count: 16).write(to: live)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: stale.path)

        try run(["gc", "--grace", "1h", "--dry-run"] + common)
        #expect(FileManager.default.fileExists(atPath: stale.path))
        try run(["gc", "--grace", "1h"] + common)
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        #expect(FileManager.default.fileExists(atPath: live.path))
        try run(["verify", "tone"] + common)
    }
}
