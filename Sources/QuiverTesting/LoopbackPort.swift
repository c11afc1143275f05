import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Loopback ports for tests that need an address where nothing listens yet.
public enum LoopbackPort {
    /// A port on 127.0.0.1 that was free a moment ago, chosen below Linux's ephemeral range (32768-60999): a port
    /// from that range can be taken as the source port of any outgoing connection before the test binds it (a busy
    /// parallel suite makes thousands), so a relay started seconds later would find it in use.
    public static func free() throws -> Int {
        for _ in 0..<500 {
            let port = Int.random(in: 20_000..<32_000)
            if try isFree(port) { return port }
        }
        throw PortError()
    }

    /// Whether a listening socket can bind 127.0.0.1:`port` now.
    static func isFree(_ port: Int) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PortError() }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in bind(fd, pointer, length) == 0 }
        }
    }

    struct PortError: Error, CustomStringConvertible {
        var description: String { "cannot bind a loopback port" }
    }
}
