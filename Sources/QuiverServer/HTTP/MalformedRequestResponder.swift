import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import QuiverCore

/// Answers a request the HTTP/1.1 parser cannot read (a negative or non-numeric Content-Length, a broken header
/// line, …) with the API's JSON error body, `400 server.malformed_request`, and closes the connection.
///
/// Hummingbird answers such a request itself with an empty 400, which the OpenAPI document cannot describe (every
/// error there is a JSON body; Schemathesis flags the difference). This handler sits after the HTTP codec and takes
/// the parser's error first, but only between requests: while a response is on its way, the error goes on to
/// Hummingbird, which finishes that response before it answers.
final class MalformedRequestResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// A request head has arrived whose response has not ended yet.
    private var inFlight = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { inFlight = true }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { inFlight = false }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, !inFlight else {
            context.fireErrorCaught(error)
            return
        }
        let body = Self.body(for: parserError)
        var head = HTTPResponse(status: .badRequest)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.readableBytes)
        head.headerFields[.connection] = "close"
        head.headerFields[HTTPField.Name("X-Request-Id")!] = UUID().uuidString.lowercased()
        inFlight = true  // nothing else is answered on this connection
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        let channel = context.channel
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }

    static func body(for error: HTTPParserError) -> ByteBuffer {
        let body = RequestObservation.ErrorBody(error: .init(
            code: "server.malformed_request", kind: "invalid_input", message: "the request is not valid HTTP/1.1 (\(error))",
            hint: "check the request line and headers: Content-Length must be a non-negative integer"))
        return ByteBuffer(bytes: (try? JSONOutput.encoder().encode(body)) ?? Data("{}".utf8))
    }
}
