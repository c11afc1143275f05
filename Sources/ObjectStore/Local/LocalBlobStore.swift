import Foundation
import QuiverCore

/// Content-addressed blobs in a local directory (the embedded default): `<root>/sha256/<hex>`.
///
/// Writes go to a temporary file in the same directory, are fsynced, then renamed into place, so a crash never
/// leaves a partial blob under a real key. Reads are verified like S3's. All methods block; see ``BlobStore``.
public final class LocalBlobStore: BlobStore {
    public let root: URL
    private let folder: String

    /// Opens (and creates when missing) the store at `root`.
    public init(root: URL) throws {
        self.root = root.standardizedFileURL
        folder = self.root.appendingPathComponent("sha256", isDirectory: true).path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw ObjectStoreError(.io, "cannot create blob directory \(folder): \(error.localizedDescription)",
                                   hint: "check the path and its permissions")
        }
    }

    public var location: String { root.absoluteString }

    func path(_ digest: SHA256Digest) -> String { folder + "/" + digest.hex }

    public func put(fileAt url: URL, digest: SHA256Digest?) throws -> PutResult {
        if let digest, let existing = try head(digest: digest), existing.size == (try? fileSize(url.path)) {
            return PutResult(digest: digest, size: existing.size, alreadyPresent: true)
        }
        let source = open(url.path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw ObjectStoreError.io("cannot open", url.path, errno: errno) }
        defer { close(source) }
        // Hash while copying: one pass over the source whether or not the digest was given.
        return try writeAtomically(expected: digest) { sink in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let n = read(source, buffer.baseAddress, buffer.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ObjectStoreError.io("cannot read", url.path, errno: errno)
                }
                if n == 0 { break }
                try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
        }
    }

    public func put(data: Data) throws -> PutResult {
        let digest = SHA256Digest.of(data)
        if let existing = try head(digest: digest), existing.size == Int64(data.count) {
            return PutResult(digest: digest, size: existing.size, alreadyPresent: true)
        }
        return try writeAtomically(expected: digest) { sink in
            try data.withUnsafeBytes { try sink.write($0) }
        }
    }

    /// See ``BlobStore/put(from:size:digest:)``: the bytes go into a temporary file that is renamed into place only
    /// once they are verified, and removed otherwise.
    public func put(from source: any ByteSource, size: Int64, digest: SHA256Digest) throws -> PutResult {
        guard size >= 0 else {
            throw ObjectStoreError(.sizeMismatch, "a blob cannot have \(size) bytes", hint: "declare the body's real size")
        }
        let reader = VerifiedSourceReader(source: source, size: size, expected: digest)
        if let existing = try head(digest: digest), existing.size == size {
            try reader.drain()
            return PutResult(digest: digest, size: size, alreadyPresent: true)
        }
        return try writeAtomically(expected: digest) { sink in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let n = try reader.read(into: buffer)
                if n == 0 { break }
                try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
        }
    }

    /// Streams bytes into a temporary file, checks the digest, fsyncs and renames it to its key.
    private func writeAtomically(expected: SHA256Digest?, _ fill: (HashingFileSink) throws -> Void) throws -> PutResult {
        let temporary = folder + "/" + Self.temporaryPrefix + UUID().uuidString
        do {
            let sink = try HashingFileSink(path: temporary)
            try fill(sink)
            let actual = sink.hasher.finalize()
            if let expected, expected != actual {
                throw ObjectStoreError(.corruptBlob, "the bytes given for sha256/\(expected.hex) hash to \(actual.hex)",
                                       hint: "the source changed while being stored, or the digest passed in is wrong")
            }
            if FileManager.default.fileExists(atPath: path(actual)), (try? fileSize(path(actual))) == sink.count {
                unlink(temporary)
                return PutResult(digest: actual, size: sink.count, alreadyPresent: true)
            }
            try sink.sync()
            guard rename(temporary, path(actual)) == 0 else {
                throw ObjectStoreError.io("cannot rename into", path(actual), errno: errno)
            }
            syncDirectory()
            return PutResult(digest: actual, size: sink.count, alreadyPresent: false)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Makes the rename durable; a failure here only weakens crash safety, so it is not reported.
    private func syncDirectory() {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    @discardableResult
    public func get(digest: SHA256Digest, known: KnownBlob?, to fileURL: URL) throws -> Int64 {
        // One local stream: the size costs nothing to learn, and the digest check covers a file of another size.
        try VerifiedRead.toFile(digest, fileURL, location: location) { try copy(digest, into: $0) }
    }

    public func getData(digest: SHA256Digest) throws -> Data {
        try VerifiedRead.toData(digest, location: location) { try copy(digest, into: $0) }
    }

    /// See ``BlobStore/get(digest:range:into:)``: read from the blob's file with pread, 1 MiB at a time.
    @discardableResult
    public func get(digest: SHA256Digest, range: Range<Int64>?, into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let source = try openBlob(digest)
        defer { close(source) }
        var info = stat()
        guard fstat(source, &info) == 0 else { throw ObjectStoreError.io("cannot stat", path(digest), errno: errno) }
        let size = Int64(info.st_size)
        let span: Range<Int64>
        if let range {
            guard range.lowerBound >= 0, range.isEmpty ? range.lowerBound <= size : range.lowerBound < size else {
                throw ObjectStoreError.rangeNotSatisfiable(range, digest, size: size)
            }
            span = range.lowerBound..<min(range.upperBound, size)
        } else {
            span = 0..<size
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var hasher = SHA256Hasher()
        var offset = span.lowerBound
        // A whole read goes on to the end of the file, so a blob grown behind our back fails its digest check.
        while range != nil ? offset < span.upperBound : true {
            let want = range != nil ? Int(min(Int64(buffer.count), span.upperBound - offset)) : buffer.count
            let n = try readBlob(source, digest, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: offset)
            if n == 0 { break }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            if range == nil { hasher.update(bytes) }
            try sink(bytes)
            offset += Int64(n)
            if n < want { break }
        }
        if range == nil {
            let actual = hasher.finalize()
            guard actual == digest else { throw ObjectStoreError.corrupt(digest, actual: actual, at: location) }
        }
        return offset - span.lowerBound
    }

    private func copy(_ digest: SHA256Digest, into sink: any ResponseSink) throws {
        let source = try openBlob(digest)
        defer { close(source) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(source, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw ObjectStoreError.io("cannot read", path(digest), errno: errno)
            }
            if n == 0 { return }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// The blob's bytes at `offset`, as many as fit in `buffer` (fewer only at the end of the file).
    private func readBlob(_ source: Int32, _ digest: SHA256Digest, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        do throws(PositionalReadError) {
            return try PositionalRead.fill(buffer, from: source, at: offset)
        } catch {
            throw ObjectStoreError.io("cannot read", path(digest), errno: error.errno)
        }
    }

    private func openBlob(_ digest: SHA256Digest) throws -> Int32 {
        let fd = open(path(digest), O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT {
                throw ObjectStoreError(.notFound, "blob sha256/\(digest.hex) is not in \(location)")
            }
            throw ObjectStoreError.io("cannot open", path(digest), errno: errno)
        }
        return fd
    }

    public func getRange(digest: SHA256Digest, range: Range<Int64>) throws -> Data {
        let source = try openBlob(digest)
        defer { close(source) }
        guard !range.isEmpty else { return Data() }
        var data = Data(count: Int(range.count))
        let filled = try data.withUnsafeMutableBytes { try readBlob(source, digest, into: $0, at: range.lowerBound) }
        return data.prefix(filled)
    }

    public func head(digest: SHA256Digest) throws -> BlobInfo? {
        var info = stat()
        guard stat(path(digest), &info) == 0 else {
            if errno == ENOENT { return nil }
            throw ObjectStoreError.io("cannot stat", path(digest), errno: errno)
        }
        return BlobInfo(digest: digest, size: Int64(info.st_size), lastModified: Self.modified(info))
    }

    public func delete(digest: SHA256Digest) throws {
        guard unlink(path(digest)) == 0 || errno == ENOENT else {
            throw ObjectStoreError.io("cannot delete", path(digest), errno: errno)
        }
    }

    /// Lists in hex order; the continuation token is the last digest of the previous page.
    public func listPage(hexPrefix: String, continuation: String?, maxKeys: Int) throws -> BlobPage {
        let hexPrefix = hexPrefix.lowercased()
        guard BlobKey.isValidHexPrefix(hexPrefix) else {
            throw ObjectStoreError(.configuration, "\(hexPrefix) is not a hex digest prefix")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw ObjectStoreError(.io, "cannot list \(folder): \(error.localizedDescription)")
        }
        let after = continuation ?? ""
        let candidates = names.filter { $0.hasPrefix(hexPrefix) && $0 > after }.compactMap(SHA256Digest.init(hex:)).sorted { $0.hex < $1.hex }
        var blobs: [BlobInfo] = []
        for digest in candidates {
            guard blobs.count < max(1, maxKeys) else { break }
            if let info = try head(digest: digest) { blobs.append(info) }  // deleted since listing: skip
        }
        let more = blobs.count == max(1, maxKeys) && candidates.last != blobs.last?.digest
        return BlobPage(blobs: blobs, continuation: more ? blobs.last?.digest.hex : nil)
    }

    /// Names of the temporary files writes go through; a crashed writer leaves them behind.
    static let temporaryPrefix = ".tmp-"

    /// Temporary files left in the blob folder, dated by their last write (a live writer keeps touching its own).
    public func pendingUploads() throws -> [PendingUpload] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw ObjectStoreError(.io, "cannot list \(folder): \(error.localizedDescription)")
        }
        var found: [PendingUpload] = []
        for name in names where name.hasPrefix(Self.temporaryPrefix) {
            var info = stat()
            guard stat(folder + "/" + name, &info) == 0 else { continue }  // finished or removed since listing
            found.append(PendingUpload(key: name, uploadID: name, started: Self.modified(info), size: Int64(info.st_size)))
        }
        return found
    }

    /// Removes a temporary file; only names that are temporary files of this store are accepted.
    public func abort(_ upload: PendingUpload) throws {
        let name = upload.uploadID
        guard name.hasPrefix(Self.temporaryPrefix), !name.contains("/") else {
            throw ObjectStoreError(.configuration, "\(name) is not a temporary file of \(location)",
                                   hint: "pass an upload returned by pendingUploads()")
        }
        let path = folder + "/" + name
        guard unlink(path) == 0 || errno == ENOENT else { throw ObjectStoreError.io("cannot delete", path, errno: errno) }
    }

    private func fileSize(_ path: String) throws -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw ObjectStoreError.io("cannot stat", path, errno: errno) }
        return Int64(info.st_size)
    }

    private static func modified(_ info: stat) -> Date {
        Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
    }
}
