import Foundation
import QuiverCore

/// Whether the registry's two services answer: `ok`, or what failed (a named error's code and reason, which never
/// carry a secret: passwords and keys are masked by the caller's redaction before anything is shown).
public struct Readiness: Sendable, Codable, Equatable {
    public let database: String
    public let blobStore: String

    public var isReady: Bool { database == "ok" && blobStore == "ok" }
}

extension Registry {
    /// Runs one statement on the catalog and one HEAD on the blob store (for a blob that need not exist), neither
    /// waiting out an outage: a probe answers within a second or two.
    public func readiness() -> Readiness {
        func check(_ body: () throws -> Void) -> String {
            do {
                try body()
                return "ok"
            } catch let error as any NamedError {
                return "\(error.code): \(error.reason)"
            } catch {
                return "error: \(error)"
            }
        }
        return Readiness(database: check { try catalog.ping() }, blobStore: check { try blobs.probe() })
    }
}
