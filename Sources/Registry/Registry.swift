@_exported import Catalog
import Foundation
import ObjectStore
import Postgres
import Provenance
import QuiverCore

/// The registry's use cases over one catalog (PostgreSQL) and one content-addressed blob store.
///
/// Registry orders side effects (validate, upload, fence, transaction, record) and makes decisions; the queries
/// live in `Catalog`'s stores and the decisions that need no I/O are plain values (`Decisions/`). Its public API
/// speaks in the catalog's record types (`AdapterVersion`, `Evaluation`, …), so `Catalog` is re-exported.
///
/// Every method blocks the calling thread inside libpq and libcurl: call them from a thread of your own (the CLI's
/// main thread) or through QuiverCore's blocking executor, never from a cooperative thread or an event loop.
public final class Registry: Sendable {
    public let catalog: Catalog
    public let blobs: any BlobStore
    /// Who is acting: recorded on every version, merge, alias move and audit event.
    public let actor: String
    /// The time lease expiry and gc grace periods are measured by.
    public let clock: any WallClock
    /// The key provenance and published directories are signed with (loaded when first needed, per use).
    public let signingKey: SigningKeyLocation

    /// - Parameter signingKey: where the signing key is; by default `QUIVER_SIGNING_KEY`, else the generated key
    ///   under the Quiver home (``SigningKeyLocation/resolve(environment:home:)``).
    public init(catalog: Catalog, blobs: any BlobStore, actor: String, clock: any WallClock = SystemClock(),
                signingKey: SigningKeyLocation? = nil) {
        self.catalog = catalog
        self.blobs = blobs
        self.actor = actor
        self.clock = clock
        self.signingKey = signingKey ?? SigningKeyLocation.resolve(environment: ProcessInfo.processInfo.environment, home: QuiverHome.directory())
    }

    public convenience init(pool: ConnectionPool, blobs: any BlobStore, actor: String, clock: any WallClock = SystemClock(),
                            signingKey: SigningKeyLocation? = nil) {
        self.init(catalog: Catalog(pool: pool), blobs: blobs, actor: actor, clock: clock, signingKey: signingKey)
    }

    /// The catalog's connection pool.
    public var pool: ConnectionPool { catalog.pool }

    /// The same catalog, store and clock, acting as someone else (a worker runs a job as its requester).
    public func acting(as actor: String) -> Registry {
        Registry(catalog: catalog, blobs: blobs, actor: actor, clock: clock, signingKey: signingKey)
    }

    /// Appends an audit event as this registry's actor, inside the session's transaction.
    func audit(_ session: CatalogSession, action: String, subject: String, details: some Encodable = [String: String]()) throws {
        try session.audit.append(actor: actor, action: action, subject: subject, details: details)
    }

    /// A fresh scratch directory for downloads and merge outputs; what killed processes left is swept first
    /// (`ScratchSpace`).
    func scratchDirectory(_ label: String) throws -> URL {
        try ScratchSpace.create(label)
    }
}
