import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Temporary directories that carry the creating process's id in their name, so that what a killed process left
/// behind (a merge's downloaded inputs, a pull's half-written directory) is recognised and removed by the next
/// Quiver process that works in the same place, and by `gc`.
///
/// Names are `<prefix><pid>-<uuid>`. A directory is abandoned when no process with that id exists any more; a
/// reused id only makes the sweep keep a directory longer, never remove a live one.
public enum ScratchSpace {
    /// The prefix of the registry's scratch directories under the system temporary directory.
    public static let prefix = "quiver-"

    /// A new, empty scratch directory `quiver-<label>-<pid>-<uuid>` in `parent` (default: the temporary
    /// directory), after sweeping the abandoned ones there.
    public static func create(_ label: String, in parent: URL = FileManager.default.temporaryDirectory) throws -> URL {
        sweepAbandoned(in: parent, prefix: prefix)
        let url = parent.appendingPathComponent("\(prefix)\(label)-\(getpid())-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A name for a temporary sibling of `name` owned by this process: `.<name>.tmp-<pid>-<uuid>`.
    public static func temporarySiblingName(of name: String) -> String {
        ".\(name).tmp-\(getpid())-\(UUID().uuidString)"
    }

    /// Removes the entries of `directory` whose name starts with `prefix` followed by `…<pid>-<uuid>` of a process
    /// that no longer exists; returns how many. Entries of live processes, and names of another shape, are kept.
    @discardableResult
    public static func sweepAbandoned(in directory: URL, prefix: String) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return 0 }
        var removed = 0
        for name in names where name.hasPrefix(prefix) {
            guard let pid = ownerPID(of: name), !isAlive(pid) else { continue }
            if (try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))) != nil { removed += 1 }
        }
        return removed
    }

    /// The pid in `…-<pid>-<uuid>`, if the name has that shape.
    static func ownerPID(of name: String) -> pid_t? {
        let parts = name.split(separator: "-")
        // A UUID has five dash-separated groups; the pid is the part just before them.
        guard parts.count >= 6, UUID(uuidString: parts.suffix(5).joined(separator: "-")) != nil,
              let pid = pid_t(parts[parts.count - 6]), pid > 0 else { return nil }
        return pid
    }

    static func isAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
