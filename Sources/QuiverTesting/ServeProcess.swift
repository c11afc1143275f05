import Foundation
import QuiverCore

#if canImport(Glibc)
import Glibc
#endif

/// A `quiver serve` process on a free loopback port, for tests that drive the real server over HTTP (the CLI in
/// remote mode, or raw requests). Start it with ``start(_:environment:)``, always ``stop()`` it.
public final class ServeProcess: Sendable {
    /// `http://127.0.0.1:PORT`.
    public let url: String
    public let port: Int
    private let running: ChildProcess.Running

    private init(url: String, port: Int, running: ChildProcess.Running) {
        self.url = url
        self.port = port
        self.running = running
    }

    /// Starts `quiver serve --host 127.0.0.1 --port P` plus `arguments` (the database, the blob store, limits), and
    /// waits until the port accepts connections (at most `timeout` seconds).
    public static func start(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 60) throws -> ServeProcess {
        let executable = Fixtures.quiverExecutable.path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw TestServiceError(message: "no quiver executable at \(executable): build the quiver product first (swift build)")
        }
        let port = try LoopbackPort.free()
        let running = try ChildProcess.start(executable, ["serve", "--host", "127.0.0.1", "--port", String(port)] + arguments, environment: environment)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if LoopbackPort.accepts(port) { return ServeProcess(url: "http://127.0.0.1:\(port)", port: port, running: running) }
            Thread.sleep(forTimeInterval: 0.1)
        }
        running.send(SIGKILL)
        let outcome = running.wait()
        throw TestServiceError(message: "quiver serve did not listen on \(port) within \(timeout) s (status \(outcome.status)):\n\(outcome.stderr.suffix(4000))")
    }

    /// Stops the server (SIGTERM: a graceful shutdown) and returns its exit status and output.
    @discardableResult
    public func stop() -> ChildProcess.Outcome {
        running.send(SIGTERM)
        return running.wait()
    }
}

/// Loopback ports for test servers.
public enum LoopbackPort {
    /// A port nothing listens on now: bound to port 0, read back, closed (nothing else on this machine takes it in
    /// the moment before the test's server binds it).
    public static func free() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestServiceError(message: "socket(): \(String(cString: strerror(errno)))") }
        defer { close(socket) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw TestServiceError(message: "bind(127.0.0.1:0): \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on `127.0.0.1:port`.
    public static func accepts(_ port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = loopback(port: port)
        return withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }
}
