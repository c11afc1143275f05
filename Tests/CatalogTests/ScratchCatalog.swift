import Foundation
import QuiverTesting
@testable import Catalog

/// Runs `body` with a catalog on a fresh scratch database of the test PostgreSQL (migrated, one connection), and
/// closes and drops it afterwards.
func withScratchCatalog<T>(_ body: (Catalog) throws -> T) throws -> T {
    let url = try TestPostgres.createScratchDatabase()
    defer { try? TestPostgres.dropDatabase(url: url) }
    let catalog = try Catalog.open(url: url, maxConnections: 1)
    defer { catalog.pool.close() }
    return try body(catalog)
}

/// `value` as JSON with sorted keys and dates in seconds: equal text means equal records, field by field.
func encoded(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.dateEncodingStrategy = .secondsSince1970
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
