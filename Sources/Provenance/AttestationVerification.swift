import Foundation
import QuiverCore

/// What `quiver attest --verify` found: the statement's subjects and, when a directory was given, each file re-hashed.
public struct AttestationCheck: Sendable, Codable, Equatable {
    public struct Subject: Sendable, Codable, Equatable {
        public let name: String
        public let sha256: String
        /// True when the file was re-hashed and matched; nil when no directory was given.
        public let rehashed: Bool?
    }

    public let predicateType: String
    public let keyID: String
    public let subjects: [Subject]
}

public enum AttestationVerifier {
    /// Verifies the envelope's signature with `key`, parses the statement and, with `directory`, re-hashes every
    /// subject file there. Any mismatch is a `ProvenanceError` of kind integrity.
    public static func verify(_ envelope: DSSEEnvelope, key: PublicKey, directory: URL?) throws -> AttestationCheck {
        let payload = try envelope.verifiedPayload(with: key)
        let header = try StatementHeader.parse(payload)
        guard !header.subject.isEmpty else { throw ProvenanceError.malformed("the statement has no subject") }
        var subjects: [AttestationCheck.Subject] = []
        for subject in header.subject {
            guard let name = subject.name, let expected = subject.digest?["sha256"].flatMap(SHA256Digest.init(hex:)) else {
                throw ProvenanceError.malformed("a subject of the statement has no name or no sha256 digest")
            }
            var rehashed: Bool?
            if let directory {
                // Subject names are file names relative to the directory; nothing may climb out of it.
                guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else {
                    throw ProvenanceError.malformed("the subject name '\(name.prefix(80))' is not a relative file name")
                }
                let file = directory.appendingPathComponent(name)
                let actual: SHA256Digest
                do {
                    actual = try SHA256Digest.ofFile(at: file)
                } catch {
                    throw ProvenanceError(.integrity, code: "subject_missing", reason: "\(name), named by the signed statement, cannot be read in \(directory.path)",
                                          hint: "pass the directory the attestation describes (--dir)")
                }
                guard actual == expected else { throw ProvenanceError.subjectMismatch(name, expected: expected.hex, actual: actual.hex) }
                rehashed = true
            }
            subjects.append(.init(name: name, sha256: expected.hex, rehashed: rehashed))
        }
        return AttestationCheck(predicateType: header.predicateType, keyID: key.keyID, subjects: subjects)
    }
}
