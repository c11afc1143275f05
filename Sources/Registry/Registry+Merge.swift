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
}

extension Registry {
    /// Merges registered versions into a new version of `into` (kind `merged`), recording the merge, its parameters
    /// and weighted lineage edges in the version's transaction.
    ///
    /// The registry policy and the engine's compatibility rules are checked on the catalog's metadata before any
    /// blob is fetched; a refusal is recorded in `merge_refusals` with an audit event and thrown. The same request
    /// (method, resolved parameters, input digests) asked again returns the recorded result; if the store has lost
    /// that result's files, the merge is re-run (same bytes) and the files restored.
    public func merge(inputs refs: [AdapterRef], into name: String, request: MergeRequest) throws -> MergeOutcome {
        try AdapterRef.validateName(name)
        let inputs = try refs.map { try resolve($0) }
        let resolved = request.resolved(inputCount: inputs.count)
        let requestDigest = try Self.requestDigest(resolved, inputs: inputs)
        if let previous = try recordedMerge(requestDigest: requestDigest), try storeHasFiles(of: previous.version) {
            return previous
        }
        do {
            try check(inputs: inputs, request: resolved)
        } catch let error as MergeError {
            try recordRefusal(inputs: inputs, request: resolved, code: error.code, message: error.reason)
            throw error
        } catch let error as RegistryError where error.code.hasPrefix("registry.policy") {
            try recordRefusal(inputs: inputs, request: resolved, code: error.code, message: error.reason)
            throw error
        }
        let (adapter, scratch) = try runMerge(inputs: inputs, request: resolved)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var mergeID: Int64 = 0
        let outcome = try store(adapter: adapter, name: name, kind: "merged", tags: [:], baseRevision: inputs[0].baseRevision) { tx, version in
            mergeID = try recordMerge(tx, output: version, inputs: inputs, request: resolved, requestDigest: requestDigest)
        }
        if outcome.existed {
            // Another request (or a concurrent twin) produced identical content: link this request to it.
            if let previous = try recordedMerge(requestDigest: requestDigest) { return previous }
            mergeID = try retryingTransaction { tx in
                try recordMerge(tx, output: outcome.version, inputs: inputs, request: resolved, requestDigest: requestDigest)
            }
        }
        return MergeOutcome(version: outcome.version, mergeID: mergeID, existed: outcome.existed)
    }

    /// sha256 of the canonical request JSON and the inputs' canonical digests, in order.
    /// Whether the blob store still holds the version's config and weights.
    func storeHasFiles(of version: AdapterVersion) throws -> Bool {
        try blobs.exists(digest: version.configDigest) && blobs.exists(digest: version.weightsDigest)
    }

    static func requestDigest(_ request: MergeRequest, inputs: [AdapterVersion]) throws -> SHA256Digest {
        var bytes = try request.canonicalJSON()
        bytes.append(contentsOf: Array(("\n" + inputs.map(\.canonicalDigest.hex).joined(separator: ",")).utf8))
        return SHA256Digest.of(bytes)
    }

    func recordedMerge(requestDigest: SHA256Digest) throws -> MergeOutcome? {
        try pool.withConnection { connection in
            guard let row = try connection.query("""
                SELECT id, output_version_id FROM merges WHERE request_digest = \(requestDigest.hex) AND output_version_id IS NOT NULL
                """).first else { return nil }
            guard let version = try Self.version(connection, id: try row.decode(Int64.self, at: 1)) else { return nil }
            return MergeOutcome(version: version, mergeID: try row.decode(Int64.self, at: 0), existed: true)
        }
    }

    /// The registry policy, then the engine's rules over descriptors built from the catalog (no blob is read).
    func check(inputs: [AdapterVersion], request: MergeRequest) throws {
        let policy = try self.policy()
        if !policy.allowedMethods.contains(request.method.rawValue) {
            throw RegistryError(
                .refusal, code: "registry.policy.method_not_allowed",
                reason: "the registry policy does not allow \(request.method.rawValue) merges (allowed: \(policy.allowedMethods.joined(separator: ", ")))",
                hint: "choose an allowed method, or change the policy with 'quiver policy set allowed_methods'")
        }
        if request.allowScalingMismatch && !policy.allowScalingFold {
            throw RegistryError(
                .refusal, code: "registry.policy.scaling_fold_forbidden",
                reason: "the registry policy forbids folding different LoRA scalings into the factors (allow_scaling_fold = false)",
                hint: "merge inputs with equal scaling, or set the policy with 'quiver policy set allow_scaling_fold true'")
        }
        let descriptors = try inputs.map { try descriptor(of: $0) }
        let plan = try MergeCompatibility.plan(inputs: descriptors, request: request)
        if let widest = plan.modules.max(by: { $0.outputRank < $1.outputRank }), widest.outputRank > policy.maxMergedRank {
            throw RegistryError(
                .refusal, code: "registry.policy.rank_too_large",
                reason: "the merged module \(widest.path) would have rank \(widest.outputRank), above the policy's max_merged_rank \(policy.maxMergedRank)",
                hint: "pass --svd-rank \(policy.maxMergedRank) or lower, or raise max_merged_rank")
        }
    }

    /// The engine's view of a version, from its recorded modules and config.
    func descriptor(of version: AdapterVersion) throws -> MergeInputDescriptor {
        let configText = try pool.query("SELECT config::text FROM adapter_versions WHERE id = \(version.id)").single().decode(String.self, at: 0)
        let config = try AdapterConfig.parse(Data(configText.utf8), file: version.label)
        let modules = try self.modules(of: version).map {
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
                adapters.append(try LoRAAdapter.load(directory: directory))
            }
            let result = try MergeEngine.merge(inputs: adapters, request: request)
            let output = scratch.appendingPathComponent("output")
            try LoRAWriter.write(config: result.config, tensors: result.tensors, metadata: result.metadata, to: output)
            return (try LoRAAdapter.load(directory: output), scratch)
        } catch {
            try? FileManager.default.removeItem(at: scratch)
            throw error
        }
    }

    func recordMerge(_ tx: PostgresConnection, output: AdapterVersion, inputs: [AdapterVersion], request: MergeRequest, requestDigest: SHA256Digest) throws -> Int64 {
        let params = try PostgresJSON(encoding: request)
        let digests = inputs.map(\.canonicalDigest.hex)
        let mergeID = try tx.query("""
            INSERT INTO merges (method, params, seed, software_version, input_digests, output_version_id, requested_by, status, request_digest)
            VALUES (\(request.method.rawValue), \(params), \(Int64(bitPattern: request.seed)), \(QuiverVersion.current), \(digests),
                \(output.id), \(actor), 'succeeded', \(requestDigest.hex))
            RETURNING id
            """).single().decode(Int64.self, at: 0)
        let weights = request.resolvedWeights(count: inputs.count)
        for (position, input) in inputs.enumerated() {
            try tx.query("""
                INSERT INTO merge_inputs (merge_id, position, input_version_id, weight)
                VALUES (\(mergeID), \(position), \(input.id), \(weights[position]))
                """)
        }
        // One edge per distinct parent (an input given twice gets its weights summed).
        var summed: [(id: Int64, weight: Double)] = []
        for (input, weight) in zip(inputs, weights) {
            if let index = summed.firstIndex(where: { $0.id == input.id }) { summed[index].weight += weight } else { summed.append((input.id, weight)) }
        }
        for parent in summed where parent.id != output.id {
            try tx.query("""
                INSERT INTO lineage_edges (parent_version_id, child_version_id, weight, merge_id)
                VALUES (\(parent.id), \(output.id), \(parent.weight), \(mergeID))
                """)
        }
        try audit(tx, action: "merge.record", subject: output.label, details: [
            "merge_id": String(mergeID), "method": request.method.rawValue,
            "inputs": inputs.map(\.label).joined(separator: ","), "request_digest": requestDigest.hex,
        ])
        return mergeID
    }

    func recordRefusal(inputs: [AdapterVersion], request: MergeRequest, code: String, message: String) throws {
        let requested = try PostgresJSON(encoding: inputs.map { ["ref": $0.label, "canonical_digest": $0.canonicalDigest.hex] })
        let params = try PostgresJSON(encoding: request)
        try pool.transaction { tx in
            try tx.query("""
                INSERT INTO merge_refusals (requested_inputs, method, params, reason_code, message, requested_by)
                VALUES (\(requested), \(request.method.rawValue), \(params), \(code), \(message), \(actor))
                """)
            try audit(tx, action: "merge.refuse", subject: inputs.map(\.label).joined(separator: "+"), details: [
                "reason_code": code, "message": message, "method": request.method.rawValue,
            ])
        }
    }
}
