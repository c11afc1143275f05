import Foundation

/// One open multipart upload in a listing.
public struct S3MultipartUpload: Sendable, Equatable {
    /// The key relative to the client's prefix.
    public var key: String
    public var uploadID: String
    public var initiated: Date
}

/// Where the next ListMultipartUploads page starts.
struct S3MultipartMarkers: Equatable {
    /// Sent as `key-marker` when not nil.
    var keyMarker: String?
    var uploadIDMarker: String
}

/// One ListMultipartUploads page: the uploads, and the markers to pass for the next page (nil on the last).
struct S3MultipartUploadPage: Equatable {
    var uploads: [S3MultipartUpload]
    var next: S3MultipartMarkers?

    /// Parses a ListMultipartUploadsResult, keeping uploads whose full key has `stripPrefixCount` characters of
    /// client prefix to drop.
    ///
    /// The next markers are `NextKeyMarker` and `NextUploadIdMarker` (AWS pages by key, then upload ID). SeaweedFS
    /// (3.x) lists in upload-ID order and sends only `NextUploadIdMarker`; it pages on `upload-id-marker` alone
    /// and answers an empty page when a `key-marker` comes with it (verified against the test server), so no
    /// key marker is made up then. Without either, the last upload's key and ID are used.
    static func parse(_ xml: Substring, stripPrefixCount strip: Int) -> S3MultipartUploadPage {
        var uploads: [S3MultipartUpload] = []
        var lastKey = "", lastID = ""
        for entry in XMLScan.elements("Upload", in: xml) {
            guard let key = XMLScan.value("Key", in: entry), let id = XMLScan.value("UploadId", in: entry) else { continue }
            lastKey = key
            lastID = id
            guard key.count >= strip else { continue }
            let initiated = XMLScan.value("Initiated", in: entry).flatMap(HTTPDate.parseISO8601) ?? Date(timeIntervalSince1970: 0)
            uploads.append(S3MultipartUpload(key: String(key.dropFirst(strip)), uploadID: id, initiated: initiated))
        }
        guard XMLScan.value("IsTruncated", in: xml) == "true" else { return S3MultipartUploadPage(uploads: uploads, next: nil) }
        let keyMarker = XMLScan.value("NextKeyMarker", in: xml).flatMap { $0.isEmpty ? nil : $0 }
        let idMarker = XMLScan.value("NextUploadIdMarker", in: xml).flatMap { $0.isEmpty ? nil : $0 }
        let next = keyMarker == nil && idMarker == nil
            ? S3MultipartMarkers(keyMarker: lastKey, uploadIDMarker: lastID)
            : S3MultipartMarkers(keyMarker: keyMarker, uploadIDMarker: idMarker ?? "")
        return S3MultipartUploadPage(uploads: uploads, next: next)
    }
}

extension S3Client {
    /// Every open multipart upload whose key (relative to the prefix) starts with `keyPrefix`, following
    /// `key-marker`/`upload-id-marker` page by page.
    ///
    /// Stops when a page brings nothing new, so a server that repeats a page cannot loop it forever.
    public func listAllMultipartUploads(keyPrefix: String, pageSize: Int = 1000) throws -> [S3MultipartUpload] {
        var all: [S3MultipartUpload] = []
        var seen: Set<String> = []
        var markers: S3MultipartMarkers?
        repeat {
            let page = try listMultipartUploads(keyPrefix: keyPrefix, after: markers, maxUploads: pageSize)
            let fresh = page.uploads.filter { seen.insert($0.key + "\n" + $0.uploadID).inserted }
            all += fresh
            guard let next = page.next, !fresh.isEmpty else { break }
            markers = next
        } while true
        return all
    }

    /// One ListMultipartUploads page (`GET /<bucket>?uploads=`) under `keyPrefix`, after the given markers.
    func listMultipartUploads(
        keyPrefix: String, after markers: S3MultipartMarkers?, maxUploads: Int
    ) throws -> S3MultipartUploadPage {
        let fullPrefix = objectKey(keyPrefix)
        var query: [(String, String)] = [("uploads", ""), ("prefix", fullPrefix), ("max-uploads", String(max(1, min(maxUploads, 1000))))]
        if let markers {
            if let key = markers.keyMarker { query.append(("key-marker", key)) }
            if !markers.uploadIDMarker.isEmpty { query.append(("upload-id-marker", markers.uploadIDMarker)) }
        }
        let response = try send("GET", objectKey: nil, query: query)
        guard (200..<300).contains(response.status) else {
            throw failure(response, key: fullPrefix + "*", method: "ListMultipartUploads")
        }
        let strip = settings.prefix.isEmpty ? 0 : settings.prefix.count + 1
        return S3MultipartUploadPage.parse(Substring(String(decoding: response.body, as: UTF8.self)), stripPrefixCount: strip)
    }
}
