import Foundation
import QuiverCore

extension Registry {
    /// The version a reference names, or `registry.not_found`.
    public func resolve(_ ref: AdapterRef) throws -> AdapterVersion {
        try catalog.read { try Self.resolve($0, ref) }
    }

    /// Parses and resolves a reference written on the command line.
    public func resolve(_ text: String) throws -> AdapterVersion {
        try resolve(AdapterRef.parse(text))
    }

    static func resolve(_ session: CatalogSession, _ ref: AdapterRef) throws -> AdapterVersion {
        try pick(session.versions.matching(ref.key), for: ref)
    }

    /// The version `ref` names among the candidates the catalog found for it, best first
    /// (``VersionStore/matching(_:)``). The canonical digest is unique and a weights file nearly so (the first
    /// version wins); a config file is often shared by many versions, so a config digest must name exactly one.
    static func pick(_ candidates: [AdapterVersion], for ref: AdapterRef) throws -> AdapterVersion {
        if case .digest(let digest) = ref, candidates.count > 1, candidates[0].canonicalDigest != digest, candidates[0].weightsDigest != digest {
            throw RegistryError(
                .invalidInput, code: "registry.ambiguous_reference",
                reason: "sha256:\(digest.hex) is the config file of several versions (\(candidates.map(\.label).joined(separator: ", "))\(candidates.count > 2 ? ", …" : ""))",
                hint: "use the weights file, its digest, or NAME@VERSION")
        }
        guard let found = candidates.first else { throw RegistryError.notFound("no adapter version matches \(ref)") }
        return found
    }

    /// The version with this canonical digest, if registered.
    public func version(canonicalDigest: SHA256Digest) throws -> AdapterVersion? {
        try catalog.read { try $0.versions.version(canonicalDigest: canonicalDigest) }
    }
}
