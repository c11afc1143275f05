import Synchronization

/// Easy handles kept between requests: reusing a handle keeps its connection alive (no new TCP handshake per
/// blob), which matters for throughput.
final class CurlHandlePool: Sendable {
    private let idle = Mutex<[CurlHandle]>([])
    private let limit: Int

    init(limit: Int = 16) { self.limit = limit }

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
