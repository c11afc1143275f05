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
        let found: AdapterVersion?
        switch ref {
        case .latest(let name):
            found = try session.versions.latest(name: name)
        case .version(let name, let number):
            found = try session.versions.version(name: name, number: number)
        case .alias(let name, let alias):
            found = try session.versions.aliased(name: name, alias: alias)
        case .digest(let digest):
            // The canonical digest is unique and a weights file nearly so (the first version wins); a config file is
            // often shared by many versions, so a config digest must name exactly one.
            let candidates = try session.versions.matching(digest: digest)
            if candidates.count > 1, candidates[0].canonicalDigest != digest, candidates[0].weightsDigest != digest {
                throw RegistryError(
                    .invalidInput, code: "registry.ambiguous_reference",
                    reason: "sha256:\(digest.hex) is the config file of several versions (\(candidates.map(\.label).joined(separator: ", "))\(candidates.count > 2 ? ", …" : ""))",
                    hint: "use the weights file, its digest, or NAME@VERSION")
            }
            found = candidates.first
        }
        guard let found else { throw RegistryError.notFound("no adapter version matches \(ref)") }
        return found
    }

    /// The version with this canonical digest, if registered.
    public func version(canonicalDigest: SHA256Digest) throws -> AdapterVersion? {
        try catalog.read { try $0.versions.version(canonicalDigest: canonicalDigest) }
    }
}
