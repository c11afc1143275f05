import QuiverCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file, unmapped when the last reference goes away.
///
/// `@unchecked Sendable` is safe: every stored property is a `let` set once in `init`, the mapping is
/// `PROT_READ` so no thread can write through it, and `deinit` runs only after the last reference (hence the
/// last reader) is gone. Mapped files must not be truncated by other processes while open (SIGBUS); Quiver only
/// maps files it owns or content-addressed blobs.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeRawPointer?
    let count: Int
    /// The device and inode of the mapped file (the path may name another file later).
    let identity: FileIdentity

    /// Maps `path`; errors name the file and the failing system call.
    init(path: String, name: String) throws(SafeTensorsError) {
        // O_NONBLOCK: a FIFO in place of the file must not block `open` (it is refused below by fstat).
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw SafeTensorsError(.fileUnreadable, file: name, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw SafeTensorsError(.fileUnreadable, file: name, "cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw SafeTensorsError(.fileUnreadable, file: name, "\(path) is not a regular file")
        }
        let size = Int(status.st_size)
        identity = FileIdentity(status)
        if size == 0 {
            // mmap refuses length 0; an empty file has no mapping (and is then refused as too small).
            base = nil
            count = 0
            return
        }
        let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let mapping, mapping != MAP_FAILED else {
            throw SafeTensorsError(.fileUnreadable, file: name, "cannot map \(path): \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapping)
        count = size
    }

    /// The mapped bytes.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Files up to this size keep their pages mapped while open (see ``releasePages(_:)``).
    static let keptResident = 64 << 20

    /// Drops this process's pages for `range` (bytes already consumed, e.g. hashed), so streaming over a large
    /// file keeps resident memory flat; later reads fault the pages back in from the page cache.
    ///
    /// Not for files of at most ``keptResident`` bytes: there the release costs more than the memory it saves
    /// (each call interrupts the process's other threads to flush their TLBs, and a merge faults the pages of its
    /// inputs back moments after hashing them), and such a file's pages are bounded by its size anyway.
    func releasePages(_ range: Range<Int>) {
        guard let base, !range.isEmpty, count > Self.keptResident else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page
        let end = range.upperBound == count ? count : range.upperBound / page * page
        guard start < end else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }
}
