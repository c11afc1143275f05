import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Opening files a user names without trusting what they are: a FIFO, a device or a socket in place of a file must
/// be refused at once, not block `open` or `read` forever, and a file larger than expected must not be read whole.
public enum RegularFile {
    /// Opens `path` read-only without blocking (a FIFO with no writer would block a plain `open`), and returns the
    /// descriptor and size once `fstat` shows a regular file. The caller closes the descriptor.
    public static func open(_ path: String) throws(FileReadError) -> (descriptor: Int32, size: Int64) {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw FileReadError(.unreadable, path: path, String(cString: strerror(errno))) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let message = String(cString: strerror(errno))
            close(descriptor)
            throw FileReadError(.unreadable, path: path, message)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw FileReadError(.notRegular, path: path, "it is \(describe(status.st_mode)), not a regular file")
        }
        return (descriptor, Int64(status.st_size))
    }

    /// The whole content of a regular file of at most `limit` bytes.
    public static func read(_ path: String, limit: Int) throws(FileReadError) -> Data {
        let (descriptor, size) = try open(path)
        defer { close(descriptor) }
        guard size <= Int64(limit) else {
            throw FileReadError(.tooLarge, path: path, "it has \(size) bytes, more than the \(limit) allowed")
        }
        var data = Data(count: Int(size))
        let filled = data.withUnsafeMutableBytes { buffer in
            Result { () throws(PositionalReadError) in try PositionalRead.fill(buffer, from: descriptor, at: 0) }
        }
        switch filled {
        case .failure(let error): throw FileReadError(.unreadable, path: path, error.message)
        case .success(let count) where count < Int(size): throw FileReadError(.unreadable, path: path, "it shrank while being read")
        case .success: return data
        }
    }

    /// Checks that `path` is a regular file (not a FIFO, device or socket) without opening it for reading.
    public static func requireRegular(_ path: String) throws(FileReadError) {
        let (descriptor, _) = try open(path)
        close(descriptor)
    }

    private static func describe(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFDIR: "a directory"
        default: "not a regular file"
        }
    }
}

/// A file that could not be read safely: unreadable, not a regular file, or larger than allowed.
public struct FileReadError: NamedError, Equatable {
    public enum Reason: String, Sendable {
        case unreadable
        case notRegular = "not_regular"
        case tooLarge = "too_large"
    }

    public let reasonKind: Reason
    public let path: String
    public let detail: String

    public init(_ reason: Reason, path: String, _ detail: String) {
        self.reasonKind = reason
        self.path = path
        self.detail = detail
    }

    public var code: String { "file.\(reasonKind.rawValue)" }
    public var reason: String { "\(path): \(detail)" }
    public var hint: String {
        switch reasonKind {
        case .unreadable: "check that the path exists and is readable"
        case .notRegular: "point Quiver at the file itself (FIFOs, devices and sockets are refused)"
        case .tooLarge: "this file is far larger than any valid one; check that it is the right file"
        }
    }
    public var errorKind: ErrorKind { .invalidInput }
}
