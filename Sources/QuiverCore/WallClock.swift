import Foundation

/// Where the registry reads the time for its own decisions (lease expiry, gc grace periods), so tests can move
/// time forward instead of sleeping through a lease or a grace period.
public protocol WallClock: Sendable {
    func now() -> Date
}

/// The system's real time.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}
