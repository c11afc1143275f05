import Hummingbird
import ObjectStore
import QuiverCore
import Registry

extension Handlers {
    /// What `PUT /v1/blobs/{sha256}` answers.
    struct BlobPutResult: Encodable {
        let digest: String
        let size: Int64
        let alreadyPresent: Bool
    }

    /// Content-addressed bytes never change: cache them forever.
    static let immutable = "public, max-age=31536000, immutable"

    static func etag(_ digest: SHA256Digest) -> String { "\"sha256:\(digest.hex)\"" }

    /// Whether `If-None-Match` names `etag` (or is `*`).
    static func matches(ifNoneMatch header: String?, etag: String) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains {
            let tag = $0.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag
        }
    }

    static func blobDigest(_ call: Call) throws -> SHA256Digest {
        let text = try call.path("sha256", maxLength: 64)
        guard text.count == 64, let digest = SHA256Digest(hex: text), digest.hex == text.lowercased() else {
            throw ServerError.invalid("'\(text.prefix(80))' is not a sha256 digest", hint: "write 64 hex characters")
        }
        return digest
    }

    static func blobHeaders(_ digest: SHA256Digest) -> HTTPFields {
        [.eTag: etag(digest), .cacheControl: immutable, .acceptRanges: "bytes"]
    }

    static func headBlob(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let digest = try blobDigest(call)
        try await call.authorize(.read(name: nil))
        guard let info = try await call.registry({ try $0.blobs.head(digest: digest) }) else {
            return Response(status: .notFound)
        }
        var headers = blobHeaders(digest)
        headers[.contentLength] = String(info.size)
        headers[.contentType] = "application/octet-stream"
        return Response(status: .ok, headers: headers)
    }

    static func getBlob(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters(["redirect"])
        let redirect = try call.query("redirect", maxLength: 5).map { text -> Bool in
            guard let value = Bool(text) else { throw ServerError.invalid("redirect '\(text)' is not true or false") }
            return value
        } ?? false
        let digest = try blobDigest(call)
        try await call.authorize(.read(name: nil))
        guard let info = try await call.registry({ try $0.blobs.head(digest: digest) }) else {
            throw ObjectStoreError(.notFound, "the blob store has no sha256/\(digest.hex)", hint: "upload it with PUT /v1/blobs/\(digest.hex)")
        }
        var headers = blobHeaders(digest)
        if matches(ifNoneMatch: call.header[.ifNoneMatch], etag: etag(digest)) {
            return Response(status: .notModified, headers: headers)
        }
        let presign = call.server.settings.presign
        if redirect, presign.enabled, info.size >= presign.minimumSize,
           let url = try await call.registry({ try $0.blobs.downloadURL(digest: digest, expires: presign.expirySeconds, endpoint: presign.endpoint) }) {
            // The bytes go from the store to the client directly; the client verifies the digest as it reads.
            return Response(status: .temporaryRedirect, headers: [.location: url, .eTag: etag(digest), .cacheControl: "no-store"])
        }
        headers[.contentType] = "application/octet-stream"
        let status: HTTPResponse.Status
        let range: Range<Int64>?
        switch ByteRangeRequest.parse(call.header[.range], size: info.size) {
        case .whole:
            status = .ok
            range = nil
        case .partial(let bytes):
            status = .partialContent
            range = bytes
            headers[.contentRange] = "bytes \(bytes.lowerBound)-\(bytes.upperBound - 1)/\(info.size)"
        case .unsatisfiable:
            throw ServerError.rangeNotSatisfiable(call.header[.range] ?? "", size: info.size)
        }
        let length = range.map { $0.upperBound - $0.lowerBound } ?? info.size
        let registry = call.server.registry, executor = call.server.transfers
        let capacity = call.server.settings.transferBuffer
        let logger = call.logger
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: Int(length)) { writer in
            let sink = ResponseBodySink(capacity: capacity)
            let transfer = Task {
                do {
                    try await executor.run { try registry.blobs.streamGet(digest: digest, range: range, into: sink) }
                    sink.finish(nil)
                } catch {
                    sink.finish(error)
                }
            }
            do {
                while let chunk = try await sink.next() { try await writer.write(chunk) }
            } catch {
                // The store failed part-way (the client sees a body shorter than Content-Length), or the client left.
                sink.cancel()
                await transfer.value
                logger.warning("blob download cut short", metadata: ["digest": "\(digest.hex)", "error": "\(error)"])
                throw error
            }
            await transfer.value
            try await writer.finish(nil)
        })
    }

    static func putBlob(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let digest = try blobDigest(call)
        try await call.authorize(.uploadBlob)
        guard let lengthText = call.header[.contentLength] else { throw ServerError.lengthRequired }
        guard let size = Int64(lengthText), size >= 0 else { throw ServerError.invalid("Content-Length '\(lengthText.prefix(40))' is not a size") }
        let limit = call.server.settings.maxBlobSize
        guard size <= limit else { throw ServerError.tooLarge("a blob", size: size, limit: limit) }

        let source = RequestBodySource(capacity: call.server.settings.transferBuffer, idleTimeout: call.server.settings.bodyIdleTimeout)
        let registry = call.server.registry, executor = call.server.transfers
        let store = Task { () throws -> PutResult in
            defer { source.abandon() }
            return try await executor.run { try registry.blobs.streamPut(from: source, size: size, digest: digest) }
        }
        let body = call.request.body
        let result: PutResult
        do {
            // The body is fed by a child task, so that when the store gives up (a digest mismatch, a client that
            // stopped sending: 408 after the idle limit) the feeder is cancelled instead of waiting for bytes that
            // may never come; the answer then closes the connection (RequestObservation).
            result = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await source.feed(from: body) }
                do {
                    let stored = try await store.value
                    try await group.waitForAll()
                    return stored
                } catch {
                    group.cancelAll()
                    throw error
                }
            }
        } catch let error as ObjectStoreError where error.kind == .corruptBlob {
            // The client's bytes do not hash to the digest it named: its input is wrong (400), not the store.
            throw ServerError(.invalidInput, code: error.code, reason: error.reason, hint: error.hint)
        }
        call.logger.info("blob stored", metadata: ["digest": "\(digest.hex)", "size": "\(size)", "already_present": "\(result.alreadyPresent)"])
        return try call.json(BlobPutResult(digest: result.digest.hex, size: result.size, alreadyPresent: result.alreadyPresent),
                             status: result.alreadyPresent ? .ok : .created)
    }
}
