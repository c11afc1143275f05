import Foundation
import ObjectStore
import QuiverTesting
import Registry
import Testing

/// The one resolver of database, blob store, home and actor: flag, then environment, then default.
@Suite("RegistryConfiguration")
struct RegistryConfigurationTests {
    @Test func explicitValuesWinOverTheEnvironment() {
        let environment = [
            "QUIVER_DATABASE_URL": "postgresql://env/quiver", "DATABASE_URL": "postgresql://generic/db",
            "QUIVER_BLOB_STORE": "s3://env-bucket/p", "QUIVER_ACTOR": "env-actor", "QUIVER_HOME": "/srv/quiver",
        ]
        let configuration = RegistryConfiguration(
            databaseURL: "postgresql://flag/quiver", blobStore: "/flag/blobs", actor: "flag-actor", environment: environment)
        #expect(configuration.configuredDatabaseURL == "postgresql://flag/quiver")
        #expect(configuration.blobStoreURL == "/flag/blobs")
        #expect(configuration.actor == "flag-actor")
        #expect(configuration.home.path == "/srv/quiver")

        let fromEnvironment = RegistryConfiguration(environment: environment)
        #expect(fromEnvironment.configuredDatabaseURL == "postgresql://env/quiver")
        #expect(fromEnvironment.blobStoreURL == "s3://env-bucket/p")
        #expect(fromEnvironment.actor == "env-actor")
        // Empty values count as unset.
        #expect(RegistryConfiguration(databaseURL: "", environment: ["DATABASE_URL": "postgresql://generic/db"]).configuredDatabaseURL
                == "postgresql://generic/db")
    }

    @Test func defaultsLiveUnderTheHome() {
        let configuration = RegistryConfiguration(environment: ["QUIVER_HOME": "/srv/quiver", "USER": "alice"])
        #expect(configuration.configuredDatabaseURL == nil, "the embedded server")
        #expect(configuration.blobStoreURL == "/srv/quiver/blobs")
        #expect(configuration.actor == "alice")
        #expect(!RegistryConfiguration(environment: ["QUIVER_HOME": "/srv/quiver"]).actor.isEmpty, "the OS user without USER")
    }

    @Test func theBlobStoreOpensWithItsS3Tuning() throws {
        let home = try Fixtures.temporaryDirectory("config-home")
        defer { try? FileManager.default.removeItem(at: home) }
        let local = try RegistryConfiguration(environment: ["QUIVER_HOME": home.path]).openBlobStore()
        #expect(local.location.hasSuffix("/blobs/"))
        #expect(FileManager.default.fileExists(atPath: home.appendingPathComponent("blobs/sha256").path))

        let environment = ["AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"]
        let s3 = try RegistryConfiguration(blobStore: "s3://bucket-name/prefix", environment: environment).openBlobStore { settings in
            settings.partSize = 8 << 20
        }
        let store = try #require(s3 as? S3BlobStore)
        #expect(store.location == "s3://bucket-name/prefix")
    }
}
