import Foundation
import Merge
import ObjectStore
import QuiverCore

/// Local mode: the registry's own use cases, named by reference. Each method resolves and delegates; none adds
/// behaviour.
extension Registry: RegistryService {
    public var summary: String { "catalog ready, blobs in \(blobs.location), acting as \(actor)" }

    public var uploadsLocalFiles: Bool { true }

    public func show(_ ref: AdapterRef) throws -> VersionDetail {
        try detail(of: try resolve(ref))
    }

    /// A version's record and modules: what never changes about it.
    public func facts(of version: AdapterVersion) throws -> VersionFacts {
        VersionFacts(version: version, modules: try catalog.read { try $0.versions.modules(versionID: version.id) })
    }

    /// A version with its modules, its adapter's aliases and its evaluations, read on one pooled connection.
    public func detail(of version: AdapterVersion) throws -> VersionDetail {
        try catalog.read { try Self.detail($0, version) }
    }

    static func detail(_ session: CatalogSession, _ version: AdapterVersion) throws -> VersionDetail {
        let aliases = Dictionary(try session.aliases.current(name: version.name).map { ($0.alias, $0.version) },
                                 uniquingKeysWith: { first, _ in first })
        return VersionDetail(
            version: version, modules: try session.versions.modules(versionID: version.id), aliases: aliases,
            evaluations: try session.evaluations.of(versionID: version.id))
    }

    public func pull(_ ref: AdapterRef, to output: URL) throws -> AdapterVersion {
        let version = try resolve(ref)
        try pull(version, to: output)
        return version
    }

    public func merge(_ request: MergeJobRequest, queue: Bool) throws -> MergeSubmission {
        if queue {
            // As the server does before queueing: the recorded result of the same request, or a refusal, now.
            if let recorded = try precheckMerge(inputs: try request.inputs.map(AdapterRef.parse), into: request.into, request: request.request) {
                return .merged(recorded)
            }
            return .queued(try enqueueMerge(request))
        }
        return .merged(try merge(inputs: try request.inputs.map(AdapterRef.parse), into: request.into, request: request.request))
    }

    public func outcome(of job: MergeJob) throws -> MergeOutcome {
        guard job.status == .succeeded, let versionID = job.resultVersionID, let mergeID = job.mergeID,
              let version = try catalog.read({ try $0.versions.version(id: versionID) })
        else {
            throw RegistryError(.notFound, code: "registry.job_not_succeeded", reason: "merge job \(job.id) has no result (\(job.status))",
                                hint: "'quiver job show \(job.id)' shows the job")
        }
        return MergeOutcome(version: version, mergeID: mergeID, existed: false)
    }

    public func lineage(of ref: AdapterRef, direction: LineageGraph.Direction) throws -> LineageGraph {
        try lineage(of: try resolve(ref), direction: direction)
    }

    public func verify(_ ref: AdapterRef) throws -> VerifyReport {
        try verify(try resolve(ref))
    }

    public func recordEvaluation(_ ref: AdapterRef, _ evaluation: Evaluation) throws -> AdapterVersion {
        let version = try resolve(ref)
        try recordEvaluation(version, evaluation)
        return version
    }

    public func evaluations(of ref: AdapterRef) throws -> [Evaluation] {
        try evaluations(of: try resolve(ref))
    }

    public func fetchBlob(_ digest: SHA256Digest, size: Int64, to file: URL) throws {
        try blobs.get(digest: digest, known: KnownBlob(size: size), to: file)
    }

    public func collectGarbage(graceSeconds: Int64, dryRun: Bool) throws -> GCReport {
        try collectGarbage(graceSeconds: graceSeconds, dryRun: dryRun, fenceTimeout: .seconds(30))
    }
}
