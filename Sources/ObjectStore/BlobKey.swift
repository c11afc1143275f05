import QuiverCore

/// The key layout shared by every store: `sha256/<64 lower-case hex>`, nothing else.
public enum BlobKey {
    /// The folder every blob key starts with.
    public static let folder = "sha256/"

    /// The key of a digest, relative to the store's root or prefix.
    public static func key(for digest: SHA256Digest) -> String { folder + digest.hex }

    /// The digest named by a key, or nil for keys that are not blobs (temporary files, foreign objects).
    public static func digest(fromKey key: Substring) -> SHA256Digest? {
        guard key.hasPrefix(folder) else { return nil }
        return SHA256Digest(hex: String(key.dropFirst(folder.count)))
    }

    /// Whether `prefix` can start a hex digest (lower-case hex, at most 64 characters).
    static func isValidHexPrefix(_ prefix: String) -> Bool {
        prefix.utf8.count <= 64 && prefix.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}
