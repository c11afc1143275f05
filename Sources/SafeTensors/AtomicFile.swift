import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic replacement of a file by a fully written temporary one in the same directory.
public enum AtomicFile {
    /// `rename(2)` `temporary` over `destination`: readers see the old file or the new one, never a mix.
    /// (Foundation's `replaceItemAt` is not atomic on Linux and fails when the destination exists.)
    public static func rename(_ temporary: URL, over destination: URL) throws {
        guard systemRename(temporary.path, destination.path) == 0 else {
            throw SafeTensorsError(.writeFailed, file: destination.lastPathComponent, "rename to \(destination.path) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Flushes a file's or a directory's content (for a directory: its entries, so a rename into it survives a
    /// crash) to the disk: `fsync(2)`.
    public static func synchronize(_ url: URL) throws {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0, fsync(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            if descriptor >= 0 { close(descriptor) }
            throw SafeTensorsError(.writeFailed, file: url.lastPathComponent, "fsync of \(url.path) failed: \(reason)")
        }
        close(descriptor)
    }
}

#if canImport(Glibc)
private let systemRename = Glibc.rename
#elseif canImport(Darwin)
private let systemRename = Darwin.rename
#endif
