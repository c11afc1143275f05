import Foundation

/// One object in a listing.
public struct S3ObjectSummary: Sendable, Equatable {
    /// The key relative to the client's prefix.
    public var key: String
    public var size: Int64
    public var lastModified: Date
}

extension S3Client {
    /// One ListObjectsV2 page of keys (relative to the prefix) starting with `keyPrefix`.
    public func listObjects(keyPrefix: String, continuation: String?, maxKeys: Int)
        throws -> (objects: [S3ObjectSummary], continuation: String?)
    {
        let fullPrefix = objectKey(keyPrefix)
        var query: [(String, String)] = [("list-type", "2"), ("prefix", fullPrefix), ("max-keys", String(max(1, min(maxKeys, 1000))))]
        if let continuation { query.append(("continuation-token", continuation)) }
        let response = try send("GET", objectKey: nil, query: query)
        guard (200..<300).contains(response.status) else {
            throw failure(response, key: fullPrefix + "*", method: "LIST")
        }
        let xml = Substring(String(decoding: response.body, as: UTF8.self))
        let strip = settings.prefix.isEmpty ? 0 : settings.prefix.count + 1
        var objects: [S3ObjectSummary] = []
        for entry in XMLScan.elements("Contents", in: xml) {
            guard let key = XMLScan.value("Key", in: entry), key.count >= strip else { continue }
            let size = XMLScan.value("Size", in: entry).flatMap { Int64($0) } ?? 0
            let modified = XMLScan.value("LastModified", in: entry).flatMap(HTTPDate.parseISO8601) ?? Date(timeIntervalSince1970: 0)
            objects.append(S3ObjectSummary(key: String(key.dropFirst(strip)), size: size, lastModified: modified))
        }
        let truncated = XMLScan.value("IsTruncated", in: xml) == "true"
        let next = XMLScan.value("NextContinuationToken", in: xml)
        guard truncated else { return (objects, nil) }
        guard let next, !next.isEmpty else {
            throw ObjectStoreError(.serverError, "LIST \(describe(fullPrefix)) is truncated but has no NextContinuationToken",
                                   hint: "the S3 server does not implement ListObjectsV2 correctly")
        }
        return (objects, next)
    }
}
