import Postgres

/// A closed set of values stored in a `text` column with a CHECK constraint (`kind`, `status`): Swift code compares
/// cases, never strings, and a value the enum does not know is a decoding error naming the column.
public protocol TextColumn: RawRepresentable<String>, PostgresEncodable, PostgresDecodable, Codable, CaseIterable,
    CustomStringConvertible {}

extension TextColumn {
    public var postgresBind: PostgresBind { rawValue.postgresBind }

    public static func decode(from cell: PostgresCell) throws -> Self {
        let text = try cell.requireText()
        guard let value = Self(rawValue: text) else {
            throw PostgresError(.decoding, message: "column \"\(cell.column)\" holds '\(text)', not one of \(allCases.map(\.rawValue))")
        }
        return value
    }

    public var description: String { rawValue }
}

/// How a version came to be.
public enum VersionKind: String, TextColumn {
    /// Registered from a directory a training run wrote.
    case trained
    /// The output of a recorded merge.
    case merged
}

/// Where a queued merge job is in its life (see `JobLifecycle` in Registry for the transitions).
public enum JobStatus: String, TextColumn {
    case queued, running, succeeded, failed

    /// True once the job can no longer change.
    public var isFinal: Bool { self == .succeeded || self == .failed }
}

/// Which file of a version a blob is.
public enum BlobRole: String, TextColumn {
    case config, weights
}

/// What an API token may do; each scope includes the ones below it.
public enum TokenScope: String, TextColumn, Comparable {
    /// List, show, pull, lineage, audit, verify.
    case read
    /// Also register, merge, record evaluations, move unprotected aliases, queue jobs.
    case write
    /// Also move protected aliases, change the policy, manage tokens, collect garbage.
    case admin

    private var rank: Int {
        switch self {
        case .read: 0
        case .write: 1
        case .admin: 2
        }
    }

    public static func < (a: TokenScope, b: TokenScope) -> Bool { a.rank < b.rank }
}
