/// One parameter value as libpq sends it: a type OID, a format (text or binary) and the bytes (nil for NULL).
public struct PostgresBind: Sendable, Hashable {
    /// The parameter's type OID; 0 lets the server infer it from context (used for strings).
    public let typeOID: UInt32
    /// True when `bytes` is PostgreSQL's binary representation (used for bytea), false for text.
    public let isBinary: Bool
    /// The encoded value, or nil for SQL NULL.
    public let bytes: [UInt8]?

    public init(typeOID: UInt32, text: String) {
        self.typeOID = typeOID
        self.isBinary = false
        self.bytes = Array(text.utf8)
    }

    public init(bytea: [UInt8]) {
        self.typeOID = PostgresType.bytea
        self.isBinary = true
        self.bytes = bytea
    }

    private init(null: Void) {
        self.typeOID = 0
        self.isBinary = false
        self.bytes = nil
    }

    /// SQL NULL, type left to the server.
    public static let null = PostgresBind(null: ())
}

/// The built-in type OIDs Quiver uses (from `pg_type.dat`; stable across PostgreSQL versions).
public enum PostgresType {
    public static let bool: UInt32 = 16
    public static let bytea: UInt32 = 17
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let oid: UInt32 = 26
    public static let json: UInt32 = 114
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let varchar: UInt32 = 1043
    public static let timestamp: UInt32 = 1114
    public static let timestamptz: UInt32 = 1184
    public static let numeric: UInt32 = 1700
    public static let uuid: UInt32 = 2950
    public static let jsonb: UInt32 = 3802
    public static let textArray: UInt32 = 1009
    public static let int4Array: UInt32 = 1007
    public static let int8Array: UInt32 = 1016
    public static let float8Array: UInt32 = 1022
}
