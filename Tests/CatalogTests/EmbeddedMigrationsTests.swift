import Foundation
import QuiverTesting
import Testing
@testable import Catalog

@Suite("Embedded migrations")
struct EmbeddedMigrationsTests {
    @Test func generatedFileMatchesMigrationsFolder() throws {
        let folder = Fixtures.packageRoot.appendingPathComponent("Migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        let fromDisk = try files.map { file -> Migration in
            let stem = String(file.dropLast(4))
            let number = try #require(Int(stem.prefix(4)), "bad migration file name \(file)")
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            return Migration(version: number, name: String(stem.dropFirst(5)), sql: text)
        }
        #expect(
            fromDisk == Migration.embedded,
            "Sources/Catalog/EmbeddedMigrations.swift is stale: run scripts/gen-migrations.sh and commit the result"
        )
    }

    @Test func embeddedVersionsAreContiguous() throws {
        try Migrator.validate(Migration.embedded)
        #expect(Migration.embedded.first?.fileName == "0001_catalog.sql")
    }

    @Test func gapsAndDuplicatesAreRefused() {
        let a = Migration(version: 1, name: "a", sql: "SELECT 1")
        let c = Migration(version: 3, name: "c", sql: "SELECT 1")
        #expect(throws: CatalogError.self) { try Migrator.validate([a, c]) }
        #expect(throws: CatalogError.self) { try Migrator.validate([a, a]) }
        #expect(throws: CatalogError.self) { try Migrator.validate([c]) }
    }
}
