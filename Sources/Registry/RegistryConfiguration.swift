import Catalog
import Foundation
import ObjectStore
import Provenance
import QuiverCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a registry's catalog and blobs are, and who is acting: the one resolver every command (and, later, the
/// server) uses, so that a flag, an environment variable and a default mean the same thing everywhere.
///
/// Each setting is the explicit value (a command-line flag) when given and non-empty, else an environment variable,
/// else a default:
///
/// | setting | explicit | environment | default |
/// | --- | --- | --- | --- |
/// | database | `--database-url` | `QUIVER_DATABASE_URL`, then `DATABASE_URL` | the embedded server under `home` |
/// | blob store | `--blob-store` | `QUIVER_BLOB_STORE` | `blobs/` under `home` |
/// | home | — | `QUIVER_HOME` | `~/.quiver`, or `/var/lib/quiver` as root (see `QuiverHome`) |
/// | actor | `--actor` | `QUIVER_ACTOR` | the operating-system user |
/// | signing key | — | `QUIVER_SIGNING_KEY` (must exist) | `keys/signing-key.pem` under `home`, generated (0600) |
///
/// Resolving is pure except ``databaseURL()``, which starts (or reuses) the embedded server when no URL is set.
public struct RegistryConfiguration: Sendable {
    /// `--database-url`, if given.
    public var explicitDatabaseURL: String?
    /// `--blob-store`, if given.
    public var explicitBlobStore: String?
    /// `--actor`, if given.
    public var explicitActor: String?
    /// The variables the defaults are read from (the process's own unless a test passes others).
    public var environment: [String: String]

    public init(
        databaseURL: String? = nil, blobStore: String? = nil, actor: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        explicitDatabaseURL = databaseURL
        explicitBlobStore = blobStore
        explicitActor = actor
        self.environment = environment
    }

    /// The data directory of the embedded defaults (`pg/`, `blobs/`, `demo/`).
    public var home: URL { QuiverHome.directory(environment: environment) }

    /// The configured database URL, or nil when the embedded server is to be used. Starts nothing.
    public var configuredDatabaseURL: String? {
        DatabaseLocation.configuredURL(explicit: explicitDatabaseURL, environment: environment)
    }

    /// The database URL to connect to, starting (or reusing) the embedded server when none is configured.
    public func databaseURL() throws -> String {
        try DatabaseLocation.resolve(explicit: explicitDatabaseURL, environment: environment)
    }

    /// The blob store's location: `s3://bucket/prefix`, a `file://` URL or a directory.
    public var blobStoreURL: String {
        for candidate in [explicitBlobStore, environment["QUIVER_BLOB_STORE"]] {
            if let candidate, !candidate.isEmpty { return candidate }
        }
        return home.appendingPathComponent("blobs", isDirectory: true).path
    }

    /// Who is acting, recorded on every version, merge, alias move and audit event.
    public var actor: String {
        for candidate in [explicitActor, environment["QUIVER_ACTOR"]] {
            if let candidate, !candidate.isEmpty { return candidate }
        }
        if let user = environment["USER"], !user.isEmpty { return user }
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid-\(geteuid())"
    }

    /// Where the key that signs provenance and published directories is (never printed or logged).
    public var signingKey: SigningKeyLocation { SigningKeyLocation.resolve(environment: environment, home: home) }

    /// Opens the blob store at ``blobStoreURL`` (a local directory is created if missing; S3 is not contacted).
    ///
    /// - Parameter tuneS3: adjusts an S3 store's settings (part sizes, concurrency, retries) before it is opened;
    ///   credentials and endpoint come from the `AWS_*` variables of ``environment``.
    public func openBlobStore(tuneS3: (inout S3Settings) -> Void = { _ in }) throws -> any BlobStore {
        let url = blobStoreURL
        guard url.hasPrefix("s3://") else { return try BlobStores.open(url: url, environment: environment) }
        var settings = try S3Settings.fromEnvironment(url: url, environment: environment)
        tuneS3(&settings)
        return S3BlobStore(settings: settings)
    }

    /// Opens the catalog (starting the embedded server when needed) and applies pending migrations, unless
    /// `migrate` is false.
    public func openCatalog(maxConnections: Int = 4, migrate: Bool = true) throws -> Catalog {
        try Catalog.open(url: try databaseURL(), maxConnections: maxConnections, migrate: migrate)
    }

    /// Opens the registry: the blob store first (a malformed location fails before any database work), then the
    /// catalog, migrated.
    public func openRegistry(maxConnections: Int = 4) throws -> Registry {
        let blobs = try openBlobStore()
        let catalog = try openCatalog(maxConnections: maxConnections)
        return Registry(pool: catalog.pool, blobs: blobs, actor: actor, signingKey: signingKey)
    }
}
