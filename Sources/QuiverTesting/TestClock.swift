import Foundation
import QuiverCore
import Synchronization

/// Real time plus an offset the test moves forward: things that other parties timestamp with the real time (S3's
/// Last-Modified, PostgreSQL's now()) fall behind it exactly as if the test had slept.
public final class TestClock: WallClock {
    private let offset = Mutex<TimeInterval>(0)

    public init() {}

    public func now() -> Date { Date().addingTimeInterval(offset.withLock { $0 }) }

    /// Moves this clock `seconds` ahead of real time (cumulative).
    public func advance(by seconds: TimeInterval) {
        offset.withLock { $0 += seconds }
    }
}
