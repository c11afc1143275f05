import Catalog
import LoRA
import ObjectStore
import Foundation
import Postgres
import QuiverCore
import QuiverTesting
import Testing
@testable import Registry

/// Races between writers, and a writer that stops while holding the blob fence.
@Suite("Registry: races and stuck writers", .serialized)
struct ConcurrencyTests {
    @Test func concurrentFirstMovesOfAnAliasKeepTheWholeHistory() throws {
        try RegistryFixture.with { f in
            let one = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone").version
            let two = try f.registry.register(directory: RegistryFixture.golden("a2"), name: "tone").version
            for trial in 0..<10 {
                let alias = "staging\(trial)"
                DispatchQueue.concurrentPerform(iterations: 8) { index in
                    _ = try? f.acting(as: "writer-\(index)").setAlias(
                        name: "tone", alias: alias, version: index % 2 == 0 ? one.version : two.version)
                }
                let rows = try f.registry.pool.query("""
                    SELECT previous_version_id, version_id FROM alias_events WHERE alias = \(alias) ORDER BY id
                    """).map { (try $0.decode(Int64?.self, at: 0), try $0.decode(Int64.self, at: 1)) }
                #expect(rows.count == 8)
                #expect(rows.first?.0 == nil, "the first move has no predecessor")
                for (before, after) in zip(rows, rows.dropFirst()) {
                    #expect(after.0 == before.1, "trial \(trial): a move lost its predecessor")
                }
            }
        }
    }

    @Test func gcGivesUpOnAStuckWriterInsteadOfBlockingEveryone() throws {
        try RegistryFixture.with { f in
            // A writer stopped between its upload and its commit: it holds the blob fence (shared).
            let stuck = try PostgresConnection(url: f.databaseURL)
            defer { stuck.close() }
            try stuck.query("SELECT pg_advisory_lock_shared(\(CatalogLocks.blobFenceKey))")

            let started = Date()
            let error = #expect(throws: RegistryError.self) {
                try f.registry.collectGarbage(graceSeconds: 0, fenceTimeout: .milliseconds(500))
            }
            #expect(error?.code == "registry.gc_busy" && error?.errorKind == .unavailable)
            #expect(Date().timeIntervalSince(started) < 10)
            // Other writers are not held up by the stuck one, nor by the gc that gave up.
            let registered = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone")
            #expect(!registered.existed)

            try stuck.query("SELECT pg_advisory_unlock_shared(\(CatalogLocks.blobFenceKey))")
            let report = try f.registry.collectGarbage(graceSeconds: 0, fenceTimeout: .milliseconds(500))
            #expect(report.referenced == 2 && report.deleted.isEmpty)
        }
    }
}

/// A database restart while a version is being recorded costs a retry of the recording, not the caller's work.
@Suite("Registry: connection loss while recording", .serialized)
struct ConnectionLossTests {
    @Test func aConnectionLostInTheRecordingTransactionIsRetriedOnAFreshOne() throws {
        try RegistryFixture.with { f in
            let adapter = try LoRAAdapter.load(directory: RegistryFixture.golden("a1"))
            let killer = try PostgresConnection(url: f.databaseURL)
            defer { killer.close() }
            let attempts = Counter()
            let outcome = try f.registry.store(adapter: adapter, name: "tone", kind: .trained, tags: [:], baseRevision: nil) { tx, _ in
                // The first attempt's connection dies before its COMMIT, as in a server restart.
                if attempts.increment() == 1 {
                    try killer.query("SELECT pg_terminate_backend(\(Int(tx.connection.backendPID))::int)")
                }
            }
            #expect(attempts.value == 2)
            #expect(!outcome.existed && outcome.version.label == "tone@1")
            #expect(try f.count("SELECT count(*) FROM adapter_versions") == 1)
            #expect(try f.registry.verify(outcome.version).passed)
        }
    }
}

/// A blob store that cannot be reached is an outage, not a verification finding.
@Suite("Registry: verify with the store away")
struct VerifyUnavailableTests {
    @Test func verifyThrowsUnavailableInsteadOfReportingAMismatch() throws {
        try RegistryFixture.with { f in
            let version = try f.registry.register(directory: RegistryFixture.golden("a1"), name: "tone").version
            var settings = f.s3.client.settings
            settings.endpoint = URL(string: "http://127.0.0.1:1")!
            settings.retry = RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.02, maxTotal: 1)
            let away = Registry(catalog: f.registry.catalog, blobs: S3BlobStore(settings: settings), actor: "tester", signingKey: f.registry.signingKey)
            let error = #expect(throws: ObjectStoreError.self) { try away.verify(version) }
            #expect(error?.errorKind == .unavailable)
        }
    }
}

/// A counter shared with a closure.
final class Counter: @unchecked Sendable {
    // @unchecked: the closures that touch it run one at a time on the calling thread.
    private(set) var value = 0
    func increment() -> Int {
        value += 1
        return value
    }
}
