import QuiverCore
import CLibPQ
import Foundation
import Synchronization

/// One libpq connection. Statements run one at a time: the handle sits behind a mutex, so the connection may be
/// passed between threads but never used by two at once.
///
/// Every call blocks the calling thread until the server answers; from async code go through
/// `ConnectionPool`'s async methods, which run this work on threads of their own.
public final class PostgresConnection: Sendable {
    private let handle: Mutex<Handle>

    /// The libpq handle (nil once closed) and the statements prepared on it.
    struct Handle {
        var conn: OpaquePointer?
        var statements = StatementCache()
    }

    /// Connects to the server named by a `postgresql://` URL, or by the standard PG* environment variables
    /// (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, …) when `url` is nil.
    ///
    /// The URL goes to libpq as a parameter (`PQconnectdbParams` with `expand_dbname`), never spliced into a
    /// conninfo string. Settings in the URL win over the defaults given here.
    /// - Parameter connectTimeout: seconds to wait for the server before failing with `.connectionFailed`.
    /// - Parameter preparedStatementLimit: how many prepared statements the connection keeps (least recently used
    ///   first out); 0 prepares none. By default `QUIVER_PG_PREPARED_STATEMENTS`, or 256.
    public init(url: String?, connectTimeout: Int = 10, applicationName: String = "quiver", preparedStatementLimit: Int? = nil) throws {
        // Keepalives let a cut TCP connection fail within about a minute instead of hanging on a dead peer.
        var keywords = ["connect_timeout", "fallback_application_name", "client_encoding",
                        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"]
        var values = [String(max(connectTimeout, 2)), applicationName, "UTF8", "1", "30", "10", "3"]
        if let url {
            keywords.append("dbname")
            values.append(url)
        }
        let conn: OpaquePointer? = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let conn else {
            throw PostgresError(.connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            // libpq echoes a malformed URL, or the password component it could not decode, in its message.
            let message = Self.redacting(Self.lastMessage(conn), url: url)
            let needsPassword = PQconnectionNeedsPassword(conn) == 1
            PQfinish(conn)
            let lowered = message.lowercased()
            let isAuth = needsPassword || lowered.contains("authentication failed") || lowered.contains("no password supplied")
                || lowered.contains("role \"") && lowered.contains("does not exist")
            throw PostgresError(isAuth ? .authenticationFailed : .connectionFailed, message: message)
        }
        handle = Mutex(Handle(conn: conn, statements: StatementCache(capacity: preparedStatementLimit ?? StatementCache.configuredCapacity)))
        // Fixed session settings make the text formats this module parses predictable.
        try executeScript("SET DateStyle TO ISO; SET TimeZone TO 'UTC'; SET extra_float_digits TO 3; SET client_min_messages TO warning")
    }

    /// `message` without the URL's password: the raw text between `user:` and the last `@` (however malformed the
    /// URL, which is when libpq repeats it), its percent-decoded form, and anything shaped like a password.
    static func redacting(_ message: String, url: String?) -> String {
        var secrets: [String] = []
        if let url, let schemeEnd = url.range(of: "://"), let at = url[schemeEnd.upperBound...].lastIndex(of: "@") {
            let userinfo = url[schemeEnd.upperBound..<at]
            if let colon = userinfo.firstIndex(of: ":") {
                let raw = String(userinfo[userinfo.index(after: colon)...])
                secrets.append(raw)
                if let decoded = raw.removingPercentEncoding { secrets.append(decoded) }
            }
        }
        return SecretRedaction(secrets: secrets).redact(message)
    }

    deinit {
        handle.withLock { h in
            if let conn = h.conn { PQfinish(conn) }
            h.conn = nil
        }
    }

    /// Closes the connection; later calls fail with `.connectionLost`.
    public func close() {
        handle.withLock { h in
            if let conn = h.conn { PQfinish(conn) }
            h.conn = nil
        }
    }

    /// Runs one statement with its parameters and returns all its rows.
    ///
    /// The statement is prepared on this connection the first time its text (with its parameter types) is seen
    /// and executed by name afterwards (`PQprepare` once, then `PQsendQueryPrepared`), so the server parses and plans it
    /// once per connection instead of on every call. A statement whose plan a schema change invalidated (SQLSTATE
    /// 0A000, "cached plan must not change result type") is prepared again and, outside a transaction, run again.
    @discardableResult
    public func query(_ query: SQLQuery) throws -> PostgresRows {
        try handle.withLock { h throws(PostgresError) -> PostgresRows in
            let conn = try Self.live(h)
            let types = query.binds.map { $0.typeOID }
            guard h.statements.isEnabled else { return try Self.execute(unnamed: query, conn: conn) }
            let key = StatementCache.Key(sql: query.sql, types: types)
            for attempt in 0..<2 {
                let name: String
                if let known = h.statements.name(for: key) {
                    name = known
                } else {
                    if let stale = h.statements.evictionCandidate() {
                        // Best effort: a failed DEALLOCATE (say, in an aborted transaction) leaves a statement
                        // the server frees when the connection ends.
                        if let result = PQexec(conn, "DEALLOCATE " + stale) { PQclear(result) }
                    }
                    let fresh = h.statements.nextName()
                    var paramTypes = types
                    _ = try Self.consume(PQprepare(conn, fresh, query.sql, Int32(types.count), &paramTypes), conn: conn, sql: query.sql)
                    h.statements.insert(key, name: fresh)
                    name = fresh
                }
                do throws(PostgresError) {
                    return try Self.execute(prepared: name, binds: query.binds, conn: conn, sql: query.sql)
                } catch {
                    guard error.sqlState == SQLState.featureNotSupported, attempt == 0 else { throw error }
                    h.statements.remove(key)
                    if let result = PQexec(conn, "DEALLOCATE " + name) { PQclear(result) }
                    guard PQtransactionStatus(conn) == PQTRANS_IDLE else { throw error }
                }
            }
            throw PostgresError(.server, message: "statement could not be re-prepared after a schema change")
        }
    }

    /// Parses, plans and executes a statement in one call (`PQsendQueryParams`, the unnamed statement).
    private static func execute(unnamed query: SQLQuery, conn: OpaquePointer) throws(PostgresError) -> PostgresRows {
        try withParameters(query.binds) { values, lengths, formats throws(PostgresError) in
            var types = query.binds.map { $0.typeOID }
            let sent = PQsendQueryParams(conn, query.sql, Int32(query.binds.count), &types, values, lengths, formats, 0) == 1
            return try consume(sent ? ReplyWait.result(of: conn) : nil, conn: conn, sql: query.sql)
        }
    }

    /// Executes a prepared statement with its parameters (`PQsendQueryPrepared`, then its result as ``ReplyWait``
    /// waits for it: what `PQexecPrepared` does, with the wait chosen for the process).
    private static func execute(prepared name: String, binds: [PostgresBind], conn: OpaquePointer, sql: String) throws(PostgresError) -> PostgresRows {
        try withParameters(binds) { values, lengths, formats throws(PostgresError) in
            let sent = PQsendQueryPrepared(conn, name, Int32(binds.count), values, lengths, formats, 0) == 1
            return try consume(sent ? ReplyWait.result(of: conn) : nil, conn: conn, sql: sql)
        }
    }

    /// The parameters as libpq takes them: NUL-terminated buffers, lengths and formats.
    private static func withParameters(
        _ binds: [PostgresBind],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) throws(PostgresError) -> PostgresRows
    ) throws(PostgresError) -> PostgresRows {
        let formats = binds.map { Int32($0.isBinary ? 1 : 0) }
        let lengths = binds.map { Int32($0.bytes?.count ?? 0) }
        let buffers: [UnsafeMutablePointer<CChar>?] = binds.map { bind in
            guard let bytes = bind.bytes else { return nil }
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress ?? UnsafeRawPointer(buffer), byteCount: bytes.count)
            }
            buffer[bytes.count] = 0
            return buffer
        }
        defer { buffers.forEach { $0?.deallocate() } }
        let values: [UnsafePointer<CChar>?] = buffers.map { $0.map { UnsafePointer($0) } }
        return try body(values, lengths, formats)
    }

    /// How many statements this connection has prepared and keeps (for tests).
    public var preparedStatementCount: Int {
        handle.withLock { $0.statements.count }
    }

    /// Runs trusted SQL text that may hold several statements (`PQexec`), such as a migration file.
    /// Refuses queries with parameters: those must go through `query(_:)`.
    @discardableResult
    public func executeScript(_ script: SQLQuery) throws -> PostgresRows {
        guard script.binds.isEmpty else {
            throw PostgresError(.invalidRequest, message: "executeScript takes no parameters; use query(_:) for \(script.binds.count) bind(s)")
        }
        return try handle.withLock { h throws(PostgresError) -> PostgresRows in
            let conn = try Self.live(h)
            return try Self.consume(PQexec(conn, script.sql), conn: conn, sql: script.sql)
        }
    }

    /// The isolation level of a transaction (PostgreSQL's default is read committed).
    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` inside BEGIN … COMMIT; any error thrown (by the body or the server) rolls back and is rethrown.
    @discardableResult
    public func transaction<T>(isolation: IsolationLevel = .readCommitted, _ body: (PostgresConnection) throws -> T) throws -> T {
        try executeScript(SQLQuery(unsafeSQL: "BEGIN ISOLATION LEVEL " + isolation.rawValue))
        do {
            let value = try body(self)
            if transactionStatus == .failed {
                // COMMIT of a failed transaction silently rolls back; say so instead.
                throw PostgresError(.invalidRequest, message: "transaction was aborted by an earlier error that the body caught; rolled back")
            }
            try executeScript("COMMIT")
            return value
        } catch {
            if transactionStatus != .idle { _ = try? executeScript("ROLLBACK") }
            throw error
        }
    }

    /// Where the connection stands with respect to transactions, from `PQtransactionStatus`.
    public enum TransactionStatus: Sendable {
        case idle, active, inTransaction, failed, unknown
    }

    public var transactionStatus: TransactionStatus {
        handle.withLock { h in
            guard let conn = h.conn else { return .unknown }
            switch PQtransactionStatus(conn) {
            case PQTRANS_IDLE: return .idle
            case PQTRANS_ACTIVE: return .active
            case PQTRANS_INTRANS: return .inTransaction
            case PQTRANS_INERROR: return .failed
            default: return .unknown
            }
        }
    }

    /// True while libpq believes the connection is up (`PQstatus`); a dead peer is noticed on the next statement.
    public var isConnected: Bool {
        handle.withLock { h in h.conn.map { PQstatus($0) == CONNECTION_OK } ?? false }
    }

    /// The backend process id, handy to tell connections apart in tests and logs.
    public var backendPID: Int32 {
        handle.withLock { h in h.conn.map { PQbackendPID($0) } ?? 0 }
    }

    /// Makes the connection fit to go back into a pool: rolls back an open transaction.
    /// Returns false when the connection is broken or stuck and should be discarded.
    func prepareForReuse() -> Bool {
        switch transactionStatus {
        case .idle: return isConnected
        case .inTransaction, .failed:
            guard (try? executeScript("ROLLBACK")) != nil else { return false }
            return transactionStatus == .idle && isConnected
        case .active, .unknown: return false
        }
    }

    /// Waits up to `timeout` for notifications on the channels this connection listens to, and returns those
    /// that arrived (possibly none). Blocks the calling thread: meant for a connection dedicated to listening, on
    /// a thread of its own. A server that went away is `.connectionLost`.
    public func notifications(waitingUpTo timeout: Duration) throws(PostgresError) -> [PostgresNotification] {
        try handle.withLock { h throws(PostgresError) -> [PostgresNotification] in
            let conn = try Self.live(h)
            var arrived = Self.drainNotifications(conn)
            guard arrived.isEmpty else { return arrived }
            let socket = PQsocket(conn)
            guard socket >= 0 else { throw PostgresError(.connectionLost, message: "the connection has no socket") }
            let (seconds, attoseconds) = timeout.components
            let milliseconds = Int32(clamping: max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0 && errno != EINTR {
                throw PostgresError(.connectionLost, message: "poll on the connection failed (errno \(errno))")
            }
            if ready > 0 {
                guard PQconsumeInput(conn) == 1 else {
                    var message = Self.lastMessage(conn)
                    if message.isEmpty { message = "server closed the connection" }
                    throw PostgresError(.connectionLost, message: message)
                }
                arrived = Self.drainNotifications(conn)
            }
            return arrived
        }
    }

    private static func drainNotifications(_ conn: OpaquePointer) -> [PostgresNotification] {
        var arrived: [PostgresNotification] = []
        while let notice = PQnotifies(conn) {
            arrived.append(PostgresNotification(
                channel: notice.pointee.relname.map { String(cString: $0) } ?? "",
                payload: notice.pointee.extra.map { String(cString: $0) } ?? "",
                processID: notice.pointee.be_pid))
            PQfreemem(notice)
        }
        return arrived
    }

    // MARK: - libpq plumbing

    private static func live(_ h: Handle) throws(PostgresError) -> OpaquePointer {
        guard let conn = h.conn else { throw PostgresError(.connectionLost, message: "the connection is closed") }
        return conn
    }

    private static func lastMessage(_ conn: OpaquePointer) -> String {
        guard let cString = PQerrorMessage(conn) else { return "unknown libpq error" }
        return String(cString: cString).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func consume(_ result: OpaquePointer?, conn: OpaquePointer, sql: String) throws(PostgresError) -> PostgresRows {
        guard let result else {
            let kind: PostgresError.Kind = PQstatus(conn) == CONNECTION_OK ? .server : .connectionLost
            throw PostgresError(kind, message: lastMessage(conn))
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return rows(of: result)
        default:
            let field = { (code: Character) -> String? in
                guard let ascii = code.asciiValue, let value = PQresultErrorField(result, Int32(ascii)) else { return nil }
                return String(cString: value)
            }
            let sqlState = field("C")
            let shutdown = [SQLState.adminShutdown, "57P02", "57P03"].contains(sqlState ?? "")
            if PQstatus(conn) != CONNECTION_OK || shutdown {
                var message = field("M") ?? lastMessage(conn)
                if message.isEmpty { message = "server closed the connection" }
                throw PostgresError(.connectionLost, message: message, sqlState: sqlState)
            }
            var message = field("M") ?? lastMessage(conn)
            if let position = field("P"), let offset = Int(position) {
                message += " (at character \(offset) of: \(sql.prefix(200)))"
            }
            throw PostgresError(
                .server, message: message, sqlState: sqlState, detail: field("D"),
                serverHint: field("H"), constraint: field("n"), table: field("t")
            )
        }
    }

    private static func rows(of result: OpaquePointer) -> PostgresRows {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [String] = []
        var types: [UInt32] = []
        for c in 0..<columnCount {
            columns.append(PQfname(result, Int32(c)).map { String(cString: $0) } ?? "?column?")
            types.append(UInt32(PQftype(result, Int32(c))))
        }
        // Every cell's text copied into one buffer: sized first, so it is allocated once.
        var cells = CellTextBuilder()
        var size = 0
        for r in 0..<rowCount {
            for c in 0..<columnCount { size += Int(PQgetlength(result, Int32(r), Int32(c))) }
        }
        cells.text.reserveCapacity(size)
        cells.spans.reserveCapacity(rowCount * columnCount)
        for r in 0..<rowCount {
            for c in 0..<columnCount {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    cells.appendNull()
                } else {
                    let length = Int(PQgetlength(result, Int32(r), Int32(c)))
                    let pointer = PQgetvalue(result, Int32(r), Int32(c))
                    cells.append(UnsafeBufferPointer(start: pointer.map { UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self) }, count: pointer == nil ? 0 : length))
                }
            }
        }
        let tuples = PQcmdTuples(result).map { String(cString: $0) } ?? ""
        // A result without columns keeps no rows (`SELECT FROM t` has nothing to read in any of them).
        return PostgresRows(columns: columns, columnTypes: types, affectedRows: Int(tuples) ?? rowCount, text: cells.text,
                            spans: cells.spans, rowCount: columnCount == 0 ? 0 : rowCount)
    }
}

/// Calls `body` with a NULL-terminated array of C strings, freed afterwards.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    var constPointers: [UnsafePointer<CChar>?] = pointers.map { $0.map { UnsafePointer($0) } }
    constPointers.append(nil)
    return constPointers.withUnsafeBufferPointer { buffer in
        // The array is non-empty (it ends with the terminator), so baseAddress exists.
        body(buffer.baseAddress!)
    }
}
