#if canImport(Glibc)
import Glibc
#endif

/// Writing a whole buffer to a file: `write` and `pwrite` may write fewer bytes than asked (a signal, a full pipe)
/// and callers must loop. The loop is here, once (the twin of ``PositionalRead``); each caller says what a failed
/// write means to it.
public enum PositionalWrite {
    /// Writes all of `bytes` to `descriptor`: at `offset` in the file with `pwrite` (from any thread, for disjoint
    /// ranges), or at the descriptor's position with `write` when `offset` is nil. Resumes after short writes and
    /// interrupted calls. A call that writes nothing of a non-empty buffer (which regular files never do, but a
    /// device may) fails with `EIO` rather than being asked again forever.
    public static func all(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, at offset: Int64? = nil) throws(PositionalWriteError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = offset.map { pwrite(descriptor, base + done, bytes.count - done, off_t($0) + off_t(done)) }
                ?? write(descriptor, base + done, bytes.count - done)
            if n > 0 {
                done += n
            } else if n == 0 {
                throw PositionalWriteError(errno: EIO)
            } else if errno != EINTR {
                throw PositionalWriteError(errno: errno)
            }
        }
    }
}

/// `write` or `pwrite` failed: the error number.
public struct PositionalWriteError: Error, Equatable {
    public let errno: Int32

    public init(errno: Int32) {
        self.errno = errno
    }

    /// The system's description of the error (`strerror`).
    public var message: String { String(cString: strerror(errno)) }
}
