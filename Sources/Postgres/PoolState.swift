/// The bookkeeping of a connection pool with no I/O: which connections are idle, how many slots are taken, who
/// waits, and what a returned connection or freed slot should go to. `ConnectionPool` drives it under a mutex;
/// its rules are unit-tested on their own.
///
/// A *slot* is the right to hold one connection; `open` counts connections that exist or are being created, and
/// never exceeds `maxSize`. Waiters are served first come, first served.
public struct PoolState<Connection, Waiter> {
    public let maxSize: Int
    public private(set) var idle: [Connection] = []
    public private(set) var open = 0
    public private(set) var isClosed = false
    private var waiters: [(id: UInt64, waiter: Waiter)] = []
    private var grants: [UInt64: Grant] = [:]
    private var nextWaiterID: UInt64 = 0

    /// What a waiter receives when it is woken.
    public enum Grant {
        /// A live connection handed over directly.
        case connection(Connection)
        /// A slot: the waiter must create a connection itself (the previous one was discarded).
        case slot
    }

    public enum CheckoutDecision {
        case use(Connection)
        /// A slot was reserved; create a connection, and call `release(nil)` if that fails.
        case create
        /// Wait until `waiter` is woken, then call `takeGrant(id)`; on timeout call `abandon(id)`.
        case wait(id: UInt64)
        case closed
    }

    public init(maxSize: Int) {
        self.maxSize = max(1, maxSize)
    }

    public var waiterCount: Int { waiters.count }

    /// Asks for a connection: an idle one, a new slot, or a place in the queue.
    public mutating func checkout(waiter: Waiter) -> CheckoutDecision {
        if isClosed { return .closed }
        if let connection = idle.popLast() { return .use(connection) }
        if open < maxSize {
            open += 1
            return .create
        }
        nextWaiterID += 1
        waiters.append((nextWaiterID, waiter))
        return .wait(id: nextWaiterID)
    }

    /// Gives back a slot: with a healthy connection, or nil when the connection was discarded or never created.
    /// Returns the waiter to wake, if one now holds the connection or the slot.
    public mutating func release(_ connection: Connection?) -> Waiter? {
        if !isClosed, !waiters.isEmpty {
            let next = waiters.removeFirst()
            grants[next.id] = connection.map(Grant.connection) ?? .slot
            return next.waiter
        }
        if let connection, !isClosed {
            idle.append(connection)
        } else {
            open -= 1
        }
        return nil
    }

    /// What a woken waiter received.
    public mutating func takeGrant(_ id: UInt64) -> Grant? {
        grants.removeValue(forKey: id)
    }

    /// A waiter gave up (timeout). If a grant raced in first it is returned, and the waiter must use it.
    public mutating func abandon(_ id: UInt64) -> Grant? {
        if let grant = grants.removeValue(forKey: id) { return grant }
        waiters.removeAll { $0.id == id }
        return nil
    }

    /// Shuts the pool: returns the idle connections to close and the waiters to wake (they will find no grant).
    /// Connections still checked out are discarded as they come back.
    public mutating func close() -> (idle: [Connection], waiters: [Waiter]) {
        isClosed = true
        let result = (idle, waiters.map(\.waiter))
        open -= idle.count
        idle = []
        waiters = []
        return result
    }
}
