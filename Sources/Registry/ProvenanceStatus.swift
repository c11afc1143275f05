import Catalog
import LoRA
import Provenance
import ObjectStore
import QuiverCore

/// What can be said about a version's signed provenance (issue 11, item 4), as the version page shows it.
///
/// This is the hook between the lineage page and provenance: the page calls ``Registry/provenanceStatus(of:)`` and
/// renders whatever it answers; the provenance work fills that function in (statement found, signature checked
/// with the registry's key, subjects matching the version's files) without touching the page.
public struct ProvenanceStatus: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        /// Provenance is not produced by this registry yet: nothing to check.
        case pending
        /// A statement exists and its signature and subjects check out.
        case verified
        /// A statement exists but does not check out (see ``details``).
        case failed
        /// The registry signs provenance, but this version has none (registered before signing was enabled).
        case absent
    }

    public let state: State
    /// One sentence for the page.
    public let summary: String
    /// Further lines (the statement's location, the key, each failed check).
    public let details: [String]

    public init(state: State, summary: String, details: [String] = []) {
        self.state = state
        self.summary = summary
        self.details = details
    }

    /// What every version has until signed provenance exists.
    public static let pending = ProvenanceStatus(
        state: .pending, summary: "Signed provenance (in-toto statement, DSSE signature) is not produced by this registry yet.",
        details: ["Until then, 'quiver verify' re-reads every blob on the lineage and re-runs every recorded merge."])
}

extension Registry {
    /// The provenance status of `version`, for the version page: its attestation is made and signed with the
    /// registry's key (as `quiver attest` does), verified with the public key, and each subject is checked against
    /// the blob store (present, with the recorded size). Runs on a blocking thread (the catalog, the key file, S3).
    public func provenanceStatus(of version: AdapterVersion) throws -> ProvenanceStatus {
        let key: SigningKey
        do {
            key = try signingKey.load()
        } catch {
            return ProvenanceStatus(state: .absent, summary: "This registry has no signing key, so it cannot attest this version.",
                                    details: ["Set QUIVER_SIGNING_KEY (a PEM ECDSA P-256 private key) for quiver serve."])
        }
        let check: AttestationCheck
        do {
            check = try AttestationVerifier.verify(try attestation(of: version), key: key.publicKey, directory: nil)
        } catch let error as any NamedError {
            return ProvenanceStatus(state: .failed, summary: "The attestation does not verify: \(error.reason)", details: [error.code])
        }
        var details = ["statement: in-toto v1, predicate \(check.predicateType)", "signed by key sha256:\(check.keyID) (quiver key public)"]
        var failures: [String] = []
        let expected = [(LoRAAdapter.configFileName, version.configDigest, version.configSize),
                        (LoRAAdapter.weightsFileName, version.weightsDigest, version.weightsSize)]
        for (name, digest, size) in expected {
            guard check.subjects.contains(where: { $0.name == name && $0.sha256 == digest.hex }) else {
                failures.append("\(name): not a subject of the statement with sha256 \(digest.hex)")
                continue
            }
            let found: Result<BlobInfo?, any Error> = Result { try blobs.head(digest: digest) }
            switch found {
            case .success(let info?) where info.size == size:
                details.append("\(name) sha256:\(digest.hex), \(size) bytes, present in the blob store")
            case .success(let info?):
                failures.append("\(name): the store holds \(info.size) bytes, the catalog records \(size)")
            case .success(nil):
                failures.append("\(name): sha256:\(digest.hex) is missing from the blob store")
            case .failure:
                failures.append("\(name): the blob store did not answer")
            }
        }
        guard failures.isEmpty else {
            return ProvenanceStatus(state: .failed, summary: "The statement is signed, but its subjects do not check out.", details: failures + details)
        }
        return ProvenanceStatus(
            state: .verified,
            summary: "Signed statement verified with the registry's key; its subjects are this version's files, present in the store.",
            details: details + ["Check a pulled or published copy yourself: quiver attest REF --output a.json; quiver attest --verify a.json --dir DIR"])
    }
}
