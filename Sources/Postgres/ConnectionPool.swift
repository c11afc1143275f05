import Dispatch
import Foundation
import QuiverCore
import Synchronization

/// A bounded pool of `PostgresConnection`s, usable from threads (`withConnection`) and from async code
/// (`withConnection` async, which runs the blocking work on the pool's own threads: a private `BlockingExecutor`
/// with one thread per connection, so database calls never queue behind blob transfers).
///
/// Connections are checked when they come back: an open transaction is rolled back, and a broken connection
/// (server restarted, network cut) is closed and its slot freed, so the next caller gets a fresh one. The call
/// that met the broken connection fails with `PostgresError.connectionLost`; nothing hangs.
public final class ConnectionPool: Sendable {
    /// How to reach the server; nil means the PG* environment variables.
    public let url: String?
    public let maxSize: Int
    /// How long a caller waits for a free connection before `.poolTimeout`.
    public let waitTimeout: Duration
    private let connectTimeout: Int
    private let state: Mutex<PoolState<PostgresConnection, DispatchSemaphore>>
    /// Runs the async methods' blocking work; internal so tests can check where that work ran.
    let executor: BlockingExecutor

    /// - Parameters:
    ///   - url: a `postgresql://` URL, or nil for the PG* environment variables.
    ///   - maxSize: the most connections open at once.
    ///   - waitTimeout: how long to wait for a free connection.
    ///   - connectTimeout: seconds libpq waits for the server when opening a connection.
    public init(url: String?, maxSize: Int = 4, waitTimeout: Duration = .seconds(30), connectTimeout: Int = 10) {
        self.url = url
        self.maxSize = max(1, maxSize)
        self.waitTimeout = waitTimeout
        self.connectTimeout = connectTimeout
        self.state = Mutex(PoolState(maxSize: maxSize))
        self.executor = BlockingExecutor(maxThreads: self.maxSize, name: "quiver-postgres")
    }

    deinit {
        close()
    }

    /// Lends a connection to `body` on the calling thread, blocking while none is free.
    @discardableResult
    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try checkout()
        do {
            let value = try body(connection)
            checkin(connection)
            return value
        } catch {
            checkin(connection)
            throw error
        }
    }

    /// Runs `body` with a connection on one of the pool's own threads, never on Swift's cooperative pool.
    @discardableResult
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await executor.run { [self] in try withConnection(body) }
    }

    /// Runs `body` in a transaction on a pooled connection (blocking).
    @discardableResult
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection { try $0.transaction(body) }
    }

    /// Runs `body` in a transaction on a pooled connection, off the cooperative pool.
    @discardableResult
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await executor.run { [self] in try withConnection { try $0.transaction(body) } }
    }

    /// Runs one statement on a pooled connection (blocking).
    @discardableResult
    public func query(_ query: SQLQuery) throws -> PostgresRows {
        try withConnection { try $0.query(query) }
    }

    /// Runs one statement on a pooled connection, off the cooperative pool.
    @discardableResult
    public func query(_ query: SQLQuery) async throws -> PostgresRows {
        try await withConnection { try $0.query(query) }
    }

    /// Closes idle connections and refuses new checkouts; connections in use are closed when returned.
    ///
    /// The idle connections' `PQfinish` runs on the calling thread (it sends a goodbye and closes the socket, without
    /// waiting for the server); close a pool from blocking code, or from async code through `BlockingExecutor`.
    public func close() {
        let (idle, waiters) = state.withLock { $0.close() }
        idle.forEach { $0.close() }
        waiters.forEach { $0.signal() }
        executor.shutdown()
    }

    /// Connections open right now (idle or lent), for diagnostics and tests.
    public var openConnections: Int { state.withLock { $0.open } }

    // MARK: - Checkout and return

    private func checkout() throws -> PostgresConnection {
        let semaphore = DispatchSemaphore(value: 0)
        switch state.withLock({ $0.checkout(waiter: semaphore) }) {
        case .use(let connection):
            return connection
        case .create:
            return try create()
        case .closed:
            throw PostgresError(.poolClosed, message: "the connection pool is closed")
        case .wait(let id):
            let (seconds, attoseconds) = waitTimeout.components
            let nanos = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
            let woken = semaphore.wait(timeout: .now() + .nanoseconds(nanos)) == .success
            let grant = state.withLock { s in woken ? s.takeGrant(id) : s.abandon(id) }
            switch grant {
            case .connection(let connection):
                return connection
            case .slot:
                return try create()
            case nil:
                if woken { throw PostgresError(.poolClosed, message: "the connection pool was closed while waiting") }
                throw PostgresError(.poolTimeout, message: "no connection became free within \(waitTimeout) (pool size \(maxSize))")
            }
        }
    }

    /// Opens a connection for a reserved slot; on failure the slot goes back (possibly to a waiter).
    private func create() throws -> PostgresConnection {
        do {
            return try PostgresConnection(url: url, connectTimeout: connectTimeout)
        } catch {
            let waiter = state.withLock { $0.release(nil) }
            waiter?.signal()
            throw error
        }
    }

    private func checkin(_ connection: PostgresConnection) {
        let reusable = connection.prepareForReuse()
        if !reusable { connection.close() }
        let (waiter, closed) = state.withLock { s in (s.release(reusable ? connection : nil), s.isClosed) }
        if closed { connection.close() }
        waiter?.signal()
    }
}
