import Foundation
import Postgres

/// Which database Quiver uses: an explicit URL (`--database-url`), `QUIVER_DATABASE_URL`, `DATABASE_URL`,
/// else the embedded server under `QUIVER_HOME`.
public enum DatabaseLocation {
    /// The configured URL, or nil when the embedded server should be used.
    public static func configuredURL(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        for candidate in [explicit, environment["QUIVER_DATABASE_URL"], environment["DATABASE_URL"]] {
            if let candidate, !candidate.isEmpty { return candidate }
        }
        return nil
    }

    /// The URL to connect to, starting (or reusing) the embedded server when nothing is configured.
    public static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let url = configuredURL(explicit: explicit, environment: environment) { return url }
        return try EmbeddedPostgres(directory: EmbeddedPostgres.defaultDirectory(environment: environment)).start()
    }
}
