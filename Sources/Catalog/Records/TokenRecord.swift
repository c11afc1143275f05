import Foundation

/// An API token as the catalog keeps it: never the token itself, only its sha256.
public struct TokenRecord: Sendable, Codable, Equatable {
    public let id: Int64
    public let name: String
    public let scope: TokenScope
    /// A glob over adapter names the token may touch (`*` matches any run of characters); nil for every name.
    public let namePattern: String?
    public let createdBy: String
    public let createdAt: Date
    public let expiresAt: Date?
    public let revokedAt: Date?
    public let lastUsedAt: Date?

    public init(id: Int64, name: String, scope: TokenScope, namePattern: String?, createdBy: String, createdAt: Date,
                expiresAt: Date?, revokedAt: Date?, lastUsedAt: Date?) {
        self.id = id
        self.name = name
        self.scope = scope
        self.namePattern = namePattern
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
    }
}
