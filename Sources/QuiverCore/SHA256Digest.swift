import Crypto
import Foundation

/// A SHA-256 digest, the content address of every blob Quiver stores (`sha256/<hex>`).
public struct SHA256Digest: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The 64 lower-case hex characters.
    public let hex: String

    /// Wraps a hex string; returns nil unless it is exactly 64 hex characters (upper case is folded).
    public init?(hex: String) {
        func isLowerHex(_ text: String) -> Bool {
            var text = text
            return text.withUTF8 { bytes in
                guard bytes.count == 64 else { return false }
                // Every byte looked at, no early exit: the loop vectorizes.
                var invalid: UInt8 = 0
                for byte in bytes { invalid |= (byte &- 48 < 10 || byte &- 97 < 6) ? 0 : 1 }
                return invalid == 0
            }
        }
        // Digests are nearly always read in lower case already: then the text is kept as it is, without a copy.
        if isLowerHex(hex) {
            self.hex = hex
            return
        }
        let lower = hex.lowercased()
        guard isLowerHex(lower) else { return nil }
        self.hex = lower
    }

    init(_ digest: SHA256.Digest) {
        self.init(bytes: Array(digest))
    }

    init(bytes: [UInt8]) {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes { text += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
        self.hex = String(decoding: text, as: UTF8.self)
    }

    public var description: String { hex }

    /// The digest of bytes in memory.
    public static func of(_ bytes: some DataProtocol) -> SHA256Digest {
        SHA256Digest(SHA256.hash(data: bytes))
    }

    /// The digest of raw memory, such as a memory-mapped file.
    public static func of(_ buffer: UnsafeRawBufferPointer) -> SHA256Digest {
        var hasher = SHA256Hasher()
        hasher.update(buffer)
        return hasher.finalize()
    }

    /// The digest of a file, read in 4 MiB chunks so memory stays flat whatever the file's size.
    public static func ofFile(at url: URL) throws -> SHA256Digest {
        try RegularFile.requireRegular(url.path) // a FIFO or device would block the read below
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256Hasher()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty {
            hasher.update(chunk)
        }
        return hasher.finalize()
    }
}

/// Incremental SHA-256, for hashing data as it streams (uploads, downloads).
public struct SHA256Hasher {
    private var state = SHA256()

    public init() {}

    public mutating func update(_ bytes: some DataProtocol) { state.update(data: bytes) }

    public mutating func update(_ buffer: UnsafeRawBufferPointer) { state.update(bufferPointer: buffer) }

    public func finalize() -> SHA256Digest { SHA256Digest(state.finalize()) }
}
