import Catalog

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
    /// The provenance status of `version`, for the version page. No blocking work beyond the catalog.
    ///
    /// Hook for signed provenance: answers ``ProvenanceStatus/pending`` until attestations exist.
    public func provenanceStatus(of version: AdapterVersion) throws -> ProvenanceStatus {
        .pending
    }
}
