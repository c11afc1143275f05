import Foundation
import HTTPTypes
import Hummingbird
import Logging
import QuiverCore

/// Wraps every request: gives it a request id (the client's `X-Request-Id` when it is sane, else a new one),
/// turns any error into the JSON error body with the status of ``ErrorStatus``, logs one line per request and
/// records the request's metrics. Nothing secret reaches a log line or a response: messages pass through the
/// server's ``SecretRedaction``, and headers are never logged.
struct RequestObservation: RouterMiddleware {
    typealias Context = BasicRequestContext
    static let requestIDKey = "request_id"

    let server: ServerEnvironment

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let requestID = Self.requestID(request.headers[HTTPField.Name.requestID])
        var context = context
        context.logger[metadataKey: Self.requestIDKey] = "\(requestID)"
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = render(error, request: request, requestID: requestID, logger: context.logger)
        }
        response.headers[HTTPField.Name.requestID] = requestID
        if Self.leavesBodyUnread(request, response) {
            // The body the request declared may still be on its way (or never come, if the client's Content-Length
            // lied): the server would wait to drain it before reading the next request, and a client reusing the
            // connection would see that request swallowed. Ending the connection makes both sides start clean.
            response.headers[.connection] = "close"
        }
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : Self.template($0) } ?? "unmatched"
        let duration = ContinuousClock.now - start
        let status = Int(response.status.code)
        let bytesIn = request.headers[.contentLength].flatMap { Int64($0) } ?? 0
        let bytesOut = Int64(response.body.contentLength ?? 0)
        server.metrics.request(method: request.method.rawValue, route: route, status: status, duration: duration, bytesIn: bytesIn, bytesOut: bytesOut)
        let milliseconds = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        context.logger.info("request", metadata: [
            "method": "\(request.method.rawValue)", "route": "\(route)", "status": "\(status)",
            "ms": "\(String(format: "%.1f", milliseconds))", "bytes_in": "\(bytesIn)", "bytes_out": "\(bytesOut)",
        ])
        return response
    }

    /// Whether `request` declared a body that answering with `response` leaves unread: an error (answered before
    /// the body is read, or part-way), or an operation that takes no body.
    static func leavesBodyUnread(_ request: Request, _ response: Response) -> Bool {
        let declared = request.headers[.transferEncoding] != nil || (request.headers[.contentLength].map { $0 != "0" } ?? false)
        guard declared else { return false }
        return response.status.code >= 300 || ![.post, .put, .patch].contains(request.method)
    }

    /// The router's path in OpenAPI form (`{ref}`), whatever syntax the router stored (`:ref`).
    static func template(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map { part -> String in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
        }
        let joined = parts.joined(separator: "/")
        return joined.hasPrefix("/") ? joined : "/" + joined
    }

    /// The client's request id if it is 1-128 printable ASCII characters, else a new one.
    static func requestID(_ header: String?) -> String {
        if let header, (1...128).contains(header.utf8.count), header.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) { return header }
        return UUID().uuidString.lowercased()
    }

    /// The JSON error body for `error`; a HEAD request gets the status and headers only.
    func render(_ error: any Error, request: Request, requestID: String, logger: Logger) -> Response {
        let named: any NamedError
        switch error {
        case let error as any NamedError:
            named = error
        case let error as HTTPError where error.status == .notFound:
            named = ServerError.noRoute(request.method.rawValue, request.uri.path)
        case let error as HTTPError where error.status == .contentTooLarge:
            named = ServerError(.invalidInput, code: "server.too_large", reason: "the body is above this server's limit")
        default:
            logger.error("unexpected error", metadata: ["error": "\(server.redaction.redact(String(describing: error)))"])
            named = ServerError.unexpected(requestID: requestID)
        }
        let status = ErrorStatus.status(for: named)
        if status.code >= 500 {
            logger.error("request failed", metadata: ["code": "\(named.code)", "reason": "\(server.redaction.redact(named.reason))"])
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        if named.errorKind == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
        if let server = named as? ServerError {
            if let seconds = server.retryAfterSeconds { headers[.retryAfter] = String(seconds) }
            if let size = server.completeLength { headers[.contentRange] = "bytes */\(size)" }
        }
        // An internal error's reason is for the operator (it may quote SQL, paths or row values): the log has it,
        // under the request id; the client gets the code and where to look.
        let isInternal = named.errorKind == .internal
        let body = ErrorBody(error: .init(
            code: named.code, kind: named.errorKind.rawValue,
            message: isInternal ? "the server failed to answer (request \(requestID)); its log has the details" : server.redaction.redact(named.reason),
            hint: isInternal ? "report the request id to the server's operator" : server.redaction.redact(named.hint)))
        guard request.method != .head, let data = try? JSONOutput.encoder().encode(body) else {
            return Response(status: status, headers: headers)
        }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `{"error": {"code", "kind", "message", "hint"}}`, as the CLI prints with `--json`.
    struct ErrorBody: Encodable {
        let error: Detail
        struct Detail: Encodable {
            let code: String
            let kind: String
            let message: String
            let hint: String
        }
    }
}

extension HTTPField.Name {
    static var requestID: Self { Self("X-Request-Id")! }
}
