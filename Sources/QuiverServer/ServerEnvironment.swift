import Foundation
import QuiverCore
import Registry

/// What every handler shares: the registry, the executor its calls run on, the settings, the metrics and the
/// redaction of secrets from anything sent or logged.
struct ServerEnvironment: Sendable {
    let registry: Registry
    let executor: ServerExecutor
    /// Blob transfers' own threads (``ServerSettings/transferThreads``).
    let transfers: ServerExecutor
    let settings: ServerSettings
    let metrics: ServerMetrics
    let redaction: SecretRedaction
    /// When each token's use was last written, so a request costs one token round trip, not two.
    let tokenUses: TokenUseNotes
    /// Read answers and authenticated tokens, emptied by the catalog's change feed and by this server's writes.
    let caches: ServerCaches
    /// Browser sessions of the pages (`/ui`).
    let sessions: PageSessions
}
