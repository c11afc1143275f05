import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where the embedded default keeps its data (`pg/`, `blobs/`, `demo/`): one directory, so a user finds it all.
public enum QuiverHome {
    /// `$QUIVER_HOME`; else `~/.quiver`; as root without QUIVER_HOME, `/var/lib/quiver`, because root's home is
    /// closed (0700) to the unprivileged user the embedded PostgreSQL must run as.
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let home = environment["QUIVER_HOME"], !home.isEmpty { return URL(fileURLWithPath: home, isDirectory: true) }
        if geteuid() == 0 { return URL(fileURLWithPath: "/var/lib/quiver", isDirectory: true) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".quiver", isDirectory: true)
    }
}
