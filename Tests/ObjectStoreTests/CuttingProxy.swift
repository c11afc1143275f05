import Foundation
import Glibc
import Synchronization

/// A TCP proxy on loopback in front of an S3 endpoint that cuts the first `cuts` responses to a ranged GET after
/// `after` bytes (the connection is closed mid-body, as a dropped connection would), and forwards everything else
/// unchanged: for testing that a part retried half-way still yields the right bytes and digest. `onRequest` sees the
/// start of every piece of every request (as text, the request's head included) before it is forwarded, so a test
/// can act at a known point of an upload.
final class CuttingProxy: @unchecked Sendable {
    let port: Int
    private let target: (host: String, port: Int)
    private let after: Int
    private let listener: Int32
    private let cutsLeft: Atomic<Int>
    private let onRequest: (@Sendable (String) -> Void)?
    let cutsMade = Atomic<Int>(0)

    init(endpoint: String, cuts: Int, after: Int, onRequest: (@Sendable (String) -> Void)? = nil) throws {
        guard let url = URL(string: endpoint), let host = url.host, let port = url.port else { throw POSIXError(.EINVAL) }
        target = (host, port)
        self.after = after
        self.onRequest = onRequest
        cutsLeft = Atomic(cuts)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) } }
        listener = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    func close() { shutdown(listener, Int32(SHUT_RDWR)); Glibc.close(listener) }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr(target.host == "localhost" ? "127.0.0.1" : target.host)
            address.sin_port = in_port_t(UInt16(target.port).bigEndian)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { Glibc.close(client); Glibc.close(upstream); continue }
            // Pieces are forwarded as they come: Nagle's algorithm would hold each one's tail for the peer's delayed
            // ACK (tens of milliseconds a piece).
            var on: Int32 = 1
            for socket in [client, upstream] {
                _ = setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            }
            // Requests flow unchanged; whether this connection's response is cut is decided by the first request.
            let ranged = Atomic<Bool>(false)
            Thread { [self] in pump(from: client, to: upstream) { request in
                if request.range(of: "\r\nrange: bytes=", options: .caseInsensitive) != nil { ranged.store(true, ordering: .relaxed) }
                self.onRequest?(request)
            } }.start()
            Thread { [self] in
                var cap: Int?  // decided when the first response bytes arrive
                pump(from: upstream, to: client, limit: { _ in
                    if cap == nil {
                        let cut = ranged.load(ordering: .relaxed) && self.cutsLeft.wrappingSubtract(1, ordering: .relaxed).oldValue > 0
                        cap = cut ? self.after : Int.max
                    }
                    return cap ?? Int.max
                })
            }.start()
        }
    }

    /// Copies bytes until either side closes, then closes both; `limit` (consulted as bytes flow) cuts the stream.
    private func pump(from source: Int32, to sink: Int32, inspect: ((String) -> Void)? = nil, limit: ((Int) -> Int)? = nil) {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var sent = 0
        defer { shutdown(source, Int32(SHUT_RDWR)); shutdown(sink, Int32(SHUT_RDWR)) }
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return }
            // A request's head comes at the start of what is read (curl sends the next request only after the
            // previous response); a body's bytes need no look (decoding megabytes as text would slow the pump).
            if let inspect { inspect(String(decoding: buffer[0..<min(n, 2 << 10)], as: UTF8.self)) }
            var count = n
            if let limit {
                let cap = limit(sent + n)
                if sent + n > cap {
                    count = max(0, cap - sent)
                    _ = buffer.withUnsafeBytes { send(sink, $0.baseAddress, count, Int32(MSG_NOSIGNAL)) }
                    cutsMade.wrappingAdd(1, ordering: .relaxed)
                    return
                }
            }
            var done = 0
            while done < count {
                let m = buffer.withUnsafeBytes { send(sink, $0.baseAddress! + done, count - done, Int32(MSG_NOSIGNAL)) }
                guard m > 0 else { return }
                done += m
            }
            sent += count
        }
    }
}
