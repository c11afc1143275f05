import Foundation
import QuiverCore

/// An in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md): the subjects
/// (artifacts, each with a digest set) and a typed predicate about them.
public struct InTotoStatement<Predicate: Codable & Sendable>: Codable, Sendable {
    public static var statementType: String { "https://in-toto.io/Statement/v1" }

    public let type: String
    public let subject: [ResourceDescriptor]
    public let predicateType: String
    public let predicate: Predicate

    public init(subject: [ResourceDescriptor], predicateType: String, predicate: Predicate) {
        self.type = Self.statementType
        self.subject = subject
        self.predicateType = predicateType
        self.predicate = predicate
    }

    enum CodingKeys: String, CodingKey {
        case type = "_type"
        case subject, predicateType, predicate
    }

    /// The statement as the bytes that get signed: compact JSON, keys sorted, slashes unescaped.
    public func payload() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }
}

/// What any statement says about its subjects, whatever its predicate: enough to check the subjects' files.
public struct StatementHeader: Decodable, Sendable {
    public let type: String
    public let subject: [ResourceDescriptor]
    public let predicateType: String

    enum CodingKeys: String, CodingKey {
        case type = "_type"
        case subject, predicateType
    }

    /// Parses a verified payload; anything but an in-toto Statement v1 is `provenance.malformed_attestation`.
    public static func parse(_ payload: Data) throws -> StatementHeader {
        guard let header = try? JSONDecoder().decode(StatementHeader.self, from: payload) else {
            throw ProvenanceError.malformed("the signed payload is not an in-toto statement (_type, subject, predicateType)")
        }
        guard header.type == InTotoStatement<AttestationJSON>.statementType else {
            throw ProvenanceError.malformed("the signed payload's _type is '\(header.type.prefix(80))', not \(InTotoStatement<AttestationJSON>.statementType)")
        }
        return header
    }
}

/// An in-toto ResourceDescriptor: a name and/or URI, a digest set (`{"sha256": hex}`, `{"gitCommit": hex}`), and
/// free-form annotations.
public struct ResourceDescriptor: Codable, Sendable, Equatable {
    public var name: String?
    public var uri: String?
    public var digest: [String: String]?
    public var annotations: [String: AttestationJSON]?

    public init(name: String? = nil, uri: String? = nil, digest: [String: String]? = nil, annotations: [String: AttestationJSON]? = nil) {
        self.name = name
        self.uri = uri
        self.digest = digest
        self.annotations = annotations
    }

    /// A file by name with its sha256.
    public static func file(_ name: String, sha256: SHA256Digest) -> ResourceDescriptor {
        ResourceDescriptor(name: name, digest: ["sha256": sha256.hex])
    }
}

/// Any JSON value, for the free-form parts of predicates (annotations, recorded parameters).
public enum AttestationJSON: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([AttestationJSON])
    case object([String: AttestationJSON])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let items = try? container.decode([AttestationJSON].self) {
            self = .array(items)
        } else {
            self = .object(try container.decode([String: AttestationJSON].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let flag): try container.encode(flag)
        case .number(let number):
            // Integral values as integers (a seed, a rank), so `16` does not become `16.0`.
            if number.rounded() == number, abs(number) < 9.0e15 { try container.encode(Int64(number)) } else { try container.encode(number) }
        case .string(let text): try container.encode(text)
        case .array(let items): try container.encode(items)
        case .object(let members): try container.encode(members)
        }
    }
}
