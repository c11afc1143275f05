import Crypto
import Foundation

/// A SHA-256 digest, the content address of every blob Quiver stores (`sha256/<hex>`).
public struct SHA256Digest: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The 64 lower-case hex characters.
    public let hex: String

    /// Wraps a hex string; returns nil unless it is exactly 64 hex characters (upper case is folded).
    public init?(hex: String) {
        func isLowerHex(_ text: String) -> Bool {
            text.utf8.withContiguousStorageIfAvailable(Self.isLowerHex) ?? Array(text.utf8).withUnsafeBufferPointer(Self.isLowerHex)
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

    /// True when `bytes` are 64 of `0-9a-f`: eight bytes at a time, each checked to lie in one of the two ranges.
    /// Adding at most 0x50 to a byte below 0x80 never carries into the next; a byte of 0x80 or more fails on its
    /// own high bit (`~word`), so what its carry does to the byte above cannot make the word pass.
    static func isLowerHex(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == 64, let base = UnsafeRawPointer(bytes.baseAddress) else { return false }
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var valid = highs
        for offset in stride(from: 0, to: 64, by: 8) {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            // The high bit of each byte of `x &+ (0x80 - c)` is set exactly when the byte is at least c.
            func atLeast(_ c: UInt64) -> UInt64 { (word &+ ones &* (0x80 - c)) & highs }
            let digit = atLeast(0x30) & ~atLeast(0x3A), letter = atLeast(0x61) & ~atLeast(0x67)
            valid &= (digit | letter) & ~word
        }
        return valid == highs
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
