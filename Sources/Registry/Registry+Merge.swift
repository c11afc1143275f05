import Foundation
import LoRA
import Merge
import Postgres
import QuiverCore

/// What `merge` did.
public struct MergeOutcome: Sendable, Codable, Equatable {
    public let version: AdapterVersion
    public let mergeID: Int64
    /// True when the same request was merged before and its result is returned.
    public let existed: Bool

    public init(version: AdapterVersion, mergeID: Int64, existed: Bool) {
        self.version = version
        self.mergeID = mergeID
        self.existed = existed
    }
}

extension Registry {
    /// Merges registered versions into a new version of `into` (kind `merged`), recording the merge, its parameters
    /// and weighted lineage edges in the version's transaction.
    ///
    /// The registry policy and the engine's compatibility rules are checked on the catalog's metadata before any
    /// blob is fetched; a refusal is recorded in `merge_refusals` with an audit event and thrown. The same request
    /// (`MergeIdentity`: method, resolved parameters, input digests) asked again returns the recorded result; if the
    /// store has lost that result's files, the merge is re-run (same bytes) and the files restored.
    public func merge(inputs refs: [AdapterRef], into name: String, request: MergeRequest) throws -> MergeOutcome {
        try AdapterRef.validateName(name)
        let inputs = try refs.map { try resolve($0) }
        let resolved = request.resolved(inputCount: inputs.count)
        let identity = try MergeIdentity.key(resolved, inputDigests: inputs.map(\.canonicalDigest))
        if let previous = try precheck(inputs: inputs, request: resolved, identity: identity) { return previous }
        let (adapter, scratch) = try runMerge(inputs: inputs, request: resolved)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var mergeID: Int64 = 0
        let outcome = try store(adapter: adapter, name: name, kind: .merged, tags: [:], baseRevision: inputs[0].baseRevision) { tx, version in
            mergeID = try recordMerge(tx, output: version, inputs: inputs, request: resolved, identity: identity)
        }
        if outcome.existed {
            // Another request (or a concurrent twin) produced identical content: link this request to it.
            if let previous = try recordedMerge(identity) { return previous }
            mergeID = try catalog.transaction { tx in
                try recordMerge(tx, output: outcome.version, inputs: inputs, request: resolved, identity: identity)
            }
        }
        return MergeOutcome(version: outcome.version, mergeID: mergeID, existed: outcome.existed)
    }

    /// What can be decided about a merge without running it, for callers about to queue it as a job: the recorded
    /// result of the same request (returned), or a refusal by the policy or the engine's rules (recorded and
    /// thrown), exactly as ``merge(inputs:into:request:)`` decides them first. nil: the merge has to run.
    public func precheckMerge(inputs refs: [AdapterRef], into name: String, request: MergeRequest) throws -> MergeOutcome? {
        try AdapterRef.validateName(name)
        let inputs = try refs.map { try resolve($0) }
        let resolved = request.resolved(inputCount: inputs.count)
        return try precheck(inputs: inputs, request: resolved, identity: try MergeIdentity.key(resolved, inputDigests: inputs.map(\.canonicalDigest)))
    }

    private func precheck(inputs: [AdapterVersion], request resolved: MergeRequest, identity: SHA256Digest) throws -> MergeOutcome? {
        if let previous = try recordedMerge(identity), try storeHasFiles(of: previous.version) {
            return previous
        }
        do {
            try check(inputs: inputs, request: resolved)
        } catch let error as any NamedError where error.errorKind == .refusal {
            try recordRefusal(inputs: inputs, request: resolved, code: error.code, message: error.reason)
            throw error
        }
        return nil
    }

    /// Whether the blob store still holds the version's config and weights.
    func storeHasFiles(of version: AdapterVersion) throws -> Bool {
        try blobs.exists(digest: version.configDigest) && blobs.exists(digest: version.weightsDigest)
    }

    func recordedMerge(_ identity: SHA256Digest) throws -> MergeOutcome? {
        try catalog.read { session in
            guard let (mergeID, outputID) = try session.merges.recorded(requestDigest: identity),
                  let version = try session.versions.version(id: outputID) else { return nil }
            return MergeOutcome(version: version, mergeID: mergeID, existed: true)
        }
    }

    /// The registry policy, then the engine's rules over descriptors built from the catalog (no blob is read).
    func check(inputs: [AdapterVersion], request: MergeRequest) throws {
        let policy = try self.policy()
        try policy.check(request)
        let descriptors = try inputs.map { try descriptor(of: $0) }
        try policy.check(request, plan: try MergeCompatibility.plan(inputs: descriptors, request: request))
    }

    /// The engine's view of a version, from its recorded modules and config.
    func descriptor(of version: AdapterVersion) throws -> MergeInputDescriptor {
        let (configText, recorded) = try catalog.read { session in
            (try session.versions.configs(versionIDs: [version.id])[version.id] ?? "{}", try session.versions.modules(versionID: version.id))
        }
        let config = try AdapterConfig.parse(Data(configText.utf8), file: version.label)
        let modules = recorded.map {
            ModuleDescriptor(path: $0.path, rank: $0.rank, scaling: $0.scaling, inFeatures: $0.inFeatures,
                             outFeatures: $0.outFeatures, hasMagnitude: version.useDora)
        }
        return MergeInputDescriptor(
            name: version.label, baseModel: version.baseModel.isEmpty ? nil : version.baseModel,
            revision: version.baseRevision.isEmpty ? nil : version.baseRevision, useDora: version.useDora,
            modulesToSave: config.modulesToSave ?? [], modules: modules)
    }

    /// Downloads the inputs (verified), merges them and writes the result; returns it loaded and the scratch
    /// directory holding everything (the caller removes it).
    func runMerge(inputs: [AdapterVersion], request: MergeRequest) throws -> (LoRAAdapter, URL) {
        let scratch = try scratchDirectory("merge")
        do {
            var adapters: [LoRAAdapter] = []
            for (index, input) in inputs.enumerated() {
                let directory = scratch.appendingPathComponent("input-\(index)-\(input.name.replacingOccurrences(of: "/", with: "_"))@\(input.version)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try download(input, into: directory)
                let adapter = try LoRAAdapter.load(directory: directory)
                // Both files were verified against their digests as they downloaded, and the catalog recorded the
                // canonical digest of exactly these bytes: the merge need not hash the inputs again.
                adapter.assumeDigests(canonical: input.canonicalDigest, weights: input.weightsDigest)
                adapters.append(adapter)
            }
            let output = scratch.appendingPathComponent("output")
            _ = try MergeEngine.merge(inputs: adapters, request: request, into: output)
            return (try LoRAAdapter.load(directory: output), scratch)
        } catch {
            try? FileManager.default.removeItem(at: scratch)
            throw error
        }
    }

    func recordMerge(_ tx: CatalogSession, output: AdapterVersion, inputs: [AdapterVersion], request: MergeRequest, identity: SHA256Digest) throws -> Int64 {
        let weights = request.resolvedWeights(count: inputs.count)
        let mergeID = try tx.merges.record(NewMerge(
            method: request.method.rawValue, params: try PostgresJSON(encoding: request).text,
            seed: request.seed, softwareVersion: QuiverVersion.current,
            inputs: zip(inputs, weights).map { (versionID: $0.id, canonicalDigest: $0.canonicalDigest, weight: $1) },
            outputVersionID: output.id, requestDigest: identity, requestedBy: actor))
        try audit(tx, action: "merge.record", subject: output.label, details: [
            "merge_id": String(mergeID), "method": request.method.rawValue,
            "inputs": inputs.map(\.label).joined(separator: ","), "request_digest": identity.hex,
        ])
        return mergeID
    }

    func recordRefusal(inputs: [AdapterVersion], request: MergeRequest, code: String, message: String) throws {
        let params = try PostgresJSON(encoding: request).text
        try catalog.transaction { tx in
            try tx.merges.recordRefusal(
                inputs: inputs.map { ($0.label, $0.canonicalDigest) }, method: request.method.rawValue, params: params,
                code: code, message: message, by: actor)
            try audit(tx, action: "merge.refuse", subject: inputs.map(\.label).joined(separator: "+"), details: [
                "reason_code": code, "message": message, "method": request.method.rawValue,
            ])
        }
    }
}
