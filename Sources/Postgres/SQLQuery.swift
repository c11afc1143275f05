import Foundation

/// A SQL statement and its parameters, built so that values can never become SQL text.
///
/// Every value interpolated into the literal becomes a `$n` parameter sent separately from the text:
/// ```swift
/// let q: SQLQuery = "SELECT id FROM adapters WHERE name = \(name) AND created_at > \(since)"
/// // text: SELECT id FROM adapters WHERE name = $1 AND created_at > $2
/// ```
/// Raw SQL only enters through the initializers and interpolations whose names say `unsafe`.
public struct SQLQuery: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The statement text, with `$1`, `$2`, … where values go.
    public private(set) var sql: String
    /// The parameter values, in `$n` order.
    public private(set) var binds: [PostgresBind]

    /// A query made of trusted SQL text with no parameters, such as a migration file. Never pass user input.
    public init(unsafeSQL sql: String) {
        self.sql = sql
        self.binds = []
    }

    /// A query with explicit `$n` placeholders and their values, for SQL built programmatically.
    public init(unsafeSQL sql: String, binds: [PostgresBind]) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.sql = value
        self.binds = []
    }

    public init(stringInterpolation: StringInterpolation) {
        self.sql = stringInterpolation.sql
        self.binds = stringInterpolation.binds
    }

    public var description: String { "\(sql) [\(binds.count) parameter(s)]" }

    /// Appends another query, renumbering its parameters after this one's.
    public mutating func append(_ other: SQLQuery) {
        var text = other.sql
        if !other.binds.isEmpty, !binds.isEmpty {
            // Renumber from the highest index down so `$1` never clobbers the start of `$12`.
            for index in stride(from: other.binds.count, through: 1, by: -1) {
                text = text.replacingOccurrences(of: "$\(index)", with: "$\(index + binds.count)")
            }
        }
        sql += text
        binds += other.binds
    }

    /// Collects literal text and turns each interpolated value into a numbered parameter.
    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var sql = ""
        var binds: [PostgresBind] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// A value sent as a parameter.
        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T) {
            bind(value.postgresBind)
        }

        /// An optional value: `nil` is sent as SQL NULL.
        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T?) {
            bind(value?.postgresBind ?? .null)
        }

        /// Bytes sent as a binary `bytea` parameter.
        public mutating func appendInterpolation(_ bytes: [UInt8]) {
            bind(PostgresBind(bytea: bytes))
        }

        /// A prepared bind, for values whose SQL type the caller chooses.
        public mutating func appendInterpolation(bind: PostgresBind) {
            self.bind(bind)
        }

        /// Trusted SQL text pasted as is (an identifier chosen by the program, never user input).
        public mutating func appendInterpolation(unsafeRaw text: String) {
            sql += text
        }

        private mutating func bind(_ value: PostgresBind) {
            binds.append(value)
            sql += "$\(binds.count)"
        }
    }
}
