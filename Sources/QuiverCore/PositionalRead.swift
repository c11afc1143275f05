#if canImport(Glibc)
import Glibc
#endif

/// Reading a file's bytes at an offset, as many as asked: `pread` may return fewer than asked (a signal, a file
/// system that answers in pieces) and callers must loop. The loop is here, once; each caller says what a short file
/// or a failed read means to it.
public enum PositionalRead {
    /// Fills `buffer` with the bytes of `descriptor` from `offset` on, retrying interrupted and partial reads.
    /// Returns how many bytes were read: `buffer.count`, or fewer when the file ends first.
    @discardableResult
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, from descriptor: Int32, at offset: Int64) throws(PositionalReadError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, base + done, buffer.count - done, off_t(offset) + off_t(done))
            if n > 0 {
                done += n
            } else if n == 0 {
                break
            } else if errno != EINTR {
                throw PositionalReadError(errno: errno, offset: offset + Int64(done))
            }
        }
        return done
    }
}

/// `pread` failed: the error number, and where in the file.
public struct PositionalReadError: Error, Equatable {
    public let errno: Int32
    public let offset: Int64

    public init(errno: Int32, offset: Int64) {
        self.errno = errno
        self.offset = offset
    }

    /// The system's description of the error (`strerror`).
    public var message: String { String(cString: strerror(errno)) }
}
