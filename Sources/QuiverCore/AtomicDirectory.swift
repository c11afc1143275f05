import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Creates a directory's whole content or nothing: the content is written into a hidden temporary sibling
/// (`.<name>.tmp-<uuid>` next to the destination), which is renamed into place only once it is complete.
///
/// A crash or an error part-way leaves no half-written destination: on error the temporary is removed; after a
/// crash it is a hidden sibling a user can delete. The rename is atomic because the temporary is on the same file
/// system as the destination. An existing destination is refused (never replaced), with ``DirectoryWriteError``
/// of kind `.conflict`.
public enum AtomicDirectory {
    /// Throws ``DirectoryWriteError/exists(_:)`` when `destination` already exists (a file or a directory).
    ///
    /// `write(to:_:)` checks again before the rename; call this first to refuse cheaply before expensive work.
    public static func requireAbsent(_ destination: URL) throws {
        if FileManager.default.fileExists(atPath: destination.path) { throw DirectoryWriteError.exists(destination) }
    }

    /// Runs `body` with an empty temporary directory next to `destination`, then renames it to `destination`.
    ///
    /// Creates the destination's parent directories when missing. `body` fills the directory it is given (it
    /// exists and is empty). Errors from `body` are rethrown unchanged; the helper's own file-system failures are
    /// ``DirectoryWriteError``. The temporary is removed whenever this throws.
    /// - Returns: whatever `body` returns.
    @discardableResult
    public static func write<T>(to destination: URL, _ body: (URL) throws -> T) throws -> T {
        try requireAbsent(destination)
        let parent = destination.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw DirectoryWriteError.io("cannot create the directory", parent, error)
        }
        // A killed writer's temporary (same name, a process that is gone) is removed before a new one is made.
        ScratchSpace.sweepAbandoned(in: parent, prefix: ".\(destination.lastPathComponent).tmp-")
        let temporary = parent.appendingPathComponent(ScratchSpace.temporarySiblingName(of: destination.lastPathComponent), isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: false)
        } catch {
            throw DirectoryWriteError.io("cannot create the temporary directory", temporary, error)
        }
        do {
            let result = try body(temporary)
            try rename(temporary, to: destination)
            return result
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Renames the finished temporary into place. `rename(2)` refuses a non-empty directory (`ENOTEMPTY`) or a
    /// file (`ENOTDIR`) at the destination, so only an empty directory created since the check could be replaced.
    private static func rename(_ source: URL, to destination: URL) throws {
        try requireAbsent(destination)
        guard systemRename(source.path, destination.path) == 0 else {
            let code = errno
            if code == EEXIST || code == ENOTEMPTY || code == ENOTDIR { throw DirectoryWriteError.exists(destination) }
            throw DirectoryWriteError.io("cannot rename into place", destination, code)
        }
    }
}

#if canImport(Glibc)
private let systemRename = Glibc.rename
#elseif canImport(Darwin)
private let systemRename = Darwin.rename
#endif

/// Why ``AtomicDirectory`` could not create a directory: the destination exists, or the file system refused.
public struct DirectoryWriteError: NamedError, Equatable {
    public let code: String
    public let reason: String
    public let hint: String
    public let errorKind: ErrorKind

    /// The destination already exists (`fs.output_exists`, kind `.conflict`).
    public static func exists(_ destination: URL) -> DirectoryWriteError {
        DirectoryWriteError(
            code: "fs.output_exists", reason: "the output \(destination.path) already exists",
            hint: "choose a new output directory, or remove the existing one", errorKind: .conflict)
    }

    /// The file system refused an operation (`fs.io`, kind `.unavailable`, like a blob store's local I/O failure).
    static func io(_ what: String, _ path: URL, _ errorNumber: Int32) -> DirectoryWriteError {
        DirectoryWriteError(
            code: "fs.io", reason: "\(what) \(path.path): \(String(cString: strerror(errorNumber)))",
            hint: "check the path, its permissions and free disk space", errorKind: .unavailable)
    }

    static func io(_ what: String, _ path: URL, _ error: any Error) -> DirectoryWriteError {
        let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
        if let posix = underlying, posix.domain == NSPOSIXErrorDomain { return io(what, path, Int32(posix.code)) }
        return DirectoryWriteError(
            code: "fs.io", reason: "\(what) \(path.path): \(error.localizedDescription)",
            hint: "check the path, its permissions and free disk space", errorKind: .unavailable)
    }
}
