import Foundation
import LoRA
import ObjectStore
import Postgres
import QuiverCore

extension Registry {
    /// Stores a validated adapter (``validateForRegistration(directory:name:tags:)``; ``RegistryService``'s
    /// `register(directory:)` does both) as a new version of `name`, kind `trained`. Weights holding NaN or Inf were
    /// refused (`lora.non_finite_weight`) by the validation, before anything is uploaded.
    ///
    /// The files are uploaded as content-addressed blobs first, then the version, its modules, blob rows and an
    /// audit event are recorded in one transaction. Identical content (same canonical digest) returns the existing
    /// version; concurrent registrations of the same content create exactly one. A crash before the commit leaves
    /// only unreferenced blobs, which `gc` removes after the grace period.
    public func register(validated adapter: LoRAAdapter, name: String, tags: [String: String] = [:], baseRevision: String? = nil) throws -> RegisterOutcome {
        defer { adapter.releaseWeightsLease() }
        return try store(adapter: adapter, name: name, kind: .trained, tags: tags, baseRevision: baseRevision) { _, _ in }
    }

    /// Everything `register` checks before it stores anything: the name, the tags, the PEFT directory
    /// (`LoRAAdapter.load`: config, tensors, pairing), the base model's name, and that every weight is finite
    /// (checked while the canonical digest is computed, beside the file digest on another thread). Returns the
    /// loaded adapter, both digests known. A remote client runs exactly this before it uploads a byte.
    ///
    /// With `holdingWeights` (the files are about to be uploaded from this directory), a read lease on the weights
    /// file is taken before it is hashed, where the kernel grants one (``LoRAAdapter/weightsLease``): the upload then
    /// need not read the file again to check the bytes it sends.
    public static func validateForRegistration(
        directory: URL, name: String, tags: [String: String], holdingWeights: Bool = false
    ) throws -> LoRAAdapter {
        try AdapterRef.validateName(name)
        try TagRules.validate(tags)
        let adapter = try LoRAAdapter.load(directory: directory)
        if let base = adapter.config.baseModelNameOrPath, TerminalText.hasControlCharacters(base) || base.count > 512 {
            throw RegistryError(
                .invalidInput, code: "registry.invalid_base_model",
                reason: "base_model_name_or_path '\(TerminalText.escape(String(base.prefix(80))))' is longer than 512 characters or holds control characters",
                hint: "set base_model_name_or_path to the base model's name (e.g. meta-llama/Llama-2-7b-hf)")
        }
        try adapter.requireFiniteWeightsAndDigests(holdingWeights: holdingWeights)
        return adapter
    }

    /// Uploads `adapter`'s files and records it as a version of `name`; `inTransaction` runs inside the recording
    /// transaction (a merge records its lineage there) and only when a new version is created, as does queueing
    /// `version.created` for the webhooks that want it (the outbox).
    func store(
        adapter: LoRAAdapter, name: String, kind: VersionKind, tags: [String: String], baseRevision: String?,
        inTransaction: (CatalogSession, AdapterVersion) throws -> Void
    ) throws -> RegisterOutcome {
        // Both digests in one read of the weights file (the upload and the record need the file digest too).
        let canonical = adapter.digests().canonical
        if let existing = try catalog.read({ try $0.versions.version(canonicalDigest: canonical) }) {
            try restoreMissingBlobs(of: existing, from: adapter)
            return RegisterOutcome(version: existing, existed: true)
        }
        // A database restart while the blobs upload or the transaction runs costs a retry of this block, not the
        // caller's work (a merge's computation): the uploads are skipped when present, the transaction finds the
        // version if a lost COMMIT had in fact committed it.
        return try catalog.retryingOnConnectionLoss { try catalog.withBlobFence { connection in
            // The config's few round trips go alongside the weights' upload, not before it.
            let weightsURL = adapter.directory.appendingPathComponent(LoRAAdapter.weightsFileName)
            let (config, weights) = try ParallelMap.both(
                { try blobs.put(data: adapter.configBytes) },
                { try blobs.put(fileAt: weightsURL, digest: adapter.weightsDigest, chain: adapter.weightsChain, lease: adapter.weightsLease) })
            return try catalog.transaction(on: connection) { tx in
                try tx.locks.lockContent(canonical.hex)
                if let existing = try tx.versions.version(canonicalDigest: canonical) {
                    return RegisterOutcome(version: existing, existed: true)
                }
                try tx.locks.lockAdapterName(name)
                try tx.blobs.record(config.digest, size: config.size)
                try tx.blobs.record(weights.digest, size: weights.size, chain: adapter.weightsChain)
                let created = try tx.versions.insert(Self.newVersion(
                    adapter, name: name, kind: kind, tags: tags, baseRevision: baseRevision,
                    config: config, weights: weights, actor: actor))
                try audit(tx, action: "version.register", subject: created.label, details: [
                    "kind": kind.rawValue, "canonical_digest": canonical.hex, "weights_digest": weights.digest.hex,
                    "config_digest": config.digest.hex, "base_model": created.baseModel,
                ])
                try inTransaction(tx, created)
                try announceVersion(tx, created)
                return RegisterOutcome(version: created, existed: false)
            }
        } }
    }

    /// The catalog row for a loaded adapter whose files were stored as `config` and `weights`.
    static func newVersion(
        _ adapter: LoRAAdapter, name: String, kind: VersionKind, tags: [String: String], baseRevision: String?,
        config: PutResult, weights: PutResult, actor: String
    ) -> NewVersion {
        let targets = Array(Set(adapter.modules.map { $0.path.split(separator: ".").last.map(String.init) ?? $0.path })).sorted()
        return NewVersion(
            name: name, kind: kind, peftType: adapter.config.peftType, baseModel: adapter.config.baseModelNameOrPath ?? "",
            baseRevision: baseRevision ?? adapter.config.revision ?? "", rank: adapter.config.r,
            loraAlpha: adapter.config.loraAlpha, useRslora: adapter.config.useRslora, useDora: adapter.config.useDora,
            targetModules: targets, config: String(decoding: adapter.configBytes, as: UTF8.self),
            canonicalDigest: adapter.canonicalDigest, configDigest: config.digest, configSize: config.size,
            weightsDigest: weights.digest, weightsSize: weights.size, tags: tags,
            modules: adapter.modules.map {
                RecordedModule(path: $0.path, rank: $0.rank, alpha: $0.alpha, scaling: $0.scaling, inFeatures: $0.inFeatures,
                               outFeatures: $0.outFeatures, dtype: $0.dtype.rawValue)
            },
            createdBy: actor)
    }

    /// Re-uploads an existing version's files from a byte-identical directory when the store no longer has them (a
    /// store that was moved, lost or restored from an old backup), so registering the same content again also heals
    /// the store. Files that differ in bytes (same canonical content, other layout) cannot stand in and are skipped:
    /// `verify` reports such a loss.
    func restoreMissingBlobs(of version: AdapterVersion, from adapter: LoRAAdapter) throws {
        let weightsURL = adapter.directory.appendingPathComponent(LoRAAdapter.weightsFileName)
        var missing: [(role: BlobRole, digest: SHA256Digest, upload: () throws -> Void)] = []
        if adapter.configDigest == version.configDigest, try !blobs.exists(digest: version.configDigest) {
            missing.append((.config, version.configDigest, { _ = try self.blobs.put(data: adapter.configBytes) }))
        }
        if adapter.weightsDigest == version.weightsDigest, try !blobs.exists(digest: version.weightsDigest) {
            missing.append((.weights, version.weightsDigest, {
                _ = try self.blobs.put(fileAt: weightsURL, digest: version.weightsDigest, chain: adapter.weightsChain,
                                       lease: adapter.weightsLease)
            }))
        }
        guard !missing.isEmpty else { return }
        try catalog.withBlobFence { connection in
            for file in missing { try file.upload() }
            try audit(CatalogSession(connection), action: "blob.restore", subject: version.label, details: [
                "restored": missing.map { "\($0.role.rawValue):\($0.digest.hex)" }.joined(separator: ","), "store": blobs.location,
            ])
        }
    }
}

/// What `register` did.
public struct RegisterOutcome: Sendable, Codable, Equatable {
    public let version: AdapterVersion
    /// True when identical content was already registered and that version is returned.
    public let existed: Bool
}

extension Registry {
    /// Registers a version whose two files are already in the blob store (uploaded by digest, as `quiver serve`
    /// receives them): both blobs are read back verified into a scratch directory and go through exactly the
    /// validation of ``RegistryService/register(directory:name:tags:baseRevision:)``, so a malformed header, a NaN weight or a
    /// config that does not match the weights is refused and nothing is recorded.
    public func registerStored(
        configDigest: SHA256Digest, weightsDigest: SHA256Digest, name: String, tags: [String: String] = [:],
        baseRevision: String? = nil
    ) throws -> RegisterOutcome {
        try AdapterRef.validateName(name)
        let scratch = try scratchDirectory("register")
        defer { try? FileManager.default.removeItem(at: scratch) }
        for (digest, file) in [(configDigest, LoRAAdapter.configFileName), (weightsDigest, LoRAAdapter.weightsFileName)] {
            do {
                try blobs.get(digest: digest, to: scratch.appendingPathComponent(file))
            } catch let error as ObjectStoreError where error.kind == .notFound {
                throw RegistryError.notFound(
                    "the blob store has no \(file) sha256:\(digest.hex)", hint: "upload it first (PUT /v1/blobs/\(digest.hex))")
            }
        }
        // The blobs are in the store already: nothing is uploaded, so no lease on the scratch copy.
        let adapter = try Self.validateForRegistration(directory: scratch, name: name, tags: tags)
        return try register(validated: adapter, name: name, tags: tags, baseRevision: baseRevision)
    }
}
