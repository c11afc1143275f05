import Foundation
import Postgres
import QuiverTesting
import Testing
@testable import Catalog

/// Reads ride out a PostgreSQL restart as writes do (issue 12's crash trials: a merge failed with
/// `postgres.connection_lost` resolving its inputs on a pooled connection the restart had broken).
@Suite("Catalog: reads across a restart", .serialized)
struct ReconnectTests {
    @Test func aReadOnAConnectionBrokenByARestartIsRetried() throws {
        let server = try DedicatedPostgres()
        defer { try? server.stop() }
        let catalog = try Catalog.open(url: server.url, maxConnections: 1)
        defer { catalog.pool.close() }
        #expect(try catalog.read { try $0.audit.head() } == nil)

        try server.restart()  // the pool's one idle connection is now dead

        #expect(try catalog.read { try $0.audit.head() } == nil, "the read reconnects instead of failing")

        // Probes do not wait: with patience zero the dead connection's error comes straight back.
        try server.restart()
        let error = #expect(throws: PostgresError.self) { try catalog.ping() }
        #expect(error.map(Catalog.isConnectionLoss) == true)
    }
}
