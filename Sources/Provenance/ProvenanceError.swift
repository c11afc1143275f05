import QuiverCore

/// Failures of signing and verifying provenance: a signing key that cannot be used, an attestation whose signature
/// or subjects do not check out, a malformed attestation.
public struct ProvenanceError: NamedError, Equatable {
    public let errorKind: ErrorKind
    public let code: String
    public let reason: String
    public let hint: String

    public init(_ kind: ErrorKind, code: String, reason: String, hint: String = "") {
        self.errorKind = kind
        self.code = "provenance.\(code)"
        self.reason = reason
        self.hint = hint
    }

    public static func == (lhs: ProvenanceError, rhs: ProvenanceError) -> Bool { lhs.code == rhs.code }

    /// The attestation's signature does not verify with the key (a changed byte in the statement, or another key).
    static func badSignature(_ what: String) -> ProvenanceError {
        ProvenanceError(
            .integrity, code: "bad_signature", reason: "the signature of \(what) does not verify with the public key",
            hint: "the statement was changed after signing, or it was signed by another key: 'quiver key public' prints the registry's")
    }

    /// The attestation cannot be read as a DSSE envelope holding an in-toto statement.
    static func malformed(_ what: String) -> ProvenanceError {
        ProvenanceError(
            .integrity, code: "malformed_attestation", reason: what,
            hint: "an attestation is a DSSE envelope (payloadType application/vnd.in-toto+json) as 'quiver attest' writes it")
    }

    /// A file named by the statement does not hash to its recorded digest.
    static func subjectMismatch(_ name: String, expected: String, actual: String) -> ProvenanceError {
        ProvenanceError(
            .integrity, code: "subject_mismatch", reason: "\(name) hashes to sha256:\(actual), but the signed statement says sha256:\(expected)",
            hint: "the file was changed after it was published; publish the version again into a new directory")
    }
}
