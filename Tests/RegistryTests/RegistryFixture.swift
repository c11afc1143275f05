import Catalog
import Foundation
import ObjectStore
import Postgres
import Provenance
import QuiverCore
import QuiverTesting
import Registry
import Testing

/// A registry over a scratch database on the test PostgreSQL and a fresh prefix of the test S3 bucket.
struct RegistryFixture {
    let registry: Registry
    let databaseURL: String
    let s3: S3BlobStore
    let blobStoreURL: String
    /// The registry's clock: tests move it past a lease or a grace period instead of sleeping.
    let clock: TestClock
    /// A home of the fixture's own, holding its generated signing key (`keys/signing-key.pem`).
    let home: URL

    static func make(actor: String = "tester", connections: Int = 8) throws -> RegistryFixture {
        let server = try TestS3.require()
        let url = try TestPostgres.createScratchDatabase()
        let catalog = try Catalog.open(url: url, maxConnections: connections)
        let blobURL = "s3://\(server.bucket)/reg-\(UUID().uuidString.lowercased())"
        var settings = try S3Settings.fromEnvironment(url: blobURL, environment: server.awsEnvironment)
        settings.retry = RetryPolicy(maxAttempts: 3, baseDelay: 0.05, maxDelay: 0.2, maxTotal: 5)
        let store = S3BlobStore(settings: settings)
        let clock = TestClock()
        let home = try Fixtures.temporaryDirectory("reg-home")
        let signingKey = SigningKeyLocation.resolve(environment: [:], home: home)
        return RegistryFixture(
            registry: Registry(catalog: catalog, blobs: store, actor: actor, clock: clock, signingKey: signingKey), databaseURL: url, s3: store,
            blobStoreURL: blobURL, clock: clock, home: home)
    }

    /// The same catalog and store acting as someone else.
    func acting(as actor: String) -> Registry { registry.acting(as: actor) }

    func tearDown() {
        for blob in (try? s3.list()) ?? [] { try? s3.delete(digest: blob.digest) }
        registry.pool.close()
        try? TestPostgres.dropDatabase(url: databaseURL)
        try? FileManager.default.removeItem(at: home)
    }

    /// Replaces the bytes under a blob's key behind the registry's back.
    func tamper(_ digest: SHA256Digest, with bytes: Data) throws {
        try s3.client.putObject(key: BlobKey.key(for: digest), data: bytes)
    }

    func count(_ sql: String) throws -> Int {
        try registry.pool.query(SQLQuery(unsafeSQL: sql)).single().decode(Int.self, at: 0)
    }

    static func golden(_ name: String) -> URL {
        Fixtures.peftGolden.appendingPathComponent("adapters/\(name)", isDirectory: true)
    }

    /// Runs `body` and always tears down.
    static func with(_ body: (RegistryFixture) throws -> Void) throws {
        let fixture = try make()
        defer { fixture.tearDown() }
        try body(fixture)
    }
}
