import Foundation

/// Opens the blob store a URL names.
public enum BlobStores {
    /// `s3://bucket/prefix` (settings from the AWS environment variables, see ``S3Settings/fromEnvironment(url:environment:)``),
    /// a `file://` URL, or a plain local path (relative paths resolve against the working directory).
    public static func open(
        url: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> any BlobStore {
        if url.hasPrefix("s3://") {
            return S3BlobStore(settings: try S3Settings.fromEnvironment(url: url, environment: environment))
        }
        if url.hasPrefix("file://") {
            guard let parsed = URL(string: url), parsed.isFileURL else {
                throw ObjectStoreError(.configuration, "\(url) is not a valid file:// URL")
            }
            return try LocalBlobStore(root: parsed)
        }
        if let colon = url.firstIndex(of: ":"), url[..<colon].allSatisfy(\.isLetter), url[..<colon].count > 1 {
            throw ObjectStoreError(.configuration, "blob-store URL scheme \(url[..<colon]) is not supported",
                                   hint: "use s3://bucket/prefix, file:///path or a directory path")
        }
        guard !url.isEmpty else {
            throw ObjectStoreError(.configuration, "the blob-store location is empty", hint: "pass s3://bucket/prefix or a directory")
        }
        return try LocalBlobStore(root: URL(fileURLWithPath: url, isDirectory: true))
    }
}
