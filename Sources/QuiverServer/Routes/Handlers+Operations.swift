import Hummingbird
import QuiverCore
import Registry

extension Handlers {
    struct Health: Encodable {
        let status: String
        let version: String
    }

    struct ReadinessBody: Encodable {
        let status: String
        let checks: Checks
        struct Checks: Encodable {
            let database: String
            let blobStore: String
        }
    }

    /// The process is up (no I/O).
    static func health(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        return try call.json(Health(status: "ok", version: QuiverVersion.current))
    }

    /// The database and the blob store answer; 503 with the failing check otherwise (secrets masked).
    static func readiness(_ call: inout Call) async throws -> Response {
        try call.onlyQueryParameters([])
        let registry = call.server.registry
        let result = try await call.server.executor.run { registry.readiness() }
        let redaction = call.server.redaction
        let body = ReadinessBody(
            status: result.isReady ? "ready" : "not_ready",
            checks: .init(database: redaction.redact(result.database), blobStore: redaction.redact(result.blobStore)))
        return try call.json(body, status: result.isReady ? .ok : .serviceUnavailable)
    }

    /// Prometheus text format.
    static func metrics(_ call: inout Call) async throws -> Response {
        let text = call.server.metrics.exposition()
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The OpenAPI document, embedded in the binary.
    static func openAPIDocument(_ call: inout Call) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: EmbeddedOpenAPI.json)))
    }
}
