import Foundation
import Hummingbird
import QuiverCore
import Registry

extension Call {
    /// The cache key of this read: the operation and the request target exactly as sent (path and query).
    var responseCacheKey: String { route.operationID + " " + request.uri.description }

    /// Answers a read operation from the response cache, or computes it with `compute` and keeps a 200 answer.
    ///
    /// A cached answer is given only to a token allowed to read every adapter name it carries (a refusal is
    /// audited like any other); `If-None-Match` against the answer's `ETag` gives 304 either way.
    func cachedRead(_ compute: (Call) async throws -> CachedResponse) async throws -> Response {
        let caches = server.caches
        let key = responseCacheKey
        let answer: CachedResponse
        if let hit = caches.responses.value(for: key) {
            for name in hit.names { try await authorize(.read(name: name)) }
            caches.noteHit()
            answer = hit
        } else {
            let ticket = caches.responses.ticket()
            answer = try await compute(self)
            if answer.status == .ok, ticket != nil {
                caches.noteMiss()
                caches.responses.store(answer, for: key, cost: answer.body.readableBytes + key.utf8.count + 256, ticket: ticket)
            }
        }
        if let etag = answer.headers[.eTag], Handlers.matches(ifNoneMatch: header[.ifNoneMatch], etag: etag) {
            return Response(status: .notModified, headers: answer.headers)
        }
        return answer.response
    }

    /// `value` as JSON (the CLI's encoder), kept with the names a reader must be allowed to read.
    func jsonAnswer(_ value: some Encodable, names: [String], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> CachedResponse {
        let data = try JSONOutput.encoder().encode(value)
        var fields = headers
        fields[.contentType] = "application/json"
        return CachedResponse(status: status, headers: fields, body: ByteBuffer(bytes: data), names: names)
    }

    /// Plain text, kept with the names a reader must be allowed to read.
    func textAnswer(_ text: String, names: [String], contentType: String = "text/plain; charset=utf-8") -> CachedResponse {
        CachedResponse(status: .ok, headers: [.contentType: contentType], body: ByteBuffer(string: text), names: names)
    }
}
