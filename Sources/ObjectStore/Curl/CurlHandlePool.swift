import Synchronization

/// Easy handles kept between requests: reusing a handle keeps its connection alive (no new TCP handshake per
/// blob), which matters for throughput.
///
/// Every call blocks its thread inside libcurl: call it from a thread of your own (the CLI's main thread) or
/// through QuiverCore's blocking executor, never from a cooperative thread or an event loop.
public final class CurlHandlePool: Sendable {
    private let idle = Mutex<[CurlHandle]>([])
    private let limit: Int

    public init(limit: Int = 16) { self.limit = limit }

    /// Runs one exchange (``HTTPTransfer``) on a pooled handle: the request body streamed from memory or a file,
    /// a 2xx response body into `sink` (else kept in ``HTTPResponse/body``, capped), `progress` told the body bytes
    /// moved. No retry: the caller decides what is worth another attempt.
    public func perform(
        _ request: HTTPRequest, sink: (any ResponseSink)? = nil, options: HTTPTransfer.Options,
        progress: HTTPTransfer.ProgressHandler? = nil
    ) throws -> Result<HTTPResponse, TransportFailure> {
        try withHandle { HTTPTransfer.perform(request, on: $0, sink: sink, options: options, progress: progress) }
    }

    /// Runs `body` with a handle nobody else is using, then returns the handle to the pool.
    func withHandle<T>(_ body: (CurlHandle) throws -> T) throws -> T {
        let handle = try idle.withLock { $0.popLast() } ?? CurlHandle() ?? {
            throw ObjectStoreError(.configuration, "libcurl could not be initialized", hint: "check the libcurl installation")
        }()
        defer {
            handle.reset()
            idle.withLock { if $0.count < limit { $0.append(handle) } }
        }
        return try body(handle)
    }
}
