import CCurl
import Foundation
import QuiverCore

/// A request as libcurl sends it: everything already signed (S3) or authorised (the Quiver API client).
public struct HTTPRequest {
    public enum Body {
        case none
        case data(Data)
        /// `length` bytes of the file at `path` starting at `offset`, read with pread while sending. With `expected`,
        /// the bytes are hashed as they go out and the transfer is aborted before its last byte when they do not hash
        /// to it, so the server never receives a complete object under the wrong content address. With `identity`, the
        /// file opened must be that one (a path renamed over since is refused, `.corruptBlob`).
        case file(path: String, offset: Int64, length: Int64, expected: SHA256Digest? = nil, identity: FileIdentity? = nil)
        /// A stream pulled through the reader as curl sends (hashed and checked the same way as a file with
        /// `expected`). It cannot be read twice: once any byte was taken, the request cannot be retried.
        case source(VerifiedSourceReader)

        public var length: Int64 {
            switch self {
            case .none: return 0
            case .data(let data): return Int64(data.count)
            case .file(_, _, let length, _, _): return length
            case .source(let reader): return reader.size
            }
        }

        /// Whether another attempt can send the same body again: false for a stream some of which was sent.
        var canRestart: Bool {
            if case .source(let reader) = self { return reader.consumed == 0 && reader.failure == nil }
            return true
        }

        /// How much of the body the last attempt took, for messages about a stream that cannot be restarted.
        var consumed: Int64? {
            if case .source(let reader) = self { return reader.consumed }
            return nil
        }
    }

    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: Body = .none

    public init(method: String, url: String, headers: [(String, String)], body: Body = .none) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// Receives the body of a successful (2xx) response as it arrives.
public protocol ResponseSink: AnyObject {
    /// Called before each attempt, so a retried download starts from a clean state.
    func reset() throws
    /// Called once per attempt with the status and headers, before the first byte of a 2xx body; may throw to stop.
    func begin(status: Int, headers: [String: String]) throws
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// False once bytes went somewhere they cannot be taken back from (a caller's sink): no retry then.
    var canRestart: Bool { get }
}

extension ResponseSink {
    public func begin(status: Int, headers: [String: String]) throws {}
    public var canRestart: Bool { true }
}

/// What came back: the status, headers (names lower-cased) and, for error statuses or when no sink was
/// given, the body (capped at `HTTPTransfer.memoryBodyLimit`).
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data
}

/// A failure below HTTP: no response at all, or a local failure while streaming.
public struct TransportFailure: Error {
    public var code: CURLcode
    public var message: String
    /// Set when our own callback failed (disk full, unreadable file); retrying would not help.
    public var localError: (any Error)?

    /// True when no connection was ever made (refused, no route, a name that does not resolve, or the connect
    /// timeout): the server cannot have seen the request, so even a request that is not idempotent may be retried.
    public var neverConnected: Bool {
        [CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY].contains(code)
    }

    /// True when curl gave up waiting (the connect timeout, or the stall limit: less than 1 byte/s for too long).
    public var timedOut: Bool { code == CURLE_OPERATION_TIMEDOUT }
}

/// Runs one HTTP exchange on an easy handle, streaming the request body from memory or a file and the response
/// body into a sink.
///
/// Shared by the S3 client and the Quiver API client (module QuiverClient); both reach it through
/// ``CurlHandlePool/perform(_:sink:options:progress:)``, so there is one curl wrapper in the package.
public enum HTTPTransfer {
    /// Bodies kept in memory (error documents, listings, multipart replies) are capped at this size.
    static let memoryBodyLimit = 16 << 20

    public struct Options: Sendable {
        public var connectTimeout: Double
        /// Abort when fewer than 1 byte/s flows for this many seconds (a hung server), instead of a total timeout
        /// that a large blob would trip. 0 sets no limit (a request the server may take minutes to answer).
        public var stallTimeout: Int
        /// Abort the whole exchange after this many seconds (0: no limit); for small requests that must not hang,
        /// such as a webhook delivery.
        public var totalTimeout: Double

        public init(connectTimeout: Double, stallTimeout: Int, totalTimeout: Double = 0) {
            self.connectTimeout = connectTimeout
            self.stallTimeout = stallTimeout
            self.totalTimeout = totalTimeout
        }
    }

    /// Told the body bytes moved so far, as they move: sent (a request with a body) or received into the sink (a
    /// download). Called on the transfer's own thread, from inside curl's callbacks: keep it cheap.
    public typealias ProgressHandler = (Int64) -> Void

    static func perform(
        _ request: HTTPRequest, on handle: CurlHandle, sink: (any ResponseSink)?, options: Options,
        progress: ProgressHandler? = nil
    ) -> Result<HTTPResponse, TransportFailure> {
        let context = TransferContext(body: request.body, sink: sink)
        context.progress = progress
        switch request.body {
        case .file(let path, let offset, let length, let expected, let identity):
            context.fd = open(path, O_RDONLY | O_CLOEXEC)
            if context.fd < 0 {
                let error = ObjectStoreError.io("cannot open", path, errno: errno)
                return .failure(TransportFailure(code: CURLE_READ_ERROR, message: error.reason, localError: error))
            }
            if let identity, FileIdentity(descriptor: context.fd) != identity {
                close(context.fd)
                let error = ObjectStoreError(.corruptBlob, "\(path) is no longer the file that was hashed (it was replaced)",
                                             hint: "do not move or replace files while storing them; the upload was aborted")
                return .failure(TransportFailure(code: CURLE_READ_ERROR, message: error.reason, localError: error))
            }
            if let expected {
                // A fresh reader per attempt: a file can be read again when the request is retried.
                let fd = context.fd
                var position: Int64 = 0
                context.reader = VerifiedSourceReader(
                    size: length, expected: expected, subject: path,
                    mismatchHint: "the file changed after it was hashed, or the digest passed in is wrong; the upload was aborted",
                    sizeHint: "do not modify files while storing them; the upload was aborted"
                ) { buffer in
                    let n: Int
                    do throws(PositionalReadError) {
                        n = try PositionalRead.fill(buffer, from: fd, at: offset + position)
                    } catch {
                        throw ObjectStoreError.io("cannot read", path, errno: error.errno)
                    }
                    position += Int64(n)
                    return n
                }
            }
        case .source(let reader):
            context.reader = reader
        case .none, .data:
            break
        }
        defer { if context.fd >= 0 { close(context.fd) } }

        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers { list = curl_slist_append(list, "\(name): \(value)") }
        // We sign ourselves, so removing curl's automatic Expect/Accept headers is safe (see SigV4Signer).
        list = curl_slist_append(list, "Expect:")
        list = curl_slist_append(list, "Accept:")
        defer { curl_slist_free_all(list) }

        let h = handle.raw
        _ = quiver_curl_setopt_ptr(h, CURLOPT_ERRORBUFFER, handle.errorBuffer)
        _ = quiver_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        _ = request.url.withCString { quiver_curl_setopt_ptr(h, CURLOPT_URL, $0) }  // curl copies strings
        _ = quiver_curl_setopt_slist(h, CURLOPT_HTTPHEADER, list)
        _ = quiver_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(options.connectTimeout * 1000))
        if options.stallTimeout > 0 {
            _ = quiver_curl_setopt_long(h, CURLOPT_LOW_SPEED_LIMIT, 1)
            _ = quiver_curl_setopt_long(h, CURLOPT_LOW_SPEED_TIME, options.stallTimeout)
        }
        if options.totalTimeout > 0 {
            _ = quiver_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, max(1, Int(options.totalTimeout * 1000)))
        }
        _ = quiver_curl_setopt_long(h, CURLOPT_BUFFERSIZE, 512 << 10)
        _ = quiver_curl_setopt_long(h, CURLOPT_UPLOAD_BUFFERSIZE, 2 << 20)
        _ = quiver_curl_setopt_long(h, CURLOPT_TCP_NODELAY, 1)

        let opaque = Unmanaged.passUnretained(context).toOpaque()
        _ = quiver_curl_setopt_header(h, headerCallback)
        _ = quiver_curl_setopt_ptr(h, CURLOPT_HEADERDATA, opaque)
        _ = quiver_curl_setopt_write(h, writeCallback)
        _ = quiver_curl_setopt_ptr(h, CURLOPT_WRITEDATA, opaque)

        switch request.method {
        case "GET": break
        case "HEAD": _ = quiver_curl_setopt_long(h, CURLOPT_NOBODY, 1)
        default:
            if case .none = request.body, request.method == "DELETE" {
                _ = request.method.withCString { quiver_curl_setopt_ptr(h, CURLOPT_CUSTOMREQUEST, $0) }
            } else {
                // PUT and POST both go out as an upload of a known size: never chunked (S3 rejects unsigned
                // chunked bodies) and always streamed through the read callback.
                _ = quiver_curl_setopt_long(h, CURLOPT_UPLOAD, 1)
                _ = quiver_curl_setopt_off_t(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.length))
                _ = quiver_curl_setopt_read(h, readCallback)
                _ = quiver_curl_setopt_ptr(h, CURLOPT_READDATA, opaque)
                _ = request.method.withCString { quiver_curl_setopt_ptr(h, CURLOPT_CUSTOMREQUEST, $0) }
            }
        }

        let code = withExtendedLifetime(context) { curl_easy_perform(h) }
        if let failure = context.localError {
            return .failure(TransportFailure(code: code, message: "\(failure)", localError: failure))
        }
        guard code == CURLE_OK else {
            return .failure(TransportFailure(code: code, message: handle.message(for: code), localError: nil))
        }
        var status = 0
        _ = quiver_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: context.headers, body: context.responseBody))
    }
}

/// State shared with the C callbacks of one transfer (passed as an unretained pointer, kept alive by
/// `withExtendedLifetime` around `curl_easy_perform`).
final class TransferContext {
    let requestBody: HTTPRequest.Body
    let sink: (any ResponseSink)?
    var fd: Int32 = -1
    var sent: Int64 = 0
    var status = 0
    var headers: [String: String] = [:]
    var responseBody = Data()
    var localError: (any Error)?
    /// Delivers (hashing and checking) a streamed body, or a file body that carries an expected digest.
    var reader: VerifiedSourceReader?
    /// Whether the sink was told the status and headers of this attempt's response.
    var begun = false
    /// Body bytes handed to the sink so far.
    var received: Int64 = 0
    var progress: HTTPTransfer.ProgressHandler?

    init(body: HTTPRequest.Body, sink: (any ResponseSink)?) {
        self.requestBody = body
        self.sink = sink
    }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> TransferContext? {
        pointer.map { Unmanaged<TransferContext>.fromOpaque($0).takeUnretainedValue() }
    }
}

private let headerCallback: curl_write_callback = { buffer, size, count, userdata in
    let total = size * count
    guard let context = TransferContext.from(userdata), let buffer else { return total }
    let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: total), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    if line.hasPrefix("HTTP/") {
        // A new status line (after `100 Continue` or a redirect) starts a new header block.
        let fields = line.split(separator: " ")
        context.status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
        context.headers = [:]
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        context.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return total
}

private let writeCallback: curl_write_callback = { buffer, size, count, userdata in
    let total = size * count
    guard let context = TransferContext.from(userdata), let buffer else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: buffer, count: total)
    if let sink = context.sink, (200..<300).contains(context.status) {
        do {
            if !context.begun {
                context.begun = true
                try sink.begin(status: context.status, headers: context.headers)
            }
            try sink.write(bytes)
            context.received += Int64(total)
            context.progress?(context.received)
        } catch {
            context.localError = error
            return 0  // makes curl stop with CURLE_WRITE_ERROR
        }
    } else if context.responseBody.count < HTTPTransfer.memoryBodyLimit {
        context.responseBody.append(contentsOf: bytes)
    }
    return total
}

private let readCallback: curl_read_callback = { buffer, size, count, userdata in
    guard let context = TransferContext.from(userdata), let buffer else { return Int(CURL_READFUNC_ABORT) }
    let capacity = size * count
    switch context.requestBody {
    case .none:
        return 0
    case .data(let data):
        let start = Int(context.sent)
        let n = min(capacity, data.count - start)
        guard n > 0 else { return 0 }
        data.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + start, byteCount: n)
        }
        context.sent += Int64(n)
        context.progress?(context.sent)
        return n
    case .file, .source:
        if let reader = context.reader {
            do {
                let n = try reader.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: capacity))
                context.sent += Int64(n)
                context.progress?(context.sent)
                return n
            } catch {
                context.localError = error
                return Int(CURL_READFUNC_ABORT)
            }
        }
        guard case .file(let path, let offset, let length, _, _) = context.requestBody else { return Int(CURL_READFUNC_ABORT) }
        let want = Int(min(Int64(capacity), length - context.sent))
        guard want > 0 else { return 0 }
        let n: Int
        do throws(PositionalReadError) {
            n = try PositionalRead.fill(UnsafeMutableRawBufferPointer(start: buffer, count: want), from: context.fd, at: offset + context.sent)
        } catch {
            context.localError = ObjectStoreError.io("cannot read", path, errno: error.errno)
            return Int(CURL_READFUNC_ABORT)
        }
        if n == 0 {
            context.localError = ObjectStoreError(.io, "\(path) shrank while it was being uploaded", hint: "do not modify files while storing them")
            return Int(CURL_READFUNC_ABORT)
        }
        context.sent += Int64(n)
        context.progress?(context.sent)
        return n
    }
}
