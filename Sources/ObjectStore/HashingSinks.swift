import Foundation
import QuiverCore

/// Writes a download to a file while hashing it, so verification needs no second pass.
final class HashingFileSink: ResponseSink {
    let path: String
    private let fd: Int32
    private(set) var hasher = SHA256Hasher()
    private(set) var count: Int64 = 0

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ObjectStoreError.io("cannot create", path, errno: errno) }
    }

    deinit { close(fd) }

    func reset() throws {
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
            throw ObjectStoreError.io("cannot truncate", path, errno: errno)
        }
        hasher = SHA256Hasher()
        count = 0
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw ObjectStoreError.io("cannot write", path, errno: errno)
            }
            done += n
        }
        count += Int64(bytes.count)
    }

    /// Flushes the file to disk (a verified download should survive a crash right after it).
    func sync() throws {
        guard fsync(fd) == 0 else { throw ObjectStoreError.io("cannot fsync", path, errno: errno) }
    }
}

/// Collects a download in memory while hashing it.
final class HashingDataSink: ResponseSink {
    private(set) var data = Data()
    private(set) var hasher = SHA256Hasher()

    func reset() {
        data = Data()
        hasher = SHA256Hasher()
    }

    func write(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bytes)
        data.append(contentsOf: bytes)
    }
}
